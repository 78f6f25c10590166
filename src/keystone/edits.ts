// The environment -> the keystone.conf edits it asks for (pure): [database] connection from
// the database Service and the original image's MYSQL_* (halves the environment leaves out
// come from the file's URL, then Keystone's own names), [cache] from KEYSTONE_CACHE_SERVERS.
import type { ConfigView } from '../ini/config-view.ts';
import { type EditPlan, planEditsWith } from '../settings/edits/plan.ts';
import { type Ctx, type Part, type PlannedEdit, checkHost, edit } from '../settings/edits/edit.ts';
import { discoverService } from '../settings/kube.ts';
import type { Settings } from '../settings/options.ts';
import type { Sourced } from '../settings/types.ts';
import { splitHostPort } from '../common/net.ts';
import { databaseUrl } from './database-url.ts';
import { isSecret, keystoneValue } from './keys.ts';
import type { KeystoneConfVars, KeystoneOptions } from './settings.ts';
import { parseConnection } from './targets.ts';

type KeystoneCtx = Ctx<KeystoneOptions, KeystoneConfVars>;
const FILE = 'keystone.conf';

interface Current {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** Where the parts came from: the file, or the defaults (the Service's DNS name, the original's names). */
  from: string;
}

/** What the file's URL says; without one, the database Service's DNS name and the original's names. */
function currentConnection(current: ConfigView, service: string): Current | undefined {
  const url = keystoneValue(current, 'database.connection');
  try {
    if (url !== undefined) {
      const c = parseConnection(url);
      return { host: c.host, port: c.port, user: c.username, ...(c.password !== undefined ? { password: c.password } : {}), database: c.database, from: FILE };
    }
  } catch {
    // An unreadable value in the file is replaced whole.
  }
  return url === undefined ? { host: service, port: 3306, user: 'keystone', database: 'keystone', from: 'default' } : undefined;
}

function databaseEdits(ctx: KeystoneCtx): Part {
  const db = discoverService(ctx.env, ctx.opts.dbService.value, { defaultPort: 3306, portNames: ['mysql', 'mariadb'] }, ctx.problems);
  checkHost(db.host, ctx.problems);
  const { c, via } = ctx;
  const given = db.host || db.port || c.MYSQL_USER !== undefined || c.MYSQL_PASSWORD !== undefined || c.MYSQL_DATABASE !== undefined;
  // Keystone without a connection falls back to SQLite in its working directory: the agent
  // always writes one then, to the Service by its DNS name when the kubelet gave no address.
  const found = currentConnection(ctx.current, ctx.opts.dbService.value);
  // A connection the file has (even one the agent cannot use: the targets refuse it, naming
  // it) is only replaced when the environment asks for one.
  if (!given && found?.from !== 'default') return { edits: [], secrets: [] };
  const base = found ?? { host: ctx.opts.dbService.value, port: 3306, user: 'keystone', database: 'keystone', from: 'default' };
  const host = db.host ?? { value: base.host, from: [base.from === FILE ? FILE : ctx.opts.dbService.from[0] === 'default' ? 'default' : 'KEYSTONE_DB_SERVICE'] };
  const port = db.port ?? (db.host ? { value: 3306, from: ['default'] } : { value: base.port, from: [base.from] });
  const user: Sourced<string> = c.MYSQL_USER !== undefined ? { value: c.MYSQL_USER, from: [via('MYSQL_USER')] } : { value: base.user, from: [base.from] };
  const database: Sourced<string> =
    c.MYSQL_DATABASE !== undefined ? { value: c.MYSQL_DATABASE, from: ['MYSQL_DATABASE'] } : { value: base.database, from: [base.from] };
  // A password in the file belongs to the file's user; a new user does not inherit it.
  const password: Sourced<string> | undefined =
    c.MYSQL_PASSWORD !== undefined
      ? { value: c.MYSQL_PASSWORD, from: [via('MYSQL_PASSWORD')] }
      : base.password !== undefined && c.MYSQL_USER === undefined
        ? { value: base.password, from: [base.from] }
        : undefined;
  const url = databaseUrl({ user: user.value, password: password?.value, host: host.value, port: port.value, database: database.value });
  const from = [...host.from, ...port.from, ...user.from, ...(password?.from ?? []), ...database.from];
  return { edits: [edit('database', 'connection', url, from)], secrets: password ? [password.value] : [] };
}

/** The original's sidecar: memcached beside Keystone, only a cache (the API starts without it). */
function cacheEdits(ctx: KeystoneCtx): Part {
  const servers = ctx.c.KEYSTONE_CACHE_SERVERS;
  if (servers === undefined) return { edits: [], secrets: [] };
  const list: string[] = [];
  for (const s of servers.split(',')) {
    const hp = splitHostPort(s.trim());
    if (hp === undefined || hp.port === undefined) {
      ctx.problems.push({ variable: 'KEYSTONE_CACHE_SERVERS', problem: `"${s.trim()}" is not host:port (a list: 127.0.0.1:11211,cache-1:11211)` });
      return { edits: [], secrets: [] };
    }
    // python-memcached reads an IPv6 server only as inet6:[v6]:port ("[v6]:port" does not parse).
    list.push(hp.host.includes(':') ? `inet6:[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`);
  }
  const from = ['KEYSTONE_CACHE_SERVERS'];
  const edits: PlannedEdit[] = [
    edit('cache', 'enabled', 'true', from),
    // python-memcached, which Keystone's requirements install (oslo.cache's memcache backends).
    edit('cache', 'backend', 'dogpile.cache.memcached', from),
    edit('cache', 'memcache_servers', list.join(','), from),
  ];
  return { edits, secrets: [] };
}

/** @param current keystone.conf as it is now, for the halves of a value the environment leaves out */
export function planEdits(settings: Settings<KeystoneOptions, KeystoneConfVars>, current: ConfigView): EditPlan {
  return planEditsWith(settings, current, (ctx) => [databaseEdits(ctx), cacheEdits(ctx)], isSecret);
}
