// The agent: the program's name picks the system, then command line -> settings -> the file
// -> waits -> init -> exec. Every expected failure is one line on stderr and a code from
// errors.ts's ExitCode; only this module ends the process (exitNow), other modules throw or
// return a code.
import { type Command, parseArgs } from './cli/args.ts';
import { type Context, loadContext } from './cli/context.ts';
import { planFromFile, roleSpecFor, writeAndReport } from './cli/configure.ts';
import { exitOnStopSignals } from './exec/stop-signals.ts';
import { version } from './common/embedded.ts';
import { EntrypointError, ExitCode, InputError, UsageError, errorMessage } from './common/errors.ts';
import { exitCodeLines } from './cli/help.ts';
import { writeStdout } from './cli/output.ts';
import { contextInitKey } from './cli/service-inputs.ts';
import { planUser } from './exec/privileges.ts';
import { type Logger, createLogger, textLine } from './common/log.ts';
import { previewDocument, renderPreview } from './cli/preview.ts';
import { deadlineIn } from './common/retry.ts';
import type { Env } from './settings/types.ts';
import { envName, programNames, useProgram } from './common/program.ts';
import { systemFor } from './cli/systems.ts';
import { resolveOnPath } from './common/program-path.ts';
import { waitLimit } from './cli/limit.ts';
import type { RoleSpec, System } from './system/system.ts';
import type { ResolvedUser } from './exec/users.ts';
import { rolePathRefusals } from './cli/role-paths.ts';

async function preview<O, C>(ctx: Context<O, C>, role: string, json: boolean): Promise<number> {
  const p = planFromFile(ctx, true);
  const spec = roleSpecFor(ctx, role, p.effective, []);
  const doc = previewDocument({
    system: ctx.system,
    settings: ctx,
    plan: p,
    targets: p.targets,
    spec,
    initKey: await contextInitKey(ctx).catch((err: unknown) =>
      err instanceof EntrypointError ? { notComputable: err.message } : Promise.reject(err),
    ),
    path: process.env.PATH,
    isRoot: process.getuid?.() === 0,
    userRefusal: userRefusalHere(spec.exec.user),
    pathRefusals: pathRefusalsHere(ctx.system, spec),
  });
  doc.notes.push(...ctx.system.startWarnings(p.effective, ctx));
  const color = !json && process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
  await writeStdout(json ? JSON.stringify(doc, null, 2) + '\n' : renderPreview(doc, { color, fileName: ctx.system.file.name }));
  return ExitCode.ok;
}

/**
 * The line run would refuse PREFIX_RUN_AS with on this machine (preflight's own check), or
 * undefined. A preview runs on the operator's machine, whose /etc/passwd says nothing about
 * the image's: like a program not on PATH here, it is a note, not a refusal. A value that is
 * wrong everywhere (not a name or uid) was already refused with the settings.
 */
function userRefusalHere(user: string): string | undefined {
  try {
    planUser(user);
    return undefined;
  } catch (err) {
    if (err instanceof InputError) return textLine('error', err.message).trimEnd();
    throw err;
  }
}

/** `check`'s limit per attempt when --timeout is not given: an exec probe's own timeout is seconds. */
const CHECK_TIMEOUT_SEC = 5;

/** The lines run would refuse the role's paths with on this machine (a note each, as for the user). */
function pathRefusalsHere<O, C>(system: System<O, C>, spec: RoleSpec): string[] {
  let user: ResolvedUser | null;
  try {
    user = planUser(spec.exec.user).user;
  } catch (err) {
    // No such user here: userRefusalHere says so; whose access to check is not known.
    if (err instanceof InputError) return [];
    throw err;
  }
  return rolePathRefusals(spec.paths, user, system.dialect);
}

async function run<O, C>(ctx: Context<O, C>, cmd: Command): Promise<number> {
  if (cmd.kind === 'configure') {
    await writeAndReport(ctx, planFromFile(ctx, false), true);
    return ExitCode.ok;
  }
  if (cmd.kind === 'wait' || cmd.kind === 'check') {
    // The probes alone, without the init and exec code (child_process...): `check` is a
    // Kubernetes exec probe, run every few seconds in every pod.
    const waits = await import('./wait/wait.ts');
    exitOnStopSignals(ctx.log, cmd.kind, exitNow);
    const p = planFromFile(ctx, false);
    // The limit is named as the user set it: --timeout, the variable, or the default.
    if (cmd.kind === 'wait') {
      const limit = waitLimit(ctx.opts.waitTimeoutSec, cmd.timeoutSec);
      await waits.waitForTargets(p.targets, { deadline: deadlineIn((cmd.timeoutSec ?? ctx.opts.waitTimeoutSec.value) * 1000), limit, log: ctx.log });
    } else {
      const limit = cmd.timeoutSec === undefined ? `the default ${CHECK_TIMEOUT_SEC} s (--timeout sets it)` : `--timeout ${cmd.timeoutSec}`;
      await waits.checkTargets(p.targets, { timeoutMs: (cmd.timeoutSec ?? CHECK_TIMEOUT_SEC) * 1000, limit, log: ctx.log });
      // A schema in phases (Keystone): the replica's row refreshed, the contract when it is due.
      if (ctx.system.phasedSchema) await (await import('./cli/contract-check.ts')).heartbeatCheck(ctx, p, (cmd.timeoutSec ?? CHECK_TIMEOUT_SEC) * 1000);
    }
    return ExitCode.ok;
  }
  // Waits, init and exec live behind this import so configure and preview never load them.
  const steps = await import('./cli/run-steps.ts');
  // PID 1 gets no default signal actions: until the role runs, a stop signal must end us.
  const stop = exitOnStopSignals(ctx.log, cmd.kind, exitNow);
  switch (cmd.kind) {
    case 'init':
    case 'run': {
      const role = cmd.kind === 'init' ? ctx.system.initRole : cmd.role;
      const p = planFromFile(ctx, false);
      const spec = roleSpecFor(ctx, role, p.effective, cmd.kind === 'run' ? cmd.args : []);
      // Everything that can be known wrong is checked before the file is written.
      const pre = await steps.preflight(ctx, spec, cmd.kind === 'run', p.edits);
      await writeAndReport(ctx, p, false);
      if (cmd.kind === 'run') steps.writeRoleFiles(ctx, spec);
      // One deadline for the keys a sidecar keeps, the waits and the init's: PREFIX_WAIT_TIMEOUT from here.
      const deadline = deadlineIn(ctx.opts.waitTimeoutSec.value * 1000);
      await steps.installKeys(ctx, spec, pre, deadline);
      for (const w of ctx.system.startWarnings(p.effective, ctx)) ctx.log.warn(w);
      await steps.waitThenInit(ctx, p, spec, pre, deadline, stop);
      if (cmd.kind === 'init') return ExitCode.ok;
      stop.release();
      return steps.execCommand(ctx, spec.exec, pre, spec.role);
    }
    case 'exec': {
      // A shell is how people debug a broken configuration, so a configure failure here is
      // reported and the program still starts.
      try {
        await writeAndReport(ctx, planFromFile(ctx, false), false);
      } catch (err) {
        if (!(err instanceof EntrypointError)) throw err;
        ctx.log.warn(`configure failed, starting ${cmd.argv[0]} anyway: ${err.message}`);
      }
      stop.release();
      return steps.execProgram(cmd.argv, ctx.log, ctx.opts.execMode.value);
    }
    default:
      throw new UsageError(`unexpected command ${cmd.kind}`);
  }
}

/** For `PROGRAM`: settings that cannot be read must not stand between a person and a shell. */
async function execDespiteSettings(argv: string[], log: Logger, err: EntrypointError): Promise<number> {
  log.warn(`settings are invalid, starting ${argv[0]} anyway without configuring: ${err.message}`);
  const steps = await import('./cli/run-steps.ts');
  return steps.execProgram(argv, log, 'auto');
}

/**
 * The one place the process ends: main()'s result, and a stop signal before the role runs
 * (stop-signals.ts), which must end it at once, in the middle of a wait.
 */
function exitNow(code: number): never {
  process.exit(code);
}

/**
 * @param invokedAs the name or path the program was started as (its argv[0] or script), which
 *   picks the system; a name no system claims is Pulp's, the package's first.
 */
export async function main(argv: string[], invokedAs?: string): Promise<void> {
  exitNow(await (await systemFor(invokedAs))((system) => agent(system, argv)));
}

async function agent<O, C>(system: System<O, C>, argv: string[]): Promise<number> {
  useProgram(system.names);
  let log: Logger = createLogger({ format: process.env[envName('ENTRYPOINT_LOG')]?.trim().toLowerCase() === 'json' ? 'json' : 'text', trace: false });
  let code: number = ExitCode.software; // every path below sets it
  let ctx: Context<O, C> | undefined;
  try {
    // A first word that is no program either is a typo, refused before anything is read.
    const cmd = parseArgs(argv, system.roles, [...Object.keys(system.commands ?? {}), ...Object.keys(system.tasks ?? {})], (name) => resolveOnPath(name, process.env.PATH) !== undefined);
    if (cmd.kind === 'command' && system.tasks?.[cmd.name] !== undefined) {
      // A task of the system's own (Keystone's sync-keys, rotate): its settings and file, no role.
      ctx = loadContext(system);
      log = ctx.log;
      const tasks = await import('./cli/tasks.ts');
      code = await tasks.runTask(ctx, cmd.name, cmd.args, exitNow);
    } else if (cmd.kind === 'command') {
      // Needs no settings: it prints something to keep, and reads nothing of the machine.
      const command = system.commands?.[cmd.name];
      if (command === undefined) throw new UsageError(`unknown command ${cmd.name}`);
      await writeStdout(command(cmd.args));
      code = ExitCode.ok;
    } else if (cmd.kind === 'help') {
      await writeStdout(system.help(exitCodeLines(system.file.name, Object.keys(system.tasks ?? {}), system.phasedSchema === true)));
      code = ExitCode.ok;
    } else if (cmd.kind === 'default-conf') {
      // The file a preview falls back to: what to start a ConfigMap or a template from.
      await writeStdout(system.file.embedded());
      code = ExitCode.ok;
    } else if (cmd.kind === 'version') {
      await writeStdout(`${programNames().program} ${version()}\n`);
      code = ExitCode.ok;
    } else {
      try {
        ctx = loadContext(system);
      } catch (err) {
        if (!(cmd.kind === 'exec' && err instanceof EntrypointError)) throw err;
        code = await execDespiteSettings(cmd.argv, log, err);
      }
      if (ctx !== undefined) {
        log = ctx.log;
        const env = ctx.env;
        log.trace('settings', Object.fromEntries(Object.entries(ctx.opts).map(([k, v]) => [k, describeSetting(v, env)])));
        code = cmd.kind === 'preview' ? await preview(ctx, cmd.role, cmd.json) : await run(ctx, cmd);
      }
    }
  } catch (err) {
    // The context's logger, once there is one: it knows the plan's secrets.
    if (ctx !== undefined) log = ctx.log;
    if (err instanceof EntrypointError) {
      log.error(err.message);
      code = err.exitCode;
    } else {
      log.error(`internal error: ${errorMessage(err)} (a bug: please report it with ${envName('ENTRYPOINT_TRACE')}=1 output)`);
      if (log.traceEnabled && err instanceof Error && err.stack) log.trace(err.stack);
      code = ExitCode.software;
    }
  }
  return code;
}

/** A setting for the trace line; a parsed one (the signal rewrite) is shown as it was written. */
function describeSetting(v: unknown, env: Env): string {
  if (v !== null && typeof v === 'object' && 'value' in v && 'from' in v) {
    const s = v as { value: unknown; from: string[] };
    const shown = s.value instanceof Map ? env[s.from[0] ?? ''] : s.value;
    return `${String(shown)} (${s.from.join(', ')})`;
  }
  return String(v);
}

/** The build writes the drivers' code cache through this (scripts/build.mjs). */
export { warmDriverCache } from './dependencies/drivers.ts';
