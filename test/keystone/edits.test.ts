// src/keystone/edits.ts (planEdits, through src/settings/options.ts readSettings with
// KEYSTONE_SETTINGS): the environment -> keystone.conf's [database] connection and [cache], where
// each part came from, and the secrets the plan learnt.
import t from 'tap';
import { InputError } from '../../src/common/errors.ts';
import { useProgram } from '../../src/common/program.ts';
import { parseIni } from '../../src/ini/document.ts';
import type { ConfigView } from '../../src/ini/config-view.ts';
import { KEYSTONE_DIALECT } from '../../src/keystone/dialect.ts';
import { planEdits } from '../../src/keystone/edits.ts';
import { KEYSTONE_SETTINGS } from '../../src/keystone/settings.ts';
import { KEYSTONE } from '../../src/keystone/system.ts';
import type { PlannedEdit } from '../../src/settings/edits/edit.ts';
import type { EditPlan } from '../../src/settings/edits/plan.ts';
import { readSettings } from '../../src/settings/options.ts';
import type { ReadFile } from '../../src/settings/secret-files.ts';

// The agent's own variables (KEYSTONE_CONF__...) and its messages under Keystone's name, as main() sets them.
useProgram(KEYSTONE.names);

const noFiles: ReadFile = (path) => {
  throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
};

/** keystone.conf as Keystone reads it, from its text. */
const conf = (text: string): ConfigView => KEYSTONE_DIALECT.read(parseIni(text, 'keystone.conf')).view;
const EMPTY = conf('[DEFAULT]\n[database]\n[cache]\n');
const withConnection = (url: string): ConfigView => conf(`[DEFAULT]\n[database]\nconnection = ${url}\n`);

const plan = (env: Record<string, string>, current: ConfigView = EMPTY, readFile: ReadFile = noFiles): EditPlan =>
  planEdits(readSettings(env, readFile, KEYSTONE_SETTINGS), current);
const byKey = (edits: PlannedEdit[]): Record<string, PlannedEdit> => Object.fromEntries(edits.map((e) => [`${e.section}.${e.key}`, e]));
const connection = (p: EditPlan): PlannedEdit | undefined => byKey(p.edits)['database.connection'];

t.test('no environment, no connection in the file: the Service by its DNS name, not SQLite', async (t) => {
  const p = plan({});
  t.equal(p.edits.length, 1, 'only [database] connection');
  t.equal(connection(p)?.value, 'mysql+pymysql://keystone@db:3306/keystone');
  t.same(connection(p)?.from, ['default']);
  t.equal(connection(p)?.secret, false);
  t.same(p.secrets, []);
  t.same(p.warnings, []);
  t.equal(connection(plan({}, conf('')))?.value, 'mysql+pymysql://keystone@db:3306/keystone', 'a file without [database] at all');
  t.equal(connection(plan({ KEYSTONE_DB_SERVICE: 'mariadb' }))?.value, 'mysql+pymysql://keystone@mariadb:3306/keystone', "another Service's DNS name");
  t.same(connection(plan({ KEYSTONE_DB_SERVICE: 'mariadb' }))?.from, ['KEYSTONE_DB_SERVICE', 'default']);
});

t.test('the kubelet\'s variables of the database Service', async (t) => {
  const svc = connection(plan({ DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '13306' }));
  t.equal(svc?.value, 'mysql+pymysql://keystone@10.0.0.5:13306/keystone');
  t.same(svc?.from, ['DB_SERVICE_HOST', 'DB_SERVICE_PORT', 'default']);

  t.equal(connection(plan({ DB_SERVICE_HOST: '10.0.0.5' }))?.value, 'mysql+pymysql://keystone@10.0.0.5:3306/keystone', 'a host alone: port 3306');

  const named = connection(plan({ DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '9999', DB_SERVICE_PORT_MYSQL: '3307' }));
  t.equal(named?.value, 'mysql+pymysql://keystone@10.0.0.5:3307/keystone', 'the named port wins over the first port');
  t.ok(named?.from.includes('DB_SERVICE_PORT_MYSQL'));

  const link = connection(plan({ DB_PORT_3306_TCP_ADDR: '172.17.0.3', DB_PORT_3306_TCP_PORT: '3306' }));
  t.equal(link?.value, 'mysql+pymysql://keystone@172.17.0.3:3306/keystone', 'docker-link variables');
  t.same(link?.from, ['DB_PORT_3306_TCP_ADDR', 'DB_PORT_3306_TCP_PORT', 'default']);

  const other = connection(plan({ KEYSTONE_DB_SERVICE: 'mariadb-main', DB_SERVICE_HOST: '10.9.9.9', MARIADB_MAIN_SERVICE_HOST: '10.0.0.7', MARIADB_MAIN_SERVICE_PORT: '3306' }));
  t.equal(other?.value, 'mysql+pymysql://keystone@10.0.0.7:3306/keystone', 'KEYSTONE_DB_SERVICE=mariadb-main reads MARIADB_MAIN_*, not DB_*');
  t.ok(other?.from.includes('MARIADB_MAIN_SERVICE_HOST'));

  t.equal(connection(plan({ DB_SERVICE_HOST: 'fd00::5', DB_SERVICE_PORT: '3306' }))?.value, 'mysql+pymysql://keystone@[fd00::5]:3306/keystone', 'IPv6 bracketed');
});

t.test('a bad Service variable is refused naming it', async (t) => {
  t.throws(() => plan({ DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '99999' }), new InputError('DB_SERVICE_PORT: "99999" is not a port (an integer 1..65535)'));
  const err = t.throws(() => plan({ DB_SERVICE_HOST: 'not a host' })) as Error;
  t.match(err.message, /^DB_SERVICE_HOST: /);
});

t.test('MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE: percent-encoded, nothing moves the host', async (t) => {
  const p = plan({ DB_SERVICE_HOST: 'db.example', MYSQL_USER: 'ks@admin', MYSQL_PASSWORD: 'p@ss:w/rd?#%$', MYSQL_DATABASE: 'ks/db' });
  const c = connection(p);
  t.equal(c?.value, 'mysql+pymysql://ks%40admin:p%40ss%3Aw%2Frd%3F%23%25%24@db.example:3306/ks%2Fdb');
  t.same(c?.from, ['DB_SERVICE_HOST', 'MYSQL_DATABASE', 'MYSQL_PASSWORD', 'MYSQL_USER', 'default']);
  t.ok(p.secrets.includes('p@ss:w/rd?#%$'), 'the password');
  t.ok(p.secrets.includes('p%40ss%3Aw%2Frd%3F%23%25%24'), 'and its encoded form, as the file holds it');
  t.notOk(p.secrets.includes('ks@admin'), 'the user is not a secret');
  t.equal(c?.secret, false, 'the URL is shown with its password masked, not hidden whole');
});

t.test('MYSQL_PASSWORD_FILE: read through readFile, named as the source', async (t) => {
  const asked: string[] = [];
  const read: ReadFile = (path) => {
    asked.push(path);
    if (path !== '/run/secrets/db-password') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return Buffer.from('s3cr3t-pw\n');
  };
  const p = plan({ MYSQL_PASSWORD_FILE: '/run/secrets/db-password' }, EMPTY, read);
  t.same(asked, ['/run/secrets/db-password']);
  t.equal(connection(p)?.value, 'mysql+pymysql://keystone:s3cr3t-pw@db:3306/keystone', 'the trailing newline dropped');
  t.same(connection(p)?.from, ['MYSQL_PASSWORD_FILE', 'default']);
  t.ok(p.secrets.includes('s3cr3t-pw'));
  t.throws(() => plan({ MYSQL_PASSWORD_FILE: '/nope' }, EMPTY, read), /^MYSQL_PASSWORD_FILE=\/nope: cannot read the file/);
  t.throws(() => plan({ MYSQL_PASSWORD_FILE: '/run/secrets/db-password', MYSQL_PASSWORD: 'x' }, EMPTY, read), /both MYSQL_PASSWORD and MYSQL_PASSWORD_FILE are set/);
});

t.test("halves the environment leaves out come from the file's URL", async (t) => {
  const file = withConnection('mysql+pymysql://ksuser:old-pw@mysql.prod:3307/identity?charset=utf8');
  const p = plan({ MYSQL_PASSWORD: 'new-pw' }, file);
  t.equal(connection(p)?.value, 'mysql+pymysql://ksuser:new-pw@mysql.prod:3307/identity', 'host, port, user and database kept');
  t.same(connection(p)?.from, ['MYSQL_PASSWORD', 'keystone.conf']);
  t.ok(p.secrets.includes('new-pw'));

  const moved = connection(plan({ DB_SERVICE_HOST: '10.0.0.9' }, file));
  t.equal(moved?.value, 'mysql+pymysql://ksuser:old-pw@10.0.0.9:3306/identity', "a new host: the Service's port 3306, the file's user keeps its password");
  t.ok(plan({ DB_SERVICE_HOST: '10.0.0.9' }, file).secrets.includes('old-pw'), "the file's password is a secret too");

  const db = connection(plan({ MYSQL_DATABASE: 'keystone2' }, file));
  t.equal(db?.value, 'mysql+pymysql://ksuser:old-pw@mysql.prod:3307/keystone2');
});

t.test("a new MYSQL_USER does not inherit the file's password", async (t) => {
  const file = withConnection('mysql+pymysql://olduser:old-pw@mysql.prod:3307/keystone');
  const p = plan({ MYSQL_USER: 'newuser' }, file);
  t.equal(connection(p)?.value, 'mysql+pymysql://newuser@mysql.prod:3307/keystone');
  t.notOk(p.secrets.includes('old-pw'));
  t.equal(connection(plan({ MYSQL_USER: 'newuser', MYSQL_PASSWORD: 'np' }, file))?.value, 'mysql+pymysql://newuser:np@mysql.prod:3307/keystone');
});

t.test('the file already has a connection and the environment gives none: no edit', async (t) => {
  const file = withConnection('mysql+pymysql://keystone:pw@mysql.prod:3306/keystone');
  t.same(plan({}, file).edits, []);
  t.same(plan({ KEYSTONE_WORKERS: '4', KEYSTONE_LISTEN: '[::]:5000', KEYSTONE_RUN_AS: 'nobody' }, file).edits, [], "the agent's own settings are not keystone.conf keys");
  t.same(plan({ DB_SERVICE_HOST: '' }, file).edits, [], 'an empty variable is unset');
});

t.test('a connection the agent cannot use is left for the targets to refuse, unless the environment gives one', async (t) => {
  for (const url of ['sqlite:////var/lib/keystone/keystone.db', 'postgresql://ks:pw@pg/keystone']) {
    t.same(plan({}, withConnection(url)).edits, [], `${url.split(':')[0]}: not replaced by a default the environment did not ask for`);
    const replaced = connection(plan({ MYSQL_PASSWORD: 'pw2', DB_SERVICE_HOST: '10.0.0.5' }, withConnection(url)));
    t.equal(replaced?.value, 'mysql+pymysql://keystone:pw2@10.0.0.5:3306/keystone', `${url.split(':')[0]}: replaced whole when the environment gives a database`);
  }
});

t.test('KEYSTONE_CACHE_SERVERS: the cache switched on, memcached, the servers', async (t) => {
  const p = plan({ KEYSTONE_CACHE_SERVERS: '127.0.0.1:11211, cache-1.cache:11211' }, withConnection('mysql://k:p@db/keystone'));
  const e = byKey(p.edits);
  t.same(Object.keys(e).sort(), ['cache.backend', 'cache.enabled', 'cache.memcache_servers']);
  t.equal(e['cache.enabled']?.value, 'true');
  t.equal(e['cache.backend']?.value, 'dogpile.cache.memcached');
  t.equal(e['cache.memcache_servers']?.value, '127.0.0.1:11211,cache-1.cache:11211', 'spaces after the commas dropped');
  for (const k of Object.values(e)) t.same(k.from, ['KEYSTONE_CACHE_SERVERS']);
  // python-memcached reads "[v6]:port" as no server at all; "inet6:[v6]:port" is its IPv6 form.
  t.equal(byKey(plan({ KEYSTONE_CACHE_SERVERS: '[fd00::7]:11211,10.0.0.8:11211' }).edits)['cache.memcache_servers']?.value, 'inet6:[fd00::7]:11211,10.0.0.8:11211');
  t.same(
    plan({}).edits.filter((x) => x.section === 'cache'),
    [],
    'unset: [cache] untouched',
  );
});

t.test('a bad cache server list is refused naming KEYSTONE_CACHE_SERVERS', async (t) => {
  for (const bad of ['cache-1', '127.0.0.1:11211,', 'cache-1:99999', 'a b:11211', 'unix:/run/memcached.sock']) {
    const err = t.throws(() => plan({ KEYSTONE_CACHE_SERVERS: bad }), `${JSON.stringify(bad)} refused`) as Error;
    t.ok(err instanceof InputError, 'an InputError (exit 65)');
    t.match(err.message, /^KEYSTONE_CACHE_SERVERS: .* is not host:port/);
    t.equal(err.message.split('\n').length, 1, 'one line');
  }
});

t.test('KEYSTONE_CONF__DATABASE__CONNECTION overrides the built URL, with a warning', async (t) => {
  const url = 'mysql+pymysql://admin:0verride-pw@galera:3306/keystone';
  const p = plan({ KEYSTONE_CONF__DATABASE__CONNECTION: url, MYSQL_PASSWORD: 'ignored-pw' });
  const c = connection(p);
  t.equal(c?.value, url);
  t.same(c?.from, ['KEYSTONE_CONF__DATABASE__CONNECTION']);
  t.equal(p.edits.filter((e) => e.key === 'connection').length, 1, 'one connection edit');
  t.equal(p.warnings.length, 1);
  t.match(p.warnings[0], /^KEYSTONE_CONF__DATABASE__CONNECTION overrides \[database\] connection from .*MYSQL_PASSWORD/);
  t.notMatch(p.warnings[0], /ignored-pw|0verride-pw/, 'no password in the warning');
  t.ok(p.secrets.includes('0verride-pw'), "the override's URL password is a secret");
  t.ok(p.secrets.includes('ignored-pw'), 'so is the password the override replaced');

  const plain = plan({ KEYSTONE_CONF__TOKEN__EXPIRATION: '7200' }, withConnection('mysql://k:p@db/keystone'));
  t.same(plain.edits, [{ section: 'token', key: 'expiration', value: '7200', from: ['KEYSTONE_CONF__TOKEN__EXPIRATION'], secret: false }], 'any other key, section and key lower-cased');
  t.same(plain.warnings, [], 'nothing replaced, nothing warned');
});

// oslo.config keeps the group DEFAULT upper case and lower-cases every other section name, so a
// [default] section is a group of its own that no option reads: --help's own example
// KEYSTONE_CONF__DEFAULT__DEBUG=true must land in [DEFAULT].
t.test('KEYSTONE_CONF__DEFAULT__DEBUG sets [DEFAULT] debug', async (t) => {
  const p = plan({ KEYSTONE_CONF__DEFAULT__DEBUG: 'true' }, withConnection('mysql://k:p@db/keystone'));
  t.same(p.edits.map((e) => `[${e.section}] ${e.key} = ${e.value}`), ['[DEFAULT] debug = true'], 'the section oslo.config reads');
});

t.test('a bad value of a file variable is refused by the plan, naming it', async (t) => {
  const settings = readSettings({ MYSQL_PASSWORD: 'two\nlines' }, noFiles, KEYSTONE_SETTINGS);
  t.ok(settings.confVars instanceof InputError, 'kept for the plan');
  t.throws(() => planEdits(settings, EMPTY), /^MYSQL_PASSWORD: contains a line break/);
  t.throws(() => plan({ MYSQL_DATABASE: 'x'.repeat(65) }), /^MYSQL_DATABASE: is longer than 64 characters/);
});

t.test("the Secrets rotate writes: Kubernetes' name rule, the variable named", async (t) => {
  for (const bad of ['Keys_1', '-keys', 'keys-', 'k'.repeat(254)]) {
    t.throws(() => readSettings({ KEYSTONE_FERNET_SECRET: bad }, noFiles, KEYSTONE_SETTINGS), /^KEYSTONE_FERNET_SECRET: ".*" is not a Secret name \(lower-case letters/, `${bad.slice(0, 20)} refused`);
  }
  for (const good of ['my-fernet-keys', 'keys.v2', 'k'.repeat(253)]) {
    t.equal(readSettings({ KEYSTONE_CREDENTIAL_SECRET: ` ${good} ` }, noFiles, KEYSTONE_SETTINGS).opts.credentialSecret.value, good, `${good.slice(0, 20)} taken (trimmed)`);
  }
});
