// src/ini/edit.ts: key edits on the lossless document, read back by ConfigParser.
import fc from 'fast-check';
import t from 'tap';
import { InputError } from '../../src/common/errors.ts';
import { parseIni, printIni } from '../../src/ini/document.ts';
import type { IniDocument, KeyLine } from '../../src/ini/lines.ts';
import { pyStrip } from '../../src/ini/py-space.ts';
import { rawSections, toConfigView } from '../../src/ini/read.ts';
import { setKey } from '../../src/ini/edit.ts';
import { configparserRead, fixture, iniFile, type Sections, splitKeepEol, viewToObject } from '../helpers/ini.ts';

/** A key's value as ConfigParser reads it (no DEFAULT), lower-cased names as it stores them. */
const read = (doc: IniDocument, section: string, key: string): string | undefined => rawSections(doc).get(section)?.get(key.toLowerCase());

const set = (text: string, section: string, key: string, value: string): string =>
  printIni(setKey(parseIni(text, 'server.conf'), section, key, value));

/** The text with line (1-based, after which it goes) inserted. */
function withLineAfter(text: string, after: number, line: string): string {
  const lines = splitKeepEol(text);
  lines.splice(after, 0, line);
  return lines.join('');
}

t.test('existing key: only the value changes', async (t) => {
  t.equal(set('[database]\nseeds: localhost:27017\n', 'database', 'seeds', 'db:27017'), '[database]\nseeds: db:27017\n');
  t.equal(set('[database]\n  Seeds   =\tlocalhost   \n', 'database', 'seeds', 'db'), '[database]\n  Seeds   =\tdb   \n', 'spelling, indent, spacing, trailing blanks kept');
  t.equal(set('[a]\nk=v\nx: 1\n', 'a', 'K', 'w'), '[a]\nk=w\nx: 1\n', 'key looked up case-insensitively, like optionxform');
  t.equal(set('[a]\r\nk: v\r\n', 'a', 'k', 'w'), '[a]\r\nk: w\r\n', 'CRLF kept');
  t.equal(set('[a]\nk: v\r\nx: 1\n', 'a', 'k', 'w'), '[a]\nk: w\r\nx: 1\n', "the line's own ending kept");
  t.equal(set('[a]\nk: v', 'a', 'k', 'w'), '[a]\nk: w', 'no final newline stays so');
  t.equal(set('[a]\nk: v # not a comment\n', 'a', 'k', 'w'), '[a]\nk: w\n', 'ConfigParser has no inline comments: all of it was value');
  t.equal(set('[a]\nk: v\n', 'a', 'k', ''), '[a]\nk:\n', 'empty value: no dangling space');
});

t.test('existing key with an empty value gets the file\'s spacing', async (t) => {
  t.equal(set('[oauth]\nenabled: true\noauth_key:\n', 'oauth', 'oauth_key', 'abc'), '[oauth]\nenabled: true\noauth_key: abc\n');
  t.equal(set('[oauth]\nenabled=true\noauth_key=\n', 'oauth', 'oauth_key', 'abc'), '[oauth]\nenabled=true\noauth_key=abc\n', 'no spaces in a key=value file');
  t.equal(set('[oauth]\noauth_key = \n', 'oauth', 'oauth_key', 'abc'), '[oauth]\noauth_key = abc\n', 'the space already there is used');
  t.equal(set('[oauth]\noauth_key:', 'oauth', 'oauth_key', 'abc'), '[oauth]\noauth_key: abc', 'a file without keys to learn from: ": "');
});

t.test('existing multi-line value is replaced whole', async (t) => {
  const text = '[database]\nseeds: a,\n  b,\n\n# note\n  c\n\nname: x\n';
  t.equal(set(text, 'database', 'seeds', 'db:27017'), '[database]\nseeds: db:27017\n\nname: x\n');
  t.equal(set('[a]\nk: 1\n  2\n  3', 'a', 'k', 'v'), '[a]\nk: v', 'the last line of the value gives the line ending');
});

t.test('missing key: after the commented-out line for it', async (t) => {
  const text = '[database]\n# name: pulp_database\n# seeds: localhost:27017\n# username:\n';
  t.equal(set(text, 'database', 'seeds', 'db:27017'), '[database]\n# name: pulp_database\n# seeds: localhost:27017\nseeds: db:27017\n# username:\n');
  t.equal(set('[a]\n#seeds:\n;x = 1\n', 'a', 'x', '2'), '[a]\n#seeds:\n;x = 1\nx: 2\n', '";" and "=" in the commented line');
  t.equal(set('[a]\nname: n\n#seeds:\nother: o\n', 'a', 'seeds', 's'), '[a]\nname: n\n#seeds:\nseeds: s\nother: o\n', 'even among keys');
  t.equal(set('[a]\n# Seeds = a\n#  seeds: b\n\n', 'a', 'seeds', 's'), '[a]\n# Seeds = a\n#  seeds: b\nseeds: s\n\n', 'the last of several');
});

t.test('missing key: after the last key line, continuation included', async (t) => {
  const text = '[database]\nname: pulp\nseeds: a,\n  b\n# username: admin\n\n# = Server =\n# server_name: x\n\n[server]\n';
  t.equal(
    set(text, 'database', 'replica_set', 'rs0'),
    '[database]\nname: pulp\nseeds: a,\n  b\nreplica_set: rs0\n# username: admin\n\n# = Server =\n# server_name: x\n\n[server]\n',
  );
});

t.test("missing key: never in the next section's comment block", async (t) => {
  const text = '[database]\n# seeds: localhost\n\n\n# = Server =\n#\n# server_name: hostname\n\n[server]\n# server_name: host\n';
  t.equal(set(text, 'database', 'name', 'pulp'), '[database]\n# seeds: localhost\nname: pulp\n\n\n# = Server =\n#\n# server_name: hostname\n\n[server]\n# server_name: host\n', "after the section's commented keys");
  t.equal(
    set(text, 'database', 'server_name', 'no'),
    '[database]\n# seeds: localhost\nserver_name: no\n\n\n# = Server =\n#\n# server_name: hostname\n\n[server]\n# server_name: host\n',
    "a commented line in the next section's documentation does not count",
  );
  t.equal(set(text, 'server', 'server_name', 'pulp.example.com'), `${text}server_name: pulp.example.com\n`);
  t.equal(set('[a]\n\n# doc of b\n[b]\n', 'a', 'k', 'v'), '[a]\nk: v\n\n# doc of b\n[b]\n', 'blank after the header: right after it');
  t.equal(set('[a]\n[b]\n', 'a', 'k', 'v'), '[a]\nk: v\n[b]\n');
  t.equal(set('[a]\nx: 1\n\n# trailing\n# words\n', 'a', 'k', 'v'), '[a]\nx: 1\nk: v\n\n# trailing\n# words\n', 'at the end of the file too');
});

t.test('missing key: separator style, indentation, line ending of the file', async (t) => {
  t.equal(set('[a]\nx = 1\ny = 2\nz: 3\n', 'a', 'k', 'v'), '[a]\nx = 1\ny = 2\nz: 3\nk = v\n', 'dominant " = "');
  t.equal(set('[a]\nx=1\n', 'a', 'k', 'v'), '[a]\nx=1\nk=v\n');
  t.equal(set('[a]\n# x = 1\n', 'a', 'k', 'v'), '[a]\n# x = 1\nk: v\n', 'no key line to learn from: Pulp\'s ": "');
  t.equal(set('[a]\r\nx: 1\r\n', 'a', 'k', 'v'), '[a]\r\nx: 1\r\nk: v\r\n');
  t.equal(set('[a]\r\nx: 1\r\ny: 2\n', 'a', 'k', 'v'), '[a]\r\nx: 1\r\ny: 2\nk: v\r\n', 'dominant line ending');
  t.equal(set('[a]\nx: 1', 'a', 'k', 'v'), '[a]\nx: 1\nk: v', 'no final newline stays so');
  t.equal(set('[a]\n    x: 1\n[b]\n', 'a', 'k', 'v'), '[a]\n    x: 1\n    k: v\n[b]\n', 'indent of the key before it');
  // Unindented, the new key would swallow "  x: 1" as its continuation.
  t.equal(set('[a]\n# k: 0\n  x: 1\n', 'a', 'k', 'v'), '[a]\n# k: 0\n  k: v\n  x: 1\n', 'indent of the key after it');
});

t.test('missing section: appended at the end', async (t) => {
  t.equal(set('[a]\nx: 1\n', 'new', 'k', 'v'), '[a]\nx: 1\n\n[new]\nk: v\n');
  t.equal(set('[a]\nx: 1\n\n', 'new', 'k', 'v'), '[a]\nx: 1\n\n[new]\nk: v\n', 'an existing blank line is enough');
  t.equal(set('[a]\nx: 1', 'new', 'k', 'v'), '[a]\nx: 1\n\n[new]\nk: v', 'no final newline');
  t.equal(set('[a]\r\nx = 1\r\n', 'new', 'k', 'v'), '[a]\r\nx = 1\r\n\r\n[new]\r\nk = v\r\n', "the file's style");
  t.equal(set('', 'new', 'k', 'v'), '[new]\nk: v\n', 'empty file');
  t.equal(set('\uFEFF', 'new', 'k', 'v'), '\uFEFF[new]\nk: v\n', 'BOM kept');
  t.equal(set('# just a comment\n', 'new', 'k', ''), '# just a comment\n\n[new]\nk:\n');
});

t.test('the four keys the original set, on the embedded default', async (t) => {
  const text = fixture('pulp-default.conf');
  let doc = parseIni(text);
  doc = setKey(doc, 'database', 'seeds', 'db:27017');
  doc = setKey(doc, 'server', 'server_name', 'pulp.example.com');
  doc = setKey(doc, 'messaging', 'url', 'tcp://msg:5672');
  doc = setKey(doc, 'tasks', 'broker_url', 'qpid://guest@msg:5672');
  const lineOf = (line: string): number => splitKeepEol(text).indexOf(`${line}\n`) + 1;
  let expected = text;
  // Bottom up, so the earlier line numbers stay valid.
  expected = withLineAfter(expected, lineOf('# broker_url: qpid://localhost/'), 'broker_url: qpid://guest@msg:5672\n');
  expected = withLineAfter(expected, lineOf('# url: tcp://localhost:5672'), 'url: tcp://msg:5672\n');
  expected = withLineAfter(expected, lineOf('# server_name: server_hostname'), 'server_name: pulp.example.com\n');
  expected = withLineAfter(expected, lineOf('# seeds: localhost:27017'), 'seeds: db:27017\n');
  t.equal(printIni(doc), expected);
  t.equal(read(doc, 'tasks', 'broker_url'), 'qpid://guest@msg:5672');

  const [py] = configparserRead([printIni(doc)]);
  const sections = viewToObject(toConfigView(parseIni(text)));
  sections.database = { seeds: 'db:27017' };
  sections.server = { server_name: 'pulp.example.com' };
  sections.messaging = { url: 'tcp://msg:5672' };
  sections.tasks = { broker_url: 'qpid://guest@msg:5672' };
  t.same(py, sections, 'ConfigParser reads the four values and nothing else');
});

t.test('every fixture: ConfigParser reads the edit and every other key unchanged', async (t) => {
  const names = ['pulp-uncommented.conf', 'pulp-crlf.conf', 'pulp-no-final-newline.conf', 'pulp-bom.conf', 'pulp-equals.conf', 'multiline.conf'];
  const edits: [string, string, string][] = [
    ['database', 'seeds', 'db:27017'],
    ['server', 'server_name', 'pulp.example.com'],
    ['messaging', 'url', 'tcp://msg:5672'],
    ['tasks', 'broker_url', 'qpid://guest@msg:5672'],
    ['tasks', 'login_method', 'EXTERNAL'],
    ['oauth', 'oauth_key', 'abc'],
    ['email', 'enabled', 'true'],
    ['brand_new', 'k', 'v'],
  ];
  const texts: string[] = [];
  const expected: Sections[] = [];
  for (const name of names) {
    const original = fixture(name);
    let doc = parseIni(original, name);
    let view: Sections = {};
    for (const [section, key, value] of edits) {
      view = expectedAfterSet(doc, section, key, value);
      doc = setKey(doc, section, key, value);
    }
    const out = printIni(doc);
    t.equal(out.startsWith('\uFEFF'), original.startsWith('\uFEFF'), `${name}: BOM kept or absent`);
    t.equal(out.endsWith('\n'), original.endsWith('\n'), `${name}: final newline kept or absent`);
    t.equal(out.includes('\r\n'), original.includes('\r\n'), `${name}: CRLF only if the file had it`);
    t.equal(/(^|[^\r])\n/.test(out), /(^|[^\r])\n/.test(original), `${name}: LF only if the file had it`);
    texts.push(out);
    expected.push(view);
  }
  configparserRead(texts).forEach((py, i) => t.same(py, expected[i], names[i]!));
});

t.test('ambiguity is refused with the line numbers', async (t) => {
  const dup = parseIni(fixture('pulp-duplicate-section.conf'), 'server.conf');
  t.throws(() => setKey(dup, 'database', 'seeds', 'x'), { name: 'InputError', message: 'server.conf: [database] seeds is set on lines 6, 15; refusing to guess which one counts' });
  t.throws(() => setKey(dup, 'database', 'username', 'x'), {
    name: 'InputError',
    message: 'server.conf: section [database] appears on lines 4, 14 and none of them sets username; refusing to guess where to add it',
  });
  t.equal(read(setKey(dup, 'database', 'name', 'other'), 'database', 'name'), 'other', 'a key set once in a duplicated section is not ambiguous');
  const twice = parseIni('[a]\nk: 1\nx: 2\nK = 3\n', 'f.conf');
  t.throws(() => setKey(twice, 'a', 'K', 'v'), { message: 'f.conf: [a] K is set on lines 2, 4; refusing to guess which one counts' });
});

t.test('values and names that cannot be written', async (t) => {
  const doc = parseIni('[a]\nk: v\n');
  for (const value of ['a\nb', 'a\rb', '\n', 'x\r\n']) {
    t.throws(() => setKey(doc, 'a', 'k', value), { name: 'InputError', message: /line break/ }, JSON.stringify(value));
  }
  for (const key of ['', 'a:b', 'a=b', '#k', ';k', '[k', ' k', 'k ', 'k\n']) {
    t.throws(() => setKey(doc, 'a', key, 'v'), { name: 'InputError', message: /invalid key name/ }, JSON.stringify(key));
  }
  t.throws(() => setKey(doc, '', 'k', 'v'), { message: /invalid section name/ });
  t.throws(() => setKey(doc, 'a\nb', 'k', 'v'), { message: /invalid section name/ });
  t.throws(() => setKey(doc, 'a', 'k', 'nul\0byte'), InputError, 'what the file cannot hold is caught by the re-parse');
});

t.test('a multi-line value is replaced whole', async (t) => {
  const doc = parseIni(fixture('multiline.conf'));
  t.equal(read(doc, 'database', 'SEEDS'), 'db1:27017,\ndb2:27017,\n\ndb3:27017\ndb4:27017');
  const out = setKey(doc, 'database', 'seeds', 'db:27017');
  t.equal(read(out, 'database', 'seeds'), 'db:27017');
  t.notMatch(printIni(out), /db[1-4]:27017/, 'no line of the old value is left');
});

/**
 * What ConfigParser should read after setting the key: the sections as written with that
 * one key changed, DEFAULT's keys reaching every section that does not set them itself.
 */
function expectedAfterSet(doc: IniDocument, section: string, key: string, value: string): Sections {
  const raw = rawSections(doc);
  raw.set(section, new Map([...(raw.get(section) ?? []), [key.toLowerCase(), pyStrip(value)]]));
  const defaults = raw.get('DEFAULT') ?? new Map<string, string>();
  const view: Sections = {};
  for (const [name, keys] of raw) if (name !== 'DEFAULT') view[name] = Object.fromEntries([...defaults, ...keys]);
  return view;
}

/** Which lines of before were replaced by which lines of after: common prefix and suffix removed. */
function changedRegion(before: string[], after: string[]): { from: number; oldEnd: number; newEnd: number } {
  let from = 0;
  while (from < before.length && from < after.length && before[from] === after[from]) from++;
  let oldEnd = before.length;
  let newEnd = after.length;
  while (oldEnd > from && newEnd > from && before[oldEnd - 1] === after[newEnd - 1]) {
    oldEnd--;
    newEnd--;
  }
  return { from, oldEnd, newEnd };
}

const editCase = fc.record({
  text: iniFile,
  sectionPick: fc.nat(),
  keyPick: fc.nat(),
  value: fc.string({ unit: fc.constantFrom(...'abc:/@=#;[] .-1é'.split(''), '\u00a0'), maxLength: 12 }),
});

function pickEdit(doc: IniDocument, sectionPick: number, keyPick: number): { section: string; key: string } {
  const raw = rawSections(doc);
  const sections = [...raw.keys(), 'fresh_section'];
  const section = sections[sectionPick % sections.length]!;
  const keys = [...(raw.get(section)?.keys() ?? []), 'fresh_key'];
  return { section, key: keys[keyPick % keys.length]! };
}

/** Whether setKey must refuse: the key twice, or absent from a duplicated section. */
function ambiguous(doc: IniDocument, section: string, key: string): boolean {
  let inside = false;
  let headers = 0;
  let hits = 0;
  for (const line of doc.lines) {
    if (line.kind === 'section') {
      inside = line.name === section;
      if (inside) headers++;
    } else if (inside && line.kind === 'key' && line.name === key.toLowerCase()) hits++;
  }
  return hits > 1 || (hits === 0 && headers > 1);
}

t.test('setKey to the value a key already has changes nothing', async (t) => {
  // Found by the property below (seed 61070342): a duplicated section, the key in the first.
  const text = '[a]\nseeds:a\n[a]';
  t.equal(printIni(setKey(parseIni(text), 'a', 'seeds', 'a')), text);
});

t.test('setKey on generated files changes only the intended lines', async (t) => {
  let edited = 0;
  fc.assert(
    fc.property(editCase, ({ text, sectionPick, keyPick, value }) => {
      const doc = parseIni(text);
      const { section, key } = pickEdit(doc, sectionPick, keyPick);
      if (ambiguous(doc, section, key)) {
        try {
          setKey(doc, section, key, value);
          return false;
        } catch (err) {
          return err instanceof InputError && /refusing to guess/.test(err.message);
        }
      }
      const existing = doc.lines.findIndex((l, i) => l.kind === 'key' && l.name === key.toLowerCase() && sectionOf(doc, i) === section);
      const out = setKey(doc, section, key, value);
      const printed = printIni(out);
      if (read(parseIni(printed), section, key) !== pyStrip(value)) return false;
      // The key already had this value: nothing may change, and nothing did.
      if (printed === text) return true;
      const before = splitKeepEol(text.replace(/^\uFEFF/, ''));
      const after = splitKeepEol(printed.replace(/^\uFEFF/, ''));
      const { from, oldEnd, newEnd } = changedRegion(before, after);
      edited++;
      if (existing >= 0) {
        // Replaced: only lines of the old value went, at most one line came.
        const span = doc.lines[existing] as KeyLine;
        return from >= existing && oldEnd <= span.spanEnd + 1 && newEnd - from <= 1;
      }
      // Inserted: nothing went but a last line that gained a line ending; one line came,
      // or a blank line, a header and the key for a new section.
      const lastFixed = oldEnd - from === 1 && oldEnd === before.length && !/[\r\n]$/.test(before.at(-1)!);
      const added = newEnd - from - (lastFixed ? 1 : 0);
      return (oldEnd === from || lastFixed) && (section === 'fresh_section' ? added >= 2 && added <= 3 : added === 1);
    }),
    { numRuns: 1000 },
  );
  t.ok(edited > 500, `${edited} edits checked line by line`);
});

function sectionOf(doc: IniDocument, index: number): string | undefined {
  for (let i = index; i >= 0; i--) {
    const line = doc.lines[i]!;
    if (line.kind === 'section') return line.name;
  }
  return undefined;
}

t.test('setKey on generated files: ConfigParser reads the new value and every other key unchanged', async (t) => {
  const cases = fc.sample(editCase, { numRuns: 300, seed: 99 });
  const texts: string[] = [];
  const expected: Sections[] = [];
  for (const { text, sectionPick, keyPick, value } of cases) {
    const doc = parseIni(text);
    const { section, key } = pickEdit(doc, sectionPick, keyPick);
    if (ambiguous(doc, section, key)) continue;
    texts.push(printIni(setKey(doc, section, key, value)));
    expected.push(expectedAfterSet(doc, section, key, value));
  }
  const py = configparserRead(texts);
  let same = 0;
  py.forEach((read, i) => {
    if (JSON.stringify(sortKeys(read)) === JSON.stringify(sortKeys(expected[i]!))) same++;
    else t.same(read, expected[i], JSON.stringify(texts[i]));
  });
  t.equal(same, texts.length, `${texts.length} edited files read as intended`);
  t.ok(texts.length > 200, 'most cases were unambiguous');
});

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]));
}
