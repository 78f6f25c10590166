// MySQL/MariaDB readiness with mysql2, the way the service's own driver connects: handshake,
// authentication, the database selected (in the handshake), `SELECT 1`, close. A refusal the
// server gives for good (wrong password, no such database) or an authentication plugin the
// client cannot speak ends the wait at once; what the server may send is bounded
// (src/dependencies/mysql/).
import { MYSQL_PROBE_LIMITS } from '../dependencies/mysql/stream.ts';
import { mysqlFailure, openMysql } from '../dependencies/mysql/connect.ts';
import { withTimeout, type AttemptOptions } from '../dependencies/timeout.ts';
import type { MysqlTarget } from '../common/targets.ts';

/** Readiness: connect (handshake, login, database), SELECT 1, close; one bounded attempt. */
export async function probeMysql(target: MysqlTarget, opts: AttemptOptions): Promise<void> {
  const link = openMysql(target, MYSQL_PROBE_LIMITS, opts.timeoutMs);
  const attempt = (async () => {
    const conn = await link.connection;
    await conn.query('SELECT 1');
    await conn.end();
  })();
  try {
    await withTimeout(attempt, opts.timeoutMs, opts.signal, target.address);
  } catch (err) {
    // The attempt may still be running (a peer that accepts and says nothing): end it here.
    attempt.catch(() => {});
    link.destroy();
    throw mysqlFailure(err, link.state, target.address, opts.timeoutMs);
  }
}
