// src/ini/document.ts: the lossless server.conf model, against Python's ConfigParser.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { InputError } from '../../src/common/errors.ts';
import { parseIni, printIni } from '../../src/ini/document.ts';
import type { IniDocument } from '../../src/ini/lines.ts';
import { toConfigView } from '../../src/ini/read.ts';
import { mapValues } from '../../src/ini/replace.ts';
import { badLine, configparserRead, fixture, FIXTURES, iniFile, splitKeepEol, viewToObject } from '../helpers/ini.ts';
import { DEFAULT_CONF } from '../helpers/temp.ts';

/** Section names as ConfigParser.sections() lists them: first appearance order, no DEFAULT. */
const sectionNames = (doc: IniDocument): string[] => [...toConfigView(doc).keys()];

const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.conf')).sort();

t.test('the fixtures cover the shapes the brief lists', async (t) => {
  t.ok(fixture('pulp-crlf.conf').includes('\r\n'), 'CRLF');
  t.notOk(fixture('pulp-no-final-newline.conf').endsWith('\n'), 'no final newline');
  t.ok(fixture('pulp-bom.conf').startsWith('\uFEFF'), 'BOM');
  t.match(fixture('pulp-equals.conf'), /^seeds = /m, 'equals style');
  t.match(fixture('pulp-default.conf'), /^# seeds: localhost:27017$/m, 'commented keys');
  t.equal(fixture('pulp-default.conf'), readFileSync(DEFAULT_CONF, 'utf8'), 'default fixture is the embedded default');
});

t.test('round trip: fixtures print back byte for byte', async (t) => {
  for (const name of fixtureNames) {
    const text = fixture(name);
    t.equal(printIni(parseIni(text, name)), text, name);
  }
});

t.test('round trip: generated files print back byte for byte', async (t) => {
  fc.assert(
    fc.property(iniFile, (text) => {
      return printIni(parseIni(text)) === text;
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 generated files');
});

t.test('toConfigView equals what ConfigParser reads: fixtures', async (t) => {
  const texts = fixtureNames.map(fixture);
  const py = configparserRead(texts);
  fixtureNames.forEach((name, i) => {
    t.same(viewToObject(toConfigView(parseIni(texts[i]!, name))), py[i], name);
  });
});

t.test('the embedded default reads as twelve empty Pulp sections', async (t) => {
  const doc = parseIni(fixture('pulp-default.conf'));
  t.same(sectionNames(doc), [
    'database', 'server', 'authentication', 'security', 'consumer_history', 'data_reaping',
    'oauth', 'messaging', 'tasks', 'email', 'lazy', 'profiling',
  ]);
  t.ok([...toConfigView(doc).values()].every((keys) => keys.size === 0), 'every key is commented out');
});

t.test('multi-line values, DEFAULT and duplicates read like ConfigParser', async (t) => {
  const view = viewToObject(toConfigView(parseIni(fixture('multiline.conf'))));
  t.equal(view.database!.seeds, 'db1:27017,\ndb2:27017,\n\ndb3:27017\ndb4:27017', 'blank line kept, comment dropped');
  t.equal(view.database!.name, "pulp_database\nlooks_like_a_key: but continues name's value");
  t.equal(view.server!.server_name, '\ncontinued on the next line', 'empty first line kept');
  t.equal(view.server!.shared, "overridden\n[not a header]: part of shared's value");
  t.same(view.empty, { shared: 'from default' }, 'DEFAULT keys are inherited');
  t.notOk('DEFAULT' in view, 'DEFAULT is not a section, as in ConfigParser.sections()');
  const dup = viewToObject(toConfigView(parseIni(fixture('pulp-duplicate-section.conf'))));
  t.same(dup.database, { name: 'pulp_database', seeds: 'mongo.example.com:27017', replica_set: 'rs0' }, 'merged, later wins');
  t.same(sectionNames(parseIni('[b]\n[a]\n[b]\n[DEFAULT]\n')), ['b', 'a']);
  t.same(viewToObject(toConfigView(parseIni('[s]\nSeeds: A\nseeds: b\n'))), { s: { seeds: 'b' } }, 'keys lower-cased, later wins');
});

t.test('toConfigView equals what ConfigParser reads: generated files', async (t) => {
  const texts = fc.sample(iniFile, { numRuns: 400, seed: 4242 });
  const py = configparserRead(texts);
  let compared = 0;
  texts.forEach((text, i) => {
    const ours = viewToObject(toConfigView(parseIni(text)));
    if (JSON.stringify(ours) !== JSON.stringify(py[i])) t.same(ours, py[i], `generated file ${JSON.stringify(text)}`);
    else compared++;
  });
  t.equal(compared, texts.length, `${texts.length} generated files read the same`);
});

t.test('parseIni rejects exactly what ConfigParser rejects (generated files with a bad line)', async (t) => {
  const cases = fc.sample(
    fc.tuple(iniFile, badLine, fc.nat(), fc.constantFrom('', '  ')).map(([text, bad, at, ind]) => {
      const lines = splitKeepEol(text);
      const pos = lines.length === 0 ? 0 : at % (lines.length + 1);
      lines.splice(pos, 0, `${ind}${bad}\n`);
      return lines.join('');
    }),
    { numRuns: 300, seed: 7 },
  );
  const py = configparserRead(cases);
  let rejected = 0;
  cases.forEach((text, i) => {
    const pyFailed = 'error' in py[i]!;
    let ours: unknown;
    try {
      ours = viewToObject(toConfigView(parseIni(text)));
    } catch (err) {
      t.type(err, InputError);
      ours = 'rejected';
    }
    if (pyFailed) {
      rejected++;
      if (ours !== 'rejected') t.fail(`ConfigParser rejects, we accept: ${JSON.stringify(text)}`);
    } else if (ours === 'rejected') {
      t.fail(`ConfigParser accepts, we reject: ${JSON.stringify(text)}`);
    } else {
      t.same(ours, py[i]);
    }
  });
  t.ok(rejected > 100, `both reject ${rejected} of ${cases.length}; the rest are bad lines that continue a value`);
});

t.test('parse errors name the file and the line', async (t) => {
  const cases: [string, RegExp][] = [
    ['# ok\nseeds: x\n[database]\n', /^server\.conf: line 2: text before the first \[section\] header/],
    ['  indented: before any section\n', /^server\.conf: line 1: text before the first/],
    ['[database]\nseeds localhost\n', /^server\.conf: line 2: not a \[section\] header, a "key: value" line or a comment: "seeds localhost"/],
    ['[database]\n: value\n', /^server\.conf: line 2: ":" without a key name/],
    ['[database]\r\n\r\n= value\r\n', /^server\.conf: line 3: "=" without a key name/],
    ['[database]\nseeds: a\0b\n', /^server\.conf: line 2: control character U\+0000: not a text file/],
    ['[a]\n\n\n\x01\x02\x03\n', /^server\.conf: line 4: control character U\+0001/],
    ['[a]\nk: caf\ufffd\n', /^server\.conf: line 2: U\+FFFD replacement character: not valid UTF-8 text/],
    ['\uFEFF\uFEFF[a]\n', /^server\.conf: line 1: text before the first/],
    ['[]\n', /^server\.conf: line 1: text before the first/],
    ['[a]\n[]\n', /^server\.conf: line 2: not a \[section\] header/],
  ];
  for (const [text, message] of cases) {
    t.throws(() => parseIni(text, 'server.conf'), { name: 'InputError', message, exitCode: 65 }, JSON.stringify(text));
  }
  t.throws(() => parseIni('k: v'), { message: /^<input>: line 1: / }, 'a default name for the file');
});

t.test('ConfigParser agrees with the parse-error cases that are not about binary content', async (t) => {
  const texts = ['# ok\nseeds: x\n[database]\n', '[database]\nseeds localhost\n', '[database]\n: value\n', '[a]\n[]\n', '\uFEFF\uFEFF[a]\n'];
  for (const [i, r] of configparserRead(texts).entries()) t.ok('error' in r, JSON.stringify(texts[i]));
});

t.test('edge shapes ConfigParser accepts', async (t) => {
  const cases = [
    '',
    '\uFEFF',
    '\n\n',
    '# only a comment',
    '[a]',
    '[a]\r\rk=v\r',
    '[a] ; not a comment, ignored after the header\nk : v\n',
    '[a]b]\nk: v\n',
    '[]: key named by brackets\n',
    '  [indented]\n  k: v\n',
    '[a]\nk:\n\n\n  late continuation\n',
    '[a]\nk: v\n  # indented comment does not continue\n  more\n',
    '[a]\n  k: v\n x: not a continuation, less indented\n',
    '[a]\nk\u00a0: non-breaking space is whitespace to Python\n',
    '[a]\n\ufeffk: U+FEFF is not\n',
  ].map((x) => (x.startsWith('[]') ? `[s]\n${x}` : x));
  const py = configparserRead(cases);
  cases.forEach((text, i) => {
    const doc = parseIni(text);
    t.equal(printIni(doc), text, `round trip ${JSON.stringify(text)}`);
    t.same(viewToObject(toConfigView(doc)), py[i], `view ${JSON.stringify(text)}`);
  });
});

t.test('mapValues changes only the values fn changes', async (t) => {
  const text = fixture('pulp-crlf.conf');
  const doc = parseIni(text);
  const masked = mapValues(doc, (section, key, value) => (key.includes('cert') || section === 'tasks' ? '********' : value));
  const before = splitKeepEol(text);
  const after = splitKeepEol(printIni(masked));
  t.equal(after.length, before.length);
  const changed = before.flatMap((line, i) => (line === after[i] ? [] : [i + 1]));
  // [security] cacert, ssl_ca_certificate, user_cert_expiration, consumer_cert_expiration;
  // [messaging] cacert, clientcert; all three keys of [tasks]. Comments mentioning certs stay.
  t.same(changed, [46, 48, 49, 50, 95, 96, 108, 109, 110], 'only the masked values changed');
  t.equal(after[95], 'clientcert: ********\r\n', 'separator, spacing and CRLF kept');
  t.equal(after[107], 'concurrency_threshold: ********\r\n');
  t.same(mapValues(doc, (_s, _k, v) => v), doc, 'identity keeps the document');

  const multi = parseIni(fixture('multiline.conf'));
  const out = printIni(mapValues(multi, (_s, key, v) => (key === 'seeds' ? 'x' : v)));
  t.match(out, /^seeds: x\nname=pulp_database\n/m, 'a multi-line value collapses to one line');
  t.equal(viewToObject(toConfigView(parseIni(out))).database!.seeds, 'x');
  t.throws(() => mapValues(multi, () => 'a\nb'), InputError, 'no line breaks');
});

t.test('parse + print of a Pulp-size file stays well under a millisecond', async (t) => {
  const text = fixture('pulp-default.conf');
  for (let i = 0; i < 200; i++) printIni(parseIni(text));
  const runs = 1000;
  const start = performance.now();
  for (let i = 0; i < runs; i++) printIni(parseIni(text));
  const ms = (performance.now() - start) / runs;
  t.ok(ms < 1, `${ms.toFixed(3)} ms per parse + print`);
});
