// Host and port syntax shared by the environment mapping and the wait targets.
import { isIP } from 'node:net';

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A DNS name (RFC 1123 labels, optionally with a final dot) or an IPv4/IPv6 literal. */
export function isHost(value: string): boolean {
  const bare = unbracket(value);
  if (isIP(bare) !== 0) return bare === value || isIP(bare) === 6;
  if (value.length > 253) return false;
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  return name.length > 0 && name.split('.').every((l) => LABEL.test(l));
}

export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** host:port with IPv6 literals bracketed, as MongoDB seeds and URLs want them. */
export function joinHostPort(host: string, port: number | string): string {
  const bare = unbracket(host);
  return isIP(bare) === 6 ? `[${bare}]:${port}` : `${bare}:${port}`;
}

export function parsePort(value: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** Splits "host:port", "[v6]:port" or "host" (port undefined); undefined when malformed. */
export function splitHostPort(value: string): { host: string; port: number | undefined } | undefined {
  const v6 = /^\[([^\]]+)\](?::([^:]*))?$/.exec(value);
  if (v6) {
    const host = v6[1] ?? '';
    if (isIP(host) !== 6) return undefined;
    if (v6[2] === undefined) return { host, port: undefined };
    const port = parsePort(v6[2]);
    return port === undefined ? undefined : { host, port };
  }
  const parts = value.split(':');
  if (parts.length === 1) return isHost(value) ? { host: value, port: undefined } : undefined;
  if (parts.length !== 2) return undefined;
  const [host = '', portText = ''] = parts;
  const port = parsePort(portText);
  if (!isHost(host) || port === undefined) return undefined;
  return { host, port };
}
