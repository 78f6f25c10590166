// MySQL/MariaDB readiness with mysql2, the way the service's own driver connects: handshake,
// authentication, the database selected (in the handshake), `SELECT 1`, close. A refusal the
// server gives for good (wrong password, no such database) ends the wait at once.
import { loadMysql } from '../dependencies/drivers.ts';
import { ProbeError, REASON_TEXT, type Reason, toProbeError } from '../dependencies/classify.ts';
import { withTimeout, type AttemptOptions } from '../dependencies/timeout.ts';
import type { MysqlTarget } from '../common/targets.ts';

/**
 * Server errors that no retry mends, by MySQL error number (what to fix: REASON_HINT). The
 * server's own message goes with them; it names the user, never the password.
 */
const PERMANENT: Readonly<Record<number, Reason>> = {
  1045: 'auth', // access denied: user or password
  1130: 'auth', // this client's host may not connect
  1044: 'database', // the user may not use that database
  1049: 'database', // unknown database
};

interface MysqlError {
  errno?: unknown;
  sqlMessage?: unknown;
}

/** The permanent refusal inside `err`, if the server gave one. */
export function permanentRefusal(err: unknown, where: string): ProbeError | undefined {
  const e = (err ?? {}) as MysqlError;
  const reason = typeof e.errno === 'number' ? PERMANENT[e.errno] : undefined;
  if (reason === undefined) return undefined;
  const said = typeof e.sqlMessage === 'string' ? e.sqlMessage : `MySQL error ${String(e.errno)}`;
  return new ProbeError(reason, `${REASON_TEXT[reason]} at ${where} (${said})`, true);
}

/** Readiness: connect (handshake, login, database), SELECT 1, close; one bounded attempt. */
export async function probeMysql(target: MysqlTarget, opts: AttemptOptions): Promise<void> {
  const mysql = await loadMysql();
  let conn: Awaited<ReturnType<typeof mysql.createConnection>> | undefined;
  const attempt = (async () => {
    conn = await mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.username,
      ...(target.password !== undefined ? { password: target.password } : {}),
      database: target.database,
      connectTimeout: opts.timeoutMs,
      // Nothing the probe sends needs more; the server's own defaults apply to the service.
      multipleStatements: false,
    });
    await conn.query('SELECT 1');
    await conn.end();
    conn = undefined;
  })();
  try {
    await withTimeout(attempt, opts.timeoutMs, opts.signal, target.address);
  } catch (err) {
    // The attempt may still be running (a peer that accepts and says nothing): end it here.
    attempt.catch(() => {});
    (conn as { destroy?: () => void } | undefined)?.destroy?.();
    throw permanentRefusal(err, target.address) ?? toProbeError(err, target.address);
  }
}
