// The effectful steps of run, behind one dynamic import so configure and preview never load
// them: waits, the one-time init, and the exec of the role.
import type { ConfigView } from './config-view.ts';
import type { Context } from './context.ts';
import { EntrypointError, ExitCode } from './errors.ts';
import { execRole } from './exec/run.ts';
import { parseSignalRewrite } from './exec/signals.ts';
import { planUser } from './exec/privileges.ts';
import type { CommandSpec, RoleSpec } from './roles.ts';
import type { Target } from './targets.ts';

export async function waitAll(ctx: Context, targets: Target[], ms: number): Promise<void> {
  void ctx;
  void targets;
  void ms;
  throw new EntrypointError('wait is not wired yet', ExitCode.software);
}

export async function checkAll(ctx: Context, targets: Target[], ms: number): Promise<void> {
  void ctx;
  void targets;
  void ms;
  throw new EntrypointError('check is not wired yet', ExitCode.software);
}

export async function initOnce(ctx: Context, spec: RoleSpec, conf: ConfigView, deadline: number): Promise<void> {
  void ctx;
  void spec;
  void conf;
  void deadline;
  throw new EntrypointError('init is not wired yet', ExitCode.software);
}

export async function awaitInit(ctx: Context, spec: RoleSpec, conf: ConfigView, deadline: number): Promise<void> {
  void ctx;
  void spec;
  void conf;
  void deadline;
  throw new EntrypointError('init is not wired yet', ExitCode.software);
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
