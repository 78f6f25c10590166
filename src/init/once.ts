// The one-time init: at most one runs at a time across all pods (the lease), and once it
// succeeded for a key, later starts skip it (the completion record). Roles without an init
// wait for that record instead. Effects come in through InitStore and the `run` callback;
// time through `clock`, so the state machine is tested without servers or sleeps.
import { ChildFailedError, UnavailableError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type Deadline, type Time, deadlineIn, laterOf, msLeft, realTime, retryUntil } from '../retry.ts';
import { type DoneDoc, type Holder, doneId, leaseState } from './lease.ts';
import { StoreError } from './store-error.ts';
import type { InitStore } from './store.ts';

/** Time (retry.ts) plus the wall clock; stalls, lost leases and deadlines are measured on mono(). */
export interface Clock extends Time {
  now(): Date;
}

export const realClock: Clock = { ...realTime, now: () => new Date() };

/**
 * How log and error lines name the store when the caller does not (tests); the MongoDB
 * store passes its own name, "MongoDB at 10.0.0.5:27017 (database pulp_database)".
 */
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
function storeCall<T>(ctx: StoreCallContext, what: string, deadline: Deadline, op: () => Promise<T>, failure?: (why: string) => string): Promise<T> {
  const fail = (why: string): UnavailableError => new UnavailableError(failure ? failure(why) : `cannot ${what} in ${ctx.storeName}: ${why}`);
  return retryUntil({
    deadline,
    time: ctx.clock,
    attempt: () => op(),
    failure: (err) => {
      if (!(err instanceof StoreError)) throw err;
      if (!err.transient) throw fail(`${err.reason}; ${err.hint}`);
      return err;
    },
    pauseMs: (failures) => backoffPolls(ctx.pollMs, failures),
    onRetry: (err, attempt, pause) => ctx.log.warn(`cannot ${what} in ${ctx.storeName}: ${err.reason}; trying again in ${pause} ms`, { key: ctx.key, attempt }),
    expired: (err, attempts) => fail(`${err.reason}, still at the deadline after ${attempts} attempts; ${err.hint} (PULP_WAIT_TIMEOUT sets the deadline)`),
  });
}

/** The pause after the n-th failed call: doubles up to 4 polls, so a long outage is not a log line every half second. */
export function backoffPolls(pollMs: number, failures: number): number {
  return pollMs * Math.min(4, 2 ** (failures - 1));
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
  /** Runs the init, returns its exit code; stops it (SIGTERM, then SIGKILL) when `stop` aborts. */
  run: (stop: AbortSignal) => Promise<number>;
  /** Give up waiting for the lease then (the init itself is not cut short); on `clock`. */
  deadline: Deadline;
  log: Logger;
  /** How long a lease lives without renewal (default 30 s); renewed every ttl/3. */
  ttlMs?: number;
  /** How often to look again while someone else holds the lease (default 500 ms). */
  pollMs?: number;
  clock?: Clock;
}

export type InitOutcome = { ran: true; record: DoneDoc } | { ran: false; record: DoneDoc };

export const DEFAULT_LEASE_TTL_MS = 30_000;

/** How often the holder's watchdog looks at its lease while the init runs (at most). */
const WATCH_TICK_MS = 250;

/**
 * How long after sending its last confirmed renewal the holder gives up: before the server can
 * call the lease expired (its expiry is the server's time at that renewal, later than the
 * send, plus the TTL), by a margin for a slow round trip and the time to stop the init.
 */
export function giveUpAfterMs(ttlMs: number): number {
  return ttlMs - Math.min(Math.floor(ttlMs / 3), Math.max(250, Math.floor(ttlMs / 10)));
}

/** Thrown (exit 69) when the holder lost its lease while its init ran: the init was stopped. */
function lostLease(argv: string[], why: string): UnavailableError {
  return new UnavailableError(`lost the init lease while ${argv.join(' ')} ran (${why}): stopped it; no completion record written, the start that holds the lease now runs it`);
}

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

  const serverNow = (): Promise<Date> => (store.serverNow ? store.serverNow() : Promise.resolve(clock.now()));

  const early = await skipIfDone();
  if (early) return { ran: false, record: early };

  let lastSeen = '';
  // When the call that took the lease was sent, on the monotonic clock: the lease lives at
  // least a TTL from then.
  let confirmedAt = 0;
  for (;;) {
    const sent = clock.mono();
    const [got, now] = await storeCall(ctx, 'take the init lease', opts.deadline, async () => {
      const at = await serverNow();
      return [await store.tryAcquire(holder, key, at, ttlMs), at] as const;
    });
    if (got.acquired) {
      confirmedAt = sent;
      if (got.tookOver) {
        log.warn(`took over the init lease of ${got.tookOver.holder} on ${got.tookOver.host}: it expired at ${got.tookOver.expiresAt.toISOString()} (database time) without being renewed (its holder died or stalled?)`);
      }
      if (got.pending) {
        // Committed by a holder that stalled before publishing it: its init did succeed.
        const pending = got.pending;
        log.info(`publishing the completion record of ${pending.key} that ${pending.holder} on ${pending.host} committed in the lease`, { key: pending.key });
        try {
          await storeCall(ctx, `write the completion record of ${pending.key}`, opts.deadline, () => store.markDone(pending));
        } catch (err) {
          await store.release(holder, clock.now()).catch(() => {});
          throw err;
        }
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
    const left = msLeft(opts.deadline, clock);
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
  // The watchdog: renews every ttl/3; renews at once after a stall (the process, or the whole
  // machine, stopped for longer than that); stops the init when the lease is no longer ours
  // (a renewal finds another holder), or when no renewal has been confirmed for nearly a TTL
  // (the database unreachable, or a stall), since by then the server may give it to another.
  // Stopped before the record is committed, so no timer keeps the process alive afterwards.
  const stop = new AbortController();
  const lost = new AbortController();
  let lostWhy = '';
  const lose = (why: string): void => {
    if (lost.signal.aborted) return;
    lostWhy = why;
    log.warn(`the init lease is lost (${why}): stopping ${opts.argv.join(' ')}`, { key });
    lost.abort();
  };
  const interval = Math.max(1, Math.floor(ttlMs / 3));
  const giveUp = giveUpAfterMs(ttlMs);
  let inFlight = false;
  const renewOnce = async (): Promise<void> => {
    inFlight = true;
    const sent = clock.mono();
    try {
      if (await store.renew(holder, await serverNow(), ttlMs)) {
        confirmedAt = Math.max(confirmedAt, sent);
        return;
      }
      const now = await store.readLease().catch(() => null);
      lose(now?.holder ? `${now.holder} on ${now.host ?? '?'} took it over after it expired` : 'it expired and was taken over');
    } catch (err) {
      // After the loss or the end, a renewal cut short by the closing connection says nothing new.
      if (lost.signal.aborted || stop.signal.aborted) return;
      const why = err instanceof StoreError ? err.reason : errorMessage(err);
      log.warn(`cannot renew the init lease in ${storeName}: ${why}; trying again in ${interval} ms`, { key });
    } finally {
      inFlight = false;
    }
  };
  const watch = async (): Promise<void> => {
    let lastTick = clock.mono();
    let lastWall = clock.now().getTime();
    let nextRenewal = lastTick + interval;
    while (!stop.signal.aborted && !lost.signal.aborted) {
      await clock.sleep(Math.min(WATCH_TICK_MS, interval), stop.signal);
      if (stop.signal.aborted) return;
      const now = clock.mono();
      const wall = clock.now().getTime();
      // A paused VM may resume with its monotonic clock where it stopped but its wall clock
      // corrected: a jump on either means "check now" (a needless check costs one renewal).
      const gap = Math.max(now - lastTick, wall - lastWall);
      if (gap > interval) {
        log.warn(`this agent was stalled for ${(gap / 1000).toFixed(1)} s: checking the init lease now`, { key });
        nextRenewal = now;
      }
      lastTick = now;
      lastWall = wall;
      if (now - confirmedAt >= giveUp) {
        lose(`no renewal confirmed by ${storeName} for ${((now - confirmedAt) / 1000).toFixed(1)} s, and it expires ${ttlMs / 1000} s after one`);
        return;
      }
      if (now >= nextRenewal && !inFlight) {
        nextRenewal = now + interval;
        void renewOnce();
      }
    }
  };
  const watching = watch();
  const stopWatching = async (): Promise<void> => {
    stop.abort();
    await watching;
  };

  const started = clock.now();
  let code: number;
  try {
    code = await opts.run(lost.signal);
  } catch (err) {
    await stopWatching();
    if (!lost.signal.aborted) await store.release(holder, await serverNow().catch(() => clock.now())).catch(() => {});
    throw err;
  }
  await stopWatching();
  // Not ours any more: no record, and no release (it belongs to someone else now).
  if (lost.signal.aborted) throw lostLease(opts.argv, lostWhy);
  const ended = clock.now();
  if (code !== 0) {
    await store.release(holder, await serverNow().catch(() => ended)).catch((err: unknown) => log.warn(`cannot release the init lease: ${errorMessage(err)} (it expires by itself)`));
    throw new ChildFailedError(`init ${opts.argv.join(' ')} failed with exit code ${code}: no completion record written, lease released; fix the cause and restart`, code);
  }
  const record: DoneDoc = { _id: doneId(key), key, doneAt: ended, host: holder.host, holder: holder.id, argv: opts.argv, durationMs: ended.getTime() - started.getTime() };
  // The init usually outlasts the start-up deadline; the record still gets one lease TTL of
  // retries, the time our lease would keep others from running the init anyway.
  const recordDeadline = laterOf(opts.deadline, deadlineIn(ttlMs, clock));
  const failure = (why: string): string =>
    `init ${opts.argv.join(' ')} ran successfully, but its completion record ${key} could not be written to ${storeName}, so the next start will run the init again: ${why}`;
  // The commit point: one update that succeeds only while this start holds the lease.
  let held: boolean;
  try {
    held = await storeCall(ctx, `commit the completion record of ${key}`, recordDeadline, async () => store.commit(holder, record, await serverNow(), ttlMs), failure);
  } catch (err) {
    await store.release(holder, clock.now()).catch(() => {});
    throw err;
  }
  if (!held) throw lostLease(opts.argv, 'it was taken over before the init ended');
  try {
    await storeCall(
      ctx,
      `write the completion record of ${key}`,
      recordDeadline,
      () => store.markDone(record),
      failure,
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
  /** On `clock`. */
  deadline: Deadline;
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
    const left = msLeft(opts.deadline, clock);
    if (left <= 0) {
      throw new UnavailableError(
        `the one-time init ${opts.key} was not recorded before the deadline: start the beat role (it runs pulp-manage-db), check its log, or make PULP_INIT_KEY the same in every role`,
      );
    }
    await clock.sleep(Math.min(pollMs, left));
  }
}
