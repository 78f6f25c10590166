// The init's connection to a MySQL/MariaDB database (Keystone's): one mysql2 connection, made
// after the waits and retried until the deadline, with a mysqlInitStore over it for init-db.ts;
// what the server may send is bounded as in the wait (src/dependencies/mysql/).
// A connection that breaks (a failover, the server restarted) is replaced at the next store
// call, which store-call.ts retries: one mysql2 connection never comes back by itself. The
// driver loads only here (and in the wait).
import type { Connection } from 'mysql2/promise';
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { envName } from '../common/program.ts';
import { type Deadline, retryUntil } from '../common/retry.ts';
import type { MysqlTarget } from '../common/targets.ts';
import { REASON_HINT, toProbeError } from '../dependencies/classify.ts';
import { mysqlFailure, openMysql } from '../dependencies/mysql/connect.ts';
import { MYSQL_SESSION_LIMITS } from '../dependencies/mysql/stream.ts';
import { type InitDb, lazyStore } from './init-db.ts';
import type { InitStore } from './store.ts';
import { mysqlInitStore } from './mysql-store.ts';
import { backoffPolls } from './store-call.ts';

export function mysqlStoreName(target: MysqlTarget): string {
  return `MySQL at ${target.address} (database ${target.database})`;
}

// Each query gives up after this, so that a database that goes away mid-init is noticed and
// retried by store-call.ts instead of hanging on one call until far past the deadline.
const OP_TIMEOUT_MS = 10_000;
const CONNECT_POLL_MS = 500;

async function connect(target: MysqlTarget, timeoutMs: number): Promise<Connection> {
  // mysql-store.ts sets the session to UTC; DATETIME values are read as UTC instants.
  const link = openMysql(target, MYSQL_SESSION_LIMITS, timeoutMs, { timezone: 'Z' });
  try {
    return await link.connection;
  } catch (err) {
    link.destroy();
    throw mysqlFailure(err, link.state, target.address, timeoutMs);
  }
}

/** A live connection and its store; replaced once the connection reports an error. */
interface Live {
  conn: Connection;
  store: InitStore;
  broken: boolean;
}

/** Opens nothing until the store is first asked for (after the waits). */
export function openMysqlInit(target: MysqlTarget): InitDb {
  let live: Promise<Live> | undefined;
  const name = mysqlStoreName(target);
  const cannot = `cannot connect to ${name} for the one-time init`;
  const open = (deadline: Deadline, log: Logger): Promise<Connection> =>
    retryUntil({
      deadline,
      attempt: (_n, leftMs) => connect(target, Math.round(Math.min(OP_TIMEOUT_MS, Math.max(1000, leftMs)))),
      failure: (err) => {
        const p = toProbeError(err, target.address);
        if (p.permanent) throw new UnavailableError(`${cannot}: ${p.message}; ${REASON_HINT[p.reason]}`);
        return p;
      },
      pauseMs: (failures) => backoffPolls(CONNECT_POLL_MS, failures),
      onRetry: (p, attempt, pause) => log.warn(`${cannot}: ${p.message}; trying again in ${pause} ms`, { attempt }),
      expired: (p, attempts) =>
        new UnavailableError(
          `${cannot}: ${p.message}, still at the deadline after ${attempts} attempts; ${REASON_HINT[p.reason]} (${envName('WAIT_TIMEOUT')} sets the deadline)`,
        ),
    });
  const openLive = (deadline: Deadline, log: Logger): Promise<Live> =>
    open(deadline, log).then((conn) => {
      const l: Live = { conn, store: mysqlInitStore(conn, target.database), broken: false };
      // A lost connection emits 'error'; without a listener that would end the process.
      conn.on('error', () => {
        l.broken = true;
      });
      return l;
    });
  const current = async (deadline: Deadline, log: Logger): Promise<InitStore> => {
    let l = await (live ??= openLive(deadline, log));
    if (l.broken) {
      l.conn.destroy();
      live = openLive(deadline, log);
      l = await live;
    }
    return l.store;
  };
  return {
    name,
    done: Promise.resolve(undefined),
    store: async (deadline, log) => {
      await current(deadline, log);
      // Each call on the store of the connection live at that moment.
      return lazyStore(() => current(deadline, log));
    },
    close: async () => {
      const l = await live?.catch(() => undefined);
      await l?.conn.end().catch(() => l.conn.destroy());
    },
  };
}
