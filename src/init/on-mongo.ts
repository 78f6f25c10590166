// The init steps against the Pulp database: the init's connection (opened while the waits run,
// closed by its opener), and the lease logic of once.ts on a mongoInitStore over it. The
// driver loads only here.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MongoClient } from 'mongodb';
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, retryUntil } from '../common/retry.ts';
import type { MongoTarget } from '../common/targets.ts';
import { REASON_HINT, toProbeError } from '../dependencies/classify.ts';
import { connectMongo, probeOptions } from '../dependencies/mongodb/connect.ts';
import { findOneDirect } from '../dependencies/mongodb/direct.ts';
import { type DoneDoc, type Holder, INIT_COLLECTION, doneId } from './lease.ts';
import { mongoInitStore } from './mongo-store.ts';
import { type InitOutcome, runInitOnce } from './once.ts';
import { awaitInitDone } from './await-done.ts';
import { backoffPolls } from './store-call.ts';
import { StoreError } from './store-error.ts';
import type { InitStore } from './store.ts';

/** hostname + pid + random: in containers every agent may be PID 1, and hostnames repeat across restarts. */
export function newHolder(): Holder {
  const host = hostname();
  return { id: `${host}:${process.pid}:${randomBytes(4).toString('hex')}`, host };
}

export function storeNameOf(target: MongoTarget): string {
  return `MongoDB at ${target.address} (database ${target.database})`;
}

// Each operation (server selection, socket reads) gives up after this, so that a database
// that goes away mid-init is noticed and retried by store-call.ts instead of hanging on one call
// until far past the deadline.
const OP_TIMEOUT_MS = 10_000;

/** The pause before the first retry of the connection, doubled up to 4 times as much. */
const CONNECT_POLL_MS = 500;

/** Connects, trying again after transient failures until the deadline. */
function connectForInit(target: MongoTarget, deadline: Deadline, log: Logger): Promise<MongoClient> {
  const cannot = `cannot connect to ${storeNameOf(target)} for the one-time init`;
  return retryUntil({
    deadline,
    attempt: (_n, leftMs) => connectMongo(target, { timeoutMs: Math.round(Math.min(OP_TIMEOUT_MS, Math.max(1000, leftMs))) }),
    failure: (err) => {
      const p = toProbeError(err, target.address);
      if (p.permanent) throw new UnavailableError(`${cannot}: ${p.message}; ${REASON_HINT[p.reason]}`);
      return p;
    },
    pauseMs: (failures) => backoffPolls(CONNECT_POLL_MS, failures),
    onRetry: (p, attempt, pause) => log.warn(`${cannot}: ${p.message}; trying again in ${pause} ms`, { attempt }),
    expired: (p, attempts) =>
      new UnavailableError(`${cannot}: ${p.message}, still at the deadline after ${attempts} attempts; ${REASON_HINT[p.reason]} (PULP_WAIT_TIMEOUT sets the deadline)`),
  });
}

function isDoneDoc(doc: Record<string, unknown> | null, key: string): doc is Record<string, unknown> & DoneDoc {
  return doc !== null && doc._id === doneId(key) && doc.key === key && doc.doneAt instanceof Date && typeof doc.host === 'string';
}

/** The record of `key` on a direct connection; undefined when not found, not readable, or a replica set (the client reads it then). */
async function readDoneDirect(target: MongoTarget, key: string): Promise<DoneDoc | undefined> {
  const seed = target.seeds[0];
  if (target.replicaSet !== undefined || target.seeds.length !== 1 || seed === undefined) return undefined;
  try {
    const attempt = { timeoutMs: 2000 };
    const doc = await findOneDirect(seed, target.database, await probeOptions(target, attempt), attempt, INIT_COLLECTION, { _id: doneId(key) });
    return isDoneDoc(doc, key) ? doc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The init's connection to the Pulp database, and the one owner of its MongoClient: whoever
 * opens it (openInitConnection) closes it, once, whatever happened. Opened while the waits
 * run: the completion record of the key is read on one direct connection
 * (src/dependencies/mongodb/direct.ts), and a MongoClient is started only when that read did not find
 * it. On the usual restart the record is there and no MongoClient (the whole driver, a
 * monitoring connection, a pool connection) is needed at all; when the database is not up yet,
 * both come to nothing and the init connects after the waits, as before.
 */
export interface InitConnection {
  readonly target: MongoTarget;
  /** The record read early; undefined when it was not found (or could not be read). */
  readonly done: Promise<DoneDoc | undefined>;
  /** The client: the early one when it connected, else a new one (retried until `deadline`). */
  client(deadline: Deadline, log: Logger): Promise<MongoClient>;
  /** Closes the client, if one was opened; waits for an early connection still in progress. */
  close(): Promise<void>;
}

/** Starts reading the init record of `key` (and connecting, when it is not there); never rejects. */
export function openInitConnection(target: MongoTarget, key: string): InitConnection {
  const done = readDoneDirect(target, key);
  const early = done.then((d) => (d !== undefined ? undefined : connectMongo(target, { timeoutMs: 2000 }).catch(() => undefined)));
  let client: Promise<MongoClient> | undefined;
  return {
    target,
    done,
    client: (deadline, log) => (client ??= early.then((c) => c ?? connectForInit(target, deadline, log))),
    close: async () => {
      const c = await (client ?? early).catch(() => undefined);
      await c?.close(true).catch(() => {});
    },
  };
}

/**
 * A store whose first findDone answers with the record read early; anything else (a forced
 * init) connects then, as the store would have before.
 */
function knownDoneStore(done: DoneDoc, connect: () => Promise<InitStore>): InitStore {
  let first: DoneDoc | undefined = done;
  let store: Promise<InitStore> | undefined;
  const real = (): Promise<InitStore> => (store ??= connect());
  return {
    async findDone(key) {
      if (first !== undefined && first.key === key) {
        const d = first;
        first = undefined;
        return d;
      }
      return (await real()).findDone(key);
    },
    // The server's clock judges expiry (fencing): a store without one would use the agent's.
    serverNow: async () => {
      const s = await real();
      return s.serverNow ? s.serverNow() : new Date();
    },
    readLease: async () => (await real()).readLease(),
    tryAcquire: async (...a) => (await real()).tryAcquire(...a),
    renew: async (...a) => (await real()).renew(...a),
    release: async (...a) => (await real()).release(...a),
    commit: async (...a) => (await real()).commit(...a),
    markDone: async (...a) => (await real()).markDone(...a),
  };
}

/** Runs `fn` on the store of `conn` (which its opener closes). */
async function withStore<T>(conn: InitConnection, deadline: Deadline, log: Logger, fn: (store: InitStore) => Promise<T>): Promise<T> {
  const open = async (): Promise<InitStore> => mongoInitStore((await conn.client(deadline, log)).db(conn.target.database));
  const done = await conn.done;
  const store = done !== undefined ? knownDoneStore(done, open) : await open();
  try {
    return await fn(store);
  } catch (err) {
    // store-call.ts turns every StoreError into an UnavailableError; this is the safety net that
    // keeps a database failure from ever being reported as an internal error (70).
    if (err instanceof StoreError) throw new UnavailableError(`the one-time init failed on ${storeNameOf(conn.target)}: ${err.reason}; ${err.hint}`);
    throw err;
  }
}

export interface InitOnMongoOptions {
  /** From openInitConnection(); the caller closes it. */
  db: InitConnection;
  /** From resolveInitKey(). */
  key: string;
  force: boolean;
  /** The init's argv, for the record and the log. */
  argv: string[];
  /** Runs the init and returns its code: runToCompletion(spec, log, stop) from src/exec/run.ts. */
  run: (stop: AbortSignal) => Promise<number>;
  /** The same deadline as the waits'. */
  deadline: Deadline;
  log: Logger;
  ttlMs?: number;
  holder?: Holder;
}

/** For roles with an init. Throws ChildFailedError (the init's code) or UnavailableError (69). */
export async function runInitOnMongo(opts: InitOnMongoOptions): Promise<InitOutcome> {
  return withStore(opts.db, opts.deadline, opts.log, (store) =>
    runInitOnce({
      store,
      storeName: storeNameOf(opts.db.target),
      key: opts.key,
      force: opts.force,
      holder: opts.holder ?? newHolder(),
      argv: opts.argv,
      run: opts.run,
      deadline: opts.deadline,
      log: opts.log,
      ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
    }),
  );
}

/** For roles without an init: waits for the record of `key`; UnavailableError (69) at the deadline. */
export async function awaitInitOnMongo(opts: { db: InitConnection; key: string; deadline: Deadline; log: Logger }): Promise<DoneDoc> {
  return withStore(opts.db, opts.deadline, opts.log, (store) => awaitInitDone({ store, storeName: storeNameOf(opts.db.target), key: opts.key, deadline: opts.deadline, log: opts.log }));
}
