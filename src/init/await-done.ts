// For roles without an init: wait until the one-time init of the key is recorded (by the
// beat role), or exit 69 at the deadline naming what to check.
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
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
