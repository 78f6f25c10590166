// What the waits connect to, derived from the *effective* server.conf (after the edits),
// with Pulp's own defaults (src/pulp/keys.ts) for keys the file leaves commented out.
import type { ConfigView } from '../ini/config-view.ts';
import { InputError } from '../common/errors.ts';
import { joinHostPort } from '../common/net.ts';
import { TLS_FILE_KEYS, labelOf, pulpValue, setValue } from './keys.ts';
import { type BrokerProtocol, URL_SCHEMES, parseBool, parseBrokerUrl, parseSeeds } from './values.ts';
import type { AmqpSpeaker, AmqpTarget, MongoTarget, TlsSettings } from '../common/targets.ts';

/** What Pulp's Celery roles connect to as they start. */
export type PulpTarget = MongoTarget | AmqpTarget;

function tlsSettingsOf(section: 'database' | 'tasks'): TlsSettings {
  const k = TLS_FILE_KEYS[section];
  return { ca: labelOf(k.ca), cert: labelOf(k.cert), key: labelOf(k.key) };
}

export function mongoTarget(conf: ConfigView): MongoTarget {
  const seeds = parseSeeds(pulpValue(conf, 'database.seeds') ?? '');
  return {
    kind: 'mongodb',
    address: seeds.map((s) => joinHostPort(s.host, s.port)).join(','),
    seeds,
    database: pulpValue(conf, 'database.name') ?? '',
    username: setValue(conf, 'database.username'),
    password: setValue(conf, 'database.password'),
    replicaSet: setValue(conf, 'database.replica_set'),
    tls: parseBool(pulpValue(conf, 'database.ssl'), labelOf('database.ssl')) ?? false,
    tlsVerify: parseBool(pulpValue(conf, 'database.verify_ssl'), labelOf('database.verify_ssl')) ?? true,
    caFile: setValue(conf, TLS_FILE_KEYS.database.ca),
    certFile: setValue(conf, TLS_FILE_KEYS.database.cert),
    keyFile: setValue(conf, TLS_FILE_KEYS.database.key),
    tlsSettings: tlsSettingsOf('database'),
    authHint: 'check [database] username and password (Pulp authenticates against the database named in [database] name)',
  };
}

/** How the wait checks each protocol, and why that is what the role needs (docs/waits.md, preview). */
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

/** Why each wait is there: what the role does with that dependency as it starts (preview, docs/waits.md). */
export const WAIT_REASONS = {
  mongodb: {
    check: 'MongoDB ping, authenticated as Pulp does',
    why: "every role opens Pulp's database as it starts (beat's pulp-manage-db, the workers' records, the init record)",
  },
  broker: { why: 'Celery connects to it as it starts (beat to send the scheduled tasks, workers to take theirs)' },
} as const;

/** The advice for a broker that speaks the other protocol: the scheme Pulp uses for it. */
function useScheme(broker: string, scheme: string): string {
  return `for ${broker} set [tasks] broker_url to ${scheme}://... (PULP_BROKER_SCHEME=${scheme})`;
}

function speakerOf(protocol: BrokerProtocol): AmqpSpeaker {
  const p = BROKER_PROTOCOLS[protocol];
  return {
    service: 'Pulp',
    client: p.client,
    protocolName: p.name,
    advice: { '0-9-1': useScheme('RabbitMQ', 'amqp'), '0-10': useScheme('Qpid', 'qpid') },
    needs: 'Pulp 2 needs RabbitMQ (amqp://) or Qpid (qpid://)',
  };
}

/** [messaging] transport -> the protocol gofer speaks to [messaging] url (Pulp's default qpid). */
export const MESSAGING_TRANSPORTS: Readonly<Record<string, BrokerProtocol>> = {
  qpid: 'amqp-0-10',
  rabbitmq: 'amqp-0-9-1',
};

function brokerTarget(conf: ConfigView): AmqpTarget {
  const where = labelOf('tasks.broker_url');
  const url = pulpValue(conf, 'tasks.broker_url') ?? '';
  const u = parseBrokerUrl(url, where);
  const protocol = URL_SCHEMES[u.scheme]?.protocol;
  if (protocol === undefined) {
    throw new InputError(`${where}: ${u.scheme}:// is a [messaging] url scheme; Celery needs amqp://, amqps:// (RabbitMQ) or qpid:// (Qpid)`);
  }
  const requireSsl = parseBool(pulpValue(conf, 'tasks.celery_require_ssl'), labelOf('tasks.celery_require_ssl')) === true;
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
    caFile: setValue(conf, TLS_FILE_KEYS.tasks.ca),
    certFile: setValue(conf, TLS_FILE_KEYS.tasks.cert),
    keyFile: setValue(conf, TLS_FILE_KEYS.tasks.key),
    loginMethod: setValue(conf, 'tasks.login_method'),
    source: 'tasks.broker_url',
    tlsSettings: tlsSettingsOf('tasks'),
    speaker: speakerOf(protocol),
  };
}

/** [messaging] url: what Pulp would reach there, and why the Celery roles do not wait for it. */
export interface MessagingEndpoint {
  address: string;
  transport: string;
  protocol: BrokerProtocol | undefined;
}

export function messagingEndpoint(conf: ConfigView): MessagingEndpoint {
  const u = parseBrokerUrl(pulpValue(conf, 'messaging.url') ?? '', labelOf('messaging.url'));
  const transport = (pulpValue(conf, 'messaging.transport') ?? '').toLowerCase();
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
export function targetsFromConfig(conf: ConfigView): PulpTarget[] {
  messagingEndpoint(conf);
  return [mongoTarget(conf), brokerTarget(conf)];
}
