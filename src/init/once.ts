// The one-time init: at most one runs at a time across all pods (the lease), and once it
// succeeded for a key, later starts skip it (the completion record). Roles without an init
// wait for that record instead. Effects come in through InitStore and the `run` callback;
// time through `clock`, so the state machine is tested without servers or sleeps.
import { ChildFailedError, UnavailableError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type DoneDoc, type Holder, doneId, leaseState } from './lease.ts';
import { StoreError } from './store-error.ts';
import type { InitStore } from './store.ts';

export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** How the store is named in log and error lines: "MongoDB at 10.0.0.5:27017 (database pulp_database)". */
const DEFAULT_STORE_NAME = 'the init database';

interface StoreCallContext {
  storeName: string;
  log: Logger;
  clock: Clock;
  pollMs: number;
  key: string;
}

/**
 * One store call, tried again after transient failures (the network, an election, a
 * timeout) until `deadline`; then, or at once for any other StoreError, an UnavailableError
 * naming the database and what to check. Errors that are not StoreErrors are bugs: they pass.
 */
async function storeCall<T>(ctx: StoreCallContext, what: string, deadline: number, op: () => Promise<T>, failure?: (why: string) => string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      const left = deadline - ctx.clock.now().getTime();
      const fail = (why: string): UnavailableError => new UnavailableError(failure ? failure(why) : `cannot ${what} in ${ctx.storeName}: ${why}`);
      if (!err.transient) throw fail(`${err.reason}; ${err.hint}`);
      if (left <= 0) throw fail(`${err.reason}, still at the deadline after ${attempt} attempts; ${err.hint} (PULP_WAIT_TIMEOUT sets the deadline)`);
      // Backs off up to 4 polls, so a long outage is not a log line every half second.
      const pause = Math.min(left, ctx.pollMs * Math.min(4, 2 ** (attempt - 1)));
      ctx.log.warn(`cannot ${what} in ${ctx.storeName}: ${err.reason}; trying again in ${pause} ms`, { key: ctx.key, attempt });
      await ctx.clock.sleep(pause);
    }
  }
}

export interface InitOnceOptions {
  store: InitStore;
  /** For log and error lines (default "the init database"). */
  storeName?: string;
  key: string;
  /** PULP_FORCE_INIT=1: run even when a completion record exists. */
  force: boolean;
  holder: Holder;
  /** For the record and the log lines. */
  argv: string[];
  /** Runs the init, returns its exit code. */
  run: () => Promise<number>;
  /** Epoch ms: give up waiting for the lease then (the init itself is not cut short). */
  deadline: number;
  log: Logger;
  /** How long a lease lives without renewal (default 30 s); renewed every ttl/3. */
  ttlMs?: number;
  /** How often to look again while someone else holds the lease (default 500 ms). */
  pollMs?: number;
  clock?: Clock;
}

export type InitOutcome = { ran: true; record: DoneDoc } | { ran: false; record: DoneDoc };

export const DEFAULT_LEASE_TTL_MS = 30_000;

function describeDone(d: DoneDoc): string {
  return `init ${d.key} already done at ${d.doneAt.toISOString()} on ${d.host}`;
}

/** Waits for the lease (or for someone else to finish the same key), runs the init, records it. */
export async function runInitOnce(opts: InitOnceOptions): Promise<InitOutcome> {
  const { store, key, holder, log } = opts;
  const clock = opts.clock ?? realClock;
  const ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const pollMs = opts.pollMs ?? 500;
  const storeName = opts.storeName ?? DEFAULT_STORE_NAME;
  const ctx: StoreCallContext = { storeName, log, clock, pollMs, key };

  const skipIfDone = async (): Promise<DoneDoc | null> => {
    if (opts.force) return null;
    const done = await storeCall(ctx, `read the init record of ${key}`, opts.deadline, () => store.findDone(key));
    if (done) log.info(`${describeDone(done)}: skipping it (PULP_FORCE_INIT=1 runs it again)`, { key, doneAt: done.doneAt.toISOString(), host: done.host });
    return done;
  };

  const early = await skipIfDone();
  if (early) return { ran: false, record: early };

  let lastSeen = '';
  for (;;) {
    const now = clock.now();
    const got = await storeCall(ctx, 'take the init lease', opts.deadline, () => store.tryAcquire(holder, key, now, ttlMs));
    if (got.acquired) {
      if (got.tookOver) {
        log.warn(`took over the init lease of ${got.tookOver.holder} on ${got.tookOver.host}: it expired at ${got.tookOver.expiresAt.toISOString()} without being renewed (its holder died?)`);
      }
      break;
    }
    const st = leaseState(got.current, now);
    const seen = st.state === 'held' ? st.by : st.state;
    if (seen !== lastSeen) {
      lastSeen = seen;
      if (st.state === 'held') log.info(`waiting for the init lease: ${st.by} on ${st.host} holds it until ${st.until.toISOString()} (renewed while its init runs)`, { key });
    }
    const done = await skipIfDone();
    if (done) return { ran: false, record: done };
    const left = opts.deadline - clock.now().getTime();
    if (left <= 0) {
      const who = st.state === 'held' ? `${st.by} on ${st.host}` : 'another start';
      throw new UnavailableError(`the init lease is still held by ${who} at the deadline: its init is still running or the database is slow; try again later (PULP_WAIT_TIMEOUT sets the deadline)`);
    }
    await clock.sleep(Math.min(pollMs, left));
  }

  // Someone may have finished the same key between our first look and the lease.
  try {
    const late = await skipIfDone();
    if (late) {
      await store.release(holder, clock.now());
      return { ran: false, record: late };
    }
  } catch (err) {
    await store.release(holder, clock.now()).catch(() => {});
    throw err;
  }

  log.info(`init lease taken: running ${opts.argv.join(' ')}`, { key, holder: holder.id, ttlMs });
  // Stopped (and awaited) before the lease is released or the record written, so a late
  // renewal cannot race the release, and no timer keeps the process alive afterwards.
  const stop = new AbortController();
  const renewLoop = async (): Promise<void> => {
    for (;;) {
      await clock.sleep(Math.max(1, Math.floor(ttlMs / 3)), stop.signal);
      if (stop.signal.aborted) return;
      try {
        if (!(await store.renew(holder, clock.now(), ttlMs))) {
          log.warn('the init lease was taken by another start while this init ran (renewals failed for longer than its TTL); letting this init finish', { key });
          return;
        }
      } catch (err) {
        // The init is not cut short for this: at worst the lease expires and another start
        // runs the same idempotent init after it.
        const why = err instanceof StoreError ? err.reason : errorMessage(err);
        log.warn(`cannot renew the init lease in ${storeName}: ${why}; trying again in ${Math.floor(ttlMs / 3)} ms`, { key });
      }
    }
  };
  const renewal = renewLoop();
  const stopRenewing = async (): Promise<void> => {
    stop.abort();
    await renewal;
  };

  const started = clock.now();
  let code: number;
  try {
    code = await opts.run();
  } catch (err) {
    await stopRenewing();
    await store.release(holder, clock.now()).catch(() => {});
    throw err;
  }
  await stopRenewing();
  const ended = clock.now();
  if (code !== 0) {
    await store.release(holder, ended).catch((err: unknown) => log.warn(`cannot release the init lease: ${errorMessage(err)} (it expires by itself)`));
    throw new ChildFailedError(`init ${opts.argv.join(' ')} failed with exit code ${code}: no completion record written, lease released; fix the cause and restart`, code);
  }
  const record: DoneDoc = { _id: doneId(key), key, doneAt: ended, host: holder.host, holder: holder.id, argv: opts.argv, durationMs: ended.getTime() - started.getTime() };
  // The init usually outlasts the start-up deadline; the record still gets one lease TTL of
  // retries, the time our lease would keep others from running the init anyway.
  const recordDeadline = Math.max(opts.deadline, ended.getTime() + ttlMs);
  try {
    await storeCall(
      ctx,
      `write the completion record of ${key}`,
      recordDeadline,
      () => store.markDone(record),
      (why) => `init ${opts.argv.join(' ')} ran successfully, but its completion record ${key} could not be written to ${storeName}, so the next start will run the init again: ${why}`,
    );
  } catch (err) {
    await store.release(holder, clock.now()).catch(() => {});
    throw err;
  }
  await store.release(holder, clock.now()).catch((err: unknown) => log.warn(`cannot release the init lease: ${err instanceof StoreError ? err.reason : errorMessage(err)} (it expires by itself)`));
  log.info(`init ${key} done and recorded`, { ms: record.durationMs });
  return { ran: true, record };
}

export interface AwaitInitOptions {
  store: InitStore;
  /** For log and error lines (default "the init database"). */
  storeName?: string;
  key: string;
  deadline: number;
  log: Logger;
  pollMs?: number;
  clock?: Clock;
}

/** For roles without an init: returns the completion record of `key`, or 69 at the deadline. */
export async function awaitInitDone(opts: AwaitInitOptions): Promise<DoneDoc> {
  const clock = opts.clock ?? realClock;
  const pollMs = opts.pollMs ?? 500;
  const ctx: StoreCallContext = { storeName: opts.storeName ?? DEFAULT_STORE_NAME, log: opts.log, clock, pollMs, key: opts.key };
  let said = false;
  for (;;) {
    const done = await storeCall(ctx, `read the init record of ${opts.key}`, opts.deadline, () => opts.store.findDone(opts.key));
    if (done) {
      opts.log.info(`init ${done.key} was done at ${done.doneAt.toISOString()} on ${done.host}`, { key: opts.key });
      return done;
    }
    if (!said) {
      said = true;
      const st = leaseState(await storeCall(ctx, 'read the init lease', opts.deadline, () => opts.store.readLease()), clock.now());
      const running = st.state === 'held' ? `; ${st.by} on ${st.host} is running it now` : '';
      opts.log.info(`waiting for the one-time init ${opts.key} (run by the beat role) to be recorded${running}`, { key: opts.key });
    }
    const left = opts.deadline - clock.now().getTime();
    if (left <= 0) {
      throw new UnavailableError(
        `the one-time init ${opts.key} was not recorded before the deadline: start the beat role (it runs pulp-manage-db), check its log, or make PULP_INIT_KEY the same in every role`,
      );
    }
    await clock.sleep(Math.min(pollMs, left));
  }
}
