// The system's file as the commands use it: the plan from the file and the settings (the
// logger learns its secrets), the role spec it implies, and the write with its report.
import { hostname } from 'node:os';
import type { Context } from './context.ts';
import { readStartingConf } from '../conf-file/read.ts';
import { type ConfigurePlan, applyConfigure, planConfigure } from '../conf-file/plan.ts';
import { writeStdout } from './output.ts';
import type { RoleSpec } from '../system/system.ts';

/**
 * Makes the plan, and gives ctx's logger the secrets it learnt, so that from here on no line
 * (an edit, a probe's error, main's last line) shows one.
 */
export function planFromFile<O, C>(ctx: Context<O, C>, allowEmbedded: boolean): ConfigurePlan {
  const { opts, system } = ctx;
  const starting = readStartingConf(system.file, opts.confPath.value, opts.templatePath?.value, allowEmbedded);
  ctx.log.trace(`${system.file.name} read`, { path: opts.confPath.value, from: starting.readFrom, origin: starting.origin });
  const p = planConfigure(ctx, starting, system);
  const log = ctx.log.withSecrets(p.secrets);
  ctx.log = log;
  for (const w of p.warnings) log.warn(w);
  for (const e of p.edits) log.trace('edit', { path: e.path, value: e.shown, from: e.from, changes: e.changes });
  for (const t of p.targets) log.trace('wait target', { kind: t.kind, address: t.address });
  return p;
}

/** Writes the plan and logs each edit (secrets masked) and what happened to the file. */
export async function writeAndReport<O, C>(ctx: Context<O, C>, p: ConfigurePlan, print: boolean): Promise<void> {
  const lines = p.edits.map((e) => `[${e.section}] ${e.key} = ${e.shown}  (${e.from.join(', ')})${e.changes ? '' : ' unchanged'}`);
  const result = applyConfigure(p);
  const where = result.written && result.file !== p.confPath ? `${p.confPath} (a link to ${result.file}, kept)` : p.confPath;
  const summary = !result.written
    ? `${p.confPath}: unchanged, nothing written`
    : result.how === 'rename'
      ? `${where}: written (${p.edits.filter((e) => e.changes).length} key(s) changed)`
      : `${where}: written in place (${result.note ?? 'rename was refused, e.g. a bind-mounted file'}; not crash-safe)`;
  if (result.written && result.how === 'in-place') ctx.log.warn(summary);
  if (print) await writeStdout([...lines, summary].join('\n') + '\n');
  else {
    for (const l of lines) ctx.log.info(`set ${l}`);
    if (!result.written || result.how === 'rename') ctx.log.info(summary);
  }
}

/** The role's init and command, from the effective file and the settings. */
export function roleSpecFor<O, C>(ctx: Context<O, C>, role: string, effective: ConfigurePlan['effective'], extraArgs: string[]): RoleSpec {
  return ctx.system.roleSpec(role, ctx, { effective, hostname: process.env.HOSTNAME ?? hostname(), extraArgs });
}
