// The role or the init as a child of the agent (supervise mode, and the init always): stdio
// inherited, the agent's signals passed on (rewritten when asked), its exit code returned.
//
// Supervise as PID 1: orphaned grandchildren are re-parented to the agent, and Node cannot
// waitpid() children it did not spawn, so they stay zombies until the container ends.
// Celery reaps its own pool processes, so in practice little accumulates; where it matters
// run the agent under tini (`tini -- pulp-entrypoint worker`) or give the pod
// `shareProcessNamespace: true`, so that the pause container is PID 1 and reaps. In exec
// mode the role is PID 1, exactly as with the original image.
import { spawn } from 'node:child_process';
import { CannotExecuteError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Launch } from './privileges.ts';
import { FORWARDED_SIGNALS, type SignalRewrite, TERMINAL_SIGNALS, exitCodeOf } from '../common/signals.ts';

/** A command ready to start: the program's file, its arguments and environment, where, and its name in log lines. */
export interface Prepared {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  label: string;
}

/** After SIGTERM, how long a stopped init gets before SIGKILL. */
export const STOP_GRACE_MS = 3000;

/**
 * Spawns with inherited stdio, forwards signals while the child lives, resolves its exit
 * code. When `stop` aborts, the child gets SIGTERM, then SIGKILL after STOP_GRACE_MS.
 */
export function supervise(launch: Launch, p: Prepared, rewrite: SignalRewrite, log: Logger, stop?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(launch.file, launch.args, {
      stdio: 'inherit',
      cwd: p.cwd,
      env: p.env,
    });
    const tty = process.stdin.isTTY === true;
    const handlers: [NodeJS.Signals, () => void][] = [];
    for (const sig of FORWARDED_SIGNALS) {
      const handler = (): void => {
        if (tty && TERMINAL_SIGNALS.includes(sig)) return;
        const to = rewrite.get(sig) ?? sig;
        if (sig !== 'SIGWINCH') log.info(`passing ${sig}${to !== sig ? ` on as ${to}` : ''} to ${p.label}`, { pid: child.pid });
        try {
          child.kill(to);
        } catch {
          // Already gone: its exit is on its way.
        }
      };
      handlers.push([sig, handler]);
      process.on(sig, handler);
    }
    let killTimer: NodeJS.Timeout | undefined;
    const onStop = (): void => {
      log.warn(`stopping ${p.label} (SIGTERM, then SIGKILL after ${STOP_GRACE_MS} ms)`, { pid: child.pid });
      try {
        child.kill('SIGTERM');
      } catch {
        // Already gone.
      }
      killTimer = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {
          // Already gone.
        }
      }, STOP_GRACE_MS);
    };
    if (stop?.aborted) onStop();
    else stop?.addEventListener('abort', onStop, { once: true });
    const done = (): void => {
      for (const [sig, handler] of handlers) process.off(sig, handler);
      stop?.removeEventListener('abort', onStop);
      clearTimeout(killTimer);
    };
    child.once('error', (err) => {
      done();
      reject(new CannotExecuteError(`${p.label}: cannot start ${launch.file}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(exitCodeOf(code, signal));
    });
  });
}

