// The dry run: what run would do, from the same plan, without writing, connecting or
// executing anything. previewDocument is the stable JSON; renderPreview is for a person.
import type { ConfigurePlan } from '../conf-file/plan.ts';
import type { KeyId } from '../pulp/keys.ts';
import type { CommandSpec, RoleSpec } from '../pulp/roles.ts';
import type { AgentOptions } from '../settings/options.ts';
import { BROKER_PROTOCOLS, MESSAGING_NOT_WAITED, type PulpTarget, WAIT_REASONS, messagingEndpoint } from '../pulp/targets.ts';
import { resolveOnPath } from '../common/program-path.ts';

export interface PreviewCommand {
  argv: string[];
  user: string;
  cwd: string;
}

export interface PreviewDocument {
  role: string;
  config: {
    path: string;
    source: string;
    readFrom: string;
    edits: { path: string; section: string; key: string; value: string; from: string[]; changes: boolean }[];
    diff: string;
    writes: boolean;
  };
  /** What run waits for, how it checks each, and why the role needs it at start. */
  waits: { kind: string; address: string; source: string; user?: string; protocol: string; check: string; why: string }[];
  /** Endpoints of the file that are deliberately not waited for, and why. */
  notWaited: { source: string; address: string; protocol?: string; why: string }[];
  waitTimeoutSeconds: number;
  init: (PreviewCommand & { key: string }) | null;
  exec: PreviewCommand;
  settings: { name: string; value: string; from: string[] }[];
  notes: string[];
}

export interface PreviewInputs {
  plan: ConfigurePlan;
  opts: AgentOptions;
  targets: PulpTarget[];
  spec: RoleSpec;
  initKey: string;
  path: string | undefined;
  isRoot: boolean;
  /** The line run would refuse the run-as user with on this machine, if it would. */
  userRefusal?: string | undefined;
}

function resolved(cmd: CommandSpec, pathVar: string | undefined, notes: string[]): PreviewCommand {
  const [name = '', ...args] = cmd.argv;
  const found = resolveOnPath(name, pathVar);
  if (found === undefined) notes.push(`${name} is not on PATH here; run would fail to start it`);
  return { argv: [found ?? name, ...args], user: cmd.user, cwd: cmd.cwd };
}

export function previewDocument(i: PreviewInputs): PreviewDocument {
  const { plan, opts } = i;
  const notes: string[] = [];
  if (plan.starting.origin === 'embedded') {
    notes.push(`${plan.confPath} does not exist here: showing the embedded default Pulp 2 server.conf`);
  }
  notes.push(...plan.warnings);
  if (!i.isRoot) notes.push(`not running as root: run would start the role as the current user, not ${opts.runAs.value}`);
  if (i.userRefusal !== undefined) {
    notes.push(`this machine has no user ${opts.runAs.value} (${opts.runAs.from.join(', ')}); an image needs it: run here would refuse with "${i.userRefusal}"`);
  }
  const settings: PreviewDocument['settings'] = [
    { name: 'server.conf', value: opts.confPath.value, from: opts.confPath.from },
    ...(opts.templatePath ? [{ name: 'template', value: opts.templatePath.value, from: opts.templatePath.from }] : []),
    { name: 'wait timeout (s)', value: String(opts.waitTimeoutSec.value), from: opts.waitTimeoutSec.from },
    { name: 'run as', value: opts.runAs.value, from: opts.runAs.from },
    { name: 'database service', value: opts.dbService.value, from: opts.dbService.from },
    { name: 'broker service', value: opts.msgService.value, from: opts.msgService.from },
    { name: 'celery log level', value: opts.celeryLogLevel.value, from: opts.celeryLogLevel.from },
    ...(i.spec.workerIdFrom ? [{ name: 'worker id', value: workerN(i.spec), from: [i.spec.workerIdFrom] }] : []),
    { name: i.spec.init ? 'init key' : 'waits for init key', value: i.initKey, from: opts.initKey?.from ?? ['default'] },
  ];
  return {
    role: i.spec.role,
    config: {
      path: plan.confPath,
      source: plan.starting.origin,
      readFrom: plan.starting.readFrom,
      edits: plan.edits.map((e) => ({ path: e.path, section: e.section, key: e.key, value: e.shown, from: e.from, changes: e.changes })),
      diff: plan.diff,
      writes: plan.writes,
    },
    waits: i.targets.map((t) => ({
      kind: t.kind,
      address: t.address,
      source: t.kind === 'mongodb' ? ('database.seeds' satisfies KeyId) : t.source,
      ...(t.username !== undefined ? { user: t.username } : {}),
      protocol: t.kind === 'mongodb' ? 'mongodb' : BROKER_PROTOCOLS[t.protocol].name,
      check: t.kind === 'mongodb' ? WAIT_REASONS.mongodb.check : BROKER_PROTOCOLS[t.protocol].check,
      why:
        t.kind === 'mongodb'
          ? WAIT_REASONS.mongodb.why
          : `${WAIT_REASONS.broker.why}, with ${BROKER_PROTOCOLS[t.protocol].client} for ${t.scheme}:// (${BROKER_PROTOCOLS[t.protocol].name})`,
    })),
    notWaited: notWaited(plan),
    waitTimeoutSeconds: opts.waitTimeoutSec.value,
    init: i.spec.init ? { ...resolved(i.spec.init, i.path, notes), key: i.initKey } : null,
    exec: resolved(i.spec.exec, i.path, notes),
    settings,
    notes,
  };
}

function notWaited(plan: ConfigurePlan): PreviewDocument['notWaited'] {
  const m = messagingEndpoint(plan.effective);
  return [
    {
      source: 'messaging.url' satisfies KeyId,
      address: m.address,
      ...(m.protocol && { protocol: `${BROKER_PROTOCOLS[m.protocol].name}, transport ${m.transport}` }),
      why: MESSAGING_NOT_WAITED,
    },
  ];
}

function workerN(spec: RoleSpec): string {
  const n = spec.exec.argv.find((a) => a.startsWith('reserved_resource_worker-'));
  return n?.slice('reserved_resource_worker-'.length).split('@')[0] ?? '0';
}

/** Quotes an argument for a POSIX shell only when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface RenderOptions {
  color: boolean;
}

export function renderPreview(doc: PreviewDocument, o: RenderOptions): string {
  const c = (code: string, s: string): string => (o.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = (s: string): string => c('1', s);
  const out: string[] = [];
  out.push(`${bold(`pulp-entrypoint preview ${doc.role}`)}: a dry run; nothing was written, contacted or executed.`);
  out.push('');
  for (const n of doc.notes) out.push(`${c('33', 'note:')} ${n}`);
  if (doc.notes.length) out.push('');

  out.push(bold('Settings'));
  const rows: [string, string, string][] = [
    ...doc.config.edits.map((e): [string, string, string] => [`[${e.section}] ${e.key}`, e.value, e.from.join(', ')]),
    ...doc.settings.map((s): [string, string, string] => [s.name, s.value, s.from.join(', ')]),
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.min(48, Math.max(...rows.map((r) => r[1].length)));
  for (const [k, v, f] of rows) out.push(`  ${k.padEnd(w0)}  ${v.padEnd(w1)}  ${c('2', `<- ${f}`)}`);
  out.push('');

  out.push(bold(`server.conf ${doc.config.path}`) + (doc.config.source === 'template' ? ` (from template ${doc.config.readFrom})` : ''));
  if (!doc.config.writes) out.push('  no change: the file already says all this; nothing would be written');
  else {
    for (const line of doc.config.diff.replace(/\n$/, '').split('\n')) {
      if (line.startsWith('+++') || line.startsWith('---')) out.push(bold(line));
      else if (line.startsWith('@@')) out.push(c('36', line));
      else if (line.startsWith('+')) out.push(c('32', line));
      else if (line.startsWith('-')) out.push(c('31', line));
      else out.push(line);
    }
  }
  out.push('');

  out.push(bold(`Waits`) + ` (all at once, up to ${doc.waitTimeoutSeconds} s in all)`);
  for (const w of doc.waits) {
    out.push(`  ${w.kind.padEnd(8)} ${w.address}  ${c('2', `<- ${w.source}${w.user ? `, as ${w.user}` : ''}`)}`);
    out.push(`  ${''.padEnd(8)} check: ${w.check}`);
    out.push(`  ${''.padEnd(8)} why: ${w.why}`);
  }
  for (const n of doc.notWaited) {
    out.push(`  [${n.source.replace('.', '] ')} ${n.address}${n.protocol ? ` (${n.protocol})` : ''}: ${n.why}`);
  }
  out.push('');

  if (doc.init) {
    out.push(bold('Init') + ` (once per init key, under a lease in the database)`);
    out.push(`  as ${doc.init.user} in ${doc.init.cwd}: ${doc.init.argv.map(shellQuote).join(' ')}`);
  } else {
    out.push(bold('Init') + ': none for this role; it waits until the init has run');
  }
  out.push('');
  out.push(bold('Exec'));
  out.push(`  as ${doc.exec.user} in ${doc.exec.cwd}:`);
  out.push(`  ${doc.exec.argv.map(shellQuote).join(' ')}`);
  return out.join('\n') + '\n';
}
