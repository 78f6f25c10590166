// environment -> settings -> edits -> file. planConfigure is pure (text in, text out) and
// checks everything it can, so that a bad value is refused before anything is written;
// applyConfigure is the one effect: the write. What differs between systems (the edits, the
// dialect, the targets) comes from the system.
import type { ConfigView } from '../ini/config-view.ts';
import type { StartingConf, StartingConfFile } from './read.ts';
import { type WriteResult, writeConf } from './write.ts';
import { unifiedDiff } from './diff.ts';
import type { ConfDialect } from './dialect.ts';
import { InputError } from '../common/errors.ts';
import { formatAugeasPath } from '../ini/augeas-path.ts';
import { parseIni, printIni } from '../ini/document.ts';
import type { IniDocument } from '../ini/lines.ts';
import { mapValues } from '../ini/replace.ts';
import { setKey } from '../ini/edit.ts';
import { MASK, redactUrl } from '../common/redact.ts';
import type { Settings } from '../settings/options.ts';
import type { PlannedEdit } from '../settings/edits/edit.ts';
import type { EditPlan } from '../settings/edits/plan.ts';
import type { Target } from '../common/targets.ts';
import { envName } from '../common/program.ts';
import { documentedKeys } from '../ini/documented.ts';
import { undocumentedOverrides } from './undocumented.ts';

/** What a system gives the plan (src/system/system.ts's System has all of it). */
export interface ConfPlanner<O, C> {
  /** "Pulp 2": whose file it is, for the messages. */
  title: string;
  /** The default file, whose sections and keys a PREFIX_CONF__ override is checked against. */
  file: Pick<StartingConfFile, 'embedded'>;
  dialect: ConfDialect;
  planEdits(settings: Settings<O, C>, current: ConfigView): EditPlan;
  targets(effective: ConfigView): Target[];
}

export interface EditView extends PlannedEdit {
  /** The Augeas path of the key, on the real file path. */
  path: string;
  /** The value as it may be shown (secrets masked). */
  shown: string;
  /** Whether the value changes the file (false: it already had it). */
  changes: boolean;
}

export interface ConfigurePlan {
  confPath: string;
  starting: StartingConf;
  edits: EditView[];
  warnings: string[];
  /** The file's new text; equal to starting.current when nothing changes. */
  after: string;
  /** Whether the file would be (re)written. */
  writes: boolean;
  /** What the service will read: the file after the edits. */
  effective: ConfigView;
  /** What the waits connect to, from the effective file. */
  targets: Target[];
  /** Unified diff of the file, before -> after, secrets masked. */
  diff: string;
  /**
   * Every secret value the plan learnt (from the environment, from the file, the targets'
   * passwords): the logger is given them, so no line shows one.
   */
  secrets: string[];
}

/**
 * The waits read the effective file, so a value they cannot use (seeds "db:99999", ssl
 * "maybe") is refused here, naming the variable that put it there when one did.
 */
function checkedTargets<O, C>(sys: ConfPlanner<O, C>, effective: ConfigView, edits: PlannedEdit[]): Target[] {
  try {
    return sys.targets(effective);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const culprit = edits.find((e) => err.message.startsWith(`${sys.dialect.label(e.section, e.key)}:`));
    if (!culprit) throw err;
    throw new InputError(`${culprit.from.filter((f) => f !== 'default' && f !== sys.dialect.name).join(', ')}: ${err.message}`);
  }
}

function parseCurrent(text: string, name: string): IniDocument | undefined {
  try {
    return parseIni(text, name);
  } catch {
    // Only the template case gets here: the target is replaced whole, so its content does not matter.
    return undefined;
  }
}

/** PREFIX_CONF__ overrides of what the service does not document (its sample read only when there are some). */
function overrideWarnings<O, C>(sys: ConfPlanner<O, C>, edits: readonly PlannedEdit[], current: ConfigView): string[] {
  const confPrefix = envName('CONF__');
  if (!edits.some((e) => e.from.some((f) => f.startsWith(confPrefix)))) return [];
  const documented = documentedKeys(parseIni(sys.file.embedded(), sys.dialect.name), sys.dialect.layout);
  return undocumentedOverrides(edits, confPrefix, { documented, current, what: `${sys.title}'s ${sys.dialect.name}` });
}

export function planConfigure<O, C>(settings: Settings<O, C>, starting: StartingConf, sys: ConfPlanner<O, C>): ConfigurePlan {
  const { dialect } = sys;
  const confPath = settings.opts.confPath.value;
  const doc = parseIni(starting.text, starting.readFrom);
  const beforeView = dialect.read(doc).view;
  const planned = sys.planEdits(settings, beforeView);
  const { edits } = planned;
  // Names and keys that look meant for the service but that it would not read come first.
  const warnings = [...settings.warnings, ...overrideWarnings(sys, edits, beforeView), ...planned.warnings];
  let after = doc;
  // Written so that the service reads back exactly the value (Pulp: a literal % is %%).
  for (const e of edits) after = setKey(after, e.section, e.key, dialect.escape(e.value, e.from.join(', ')), dialect.layout);
  const afterText = printIni(after);
  const { view: effective, problems } = dialect.read(after);
  for (const p of problems) {
    const where = `${starting.readFrom} [${p.section}] ${p.key}`;
    if (dialect.refusedWhenUnreadable(p.section, p.key)) throw new InputError(`${where}: ${p.reason}`);
    warnings.push(`${where}: ${p.reason}`);
  }
  const targets = checkedTargets(sys, effective, edits);

  // The diff is taken against the target as it is now (the template case may have none yet).
  const currentText = starting.current ?? (starting.origin === 'embedded' ? starting.text : '');
  // Without a template the current file is the starting text, already parsed.
  const sameAsStart = currentText === starting.text;
  const currentDoc = currentText === '' ? undefined : sameAsStart ? doc : parseCurrent(currentText, confPath);
  const currentView = sameAsStart ? beforeView : currentDoc ? dialect.read(currentDoc).view : undefined;
  // Secret keys (the system's table, else by name) masked whole, URL passwords in any value.
  const mask = (section: string, key: string, value: string): string =>
    dialect.isSecret(section, key) && value !== '' ? MASK : redactUrl(value);
  // A changed secret must still show as a change, though both sides are masked.
  const maskAfter = (section: string, key: string, value: string): string =>
    dialect.isSecret(section, key) && value !== '' && currentView?.get(section)?.get(key) !== value ? `${MASK} (changed)` : mask(section, key, value);
  const shownBefore = currentDoc ? printIni(mapValues(currentDoc, mask)) : '';
  const shownAfter = printIni(mapValues(after, maskAfter));
  const label = confPath.replace(/^\//, '');
  const fromName =
    currentText === '' ? '/dev/null' : currentDoc ? `a/${label}` : `a/${label} (not an INI file; replaced whole, not shown)`;
  return {
    confPath,
    starting,
    edits: edits.map((e) => ({
      ...e,
      path: formatAugeasPath(confPath, e.section, e.key),
      shown: e.secret ? MASK : mask(e.section, e.key, e.value),
      changes: beforeView.get(e.section)?.get(e.key) !== e.value,
    })),
    warnings,
    after: afterText,
    // The embedded default stands in for a file that does not exist (preview only): whether
    // the edits change what is shown.
    writes: (starting.origin === 'embedded' ? starting.text : starting.current) !== afterText,
    effective,
    targets,
    diff: unifiedDiff(shownBefore, shownAfter, { fromName, toName: `b/${label}` }),
    secrets: [...planned.secrets, ...targets.flatMap((t) => (t.password === undefined ? [] : [t.password]))],
  };
}

export function applyConfigure(plan: ConfigurePlan): WriteResult {
  return writeConf(plan.confPath, plan.after, plan.starting.current, plan.starting.origin === 'template' ? plan.starting.readFrom : undefined);
}
