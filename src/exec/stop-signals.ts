// Until the role runs, the agent is what receives the pod's stop signal. As PID 1 it has no
// default actions: a signal with no handler is simply dropped by the kernel, so without this
// a SIGTERM during a 60 s wait would be ignored and the pod killed at the end of its grace
// period. Configure, the waits and the lease waits are all safe to abandon; a lease left
// behind expires after PULP_INIT_LEASE_TTL.
import { signalExitCode } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';

const STOP: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'];

export interface StopSignals {
  /** Removes the handlers for good (before the role is exec'd or supervised). */
  release(): void;
  /**
   * Runs a child (the init) with the handlers off: its supervisor forwards the signal and the
   * child's exit decides ours, so the init is not orphaned mid-migration.
   */
  aside<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Ends the process with 128+signal on a stop signal, until released. `exit` is main()'s, the
 * one place that ends the process; it must end it at once (a wait in progress is abandoned).
 */
export function exitOnStopSignals(log: Logger, what: string, exit: (code: number) => never): StopSignals {
  const handler = (sig: NodeJS.Signals): void => {
    log.warn(`${sig} received during ${what}: stopping before the role started`);
    exit(signalExitCode(sig));
  };
  const on = (): void => {
    for (const s of STOP) process.on(s, handler);
  };
  const off = (): void => {
    for (const s of STOP) process.off(s, handler);
  };
  on();
  return {
    release: off,
    async aside(fn) {
      off();
      try {
        return await fn();
      } finally {
        on();
      }
    },
  };
}
