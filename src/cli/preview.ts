// The dry run: what run would do, from the same plan, without writing, connecting or
// executing anything. previewDocument is the stable JSON; renderPreview is for a person. The
// system says why each wait is there and adds its own settings rows.
import type { ConfigurePlan } from '../conf-file/plan.ts';
import type { CommandSpec, KeyRepositorySpec, NotWaited, RoleSpec, System } from '../system/system.ts';
import { readKeySet } from '../conf-file/key-repository.ts';
import { describeKeySet } from '../conf-file/key-set.ts';
import { ExitCode, errorMessage } from '../common/errors.ts';
import type { Settings } from '../settings/options.ts';
import type { Target } from '../common/targets.ts';
import { resolveOnPath } from '../common/program-path.ts';
import { envName, programNames } from '../common/program.ts';

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
  notWaited: NotWaited[];
  waitTimeoutSeconds: number;
  /**
   * The first step's command at the top (one-step inits read as before); `steps` when there are
   * more; `forced`: PREFIX_FORCE_INIT runs it even when its record exists.
   */
  init: (PreviewCommand & { key: string; forced: boolean; steps?: PreviewCommand[]; phases?: PreviewPhases }) | null;
  /** Files written beside the configuration file (Keystone: gunicorn's). */
  files?: { path: string; why: string }[];
  /** Key repositories installed before the init: where, and from which Secret (null: made here). */
  keys?: PreviewKeys[];
  /** What the role writes or reads as it starts, checked for the run-as user before exec. */
  paths?: { path: string; access: 'dir' | 'file' | 'read'; source: string; why: string }[];
  exec: PreviewCommand;
  settings: { name: string; value: string; from: string[] }[];
  notes: string[];
}

/**
 * A schema migrated in phases (Keystone): which phase the init would run is the database's to
 * say (its version table and the check's answer), and a preview connects to nothing: `phase`
 * is "decided at start" and `why` says how, `ask` how to ask the database by hand.
 */
export interface PreviewPhases {
  phase: string;
  why: string;
  check: PreviewCommand;
  expand: PreviewCommand;
  contract: PreviewCommand;
  ask: string;
}

/** One key repository: where its keys come from, what they are, and whether rotations reach it. */
export interface PreviewKeys {
  name: string;
  dir: string;
  /** The mounted Secret copied at start, "VAR" naming it; null: none. */
  from: string | null;
  /** The setting that says a sidecar keeps the repository (the agent only checks it). */
  keptBy?: string;
  /** "3 keys: 0 (staged), 1, 2 (primary)", read here from the Secret (or the repository a sidecar keeps). */
  holds?: string;
  /** Why they could not be read here (a preview off the pod). */
  unreadable?: string;
  /** When a rotated Secret reaches the repository. */
  rotations: string;
}

/** What the preview says of a repository; reads the key files, writes nothing. */
function previewKeys(k: KeyRepositorySpec): PreviewKeys {
  const readFrom = k.keptBy !== undefined ? k.dir : k.source?.dir;
  let holds: string | undefined;
  let unreadable: string | undefined;
  if (readFrom !== undefined) {
    const variable = k.source?.variable ?? k.keptBy ?? '';
    try {
      holds = describeKeySet(readKeySet(readFrom, variable));
    } catch (err) {
      const msg = errorMessage(err);
      const prefix = `${variable}=${readFrom}: `;
      unreadable = `not readable here: ${msg.startsWith(prefix) ? msg.slice(prefix.length) : msg}`;
    }
  }
  const rotations =
    k.keptBy !== undefined
      ? "within the kubelet's refresh of the Secret, without a restart: the sync-keys sidecar keeps it"
      : k.source
        ? 'only when the container starts again (copied once, at start); the sync-keys sidecar follows rotations'
        : "never: this replica's own keys";
  return {
    name: k.name,
    dir: k.dir,
    from: k.source ? `${k.source.dir} (${k.source.variable})` : null,
    ...(k.keptBy !== undefined ? { keptBy: k.keptBy } : {}),
    ...(holds !== undefined ? { holds } : {}),
    ...(unreadable !== undefined ? { unreadable } : {}),
    rotations,
  };
}

export interface PreviewInputs<O, C> {
  system: System<O, C>;
  settings: Settings<O, C>;
  plan: ConfigurePlan;
  targets: Target[];
  spec: RoleSpec;
  /** The init key, or why it cannot be computed on this machine (a note; run would refuse). */
  initKey: string | { notComputable: string };
  path: string | undefined;
  isRoot: boolean;
  /** The line run would refuse the run-as user with on this machine, if it would. */
  userRefusal?: string | undefined;
  /** The lines run would refuse the role's paths with on this machine. */
  pathRefusals?: readonly string[];
}

function resolved(cmd: CommandSpec, pathVar: string | undefined, notes: string[]): PreviewCommand {
  const [name = '', ...args] = cmd.argv;
  const found = resolveOnPath(name, pathVar);
  const note = `${name} is not on PATH here; run would fail to start it`;
  if (found === undefined && !notes.includes(note)) notes.push(note);
  return { argv: [found ?? name, ...args], user: cmd.user, cwd: cmd.cwd };
}

export function previewDocument<O, C>(i: PreviewInputs<O, C>): PreviewDocument {
  const { plan, system } = i;
  const opts = i.settings.opts;
  const notes: string[] = [];
  if (plan.starting.origin === 'embedded') {
    notes.push(`${plan.confPath} does not exist here: showing the embedded default ${system.title} ${system.file.name} (${programNames().program} default-conf prints it)`);
  }
  notes.push(...plan.warnings);
  if (!i.isRoot) notes.push(`not running as root: run would start the role as the current user, not ${opts.runAs.value}`);
  if (i.userRefusal !== undefined) {
    notes.push(`this machine has no user ${opts.runAs.value} (${opts.runAs.from.join(', ')}); an image needs it: run here would refuse with "${i.userRefusal}"`);
  }
  // Explanations are notes; a table cell holds a value.
  const initKey = typeof i.initKey === 'string' ? i.initKey : '(not computable here)';
  if (typeof i.initKey !== 'string') notes.push(`init key: ${i.initKey.notComputable}`);
  const force = envName('FORCE_INIT');
  if (opts.forceInit && !i.spec.init) {
    notes.push(`${force} is set, but ${i.spec.role} does not run the init: it waits for its record as always (${system.awaitInit.runBy} runs it again)`);
  }
  const settings: PreviewDocument['settings'] = [
    { name: system.file.name, value: opts.confPath.value, from: opts.confPath.from },
    ...(opts.templatePath ? [{ name: 'template', value: opts.templatePath.value, from: opts.templatePath.from }] : []),
    { name: 'wait timeout (s)', value: String(opts.waitTimeoutSec.value), from: opts.waitTimeoutSec.from },
    { name: 'run as', value: opts.runAs.value, from: opts.runAs.from },
    ...system.preview.settings(i.settings),
    ...i.spec.settings,
    { name: i.spec.init ? 'init key' : 'waits for init key', value: initKey, from: opts.initKey?.from ?? ['default'] },
    ...(opts.forceInit ? [{ name: 'force init', value: 'yes', from: [force] }] : []),
  ];
  const [first, ...more] = (i.spec.init ?? []).map((c) => resolved(c, i.path, notes));
  const ph = i.spec.init && i.spec.phases;
  const phases: PreviewPhases | undefined = ph
    ? {
        phase: 'decided at start',
        why:
          `not known here: the preview connects to no database and runs nothing. At start, under the lease: no ${ph.versionTable} (an empty database) runs the steps above whole; ` +
          `a schema runs the check first (exit ${ph.answers}): the expand when it is due, then the later steps; a downgrade refuses the start (exit ${ExitCode.config}). ` +
          'The contract never runs at start: the readiness check (`check`) runs it once no replica of another image is live',
        check: resolved(ph.check, i.path, notes),
        expand: resolved(ph.expand, i.path, notes),
        contract: resolved(ph.contract, i.path, notes),
        ask: `${ph.check.argv.map(shellQuote).join(' ')} in a running replica (kubectl exec): exit ${ph.answers}`,
      }
    : undefined;
  for (const k of i.spec.keys) if (!k.source && k.keptBy === undefined) notes.push(k.generatedWarning);
  for (const r of i.pathRefusals ?? []) notes.push(`on this machine run would refuse the role: ${r}`);
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
    waits: i.targets.map((t) => {
      const w = system.preview.wait(t);
      return {
        kind: t.kind,
        address: t.address,
        source: w.source,
        ...(t.username !== undefined ? { user: t.username } : {}),
        protocol: w.protocol,
        check: w.check,
        why: w.why,
      };
    }),
    notWaited: system.preview.notWaited(plan.effective),
    waitTimeoutSeconds: opts.waitTimeoutSec.value,
    init: first ? { ...first, key: initKey, forced: opts.forceInit, ...(more.length > 0 ? { steps: [first, ...more] } : {}), ...(phases ? { phases } : {}) } : null,
    exec: resolved(i.spec.exec, i.path, notes),
    ...(i.spec.files.length > 0 ? { files: i.spec.files.map((f) => ({ path: f.path, why: f.why })) } : {}),
    ...(i.spec.keys.length > 0 ? { keys: i.spec.keys.map(previewKeys) } : {}),
    ...(i.spec.paths.length > 0 ? { paths: i.spec.paths.map((p) => ({ path: p.path, access: p.access, source: system.dialect.label(p.section, p.key), why: p.why })) } : {}),
    settings,
    notes,
  };
}

/** Quotes an argument for a POSIX shell only when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface RenderOptions {
  color: boolean;
  /** How the system names its file: "server.conf". */
  fileName: string;
}

export function renderPreview(doc: PreviewDocument, o: RenderOptions): string {
  const c = (code: string, s: string): string => (o.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = (s: string): string => c('1', s);
  const out: string[] = [];
  out.push(`${bold(`${programNames().program} preview ${doc.role}`)}: a dry run; nothing was written, contacted or executed.`);
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

  out.push(bold(`${o.fileName} ${doc.config.path}`) + (doc.config.source === 'template' ? ` (from template ${doc.config.readFrom})` : ''));
  if (!doc.config.writes) out.push('  no changes: the file already says all this; nothing would be written');
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
    const once = doc.init.forced ? `forced by ${envName('FORCE_INIT')}: runs even when its record exists` : 'once per init key';
    out.push(bold('Init') + ` (${once}, under a lease in the database)`);
    for (const step of doc.init.steps ?? [doc.init]) out.push(`  as ${step.user} in ${step.cwd}: ${step.argv.map(shellQuote).join(' ')}`);
    const ph = doc.init.phases;
    if (ph) {
      out.push(`  phase: ${ph.phase}; ${ph.why}`);
      for (const [name, cmd] of [['check', ph.check], ['expand', ph.expand], ['contract', ph.contract]] as const) out.push(`  ${name.padEnd(8)} ${cmd.argv.map(shellQuote).join(' ')}`);
      out.push(`  ask the database: ${ph.ask}`);
    }
  } else {
    out.push(bold('Init') + ': none for this role; it waits until the init has run');
  }
  out.push('');
  if (doc.keys) {
    out.push(bold('Keys') + ' (before the init; owned by the run-as user, 0700/0600)');
    for (const k of doc.keys) {
      const from = k.keptBy !== undefined ? `kept by the sync-keys sidecar (${k.keptBy})` : (k.from ?? 'made here (no Secret)');
      out.push(`  ${k.name.padEnd(10)} ${k.dir}  ${c('2', `<- ${from}`)}`);
      if (k.holds !== undefined || k.unreadable !== undefined) out.push(`  ${''.padEnd(10)} ${k.holds ?? k.unreadable ?? ''}`);
      out.push(`  ${''.padEnd(10)} rotated keys arrive ${k.rotations}`);
    }
    out.push('');
  }
  for (const f of doc.files ?? []) {
    out.push(bold('File') + ` ${f.path}: ${f.why}`);
    out.push('');
  }
  if (doc.paths) {
    out.push(bold('Paths') + ' (what the role uses as it starts, checked for the run-as user before exec)');
    for (const p of doc.paths) {
      out.push(`  ${p.access.padEnd(4)} ${p.path}  ${c('2', `<- ${p.source}`)}`);
      out.push(`  ${''.padEnd(4)} why: ${p.why}`);
    }
    out.push('');
  }
  out.push(bold('Exec'));
  out.push(`  as ${doc.exec.user} in ${doc.exec.cwd}:`);
  out.push(`  ${doc.exec.argv.map(shellQuote).join(' ')}`);
  return out.join('\n') + '\n';
}
