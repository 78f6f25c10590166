// The effectful steps of run, one call each from main, behind one dynamic import so configure
// and preview never load them: checks before the write, waits then init, and the exec.
import type { ConfigView } from '../ini/config-view.ts';
import type { Context } from './context.ts';
import { chooseExecMode, hasExecve } from '../exec/mode.ts';
import type { ExecModeSetting } from '../settings/types.ts';
import { planUser } from '../exec/privileges.ts';
import { checkLaunch, checkSpawnAs, execRole, runToCompletion } from '../exec/run.ts';
import { awaitInitOnMongo, openInitConnection, runInitOnMongo } from '../init/on-mongo.ts';
import { resolveInitKey } from '../init/key.ts';
import type { Logger } from '../common/log.ts';
import type { Deadline } from '../common/retry.ts';
import type { StopSignals } from '../exec/stop-signals.ts';
import { type CommandSpec, INIT_ARGV, type RoleSpec } from '../pulp/roles.ts';
import { mongoTarget } from '../pulp/targets.ts';
import type { Target } from '../common/targets.ts';
import type { ResolvedUser } from '../exec/users.ts';
import { waitForTargets } from '../wait/wait.ts';

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

/**
 * The waits, then the init: run once under the lease (beat and `init`), or waited for (the
 * other roles), inside the same deadline. The init's MongoDB connection is opened alongside
 * the waits, so the init does not pay for a second one, and closed here, once.
 */
export async function waitThenInit(
  ctx: Context,
  p: { targets: Target[]; effective: ConfigView },
  spec: RoleSpec,
  pre: Preflight,
  deadline: Deadline,
  stop: StopSignals,
): Promise<void> {
  const waited = waitForTargets(p.targets, { deadline, log: ctx.log });
  const db = openInitConnection(mongoTarget(p.effective), pre.initKey);
  try {
    await waited;
    const init = spec.init;
    if (init === null) {
      await awaitInitOnMongo({ db, key: pre.initKey, deadline, log: ctx.log });
      return;
    }
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
  } finally {
    await db.close();
  }
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
