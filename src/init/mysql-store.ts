// The InitStore on MySQL/MariaDB, in the service's own database: one InnoDB table holding the
// lease row and one completion row per init key. Only a connection is passed in: the caller
// owns it. Unlike FerretDB, MySQL judges expiry with its own clock inside each UPDATE (NOW(3)),
// so the `now` the logic passes is only for its messages. Every driver error leaves as a
// StoreError, so store-call.ts can tell "try again" from "give up" without the driver.
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { REASON_HINT, REASON_TEXT, classifyFacts, errorDetail, errorFacts } from '../dependencies/classify.ts';
import { type DoneDoc, LEASE_ID, type LeaseDoc, acquireStep, doneId } from './lease.ts';
import { StoreError } from './store-error.ts';
import type { AcquireResult, InitStore, ReplicaRow } from './store.ts';
import { REPLICA_KEPT_MS, REPLICA_PREFIX } from './rollout.ts';

export const INIT_TABLE = 'entrypoint_init';

/**
 * The lease's conditions are columns (compared in SQL, on the server's clock); the records are
 * JSON. utf8mb4_bin: holder ids and keys compare byte for byte, as in MongoDB.
 */
function createTable(table: string): string {
  return `CREATE TABLE IF NOT EXISTS \`${table}\` (
  id VARCHAR(255) NOT NULL PRIMARY KEY,
  holder VARCHAR(255) NULL,
  host VARCHAR(255) NULL,
  init_key VARCHAR(255) NULL,
  acquired_at DATETIME(3) NULL,
  renewed_at DATETIME(3) NULL,
  expires_at DATETIME(3) NOT NULL,
  committing TEXT NULL,
  record TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

// Worth another try: lock wait timeout, deadlock, too many connections, server going away or
// shutting down, a killed query (failover), a read-only replica during a switch-over.
const TRANSIENT_ERRNOS = new Set([1205, 1213, 1040, 1053, 1077, 1152, 1158, 1159, 1160, 1161, 1927, 2002, 2003, 2006, 2013, 1290, 1836]);
// The user logged in but may not do this here (command denied, database access denied).
const UNAUTHORIZED_ERRNOS = new Set([1142, 1143, 1044, 1227]);

/** A driver error as a StoreError. Pure: only the error's own fields are read. */
export function toMysqlStoreError(err: unknown, database: string): StoreError {
  if (err instanceof StoreError) return err;
  const facts = errorFacts(err);
  const detail = errorDetail(facts, err);
  const errno = (err as { errno?: unknown } | null)?.errno;
  if (typeof errno === 'number' && UNAUTHORIZED_ERRNOS.has(errno)) {
    return new StoreError(`not authorized (${detail})`, false, `GRANT the database user ALL PRIVILEGES ON ${database}.* (the agent keeps its lease in table ${INIT_TABLE} there)`);
  }
  const reason = classifyFacts(facts);
  const lost = facts.codes.some((c) => c === 'PROTOCOL_CONNECTION_LOST' || c === 'PROTOCOL_SEQUENCE_TIMEOUT' || c === 'ER_SERVER_SHUTDOWN');
  const transient =
    reason !== 'auth' &&
    reason !== 'tls' &&
    (lost || ['refused', 'timeout', 'reset', 'dns', 'unreachable'].includes(reason) || (typeof errno === 'number' && TRANSIENT_ERRNOS.has(errno)));
  const text = reason === 'error' ? 'failed' : REASON_TEXT[reason];
  const hint = reason === 'error' ? 'check the database server and its log' : REASON_HINT[reason];
  return new StoreError(`${text} (${detail})`, transient, hint);
}

interface Row extends RowDataPacket {
  id: string;
  holder: string | null;
  host: string | null;
  init_key: string | null;
  acquired_at: Date | null;
  renewed_at: Date | null;
  expires_at: Date;
  committing: string | null;
  record: string | null;
}

/** A record as stored: JSON, its one date as an ISO string. */
function recordText(doc: DoneDoc): string {
  return JSON.stringify({ ...doc, doneAt: doc.doneAt.toISOString() });
}

function recordOf(text: string | null): DoneDoc | null {
  if (text === null) return null;
  const o = JSON.parse(text) as Omit<DoneDoc, 'doneAt'> & { doneAt: string };
  return { ...o, doneAt: new Date(o.doneAt) };
}

function leaseOf(row: Row): LeaseDoc {
  return {
    _id: row.id,
    holder: row.holder,
    host: row.host,
    key: row.init_key,
    acquiredAt: row.acquired_at,
    renewedAt: row.renewed_at,
    expiresAt: row.expires_at,
    committing: recordOf(row.committing),
  };
}

/** `now + ttl` on the server's clock, as SQL; the TTL in microseconds (whole). */
const EXPIRES = 'NOW(3) + INTERVAL ? MICROSECOND';
const micros = (ttlMs: number): number => Math.round(ttlMs * 1000);

/**
 * The store on `conn`. The table and the free lease row are made on first use; the session's
 * time zone is UTC, so DATETIME values read back as the instants written (the connection
 * must be opened with `timezone: 'Z'`, as connectMysql does).
 */
export function mysqlInitStore(conn: Connection, database: string, table = INIT_TABLE): InitStore {
  const t = `\`${table}\``;
  let ready: Promise<void> | undefined;
  const ensure = (): Promise<void> => {
    ready ??= (async () => {
      await conn.query("SET time_zone = '+00:00'");
      await conn.query(createTable(table));
      await conn.query(`INSERT IGNORE INTO ${t} (id, expires_at) VALUES (?, NOW(3))`, [LEASE_ID]);
    })().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  const wrap = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      await ensure();
      return await op();
    } catch (err) {
      throw toMysqlStoreError(err, database);
    }
  };
  const readRow = async (id: string): Promise<Row | null> => {
    const [rows] = await conn.query<Row[]>(`SELECT * FROM ${t} WHERE id = ?`, [id]);
    return rows[0] ?? null;
  };
  const readLease = async (): Promise<LeaseDoc | null> => {
    const row = await readRow(LEASE_ID);
    return row === null ? null : leaseOf(row);
  };
  const changed = async (sql: string, values: unknown[]): Promise<boolean> => {
    // mysql2 connects with FOUND_ROWS: affectedRows counts the rows matched, changed or not.
    const [r] = await conn.query<ResultSetHeader>(sql, values);
    return r.affectedRows === 1;
  };
  return {
    serverNow() {
      return wrap(async () => {
        const [rows] = await conn.query<(RowDataPacket & { now: Date })[]>('SELECT NOW(3) AS now');
        const now = rows[0]?.now;
        if (!(now instanceof Date)) throw new StoreError('the server gave no time for NOW(3)', false, 'use MySQL 5.6.4 or later, or MariaDB');
        return now;
      });
    },
    findDone(key) {
      return wrap(async () => recordOf((await readRow(doneId(key)))?.record ?? null));
    },
    readLease() {
      return wrap(readLease);
    },
    tryAcquire(holder, key, _now, ttlMs): Promise<AcquireResult> {
      return wrap(async () => {
        const step = acquireStep(await readLease(), holder);
        // One UPDATE, its condition on the server's clock: InnoDB's row lock serialises
        // racers, and the second sees the first's holder and misses. A takeover names the
        // holder it found expired, so it misses when that one released the lease meanwhile.
        const took = await changed(
          `UPDATE ${t} SET holder = ?, host = ?, init_key = ?, acquired_at = NOW(3), renewed_at = NOW(3), expires_at = ${EXPIRES}
           WHERE id = ? AND ${step.kind === 'free' ? '(holder IS NULL OR holder = ?)' : 'holder = ? AND expires_at <= NOW(3)'}`,
          [holder.id, holder.host, key, micros(ttlMs), LEASE_ID, step.kind === 'free' ? holder.id : step.from.holder],
        );
        const after = await readLease();
        if (took && after !== null && after.holder === holder.id) {
          return { acquired: true, tookOver: step.kind === 'takeover' ? step.from : null, pending: after.committing ?? null };
        }
        return { acquired: false, current: after };
      });
    },
    renew(holder, _now, ttlMs) {
      return wrap(() => changed(`UPDATE ${t} SET renewed_at = NOW(3), expires_at = ${EXPIRES} WHERE id = ? AND holder = ?`, [micros(ttlMs), LEASE_ID, holder.id]));
    },
    release(holder) {
      return wrap(async () => {
        await conn.query(
          `UPDATE ${t} SET holder = NULL, host = NULL, init_key = NULL, acquired_at = NULL, renewed_at = NOW(3), expires_at = NOW(3), committing = NULL
           WHERE id = ? AND holder = ?`,
          [LEASE_ID, holder.id],
        );
      });
    },
    commit(holder, doc, _now, ttlMs) {
      return wrap(() =>
        changed(`UPDATE ${t} SET committing = ?, renewed_at = NOW(3), expires_at = ${EXPIRES} WHERE id = ? AND holder = ?`, [recordText(doc), micros(ttlMs), LEASE_ID, holder.id]),
      );
    },
    markDone(doc) {
      return wrap(async () => {
        await conn.query(`INSERT INTO ${t} (id, expires_at, record) VALUES (?, NOW(3), ?) ON DUPLICATE KEY UPDATE record = VALUES(record)`, [doc._id, recordText(doc)]);
      });
    },
    rollout: {
      heartbeat(host, key, ttlMs) {
        // A replica's row: init_key its image's key, acquired_at its first heartbeat of this
        // key, renewed_at the last, expires_at when it stops counting (the server's clock).
        return wrap(async () => {
          await conn.query(
            `INSERT INTO ${t} (id, host, init_key, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, NOW(3), NOW(3), ${EXPIRES})
             ON DUPLICATE KEY UPDATE acquired_at = IF(init_key <=> VALUES(init_key), acquired_at, NOW(3)), host = VALUES(host), init_key = VALUES(init_key), renewed_at = NOW(3), expires_at = VALUES(expires_at)`,
            [`${REPLICA_PREFIX}${host}`, host, key, micros(ttlMs)],
          );
          await conn.query(`DELETE FROM ${t} WHERE id LIKE ? AND expires_at < NOW(3) - INTERVAL ? MICROSECOND`, [`${REPLICA_PREFIX}%`, micros(REPLICA_KEPT_MS)]);
        });
      },
      replicas() {
        return wrap(async () => {
          const [rows] = await conn.query<(RowDataPacket & { host: string; init_key: string; renewed_at: Date; live: number })[]>(
            `SELECT host, init_key, renewed_at, expires_at > NOW(3) AS live FROM ${t} WHERE id LIKE ? ORDER BY host`,
            [`${REPLICA_PREFIX}%`],
          );
          return rows.map((r): ReplicaRow => ({ host: r.host, key: r.init_key, seenAt: r.renewed_at, live: Number(r.live) === 1 }));
        });
      },
      doneRecords(prefix) {
        return wrap(async () => {
          const [rows] = await conn.query<Row[]>(`SELECT * FROM ${t} WHERE id LIKE ? AND record IS NOT NULL`, [`${doneId(prefix).replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
          return rows.flatMap((r) => recordOf(r.record) ?? []);
        });
      },
      schemaVersions(table) {
        return wrap(async () => {
          try {
            const [rows] = await conn.query<RowDataPacket[]>(`SELECT * FROM \`${table.replace(/`/g, '``')}\``);
            return rows.map((r) => String(Object.values(r)[0]));
          } catch (err) {
            // ER_NO_SUCH_TABLE: an empty database, as far as the schema goes.
            if ((err as { errno?: unknown }).errno === 1146) return null;
            throw err;
          }
        });
      },
    },
  };
}
