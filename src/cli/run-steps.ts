// The effectful steps of run, one call each from main, behind one dynamic import so configure
// and preview never load them: checks before the write, waits then init, and the exec.
import type { ConfigView } from '../ini/config-view.ts';
import type { Context } from './context.ts';
import { chooseExecMode, hasExecve } from '../exec/mode.ts';
import type { ExecModeSetting } from '../settings/types.ts';
import { planUser } from '../exec/privileges.ts';
import { checkLaunch, checkSpawnAs, execRole, runToCompletion } from '../exec/run.ts';
import { type InitDb, awaitInit, runInit } from '../init/init-db.ts';
import { type RunStep, phasedRun, recordFullContract, registerReplica, replicaName } from '../init/phased.ts';
import { hostname } from 'node:os';
import { openMongoInit } from '../init/on-mongo.ts';
import { openMysqlInit } from '../init/on-mysql.ts';
import { contextInitKey, serviceEnvironment } from './service-inputs.ts';
import { writeConf } from '../conf-file/write.ts';
import { awaitKeySet, hasKeySet, installKeySet, readKeySet } from '../conf-file/key-repository.ts';
import { type KeySet, describeKeySet, freshKeySet } from '../conf-file/key-set.ts';
import { readFileSync } from 'node:fs';
import type { Logger } from '../common/log.ts';
import type { PlannedEdit } from '../settings/edits/edit.ts';
import { InputError } from '../common/errors.ts';
import { rolePathRefusals } from './role-paths.ts';
import type { Deadline } from '../common/retry.ts';
import type { StopSignals } from '../exec/stop-signals.ts';
import type { CommandSpec, KeyRepositorySpec, RoleSpec } from '../system/system.ts';
import type { Target } from '../common/targets.ts';
import type { ResolvedUser } from '../exec/users.ts';
import { waitForTargets } from '../wait/wait.ts';
import { waitLimit } from './limit.ts';

/** What the checks before the write found out, for the steps after it. */
export interface Preflight {
  /** The user init and role run as, or null when the agent cannot switch (not root). */
  user: ResolvedUser | null;
  /** The key of the init this role runs (Pulp's beat) or waits for (the others). */
  initKey: string;
  /** The keys of each repository mounted from a Secret (its `source`), read and checked. */
  keySets: ReadonlyMap<KeyRepositorySpec, KeySet>;
  /** The environment the init's steps and the role start from: the agent's, without the secrets it consumed (withheld.ts). */
  env: NodeJS.ProcessEnv;
}

/** The init's database connection, on the target the system keeps its lease in. */
export function openInitDb(target: Target, key: string): InitDb {
  if (target.kind === 'mongodb') return openMongoInit(target, key);
  if (target.kind === 'mysql') return openMysqlInit(target);
  throw new Error(`no init store on ${target.kind}`);
}

/**
 * Everything about a run that can be known wrong before the file is written: the exec mode,
 * the user, the programs on PATH, the working directory, what the role writes as it starts,
 * the init key, the keys mounted from a Secret. A failure here leaves every file as it was
 * (exit 65: nothing written).
 */
export async function preflight<O, C>(ctx: Context<O, C>, spec: RoleSpec, willExec: boolean, edits: readonly PlannedEdit[]): Promise<Preflight> {
  const rewrites = (ctx.opts.signalRewrite?.value.size ?? 0) > 0;
  const mode = willExec ? chooseExecMode(ctx.opts.execMode.value, hasExecve(), rewrites).mode : undefined;
  const users = planUser(spec.exec.user);
  if (users.warning) ctx.log.warn(users.warning);
  // The init is always spawned, the role only in supervise mode: their groups may need setpriv.
  if (spec.init !== null || mode === 'supervise') checkSpawnAs(users.user);
  for (const cmd of [...(spec.init ?? []), willExec ? spec.exec : null]) {
    if (cmd === null) continue;
    ctx.log.trace('program', { name: cmd.argv[0], file: checkLaunch(cmd.argv, users.user, cmd.cwd, process.env) });
  }
  // A role that would start broken (its working or log directory missing or not its own) is
  // refused now, rather than reporting itself ready and failing its first task.
  const [brokenPath] = willExec ? rolePathRefusals(spec.paths, users.user, ctx.system.dialect) : [];
  if (brokenPath !== undefined) throw new InputError(brokenPath);
  const initKey = await contextInitKey(ctx);
  const keySets = new Map(spec.keys.flatMap((k) => (k.source ? [[k, readKeySet(k.source.dir, k.source.variable)] as const] : [])));
  const { env, withheld } = serviceEnvironment(ctx, edits);
  ctx.log.trace('preflight', { user: users.user?.name ?? 'current', cwd: spec.exec.cwd, initKey, withheld });
  return { user: users.user, initKey, keySets, env };
}

/** The current text of a file, or undefined when it cannot be read (it is then written). */
function currentText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The files the role needs beside the configuration file, written as it is (crash-safe). */
export function writeRoleFiles<O, C>(ctx: Context<O, C>, spec: RoleSpec): void {
  for (const f of spec.files) {
    const r = writeConf(f.path, f.text, currentText(f.path), undefined);
    ctx.log.info(`${f.path}: ${r.written ? 'written' : 'unchanged'} (${f.why})`);
  }
}

/**
 * The role's key repositories, before the init (bootstrap needs the credential keys): a
 * mounted Secret's keys (read by preflight) copied in, owned by the run-as user, 0700/0600;
 * kept by a sidecar: waited for (within the deadline) and never written; without either, the
 * keys already there kept, or fresh ones made, with a warning either way.
 */
export async function installKeys<O, C>(ctx: Context<O, C>, spec: RoleSpec, pre: Preflight, deadline: Deadline): Promise<void> {
  const owner = { uid: pre.user?.uid, gid: pre.user?.gid };
  for (const k of spec.keys) {
    if (k.keptBy !== undefined) {
      const kept = await awaitKeySet(k.dir, pre.user?.uid, k.keptBy, deadline);
      ctx.log.info(`${k.name} keys in ${k.dir}: ${describeKeySet(kept)}, kept by the sync-keys sidecar (${k.keptBy})`);
      continue;
    }
    if (k.source) {
      const mounted = pre.keySets.get(k);
      if (mounted === undefined) throw new Error(`${k.name} keys: not read by preflight`);
      const r = installKeySet(k.dir, mounted, owner);
      ctx.log.info(`${k.name} keys from ${k.source.dir} (${k.source.variable}) in ${k.dir}: ${r.changed ? 'installed' : 'unchanged'}`);
      continue;
    }
    ctx.log.warn(k.generatedWarning);
    if (hasKeySet(k.dir)) installKeySet(k.dir, readKeySet(k.dir, k.dir), owner);
    else {
      installKeySet(k.dir, freshKeySet(), owner);
      ctx.log.info(`${k.name} keys made in ${k.dir}`);
    }
  }
}

/**
 * The waits, then the init: run once under the lease (Pulp's beat, Keystone's api, `init`),
 * or waited for (the other roles), inside the same deadline. The init's connection is opened
 * alongside the waits, so the init does not pay for a second one, and closed here, once.
 */
export async function waitThenInit<O, C>(
  ctx: Context<O, C>,
  p: { targets: Target[]; effective: ConfigView },
  spec: RoleSpec,
  pre: Preflight,
  deadline: Deadline,
  stop: StopSignals,
): Promise<void> {
  const waited = waitForTargets(p.targets, { deadline, limit: waitLimit(ctx.opts.waitTimeoutSec), log: ctx.log });
  const db = openInitDb(ctx.system.initStore(p.targets), pre.initKey);
  try {
    await waited;
    const init = spec.init;
    if (init === null) {
      await awaitInit({ db, key: pre.initKey, deadline, log: ctx.log, runBy: ctx.system.awaitInit.runBy, missingHint: ctx.system.awaitInit.missingHint });
      return;
    }
    const first = init[0];
    if (first === undefined) return;
    const phases = spec.phases;
    const host = replicaName(process.env, hostname());
    // A schema in phases: this replica's row first, and an image older than the database refused.
    if (phases) await registerReplica({ db, key: pre.initKey, host, force: ctx.opts.forceInit, deadline, log: ctx.log });
    let full = false;
    const store = phases ? await db.store(deadline, ctx.log) : undefined;
    const runStep: RunStep<CommandSpec> = (cmd, lost) => runOne(ctx, cmd, pre, lost);
    const out = await runInit({
      db,
      key: pre.initKey,
      force: ctx.opts.forceInit,
      // The record names the first step's program; each step is logged as it runs.
      argv: init.length === 1 ? first.argv : init.flatMap((c, i) => (i === 0 ? c.argv : ['&&', ...c.argv])),
      run: (lost) =>
        stop.aside(() =>
          phases && store
            ? phasedRun({ store, phases, steps: init, runStep, log: ctx.log, onFull: () => void (full = true) })(lost)
            : runSteps(ctx, init, pre, lost),
        ),
      deadline,
      log: ctx.log,
      ttlMs: Math.round(ctx.opts.initLeaseTtlSec.value * 1000),
    });
    if (out.ran && full && store) await recordFullContract(store, pre.initKey, out.record.host, out.record.holder, out.record.argv, ctx.log);
  } finally {
    await db.close();
  }
}

/** The init's steps in order, each to completion; the first non-zero code ends it. */
async function runSteps<O, C>(ctx: Context<O, C>, steps: CommandSpec[], pre: Pick<Preflight, 'user' | 'env'>, lost: AbortSignal): Promise<number> {
  for (const step of steps) {
    const code = await runOne(ctx, step, pre, lost);
    if (code !== 0) return code;
  }
  return 0;
}

/** One step to completion as the run-as user, from the environment without the consumed secrets. */
export function runOne<O, C>(ctx: Context<O, C>, step: CommandSpec, pre: Pick<Preflight, 'user' | 'env'>, lost: AbortSignal): Promise<number> {
  const env = { ...pre.env, ...step.env };
  return runToCompletion({ argv: step.argv, user: pre.user, cwd: step.cwd, env, label: step.label ?? step.argv[0] ?? 'init' }, ctx.log, lost);
}

/**
 * Execs (or supervises) the role as PREFIX_RUN_AS: exec never returns; supervise returns the
 * role's code for main() to exit with.
 */
export async function execCommand<O, C>(ctx: Context<O, C>, cmd: CommandSpec, pre: Preflight, label: string): Promise<number> {
  ctx.log.trace('exec', { argv: cmd.argv, cwd: cmd.cwd, user: pre.user?.name ?? 'current' });
  return execRole(
    { argv: cmd.argv, user: pre.user, cwd: cmd.cwd, env: { ...pre.env, ...cmd.env }, signalRewrite: ctx.opts.signalRewrite?.value, mode: ctx.opts.execMode.value, label },
    ctx.log,
  );
}

/**
 * Another program (`docker run IMAGE bash`) runs as the container's user, as in
 * docker-library images: the drop to PREFIX_RUN_AS is for the service's own processes.
 */
export async function execProgram(argv: string[], log: Logger, mode: ExecModeSetting): Promise<number> {
  return execRole({ argv, user: null, cwd: process.cwd(), env: process.env, mode, label: argv[0] ?? '' }, log);
}
