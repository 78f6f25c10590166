// Shared by the test/ini-*.test.ts files: the reference reader (Python's ConfigParser) and
// generators of INI files that ConfigParser accepts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { ConfigView } from '../src/config-view.ts';

export type Sections = Record<string, Record<string, string>>;
export type PyRead = Sections | { error: string };

const SCRIPT = new URL('./ini-configparser.py', import.meta.url).pathname;
export const FIXTURES = new URL('../fixtures/server.conf/', import.meta.url).pathname;

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** What ConfigParser reads from each text; one python process for the whole batch. */
export function configparserRead(texts: readonly string[]): PyRead[] {
  if (texts.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'ini-configparser-'));
  try {
    const files = texts.map((text, i) => {
      const file = join(dir, `${i}.conf`);
      writeFileSync(file, text, 'utf8');
      return file;
    });
    const out = execFileSync('python3', [SCRIPT, ...files], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as PyRead);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function viewToObject(view: ConfigView): Sections {
  const out: Sections = {};
  for (const [section, keys] of view) out[section] = Object.fromEntries(keys);
  return out;
}

/** The document split into lines with their endings, for line-by-line comparisons. */
export function splitKeepEol(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

// ---- generated files ------------------------------------------------------------------

// Characters that stress the reader: delimiters and comment prefixes inside values,
// brackets, non-ASCII, and whitespace Python strips but JavaScript's trim() does not
// (U+0085, U+001C is left out as a control character) or the reverse (U+FEFF).
const textChar = fc.constantFrom(
  ...'abcxyzABC019_-./ \t:=#;[]"\'%@é'.split(''),
  '\u00a0',
  '\u3000',
  '\u0085',
  '\u000c',
  '\ufeff',
  'ß',
  '→',
);
const text = fc.string({ unit: textChar, maxLength: 14 });
const indent = fc.constantFrom('', '', '', ' ', '  ', '\t');
const eolChar = fc.constantFrom('\n', '\r\n', '\r');

export const commentLine = fc
  .tuple(indent, fc.constantFrom('#', ';', '# ', '##', '#;'), text)
  .map(([i, p, t]) => i + p + t);
export const blankLine = fc.constantFrom('', '', ' ', '\t', '  \t', '\u000c', '\u00a0');

export const sectionName = fc.oneof(
  fc.constantFrom('database', 'server', 'tasks', 'messaging', 'DEFAULT', 'Database', 'a b', 'x]y', ' spaced '),
  fc.string({ unit: fc.constantFrom(...'abcdef_.-'.split('')), minLength: 1, maxLength: 5 }),
);
const headerLine = fc
  .tuple(indent, sectionName, fc.constantFrom('', '', ' ', ' ; trailing note', ' junk]'))
  .map(([i, n, trailing]) => `${i}[${n}]${trailing}`);

export const keyName = fc.oneof(
  fc.constantFrom('seeds', 'name', 'Seeds', 'NAME', 'url', 'broker_url', 'a b', 'x.y-z', 'ключ', 'oauth_key'),
  fc
    .string({ unit: fc.constantFrom(...'abcXYZ_.-0 '.split('')), maxLength: 5 })
    .map((s) => `k${s.trimEnd()}`),
);
const separator = fc.constantFrom(':', '=', ': ', ' = ', ' : ', '= ', '\t=\t', ':  ', ' :');
// A continuation line must not read as a comment or a blank line.
const continuationText = fc.tuple(fc.constantFrom(...'x[=:é]"1'.split('')), text).map(([c, t]) => c + t);

const keyBlock = fc
  .record({
    indent,
    key: keyName,
    separator,
    value: text,
    extras: fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.tuple(fc.constantFrom(' ', '\t', '    '), continuationText).map(([more, t]) => ({ more, t })) },
        { weight: 1, arbitrary: blankLine },
        { weight: 1, arbitrary: commentLine },
      ),
      { maxLength: 3 },
    ),
  })
  // Continuation lines are indented deeper than their key line, so they always continue
  // the value (of this key, or of the one this key line itself continues).
  .map(({ indent: i, key, separator: s, value, extras }) => [
    i + key + s + value,
    ...extras.map((x) => (typeof x === 'string' ? x : i + x.more + x.t)),
  ]);

const sectionBlock = fc
  .tuple(
    headerLine,
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: keyBlock },
        { weight: 1, arbitrary: commentLine.map((l) => [l]) },
        { weight: 1, arbitrary: blankLine.map((l) => [l]) },
      ),
      { maxLength: 6 },
    ),
  )
  .map(([header, items]) => [header, ...items.flat()]);

/** A file ConfigParser accepts: comments and blank lines, then sections. */
export const iniFile: fc.Arbitrary<string> = fc
  .record({
    bom: fc.boolean(),
    finalNewline: fc.boolean(),
    eolMode: fc.constantFrom('\n', '\r\n', '\r', 'mixed'),
    eols: fc.array(eolChar, { minLength: 16, maxLength: 16 }),
    preamble: fc.array(fc.oneof(commentLine, blankLine), { maxLength: 3 }),
    sections: fc.array(sectionBlock, { maxLength: 5 }),
  })
  .map(({ bom, finalNewline, eolMode, eols, preamble, sections }) => {
    const lines = [...preamble, ...sections.flat()];
    let out = bom ? '\uFEFF' : '';
    lines.forEach((line, i) => {
      const eol = eolMode === 'mixed' ? eols[i % eols.length]! : eolMode;
      out += line + (i === lines.length - 1 && !finalNewline ? '' : eol);
    });
    return out;
  });

/** Lines ConfigParser rejects wherever they stand outside a value. */
export const badLine = fc.constantFrom('just words', ': no key', '= no key', 'key without separator', '[]');
