// Shared by the test/ini/*.test.ts files: the reference reader (Python's ConfigParser) and
// generators of INI files that ConfigParser accepts.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { ConfigView } from '../../src/ini/config-view.ts';
import { withTempDir } from './temp.ts';

export type Sections = Record<string, Record<string, string>>;
export type PyRead = Sections | { error: string };

const SCRIPT = new URL('../ini/configparser-read.py', import.meta.url).pathname;
export const FIXTURES = new URL('../../fixtures/server.conf/', import.meta.url).pathname;

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** What ConfigParser reads from each text; one python process for the whole batch. */
export function configparserRead(texts: readonly string[]): PyRead[] {
  return runConfigparser('python3', [], texts) as PyRead[];
}

export type PyInterpolated = { values: Sections; errors: Sections } | { error: string };

/**
 * What ConfigParser.get() returns for every key of each text with interpolation on (Python 3's
 * BasicInterpolation, or with a python2 interpreter Pulp 2's SafeConfigParser); errors holds
 * the exception class of each key get() raised on. One python process for the whole batch.
 */
export function configparserInterpolate(texts: readonly string[], python = 'python3'): PyInterpolated[] {
  return runConfigparser(python, ['--interpolation'], texts) as PyInterpolated[];
}

function runConfigparser(python: string, flags: readonly string[], texts: readonly string[]): unknown[] {
  if (texts.length === 0) return [];
  return withTempDir('ini-configparser-', (dir) => {
    const files = texts.map((text, i) => {
      const file = join(dir, `${i}.conf`);
      writeFileSync(file, text, 'utf8');
      return file;
    });
    const out = execFileSync(python, [SCRIPT, ...flags, ...files], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
  });
}

/**
 * A Python 2.7 interpreter with ConfigParser, if this machine has one: python2 on PATH, or
 * a pyenv-installed 2.7 (pyenv's python2 shim fails unless 2.7 is the selected version).
 */
export function findPython2(): string | undefined {
  const works = (python: string): boolean => {
    try {
      execFileSync(python, ['-c', 'import ConfigParser'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  for (const name of ['python2', 'python2.7']) if (works(name)) return name;
  try {
    const root = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
    const versions = execFileSync('pyenv', ['versions', '--bare'], { encoding: 'utf8' }).split('\n');
    for (const version of versions.map((v) => v.trim()).filter((v) => v.startsWith('2.7'))) {
      const python = join(root, 'versions', version, 'bin', 'python');
      if (works(python)) return python;
    }
  } catch {
    // no pyenv
  }
  return undefined;
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
