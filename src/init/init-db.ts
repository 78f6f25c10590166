// The one-time init against whichever database holds its lease: an InitDb is that database's
// connection (opened while the waits run, closed by its opener), and these are the lease
// logic of once.ts and await-done.ts on its store, with a database failure always reported as
// unavailable (69), never as a bug. on-mongo.ts and on-mysql.ts open the two kinds.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Deadline } from '../common/retry.ts';
import type { DoneDoc, Holder } from './lease.ts';
import { type InitOutcome, runInitOnce } from './once.ts';
import { awaitInitDone } from './await-done.ts';
import { StoreError } from './store-error.ts';
import { type InitStore, rolloutOf } from './store.ts';

export interface InitDb {
  /** For log and error lines: "MongoDB at db:27017 (database pulp_database)". */
  readonly name: string;
  /** The record of the key read early; undefined when not found (or not readable early). */
  readonly done: Promise<DoneDoc | undefined>;
  /** The store on the connection (retried until `deadline`). */
  store(deadline: Deadline, log: Logger): Promise<InitStore>;
  /** Closes what was opened; waits for an early connection still in progress. */
  close(): Promise<void>;
}

/** hostname + pid + random: in containers every agent may be PID 1, and hostnames repeat across restarts. */
export function newHolder(): Holder {
  const host = hostname();
  return { id: `${host}:${process.pid}:${randomBytes(4).toString('hex')}`, host };
}

/**
 * A store each of whose calls goes to the store `get` gives at that moment: opened on first use,
 * or replaced between calls (on-mysql.ts, after a dropped connection).
 */
export function lazyStore(get: () => Promise<InitStore>): InitStore {
  return {
    // The server's clock judges expiry (fencing): a store without one would use the agent's.
    serverNow: async () => {
      const s = await get();
      return s.serverNow ? s.serverNow() : new Date();
    },
    findDone: async (key) => (await get()).findDone(key),
    readLease: async () => (await get()).readLease(),
    tryAcquire: async (...a) => (await get()).tryAcquire(...a),
    renew: async (...a) => (await get()).renew(...a),
    release: async (...a) => (await get()).release(...a),
    commit: async (...a) => (await get()).commit(...a),
    markDone: async (...a) => (await get()).markDone(...a),
    rollout: {
      heartbeat: async (...a) => rolloutOf(await get()).heartbeat(...a),
      replicas: async () => rolloutOf(await get()).replicas(),
      doneRecords: async (...a) => rolloutOf(await get()).doneRecords(...a),
      schemaVersions: async (...a) => rolloutOf(await get()).schemaVersions(...a),
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
  const real = lazyStore(() => (store ??= connect()));
  return {
    ...real,
    async findDone(key) {
      if (first !== undefined && first.key === key) {
        const d = first;
        first = undefined;
        return d;
      }
      return real.findDone(key);
    },
  };
}

/** Runs `fn` on the store of `db` (which its opener closes). */
async function withStore<T>(db: InitDb, deadline: Deadline, log: Logger, fn: (store: InitStore) => Promise<T>): Promise<T> {
  const open = (): Promise<InitStore> => db.store(deadline, log);
  const done = await db.done;
  try {
    const store = done !== undefined ? knownDoneStore(done, open) : await open();
    return await fn(store);
  } catch (err) {
    // store-call.ts turns every StoreError into an UnavailableError; this is the safety net that
    // keeps a database failure from ever being reported as an internal error (70).
    if (err instanceof StoreError) throw new UnavailableError(`the one-time init failed on ${db.name}: ${err.reason}; ${err.hint}`);
    throw err;
  }
}

export interface RunInitOptions {
  /** From an opener (on-mongo.ts, on-mysql.ts); the caller closes it. */
  db: InitDb;
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
export async function runInit(opts: RunInitOptions): Promise<InitOutcome> {
  return withStore(opts.db, opts.deadline, opts.log, (store) =>
    runInitOnce({
      store,
      storeName: opts.db.name,
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
export async function awaitInit(opts: { db: InitDb; key: string; deadline: Deadline; log: Logger; runBy: string; missingHint: string }): Promise<DoneDoc> {
  return withStore(opts.db, opts.deadline, opts.log, (store) =>
    awaitInitDone({ store, storeName: opts.db.name, key: opts.key, deadline: opts.deadline, log: opts.log, runBy: opts.runBy, missingHint: opts.missingHint }),
  );
}
