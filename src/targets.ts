// What the waits connect to, derived from the *effective* server.conf (after the edits),
// with Pulp's own defaults for keys the file leaves commented out.
import { type ConfigView, booleanOf, confGet } from './config-view.ts';
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

/**
 * The protocol Pulp's own client speaks to the broker, which is what the wait checks:
 * kombu's py-amqp for amqp:// (AMQP 0-9-1, RabbitMQ), python-qpid for qpid:// (AMQP 0-10).
 */
export type BrokerProtocol = 'amqp-0-9-1' | 'amqp-0-10';

export interface AmqpTarget {
  kind: 'amqp';
  /** host:port, IPv6 bracketed. */
  address: string;
  /** What Pulp speaks there; see BROKER_PROTOCOLS for how each is checked. */
  protocol: BrokerProtocol;
  /** The URL scheme as written (amqp, pyamqp, qpid, ...), for messages. */
  scheme: string;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  vhost: string | undefined;
  tls: boolean;
  /**
   * Whether the broker's certificate is checked, as Pulp's client does: py-amqp (0-9-1) checks
   * the chain only with celery_require_ssl (against cacert) and never the host name; an
   * amqps:// URL alone encrypts without checking. python-qpid checks chain and name.
   */
  tlsVerify: 'none' | 'chain' | 'chain-and-name';
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  /** The SASL mechanism Pulp's client names ([tasks] login_method; py-amqp's default AMQPLAIN). */
  loginMethod: string | undefined;
  /** Which key named this endpoint: "tasks.broker_url". */
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

/** A boolean key as Pulp reads it (getboolean); anything else is refused naming `where`. */
export function parseBool(value: string | undefined, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  const b = booleanOf(value);
  if (b === undefined) throw new InputError(`${where}: "${value}" is not a boolean (use true or false)`);
  return b;
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

/**
 * URL schemes of [tasks] broker_url, as kombu 4.0.2 (Pulp 2's) resolves them: amqp, pyamqp and
 * librabbitmq are its AMQP 0-9-1 transports (librabbitmq needs that C module in the image),
 * amqps the same over TLS; qpid is its Qpid transport (python-qpid, AMQP 0-10). qpids is no
 * kombu transport ("No such transport: qpids"): it is kept because PULP_BROKER_SCHEME offers
 * it, and checked like qpid over TLS. tcp and ssl are [messaging] url's (gofer's) schemes.
 */
export const URL_SCHEMES: Readonly<Record<string, { tls: boolean; port: number; protocol: BrokerProtocol | undefined }>> = {
  qpid: { tls: false, port: 5672, protocol: 'amqp-0-10' },
  qpids: { tls: true, port: 5671, protocol: 'amqp-0-10' },
  amqp: { tls: false, port: 5672, protocol: 'amqp-0-9-1' },
  amqps: { tls: true, port: 5671, protocol: 'amqp-0-9-1' },
  pyamqp: { tls: false, port: 5672, protocol: 'amqp-0-9-1' },
  librabbitmq: { tls: false, port: 5672, protocol: 'amqp-0-9-1' },
  tcp: { tls: false, port: 5672, protocol: undefined },
  ssl: { tls: true, port: 5671, protocol: undefined },
};

/** How the wait checks each protocol, and why that is what the role needs (README, preview). */
export const BROKER_PROTOCOLS: Readonly<Record<BrokerProtocol, { name: string; client: string; check: string }>> = {
  'amqp-0-9-1': {
    name: 'AMQP 0-9-1',
    client: "kombu's py-amqp",
    check: 'AMQP 0-9-1 connection open (amqplib) with the user, password and vhost that Pulp sends',
  },
  'amqp-0-10': {
    name: 'AMQP 0-10',
    client: 'python-qpid',
    check: 'AMQP 1.0 open (rhea), which Qpid brokers also speak; a Qpid answering only AMQP 0-10 counts as live',
  },
};

/** Why each wait is there: what the role does with that dependency as it starts (preview, README). */
export const WAIT_REASONS = {
  mongodb: {
    check: 'MongoDB ping, authenticated as Pulp does',
    why: "every role opens Pulp's database as it starts (beat's pulp-manage-db, the workers' records, the init record)",
  },
  broker: { why: 'Celery connects to it as it starts (beat to send the scheduled tasks, workers to take theirs)' },
} as const;

/** [messaging] transport -> the protocol gofer speaks to [messaging] url (Pulp's default qpid). */
export const MESSAGING_TRANSPORTS: Readonly<Record<string, BrokerProtocol>> = {
  qpid: 'amqp-0-10',
  rabbitmq: 'amqp-0-9-1',
};

/** Parses a broker URL (qpid://user:pw@host:port/vhost); user and password are percent-decoded. */
export function parseBrokerUrl(
  url: string,
  where: string,
): { host: string; port: number; portGiven: boolean; username?: string; password?: string; vhost?: string; tls: boolean; scheme: string } {
  const parts = splitUrl(url);
  const kind = parts === undefined ? undefined : URL_SCHEMES[parts.scheme];
  // Messages never quote text from a URL that carries a password: a malformed one may have
  // put part of the password where the host or port should be.
  const shown = parts?.password !== undefined ? redactUrl(url) : url;
  if (!parts || !kind) {
    throw new InputError(`${where}: "${shown}" is not a broker URL (${Object.keys(URL_SCHEMES).map((k) => `${k}://`).join(', ')})`);
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
    portGiven: hp.port !== undefined,
    username: decode(parts.user),
    password: decode(parts.password),
    vhost: decode(parts.path.replace(/^\//, '')),
    tls: kind.tls,
    scheme: parts.scheme,
  };
}

function brokerTarget(conf: ConfigView): AmqpTarget {
  const where = 'server.conf [tasks] broker_url';
  const url = get(conf, 'tasks', 'broker_url') ?? '';
  const u = parseBrokerUrl(url, where);
  const protocol = URL_SCHEMES[u.scheme]?.protocol;
  if (protocol === undefined) {
    throw new InputError(`${where}: ${u.scheme}:// is a [messaging] url scheme; Celery needs amqp://, amqps:// (RabbitMQ) or qpid:// (Qpid)`);
  }
  const requireSsl = parseBool(opt(conf, 'tasks', 'celery_require_ssl'), 'server.conf [tasks] celery_require_ssl') === true;
  const tls = u.tls || requireSsl;
  // kombu's py-amqp transport defaults to 5671 whenever TLS is on; its Qpid transport to 5672.
  const port = protocol === 'amqp-0-9-1' && tls && !u.portGiven ? 5671 : u.port;
  return {
    kind: 'amqp',
    address: joinHostPort(u.host, port),
    protocol,
    scheme: u.scheme,
    host: u.host,
    port,
    username: u.username,
    password: u.password,
    vhost: u.vhost,
    tls,
    tlsVerify: protocol === 'amqp-0-10' ? 'chain-and-name' : requireSsl ? 'chain' : 'none',
    caFile: opt(conf, 'tasks', 'cacert'),
    certFile: opt(conf, 'tasks', 'certfile'),
    keyFile: opt(conf, 'tasks', 'keyfile'),
    loginMethod: opt(conf, 'tasks', 'login_method'),
    source: 'tasks.broker_url',
  };
}

/** [messaging] url: what Pulp would reach there, and why the Celery roles do not wait for it. */
export interface MessagingEndpoint {
  address: string;
  transport: string;
  protocol: BrokerProtocol | undefined;
}

export function messagingEndpoint(conf: ConfigView): MessagingEndpoint {
  const u = parseBrokerUrl(get(conf, 'messaging', 'url') ?? '', 'server.conf [messaging] url');
  const transport = (opt(conf, 'messaging', 'transport') ?? 'qpid').toLowerCase();
  return { address: joinHostPort(u.host, u.port), transport, protocol: MESSAGING_TRANSPORTS[transport] };
}

/**
 * Why [messaging] url is not waited for: Pulp 2's Celery processes never connect to it at
 * start (read from the 2-master sources: only the web application starts gofer's reply
 * handler; tasks reach consumer agents and event listeners there when they run).
 */
export const MESSAGING_NOT_WAITED =
  "not waited for: Pulp's Celery roles do not connect to it at start (its web server and tasks that talk to consumer agents do)";

/**
 * What a Celery role needs to start: the database and the Celery broker. [messaging] url is
 * not one of them (see MESSAGING_NOT_WAITED), but it is still parsed, so a value Pulp could
 * not read is refused before anything is written.
 */
export function targetsFromConfig(conf: ConfigView): Target[] {
  messagingEndpoint(conf);
  return [mongoTarget(conf), brokerTarget(conf)];
}
