// Calls to the Kubernetes API from inside a pod: HTTPS with the service account's CA and
// token, JSON both ways, answers bounded in size. An answer the API may give differently a
// moment later (429, 5xx, a timeout, a dropped connection) is tried again on the one retry
// loop until the deadline (69 then); the others end the call at once, with the code of the
// table: 401/403 -> 77 (the Role), 404 -> 66, 400/422 -> 65; 409 is the caller's to handle.
import { InputError, NoInputError, NoPermissionError, UnavailableError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, retryUntil } from '../common/retry.ts';
import type { InCluster } from './in-cluster.ts';

/** A Secret is at most 1 MiB; a List or a Status far less than this. */
const MAX_ANSWER = 8 << 20;

/** One attempt's time, at most (cut to the time left). */
const ATTEMPT_MS = 10_000;
/** ...but never below this: an attempt of a few milliseconds at the deadline would only time out and hide the reason before it. */
const MIN_ATTEMPT_MS = 500;

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** How one request is sent: HTTPS here, a stand-in in tests. */
export type Send = (method: string, path: string, body: unknown, timeoutMs: number) => Promise<ApiAnswer>;

/** The API's answers that say "not now": worth another try. */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);

/**
 * HTTPS to the API server, verified against the service account's CA. node:https is loaded at
 * the first request, not with the bundle: only `rotate` talks to the API, and a static import
 * costs every start of both programs about 3 ms.
 */
export function httpsSend(c: InCluster): Send {
  return async (method, path, body, timeoutMs) => {
    const { request } = await import('node:https');
    return new Promise<ApiAnswer>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          host: c.host,
          port: c.port,
          method,
          path,
          ca: c.ca,
          // The API server's certificate names its Service IP (10.96.0.1): checked as given.
          servername: /^[0-9.]+$|:/.test(c.host) ? undefined : c.host,
          headers: {
            authorization: `Bearer ${c.token()}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
          timeout: timeoutMs,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (d: Buffer) => {
            size += d.length;
            if (size > MAX_ANSWER) {
              req.destroy(new Error(`the answer is larger than ${MAX_ANSWER >> 20} MiB`));
              return;
            }
            chunks.push(d);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // Not JSON (a proxy's page): kept as text for the message.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(timeoutMs)} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  };
}

/** The API's own words for a refusal: its Status object's message, else the start of the body. */
export function statusMessage(a: ApiAnswer): string {
  const b = a.body as { message?: unknown } | undefined;
  const text = typeof b?.message === 'string' ? b.message : typeof a.body === 'string' ? a.body : '';
  return text.replace(/\s+/g, ' ').trim().slice(0, 300) || `HTTP ${a.status}`;
}

export interface CallOptions {
  /** "get Secret keystone/keystone-fernet-keys", for every line. */
  what: string;
  deadline: Deadline;
  log: Logger;
  /** What to do about a 401 or 403 (the Role that allows it). */
  permissionHint: string;
}

/**
 * One API call, tried again while the answer is transient. Resolves with a 2xx or 409 answer;
 * throws the table's error for the rest.
 */
export async function callApi(send: Send, server: string, method: string, path: string, body: unknown, o: CallOptions): Promise<ApiAnswer> {
  const answer = await retryUntil<ApiAnswer, string>({
    deadline: o.deadline,
    attempt: async (_n, leftMs) => {
      const a = await send(method, path, body, Math.max(MIN_ATTEMPT_MS, Math.min(ATTEMPT_MS, leftMs)));
      if (TRANSIENT.has(a.status)) throw new Error(`HTTP ${a.status}: ${statusMessage(a)}`);
      return a;
    },
    // Every failure here is the network's or a transient answer: both worth another try.
    failure: (err) => errorMessage(err),
    pauseMs: (n) => Math.min(250 * 2 ** (n - 1), 5000),
    onRetry: (why, n, pause) => o.log.info(`${o.what} at ${server}: ${why}; trying again in ${pause} ms`, { attempt: n }),
    expired: (why, n) => new UnavailableError(`the Kubernetes API at ${server} did not ${o.what} before the deadline (${n} attempts; last: ${why})`),
  });
  const s = answer.status;
  if ((s >= 200 && s < 300) || s === 409) return answer;
  const said = statusMessage(answer);
  if (s === 401 || s === 403) throw new NoPermissionError(`the Kubernetes API at ${server} refused to ${o.what} (${s}: ${said}): ${o.permissionHint}`);
  if (s === 404) throw new NoInputError(`the Kubernetes API at ${server} has nothing to ${o.what} (404: ${said})`);
  if (s === 400 || s === 422) throw new InputError(`the Kubernetes API at ${server} refused to ${o.what} (${s}: ${said})`);
  throw new UnavailableError(`the Kubernetes API at ${server} could not ${o.what} (${s}: ${said})`);
}
