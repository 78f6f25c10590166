// src/ini/interpolation.ts (escapeValue, interpolateView) against Python's ConfigParser.
// The reference is Python itself: Python 3's ConfigParser (default BasicInterpolation) always,
// and Python 2.7's SafeConfigParser (what Pulp 2 really uses) where an interpreter exists on
// this machine; without one the Python 2 tests skip and say so.
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { parseIni } from '../../src/ini/document.ts';
import { pyStrip } from '../../src/ini/py-space.ts';
import { toConfigView } from '../../src/ini/read.ts';
import { escapeValue, interpolateValue, interpolateView } from '../../src/ini/interpolation.ts';
import { configparserInterpolate, findPython2, fixture, FIXTURES, type PyInterpolated, type Sections, viewToObject } from '../helpers/ini.ts';
import { unavailable } from '../helpers/unavailable.ts';

const python2 = findPython2();
const NO_PYTHON2 = 'the checks against Python 2 SafeConfigParser: no Python 2.7 here (python2 on PATH or a pyenv 2.7)';

// ---- escapeValue ------------------------------------------------------------------------

// Printable text heavy in what interpolation and the INI syntax care about.
const valueChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...'%%%()s@:/#;= [].\'"\\éß→'.split(''), '\u00a0', '%(', ')s', '%%(', '%(x)s', '😀') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
// ConfigParser strips a value and ends it at a line break; escaping cannot change that, and
// the writer keeps such values out of server.conf anyway.
const writableValue = fc.string({ unit: valueChar, maxLength: 24 }).filter((v) => !/[\r\n]/.test(v) && pyStrip(v) === v);

function roundTripFiles(values: readonly string[]): string[] {
  return values.map((v) => `[s]\nk: ${escapeValue(v)}\n`);
}

function checkRoundTrip(t: Test, values: readonly string[], read: PyInterpolated[]): void {
  let same = 0;
  values.forEach((v, i) => {
    const got = read[i]!;
    const back = 'values' in got ? got.values.s?.k : undefined;
    if (back === v) same++;
    else t.same(got, { values: { s: { k: v } }, errors: { s: {} } }, `value ${JSON.stringify(v)} written as ${JSON.stringify(escapeValue(v))}`);
  });
  t.equal(same, values.length, `${values.length} values read back exactly`);
}

t.test('escapeValue: Python 3 reads back exactly the value (generated values)', async (t) => {
  const values = [
    'p%40ss%2Fw0rd',
    'qpid://guest:p%40ss%2Fw0rd@msg:5672',
    '%(name)s',
    '%%',
    '%',
    '100%',
    ...fc.sample(writableValue, { numRuns: 500, seed: 20240511 }),
  ];
  t.ok(values.some((v) => v.includes('%(')), 'some values look like references');
  checkRoundTrip(t, values, configparserInterpolate(roundTripFiles(values)));
});

t.test('escapeValue: Python 2 SafeConfigParser reads back exactly the value', async (t) => {
  if (python2 === undefined) return unavailable(t, NO_PYTHON2);
  // Python 2 (not 3) ends a value at " ;" (an inline comment): escaping cannot help there.
  const values = ['p%40ss%2Fw0rd', '%(name)s', ...fc.sample(writableValue, { numRuns: 300, seed: 77 })].filter((v) => !/\s;/.test(v));
  checkRoundTrip(t, values, configparserInterpolate(roundTripFiles(values), python2));
});

t.test('escapeValue only doubles percent signs', async (t) => {
  t.equal(escapeValue('qpid://guest:p%40ss%2Fw0rd@msg:5672'), 'qpid://guest:p%%40ss%%2Fw0rd@msg:5672');
  t.equal(escapeValue('no percent'), 'no percent');
  t.equal(escapeValue('%%'), '%%%%');
});

// ---- interpolateView ----------------------------------------------------------------------

const SECRET = 'S3cr3t';

const cases: Record<string, string> = {
  'percent-encoded password, raw': `[tasks]\nbroker_url: qpid://guest:p%40${SECRET}%2F@msg:5672\n`,
  'percent-encoded password, escaped': `[tasks]\nbroker_url: ${escapeValue(`qpid://guest:p%40${SECRET}%2F@msg:5672`)}\n`,
  'same section and DEFAULT references': [
    '[DEFAULT]',
    'host: db.example.com',
    'url: mongodb://%(host)s:%(port)s',
    '[database]',
    'port: 27017',
    'seeds: %(HOST)s:%(port)s',
    '[server]',
    'host: override',
    'port: 1',
    '[other]',
    'k: v',
  ].join('\n'),
  'chained references, literal percent in a referenced value': '[s]\na: %(b)s/%(c)s\nb: %(c)s!\nc: 100%%\n',
  'multi-line values with references': '[s]\na: first %(b)s\n  second %(b)s\nb: x\n  y\n',
  'missing references': '[s]\na: %(nope)s\nb: %(a)s\n[t]\nc: %(b)s\n',
  'bad percent signs': `[s]\na: 100%\nb: %(a\nc: %()s\nd: %(a)d\ne: ${SECRET}%x\nf: %(e)s\ng: %\n`,
  'self and mutual references': '[s]\na: %(a)s\nb: %(c)s\nc: %(b)s\nd: %(a)s\n',
  'chain of exactly ten levels reads': chain(10, 'end'),
  'chain of ten levels ending in a literal percent reads': chain(9, '%%'),
  'one level more than ten fails': chain(10, '%%'),
  'error order: missing before bad percent': '[s]\na: %(nope)s %\nb: % %(nope)s\n',
  '__name__ is not a key in Python 3': '[s]\na: %(__name__)s\n',
  'a reference to an empty value': '[s]\na:\nb: [%(a)s]\n',
};

// k0 refers to k1 ... k(n-1) refers to kn, whose value is last.
function chain(n: number, last: string): string {
  const lines = ['[s]'];
  for (let i = 0; i < n; i++) lines.push(`k${i}: <%(k${i + 1})s>`);
  lines.push(`k${n}: ${last}`);
  return lines.join('\n') + '\n';
}

// Python's dicts keep the order the keys were read in, which does not matter here.
function canonical(sections: Sections): string {
  const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify(Object.fromEntries(Object.entries(sections).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([s, o]) => [s, sorted(o)])));
}

/** Compares interpolateView with what Python's get() gave, key by key; returns the mismatches. */
function compare(text: string, py: PyInterpolated): string[] {
  if ('error' in py) return [`Python could not parse the file: ${py.error}`];
  const raw = toConfigView(parseIni(text));
  const { view, problems } = interpolateView(raw);
  const diffs: string[] = [];
  const ours = viewToObject(view);
  const expectedValues: Sections = {};
  for (const [section, keys] of Object.entries(py.errors)) {
    expectedValues[section] = { ...py.values[section] };
    for (const key of Object.keys(keys)) expectedValues[section][key] = raw.get(section)?.get(key) ?? '<missing>';
  }
  if (canonical(ours) !== canonical(expectedValues)) diffs.push(`values: ours ${canonical(ours)} python ${canonical(expectedValues)}`);
  const ourProblems = problems.map((p) => {
    const read = interpolateValue(raw.get(p.section)!, raw.get(p.section)!.get(p.key)!);
    return `${p.section}/${p.key}: ${read.ok ? 'ok?' : read.failure}`;
  });
  const pyProblems = Object.entries(py.errors).flatMap(([section, keys]) => Object.entries(keys).map(([key, cls]) => `${section}/${key}: ${cls}`));
  if (JSON.stringify(ourProblems.sort()) !== JSON.stringify(pyProblems.sort())) diffs.push(`problems: ours ${JSON.stringify(ourProblems)} python ${JSON.stringify(pyProblems)}`);
  for (const p of problems) {
    if (p.reason.includes(SECRET) || /[\r\n]/.test(p.reason)) diffs.push(`reason leaks the value or spans lines: ${JSON.stringify(p)}`);
    const value = raw.get(p.section)!.get(p.key)!;
    if (value.length >= 8 && p.reason.includes(value)) diffs.push(`reason contains the value: ${JSON.stringify(p)}`);
  }
  return diffs;
}

function checkAll(t: Test, names: readonly string[], texts: readonly string[], python?: string): void {
  const py = configparserInterpolate(texts, python);
  let same = 0;
  texts.forEach((text, i) => {
    const diffs = compare(text, py[i]!);
    if (diffs.length === 0) same++;
    else t.fail(`${names[i]}: ${JSON.stringify(text)}`, { diffs });
  });
  t.equal(same, texts.length, `${texts.length} files read the same as ${python ?? 'python3'}`);
}

t.test('interpolateView reads like Python 3 ConfigParser: hand-written cases and the fixtures', async (t) => {
  const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.conf')).sort();
  checkAll(t, [...Object.keys(cases), ...fixtureNames], [...Object.values(cases), ...fixtureNames.map(fixture)]);
});

t.test('interpolateView: what the cases are meant to show', async (t) => {
  const read = (name: string) => interpolateView(toConfigView(parseIni(cases[name]!)));
  const raw = read('percent-encoded password, raw');
  t.same(raw.problems.map((p) => [p.section, p.key]), [['tasks', 'broker_url']], 'the raw percent-encoded password is unreadable');
  t.notMatch(raw.problems[0]!.reason, SECRET, 'the reason does not show the password');
  t.equal(raw.view.get('tasks')!.get('broker_url'), `qpid://guest:p%40${SECRET}%2F@msg:5672`, 'kept raw');
  const escaped = read('percent-encoded password, escaped');
  t.same(escaped.problems, []);
  t.equal(escaped.view.get('tasks')!.get('broker_url'), `qpid://guest:p%40${SECRET}%2F@msg:5672`, 'escaped reads back as the URL');
  const refs = viewToObject(read('same section and DEFAULT references').view);
  t.equal(refs.database!.seeds, 'db.example.com:27017', 'DEFAULT key, upper-case reference');
  t.equal(refs.database!.url, 'mongodb://db.example.com:27017', "a DEFAULT value sees the section's keys");
  t.equal(refs.server!.url, 'mongodb://override:1');
  t.same(read('chain of exactly ten levels reads').problems, []);
  t.same(read('one level more than ten fails').problems.map((p) => p.key), ['k0']);
  t.same(read('missing references').problems.map((p) => `${p.section}/${p.key}`), ['s/a', 's/b', 't/c']);
});

// Values built from references (to keys that exist, are upper-cased, are missing or refer
// back), literal and bad percent signs, and a secret marker that no reason may show.
const token = fc.constantFrom(
  'plain', SECRET, '@', ' ', ':', '/', 'é', '(', ')s', 's',
  '%%', '%%', '%(x)s', '%(x)s', '%(Y)s', '%(z)s', '%(broker_url)s', '%(nope)s',
  '%', '%(', '%(x)', '%()s', '%(x)d', '%(x\n  y)s', '\n  continued ',
);
const genValue = fc.array(token, { maxLength: 5 }).map((ts) => ts.join(''));
const genKey = fc.constantFrom('x', 'y', 'z', 'X', 'Y', 'broker_url');
const genSection = fc
  .tuple(fc.constantFrom('DEFAULT', 'a', 'b', 'tasks'), fc.array(fc.tuple(genKey, genValue), { maxLength: 5 }))
  .map(([name, keys]) => [`[${name}]`, ...keys.map(([k, v]) => `${k}: ${v}`)].join('\n'));
const genFile = fc.array(genSection, { minLength: 1, maxLength: 4 }).map((sections) => sections.join('\n') + '\n');

const generated = fc.sample(genFile, { numRuns: 400, seed: 1105 });

t.test('interpolateView reads like Python 3 ConfigParser: generated files', async (t) => {
  t.ok(generated.some((text) => /%\((x|y|z)\)s/i.test(text)), 'the files have references');
  checkAll(t, generated.map((_, i) => `generated ${i}`), generated);
});

t.test('interpolateView reads like Python 2 SafeConfigParser (what Pulp 2 runs)', async (t) => {
  if (python2 === undefined) return unavailable(t, NO_PYTHON2);
  // The generated files avoid what Python 2 parses differently from Python 3 (" ;" comments,
  // blank lines in values, BOM, "\r"), and %(__name__)s, which only Python 2 resolves.
  const names = [...Object.keys(cases).filter((n) => !n.includes('__name__')), ...generated.map((_, i) => `generated ${i}`)];
  checkAll(t, names, [...Object.entries(cases).filter(([n]) => !n.includes('__name__')).map(([, text]) => text), ...generated], python2);
});

t.test('known difference: Python 2 resolves %(__name__)s to the section name, we (like Python 3) do not', async (t) => {
  if (python2 === undefined) return unavailable(t, NO_PYTHON2);
  const text = cases['__name__ is not a key in Python 3']!;
  const [py2] = configparserInterpolate([text], python2);
  t.same(py2, { values: { s: { a: 's' } }, errors: { s: {} } }, 'Python 2');
  t.same(interpolateView(toConfigView(parseIni(text))).problems.map((p) => p.key), ['a'], 'ours');
});
