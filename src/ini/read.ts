// Values as ConfigParser reads them: one key's (continuation lines joined), each section's
// keys as written, and the view Pulp gets (DEFAULT's keys in every section).
import type { ConfigView } from './config-view.ts';
import type { IniDocument, KeyLine } from './lines.ts';
import { pyRstrip, pyStrip } from './py-space.ts';

/** ConfigParser's section for keys shared by every section. */
export const DEFAULT_SECTION = 'DEFAULT';

/** The value of the key line at index, read the way ConfigParser reads it. */
export function readValue(doc: IniDocument, index: number): string {
  const key = doc.lines[index] as KeyLine;
  const parts = [key.text.slice(key.valueStart, key.valueEnd)];
  for (let i = index + 1; i <= key.spanEnd; i++) {
    const line = doc.lines[i]!;
    // Blank lines inside a value become empty lines of it; comment lines vanish.
    if (line.kind === 'blank') parts.push('');
    else if (line.kind === 'continuation') parts.push(pyStrip(line.text));
  }
  return pyRstrip(parts.join('\n'));
}

/** Calls fn for every key line with the name of the section it is in. */
export function forEachKey(doc: IniDocument, fn: (section: string, index: number, line: KeyLine) => void): void {
  let section = '';
  doc.lines.forEach((line, index) => {
    if (line.kind === 'section') section = line.name;
    else if (line.kind === 'key') fn(section, index, line);
  });
}

/**
 * Sections as written, without ConfigParser's DEFAULT inheritance; duplicate sections are
 * merged and a later key wins, as with strict=False.
 */
export function rawSections(doc: IniDocument): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  doc.lines.forEach((line, index) => {
    if (line.kind === 'section') {
      current = out.get(line.name);
      if (current === undefined) out.set(line.name, (current = new Map()));
    } else if (line.kind === 'key') {
      current!.set(line.name, readValue(doc, index));
    }
  });
  return out;
}

/**
 * What ConfigParser(interpolation=None, strict=False) reads: for every section but DEFAULT,
 * ConfigParser.items(section), i.e. DEFAULT's keys first, then the section's own keys,
 * which override them. Duplicate sections are merged, the later key winning.
 */
export function toConfigView(doc: IniDocument): ConfigView {
  const raw = rawSections(doc);
  const defaults = raw.get(DEFAULT_SECTION) ?? new Map<string, string>();
  const view = new Map<string, ReadonlyMap<string, string>>();
  for (const [name, keys] of raw) {
    if (name !== DEFAULT_SECTION) view.set(name, new Map([...defaults, ...keys]));
  }
  return view;
}
