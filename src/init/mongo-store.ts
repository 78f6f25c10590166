// The InitStore on MongoDB (or FerretDB), in the Pulp database, collection
// pulp_entrypoint_init. Only a Db is passed in: the caller owns the client. Every driver
// error leaves as a StoreError, so store-call.ts can tell "try again" from "give up" without the driver.
import type { Db } from 'mongodb';
import { REASON_HINT, REASON_TEXT, classifyFacts, errorDetail, errorFacts } from '../dependencies/classify.ts';
import {
  type DoneDoc,
  INIT_COLLECTION,
  LEASE_ID,
  type LeaseDoc,
  acquireStep,
  acquireUpdate,
  commitUpdate,
  doneId,
  freeFilter,
  isDuplicateKey,
  releaseUpdate,
  renewFilter,
  renewUpdate,
  takeoverFilter,
} from './lease.ts';
import { StoreError } from './store-error.ts';
import type { AcquireResult, InitStore } from './store.ts';

type InitDoc = LeaseDoc | DoneDoc;

// The server codes the drivers' retryable-reads/writes specifications retry: elections,
// shutdowns, network trouble seen by a mongos or a replica set member, time limits.
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134, 10058]);
const NOT_PRIMARY_CODES = new Set([10107, 13435, 13436, 11602, 189, 10058]);
const TRANSIENT_LABELS = ['RetryableWriteError', 'TransientTransactionError', 'ResetPool', 'NoWritesPerformed'];
// Unauthorized: the user logged in but may not use this collection.
const UNAUTHORIZED = 13;

function labelsOf(err: unknown): string[] {
  const labels = (err as { errorLabels?: unknown } | null)?.errorLabels;
  return Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [];
}

/** A driver error as a StoreError. Pure: only the error's own fields are read. */
export function toStoreError(err: unknown, database: string): StoreError {
  if (err instanceof StoreError) return err;
  const facts = errorFacts(err);
  const detail = errorDetail(facts, err);
  if (facts.serverCodes.includes(UNAUTHORIZED) || /not authorized|unauthorized/i.test(facts.messages.join(' '))) {
    return new StoreError(`not authorized (${detail})`, false, `give the database user the readWrite role on database ${database} (server.conf [database] username)`);
  }
  const reason = classifyFacts(facts);
  if (facts.serverCodes.some((c) => NOT_PRIMARY_CODES.has(c)) || /not (writable )?primary|node is recovering/i.test(detail)) {
    return new StoreError(`not primary (${detail})`, true, 'is the replica set electing a primary? check server.conf [database] replica_set and the members');
  }
  const network = facts.names.some((n) => /^Mongo(Network|NetworkTimeout|ServerSelection|PoolCleared|ServerClosed)Error$/.test(n));
  const transient =
    reason !== 'auth' &&
    reason !== 'tls' &&
    (network ||
      ['refused', 'timeout', 'reset', 'dns', 'unreachable'].includes(reason) ||
      facts.serverCodes.some((c) => TRANSIENT_CODES.has(c)) ||
      labelsOf(err).some((l) => TRANSIENT_LABELS.includes(l)));
  const text = reason === 'error' ? 'failed' : REASON_TEXT[reason];
  const hint = reason === 'error' ? 'check the database server and its log' : REASON_HINT[reason];
  return new StoreError(`${text} (${detail})`, transient, hint);
}

export function mongoInitStore(db: Db, collectionName = INIT_COLLECTION): InitStore {
  const col = db.collection<InitDoc>(collectionName);
  const wrap = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw toStoreError(err, db.databaseName);
    }
  };
  const readLease = (): Promise<LeaseDoc | null> => wrap(async () => (await col.findOne({ _id: LEASE_ID })) as LeaseDoc | null);
  return {
    serverNow() {
      // hello's localTime is the server's wall clock (MongoDB and FerretDB alike).
      return wrap(async () => {
        const reply = await db.command({ hello: 1 });
        const t = reply.localTime as unknown;
        if (!(t instanceof Date)) throw new StoreError('the server gave no localTime in its hello reply', false, 'use MongoDB 3.6 or later, or FerretDB');
        return t;
      });
    },
    findDone(key) {
      return wrap(async () => (await col.findOne({ _id: doneId(key) })) as DoneDoc | null);
    },
    readLease,
    async tryAcquire(holder, key, now, ttlMs): Promise<AcquireResult> {
      const step = acquireStep(await readLease(), holder);
      try {
        // Free: upserted, so the first start makes the lease document; when another holder's
        // document exists the filter misses and the insert is refused (E11000): not ours.
        const after = (await col.findOneAndUpdate(
          step.kind === 'free' ? freeFilter(holder) : takeoverFilter(step.from.holder, now),
          acquireUpdate(holder, key, now, ttlMs),
          { upsert: step.kind === 'free', returnDocument: 'after' },
        )) as LeaseDoc | null;
        if (after !== null && after.holder === holder.id) {
          return { acquired: true, tookOver: step.kind === 'takeover' ? step.from : null, pending: after.committing ?? null };
        }
        return { acquired: false, current: after ?? (await readLease()) };
      } catch (err) {
        if (isDuplicateKey(err)) return { acquired: false, current: await readLease() };
        throw toStoreError(err, db.databaseName);
      }
    },
    renew(holder, now, ttlMs) {
      return wrap(async () => (await col.updateOne(renewFilter(holder), renewUpdate(now, ttlMs))).matchedCount === 1);
    },
    release(holder, now) {
      return wrap(async () => {
        await col.updateOne(renewFilter(holder), releaseUpdate(now));
      });
    },
    commit(holder, doc, now, ttlMs) {
      return wrap(async () => (await col.updateOne(renewFilter(holder), commitUpdate(doc, now, ttlMs))).matchedCount === 1);
    },
    markDone(doc) {
      const { _id, ...rest } = doc;
      return wrap(async () => {
        await col.updateOne({ _id }, { $set: rest }, { upsert: true });
      });
    },
  };
}
