// The value formats of Pulp's server.conf that the agent parses: booleans as ConfigParser reads
// them, [database] seeds, and the broker URLs of [tasks] broker_url and [messaging] url with
// the schemes kombu and gofer accept.
import { booleanOf } from '../ini/config-view.ts';
import { InputError } from '../common/errors.ts';
import { splitHostPort } from '../common/net.ts';
import { redactUrl } from '../common/redact.ts';
import { splitUrl } from '../common/url.ts';
import { labelOf } from './keys.ts';

import type { BrokerProtocol } from '../common/targets.ts';

export type { BrokerProtocol };

/**
 * URL schemes of [tasks] broker_url, as kombu 4.0.2 (Pulp 2's) resolves them: amqp, pyamqp and
 * librabbitmq are its AMQP 0-9-1 transports (librabbitmq needs that C module in the image),
 * amqps the same over TLS; qpid is its Qpid transport (python-qpid, AMQP 0-10). qpids is no
 * kombu transport ("No such transport: qpids"): it is kept because PULP_BROKER_SCHEME offers
 * it, and checked like qpid over TLS. tcp and ssl are [messaging] url's (gofer's) schemes.
 */
const SCHEMES = {
  qpid: { tls: false, port: 5672, protocol: 'amqp-0-10', offered: true },
  qpids: { tls: true, port: 5671, protocol: 'amqp-0-10', offered: true },
  amqp: { tls: false, port: 5672, protocol: 'amqp-0-9-1', offered: true },
  amqps: { tls: true, port: 5671, protocol: 'amqp-0-9-1', offered: true },
  pyamqp: { tls: false, port: 5672, protocol: 'amqp-0-9-1', offered: false },
  librabbitmq: { tls: false, port: 5672, protocol: 'amqp-0-9-1', offered: false },
  tcp: { tls: false, port: 5672, protocol: undefined, offered: false },
  ssl: { tls: true, port: 5671, protocol: undefined, offered: false },
} as const satisfies Record<string, UrlScheme>;

export interface UrlScheme {
  tls: boolean;
  /** The port when the URL gives none. */
  port: number;
  /** What Celery speaks there; undefined for [messaging] url's schemes, which Celery refuses. */
  protocol: BrokerProtocol | undefined;
  /** PULP_BROKER_SCHEME offers it (the schemes the original images wrote). */
  offered: boolean;
}

export const URL_SCHEMES: Readonly<Record<string, UrlScheme>> = SCHEMES;

type Schemes = typeof SCHEMES;
export type BrokerScheme = { [K in keyof Schemes]: Schemes[K]['offered'] extends true ? K : never }[keyof Schemes];

/** The values of PULP_BROKER_SCHEME, in table order. */
export const BROKER_SCHEMES: readonly BrokerScheme[] = (Object.keys(SCHEMES) as (keyof Schemes)[]).filter(
  (k): k is BrokerScheme => SCHEMES[k].offered,
);

/** A boolean key as Pulp reads it (getboolean); anything else is refused naming `where`. */
export function parseBool(value: string | undefined, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  const b = booleanOf(value);
  if (b === undefined) throw new InputError(`${where}: "${value}" is not a boolean (use true or false)`);
  return b;
}

export function parseSeeds(seeds: string, where = labelOf('database.seeds')): { host: string; port: number }[] {
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

