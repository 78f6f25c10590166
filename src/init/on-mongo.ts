// The init steps against the Pulp database: connect (the wait already saw it answer), run
// the lease logic of once.ts on a mongoInitStore, close. The driver loads only here.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MongoClient } from 'mongodb';
import { UnavailableError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MongoTarget } from '../targets.ts';
import { connectMongo } from '../wait/mongodb.ts';
import type { DoneDoc, Holder } from './lease.ts';
import { mongoInitStore } from './mongo-store.ts';
import { type InitOutcome, awaitInitDone, runInitOnce } from './once.ts';
import type { InitStore } from './store.ts';

/** hostname + pid + random: in containers every agent may be PID 1, and hostnames repeat across restarts. */
export function newHolder(): Holder {
  const host = hostname();
  return { id: `${host}:${process.pid}:${randomBytes(4).toString('hex')}`, host };
}

async function withStore<T>(target: MongoTarget, deadline: number, fn: (store: InitStore) => Promise<T>): Promise<T> {
  let client: MongoClient;
  try {
    client = await connectMongo(target, { timeoutMs: Math.max(1000, deadline - Date.now()) });
  } catch (err) {
    throw new UnavailableError(`cannot reach MongoDB at ${target.address} for the one-time init: ${errorMessage(err)}`);
  }
  try {
    return await fn(mongoInitStore(client.db(target.database)));
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
  /** Runs the init and returns its code: runToCompletion(spec, log) from src/exec/run.ts. */
  run: () => Promise<number>;
  /** Epoch ms (the same deadline as the waits). */
  deadline: number;
  log: Logger;
  ttlMs?: number;
  holder?: Holder;
}

/** For roles with an init. Throws ChildFailedError (the init's code) or UnavailableError (69). */
export async function runInitOnMongo(opts: InitOnMongoOptions): Promise<InitOutcome> {
  return withStore(opts.target, opts.deadline, (store) =>
    runInitOnce({
      store,
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
export async function awaitInitOnMongo(opts: { target: MongoTarget; key: string; deadline: number; log: Logger }): Promise<DoneDoc> {
  return withStore(opts.target, opts.deadline, (store) => awaitInitDone({ store, key: opts.key, deadline: opts.deadline, log: opts.log }));
}
