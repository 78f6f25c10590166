// Waiting for every dependency at once, under one deadline. Each target retries on its own
// schedule (p-retry); a permanent failure (wrong credentials) ends the whole wait at once,
// because the run cannot succeed anymore.
// The exec probe `check` is the same without retries: one attempt per target.
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { msLeft } from '../common/retry.ts';
import type { Target } from '../common/targets.ts';
import { type ProbeError, REASON_HINT, toProbeError } from '../dependencies/classify.ts';
import { describeTarget, probeTarget } from './probe.ts';
import { type WaitResult, authHint, fields, notReadyLine, resultOf, unavailableMessage } from './report.ts';
import { type Probe, type WaitOptions, waitOne } from './wait-one.ts';
import { envName } from '../common/program.ts';

/**
 * Resolves when every target answers; throws UnavailableError (69) when the deadline passes
 * first or a dependency refuses the credentials.
 */
export async function waitForTargets(targets: Target[], given: WaitOptions, probe: Probe = probeTarget): Promise<WaitResult[]> {
  const opts = { ...given, limit: given.limit ?? envName('WAIT_TIMEOUT') };
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
    throw new UnavailableError(`${unavailableMessage(targets, results, waited)}; the limit is ${opts.limit}`);
  } finally {
    clearTimeout(timer);
  }
}

/** One attempt per target, all at once, no retries (for exec probes). */
export async function checkTargets(
  targets: Target[],
  /** `limit`: how the user set timeoutMs, for the last line ("--timeout 2"). */
  opts: { timeoutMs: number; log: Logger; limit?: string },
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
        opts.log.error(notReadyLine(t, r), fields(r));
        return r;
      }
    }),
  );
  if (results.every((r) => r.ready)) return results;
  const limit = opts.limit ?? `${+(opts.timeoutMs / 1000).toFixed(3)} s`;
  throw new UnavailableError(`${unavailableMessage(targets, results, 'not ready')}; one attempt each, limited by ${limit}`);
}
