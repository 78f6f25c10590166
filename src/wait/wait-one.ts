// One target's wait: attempts on the one retry loop, each bounded, until the target answers,
// refuses for good (the whole wait ends), or the deadline passes; its log lines on the way, at
// a rate a person reads (every attempt with the trace switch).
import { type Deadline, msLeft, retryUntil } from '../common/retry.ts';
import type { Logger } from '../common/log.ts';
import type { Target } from '../common/targets.ts';
import { ATTEMPT_TIMEOUT_MS, type BackoffPolicy, DEFAULT_BACKOFF, backoffDelay } from './backoff.ts';
import { type ProbeError, toProbeError } from '../dependencies/classify.ts';
import type { AttemptOptions } from '../dependencies/timeout.ts';
import { describeTarget } from './probe.ts';
import { type WaitResult, attemptsText, fields, reportNotReady, resultOf, seconds } from './report.ts';

/** While waiting, a line at a human rate: a target's first failure, then one every this often. */
export const PROGRESS_EVERY_MS = 5000;

export interface WaitOptions {
  /** From deadlineIn(PULP_WAIT_TIMEOUT): the same instant the init's waits end at. */
  deadline: Deadline;
  /** How the user set the deadline, for the lines: "--timeout 2" (waitForTargets: PREFIX_WAIT_TIMEOUT when unset). */
  limit?: string;
  log: Logger;
  signal?: AbortSignal;
  /** For tests and benchmarks; the defaults are the product's. */
  backoff?: BackoffPolicy;
  attemptTimeoutMs?: number;
  random?: () => number;
  /** The clock of the progress lines (ms); performance.now by default. */
  now?: () => number;
}

/** A stand-in may resolve with nothing; a note says what could not be checked. */
export type Probe = (target: Target, opts: AttemptOptions) => Promise<string | undefined | void>;

/** What one target's attempts left behind: how many, and the last failure. */
interface Tries {
  attempts: number;
  last: ProbeError | undefined;
}

/**
 * Probes `target` until it answers (the probe's note), a failure is permanent (thrown), or the
 * deadline passes or `signal` aborts (the last failure thrown); counts in `tries`.
 */
function probeUntilReady(target: Target, opts: WaitOptions, signal: AbortSignal, probe: Probe, tries: Tries): Promise<string | undefined> {
  const name = describeTarget(target);
  const policy = opts.backoff ?? DEFAULT_BACKOFF;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? (() => performance.now());
  const started = now();
  let shownAt: number | undefined;
  return retryUntil({
    deadline: opts.deadline,
    signal,
    attempt: async (n, leftMs) => {
      tries.attempts = n;
      // Whole milliseconds: the attempt's limit shows in messages ("no answer within 840 ms").
      const timeoutMs = Math.max(50, Math.round(Math.min(opts.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS, leftMs)));
      return (await probe(target, { timeoutMs, signal })) ?? undefined;
    },
    failure: (err) => {
      const last = toProbeError(err, target.address);
      tries.last = last;
      if (last.permanent) throw last;
      return last;
    },
    pauseMs: (failures) => backoffDelay(failures, random(), policy),
    onRetry: (e, attempt, pause) => {
      const fields = { dependency: target.kind, address: target.address, attempt, reason: e.reason, next_delay_ms: pause };
      // Every attempt with the trace switch; else the first failure, then one line every few seconds.
      if (opts.log.traceEnabled) {
        opts.log.trace(`waiting for ${name}: ${e.message}; next try in ${pause} ms`, fields);
        return;
      }
      const t = now();
      if (shownAt === undefined) {
        const left = Math.max(0, msLeft(opts.deadline));
        opts.log.info(`waiting for ${name}: ${e.message}; retrying for up to ${+(left / 1000).toFixed(1)} s${opts.limit ? ` (${opts.limit})` : ''}`, fields);
        shownAt = t;
      } else if (t - shownAt >= PROGRESS_EVERY_MS) {
        opts.log.info(`still waiting for ${name} after ${seconds(t - started)} (${attemptsText(attempt)}): ${e.message}`, fields);
        shownAt = t;
      }
    },
    expired: (e) => e,
  });
}

export async function waitOne(
  target: Target,
  opts: WaitOptions,
  signal: AbortSignal,
  onPermanent: (err: ProbeError) => void,
  probe: Probe,
): Promise<WaitResult> {
  const started = performance.now();
  const tries: Tries = { attempts: 0, last: undefined };
  let note: string | undefined;
  try {
    note = await probeUntilReady(target, opts, signal, probe, tries);
  } catch (err) {
    // Only a failure of this target's own attempts is its permanent one.
    const permanent = tries.last?.permanent === true;
    const last = tries.last ?? toProbeError(err, target.address);
    const r = resultOf(target, started, tries.attempts, { ready: false, last });
    if (permanent) onPermanent(last);
    reportNotReady(target, r, last, permanent, signal, opts.log);
    return r;
  }
  const r = resultOf(target, started, tries.attempts, { ready: true, note });
  opts.log.info(`${describeTarget(target)} ready after ${seconds(r.elapsedMs)} (${attemptsText(r.attempts)})${r.note ? `; ${r.note}` : ''}`, fields(r));
  return r;
}
