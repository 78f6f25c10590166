// PREFIX_CONF__SECTION__KEY: any key of any section, set as given, over what the other parts
// planned for it (with a warning naming what it replaced).
import { envName } from '../../common/program.ts';
import type { VarProblem } from '../kube.ts';
import * as v from '../validators.ts';
import { type Part, type PlannedEdit, edit } from './edit.ts';

const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** PREFIX_CONF__SECTION__KEY: any key, the most specific way to say it, so it wins over `planned`. */
export function overrideEdits(
  env: Readonly<Record<string, string>>,
  planned: PlannedEdit[],
  problems: VarProblem[],
  isSecret: (section: string, key: string) => boolean,
): Part & { warnings: string[] } {
  const CONF_PREFIX = envName('CONF__');
  const edits = [...planned];
  const secrets: string[] = [];
  const warnings: string[] = [];
  for (const name of Object.keys(env).filter((k) => k.startsWith(CONF_PREFIX)).sort()) {
    const parts = name.slice(CONF_PREFIX.length).split('__');
    const [section, key] = parts;
    if (parts.length !== 2 || section === undefined || key === undefined || !NAME_PART.test(section) || !NAME_PART.test(key)) {
      problems.push({ variable: name, problem: `is not of the form ${CONF_PREFIX}SECTION__KEY (letters, digits, "_", "-", ".")` });
      continue;
    }
    const value = env[name] ?? '';
    const p = v.textProblem(value);
    if (p) {
      problems.push({ variable: name, problem: p });
      continue;
    }
    // Sections are case-sensitive in both ConfigParser and oslo.config; the variable's name is
    // upper case, so the names are taken lower case, except DEFAULT, which both spell so.
    const s = section.toUpperCase() === 'DEFAULT' ? 'DEFAULT' : section.toLowerCase();
    const k = key.toLowerCase();
    const secret = isSecret(s, k);
    if (secret) secrets.push(value);
    const i = edits.findIndex((e) => e.section === s && e.key === k);
    if (i >= 0) {
      warnings.push(`${name} overrides [${s}] ${k} from ${edits[i]?.from.join(', ')}`);
      edits.splice(i, 1);
    }
    edits.push(edit(s, k, value, [name], secret));
  }
  return { edits, secrets, warnings };
}
