// The init steps against the Pulp database: connect (the wait already saw it answer), run
// the lease logic of once.ts on a mongoInitStore, close. The driver loads only here.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MongoClient } from 'mongodb';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Deadline, retryUntil } from '../retry.ts';
import type { MongoTarget } from '../targets.ts';
import { REASON_HINT, toProbeError } from '../wait/classify.ts';
import { connectMongo, probeOptions } from '../wait/mongodb.ts';
import { findOneDirect } from '../wait/mongodb-direct.ts';
import { type DoneDoc, type Holder, INIT_COLLECTION, doneId } from './lease.ts';
import { mongoInitStore } from './mongo-store.ts';
import { type InitOutcome, awaitInitDone, backoffPolls, runInitOnce } from './once.ts';
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
// that goes away mid-init is noticed and retried by once.ts instead of hanging on one call
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

/**
 * What was started while the waits ran: the completion record of the key, read on one direct
 * connection (src/wait/mongodb-direct.ts), and a MongoClient only when that read did not find
 * it. On the usual restart the record is there and no MongoClient (the whole driver, a
 * monitoring connection, a pool connection) is needed at all.
 */
export interface EarlyInit {
  done: DoneDoc | undefined;
  client: Promise<MongoClient | undefined>;
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
 * A store whose first findDone answers with the record read early; anything else (a forced
 * init) connects then, as the store would have before.
 */
function knownDoneStore(done: DoneDoc, database: string, connect: () => Promise<MongoClient>): { store: InitStore; close: () => Promise<void> } {
  let client: Promise<MongoClient> | undefined;
  let first: DoneDoc | undefined = done;
  const real = async (): Promise<InitStore> => mongoInitStore((await (client ??= connect())).db(database));
  return {
    store: {
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
    },
    close: async () => {
      if (client) await (await client).close(true).catch(() => {});
    },
  };
}

/**
 * A connection opened while the waits ran (see `early` below), or a new one. The early one
 * saves a whole connection set-up on the usual restart, where the database is already up.
 */
async function withStore<T>(
  target: MongoTarget,
  deadline: Deadline,
  log: Logger,
  early: Promise<EarlyInit> | undefined,
  fn: (store: InitStore) => Promise<T>,
): Promise<T> {
  const e = await early;
  let store: InitStore;
  let close: () => Promise<void>;
  if (e?.done !== undefined) {
    ({ store, close } = knownDoneStore(e.done, target.database, async () => (await e.client) ?? connectForInit(target, deadline, log)));
  } else {
    const client = (await e?.client) ?? (await connectForInit(target, deadline, log));
    store = mongoInitStore(client.db(target.database));
    close = () => client.close(true).catch(() => {});
  }
  try {
    return await fn(store);
  } catch (err) {
    // once.ts turns every StoreError into an UnavailableError; this is the safety net that
    // keeps a database failure from ever being reported as an internal error (70).
    if (err instanceof StoreError) throw new UnavailableError(`the one-time init failed on ${storeNameOf(target)}: ${err.reason}; ${err.hint}`);
    throw err;
  } finally {
    await close();
  }
}

export interface InitOnMongoOptions {
  target: MongoTarget;
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
  /** Started early by openEarly(); used when it succeeded. */
  early?: Promise<EarlyInit>;
}

/**
 * Starts reading the init record of `key`, and connecting for the init when it is not there,
 * while the waits run; either resolves undefined on any failure (the database may not be up
 * yet: the init then connects after the waits, as before).
 */
export async function openEarly(target: MongoTarget, key: string): Promise<EarlyInit> {
  const done = await readDoneDirect(target, key);
  return { done, client: done !== undefined ? Promise.resolve(undefined) : connectMongo(target, { timeoutMs: 2000 }).catch(() => undefined) };
}

/** For roles with an init. Throws ChildFailedError (the init's code) or UnavailableError (69). */
export async function runInitOnMongo(opts: InitOnMongoOptions): Promise<InitOutcome> {
  return withStore(opts.target, opts.deadline, opts.log, opts.early, (store) =>
    runInitOnce({
      store,
      storeName: storeNameOf(opts.target),
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
export async function awaitInitOnMongo(opts: {
  target: MongoTarget;
  key: string;
  deadline: Deadline;
  log: Logger;
  early?: Promise<EarlyInit>;
}): Promise<DoneDoc> {
  return withStore(opts.target, opts.deadline, opts.log, opts.early, (store) => awaitInitDone({ store, storeName: storeNameOf(opts.target), key: opts.key, deadline: opts.deadline, log: opts.log }));
}
