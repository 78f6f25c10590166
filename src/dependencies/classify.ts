// Why an attempt failed, in words a person checking a pod understands. Pure: the drivers'
// error objects are reduced to plain facts first (errorFacts), then classified.

export type Reason =
  | 'refused'
  | 'timeout'
  | 'no-answer'
  | 'reset'
  | 'dns'
  | 'unreachable'
  | 'auth'
  | 'auth-plugin'
  | 'vhost'
  | 'database'
  | 'protocol'
  | 'tls'
  | 'error';

/** What to tell the person for each reason. */
export const REASON_TEXT: Record<Reason, string> = {
  refused: 'connection refused',
  timeout: 'timed out',
  'no-answer': 'no answer',
  reset: 'connection reset',
  dns: 'host name not found',
  unreachable: 'network unreachable',
  auth: 'authentication failed',
  'auth-plugin': 'unsupported authentication plugin',
  vhost: 'vhost refused',
  database: 'database refused',
  protocol: 'protocol mismatch',
  tls: 'TLS failed',
  error: 'failed',
};

/** What to check, per reason, for the line of a dependency not ready (wait/report.ts). */
export const REASON_HINT: Record<Reason, string> = {
  refused: 'is the server running and listening on that port?',
  timeout: 'is the address right and reachable (firewall, NetworkPolicy)?',
  // The TCP connection was made, so address and route are fine.
  'no-answer': 'the connection was made: is it the server\'s own port (not another service that waits for the client to speak), or is the server hung or overloaded?',
  reset: 'is it the right port and protocol for this server?',
  dns: 'is the service name right and does it resolve in this namespace?',
  unreachable: 'is there a route to that address?',
  auth: 'check the user name and password',
  'auth-plugin': "let the database user log in with a plugin both the agent and the service speak: mysql_native_password or caching_sha2_password (ALTER USER ... IDENTIFIED VIA/WITH ...)",
  vhost: 'create the vhost or give the user permissions on it (rabbitmqctl add_vhost, set_permissions), or fix the path of [tasks] broker_url ("//" is the vhost "/")',
  database: 'create the database and grant the user access to it, or fix the database name',
  protocol: 'is it the right kind of server on that port?',
  tls: 'check the TLS settings and certificates',
  error: 'see the reason above',
};

/** An attempt's failure, classified. `permanent`: retrying cannot help (wrong password). */
export class ProbeError extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

export interface ErrorFacts {
  /** System and OpenSSL codes found anywhere in the error and its causes (ECONNREFUSED, ...). */
  codes: string[];
  /** Error class names in the chain (MongoNetworkTimeoutError, ...). */
  names: string[];
  messages: string[];
  /** MongoDB server error codes (18 = AuthenticationFailed). */
  serverCodes: number[];
}

const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA', 'ESERVFAIL']);
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;
const MONGO_AUTH_CODES = new Set([18, 11]);

export function classifyFacts(f: ErrorFacts): Reason {
  const text = f.messages.join(' | ');
  if (f.serverCodes.some((c) => MONGO_AUTH_CODES.has(c)) || /authentication failed|sasl.*(fail|denied)/i.test(text)) return 'auth';
  if (f.codes.some((c) => TLS_CODES.test(c)) || /\b(ssl|tls)\b.*(error|alert|fail|wrong version)|certificate/i.test(text)) return 'tls';
  if (f.codes.some((c) => DNS.has(c))) return 'dns';
  if (f.codes.includes('ECONNREFUSED')) return 'refused';
  if (f.codes.some((c) => UNREACHABLE.has(c))) return 'unreachable';
  if (f.codes.some((c) => RESET.has(c)) || /socket hang up|connection .* closed|\bclosed\b.*before/i.test(text)) return 'reset';
  if (f.codes.includes('ETIMEDOUT') || f.names.some((n) => /Timeout/.test(n)) || /timed out|timeout/i.test(text)) return 'timeout';
  // The driver reports "no server answered in time" without a cause when sockets just hang.
  if (f.names.includes('MongoServerSelectionError')) return 'timeout';
  return 'error';
}

/** Every error object in `err`: itself, its `cause` chain, AggregateErrors and the driver's topology. */
function eachError(err: unknown, visit: (o: Record<string, unknown>) => void): void {
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): void => {
    if (e === null || typeof e !== 'object' || seen.has(e) || depth > 6) return;
    seen.add(e);
    const o = e as Record<string, unknown>;
    visit(o);
    walk(o.cause, depth + 1);
    if (Array.isArray(o.errors)) for (const x of o.errors) walk(x, depth + 1);
    // MongoServerSelectionError.reason is a TopologyDescription whose servers carry the socket errors.
    const servers = (o.reason as { servers?: unknown } | undefined)?.servers;
    if (servers instanceof Map) for (const sd of servers.values()) walk((sd as { error?: unknown }).error, depth + 1);
  };
  walk(err, 0);
}

/** Collects the facts from an error and everything inside it (eachError). */
export function errorFacts(err: unknown): ErrorFacts {
  const facts: ErrorFacts = { codes: [], names: [], messages: [], serverCodes: [] };
  eachError(err, (o) => {
    if (o instanceof Error) {
      facts.names.push(o.name);
      if (o.message) facts.messages.push(o.message);
    }
    if (typeof o.code === 'string') facts.codes.push(o.code);
    if (typeof o.code === 'number') facts.serverCodes.push(o.code);
  });
  return facts;
}

/**
 * A ProbeError anywhere inside `err`: our own checks on a driver's socket (frame-guard.ts)
 * destroy it with one, and the driver hands it back wrapped as the cause of its own error.
 */
function innerProbeError(err: unknown): ProbeError | undefined {
  let found: ProbeError | undefined;
  eachError(err, (o) => {
    if (found === undefined && o instanceof ProbeError) found = o;
  });
  return found;
}

export function classifyError(err: unknown): Reason {
  return innerProbeError(err)?.reason ?? classifyFacts(errorFacts(err));
}

/** Wraps any failure as a ProbeError, keeping a ProbeError (also one found inside) as it is. */
export function toProbeError(err: unknown, where: string): ProbeError {
  const inner = innerProbeError(err);
  if (inner) return inner;
  const reason = classifyError(err);
  return new ProbeError(reason, `${REASON_TEXT[reason]} at ${where} (${errorDetail(errorFacts(err), err)})`, reason === 'auth');
}

/**
 * The error's most specific message, on one line of at most 200 characters: the innermost
 * system message ("connect ECONNREFUSED 127.0.0.1:1") when there is one.
 */
export function errorDetail(facts: ErrorFacts, err: unknown): string {
  return peerText(facts.messages.find((m) => /\bE[A-Z]{3,}\b/.test(m)) ?? facts.messages[0] ?? String(err));
}

/**
 * Text a peer chose (a server's error message, the name of a plugin it asks for) as part of one
 * log line: control characters (a newline, a terminal escape) as spaces, runs of space as one,
 * at most `max` characters.
 */
export function peerText(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, ' ').trim();
  return line.length > max ? line.slice(0, max - 3) + '...' : line;
}
