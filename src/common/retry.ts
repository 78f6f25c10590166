// The one retry loop: try, and after a failure worth another try pause and try again, until
// an attempt succeeds, a failure is final, or the deadline passes (or the signal aborts). The
// waits, the init's store calls and the init's connection all run on it, so "attempt", "the
// deadline" and "at once" mean the same in each. The deadline is one absolute instant on the
// monotonic clock, made once and passed down: a wall clock that jumps moves nothing.

/** An instant on the monotonic clock (performance.now() ms, or a test clock's mono()). */
export type Deadline = number & { readonly __deadline: unique symbol };

/** The time the loop runs on; tests pass a fake one (no real timers, no sleeps). */
export interface Time {
  /** Milliseconds on a clock that never jumps. */
  mono(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realTime: Time = {
  mono: () => performance.now(),
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

/** The deadline `ms` from now. */
export function deadlineIn(ms: number, time: Pick<Time, 'mono'> = realTime): Deadline {
  return (time.mono() + ms) as Deadline;
}

/** The later of two deadlines. */
export function laterOf(a: Deadline, b: Deadline): Deadline {
  return Math.max(a, b) as Deadline;
}

/** Milliseconds left before `deadline` (0 or less once it passed). */
export function msLeft(deadline: Deadline, time: Pick<Time, 'mono'> = realTime): number {
  return deadline - time.mono();
}

export interface RetryOptions<T, F> {
  deadline: Deadline;
  /** The n-th attempt (1-based); `leftMs` is the time left before the deadline (may be 0 or less). */
  attempt(n: number, leftMs: number): Promise<T>;
  /**
   * Sorts a failed attempt: returns the failure when it is worth another try; throws what ends
   * the loop at once (a permanent failure, or a bug), which the loop passes on unchanged.
   */
  failure(err: unknown, n: number): F;
  /** The pause after the n-th failure, before it is cut to the time left. */
  pauseMs(failures: number): number;
  /** Before each pause (the log line); `pauseMs` is what will be slept, whole milliseconds. */
  onRetry(failure: F, n: number, pauseMs: number): void;
  /** What to throw when the deadline passed (or the signal aborted) after `attempts` attempts. */
  expired(last: F, attempts: number): unknown;
  /**
   * Stops the loop: an attempt that fails once it aborted is the abort's doing, so the failure
   * before it is the one reported. Aborted before any failure, the loop throws its reason.
   */
  signal?: AbortSignal;
  time?: Time;
}

/** Carries what the loop ends with through p-retry, which would otherwise wrap or inspect it. */
class Outcome {
  constructor(readonly thrown: unknown) {}
}

/**
 * Runs `attempt` until it resolves (its value), `failure` throws (that), or the deadline
 * passes or the signal aborts after a failure (`expired(last)`). After each failure with time
 * left: `onRetry`, then a pause of `pauseMs` cut to the time left, cut short by the signal.
 */
export async function retryUntil<T, F>(o: RetryOptions<T, F>): Promise<T> {
  const { default: pRetry, AbortError } = await import('p-retry');
  const time = o.time ?? realTime;
  const signal = o.signal;
  let last: { failure: F } | undefined;
  let ending: Outcome | undefined;
  const end = (thrown: unknown): Error => {
    ending = new Outcome(thrown);
    return new AbortError('retry ended');
  };
  const ended = (n: number): Error => (last ? end(o.expired(last.failure, n)) : end(signal?.reason));
  try {
    return await pRetry(
      async (n: number) => {
        if (signal?.aborted) throw ended(n - 1);
        try {
          return await o.attempt(n, msLeft(o.deadline, time));
        } catch (err) {
          if (signal?.aborted && last) throw ended(n);
          let f: F;
          try {
            f = o.failure(err, n);
          } catch (final) {
            throw end(final);
          }
          last = { failure: f };
          if (signal?.aborted || msLeft(o.deadline, time) <= 0) throw ended(n);
          // Retried below (onFailedAttempt): p-retry sees only this, never a TypeError it would not retry.
          throw new Error('retry');
        }
      },
      {
        retries: Number.POSITIVE_INFINITY,
        // The schedule is the caller's (pauseMs, slept in onFailedAttempt), so p-retry adds none.
        minTimeout: 0,
        maxTimeout: 0,
        onFailedAttempt: async ({ attemptNumber }) => {
          if (!last) return;
          const pause = Math.max(0, Math.round(Math.min(o.pauseMs(attemptNumber), msLeft(o.deadline, time))));
          o.onRetry(last.failure, attemptNumber, pause);
          await time.sleep(pause, signal);
          if (signal?.aborted) throw ended(attemptNumber);
        },
      },
    );
  } catch (err) {
    if (ending) throw ending.thrown;
    throw err;
  }
}
