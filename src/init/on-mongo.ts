// The init steps against the Pulp database: connect (the wait already saw it answer), run
// the lease logic of once.ts on a mongoInitStore, close. The driver loads only here.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MongoClient } from 'mongodb';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MongoTarget } from '../targets.ts';
import { REASON_HINT, toProbeError } from '../wait/classify.ts';
import { connectMongo } from '../wait/mongodb.ts';
import type { DoneDoc, Holder } from './lease.ts';
import { mongoInitStore } from './mongo-store.ts';
import { type InitOutcome, awaitInitDone, realClock, runInitOnce } from './once.ts';
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

/** Connects, trying again after transient failures until the deadline. */
async function connectForInit(target: MongoTarget, deadline: number, log: Logger): Promise<MongoClient> {
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    try {
      return await connectMongo(target, { timeoutMs: Math.min(OP_TIMEOUT_MS, Math.max(1000, left)) });
    } catch (err) {
      const p = toProbeError(err, target.address);
      const hint = REASON_HINT[p.reason];
      if (p.permanent) throw new UnavailableError(`cannot connect to ${storeNameOf(target)} for the one-time init: ${p.message}; ${hint}`);
      if (deadline - Date.now() <= 0) {
        throw new UnavailableError(`cannot connect to ${storeNameOf(target)} for the one-time init: ${p.message}, still at the deadline after ${attempt} attempts; ${hint} (PULP_WAIT_TIMEOUT sets the deadline)`);
      }
      const pause = Math.min(deadline - Date.now(), 500 * Math.min(4, 2 ** (attempt - 1)));
      log.warn(`cannot connect to ${storeNameOf(target)} for the one-time init: ${p.message}; trying again in ${pause} ms`, { attempt });
      await realClock.sleep(pause);
    }
  }
}

/**
 * A connection opened while the waits ran (see `early` below), or a new one. The early one
 * saves a whole connection set-up on the usual restart, where the database is already up.
 */
async function withStore<T>(
  target: MongoTarget,
  deadline: number,
  log: Logger,
  early: Promise<MongoClient | undefined> | undefined,
  fn: (store: InitStore) => Promise<T>,
): Promise<T> {
  const client = (await early) ?? (await connectForInit(target, deadline, log));
  try {
    return await fn(mongoInitStore(client.db(target.database)));
  } catch (err) {
    // once.ts turns every StoreError into an UnavailableError; this is the safety net that
    // keeps a database failure from ever being reported as an internal error (70).
    if (err instanceof StoreError) throw new UnavailableError(`the one-time init failed on ${storeNameOf(target)}: ${err.reason}; ${err.hint}`);
    throw err;
  } finally {
    await client.close(true).catch(() => {});
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
  /** Epoch ms (the same deadline as the waits). */
  deadline: number;
  log: Logger;
  ttlMs?: number;
  holder?: Holder;
  /** A connection started early by openEarly(); used when it succeeded. */
  early?: Promise<MongoClient | undefined>;
}

/**
 * Starts connecting for the init while the waits run; resolves undefined on any failure
 * (the database may not be up yet: the init then connects after the waits, as before).
 */
export function openEarly(target: MongoTarget): Promise<MongoClient | undefined> {
  return connectMongo(target, { timeoutMs: 2000 }).catch(() => undefined);
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
  deadline: number;
  log: Logger;
  early?: Promise<MongoClient | undefined>;
}): Promise<DoneDoc> {
  return withStore(opts.target, opts.deadline, opts.log, opts.early, (store) => awaitInitDone({ store, storeName: storeNameOf(opts.target), key: opts.key, deadline: opts.deadline, log: opts.log }));
}
