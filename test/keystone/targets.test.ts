// src/keystone/targets.ts (parseConnection, mysqlTarget): keystone.conf's [database] connection as
// SQLAlchemy's make_url reads it, and what the api waits for; every refusal is one line naming
// the key, without the password.
import t, { type Test } from 'tap';
import { InputError } from '../../src/common/errors.ts';
import type { ConfigView } from '../../src/ini/config-view.ts';
import { parseConnection, mysqlTarget } from '../../src/keystone/targets.ts';

const PW = 'Hunter2-secret';
const view = (database: Record<string, string>): ConfigView => new Map([['DEFAULT', new Map()], ['database', new Map(Object.entries(database))]]);

/** The refusal of `url`, checked to be one InputError line naming the key, without the password. */
function refusal(t: Test, url: string): string {
  const err = t.throws(() => parseConnection(url), `${url} refused`) as Error;
  t.ok(err instanceof InputError, 'an InputError (exit 65)');
  t.match(err.message, /^keystone\.conf \[database\] connection[: ]/, 'names the key');
  t.equal(err.message.split('\n').length, 1, 'one line');
  t.notMatch(err.message, new RegExp(PW), 'no password');
  return err.message;
}

t.test('the MySQL dialects Keystone can open', async (t) => {
  for (const scheme of ['mysql', 'mysql+pymysql', 'mariadb+pymysql', 'mariadb', 'mysql+mysqldb']) {
    t.same(parseConnection(`${scheme}://keystone:${PW}@db.example:3307/keystone`), { host: 'db.example', port: 3307, username: 'keystone', password: PW, database: 'keystone' }, scheme);
  }
  // SQLAlchemy 2 raises NoSuchModuleError for "MySQL+PyMySQL" (its registry is lower case).
  t.match(refusal(t, `MySQL+PyMySQL://keystone:${PW}@db/keystone`), /MySQL\+PyMySQL:\/\/ is not a dialect SQLAlchemy can load: write it in lower case \(mysql\+pymysql:\/\/\)/);
});

t.test('other databases are refused, naming the key, never the password', async (t) => {
  t.match(refusal(t, 'sqlite:///keystone.db'), /sqlite:\/\/ is not MySQL/);
  t.match(refusal(t, 'sqlite:////var/lib/keystone/keystone.db'), /sqlite:\/\/ is not MySQL/);
  t.match(refusal(t, `postgresql://keystone:${PW}@pg:5432/keystone`), /postgresql:\/\/ is not MySQL/);
  t.match(refusal(t, `postgresql+psycopg2://keystone:${PW}@pg/keystone`), /not MySQL/);
  t.match(refusal(t, `keystone:${PW}@db/keystone`), /is not a database URL/, 'not a URL: shown with its password masked');
});

t.test('a host is needed (no Unix socket), and a database name', async (t) => {
  t.match(refusal(t, `mysql+pymysql://keystone:${PW}@/keystone?unix_socket=/run/mysqld/mysqld.sock`), /no host \(a Unix socket is not supported/);
  t.match(refusal(t, 'mysql+pymysql:///keystone'), /no host/);
  t.match(refusal(t, `mysql+pymysql://keystone:${PW}@db:3306`), /no database name/);
  t.match(refusal(t, `mysql+pymysql://keystone:${PW}@db:3306/`), /no database name/);
  t.match(refusal(t, `mysql+pymysql://keystone:${PW}@db:3306/?charset=utf8`), /no database name/);
  t.match(refusal(t, `mysql+pymysql://keystone:${PW}@db:99999/keystone`), /no host/, 'a bad port is no usable host:port');
});

t.test('port 3306 by default; IPv6 unbracketed; the query is not the database', async (t) => {
  t.equal(parseConnection('mysql+pymysql://keystone@db/keystone').port, 3306);
  t.same(parseConnection('mysql+pymysql://keystone@[fd00::5]/keystone?charset=utf8'), { host: 'fd00::5', port: 3306, username: 'keystone', password: undefined, database: 'keystone' });
  t.equal(parseConnection('mysql+pymysql://ks:@db/keystone').password, '', 'an empty password is not no password');
});

t.test('user, password and database percent-decoded, as make_url does', async (t) => {
  const c = parseConnection('mysql+pymysql://ks%40admin:p%40ss%3Aw%2Frd%3F%23%25%24@db:3306/ks%2Fdb');
  t.equal(c.username, 'ks@admin');
  t.equal(c.password, 'p@ss:w/rd?#%$');
  t.equal(c.database, 'ks/db');
  t.equal(parseConnection('mysql://k:%C3%A9@db/keystone').password, 'é', 'UTF-8');
  t.equal(parseConnection('mysql://k:p@ss@db/keystone').password, 'p@ss', 'a raw "@" stays in the password (the last "@" ends it)');
});

t.test('bad percent-encoding is refused, naming the part, not showing it', async (t) => {
  t.match(refusal(t, `mysql+pymysql://keystone:${PW}%zz@db/keystone`), /the password is not valid percent-encoding/);
  t.match(refusal(t, 'mysql+pymysql://ke%Gystone@db/keystone'), /the user is not valid percent-encoding/);
  t.match(refusal(t, 'mysql+pymysql://keystone@db/key%E0stone'), /the database is not valid percent-encoding/);
});

t.test('mysqlTarget: what the api waits for, from the effective file', async (t) => {
  t.same(mysqlTarget(view({ connection: `mysql+pymysql://keystone:${PW}@[fd00::5]:3307/keystone` })), {
    kind: 'mysql',
    address: '[fd00::5]:3307',
    host: 'fd00::5',
    port: 3307,
    username: 'keystone',
    password: PW,
    database: 'keystone',
    source: 'database.connection',
  });
  t.equal(mysqlTarget(view({ connection: '  mysql://k@db/keystone  ' })).address, 'db:3306', 'the value trimmed');
});

t.test('connection unset: refused, saying Keystone would fall back to SQLite', async (t) => {
  for (const conf of [view({}), view({ connection: '' }), new Map() as ConfigView]) {
    const err = t.throws(() => mysqlTarget(conf)) as Error;
    t.ok(err instanceof InputError);
    t.match(err.message, /^keystone\.conf \[database\] connection is not set, and Keystone would quietly fall back to sqlite:\/\/\/keystone\.db/);
    t.match(err.message, /MYSQL_PASSWORD.*KEYSTONE_CONF__DATABASE__CONNECTION/, 'says how to set it');
    t.equal(err.message.split('\n').length, 1);
  }
});
