// A mysql2 connection as the wait and the init open it: over a GuardedMysqlStream (stream.ts),
// so what the server sends is bounded, with every way it can fail told in one line: the
// refusals no retry mends (a wrong password, an authentication plugin the client lacks), a
// peer that is not MySQL, and a connection made that then says nothing. The driver loads
// only here, when a connection is made.
import type { Connection } from 'mysql2/promise';
import { loadMysql } from '../drivers.ts';
import { ProbeError, REASON_TEXT, type Reason, peerText, toProbeError } from '../classify.ts';
import type { MysqlTarget } from '../../common/targets.ts';
import { GuardedMysqlStream, type MysqlLimits, type SocketState } from './stream.ts';

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

/** mysql2's words for an authentication plugin it does not have (it asks the server's name of it). */
const UNKNOWN_PLUGIN = /^Server requests authentication using unknown plugin (.*)\. See .*$/s;

interface MysqlError {
  errno?: unknown;
  sqlMessage?: unknown;
  code?: unknown;
  message?: unknown;
}

/** The plugin a server asked for that mysql2 will not speak, and why, or undefined. */
function refusedPlugin(e: MysqlError): string | undefined {
  const message = typeof e.message === 'string' ? e.message : '';
  const unknown = UNKNOWN_PLUGIN.exec(message)?.[1];
  if (unknown !== undefined) return `the server asks for the authentication plugin ${JSON.stringify(peerText(unknown, 64))}, which mysql2 (the agent's MySQL client) does not speak`;
  // mysql2 sends no password in clear text unless told to; over a connection without TLS a
  // peer asking for it would learn the password. The agent never tells it to.
  if (e.code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED') return 'the server asks for the authentication plugin "mysql_clear_password" (the password in clear text, over a connection without TLS), which the agent does not send';
  return undefined;
}

/** The refusal inside `err` that no retry mends (the server's, or the client's lack of a plugin), if there is one. */
export function permanentRefusal(err: unknown, where: string): ProbeError | undefined {
  const e = (err ?? {}) as MysqlError;
  const plugin = refusedPlugin(e);
  if (plugin !== undefined) return new ProbeError('auth-plugin', `${REASON_TEXT['auth-plugin']} at ${where}: ${plugin}`, true);
  const reason = typeof e.errno === 'number' ? PERMANENT[e.errno] : undefined;
  if (reason === undefined) return undefined;
  const said = typeof e.sqlMessage === 'string' ? peerText(e.sqlMessage) : `MySQL error ${String(e.errno)}`;
  return new ProbeError(reason, `${REASON_TEXT[reason]} at ${where} (${said})`, true);
}

/** mysql2's own parser failing on a packet it did not expect: a malformed greeting, a truncated field. */
function isParseFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof RangeError || code === 'ERR_OUT_OF_RANGE' || code === 'ERR_BUFFER_OUT_OF_BOUNDS';
}

/**
 * One attempt's failure as a ProbeError: a permanent refusal; a packet mysql2 could not parse
 * ('protocol'); a timeout told apart by what the socket saw: no TCP connection ('timeout': the
 * address or the route), or a connection made that then said nothing ('no-answer': the wrong
 * port, or a hung server), which the kernel's "connect ETIMEDOUT" of mysql2 does not say.
 */
export function mysqlFailure(err: unknown, state: SocketState, where: string, timeoutMs: number): ProbeError {
  const refused = permanentRefusal(err, where);
  if (refused) return refused;
  if (isParseFailure(err)) return new ProbeError('protocol', `protocol mismatch at ${where}: malformed MySQL packet (${peerText((err as Error).message)})`);
  const p = toProbeError(err, where);
  if (p.reason !== 'timeout') return p;
  if (!state.connected) return new ProbeError('timeout', `${REASON_TEXT.timeout} at ${where} (no TCP connection within ${timeoutMs} ms)`);
  return new ProbeError(
    'no-answer',
    state.received === 0
      ? `${REASON_TEXT['no-answer']} at ${where}: connected, but no MySQL greeting came within ${timeoutMs} ms`
      : `${REASON_TEXT['no-answer']} at ${where}: connected and greeted, then the server stopped answering (login or query; ${timeoutMs} ms)`,
  );
}

export interface MysqlAttempt {
  /** Resolves once the server has greeted and the login is done. */
  connection: Promise<Connection>;
  /** What the socket saw so far. */
  state: SocketState;
  /** Ends the attempt at once (a timeout), whatever stage it is in. */
  destroy(): void;
}

/**
 * Opens a connection to `target` as the service would log in (the database selected in the
 * handshake), within `limits`. `timeoutMs` is mysql2's own bound on the handshake; callers
 * bound the whole attempt themselves (withTimeout) and turn its failure into a ProbeError with
 * mysqlFailure(err, attempt.state, ...).
 */
export function openMysql(target: MysqlTarget, limits: MysqlLimits, timeoutMs: number, extra: { timezone?: string } = {}): MysqlAttempt {
  const state: SocketState = { connected: false, received: 0 };
  let stream: GuardedMysqlStream | undefined;
  let ended = false;
  // The socket is made once mysql2 is loaded, so that mysql2 listens from its first event on
  // (a refusal on loopback comes within a millisecond, a first import takes a hundred).
  const connection = loadMysql().then((mysql) => {
    if (ended) throw new ProbeError('timeout', `${REASON_TEXT.timeout} at ${target.address} (ended before connecting)`);
    stream = new GuardedMysqlStream(target, limits, state);
    return mysql.createConnection({
      stream,
      host: target.host,
      port: target.port,
      user: target.username,
      ...(target.password !== undefined ? { password: target.password } : {}),
      database: target.database,
      connectTimeout: timeoutMs,
      // Nothing the agent sends needs more; the server's own defaults apply to the service.
      multipleStatements: false,
      ...extra,
    });
  });
  return {
    connection,
    state,
    destroy: () => {
      ended = true;
      stream?.destroy();
      connection.then(
        (c) => c.destroy(),
        () => {},
      );
    },
  };
}
