// The one-time init: at most one runs at a time across all pods (the lease), and once it
// succeeded for a key, later starts skip it (the completion record): take the lease, run
// under the watchdog, commit the record, release once. Roles without an init wait for the
// record instead (await-done.ts). Effects come in through InitStore and the `run` callback;
// time through `clock`, so the state machine is tested without servers or sleeps.
import { ChildFailedError, UnavailableError, errorMessage } from '../common/errors.ts';
import { deadlineIn, laterOf, msLeft } from '../common/retry.ts';
import { type DoneDoc, doneId, leaseState } from './lease.ts';
import { type InitOnceOptions, type Session, sessionOf } from './session.ts';
import { storeCall } from './store-call.ts';
import { watchLease } from './watchdog.ts';
import { envName } from '../common/program.ts';

export type InitOutcome = { ran: true; record: DoneDoc } | { ran: false; record: DoneDoc };

/** Thrown (exit 69) when the holder lost its lease while its init ran: the init was stopped. */
function lostLease(argv: string[], why: string): UnavailableError {
  return new UnavailableError(`lost the init lease while ${argv.join(' ')} ran (${why}): stopped it; no completion record written, the start that holds the lease now runs it`);
}

function describeDone(d: DoneDoc): string {
  return `init ${d.key} already done at ${d.doneAt.toISOString()} on ${d.host}`;
}

/** The completion record of the key, unless PULP_FORCE_INIT=1 (then null: run it anyway). */
async function skipIfDone(s: Session): Promise<DoneDoc | null> {
  if (s.force) return null;
  const done = await storeCall(s, `read the init record of ${s.key}`, s.deadline, () => s.store.findDone(s.key));
  if (done) s.log.info(`${describeDone(done)}: skipping it (${envName('FORCE_INIT')}=1 runs it again)`, { key: s.key, doneAt: done.doneAt.toISOString(), host: done.host });
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
      throw new UnavailableError(`the init lease is still held by ${who} at the deadline: its init is still running or the database is slow; try again later (${envName('WAIT_TIMEOUT')} sets the deadline)`);
    }
    await s.clock.sleep(Math.min(s.pollMs, left));
  }
}

/** Publishes a record committed by a holder that stalled before publishing it: its init did succeed. */
async function publishPending(s: Session, pending: DoneDoc): Promise<void> {
  s.log.info(`publishing the completion record of ${pending.key} that ${pending.holder} on ${pending.host} committed in the lease`, { key: pending.key });
  await storeCall(s, `write the completion record of ${pending.key}`, s.deadline, () => s.store.markDone(pending));
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

