// A lossless model of server.conf. Pulp reads the file with Python's ConfigParser, so every
// classification below mirrors ConfigParser._read (Python 3.11, delimiters "=" and ":",
// comment prefixes "#" and ";", no inline comments, empty lines allowed inside values,
// strict=False). Anything ConfigParser would accept is kept byte for byte; printing the
// unmodified model gives the input back.
import type { ConfigView } from './config-view.ts';
import { InputError } from '../common/errors.ts';

export type LineEnding = '' | '\n' | '\r\n' | '\r';

interface LineBase {
  /** The line without its line ending. */
  readonly text: string;
  /** '' only on a last line that has no final newline. */
  readonly eol: LineEnding;
}

export interface BlankLine extends LineBase {
  readonly kind: 'blank';
}
export interface CommentLine extends LineBase {
  readonly kind: 'comment';
}
export interface SectionLine extends LineBase {
  readonly kind: 'section';
  readonly name: string;
}
export interface KeyLine extends LineBase {
  readonly kind: 'key';
  /** The key as ConfigParser stores it (optionxform lower-cases it). */
  readonly name: string;
  /** Leading whitespace; ConfigParser compares its length to spot continuation lines. */
  readonly indent: string;
  /** Offsets of the value (stripped like ConfigParser strips it) within text. */
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Index of the value's last line: the last continuation line, or this line. */
  readonly spanEnd: number;
}
export interface ContinuationLine extends LineBase {
  readonly kind: 'continuation';
  /** Index of the key line whose value this line continues. */
  readonly owner: number;
}

export type IniLine = BlankLine | CommentLine | SectionLine | KeyLine | ContinuationLine;

/** Treat as immutable: edits return a new document. */
export interface IniDocument {
  readonly fileName: string;
  readonly bom: '' | '\uFEFF';
  readonly lines: readonly IniLine[];
}

/** ConfigParser's section for keys shared by every section. */
export const DEFAULT_SECTION = 'DEFAULT';

// Python's str.strip() and re's \s use str.isspace(), which differs from JavaScript's
// \s (no U+FEFF, but U+0085 and U+001C..U+001F count).
function isPySpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}
// ConfigParser.SECTCRE: greedy, so the name runs to the last "]" and anything after it is ignored.
const SECTION_RE = /^\[(.+)\]/s;
const DELIMITER_RE = /[=:]/;
// Control characters other than tab, VT, FF, CR, LF, plus U+FFFD (what a lenient UTF-8 decoder
// leaves behind): ConfigParser would accept most of them, but in server.conf they only
// mean the file is not text.
const GARBAGE_RE = /[\x00-\x08\x0e-\x1f\x7f\ufffd]/;
// Python's text mode reads \r\n, \r and \n alike as line ends.
const EOL_RE = /\r\n|\r|\n/g;

function leadingSpace(s: string): number {
  let i = 0;
  while (i < s.length && isPySpace(s.charCodeAt(i))) i++;
  return i;
}
function trailingSpaceStart(s: string): number {
  let i = s.length;
  while (i > 0 && isPySpace(s.charCodeAt(i - 1))) i--;
  return i;
}
export function pyLstrip(s: string): string {
  return s.slice(leadingSpace(s));
}
export function pyRstrip(s: string): string {
  return s.slice(0, trailingSpaceStart(s));
}
export function pyStrip(s: string): string {
  return pyRstrip(pyLstrip(s));
}

export function parseIni(text: string, fileName = '<input>'): IniDocument {
  const bom: IniDocument['bom'] = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  const raw = splitLines(text.slice(bom.length));

  const lines: IniLine[] = [];
  let inSection = false;
  // Index of the key line whose value continuation lines extend (ConfigParser's optname).
  let owner = -1;
  // Indent of the last section or key line (ConfigParser's indent_level).
  let indentLevel = 0;
  for (let i = 0; i < raw.length; i++) {
    const { text: lineText, eol } = raw[i]!;
    const fail = (what: string): never => parseError(fileName, i, what);
    refuseNonText(lineText, fail);
    const indent = leadingSpace(lineText);
    const stripped = lineText.slice(indent, Math.max(indent, trailingSpaceStart(lineText)));
    if (stripped.startsWith('#') || stripped.startsWith(';')) {
      lines.push({ kind: 'comment', text: lineText, eol });
      continue;
    }
    if (stripped === '') {
      lines.push({ kind: 'blank', text: lineText, eol });
      continue;
    }
    if (owner >= 0 && indent > indentLevel) {
      const key = lines[owner] as KeyLine;
      lines[owner] = { ...key, spanEnd: i };
      lines.push({ kind: 'continuation', text: lineText, eol, owner });
      continue;
    }
    indentLevel = indent;
    const header = SECTION_RE.exec(stripped);
    if (header !== null) {
      lines.push({ kind: 'section', text: lineText, eol, name: header[1]! });
      inSection = true;
      owner = -1;
      continue;
    }
    if (!inSection) fail('text before the first [section] header (only comments and blank lines may come first)');
    owner = lines.length;
    lines.push(keyLine(lineText, eol, i, indent, stripped, fail));
  }
  return { fileName, bom, lines };
}

/** Control characters and U+FFFD: ConfigParser would take most, but in server.conf they mean the file is not text. */
function refuseNonText(lineText: string, fail: (what: string) => never): void {
  const garbage = GARBAGE_RE.exec(lineText);
  if (garbage === null) return;
  const code = garbage[0].codePointAt(0)!;
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  fail(code === 0xfffd ? 'U+FFFD replacement character: not valid UTF-8 text' : `control character U+${hex}: not a text file`);
}

/** A "key = value" or "key: value" line at `index` (ConfigParser's OPTCRE): its name and where its value lies. */
function keyLine(lineText: string, eol: LineEnding, index: number, indent: number, stripped: string, fail: (what: string) => never): KeyLine {
  const delimiter = DELIMITER_RE.exec(stripped) ?? fail(`not a [section] header, a "key: value" line or a comment: ${JSON.stringify(stripped.slice(0, 60))}`);
  const at = delimiter.index;
  const name = pyRstrip(stripped.slice(0, at));
  if (name === '') fail(`"${delimiter[0]}" without a key name before it`);
  const rest = stripped.slice(at + 1);
  return {
    kind: 'key',
    text: lineText,
    eol,
    name: name.toLowerCase(),
    indent: lineText.slice(0, indent),
    valueStart: indent + at + 1 + (rest.length - pyLstrip(rest).length),
    valueEnd: indent + stripped.length,
    spanEnd: index,
  };
}

function parseError(fileName: string, index: number, what: string): never {
  throw new InputError(`${fileName}: line ${index + 1}: ${what}`);
}

function splitLines(body: string): { text: string; eol: LineEnding }[] {
  const out: { text: string; eol: LineEnding }[] = [];
  let start = 0;
  EOL_RE.lastIndex = 0;
  for (let m = EOL_RE.exec(body); m !== null; m = EOL_RE.exec(body)) {
    out.push({ text: body.slice(start, m.index), eol: m[0] as LineEnding });
    start = m.index + m[0].length;
  }
  if (start < body.length) out.push({ text: body.slice(start), eol: '' });
  return out;
}

export function printIni(doc: IniDocument): string {
  let out = doc.bom;
  for (const line of doc.lines) out += line.text + line.eol;
  return out;
}

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

export function mapValues(doc: IniDocument, fn: (section: string, key: string, value: string) => string): IniDocument {
  const changes: { index: number; value: string }[] = [];
  forEachKey(doc, (section, index, line) => {
    const value = readValue(doc, index);
    const next = fn(section, line.name, value);
    if (next !== value) changes.push({ index, value: next });
  });
  let out = doc;
  // Back to front, so earlier indexes stay valid while later spans collapse.
  for (const { index, value } of changes.reverse()) out = replaceValue(out, index, value);
  return out;
}

/** Rebuilds a document from lines; used by edits, which re-classify everything they produce. */
export function fromLines(doc: IniDocument, lines: readonly LineBase[]): IniDocument {
  let text = doc.bom;
  for (const line of lines) text += line.text + line.eol;
  return parseIni(text, doc.fileName);
}

export function assertSingleLine(value: string, what: string): void {
  if (/[\r\n]/.test(value)) throw new InputError(`${what} contains a line break: ${JSON.stringify(value)}`);
}

/**
 * Replaces the whole value of the key line at index (continuation lines included) by a
 * one-line value, keeping the key's spelling, separator, spacing and line ending.
 */
export function replaceValue(doc: IniDocument, index: number, value: string): IniDocument {
  assertSingleLine(value, 'value');
  const key = doc.lines[index] as KeyLine;
  let head = key.text.slice(0, key.valueStart);
  let tail = key.text.slice(key.valueEnd);
  if (value === '') {
    head = pyRstrip(head);
    tail = '';
  } else if (key.valueStart === key.valueEnd) {
    // "oauth_key:" has no space to keep; whitespace left after it, or else the file's
    // usual spacing, goes between separator and value.
    head += tail !== '' ? tail : style(doc).afterSeparator;
    tail = '';
  }
  const last = doc.lines[key.spanEnd]!;
  const lines: LineBase[] = [
    ...doc.lines.slice(0, index),
    { text: head + value + tail, eol: last.eol },
    ...doc.lines.slice(key.spanEnd + 1),
  ];
  return fromLines(doc, lines);
}

export interface Style {
  /** Whitespace and delimiter between key and value, up to the value's first space: " =" or ":". */
  readonly separator: string;
  readonly afterSeparator: string;
  readonly eol: '\n' | '\r\n' | '\r';
}

/**
 * The file's dominant conventions. Without any key line to learn from, Pulp's own
 * "key: value" is assumed; without any line ending, "\n".
 */
export function style(doc: IniDocument): Style {
  const separators = new Map<string, number>();
  const spacings = new Map<string, number>();
  const eols = new Map<string, number>();
  for (const line of doc.lines) {
    if (line.eol !== '') bump(eols, line.eol);
    if (line.kind !== 'key') continue;
    const between = line.text.slice(line.indent.length, line.valueStart);
    const at = DELIMITER_RE.exec(between)!.index;
    const keyEnd = pyRstrip(between.slice(0, at)).length;
    bump(separators, between.slice(keyEnd, at + 1));
    if (line.valueStart < line.valueEnd) bump(spacings, between.slice(at + 1));
  }
  return {
    separator: dominant(separators) ?? ':',
    afterSeparator: dominant(spacings) ?? ' ',
    eol: (dominant(eols) ?? '\n') as Style['eol'],
  };
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

// Ties go to the first seen, so a file's first convention wins over a later one.
function dominant(counts: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [key, count] of counts) {
    if (count > bestCount) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}
