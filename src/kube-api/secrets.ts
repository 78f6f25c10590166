// A Secret read and written through the Kubernetes API with optimistic concurrency: the write
// carries the resourceVersion that was read, so when anything changed the Secret in between
// the API refuses it (409) and nothing is lost. The caller decides what a conflict means.
import type { Logger } from '../common/log.ts';
import type { Deadline } from '../common/retry.ts';
import { type Send, callApi } from './client.ts';

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  type?: string;
  /** Base64 of each value, as the API gives them. */
  data?: Record<string, string>;
  [k: string]: unknown;
}

export interface SecretRef {
  send: Send;
  server: string;
  namespace: string;
  name: string;
  /** What to tell the operator on a 401 or 403. */
  permissionHint: string;
}

const pathOf = (r: SecretRef): string => `/api/v1/namespaces/${encodeURIComponent(r.namespace)}/secrets/${encodeURIComponent(r.name)}`;

/** "Secret keystone/keystone-fernet-keys", for messages. */
export const secretLabel = (r: Pick<SecretRef, 'namespace' | 'name'>): string => `Secret ${r.namespace}/${r.name}`;

export async function getSecret(r: SecretRef, o: { deadline: Deadline; log: Logger }): Promise<SecretObject> {
  const a = await callApi(r.send, r.server, 'GET', pathOf(r), undefined, { ...o, what: `get ${secretLabel(r)}`, permissionHint: r.permissionHint });
  return a.body as SecretObject;
}

/**
 * Replaces the Secret with `secret`, which must carry the resourceVersion it was read at:
 * the new object, or 'conflict' when the Secret changed since (nothing was written).
 */
export async function replaceSecret(r: SecretRef, secret: SecretObject, o: { deadline: Deadline; log: Logger }): Promise<SecretObject | 'conflict'> {
  const a = await callApi(r.send, r.server, 'PUT', pathOf(r), secret, { ...o, what: `update ${secretLabel(r)}`, permissionHint: r.permissionHint });
  return a.status === 409 ? 'conflict' : (a.body as SecretObject);
}
