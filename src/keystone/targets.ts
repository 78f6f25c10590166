// What the api waits for, from the *effective* keystone.conf: the database of [database]
// connection, at protocol level, as Keystone's own driver (PyMySQL) logs in. memcached is not
// waited for: measured with the real Keystone 30, the API answers and issues tokens with the
// cache servers unreachable (it is only a cache).
import type { ConfigView } from '../ini/config-view.ts';
import { InputError } from '../common/errors.ts';
import { joinHostPort, splitHostPort, unbracket } from '../common/net.ts';
import { redactUrl } from '../common/redact.ts';
import { splitUrl } from '../common/url.ts';
import type { MysqlTarget } from '../common/targets.ts';
import { keystoneValue, labelOf } from './keys.ts';

const WHERE = labelOf('database.connection');

/** SQLAlchemy dialects Keystone can open that speak MySQL's protocol (pymysql is its requirement). */
const MYSQL_DIALECTS = ['mysql', 'mysql+pymysql', 'mysql+mysqldb', 'mariadb', 'mariadb+pymysql'];

export interface Connection {
  host: string;
  port: number;
  username: string;
  password: string | undefined;
  database: string;
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new InputError(`${WHERE}: the ${what} is not valid percent-encoding`);
  }
}

/** A SQLAlchemy URL as make_url reads it (user, password and database percent-decoded). */
export function parseConnection(url: string): Connection {
  const u = splitUrl(url);
  if (u === undefined) throw new InputError(`${WHERE}: "${redactUrl(url)}" is not a database URL (mysql+pymysql://USER:PASSWORD@HOST:PORT/DB)`);
  if (!MYSQL_DIALECTS.includes(u.scheme)) {
    throw new InputError(`${WHERE}: ${u.scheme}:// is not MySQL; the agent waits for and keeps its lease in MySQL/MariaDB (mysql+pymysql://)`);
  }
  // splitUrl lower-cases the scheme; SQLAlchemy does not, and loads no "MySQL+PyMySQL" dialect.
  const written = url.slice(0, u.scheme.length);
  if (written !== u.scheme) throw new InputError(`${WHERE}: ${written}:// is not a dialect SQLAlchemy can load: write it in lower case (${u.scheme}://)`);
  const hp = u.hostPort === '' ? undefined : splitHostPort(u.hostPort);
  if (hp === undefined) throw new InputError(`${WHERE}: no host (a Unix socket is not supported; give HOST:PORT)`);
  const database = decode(u.path.replace(/^\//, '').split('?')[0] ?? '', 'database');
  if (database === '') throw new InputError(`${WHERE}: no database name after the host (.../keystone)`);
  return {
    host: unbracket(hp.host),
    port: hp.port ?? 3306,
    username: decode(u.user ?? '', 'user'),
    password: u.password === undefined ? undefined : decode(u.password, 'password'),
    database,
  };
}

/** What the api needs to start: its database (and the init keeps its lease there). */
export function mysqlTarget(conf: ConfigView): MysqlTarget {
  const url = keystoneValue(conf, 'database.connection');
  if (url === undefined) {
    throw new InputError(
      `${WHERE} is not set, and Keystone would quietly fall back to sqlite:///keystone.db in its working directory: set MYSQL_PASSWORD (with the database Service, KEYSTONE_DB_SERVICE) or KEYSTONE_CONF__DATABASE__CONNECTION`,
    );
  }
  const c = parseConnection(url);
  return { kind: 'mysql', address: joinHostPort(c.host, c.port), host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, source: 'database.connection' };
}

/** What the wait checks (src/wait/mysql.ts), for preview and docs/keystone.md. */
export const MYSQL_CHECK = 'MySQL handshake, login with the user and password of the URL, the database selected, SELECT 1 (mysql2)';

export const MYSQL_WHY = 'Keystone opens its database as it starts (db_sync and bootstrap in the init, then every API worker), and the init keeps its lease there';

export const CACHE_NOT_WAITED =
  'not waited for: Keystone only caches there; measured with the real Keystone 30, the API answers and issues tokens with it unreachable';
