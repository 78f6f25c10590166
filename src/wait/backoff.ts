// The retry schedule, pure so that it can be tested and its attempt rate computed exactly.

export interface BackoffPolicy {
  /** Delay ceiling before the first retry (ms). */
  baseMs: number;
  factor: number;
  /** No delay exceeds this, so a dependency that appears is noticed within about capMs + one attempt. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 25, factor: 2, capMs: 250 };

/** Longest time one attempt may take before it counts as timed out. */
export const ATTEMPT_TIMEOUT_MS = 2000;

/**
 * Delay after the `failures`-th failed attempt (1-based), "equal jitter": half the exponential
 * ceiling fixed, half random, so pods that start together do not knock in step.
 * `random` is in [0, 1).
 */
export function backoffDelay(failures: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(failures));
  const ceiling = Math.min(policy.capMs, policy.baseMs * policy.factor ** (n - 1));
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}

/**
 * Attempts per minute once the backoff has reached its cap, when each attempt fails after
 * `attemptMs` (refused connections fail in about a millisecond): the bound during an outage.
 */
export function attemptsPerMinuteAtCap(attemptMs: number, policy: BackoffPolicy = DEFAULT_BACKOFF): { min: number; max: number; mean: number } {
  const per = (delay: number): number => 60000 / (delay + attemptMs);
  return { min: per(policy.capMs), max: per(policy.capMs / 2), mean: 60000 / ((policy.capMs * 3) / 4 + attemptMs) };
}
