// environment -> settings -> edits -> file. planConfigure is pure (text in, text out);
// applyConfigure is the one effect: the write.
import type { ConfigView } from './config-view.ts';
import { type StartingConf, type WriteResult, writeConf } from './conf-file.ts';
import { unifiedDiff } from './diff.ts';
import { formatAugeasPath } from './ini/augeas-path.ts';
import { mapValues, parseIni, printIni, toConfigView } from './ini/document.ts';
import { setKey } from './ini/edit.ts';
import { redactValue } from './redact.ts';
import type { Env } from './settings/kube.ts';
import { type AgentOptions } from './settings/options.ts';
import { type PlannedEdit, planEdits } from './settings/edits.ts';

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
  /** What Pulp will read: the file after the edits. */
  effective: ConfigView;
  /** Unified diff of the file, before -> after, secrets masked. */
  diff: string;
}

export function planConfigure(env: Env, fileFrom: ReadonlyMap<string, string>, opts: AgentOptions, starting: StartingConf): ConfigurePlan {
  const confPath = opts.confPath.value;
  const doc = parseIni(starting.text, starting.readFrom);
  const beforeView = toConfigView(doc);
  const { edits, warnings } = planEdits(env, fileFrom, opts, beforeView);
  let after = doc;
  for (const e of edits) after = setKey(after, e.section, e.key, e.value);
  const afterText = printIni(after);
  // The diff is taken against the target as it is now (the template case may have none yet).
  const beforeText = starting.current ?? (starting.origin === 'embedded' ? starting.text : '');
  const mask = (_section: string, key: string, value: string): string => redactValue(key, value);
  const shownBefore = beforeText === '' ? '' : printIni(mapValues(parseIni(beforeText, confPath), mask));
  const shownAfter = printIni(mapValues(after, mask));
  const label = confPath.replace(/^\//, '');
  return {
    confPath,
    starting,
    edits: edits.map((e) => ({
      ...e,
      path: formatAugeasPath(confPath, e.section, e.key),
      shown: e.secret ? redactValue('password', e.value) : redactValue(e.key, e.value),
      changes: beforeView.get(e.section)?.get(e.key) !== e.value,
    })),
    warnings,
    after: afterText,
    effective: toConfigView(after),
    diff: unifiedDiff(shownBefore, shownAfter, {
      fromName: starting.current === undefined && starting.origin !== 'embedded' ? '/dev/null' : `a/${label}`,
      toName: `b/${label}`,
    }),
  };
}

export function applyConfigure(plan: ConfigurePlan): WriteResult {
  return writeConf(plan.confPath, plan.after, plan.starting.current, plan.starting.origin === 'template' ? plan.starting.readFrom : undefined);
}
