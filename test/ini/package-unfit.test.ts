// src/ini/document.ts versus the `ini` package, on Pulp's server.conf.
// Why server.conf is not edited with the `ini` package (docs/design.md): on Pulp's
// `key: value` lines it reads the whole line as a key set to true, and writing back drops
// every comment and corrupts the line. If a future `ini` fixes this, this test fails and
// the decision deserves another look.
import t from 'tap';
import ini from 'ini';
import { parseIni, printIni } from '../../src/ini/document.ts';
import { toConfigView } from '../../src/ini/read.ts';

const text = '# top comment\n[database]\n# seeds: localhost:27017\nseeds: db:27017\nname = pulp\n';

t.test('ini cannot read key: value', async (t) => {
  const parsed = ini.parse(text) as Record<string, Record<string, unknown>>;
  t.equal(parsed.database?.['seeds: db:27017'], true, 'the whole line became a key');
  t.equal(parsed.database?.seeds, undefined, 'no seeds key');
});

t.test('ini cannot write it back', async (t) => {
  const out = ini.stringify(ini.parse(text));
  t.notMatch(out, /#/, 'comments are gone');
  t.match(out, /seeds: db:27017=true/, 'the line is corrupted');
});

t.test('the project\'s own document does both', async (t) => {
  t.equal(printIni(parseIni(text)), text);
  t.equal(toConfigView(parseIni(text)).get('database')?.get('seeds'), 'db:27017');
});
