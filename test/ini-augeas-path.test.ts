import t from 'tap';
import { parseIni, printIni } from '../src/ini/document.ts';
import { formatAugeasPath, getPath, parseAugeasPath, removePath, setPath } from '../src/ini/augeas-path.ts';

t.test('valid paths', async (t) => {
  const file = '/etc/pulp/server.conf';
  const cases: [string, ReturnType<typeof parseAugeasPath>][] = [
    ["/files/etc/pulp/server.conf/target[. = 'database']/seeds", { file, section: { name: 'database' }, key: 'seeds' }],
    ['/files/etc/pulp/server.conf/target[. = "database"]/seeds', { file, section: { name: 'database' }, key: 'seeds' }],
    ["/files/etc/pulp/server.conf/target[.='database']/seeds", { file, section: { name: 'database' }, key: 'seeds' }],
    ["/files/etc/pulp/server.conf/target[  .  =   'database'  ]/seeds", { file, section: { name: 'database' }, key: 'seeds' }],
    ["/files/etc/pulp/server.conf/target[. = 'a b']/x.y-z_1", { file, section: { name: 'a b' }, key: 'x.y-z_1' }],
    ['/files/etc/pulp/server.conf/target[. = "it\'s"]/k', { file, section: { name: "it's" }, key: 'k' }],
    ['/files/etc/pulp/server.conf/target[2]/seeds', { file, section: { index: 2 }, key: 'seeds' }],
    ['/files/etc/pulp/server.conf/target[ 12 ]/seeds', { file, section: { index: 12 }, key: 'seeds' }],
    ["/files/etc/pulp/server.conf/target[. = 'database']", { file, section: { name: 'database' }, key: undefined }],
    ["/files/srv/target/server.conf/target[. = 'database']/seeds", { file: '/srv/target/server.conf', section: { name: 'database' }, key: 'seeds' }],
    ["/files/server.conf/target[. = 'database']/seeds", { file: '/server.conf', section: { name: 'database' }, key: 'seeds' }],
  ];
  for (const [path, expected] of cases) t.same(parseAugeasPath(path), expected, path);
});

t.test('invalid paths are InputErrors', async (t) => {
  const cases = [
    '',
    'seeds',
    "/etc/pulp/server.conf/target[. = 'database']/seeds",
    "/files/target[. = 'database']/seeds",
    "/files/etc/pulp/server.conf/target[. = '']/seeds",
    "/files/etc/pulp/server.conf/target[. = 'database\"]/seeds",
    "/files/etc/pulp/server.conf/target[. = database]/seeds",
    '/files/etc/pulp/server.conf/target[0]/seeds',
    '/files/etc/pulp/server.conf/target[-1]/seeds',
    '/files/etc/pulp/server.conf/target[01]/seeds',
    '/files/etc/pulp/server.conf/target/seeds',
    "/files/etc/pulp/server.conf/section[. = 'database']/seeds",
    "/files/etc/pulp/server.conf/target[. = 'database']/",
    "/files/etc/pulp/server.conf/target[. = 'database']/seeds/x",
    "/files/etc/pulp/server.conf/target[. = 'database']/seeds[1]",
    "/files/etc/pulp/server.conf/target[. = 'database']/#comment",
    "/files/etc/pulp/server.conf/target[. = 'database']/se eds",
    "/files/etc//server.conf/target[. = 'database']/seeds",
    "/files/etc/../server.conf/target[. = 'database']/seeds",
    "/files/etc/pulp/server.conf/target[. = 'database']/seeds ",
    "/files/etc/pulp/server.conf/target[. = 'data\nbase']/seeds",
  ];
  for (const path of cases) {
    t.throws(() => parseAugeasPath(path), { name: 'InputError', exitCode: 65, message: /^invalid Augeas path .*expected \/files/ }, JSON.stringify(path));
  }
});

t.test('formatAugeasPath is what parseAugeasPath reads back', async (t) => {
  t.equal(formatAugeasPath('/etc/pulp/server.conf', 'database', 'seeds'), "/files/etc/pulp/server.conf/target[. = 'database']/seeds");
  for (const section of ['database', 'a b', "it's"]) {
    const path = formatAugeasPath('/etc/pulp/server.conf', section, 'seeds');
    t.same(parseAugeasPath(path), { file: '/etc/pulp/server.conf', section: { name: section }, key: 'seeds' }, path);
  }
});

t.test('getPath, setPath and removePath edit through the key rules', async (t) => {
  const text = '[database]\nseeds: a\n\n[server]\n# server_name: x\n\n[database]\nname: n\n';
  const doc = parseIni(text, 'server.conf');
  const P = (pred: string, key?: string): string => `/files/etc/pulp/server.conf/target[${pred}]${key === undefined ? '' : `/${key}`}`;
  t.equal(getPath(doc, P(". = 'database'", 'seeds')), 'a');
  t.equal(getPath(doc, P('1', 'seeds')), 'a', 'by position');
  t.equal(getPath(doc, P('3', 'name')), 'n', 'the third header is the second [database]');
  t.equal(getPath(doc, P('4', 'name')), undefined, 'past the last section');
  t.equal(getPath(doc, P(". = 'server'")), 'server', 'a section path reads its name, like Augeas');
  t.equal(getPath(doc, P(". = 'nope'")), undefined);
  t.equal(getPath(doc, { file: '/x', section: { name: 'server' }, key: 'server_name' }), undefined, 'parsed paths are accepted too');

  t.equal(printIni(setPath(doc, P('2', 'server_name'), 'pulp')), text.replace('# server_name: x\n', '# server_name: x\nserver_name: pulp\n'));
  t.equal(printIni(setPath(doc, P(". = 'tasks'", 'broker_url'), 'q')), `${text}\n[tasks]\nbroker_url: q\n`);
  t.throws(() => setPath(doc, P(". = 'database'", 'username'), 'u'), { name: 'InputError', message: /appears on lines 1, 7/ }, 'duplicated section, as by name');
  t.throws(() => setPath(doc, P('3', 'username'), 'u'), { message: /appears on lines 1, 7/ }, 'a position resolves to the name');
  t.throws(() => setPath(doc, P('9', 'k'), 'v'), { name: 'InputError', message: /no section number 9/ });
  t.throws(() => setPath(doc, P(". = 'server'"), 'v'), { name: 'InputError', message: /names a section, not a key/ });

  t.equal(printIni(removePath(doc, P(". = 'database'", 'seeds'))), text.replace('seeds: a\n', ''));
  t.same(removePath(doc, P('9', 'seeds')), doc, 'nothing to remove');
  t.throws(() => removePath(doc, P(". = 'server'")), { message: /names a section, not a key/ });
  t.throws(() => getPath(doc, 'seeds'), { name: 'InputError' });
});
