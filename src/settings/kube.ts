// Kubernetes service discovery through the variables the kubelet injects (pure).
//
// For a Service NAME with a cluster IP the kubelet sets NAME_SERVICE_HOST, NAME_SERVICE_PORT
// (first port), NAME_SERVICE_PORT_<PORTNAME> (named ports), and Docker-link variables
// NAME_PORT=tcp://IP:PORT and NAME_PORT_<port>_TCP[_ADDR|_PORT|_PROTO].
import { parsePort, splitHostPort } from '../common/net.ts';
import type { Env, Sourced } from './types.ts';

/**
 * The kubelet's variable name for a Service or port name: upper case, "-" to "_", nothing else
 * (makeEnvVariableName in pkg/kubelet/envvars; a port name "2nd-http" gives
 * NAME_SERVICE_PORT_2ND_HTTP, as the real kubelet's pods show in test/k8s/pulp-pods.test.ts).
 */
export function servicePrefix(serviceName: string): string {
  return serviceName.toUpperCase().replace(/-/g, '_');
}

/**
 * Whether `name` has the shape of a variable the kubelet makes for some Service (any Service in
 * the namespace: KEYSTONE_PUBLIC_SERVICE_HOST for keystone-public, MYSQL_PORT_3306_TCP for
 * mysql): NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME], NAME_PORT and
 * NAME_PORT_<port>_<TCP|UDP|SCTP>[_ADDR|_PORT|_PROTO]. Such a name is the cluster's, not a typo.
 */
export function isKubeletVariable(name: string): boolean {
  return /^[A-Z0-9_]+?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT|PORT_[0-9]+_(TCP|UDP|SCTP)(_ADDR|_PORT|_PROTO)?)$/.test(name);
}

export interface ServiceHint {
  /** Port the service conventionally listens on (27017, 5672). */
  defaultPort: number;
  /** Port names to prefer among NAME_SERVICE_PORT_<NAME>, most specific first. */
  portNames: string[];
}

export interface Discovered {
  host?: Sourced<string>;
  port?: Sourced<number>;
}

/** A problem found while reading the variables: which variable, what is wrong. */
export interface VarProblem {
  variable: string;
  problem: string;
}

function linkAddress(env: Env, name: string): { host: string; port: number | undefined } | undefined | 'bad' {
  const v = env[name];
  if (v === undefined) return undefined;
  const m = /^(tcp|udp|sctp):\/\/(.+)$/.exec(v);
  if (!m || m[2] === undefined) return 'bad';
  return splitHostPort(m[2]) ?? 'bad';
}

/**
 * Finds host and port for a Service, in this order:
 *   host: NAME_SERVICE_HOST, NAME_PORT_<default>_TCP_ADDR, NAME_PORT (tcp://ip:port), SERVICE_HOST
 *   port: NAME_SERVICE_PORT_<named port>, NAME_SERVICE_PORT, NAME_PORT_<default>_TCP_PORT, NAME_PORT
 * The port is looked up whether or not a host was found, so DB_SERVICE_PORT alone is honoured.
 */
export function discoverService(
  env: Env,
  serviceName: string,
  hint: ServiceHint,
  problems: VarProblem[],
): Discovered {
  const p = servicePrefix(serviceName);
  const out: Discovered = {};
  const link = `${p}_PORT`;
  const linkExact = `${p}_PORT_${hint.defaultPort}_TCP`;

  const hostVars = [`${p}_SERVICE_HOST`, `${linkExact}_ADDR`];
  for (const name of hostVars) {
    const v = env[name];
    if (v !== undefined) {
      out.host = { value: v, from: [name] };
      break;
    }
  }
  if (!out.host) {
    const parsed = linkAddress(env, link);
    if (parsed === 'bad') problems.push({ variable: link, problem: 'is not a tcp://host:port address' });
    else if (parsed) out.host = { value: parsed.host, from: [link] };
  }
  if (!out.host && env.SERVICE_HOST !== undefined) out.host = { value: env.SERVICE_HOST, from: ['SERVICE_HOST'] };

  const portVars = [
    ...hint.portNames.map((n) => `${p}_SERVICE_PORT_${servicePrefix(n)}`),
    `${p}_SERVICE_PORT`,
    `${linkExact}_PORT`,
  ];
  for (const name of portVars) {
    const v = env[name];
    if (v === undefined) continue;
    const port = parsePort(v);
    if (port === undefined) problems.push({ variable: name, problem: `"${v}" is not a port (an integer 1..65535)` });
    else out.port = { value: port, from: [name] };
    break;
  }
  if (!out.port) {
    const parsed = linkAddress(env, link);
    if (parsed && parsed !== 'bad' && parsed.port !== undefined) out.port = { value: parsed.port, from: [link] };
  }
  return out;
}

export function unique(list: string[]): string[] {
  return [...new Set(list)];
}
