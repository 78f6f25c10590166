// Running the init and the role: as PULP_RUN_AS when root, from the given working directory,
// with the program found on PATH. The role either replaces the agent (exec) or runs under
// it (supervise.ts); the init always runs as a child that the agent waits for.
import { statSync } from 'node:fs';
import { CannotExecuteError, InputError, NotFoundError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type ResolvedUser, describeUser } from './users.ts';
import { chooseExecMode, hasExecve } from './mode.ts';
import type { ExecModeSetting } from '../settings/types.ts';
import { DEFAULT_PATH, resolveOnPath } from '../common/program-path.ts';
import { type Launch, checkWorkdirFor, dropPrivilegesInProcess, envForUser, planLaunch } from './privileges.ts';
import { SETPRIV_LOCATIONS, findTrustedHelper } from '../common/trusted-helper.ts';
import type { SignalRewrite } from '../common/signals.ts';
import { type Prepared, supervise } from './supervise.ts';

export interface RunSpec {
  /** argv[0] is a program name (looked up in env.PATH) or a path. */
  argv: string[];
  /** The user to switch to (root only), or null to run as the agent is. */
  user: ResolvedUser | null;
  cwd: string;
  /** The environment as the agent has it; HOME/USER/LOGNAME are set from `user`. */
  env: NodeJS.ProcessEnv;
  /** Supervise mode only: a signal the agent receives is sent on as another. */
  signalRewrite?: SignalRewrite;
  /** auto (default): exec when process.execve exists and nothing is rewritten. */
  mode?: ExecModeSetting;
  /** For log lines: "beat", "pulp-manage-db"... */
  label?: string;
}

/**
 * What must hold for a command to start: the program found on PATH (127 otherwise, as a shell
 * reports it) and a working directory that exists and that the user may enter (65: a setting
 * to fix). The agent calls this before server.conf is written, and again right before the
 * start; supervise mode needs it there, since libuv enters the directory while still root.
 */
export function checkLaunch(argv: readonly string[], user: ResolvedUser | null, cwd: string, env: NodeJS.ProcessEnv): string {
  const name = argv[0];
  if (name === undefined || name === '') throw new InputError('nothing to run: the command is empty');
  const PATH = env.PATH ?? DEFAULT_PATH;
  const file = resolveOnPath(name, PATH, cwd);
  if (file === undefined) throw new NotFoundError(`${name}: not found on PATH (${PATH}) or not executable: install it in the image or fix PATH`);
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new InputError(`working directory ${cwd} does not exist: create it in the image, or set PULP_CELERY_WORKDIR`);
  const denied = checkWorkdirFor(user, cwd);
  if (denied !== undefined) throw new InputError(`${name}: ${denied}: ${WORKDIR_FIX}`);
  return file;
}

function prepare(spec: RunSpec): Prepared {
  const file = checkLaunch(spec.argv, spec.user, spec.cwd, spec.env);
  const name = spec.argv[0] ?? '';
  return { file, args: spec.argv.slice(1), env: envForUser(spec.env, spec.user), cwd: spec.cwd, label: spec.label ?? name };
}

const WORKDIR_FIX = 'give that user search (x) permission on each directory of the path, or set PULP_CELERY_WORKDIR or PULP_RUN_AS';

/** The exec-mode chdir, after the switch: a refusal is the role failing to start (126), like a spawn that fails. */
function enterWorkdir(p: Prepared, user: ResolvedUser | null): void {
  try {
    process.chdir(p.cwd);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const who = user === null ? `uid ${process.geteuid?.() ?? '?'}` : describeUser(user);
    throw new CannotExecuteError(`${p.label}: ${who} cannot enter working directory ${p.cwd}: ${e.code ?? e.message}: ${WORKDIR_FIX}`);
  }
}

/** The launch of a spawned child; setpriv, which runs as root, never comes from PATH. */
function launchOf(p: Pick<Prepared, 'file' | 'args'>, user: ResolvedUser | null): Launch {
  if (user === null) return planLaunch(p.file, p.args, null, undefined);
  const setpriv = findTrustedHelper(SETPRIV_LOCATIONS);
  return 'path' in setpriv ? planLaunch(p.file, p.args, user, setpriv.path) : planLaunch(p.file, p.args, user, undefined, setpriv.refused);
}

/** Throws now, before anything is written, what spawning a child as `user` would throw later. */
export function checkSpawnAs(user: ResolvedUser | null): void {
  launchOf({ file: '', args: [] }, user);
}

function userFields(user: ResolvedUser | null): { user: string } {
  return { user: user === null ? `uid ${process.geteuid?.() ?? '?'} (no switch)` : `${user.name} (${user.uid}:${user.gid})` };
}

/**
 * Runs a program to its end (the init) and returns its exit code (128 + signal when killed).
 * Signals the agent gets meanwhile are passed on, so a pod stopped during the init stops it;
 * `stop` stops it too (the init lease was lost).
 */
export async function runToCompletion(spec: RunSpec, log: Logger, stop?: AbortSignal): Promise<number> {
  const p = prepare(spec);
  const launch = launchOf(p, spec.user);
  log.info(`running ${p.label}`, { argv: [p.file, ...p.args], ...userFields(spec.user), cwd: p.cwd });
  const started = Date.now();
  const code = await supervise(launch, p, new Map(), log, stop);
  log.info(`${p.label} exited`, { code, ms: Date.now() - started });
  return code;
}

type Execve = (file: string, args: string[], env: Record<string, string>) => never;

/**
 * Starts the role: in exec mode the process becomes the role and this never returns; in
 * supervise mode it returns the role's code (128 + signal when it was killed), which main()
 * exits with.
 */
export async function execRole(spec: RunSpec, log: Logger): Promise<number> {
  const p = prepare(spec);
  const rewrite = spec.signalRewrite ?? new Map();
  const { mode, reason } = chooseExecMode(spec.mode ?? 'auto', hasExecve(), rewrite.size > 0);
  const fields = { argv: [p.file, ...p.args], ...userFields(spec.user), cwd: p.cwd, mode, pid: process.pid };

  if (mode === 'exec') {
    log.info(`exec ${p.label}`, { ...fields, why: reason });
    const execve = (process as unknown as { execve: Execve }).execve;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.env)) if (v !== undefined) env[k] = v;
    if (spec.user) dropPrivilegesInProcess(spec.user);
    // After the drop, so the role's own user must be able to enter its directory.
    enterWorkdir(p, spec.user);
    // Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve:
    // the role would never die of a broken pipe. A handler is reset to the default instead.
    for (const sig of ['SIGPIPE', 'SIGXFSZ'] as const) process.on(sig, () => {});
    try {
      return execve(p.file, [p.file, ...p.args], env);
    } catch (err) {
      throw new CannotExecuteError(`${p.label}: execve ${p.file} failed: ${(err as Error).message}`);
    }
  }

  const launch = launchOf(p, spec.user);
  log.info(`starting ${p.label} under the agent`, { ...fields, why: reason, rewrite: [...rewrite].map(([a, b]) => `${a}:${b}`) });
  const code = await supervise(launch, p, rewrite, log);
  log.info(`${p.label} exited`, { code });
  return code;
}
