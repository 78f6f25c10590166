// The agent: command line -> settings -> server.conf -> waits -> init -> exec. Every expected
// failure is one line on stderr and a sysexits code; nothing else ends the process.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Command, parseArgs } from './cli.ts';
import { type Context, loadContext } from './context.ts';
import { readStartingConf } from './conf-file.ts';
import { type ConfigurePlan, applyConfigure, planConfigure } from './configure.ts';
import { version } from './embedded.ts';
import { EntrypointError, ExitCode, UsageError, errorMessage } from './errors.ts';
import { chooseExecMode, hasExecve } from './exec/mode.ts';
import { parseSignalRewrite } from './exec/signals.ts';
import { HELP } from './help.ts';
import { resolveInitKey } from './init/key.ts';
import { type Logger, createLogger } from './log.ts';
import { previewDocument, renderPreview } from './preview.ts';
import { INIT_ARGV, type Role, type RoleSpec, roleSpec } from './roles.ts';
import { syslogWarning } from './syslog-check.ts';
import { targetsFromConfig } from './targets.ts';

function plan(ctx: Context, allowEmbedded: boolean): ConfigurePlan {
  const { opts } = ctx;
  const starting = readStartingConf(opts.confPath.value, opts.templatePath?.value, allowEmbedded);
  const p = planConfigure(ctx.env, ctx.fileFrom, opts, starting);
  for (const w of p.warnings) ctx.log.warn(w);
  return p;
}

/** Applies the plan and logs each edit (secrets masked) and what happened to the file. */
function configure(ctx: Context, print: boolean): ConfigurePlan {
  const p = plan(ctx, false);
  ctx.log.trace('server.conf', { path: p.confPath, from: p.starting.readFrom, edits: p.edits.length });
  const lines = p.edits.map((e) => `[${e.section}] ${e.key} = ${e.shown}  (${e.from.join(', ')})${e.changes ? '' : ' unchanged'}`);
  const result = applyConfigure(p);
  const summary = !result.written
    ? `${p.confPath}: unchanged, nothing written`
    : result.how === 'rename'
      ? `${p.confPath}: written (${p.edits.filter((e) => e.changes).length} key(s) changed)`
      : `${p.confPath}: written in place (rename was refused, e.g. a bind-mounted file; not crash-safe)`;
  if (result.written && result.how === 'in-place') ctx.log.warn(summary);
  if (print) process.stdout.write([...lines, summary].join('\n') + '\n');
  else {
    for (const l of lines) ctx.log.info(`set ${l}`);
    if (!result.written || result.how === 'rename') ctx.log.info(summary);
  }
  return p;
}

function specFor(ctx: Context, role: Role, effective: ConfigurePlan['effective'], extraArgs: string[]): RoleSpec {
  const o = ctx.opts;
  return roleSpec(role, {
    conf: effective,
    runAs: o.runAs.value,
    hostname: process.env.HOSTNAME ?? hostname(),
    workerId: o.workerId?.value,
    logLevel: o.celeryLogLevel.value,
    logFile: o.celeryLogFile?.value,
    workdir: o.workdir?.value,
    extraArgs,
  });
}

async function preview(ctx: Context, role: Role, json: boolean): Promise<number> {
  const p = plan(ctx, true);
  const spec = specFor(ctx, role, p.effective, []);
  const doc = previewDocument({
    plan: p,
    opts: ctx.opts,
    targets: targetsFromConfig(p.effective),
    spec,
    initKey: await resolveInitKey([...INIT_ARGV], process.env).catch((err: unknown) =>
      err instanceof EntrypointError ? `(not computable here: ${err.message})` : Promise.reject(err),
    ),
    path: process.env.PATH,
    isRoot: process.getuid?.() === 0,
  });
  const logWarning = syslogWarning(p.effective, existsSync('/dev/log'));
  if (logWarning) doc.notes.push(logWarning);
  const color = !json && process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
  process.stdout.write(json ? JSON.stringify(doc, null, 2) + '\n' : renderPreview(doc, { color }));
  return ExitCode.ok;
}

async function run(ctx: Context, cmd: Command): Promise<number> {
  if (cmd.kind === 'configure') {
    configure(ctx, true);
    return ExitCode.ok;
  }
  // Waits, init and exec live behind this import so configure and preview never load them.
  const steps = await import('./steps.ts');
  switch (cmd.kind) {
    case 'wait':
    case 'check': {
      const p = plan(ctx, false);
      const seconds = cmd.timeoutSec ?? ctx.opts.waitTimeoutSec.value;
      if (cmd.kind === 'wait') await steps.waitAll(ctx, targetsFromConfig(p.effective), seconds * 1000);
      else await steps.checkAll(ctx, targetsFromConfig(p.effective), (cmd.timeoutSec ?? 5) * 1000);
      return ExitCode.ok;
    }
    case 'init': {
      const p = configure(ctx, false);
      const spec = specFor(ctx, 'beat', p.effective, []);
      const deadline = Date.now() + ctx.opts.waitTimeoutSec.value * 1000;
      await steps.waitAll(ctx, targetsFromConfig(p.effective), deadline - Date.now());
      await steps.initOnce(ctx, spec, p.effective, deadline);
      return ExitCode.ok;
    }
    case 'run': {
      // An exec mode this Node cannot honour is a settings error: refuse it before writing anything.
      chooseExecMode(ctx.opts.execMode.value, hasExecve(), parseSignalRewrite(ctx.opts.signalRewrite?.value).size > 0);
      const p = configure(ctx, false);
      const spec = specFor(ctx, cmd.role, p.effective, cmd.args);
      const logWarning = syslogWarning(p.effective, existsSync('/dev/log'));
      if (logWarning) ctx.log.warn(logWarning);
      const deadline = Date.now() + ctx.opts.waitTimeoutSec.value * 1000;
      await steps.waitAll(ctx, targetsFromConfig(p.effective), deadline - Date.now());
      if (spec.init) await steps.initOnce(ctx, spec, p.effective, deadline);
      else await steps.awaitInit(ctx, p.effective, deadline);
      return steps.execCommand(ctx, spec.exec, spec.role);
    }
    case 'exec': {
      // A shell is how people debug a broken configuration, so a configure failure here is
      // reported and the program still starts.
      try {
        configure(ctx, false);
      } catch (err) {
        if (!(err instanceof EntrypointError)) throw err;
        ctx.log.warn(`configure failed, starting ${cmd.argv[0]} anyway: ${err.message}`);
      }
      return steps.execCommand(ctx, { argv: cmd.argv, user: ctx.opts.runAs.value, cwd: process.cwd() }, cmd.argv[0] ?? '', false);
    }
    default:
      throw new UsageError(`unexpected command ${cmd.kind}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  let log: Logger = createLogger({ format: process.env.PULP_ENTRYPOINT_LOG?.trim().toLowerCase() === 'json' ? 'json' : 'text', trace: false });
  let code: number;
  try {
    const cmd = parseArgs(argv);
    if (cmd.kind === 'help') {
      process.stdout.write(HELP);
      code = ExitCode.ok;
    } else if (cmd.kind === 'version') {
      process.stdout.write(`pulp-entrypoint ${version()}\n`);
      code = ExitCode.ok;
    } else {
      const ctx = loadContext();
      log = ctx.log;
      code = cmd.kind === 'preview' ? await preview(ctx, cmd.role, cmd.json) : await run(ctx, cmd);
    }
  } catch (err) {
    if (err instanceof EntrypointError) {
      log.error(err.message);
      code = err.exitCode;
    } else {
      log.error(`internal error: ${errorMessage(err)} (a bug: please report it with PULP_ENTRYPOINT_TRACE=1 output)`);
      if (log.traceEnabled && err instanceof Error && err.stack) log.trace(err.stack);
      code = ExitCode.software;
    }
  }
  process.exit(code);
}

/** The build writes the drivers' code cache through this (scripts/build.mjs). */
export { warmDriverCache } from './drivers.ts';
