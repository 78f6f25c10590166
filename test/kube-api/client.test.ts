// src/kube-api/in-cluster.ts, client.ts, secrets.ts against a stand-in API server
// (test/helpers/fake-kube-api.ts): the pod's service account found or named as missing; the
// CA checked; transient answers tried again until the deadline; 401/403, 404, 409 and 422
// ending the call with the table's code; a Secret read and written at its resourceVersion.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, NoInputError, NoPermissionError, UnavailableError } from '../../src/common/errors.ts';
import { createLogger } from '../../src/common/log.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import { callApi, httpsSend } from '../../src/kube-api/client.ts';
import { inClusterConfig } from '../../src/kube-api/in-cluster.ts';
import { getSecret, replaceSecret, type SecretRef } from '../../src/kube-api/secrets.ts';
import { ROOT } from '../helpers/cli.ts';
import { fakeKubeApi } from '../helpers/fake-kube-api.ts';
import { rejection } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { messageOf, thrown } from '../helpers/thrown.ts';

const lines: string[] = [];
const log = createLogger({ format: 'text', trace: false, write: (l) => void lines.push(l) });

t.test('inClusterConfig: the kubelet\'s variables and the service account; what is missing named', async (t) => {
  const api = await fakeKubeApi(t);
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
  const c = inClusterConfig(env, api.serviceAccount);
  t.equal(c.server, `https://127.0.0.1:${api.port}`);
  t.equal(c.namespace, 'keystone');
  t.equal(c.token(), 'fake-service-account-token');
  t.equal(inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, api.serviceAccount).server, 'https://[fd00::1]:443', 'IPv6 bracketed');
  const cases: [Record<string, string>, string, RegExp][] = [
    [{}, api.serviceAccount, /^KUBERNETES_SERVICE_HOST is not set: the command talks to the Kubernetes API from inside a pod, where the kubelet sets it$/],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, api.serviceAccount, /^KUBERNETES_SERVICE_PORT is not set/],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: 'https' }, api.serviceAccount, /^KUBERNETES_SERVICE_PORT=https: not a port number$/],
    [env, join(tempDir(t, 'pe-no-sa-'), 'serviceaccount'), /serviceaccount\/ca\.crt: no such file: the command talks to the Kubernetes API with its pod's service account \(serviceAccountName, and automountServiceAccountToken not false\)$/],
  ];
  for (const [e, dir, message] of cases) {
    const err = thrown(() => inClusterConfig(e, dir));
    t.type(err, InputError);
    t.match(messageOf(err), message);
  }
  const noToken = tempDir(t, 'pe-sa-');
  writeFileSync(join(noToken, 'ca.crt'), 'x');
  writeFileSync(join(noToken, 'namespace'), 'ns');
  t.match(messageOf(thrown(() => inClusterConfig(env, noToken))), /\/token: no such file/, 'a missing token is said at once, not at the first request');
});

t.test('a Secret read and written at its version; a stale version is a conflict, nothing written', async (t) => {
  const api = await fakeKubeApi(t);
  api.put('keys', { '0': 'AA==' });
  const c = inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) }, api.serviceAccount);
  const ref: SecretRef = { send: httpsSend(c), server: c.server, namespace: c.namespace, name: 'keys', permissionHint: 'HINT' };
  const o = { deadline: deadlineIn(10_000), log };
  const s = await getSecret(ref, o);
  t.equal(s.metadata.name, 'keys');
  t.same(s.data, { '0': 'AA==' });
  const written = await replaceSecret(ref, { ...s, data: { '0': 'AQ==' } }, o);
  t.not(written, 'conflict');
  t.same(api.secrets.get('keys')?.data, { '0': 'AQ==' });
  t.equal(await replaceSecret(ref, { ...s, data: { '0': 'Ag==' } }, o), 'conflict', 'the version read first is stale now');
  t.same(api.secrets.get('keys')?.data, { '0': 'AQ==' }, 'nothing written');
  t.match(api.requests.at(-1)?.auth, /^Bearer fake-service-account-token$/, 'the token sent');
});

t.test('answers: transient ones tried again, the others end the call with the table\'s code', async (t) => {
  const api = await fakeKubeApi(t);
  api.put('keys', {});
  const c = inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) }, api.serviceAccount);
  const ref: SecretRef = { send: httpsSend(c), server: c.server, namespace: c.namespace, name: 'keys', permissionHint: 'give it a Role' };
  const o = (ms = 10_000): { deadline: ReturnType<typeof deadlineIn>; log: typeof log } => ({ deadline: deadlineIn(ms), log });

  let n = 0;
  api.script = () => (++n <= 2 ? { status: 503, message: 'etcd is busy' } : 'pass');
  lines.length = 0;
  t.equal((await getSecret(ref, o())).metadata.name, 'keys', 'two 503s, then the answer');
  t.equal(lines.filter((l) => /get Secret keystone\/keys at https:\/\/127\.0\.0\.1:\d+: HTTP 503: etcd is busy; trying again in \d+ ms/.test(l)).length, 2, 'each retry said');

  api.script = () => ({ status: 403, message: 'secrets "keys" is forbidden: User "system:serviceaccount:keystone:default" cannot get resource "secrets"' });
  const e403 = await rejection(getSecret(ref, o()));
  t.type(e403, NoPermissionError);
  t.equal(messageOf(e403), `the Kubernetes API at ${c.server} refused to get Secret keystone/keys (403: secrets "keys" is forbidden: User "system:serviceaccount:keystone:default" cannot get resource "secrets"): give it a Role`);
  api.script = () => ({ status: 401, message: 'Unauthorized' });
  t.type(await rejection(getSecret(ref, o())), NoPermissionError, '401');

  api.script = () => 'pass';
  const e404 = await rejection(getSecret({ ...ref, name: 'nope' }, o()));
  t.type(e404, NoInputError);
  t.equal(messageOf(e404), `the Kubernetes API at ${c.server} has nothing to get Secret keystone/nope (404: secrets "nope" not found)`);

  api.script = () => ({ status: 422, message: 'Secret "keys" is invalid: data[01]: Invalid value' });
  t.type(await rejection(callApi(ref.send, ref.server, 'PUT', '/api/v1/namespaces/keystone/secrets/keys', {}, { ...o(), what: 'update it', permissionHint: '' })), InputError, '422');

  api.script = () => ({ status: 500, message: 'internal error' });
  const t0 = Date.now();
  const e500 = await rejection(getSecret(ref, o(1500)));
  t.type(e500, UnavailableError);
  t.match(messageOf(e500), /^the Kubernetes API at \S+ did not get Secret keystone\/keys before the deadline \(\d+ attempts; last: HTTP 500: internal error\)$/);
  t.ok(Date.now() - t0 < 5000, 'ended at the deadline');

  api.script = () => 'stall';
  const stalled = await rejection(getSecret(ref, o(1500)));
  t.type(stalled, UnavailableError);
  t.match(messageOf(stalled), /last: no answer within \d+ ms/, 'an API that accepts and never answers: the deadline, not forever');

  api.script = () => 'pass';
  const wrongCa = tempDir(t, 'pe-sa-wrong-');
  mkdirSync(wrongCa, { recursive: true });
  for (const f of ['token', 'namespace']) writeFileSync(join(wrongCa, f), f === 'token' ? 'fake-service-account-token' : 'keystone');
  writeFileSync(join(wrongCa, 'ca.crt'), (await import('node:fs')).readFileSync(join(api.serviceAccount, '..', 'server.crt')));
  const c2 = inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) }, wrongCa);
  const tls = await rejection(getSecret({ ...ref, send: httpsSend(c2) }, o(800)));
  t.type(tls, UnavailableError);
  t.match(messageOf(tls), /certificate/i, 'a server its CA did not sign is never talked to');
  rmSync(wrongCa, { recursive: true });
});

t.test('the built bundle loads node:https at the first request, not at every start of either program', async (t) => {
  // Evaluating dist/main.mjs is what every start does before main(); a static import of
  // node:https there cost both programs about 3 ms per start for a module only `rotate` uses.
  const bundle = join(ROOT, 'dist', 'main.mjs');
  const script = `await import(${JSON.stringify(bundle)}); process.stdout.write(String(process.moduleLoadList.includes('NativeModule https')))`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'false', 'node:https not loaded by the bundle itself');
});
