// The sections and keys a service's sample file documents (pure): its key lines, and its
// commented-out defaults as the file's layout writes them. What a PREFIX_CONF__ override is
// checked against (conf-file/plan.ts): Keystone's option list is its sample, Pulp's keys are
// those of its server.conf.
import { commentedKey, type Layout } from './edit.ts';
import type { IniDocument } from './lines.ts';

/** section -> its keys, lower-cased as both services read them. */
export type Documented = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * - 'pulp': the comment lines right under a header, up to the first blank line, are the
 *   section's defaults ("# seeds: localhost:27017"); the paragraphs after them describe the
 *   next section, in prose that may look like keys ("# name:   name of the database").
 * - 'oslo': oslo-config-generator writes every option as "#name = default", with no space
 *   after the "#" (prose always has one), and a renamed option's old place as
 *   "# Deprecated group/name - [group]/name", which oslo.config still reads.
 */
export function documentedKeys(doc: IniDocument, layout: Layout): Documented {
  const out = new Map<string, Set<string>>();
  const add = (section: string, key: string | undefined): void => {
    if (key === undefined) return;
    const keys = out.get(section) ?? new Set<string>();
    keys.add(key.toLowerCase());
    out.set(section, keys);
  };
  let section: string | undefined;
  let underHeader = false;
  for (const line of doc.lines) {
    if (line.kind === 'section') {
      section = line.name;
      underHeader = true;
      if (!out.has(section)) out.set(section, new Set());
      continue;
    }
    if (line.kind === 'blank') underHeader = false;
    if (section === undefined) continue;
    if (line.kind === 'key') add(section, line.name);
    else if (line.kind === 'comment' && layout === 'pulp' && underHeader) add(section, commentedKey(line.text));
    else if (line.kind === 'comment' && layout === 'oslo') {
      const renamed = /^# Deprecated group\/name - \[([^\]]+)\]\/(\S+)$/.exec(line.text.trim());
      if (renamed?.[1] !== undefined) add(renamed[1], renamed[2]);
      else if (/^#\S/.test(line.text)) add(section, commentedKey(line.text));
    }
  }
  return out;
}
