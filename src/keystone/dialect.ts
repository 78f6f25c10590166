// keystone.conf's dialect: oslo.config (not ConfigParser) reads it, so a value is written
// with each "$" as "\$" and quoted where oslo's strip would change it (src/ini/oslo-value.ts), and
// the effective file is what oslo.config returns: stripped, one pair of quotes removed, "$$"
// read as "$". A "$name" substitution the file itself holds is not followed: a key the agent
// or Keystone reads at start with one is refused, any other is warned about.
import type { ConfDialect, ReadProblem } from '../conf-file/dialect.ts';
import type { ConfigView } from '../ini/config-view.ts';
import { pyStrip } from '../ini/py-space.ts';
import { osloValue } from '../ini/oslo-value.ts';
import { rawSections } from '../ini/read.ts';
import { isSecret, keyLabel, refusedWhenUnreadable } from './keys.ts';

/** What oslo.config returns for a raw value without substitutions; undefined when it has one. */
export function osloRead(raw: string): string | undefined {
  let v = pyStrip(raw);
  const first = v[0];
  // As oslo's iniparser: a lone quote is its own pair, and reads as "".
  if (first !== undefined && first === v.at(-1) && (first === '"' || first === "'")) v = v.slice(1, -1);
  // oslo.config first reads "\$" as "$$"; "$$" is a literal "$"; any other "$" starts a
  // substitution of another option.
  v = v.replaceAll('\\$', '$$$$');
  if (/\$(?!\$)/.test(v.replaceAll('$$', ''))) return undefined;
  return v.replaceAll('$$', '$');
}

function read(view: ConfigView): { view: ConfigView; problems: ReadProblem[] } {
  const problems: ReadProblem[] = [];
  const out = new Map<string, Map<string, string>>();
  for (const [section, keys] of view) {
    const s = new Map<string, string>();
    for (const [key, raw] of keys) {
      const v = osloRead(raw);
      if (v === undefined) {
        problems.push({ section, key, reason: 'holds a $name substitution, which oslo.config resolves and the agent does not follow (write \\$ for a literal $)' });
        s.set(key, raw);
      } else s.set(key, v);
    }
    out.set(section, s);
  }
  return { view: out, problems };
}

export const KEYSTONE_DIALECT: ConfDialect = {
  name: 'keystone.conf',
  layout: 'oslo',
  escape: osloValue,
  // oslo.config has no ConfigParser DEFAULT inheritance: [DEFAULT] is a group of its own.
  read: (doc) => read(rawSections(doc)),
  isSecret,
  refusedWhenUnreadable,
  label: keyLabel,
};
