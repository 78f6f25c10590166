// keystone.conf edits judged by the real oslo.config (Keystone 30.0.0's options, registered as
// keystone-manage and the API register them) and SQLAlchemy: the embedded sample is the pinned
// Keystone's own, an edit lands next to its commented default, every value written reads back
// exactly (a $ is not substituted, quotes and spaces survive), no other option changes, and
// [database] connection splits into the parts meant.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseIni, printIni } from '../../src/ini/document.ts';
import { setKey } from '../../src/ini/edit.ts';
import { osloValue } from '../../src/ini/oslo-value.ts';
import { databaseUrl } from '../../src/keystone/database-url.ts';
import { judge, requireKeystone } from '../helpers/keystone.ts';
import { ROOT } from '../helpers/cli.ts';

const SAMPLE = readFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), 'utf8');

t.test('the sample parses and prints back byte for byte', async (t) => {
  t.equal(printIni(parseIni(SAMPLE, 'keystone.conf')), SAMPLE);
});

t.test('[database] connection lands right after its commented default, in the file style', async (t) => {
  const url = databaseUrl({ user: 'keystone', password: 'pw', host: 'db', port: 3306, database: 'keystone' });
  const out = printIni(setKey(parseIni(SAMPLE, 'keystone.conf'), 'database', 'connection', osloValue(url, 'connection'), 'oslo'));
  const before = SAMPLE.split('\n');
  const after = out.split('\n');
  const at = before.indexOf('#connection = <None>');
  t.ok(at > 0);
  t.equal(after.length, before.length + 1, 'one line added');
  t.equal(after[at + 1], `connection = ${url}`);
  t.same([...after.slice(0, at + 1), ...after.slice(at + 2)], before, 'nothing else changed');
});

const dir = requireKeystone(t, 'keystone.conf judged by the real oslo.config');
if (dir) {
  t.test('the embedded sample is the one the pinned Keystone generates', async (t) => {
    t.equal(SAMPLE, readFileSync(join(dir, 'keystone.conf.sample'), 'utf8'), 'regenerate it with test/services/keystone.sh after changing the pins');
  });

  t.test('oslo.config reads back every value written, and nothing else changes', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'oslo-judge-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const hostile = ['ks$pa%ss', '$admin_token', '${host}', '$$', ' spaced ', '"quoted"', "'", 'a#b;c', 'é→😀', 'p@ss:w/rd?#', 'tab\tend\t', '<None>'];
    const cases = hostile.map((v, i) => ({ v, host: i % 3 === 0 ? 'fd00::5' : 'db.example', port: 3306 + i }));
    const files = [join(work, 'base.conf'), ...cases.map((_, i) => join(work, `case${i}.conf`)), join(work, 'raw.conf')];
    writeFileSync(files[0]!, SAMPLE);
    cases.forEach((c, i) => {
      let doc = parseIni(SAMPLE, 'keystone.conf');
      const url = databaseUrl({ user: `u${c.v}`, password: c.v, host: c.host, port: c.port, database: 'keystone' });
      doc = setKey(doc, 'database', 'connection', osloValue(url, 'connection'), 'oslo');
      doc = setKey(doc, 'DEFAULT', 'admin_token', osloValue(c.v, 'admin_token'), 'oslo');
      writeFileSync(files[i + 1]!, printIni(doc));
    });
    // The same value written raw: oslo.config substitutes, which is why the writer escapes.
    writeFileSync(files.at(-1)!, printIni(setKey(parseIni(SAMPLE, 'keystone.conf'), 'DEFAULT', 'admin_token', 'a$public_endpoint', 'oslo')));

    const [base, ...rest] = judge(dir, files);
    const raw = rest.pop();
    t.ok(base && Object.keys(base.values).length > 300, `${Object.keys(base?.values ?? {}).length} options read`);
    t.equal(base?.values['database.connection'], 'sqlite:///keystone.db', "Keystone's own default without an edit");
    cases.forEach((c, i) => {
      const got = rest[i]!;
      t.equal(got.values['DEFAULT.admin_token'], c.v, `admin_token ${JSON.stringify(c.v)}`);
      t.same(got.url, { drivername: 'mysql+pymysql', username: `u${c.v}`, password: c.v, host: c.host, port: c.port, database: 'keystone' }, `connection with ${JSON.stringify(c.v)}`);
      // config_file: the path of the file read, which differs by construction.
      const changed = Object.keys(got.values).filter((k) => k !== 'DEFAULT.config_file' && JSON.stringify(got.values[k]) !== JSON.stringify(base?.values[k]));
      t.same(changed.sort(), ['DEFAULT.admin_token', 'database.connection'], 'no other option changed');
    });
    t.not(raw?.values['DEFAULT.admin_token'], 'a$public_endpoint', 'unescaped, oslo.config would have changed it');
  });
}
