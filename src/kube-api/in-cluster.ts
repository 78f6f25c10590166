// Where the Kubernetes API is from inside a pod, as every in-cluster client finds it: the
// kubelet's KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, and the service account's
// token, CA and namespace, mounted at the standard place. The token is read again for each
// request: a projected token is rotated by the kubelet while the pod runs.
import { join } from 'node:path';
import { readRegularFile } from '../common/bounded-read.ts';
import { InputError, fileErrorReason } from '../common/errors.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A token, a CA bundle or a namespace is far smaller than this. */
const MAX_FILE = 1 << 20;

export interface InCluster {
  /** For messages: https://10.96.0.1:443. */
  server: string;
  host: string;
  port: number;
  ca: Buffer;
  namespace: string;
  /** The service account's current token. */
  token(): string;
}

function readFile(dir: string, name: string): string {
  const path = join(dir, name);
  try {
    return readRegularFile(path, MAX_FILE).toString('utf8').trim();
  } catch (err) {
    throw new InputError(
      `${path}: ${fileErrorReason(err)}: the command talks to the Kubernetes API with its pod's service account (serviceAccountName, and automountServiceAccountToken not false)`,
    );
  }
}

/** From the pod's environment and service account; InputError (65) naming what is missing. */
export function inClusterConfig(env: Readonly<Record<string, string | undefined>>, dir = SERVICE_ACCOUNT_DIR): InCluster {
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  const portText = env.KUBERNETES_SERVICE_PORT?.trim();
  if (!host || !portText) {
    throw new InputError(
      `${!host ? 'KUBERNETES_SERVICE_HOST' : 'KUBERNETES_SERVICE_PORT'} is not set: the command talks to the Kubernetes API from inside a pod, where the kubelet sets it`,
    );
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new InputError(`KUBERNETES_SERVICE_PORT=${portText.slice(0, 20)}: not a port number`);
  const ca = Buffer.from(readFile(dir, 'ca.crt'));
  const namespace = readFile(dir, 'namespace');
  // Checked now, so a missing token is this line, not the first request's.
  readFile(dir, 'token');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    ca,
    namespace,
    token: () => readFile(dir, 'token'),
  };
}
