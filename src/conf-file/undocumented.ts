// PREFIX_CONF__SECTION__KEY names any key, so a misspelt one (PULP_CONF__DATABSE__SEEDS) would
// add a section the service never reads, without a word. Each override's section and key are
// looked up in what the service documents (its sample file: Keystone's option list, Pulp's
// server.conf) and in the file itself; one that neither has is warned about, with the one meant.
// The value is still written: a plugin's or a newer release's key is the operator's to set.
import type { ConfigView } from '../ini/config-view.ts';
import type { Documented } from '../ini/documented.ts';
import { didYouMean } from '../common/suggest.ts';
import type { PlannedEdit } from '../settings/edits/edit.ts';
import { unique } from '../settings/kube.ts';

export interface KnownKeys {
  /** The sample's sections and keys. */
  documented: Documented;
  /** The file as it is (its own sections and keys count as known). */
  current: ConfigView;
  /** "Pulp 2's server.conf": who documents them, for the message. */
  what: string;
}

/** The warnings for the edits a PREFIX_CONF__ variable made (`confPrefix`), in the edits' order. */
export function undocumentedOverrides(edits: readonly PlannedEdit[], confPrefix: string, known: KnownKeys): string[] {
  const sections = unique([...known.documented.keys(), ...known.current.keys()]);
  const out: string[] = [];
  for (const e of edits) {
    const variable = e.from.find((f) => f.startsWith(confPrefix));
    if (variable === undefined) continue;
    // Both readers always have a DEFAULT section, documented or not.
    if (!sections.includes(e.section) && e.section !== 'DEFAULT') {
      out.push(`${variable}: ${known.what} documents no section [${e.section}]${didYouMean(e.section, sections, (s) => `[${s}]`)}; written as given`);
      continue;
    }
    const keys = unique([...(known.documented.get(e.section) ?? []), ...(known.current.get(e.section)?.keys() ?? [])]);
    if (!keys.includes(e.key)) out.push(`${variable}: ${known.what} documents no key ${e.key} in [${e.section}]${didYouMean(e.key, keys)}; written as given`);
  }
  return out;
}
