// The one-time init: at most one runs at a time across all pods (the lease), and once it
// succeeded for a key, later starts skip it (the completion record). Roles without an init
// wait for that record instead. Effects come in through InitStore and the `run` callback;
// time through `clock`, so the state machine is tested without servers or sleeps.
import { ChildFailedError, UnavailableError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, type Time, deadlineIn, laterOf, msLeft, realTime, retryUntil } from '../common/retry.ts';
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

/** What runInitOnce works with: the options, defaults filled in. */
interface Session extends StoreCallContext {
  store: InitStore;
  holder: Holder;
  force: boolean;
  argv: string[];
  run: (stop: AbortSignal) => Promise<number>;
  deadline: Deadline;
  ttlMs: number;
  /** The database's clock when the store has one (it judges expiry), else the agent's. */
  serverNow(): Promise<Date>;
}

function sessionOf(opts: InitOnceOptions): Session {
  const { store, key, holder, log } = opts;
  const clock = opts.clock ?? realClock;
  return {
    store,
    key,
    holder,
    log,
    clock,
    force: opts.force,
    argv: opts.argv,
    run: opts.run,
    deadline: opts.deadline,
    ttlMs: opts.ttlMs ?? DEFAULT_LEASE_TTL_MS,
    pollMs: opts.pollMs ?? 500,
    storeName: opts.storeName ?? DEFAULT_STORE_NAME,
    serverNow: () => (store.serverNow ? store.serverNow() : Promise.resolve(clock.now())),
  };
}

/** The completion record of the key, unless PULP_FORCE_INIT=1 (then null: run it anyway). */
async function skipIfDone(s: Session): Promise<DoneDoc | null> {
  if (s.force) return null;
  const done = await storeCall(s, `read the init record of ${s.key}`, s.deadline, () => s.store.findDone(s.key));
  if (done) s.log.info(`${describeDone(done)}: skipping it (PULP_FORCE_INIT=1 runs it again)`, { key: s.key, doneAt: done.doneAt.toISOString(), host: done.host });
  return done;
}

/** The lease taken: when the call that took it was sent (it lives at least a TTL from then), and a record left to publish. */
interface Taken {
  confirmedAt: number;
  pending: DoneDoc | null;
}

/**
 * Polls for the lease until this start takes it, someone else's init of the key is recorded
 * meanwhile (that record), or the deadline passes (69).
 */
async function acquire(s: Session): Promise<Taken | { done: DoneDoc }> {
  let lastSeen = '';
  for (;;) {
    const sent = s.clock.mono();
    const [got, now] = await storeCall(s, 'take the init lease', s.deadline, async () => {
      const at = await s.serverNow();
      return [await s.store.tryAcquire(s.holder, s.key, at, s.ttlMs), at] as const;
    });
    if (got.acquired) {
      if (got.tookOver) {
        s.log.warn(`took over the init lease of ${got.tookOver.holder} on ${got.tookOver.host}: it expired at ${got.tookOver.expiresAt.toISOString()} (database time) without being renewed (its holder died or stalled?)`);
      }
      return { confirmedAt: sent, pending: got.pending };
    }
    const st = leaseState(got.current, now);
    const seen = st.state === 'held' ? st.by : st.state;
    if (seen !== lastSeen) {
      lastSeen = seen;
      if (st.state === 'held') s.log.info(`waiting for the init lease: ${st.by} on ${st.host} holds it until ${st.until.toISOString()} (renewed while its init runs)`, { key: s.key });
    }
    const done = await skipIfDone(s);
    if (done) return { done };
    const left = msLeft(s.deadline, s.clock);
    if (left <= 0) {
      const who = st.state === 'held' ? `${st.by} on ${st.host}` : 'another start';
      throw new UnavailableError(`the init lease is still held by ${who} at the deadline: its init is still running or the database is slow; try again later (PULP_WAIT_TIMEOUT sets the deadline)`);
    }
    await s.clock.sleep(Math.min(s.pollMs, left));
  }
}

/** Publishes a record committed by a holder that stalled before publishing it: its init did succeed. */
async function publishPending(s: Session, pending: DoneDoc): Promise<void> {
  s.log.info(`publishing the completion record of ${pending.key} that ${pending.holder} on ${pending.host} committed in the lease`, { key: pending.key });
  await storeCall(s, `write the completion record of ${pending.key}`, s.deadline, () => s.store.markDone(pending));
}

/** The holder's watchdog over its lease while the init runs (see watchLease). */
interface Watchdog {
  /** Aborts when the lease is lost: the init must stop. */
  lost: AbortSignal;
  /** Why it was lost (for the error line). */
  lostWhy(): string;
  /** Ends the watch; resolves when no timer or renewal of it is left. */
  stop(): Promise<void>;
}

/**
 * Renews every ttl/3; renews at once after a stall (the process, or the whole machine, stopped
 * for longer than that); aborts `lost` when the lease is no longer ours (a renewal finds
 * another holder), or when no renewal has been confirmed for nearly a TTL (the database
 * unreachable, or a stall), since by then the server may give it to another. Stopped before
 * the record is committed, so no timer keeps the process alive afterwards.
 */
function watchLease(s: Session, takenAt: number): Watchdog {
  const { store, holder, ttlMs, clock, log, key } = s;
  let confirmedAt = takenAt;
  const stop = new AbortController();
  const lost = new AbortController();
  let lostWhy = '';
  const lose = (why: string): void => {
    if (lost.signal.aborted) return;
    lostWhy = why;
    log.warn(`the init lease is lost (${why}): stopping ${s.argv.join(' ')}`, { key });
    lost.abort();
  };
  const interval = Math.max(1, Math.floor(ttlMs / 3));
  const giveUp = giveUpAfterMs(ttlMs);
  let inFlight = false;
  const renewOnce = async (): Promise<void> => {
    inFlight = true;
    const sent = clock.mono();
    try {
      if (await store.renew(holder, await s.serverNow(), ttlMs)) {
        confirmedAt = Math.max(confirmedAt, sent);
        return;
      }
      const now = await store.readLease().catch(() => null);
      lose(now?.holder ? `${now.holder} on ${now.host ?? '?'} took it over after it expired` : 'it expired and was taken over');
    } catch (err) {
      // After the loss or the end, a renewal cut short by the closing connection says nothing new.
      if (lost.signal.aborted || stop.signal.aborted) return;
      const why = err instanceof StoreError ? err.reason : errorMessage(err);
      log.warn(`cannot renew the init lease in ${s.storeName}: ${why}; trying again in ${interval} ms`, { key });
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
        lose(`no renewal confirmed by ${s.storeName} for ${((now - confirmedAt) / 1000).toFixed(1)} s, and it expires ${ttlMs / 1000} s after one`);
        return;
      }
      if (now >= nextRenewal && !inFlight) {
        nextRenewal = now + interval;
        void renewOnce();
      }
    }
  };
  const watching = watch();
  return {
    lost: lost.signal,
    lostWhy: () => lostWhy,
    stop: async () => {
      stop.abort();
      await watching;
    },
  };
}

/**
 * How the held lease ends, decided as the run goes and carried out once, in runInitOnce's
 * finally. `release`: 'no' when the lease is not ours any more (it belongs to someone else
 * now); 'warn' when the run ends as it should (done, skipped, or the init's own failure): a
 * failed release is a warning, the lease expires by itself; 'quiet' when an error is on its
 * way out: that error is the line to read. `atServer`: released at the database's time (after
 * the init ran), else at the agent's (the database may be what failed: no extra round trip).
 */
interface LeaseEnd {
  release: 'no' | 'quiet' | 'warn';
  atServer: boolean;
}

async function endLease(s: Session, end: LeaseEnd): Promise<void> {
  if (end.release === 'no') return;
  const at = end.atServer ? await s.serverNow().catch(() => s.clock.now()) : s.clock.now();
  await s.store.release(s.holder, at).catch((err: unknown) => {
    if (end.release === 'warn') s.log.warn(`cannot release the init lease: ${errorMessage(err)} (it expires by itself)`);
  });
}

/**
 * Runs the init under the watchdog; resolves when it exited 0 with the lease still ours (the
 * record to commit), throws otherwise, having set how the lease ends.
 */
async function runWatched(s: Session, taken: Taken, end: LeaseEnd): Promise<DoneDoc> {
  s.log.info(`init lease taken: running ${s.argv.join(' ')}`, { key: s.key, holder: s.holder.id, ttlMs: s.ttlMs });
  const dog = watchLease(s, taken.confirmedAt);
  const started = s.clock.now();
  let code: number;
  try {
    code = await s.run(dog.lost);
  } finally {
    await dog.stop();
    end.atServer = true;
    // Not ours any more: no record, and no release (it belongs to someone else now).
    if (dog.lost.aborted) end.release = 'no';
  }
  if (dog.lost.aborted) throw lostLease(s.argv, dog.lostWhy());
  const ended = s.clock.now();
  if (code !== 0) {
    end.release = 'warn';
    throw new ChildFailedError(`init ${s.argv.join(' ')} failed with exit code ${code}: no completion record written, lease released; fix the cause and restart`, code);
  }
  end.atServer = false;
  return { _id: doneId(s.key), key: s.key, doneAt: ended, host: s.holder.host, holder: s.holder.id, argv: s.argv, durationMs: ended.getTime() - started.getTime() };
}

/** Commits the record in the lease (the commit point), then publishes it as its own document. */
async function record(s: Session, done: DoneDoc, end: LeaseEnd): Promise<void> {
  // The init usually outlasts the start-up deadline; the record still gets one lease TTL of
  // retries, the time our lease would keep others from running the init anyway.
  const recordDeadline = laterOf(s.deadline, deadlineIn(s.ttlMs, s.clock));
  const failure = (why: string): string =>
    `init ${s.argv.join(' ')} ran successfully, but its completion record ${s.key} could not be written to ${s.storeName}, so the next start will run the init again: ${why}`;
  // The commit point: one update that succeeds only while this start holds the lease.
  const held = await storeCall(s, `commit the completion record of ${s.key}`, recordDeadline, async () => s.store.commit(s.holder, done, await s.serverNow(), s.ttlMs), failure);
  if (!held) {
    end.release = 'no';
    throw lostLease(s.argv, 'it was taken over before the init ended');
  }
  await storeCall(s, `write the completion record of ${s.key}`, recordDeadline, () => s.store.markDone(done), failure);
}

/** Waits for the lease (or for someone else to finish the same key), runs the init, records it. */
export async function runInitOnce(opts: InitOnceOptions): Promise<InitOutcome> {
  const s = sessionOf(opts);
  const early = await skipIfDone(s);
  if (early) return { ran: false, record: early };
  const taken = await acquire(s);
  if ('done' in taken) return { ran: false, record: taken.done };
  // The lease is ours from here; released once, in the finally.
  const end: LeaseEnd = { release: 'quiet', atServer: false };
  let done: DoneDoc;
  try {
    if (taken.pending) await publishPending(s, taken.pending);
    // Someone may have finished the same key between our first look and the lease.
    const late = await skipIfDone(s);
    if (late) {
      end.release = 'warn';
      return { ran: false, record: late };
    }
    done = await runWatched(s, taken, end);
    await record(s, done, end);
    end.release = 'warn';
  } finally {
    await endLease(s, end);
  }
  s.log.info(`init ${s.key} done and recorded`, { ms: done.durationMs });
  return { ran: true, record: done };
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
