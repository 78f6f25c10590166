// The readiness check's second part, for a system whose schema changes in phases (Keystone):
// this replica's row refreshed, and the contract run once no replica of another image is
// live (src/init/phased.ts). Loaded by `check` only for such a system, after the database
// answered: it brings the init and exec code the plain check does without.
import { hostname } from 'node:os';
import type { Context } from './context.ts';
import type { ConfigView } from '../ini/config-view.ts';
import type { PlannedEdit } from '../settings/edits/edit.ts';
import type { Target } from '../common/targets.ts';
import { roleSpecFor } from './configure.ts';
import { planUser } from '../exec/privileges.ts';
import { contextInitKey, serviceEnvironment } from './service-inputs.ts';
import { deadlineIn } from '../common/retry.ts';
import { heartbeatAndContract, replicaName } from '../init/phased.ts';
import { openInitDb, runOne } from './run-steps.ts';

export async function heartbeatCheck<O, C>(ctx: Context<O, C>, p: { targets: Target[]; effective: ConfigView; edits: readonly PlannedEdit[] }, timeoutMs: number): Promise<void> {
  const spec = roleSpecFor(ctx, ctx.system.initRole, p.effective, []);
  const phases = spec.phases;
  if (!phases) return;
  const key = await contextInitKey(ctx);
  const user = planUser(spec.exec.user).user;
  const { env } = serviceEnvironment(ctx, p.edits);
  const db = openInitDb(ctx.system.initStore(p.targets), key);
  try {
    await heartbeatAndContract({
      db,
      key,
      host: replicaName(process.env, hostname()),
      phases,
      runStep: (cmd, stop) => runOne(ctx, cmd, { user, env }, stop),
      log: ctx.log,
      deadline: deadlineIn(timeoutMs),
      leaseTtlMs: Math.round(ctx.opts.initLeaseTtlSec.value * 1000),
    });
  } finally {
    await db.close();
  }
}
