// What the waits connect to, derived from the *effective* server.conf (after the edits),
// with Pulp's own defaults for keys the file leaves commented out.
import { type ConfigView, confGet } from './config-view.ts';
import { InputError } from './errors.ts';
import { joinHostPort, splitHostPort } from './net.ts';
import { redactUrl } from './redact.ts';
import { splitUrl } from './url.ts';

/** Pulp 2's defaults for the keys the agent reads, when the file does not set them. */
export const PULP_DEFAULTS = {
  database: { name: 'pulp_database', seeds: 'localhost:27017', ssl: 'false', verify_ssl: 'true' },
  messaging: { url: 'tcp://localhost:5672' },
  tasks: { broker_url: 'qpid://localhost/' },
} as const;

export interface MongoTarget {
  kind: 'mongodb';
  /** The seeds as written, IPv6 bracketed: "db:27017,db2:27017". */
  address: string;
  seeds: { host: string; port: number }[];
  database: string;
  username: string | undefined;
  password: string | undefined;
  replicaSet: string | undefined;
  tls: boolean;
  tlsVerify: boolean;
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

export interface AmqpTarget {
  kind: 'amqp';
  /** host:port, IPv6 bracketed. */
  address: string;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  vhost: string | undefined;
  tls: boolean;
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  /** Which key named this endpoint: "tasks.broker_url" or "messaging.url". */
  source: string;
}

export type Target = MongoTarget | AmqpTarget;

function get(conf: ConfigView, section: keyof typeof PULP_DEFAULTS, key: string): string | undefined {
  const v = confGet(conf, section, key);
  if (v !== undefined && v.trim() !== '') return v.trim();
  return (PULP_DEFAULTS[section] as Record<string, string>)[key];
}

function opt(conf: ConfigView, section: string, key: string): string | undefined {
  const v = confGet(conf, section, key)?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** ConfigParser's getboolean() vocabulary. */
export function parseBool(value: string | undefined, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(v)) return true;
  if (['0', 'no', 'false', 'off'].includes(v)) return false;
  throw new InputError(`${where}: "${value}" is not a boolean (use true or false)`);
}

export function parseSeeds(seeds: string, where = 'server.conf [database] seeds'): { host: string; port: number }[] {
  const list = seeds
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new InputError(`${where}: no host:port given`);
  return list.map((s) => {
    const hp = splitHostPort(s);
    if (!hp) throw new InputError(`${where}: "${s}" is not host:port`);
    return { host: hp.host, port: hp.port ?? 27017 };
  });
}

export function mongoTarget(conf: ConfigView): MongoTarget {
  const seeds = parseSeeds(get(conf, 'database', 'seeds') ?? PULP_DEFAULTS.database.seeds);
  return {
    kind: 'mongodb',
    address: seeds.map((s) => joinHostPort(s.host, s.port)).join(','),
    seeds,
    database: get(conf, 'database', 'name') ?? PULP_DEFAULTS.database.name,
    username: opt(conf, 'database', 'username'),
    password: opt(conf, 'database', 'password'),
    replicaSet: opt(conf, 'database', 'replica_set'),
    tls: parseBool(get(conf, 'database', 'ssl'), 'server.conf [database] ssl') ?? false,
    tlsVerify: parseBool(get(conf, 'database', 'verify_ssl'), 'server.conf [database] verify_ssl') ?? true,
    caFile: opt(conf, 'database', 'ca_path'),
    certFile: opt(conf, 'database', 'ssl_certfile'),
    keyFile: opt(conf, 'database', 'ssl_keyfile'),
  };
}

/** URL schemes Pulp accepts for [tasks] broker_url and [messaging] url. */
export const URL_SCHEMES: Readonly<Record<string, { tls: boolean; port: number }>> = {
  qpid: { tls: false, port: 5672 },
  amqp: { tls: false, port: 5672 },
  qpids: { tls: true, port: 5671 },
  amqps: { tls: true, port: 5671 },
  tcp: { tls: false, port: 5672 },
  ssl: { tls: true, port: 5671 },
};

/** Parses a broker URL (qpid://user:pw@host:port/vhost); user and password are percent-decoded. */
export function parseBrokerUrl(
  url: string,
  where: string,
): { host: string; port: number; username?: string; password?: string; vhost?: string; tls: boolean; scheme: string } {
  const parts = splitUrl(url);
  const kind = parts === undefined ? undefined : URL_SCHEMES[parts.scheme];
  // Messages never quote text from a URL that carries a password: a malformed one may have
  // put part of the password where the host or port should be.
  const shown = parts?.password !== undefined ? redactUrl(url) : url;
  if (!parts || !kind) {
    throw new InputError(`${where}: "${shown}" is not a broker URL (qpid://, qpids://, amqp://, amqps://, tcp:// or ssl://)`);
  }
  const quote = (text: string): string => (parts.password !== undefined ? '' : ` "${text}"`);
  const hp = parts.hostPort === '' ? { host: 'localhost', port: undefined } : splitHostPort(parts.hostPort);
  if (!hp) throw new InputError(`${where}: the host and port${quote(parts.hostPort)} are not host[:port] (is a password with "@" or "/" not percent-encoded?)`);
  const decode = (s: string | undefined): string | undefined => {
    if (s === undefined || s === '') return undefined;
    try {
      return decodeURIComponent(s);
    } catch {
      throw new InputError(`${where}: bad percent-encoding in the URL's user, password or path`);
    }
  };
  return {
    host: hp.host,
    port: hp.port ?? kind.port,
    username: decode(parts.user),
    password: decode(parts.password),
    vhost: decode(parts.path.replace(/^\//, '')),
    tls: kind.tls,
    scheme: parts.scheme,
  };
}

function amqpTarget(conf: ConfigView, section: 'tasks' | 'messaging', key: string, source: string): AmqpTarget {
  const url = get(conf, section, key) ?? '';
  const u = parseBrokerUrl(url, `server.conf [${section}] ${key}`);
  const tlsFiles =
    section === 'tasks'
      ? { caFile: opt(conf, 'tasks', 'cacert'), certFile: opt(conf, 'tasks', 'certfile'), keyFile: opt(conf, 'tasks', 'keyfile') }
      : { caFile: opt(conf, 'messaging', 'cacert'), certFile: opt(conf, 'messaging', 'clientcert'), keyFile: undefined };
  const requireSsl = section === 'tasks' ? parseBool(opt(conf, 'tasks', 'celery_require_ssl'), 'server.conf [tasks] celery_require_ssl') : undefined;
  return {
    kind: 'amqp',
    address: joinHostPort(u.host, u.port),
    host: u.host,
    port: u.port,
    username: u.username,
    password: u.password,
    vhost: u.vhost,
    tls: u.tls || requireSsl === true,
    ...tlsFiles,
    source,
  };
}

/**
 * Every dependency of the effective configuration: the database, the Celery broker, and the
 * messaging endpoint when it names another host:port than the broker.
 */
export function targetsFromConfig(conf: ConfigView): Target[] {
  const broker = amqpTarget(conf, 'tasks', 'broker_url', 'tasks.broker_url');
  const messaging = amqpTarget(conf, 'messaging', 'url', 'messaging.url');
  const targets: Target[] = [mongoTarget(conf), broker];
  if (messaging.address !== broker.address) targets.push(messaging);
  return targets;
}
