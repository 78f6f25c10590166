// The effectful steps of run, behind one dynamic import so configure and preview never load
// them: waits, the one-time init, and the exec of the role.
import type { ConfigView } from './config-view.ts';
import type { Context } from './context.ts';
import { execRole, runToCompletion } from './exec/run.ts';
import { parseSignalRewrite } from './exec/signals.ts';
import { planUser } from './exec/privileges.ts';
import { awaitInitOnMongo, runInitOnMongo } from './init/on-mongo.ts';
import { resolveInitKey } from './init/key.ts';
import { type CommandSpec, INIT_ARGV, type RoleSpec } from './roles.ts';
import { type Target, mongoTarget } from './targets.ts';
import { checkTargets, waitForTargets } from './wait/wait.ts';

export async function waitAll(ctx: Context, targets: Target[], ms: number): Promise<void> {
  await waitForTargets(targets, { deadlineMs: Math.max(0, ms), log: ctx.log });
}

export async function checkAll(ctx: Context, targets: Target[], ms: number): Promise<void> {
  await checkTargets(targets, { timeoutMs: ms, log: ctx.log });
}

/** beat: runs the init once per key across all pods, under the lease. */
export async function initOnce(ctx: Context, spec: RoleSpec, conf: ConfigView, deadline: number): Promise<void> {
  const init = spec.init;
  if (init === null) return;
  const key = await resolveInitKey(init.argv, process.env);
  const users = planUser(init.user);
  if (users.warning) ctx.log.warn(users.warning);
  await runInitOnMongo({
    target: mongoTarget(conf),
    key,
    force: ctx.opts.forceInit,
    argv: init.argv,
    run: () => runToCompletion({ argv: init.argv, user: users.user, cwd: init.cwd, env: process.env, label: init.argv[0] ?? 'init' }, ctx.log),
    deadline,
    log: ctx.log,
    ttlMs: Math.round(ctx.opts.initLeaseTtlSec.value * 1000),
  });
}

/** The other roles: wait, inside the same deadline, until the init of the same key has run. */
export async function awaitInit(ctx: Context, conf: ConfigView, deadline: number): Promise<void> {
  const key = await resolveInitKey([...INIT_ARGV], process.env);
  await awaitInitOnMongo({ target: mongoTarget(conf), key, deadline, log: ctx.log });
}

/** Execs (or supervises) a command as PULP_RUN_AS; returns only in supervise mode, with the child's code. */
export async function execCommand(ctx: Context, cmd: CommandSpec, label: string, isRole = true): Promise<number> {
  // Another program (`docker run IMAGE bash`) runs as the container's user, as in
  // docker-library images: the drop to PULP_RUN_AS is for Pulp's own processes.
  const users = isRole ? planUser(cmd.user) : { user: null };
  if ('warning' in users && users.warning) ctx.log.warn(users.warning);
  const rewrite = parseSignalRewrite(ctx.opts.signalRewrite?.value);
  return execRole(
    { argv: cmd.argv, user: users.user, cwd: cmd.cwd, env: process.env, signalRewrite: rewrite, mode: ctx.opts.execMode.value, label },
    ctx.log,
  );
}
