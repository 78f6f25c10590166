// A hard bound on one attempt: drivers have their own timeouts, but not for every phase, and
// the overall deadline must hold even when a peer accepts and then says nothing.
import { ProbeError } from './classify.ts';

export function withTimeout<T>(work: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined, where: string): Promise<T> {
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
    const timer = setTimeout(() => {
      cleanup();
      reject(new ProbeError('timeout', `timed out at ${where} (no answer within ${timeoutMs} ms)`));
    }, timeoutMs);
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
