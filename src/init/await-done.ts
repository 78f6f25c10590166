// For roles without an init: wait until the one-time init of the key is recorded (by the
// role that runs it, Pulp's beat), or exit 69 at the deadline naming what to check.
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { envName } from '../common/program.ts';
import { type Deadline, msLeft } from '../common/retry.ts';
import type { DoneDoc } from './lease.ts';
import { leaseState } from './lease.ts';
import type { InitStore } from './store.ts';
import { type Clock, DEFAULT_STORE_NAME, type StoreCallContext, realClock, storeCall } from './store-call.ts';

export interface AwaitInitOptions {
  store: InitStore;
  /** For log and error lines (default "the init database"). */
  storeName?: string;
  key: string;
  /** On `clock`. */
  deadline: Deadline;
  log: Logger;
  /** Who runs the init, for the waiting line: "the beat role". */
  runBy?: string;
  /** What to check when the record never comes (the system's words). */
  missingHint?: string;
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
      opts.log.info(`waiting for the one-time init ${opts.key} (run by ${opts.runBy ?? 'the role that runs it'}) to be recorded${running}`, { key: opts.key });
    }
    const left = msLeft(opts.deadline, clock);
    if (left <= 0) {
      throw new UnavailableError(
        `the one-time init ${opts.key} was not recorded before the deadline: ${opts.missingHint ?? `check the log of the role that runs it, or make ${envName('INIT_KEY')} the same in every role`}`,
      );
    }
    await clock.sleep(Math.min(pollMs, left));
  }
}
