// A hard bound on one attempt: drivers have their own timeouts, but not for every phase, and
// the overall deadline must hold even when a peer accepts and then says nothing.
import { ProbeError } from './classify.ts';

/** One attempt's bounds, as every probe and the init's connection take them. */
export interface AttemptOptions {
  /** For this attempt alone; never the whole deadline. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Lets the attempt move its own time limit once it knows more (see the AMQP probe). */
export interface TimeoutControl {
  extendTo?: (totalMs: number) => void;
}

export function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  where: string,
  control: TimeoutControl = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      work.catch(() => {});
      reject(new ProbeError('timeout', `timed out at ${where} (deadline reached)`));
      return;
    }
    const onAbort = (): void => {
      cleanup();
      reject(new ProbeError('timeout', `timed out at ${where} (deadline reached)`));
    };
    const started = Date.now();
    let limit = timeoutMs;
    const expire = (): void => {
      cleanup();
      reject(new ProbeError('timeout', `timed out at ${where} (no answer within ${Math.round(limit)} ms)`));
    };
    let timer = setTimeout(expire, timeoutMs);
    control.extendTo = (totalMs: number): void => {
      if (totalMs <= limit) return;
      limit = totalMs;
      clearTimeout(timer);
      timer = setTimeout(expire, Math.max(0, started + totalMs - Date.now()));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e: unknown) => {
        cleanup();
        reject(e);
      },
    );
  });
}
