// The effectful steps of run, behind one dynamic import so configure and preview never load
// them: checks before the write, waits, the one-time init, and the exec of the role.
import type { ConfigView } from './config-view.ts';
import type { Context } from './context.ts';
import { type ExecModeSetting, chooseExecMode, hasExecve } from './exec/mode.ts';
import { planUser } from './exec/privileges.ts';
import { checkLaunch, checkSpawnAs, execRole, runToCompletion } from './exec/run.ts';
import { type InitConnection, awaitInitOnMongo, openInitConnection as openOnMongo, runInitOnMongo } from './init/on-mongo.ts';
import { resolveInitKey } from './init/key.ts';
import type { Logger } from './log.ts';
import type { Deadline } from './retry.ts';
import type { StopSignals } from './stop-signals.ts';
import { type CommandSpec, INIT_ARGV, type RoleSpec } from './roles.ts';
import { type Target, mongoTarget } from './targets.ts';
import type { ResolvedUser } from './users.ts';
import { checkTargets, waitForTargets } from './wait/wait.ts';

/** What the checks before the write found out, for the steps after it. */
export interface Preflight {
  /** The user init and role run as, or null when the agent cannot switch (not root). */
  user: ResolvedUser | null;
  /** The key of the init this role runs (beat) or waits for (the others). */
  initKey: string;
}

/**
 * Everything about a run that can be known wrong before server.conf is written: the exec
 * mode, the user, the programs on PATH, the working directory, the init key. A failure here
 * leaves the file as it was.
 */
export async function preflight(ctx: Context, spec: RoleSpec, willExec: boolean): Promise<Preflight> {
  const rewrites = (ctx.opts.signalRewrite?.value.size ?? 0) > 0;
  const mode = willExec ? chooseExecMode(ctx.opts.execMode.value, hasExecve(), rewrites).mode : undefined;
  const users = planUser(spec.exec.user);
  if (users.warning) ctx.log.warn(users.warning);
  // The init is always spawned, the role only in supervise mode: their groups may need setpriv.
  if (spec.init !== null || mode === 'supervise') checkSpawnAs(users.user);
  for (const cmd of [spec.init, willExec ? spec.exec : null]) {
    if (cmd === null) continue;
    ctx.log.trace('program', { name: cmd.argv[0], file: checkLaunch(cmd.argv, users.user, cmd.cwd, process.env) });
  }
  const initKey = await resolveInitKey(INIT_ARGV, ctx.opts.initKey?.value, process.env.PATH);
  ctx.log.trace('preflight', { user: users.user?.name ?? 'current', cwd: spec.exec.cwd, initKey });
  return { user: users.user, initKey };
}

export async function waitAll(ctx: Context, targets: Target[], deadline: Deadline): Promise<void> {
  await waitForTargets(targets, { deadline, log: ctx.log });
}

export async function checkAll(ctx: Context, targets: Target[], ms: number): Promise<void> {
  await checkTargets(targets, { timeoutMs: ms, log: ctx.log });
}

/** beat (and `init`): runs the init once per key across all pods, under the lease. */
export async function initOnce(
  ctx: Context,
  spec: RoleSpec,
  pre: Preflight,
  db: InitConnection,
  deadline: Deadline,
  stop: StopSignals,
): Promise<void> {
  const init = spec.init;
  if (init === null) return;
  await runInitOnMongo({
    db,
    key: pre.initKey,
    force: ctx.opts.forceInit,
    argv: init.argv,
    run: (lost) => stop.aside(() => runToCompletion({ argv: init.argv, user: pre.user, cwd: init.cwd, env: process.env, label: init.argv[0] ?? 'init' }, ctx.log, lost)),
    deadline,
    log: ctx.log,
    ttlMs: Math.round(ctx.opts.initLeaseTtlSec.value * 1000),
  });
}

/** The other roles: wait, inside the same deadline, until the init of the same key has run. */
export async function awaitInit(ctx: Context, pre: Preflight, db: InitConnection, deadline: Deadline): Promise<void> {
  await awaitInitOnMongo({ db, key: pre.initKey, deadline, log: ctx.log });
}

/** The init record and the init's connection, started while the waits run; the caller closes it. */
export function openInitConnection(conf: ConfigView, key: string): InitConnection {
  return openOnMongo(mongoTarget(conf), key);
}

/**
 * Execs (or supervises) the role as PULP_RUN_AS: exec never returns; supervise returns the
 * role's code for main() to exit with.
 */
export async function execCommand(ctx: Context, cmd: CommandSpec, pre: Preflight, label: string): Promise<number> {
  ctx.log.trace('exec', { argv: cmd.argv, cwd: cmd.cwd, user: pre.user?.name ?? 'current' });
  return execRole(
    { argv: cmd.argv, user: pre.user, cwd: cmd.cwd, env: process.env, signalRewrite: ctx.opts.signalRewrite?.value, mode: ctx.opts.execMode.value, label },
    ctx.log,
  );
}

/**
 * Another program (`docker run IMAGE bash`) runs as the container's user, as in
 * docker-library images: the drop to PULP_RUN_AS is for Pulp's own processes.
 */
export async function execProgram(argv: string[], log: Logger, mode: ExecModeSetting): Promise<number> {
  return execRole({ argv, user: null, cwd: process.cwd(), env: process.env, mode, label: argv[0] ?? '' }, log);
}
