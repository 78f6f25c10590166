// A stand-in for the Kubernetes API's Secrets, for the many small cases of the rotation
// command: HTTPS on loopback with a certificate of its own CA (openssl), bearer tokens
// checked, GET and PUT of Secrets with resourceVersion as the API does it (a PUT at a version
// that is not the current one is 409), and answers a test can script (403, 503, a stall, a
// write whose answer is lost). The real API server's behaviour is test/k8s/'s to show.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir, type Teardown } from './temp.ts';

export interface FakeSecret {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; annotations?: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

/** What to do with the next requests, before the store sees them. */
export type Script = (req: { method: string; path: string }) => 'pass' | { status: number; message: string } | 'stall' | 'apply-then-drop';

export interface FakeKubeApi {
  port: number;
  /** A service account directory: token, ca.crt, namespace. */
  serviceAccount: string;
  namespace: string;
  secrets: Map<string, FakeSecret>;
  requests: { method: string; path: string; auth: string }[];
  script: Script;
  put(name: string, data: Record<string, string>, annotations?: Record<string, string>): FakeSecret;
  close(): Promise<void>;
}

/** A CA and a server certificate for 127.0.0.1, made once per test file. */
function certificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fake-kube-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.crt', '-extfile', 'ext');
  return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), cert: readFileSync(join(dir, 'server.crt'), 'utf8'), key: readFileSync(join(dir, 'server.key'), 'utf8') };
}

const TOKEN = 'fake-service-account-token';

export async function fakeKubeApi(t: Teardown, namespace = 'keystone'): Promise<FakeKubeApi> {
  const dir = tempDir(t, 'pe-fake-kube-');
  const pki = certificates(dir);
  const sa = join(dir, 'serviceaccount');
  mkdirSync(sa);
  writeFileSync(join(sa, 'token'), TOKEN);
  writeFileSync(join(sa, 'ca.crt'), pki.ca);
  writeFileSync(join(sa, 'namespace'), namespace);
  let version = 1000;
  // Every Secret object a real API server makes has a uid of its own.
  const instance = randomBytes(6).toString('hex');
  const sockets = new Set<Socket>();
  const api: FakeKubeApi = {
    port: 0,
    serviceAccount: sa,
    namespace,
    secrets: new Map(),
    requests: [],
    script: () => 'pass',
    put(name, data, annotations) {
      const s: FakeSecret = { metadata: { name, namespace, uid: `${name}-${instance}`, resourceVersion: String(++version), ...(annotations ? { annotations } : {}) }, type: 'Opaque', data };
      api.secrets.set(name, s);
      return s;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const status = (code: number, message: string): object => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const method = req.method ?? '';
    const path = req.url ?? '';
    api.requests.push({ method, path, auth: req.headers.authorization ?? '' });
    const plan = api.script({ method, path });
    if (plan === 'stall') return;
    if (typeof plan === 'object') return send(res, plan.status, status(plan.status, plan.message));
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, status(401, 'Unauthorized'));
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/?]+)$/.exec(path);
    if (!m) return send(res, 404, status(404, 'the server could not find the requested resource'));
    const [, ns, name = ''] = m;
    const current = ns === namespace ? api.secrets.get(name) : undefined;
    if (!current) return send(res, 404, status(404, `secrets "${name}" not found`));
    if (method === 'GET') return send(res, 200, { apiVersion: 'v1', kind: 'Secret', ...current });
    if (method !== 'PUT') return send(res, 405, status(405, 'method not allowed'));
    const next = JSON.parse(body) as FakeSecret;
    if (next.metadata.resourceVersion !== current.metadata.resourceVersion) {
      return send(res, 409, status(409, `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`));
    }
    const stored = api.put(name, next.data, next.metadata.annotations);
    if (plan === 'apply-then-drop') {
      res.socket?.destroy();
      return;
    }
    send(res, 200, { apiVersion: 'v1', kind: 'Secret', ...stored });
  };
  const server: Server = createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handle(req, res, body));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  api.port = (server.address() as AddressInfo).port;
  t.teardown(() => api.close());
  return api;
}

/**
 * `argv` as a pod runs it: in a mount namespace of its own whose /run holds only this API's
 * service account (/run/secrets/kubernetes.io/serviceaccount), where in-cluster clients look.
 * Needs root (unshare --mount); the command line, to spawn.
 */
export function inPodNamespace(api: FakeKubeApi, argv: string[]): [string, ...string[]] {
  const script = 'mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io && cp -r "$0" /run/secrets/kubernetes.io/serviceaccount && exec "$@"';
  return ['unshare', '--mount', 'sh', '-c', script, api.serviceAccount, ...argv];
}
