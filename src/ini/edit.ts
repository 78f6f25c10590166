// Key edits on the lossless document. Unlike augtool, a new key lands inside its own
// section's block (next to its commented-out default when there is one) and in the file's
// own "key: value" style; and anything ambiguous is refused instead of guessed. Two layouts of
// commented defaults are known (Layout): Pulp's and oslo-config-generator's.
import { InputError } from '../common/errors.ts';
import { fromLines } from './document.ts';
import type { IniDocument, IniLine, KeyLine } from './lines.ts';
import { pyLstrip, pyStrip } from './py-space.ts';
import { rawSections } from './read.ts';
import { assertSingleLine, replaceValue } from './replace.ts';
import { style } from './style.ts';

/**
 * How a file documents its defaults, for placing a new key and writing it.
 * - 'pulp' (server.conf): comment paragraphs after a section's last key document the NEXT
 *   section, above its header; a file without key lines is written "key: value".
 * - 'oslo' (oslo-config-generator's samples, keystone.conf): every line up to the next header
 *   belongs to the section ("#connection = <None>" far below "[database]"); "key = value".
 */
export type Layout = 'pulp' | 'oslo';

export function setKey(doc: IniDocument, section: string, key: string, value: string, layout: Layout = 'pulp'): IniDocument {
  assertSingleLine(value, `value of [${section}] ${key}`);
  checkNames(section, key);
  const found = locate(doc, section, key);
  if (found.keys.length > 1) throw ambiguousKey(doc, section, key, found.keys);
  let out: IniDocument;
  const existing = found.keys[0];
  if (existing !== undefined) {
    out = replaceValue(doc, existing, value);
  } else if (found.headers.length > 1) {
    const lines = found.headers.map((i) => i + 1).join(', ');
    throw new InputError(
      `${doc.fileName}: section [${section}] appears on lines ${lines} and none of them sets ${key}; refusing to guess where to add it`,
    );
  } else if (found.headers.length === 1) {
    out = insertKey(doc, found.headers[0]!, key, value, layout);
  } else {
    out = appendSection(doc, section, key, value, layout);
  }
  verify(doc, out, section, key, pyStrip(value));
  return out;
}

interface Located {
  /** Header line indexes of every occurrence of the section. */
  headers: number[];
  /** Key line indexes of the key, across all occurrences. */
  keys: number[];
}

function locate(doc: IniDocument, section: string, key: string): Located {
  const name = key.toLowerCase();
  const out: Located = { headers: [], keys: [] };
  let inside = false;
  doc.lines.forEach((line, index) => {
    if (line.kind === 'section') {
      inside = line.name === section;
      if (inside) out.headers.push(index);
    } else if (inside && line.kind === 'key' && line.name === name) {
      out.keys.push(index);
    }
  });
  return out;
}

function ambiguousKey(doc: IniDocument, section: string, key: string, keys: number[]): InputError {
  const lines = keys.map((i) => i + 1).join(', ');
  return new InputError(`${doc.fileName}: [${section}] ${key} is set on lines ${lines}; refusing to guess which one counts`);
}

function checkNames(section: string, key: string): void {
  if (section === '' || /[\r\n]/.test(section)) throw new InputError(`invalid section name ${JSON.stringify(section)}`);
  // A key ConfigParser would read back under another name, or not as a key at all.
  if (key === '' || pyStrip(key) !== key || /[\r\n=:]/.test(key) || /^[#;[]/.test(key)) {
    throw new InputError(`invalid key name ${JSON.stringify(key)}`);
  }
}

/**
 * Where a missing key goes in the section whose header is at index header:
 * 1. right after the section's own commented-out line for the key ("# seeds: ..."), the
 *    last one if there are several;
 * 2. else right after the section's last key (with its continuation lines);
 * 3. else right after the header and the comment lines that follow it without a blank
 *    line (Pulp's sections of commented-out defaults).
 * The section's own lines are the header's paragraph and every paragraph up to the one
 * holding its last key. Comment-only paragraphs after that belong to what follows: in
 * Pulp's file they document the next section, above its header.
 */
function insertKey(doc: IniDocument, header: number, key: string, value: string, layout: Layout): IniDocument {
  const lines = doc.lines;
  let end = header + 1;
  while (end < lines.length && lines[end]!.kind !== 'section') end++;

  // A blank line inside a multi-line value does not end a paragraph.
  const paragraphEnd = (from: number): number => {
    let i = from;
    while (i < end) {
      const line = lines[i]!;
      if (line.kind === 'blank') break;
      i = line.kind === 'key' ? line.spanEnd + 1 : i + 1;
    }
    return i;
  };
  const firstParagraphEnd = paragraphEnd(header + 1);
  let lastKeyEnd = -1;
  for (let i = header + 1; i < end; i++) {
    const line = lines[i]!;
    if (line.kind === 'key') lastKeyEnd = line.spanEnd;
  }
  const ownEnd = layout === 'oslo' ? end : Math.max(firstParagraphEnd, lastKeyEnd < 0 ? 0 : paragraphEnd(lastKeyEnd + 1));

  const name = key.toLowerCase();
  let commented = -1;
  for (let i = header + 1; i < ownEnd; i++) {
    const line = lines[i]!;
    if (line.kind === 'key') i = line.spanEnd;
    else if (line.kind === 'comment' && commentedKey(line.text) === name) commented = i;
  }
  const at = commented >= 0 ? commented + 1 : lastKeyEnd >= 0 ? lastKeyEnd + 1 : firstParagraphEnd;
  return insertLine(doc, at, keyLineText(doc, indentFor(lines, header, at), key, value, layout));
}

/** The key a comment line would set if uncommented ("# seeds: x" -> "seeds"), lower-cased. */
export function commentedKey(text: string): string | undefined {
  const m = /^[#;]+\s*([^=:\s][^=:]*?)\s*[=:]/.exec(pyStrip(text));
  return m?.[1]?.toLowerCase();
}

/**
 * The new line must neither continue the key before it nor swallow the line after it as
 * its own continuation, so it takes the indent of the key before it (which no later key
 * line exceeds), or else that of the next key or header.
 */
function indentFor(lines: readonly IniLine[], header: number, at: number): string {
  for (let i = at - 1; i > header; i--) {
    const line = lines[i]!;
    if (line.kind === 'continuation') return (lines[line.owner] as KeyLine).indent;
    if (line.kind === 'key') return line.indent;
  }
  for (let i = at; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.kind === 'key') return line.indent;
    if (line.kind === 'section') return line.text.slice(0, line.text.length - pyLstrip(line.text).length);
  }
  return '';
}

function keyLineText(doc: IniDocument, indent: string, key: string, value: string, layout: Layout): string {
  const { separator, afterSeparator } = style(doc, layout === 'oslo' ? ' =' : ':');
  return indent + key + separator + (value === '' ? '' : afterSeparator + value);
}

/** Inserts a line before index at, in the file's line ending, keeping a missing final newline missing. */
function insertLine(doc: IniDocument, at: number, text: string): IniDocument {
  const eol = style(doc).eol;
  const lines: { text: string; eol: IniLine['eol'] }[] = [...doc.lines];
  const last = lines.at(-1);
  if (at === lines.length && last !== undefined && last.eol === '') {
    lines[lines.length - 1] = { ...last, eol };
    lines.push({ text, eol: '' });
  } else {
    const next = lines[at];
    // A "\r" right before an empty "\n" line would read back as one "\r\n"; the line
    // before, which already precedes the next line safely, lends its ending instead.
    const merges = eol === '\r' && next !== undefined && next.text === '' && next.eol === '\n';
    lines.splice(at, 0, { text, eol: merges ? lines[at - 1]!.eol : eol });
  }
  return fromLines(doc, lines);
}

/** A new section goes at the end, after one blank line: "\n[section]\nkey: value\n". */
function appendSection(doc: IniDocument, section: string, key: string, value: string, layout: Layout): IniDocument {
  const eol = style(doc).eol;
  const lines: { text: string; eol: IniLine['eol'] }[] = [...doc.lines];
  const last = doc.lines.at(-1);
  const finalEol = last === undefined || last.eol !== '' ? eol : '';
  if (last !== undefined) {
    if (last.eol === '') lines[lines.length - 1] = { ...last, eol };
    // After a lone "\r", an empty "\n" line would read back as part of a "\r\n".
    if (last.kind !== 'blank') lines.push({ text: '', eol: last.eol === '\r' ? '\r' : eol });
  }
  lines.push({ text: `[${section}]`, eol });
  lines.push({ text: keyLineText(doc, '', key, value, layout), eol: finalEol });
  return fromLines(doc, lines);
}

/**
 * Defence in depth: ConfigParser must read back exactly the intended change and nothing
 * else. A failure here is a bug in the placement rules, not bad input.
 */
function verify(before: IniDocument, after: IniDocument, section: string, key: string, value: string): void {
  const expected = rawSections(before);
  let keys = expected.get(section);
  if (keys === undefined) expected.set(section, (keys = new Map()));
  keys.set(key.toLowerCase(), value);
  const actual = rawSections(after);
  const same =
    expected.size === actual.size &&
    [...expected].every(([s, kv]) => {
      const other = actual.get(s);
      return other !== undefined && other.size === kv.size && [...kv].every(([k, v]) => other.get(k) === v);
    });
  if (!same) throw new Error(`internal error: editing [${section}] ${key} in ${before.fileName} would change other settings`);
}
