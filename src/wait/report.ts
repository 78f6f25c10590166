// What a wait reports of each target: its result and log fields, the line for a target that
// did not get ready (its last reason and what to check), and the last line for exit 69.
import type { Logger } from '../common/log.ts';
import type { Target } from '../common/targets.ts';
import { ProbeError, REASON_HINT, REASON_TEXT, type Reason } from '../dependencies/classify.ts';
import { describeTarget } from './probe.ts';

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

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function attemptsText(n: number): string {
  return `${n} ${n === 1 ? 'attempt' : 'attempts'}`;
}

export function resultOf(target: Target, started: number, attempts: number, end: { ready: true; note: string | undefined } | { ready: false; last: ProbeError | undefined }): WaitResult {
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

/** What to check for a target's last failure (no attempt ended: the address may be wrong or unreachable). */
function hintFor(target: Target, r: WaitResult): string {
  const reason = r.reason ?? 'timeout';
  return reason === 'auth' ? authHint(target) : REASON_HINT[reason];
}

/** A target not ready at the end: its time and attempts, its last reason and what to check. */
export function notReadyLine(target: Target, r: WaitResult): string {
  return `${describeTarget(target)} not ready after ${seconds(r.elapsedMs)} (${attemptsText(r.attempts)}): ${r.error ?? 'no answer'} (${hintFor(target, r)})`;
}

/** The one line for a target that did not get ready: refused for good, cut short by another's refusal, or out of time. */
export function reportNotReady(target: Target, r: WaitResult, last: ProbeError, permanent: boolean, signal: AbortSignal, log: Logger): void {
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
    log.error(notReadyLine(target, r), fields(r));
  }
}

export function fields(r: WaitResult): Record<string, string | number | boolean | undefined> {
  return { dependency: r.kind, address: r.address, ready: r.ready, attempts: r.attempts, elapsed_ms: r.elapsedMs, reason: r.reason, note: r.note };
}

/**
 * The last line, for exit 69: each dependency not ready with its reason in a word (its own
 * line just before says what failed and what to check, notReadyLine), so that the last line
 * alone, all a Kubernetes termination message or a CI record may keep, says what was wrong.
 */
export function unavailableMessage(targets: Target[], results: WaitResult[], what: string): string {
  const parts = results.flatMap((r, i) => {
    const t = targets[i];
    return r.ready || !t ? [] : [`${describeTarget(t)}: ${r.reason ? REASON_TEXT[r.reason] : 'no answer'}`];
  });
  return `${what}: ${parts.join('; ')}`;
}

export function authHint(t: Target): string {
  return t.kind === 'mongodb'
    ? t.authHint
    : `check the user and password in [${t.source.replace('.', '] ')}`;
}
