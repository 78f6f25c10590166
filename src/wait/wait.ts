// Waiting for every dependency at once, under one deadline. Each target retries on its own
// schedule (p-retry); a permanent failure (wrong credentials) ends the whole wait at once,
// because the run cannot succeed anymore.
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, msLeft, retryUntil } from '../common/retry.ts';
import type { Target } from '../pulp/targets.ts';
import { ATTEMPT_TIMEOUT_MS, type BackoffPolicy, DEFAULT_BACKOFF, backoffDelay } from './backoff.ts';
import { ProbeError, REASON_HINT, type Reason, toProbeError } from '../dependencies/classify.ts';
import type { AttemptOptions } from '../dependencies/timeout.ts';
import { describeTarget, probeTarget } from './probe.ts';

export interface WaitResult {
  kind: Target['kind'];
  address: string;
  ready: boolean;
  attempts: number;
  elapsedMs: number;
  /** Why the last attempt failed (absent when ready). */
  reason?: Reason;
  error?: string;
  /** Ready, with a limit on what could be checked (a Qpid that answered only AMQP 0-10). */
  note?: string;
}

export interface WaitOptions {
  /** From deadlineIn(PULP_WAIT_TIMEOUT): the same instant the init's waits end at. */
  deadline: Deadline;
  log: Logger;
  signal?: AbortSignal;
  /** For tests and benchmarks; the defaults are the product's. */
  backoff?: BackoffPolicy;
  attemptTimeoutMs?: number;
  random?: () => number;
}

/** A stand-in may resolve with nothing; a note says what could not be checked. */
type Probe = (target: Target, opts: AttemptOptions) => Promise<string | undefined | void>;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function attemptsText(n: number): string {
  return `${n} ${n === 1 ? 'attempt' : 'attempts'}`;
}

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
    onRetry: (e, attempt, pause) =>
      opts.log.info(`waiting for ${name}: ${e.message}; next try in ${pause} ms`, {
        dependency: target.kind,
        address: target.address,
        attempt,
        reason: e.reason,
        next_delay_ms: pause,
      }),
    expired: (e) => e,
  });
}

function resultOf(target: Target, started: number, attempts: number, end: { ready: true; note: string | undefined } | { ready: false; last: ProbeError | undefined }): WaitResult {
  return {
    kind: target.kind,
    address: target.address,
    ready: end.ready,
    attempts,
    elapsedMs: Math.round(performance.now() - started),
    ...(!end.ready && end.last && { reason: end.last.reason, error: end.last.message }),
    ...(end.ready && end.note !== undefined && { note: end.note }),
  };
}

/** The one line for a target that did not get ready: refused for good, cut short by another's refusal, or out of time. */
function reportNotReady(target: Target, r: WaitResult, last: ProbeError, permanent: boolean, signal: AbortSignal, log: Logger): void {
  const name = describeTarget(target);
  if (permanent) {
    log.error(`${name}: ${last.message}; giving up without retrying`, fields(r));
    return;
  }
  // Another dependency refused for good (a broker refuses a wrong password at once, often
  // before this one answered): this wait was cut short, not failed.
  const reason: unknown = signal.reason;
  if (reason instanceof ProbeError && reason.permanent && reason !== last) {
    log.info(`${name}: wait stopped after ${seconds(r.elapsedMs)} (${attemptsText(r.attempts)}): another dependency failed for good`, fields(r));
  } else {
    log.error(`${name} not ready after ${seconds(r.elapsedMs)} (${attemptsText(r.attempts)}): ${last.message}`, fields(r));
  }
}

async function waitOne(
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

function fields(r: WaitResult): Record<string, string | number | boolean | undefined> {
  return { dependency: r.kind, address: r.address, ready: r.ready, attempts: r.attempts, elapsed_ms: r.elapsedMs, reason: r.reason, note: r.note };
}

/** The one-line message for exit 69: every dependency not ready, its last reason, what to check. */
export function unavailableMessage(targets: Target[], results: WaitResult[], what: string): string {
  const parts = results.flatMap((r, i) => {
    const t = targets[i];
    if (r.ready || !t) return [];
    const reason = r.reason ?? 'timeout';
    const hint = reason === 'auth' ? authHint(t) : REASON_HINT[reason];
    return [`${describeTarget(t)}: ${r.error ?? 'no answer'} (${hint})`];
  });
  return `${what}: ${parts.join('; ')}`;
}

function authHint(t: Target): string {
  return t.kind === 'mongodb'
    ? 'check [database] username and password (Pulp authenticates against the database named in [database] name)'
    : `check the user and password in [${t.source.replace('.', '] ')}`;
}

/**
 * Resolves when every target answers; throws UnavailableError (69) when the deadline passes
 * first or a dependency refuses the credentials.
 */
export async function waitForTargets(targets: Target[], opts: WaitOptions, probe: Probe = probeTarget): Promise<WaitResult[]> {
  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([controller.signal, opts.signal]) : controller.signal;
  // The time left now is the limit this wait had, for the message; the timer cuts short the
  // attempts in flight when the deadline passes.
  const limitMs = Math.max(0, msLeft(opts.deadline));
  const timer = setTimeout(() => controller.abort(new Error('deadline')), limitMs);
  let permanent: ProbeError | undefined;
  try {
    const results = await Promise.all(
      targets.map((t) =>
        waitOne(
          t,
          opts,
          signal,
          (err) => {
            permanent ??= err;
            controller.abort(err);
          },
          probe,
        ),
      ),
    );
    if (results.every((r) => r.ready)) return results;
    const p: ProbeError | undefined = permanent;
    if (p) {
      // Only the dependency that refused the credentials is at fault; the others were cut short.
      const idx = results.findIndex((r) => r.reason === p.reason && r.error === p.message);
      const t = targets[idx];
      const hint = p.reason === 'auth' ? (t ? authHint(t) : undefined) : REASON_HINT[p.reason];
      throw new UnavailableError(`${p.message}${hint ? `; ${hint}` : ''}`);
    }
    const waited = opts.signal?.aborted ? 'wait interrupted' : `not ready after ${+(limitMs / 1000).toFixed(1)} s`;
    throw new UnavailableError(`${unavailableMessage(targets, results, waited)}; the limit is PULP_WAIT_TIMEOUT`);
  } finally {
    clearTimeout(timer);
  }
}

/** One attempt per target, all at once, no retries (for exec probes). */
export async function checkTargets(
  targets: Target[],
  opts: { timeoutMs: number; log: Logger },
  probe: Probe = probeTarget,
): Promise<WaitResult[]> {
  const results = await Promise.all(
    targets.map(async (t): Promise<WaitResult> => {
      const started = performance.now();
      const name = describeTarget(t);
      try {
        const note = (await probe(t, { timeoutMs: opts.timeoutMs })) ?? undefined;
        const r = resultOf(t, started, 1, { ready: true, note });
        opts.log.info(`${name} ready${note ? `; ${note}` : ''}`, fields(r));
        return r;
      } catch (err) {
        const e = toProbeError(err, t.address);
        const r = resultOf(t, started, 1, { ready: false, last: e });
        opts.log.error(`${name} not ready: ${e.message}`, fields(r));
        return r;
      }
    }),
  );
  if (results.every((r) => r.ready)) return results;
  throw new UnavailableError(unavailableMessage(targets, results, 'not ready'));
}
