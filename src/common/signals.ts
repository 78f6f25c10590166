// Signals in supervise mode: which ones reach the role, the optional rewrite (Pulp's own unit
// files stop workers with SIGQUIT while Kubernetes sends SIGTERM), and the exit code a
// signal death maps to. All pure.
import { constants } from 'node:os';
import { ExitCode, InputError, signalExitCode } from './errors.ts';
import { envName } from './program.ts';

/** What the agent passes on to the role. SIGKILL/SIGSTOP cannot be caught; CHLD/PIPE are its own. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * Signals a terminal sends to its whole foreground process group. With a TTY the role
 * (same group) already got them from the kernel; forwarding would deliver them twice,
 * and a second SIGINT turns Celery's warm shutdown into a cold one.
 */
export const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

export type SignalRewrite = Map<NodeJS.Signals, NodeJS.Signals>;

function signalName(text: string, varName: string, whole: string): NodeJS.Signals {
  const upper = text.trim().toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!FORWARDED_SIGNALS.includes(name) && !(name in constants.signals && name !== 'SIGKILL' && name !== 'SIGSTOP')) {
    throw new InputError(`${varName}=${whole}: "${text.trim()}" is not a signal name (use e.g. TERM:QUIT)`);
  }
  return name;
}

/**
 * Parses "TERM:QUIT,INT:QUIT" (with or without the SIG prefix, any case): each signal the
 * agent receives on the left is sent to the role as the one on the right. The left side
 * must be one the agent forwards; the right side any catchable-or-not signal but KILL/STOP
 * would be a surprise, so those are refused too.
 */
export function parseSignalRewrite(value: string | undefined, varName = envName('SIGNAL_REWRITE')): SignalRewrite {
  const map: SignalRewrite = new Map();
  if (value === undefined || value.trim() === '') return map;
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const parts = pair.split(':');
    if (parts.length !== 2) throw new InputError(`${varName}=${value}: "${pair.trim()}" is not FROM:TO (e.g. TERM:QUIT)`);
    const from = signalName(parts[0] ?? '', varName, value);
    const to = signalName(parts[1] ?? '', varName, value);
    if (!FORWARDED_SIGNALS.includes(from)) {
      throw new InputError(`${varName}=${value}: ${from} is not one the agent forwards (${FORWARDED_SIGNALS.join(', ')})`);
    }
    map.set(from, to);
  }
  return map;
}

/** The exit code a shell would report: the child's code, or 128 + the signal's number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return signalExitCode(signal);
  return ExitCode.software;
}
