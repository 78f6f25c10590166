// One call to the init store, tried again after transient failures until a deadline, on the
// one retry loop (common/retry.ts); and the clock the init logic runs on, so that tests need
// no servers or sleeps.
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, type Time, realTime, retryUntil } from '../common/retry.ts';
import { StoreError } from './store-error.ts';
import { envName } from '../common/program.ts';

/** Time (retry.ts) plus the wall clock; stalls, lost leases and deadlines are measured on mono(). */
export interface Clock extends Time {
  now(): Date;
}

export const realClock: Clock = { ...realTime, now: () => new Date() };

/**
 * How log and error lines name the store when the caller does not (tests); the MongoDB
 * store passes its own name, "MongoDB at 10.0.0.5:27017 (database pulp_database)".
 */
export const DEFAULT_STORE_NAME = 'the init database';

export interface StoreCallContext {
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
export function storeCall<T>(ctx: StoreCallContext, what: string, deadline: Deadline, op: () => Promise<T>, failure?: (why: string) => string): Promise<T> {
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
    expired: (err, attempts) => fail(`${err.reason}, still at the deadline after ${attempts} attempts; ${err.hint} (${envName('WAIT_TIMEOUT')} sets the deadline)`),
  });
}

/** The pause after the n-th failed call: doubles up to 4 polls, so a long outage is not a log line every half second. */
export function backoffPolls(pollMs: number, failures: number): number {
  return pollMs * Math.min(4, 2 ** (failures - 1));
}
