// exec or supervise. exec (process.execve, Node >= 22.15) replaces the agent with the role:
// same PID, so as PID 1 the role is PID 1 and gets signals straight from the runtime, as the
// original's `exec runuser ...` did, and the agent costs no memory while the role runs.
// supervise keeps the agent as the role's parent: for Node without execve, and for a signal
// rewrite, which needs someone in between to translate.
import { InputError } from '../common/errors.ts';
import type { ExecModeSetting } from '../settings/types.ts';
import { envName } from '../common/program.ts';

export type ExecMode = Exclude<ExecModeSetting, 'auto'>;

export function hasExecve(): boolean {
  return typeof (process as { execve?: unknown }).execve === 'function';
}

export function chooseExecMode(
  setting: ExecModeSetting,
  execveAvailable: boolean,
  rewriting: boolean,
  varName = envName('EXEC_MODE'),
): { mode: ExecMode; reason: string } {
  if (setting === 'exec') {
    if (!execveAvailable) {
      throw new InputError(`${varName}=exec needs process.execve (Node.js 22.15 or later); this agent runs on Node.js ${process.versions.node}: use auto or supervise`);
    }
    if (rewriting) throw new InputError(`${varName}=exec cannot rewrite signals (${envName('SIGNAL_REWRITE')}): nothing stays in between to translate them; use supervise`);
    return { mode: 'exec', reason: `${varName}=exec` };
  }
  if (setting === 'supervise') return { mode: 'supervise', reason: `${varName}=supervise` };
  if (rewriting) return { mode: 'supervise', reason: `${envName('SIGNAL_REWRITE')} is set` };
  if (!execveAvailable) return { mode: 'supervise', reason: `Node.js ${process.versions.node} has no process.execve` };
  return { mode: 'exec', reason: 'process.execve is available' };
}
