// Key rotation on a live cluster, with the shipped manifests (test/helpers/keystone-cluster.ts):
// three Keystone replicas, and a client in a process of its own that the whole time issues
// tokens through keystone-public and validates each on every replica and through the Service
// (test/helpers/keystone-traffic.mjs). Three fernet rotations, each a Job made from the CronJob
// (`kubectl create job --from=cronjob/keystone-fernet-rotate`), two credential rotations beside
// the first and the third (one in between refused: replicas may still hold credentials
// encrypted with the key it would drop; [credential] cache_time is 60 s here, so the second may
// run 4 min after the first), and a replica deleted between the first and the second: no request fails; a
// token issued before the first rotation validates after the third; after each rotation every
// replica's repositories equal the Secrets (keystone's, 0700/0600) and every replica signs with
// the new primary, without a restart; an EC2 credential stored before the credential
// rotations reads back after them. Then two fernet rotations at once against a Secret of
// their own: the Secret stays one key set, each rotation whole or refused.
import t, { type Test } from 'tap';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { keySetFromFiles } from '../../src/conf-file/key-set.ts';
import { isReady, kube, podsOf, until, type Kube, type Pod } from '../helpers/kube.ts';
import { ADMIN_AUTH, API, type KeystoneCluster, keystoneCluster, keystoneTraffic } from '../helpers/keystone-cluster.ts';

t.setTimeout(60 * 60_000);

const k = kube(t, { node: true });
if (k) await main(k);

interface SecretJson {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  data: Record<string, string>;
}

/** Whether a Keystone token (Fernet, padding stripped) was signed with `key`: its HMAC, from the key's first 16 bytes. */
function signedWith(token: string, key: string): boolean {
  const raw = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  const mac = createHmac('sha256', Buffer.from(key, 'base64url').subarray(0, 16)).update(raw.subarray(0, raw.length - 32)).digest();
  return raw.length > 57 && mac.equals(raw.subarray(raw.length - 32));
}

async function main(k: Kube): Promise<void> {
  // A short credential cache, so that the second credential rotation may run within the test.
  const c = await keystoneCluster(t, k, 'keystone-rotation', { KEYSTONE_CONF__CREDENTIAL__CACHE_TIME: '60' });
  if (!c) return;
  const { kc } = c;
  const pods = (): Pod[] => podsOf(k, c.ns, API).filter(isReady);
  const secretKeys = (name: string): Record<string, string> => {
    const s = k.json<SecretJson>(['-n', c.ns, 'get', 'secret', name]);
    return Object.fromEntries(Object.entries(s.data).map(([n, v]) => [n, Buffer.from(v, 'base64').toString('latin1')]));
  };
  /** A replica's repository as `name -> sha256 of the key`, with its mode and owner line. */
  const repository = (pod: string, dir: string): { keys: Record<string, string>; meta: string } => {
    const r = kc(['exec', pod, '-c', 'keystone', '--', 'sh', '-c', `cd ${dir} && stat -c '%a %U' . && for f in [0-9]*; do echo "$f $(sha256sum < $f | cut -c1-64) $(stat -c '%a %U' $f)"; done`]);
    const [meta = '', ...rows] = r.stdout.trim().split('\n');
    return { meta: [meta, ...rows.map((l) => l.split(' ').slice(2).join(' '))].join(' | '), keys: Object.fromEntries(rows.map((l) => l.split(' ').slice(0, 2) as [string, string])) };
  };
  const sha = (key: string): string => createHash('sha256').update(key).digest('hex');
  const equalsSecret = (pod: string, dir: string, secret: string): boolean => {
    const want = Object.fromEntries(Object.entries(secretKeys(secret)).map(([n, key]) => [n, sha(key)]));
    return JSON.stringify(repository(pod, dir).keys) === JSON.stringify(Object.fromEntries(Object.entries(want).sort(([a], [b]) => Number(a) - Number(b))));
  };
  const issueAt = async (base: string): Promise<{ token: string; body: { token: { user: { id: string }; project: { id: string } } } }> => {
    const r = await fetch(`${base}/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ADMIN_AUTH });
    if (r.status !== 201) throw new Error(`POST ${base}/auth/tokens: ${r.status}`);
    return { token: r.headers.get('x-subject-token') ?? '', body: (await r.json()) as never };
  };
  /** Runs a Job from a CronJob; its pod's exit code (0 or the agent's code) and its log. */
  const job = async (cronjob: string, name: string): Promise<{ code: number | undefined; log: string }> => {
    kc(['create', 'job', `--from=cronjob/${cronjob}`, name]);
    const done = await until(300_000, () => {
      const j = k.json<{ status: { succeeded?: number; failed?: number } }>(['-n', c.ns, 'get', 'job', name]);
      return (j.status.succeeded ?? 0) + (j.status.failed ?? 0) > 0 ? j : undefined;
    }, 1000);
    const pod = k.json<{ items: Pod[] }>(['-n', c.ns, 'get', 'pods', '-l', `job-name=${name}`]).items[0];
    const code = pod?.status.containerStatuses?.[0]?.state.terminated?.exitCode;
    return { code: done ? code : undefined, log: pod ? kc(['logs', pod.metadata.name]).out : '' };
  };

  // Every step in a subtest: tap ends a file's root test when nothing is pending in it.
  const t0 = Date.now();
  let ready: Pod[] | undefined;
  await t.test('three replicas Ready', async (t) => {
    ready = await c.threeReady(t, 600_000);
    t.ok(ready, `three replicas Ready, ${Math.round((Date.now() - t0) / 1000)} s after the apply`);
  });
  if (!ready) return;
  const base = c.service();

  // Before any rotation: a token, and an EC2 credential (stored encrypted with the credential keys).
  let before: Awaited<ReturnType<typeof issueAt>> | undefined;
  let credential: { access: string; secret: string } | undefined;
  await t.test('before the rotations: a token, and an EC2 credential stored', async (t) => {
    before = await issueAt(base);
    const { user, project } = before.body.token;
    const ec2 = await fetch(`${base}/users/${user.id}/credentials/OS-EC2`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-auth-token': before.token }, body: JSON.stringify({ tenant_id: project.id }) });
    t.equal(ec2.status, 201, 'an EC2 credential stored');
    credential = ((await ec2.json()) as { credential: { access: string; secret: string } }).credential;
  });
  if (!before || !credential) return;
  const { user } = before.body.token;
  const token0 = before.token;
  const cred0 = credential;

  // The traffic, in a process of its own, the whole time.
  const traffic = keystoneTraffic(t, k, c.ns, base);

  const figures: number[] = [];
  // When the second credential rotation may run: the propagation (180 s) and the cache (60 s)
  // after the first (src/keystone/key-rotation.ts credentialKeyLife), and a margin.
  let credentialAgainAt = 0;
  for (const n of [1, 2, 3]) {
    await t.test(`rotation ${n}: the Job from the CronJob rotates; every replica takes the keys up without a restart`, async (t) => {
      const fernetBefore = secretKeys('keystone-fernet-keys');
      if (n === 3) {
        const wait = credentialAgainAt - Date.now();
        if (wait > 0) t.comment(`waiting ${Math.round(wait / 1000)} s more, until the first credential rotation's key may be dropped`);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const runs = [job('keystone-fernet-rotate', `fernet-rotate-${n}`), ...(n !== 2 ? [job('keystone-credential-rotate', `credential-rotate-${n}`)] : [])];
      const [fernet, cred] = await Promise.all(runs);
      const doneAt = Date.now();
      if (n === 1) credentialAgainAt = doneAt + 250_000;
      t.equal(fernet?.code, 0, `the fernet rotation Job succeeded${fernet?.code === 0 ? '' : `: ${fernet?.log.slice(-600)}`}`);
      if (cred) t.equal(cred.code, 0, `the credential rotation Job succeeded${cred.code === 0 ? '' : `: ${cred.log.slice(-600)}`}`);
      const after = secretKeys('keystone-fernet-keys');
      const primary = Object.keys(after).sort((a, b) => Number(a) - Number(b)).at(-1) ?? '';
      t.equal(primary, String(n + 1), `the new primary is ${n + 1}`);
      t.equal(after[primary], fernetBefore['0'], 'the staged key, promoted');
      // Every replica signs with the new primary: the time the benchmark reports. Three of them:
      // with none Ready, "every replica" below would hold of an empty list.
      const replicas = (await c.threeReady(t, 120_000)) ?? [];
      t.equal(replicas.length, 3, 'three replicas Ready to check');
      const signing = await (async (): Promise<boolean> => {
        const end = Date.now() + 300_000;
        const pending = new Set(replicas.map((p) => p.status.podIP ?? ''));
        while (pending.size > 0 && Date.now() < end) {
          for (const ip of [...pending]) {
            try {
              if (signedWith((await issueAt(`http://${ip}:5000/v3`)).token, after[primary] ?? '')) pending.delete(ip);
            } catch {
              // a replica being replaced: asked again
            }
          }
          if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
        }
        return pending.size === 0;
      })();
      t.ok(signing, 'every replica signs with the new primary');
      figures.push(Date.now() - doneAt);
      t.comment(`the last replica signed with the new primary ${((Date.now() - doneAt) / 1000).toFixed(1)} s after the Job completed`);
      for (const p of replicas) {
        const name = p.metadata.name;
        const ok = await until(180_000, () => equalsSecret(name, '/etc/keystone/fernet-keys', 'keystone-fernet-keys') && equalsSecret(name, '/etc/keystone/credential-keys', 'keystone-credential-keys'), 2000);
        t.ok(ok, `${name}: both repositories equal their Secrets`);
        const meta = repository(name, '/etc/keystone/fernet-keys').meta;
        t.match(meta, /^700 keystone( \| 600 keystone)+$/, `${name}: 0700/0600, keystone's (${meta})`);
        t.equal(p.status.containerStatuses?.find((s) => s.name === 'keystone')?.restartCount, 0, `${name}: no restart`);
      }
    });
    if (n === 1) {
      await t.test('a second credential rotation soon after the first is refused (75), nothing written', async (t) => {
        const before = JSON.stringify(secretKeys('keystone-credential-keys'));
        const early = await job('keystone-credential-rotate', 'credential-rotate-early');
        t.equal(early.code, 75, 'exit 75');
        t.match(early.log, /error: refusing to rotate the credential keys of Secret \S+: rotating now drops key 1, the primary until .*: the next rotation may run after \S+; nothing written/, 'one line with the numbers');
        t.notMatch(early.log, /credential_migrate/, 'before any keystone-manage');
        t.equal(JSON.stringify(secretKeys('keystone-credential-keys')), before, 'the Secret as it was');
      });
      await t.test('a replica deleted under traffic is replaced; the new one starts from the rotated keys', async (t) => {
        const victim = pods()[0]?.metadata.name ?? '';
        t.equal(kc(['delete', 'pod', victim, '--wait=false']).status, 0, `deleted ${victim}`);
        const back = await until(300_000, () => {
          const ps = pods();
          return ps.length === 3 && !ps.some((p) => p.metadata.name === victim) ? ps : undefined;
        }, 2000);
        t.ok(back, 'three replicas Ready again');
        const fresh = back?.find((p) => !ready?.some((r) => r.metadata.name === p.metadata.name));
        t.ok(fresh !== undefined && equalsSecret(fresh.metadata.name, '/etc/keystone/fernet-keys', 'keystone-fernet-keys'), `its repository equals the rotated Secret from the start (${fresh?.metadata.name ?? 'no new replica'})`);
      });
    }
  }

  await t.test('under traffic the whole time: no request failed', async (t) => {
    const r = await traffic.stop();
    t.ok((r.requests ?? 0) > 100, `${r.requests} requests (tokens issued through keystone-public, validated on every replica and through it)`);
    t.same(r.failures, [], 'no failed request');
    // Three replicas throughout, one of them replaced once: at least three addresses validated on.
    t.ok(Object.keys(r.validatedOn ?? {}).length >= 3, `validated on each replica, not only through the Service: ${JSON.stringify(r.validatedOn)}`);
  });

  await t.test('a token from before the three rotations validates everywhere; the EC2 credential reads back', async (t) => {
    const replicas = pods();
    t.equal(replicas.length, 3, 'three replicas to ask');
    for (const target of [...replicas.map((p) => `http://${p.status.podIP}:5000/v3`), base]) {
      const v = await fetch(`${target}/auth/tokens`, { headers: { 'x-auth-token': token0, 'x-subject-token': token0 } });
      t.equal(v.status, 200, `${target}: validates the token issued before the first rotation`);
      const now = await issueAt(target);
      const got = await fetch(`${target}/users/${user.id}/credentials/OS-EC2/${cred0.access}`, { headers: { 'x-auth-token': now.token } });
      t.equal(got.status, 200, `${target}: the EC2 credential`);
      t.equal(((await got.json()) as { credential: { secret: string } }).credential.secret, cred0.secret, `${target}: its secret as stored`);
    }
  });

  await t.test('two fernet rotations at once (a Secret of their own): each lands whole or writes nothing', async (t) => {
    await concurrent(t, k, c);
  });
  t.comment(`rotation Job completed -> last replica signing with the new primary: ${figures.map((f) => `${(f / 1000).toFixed(1)} s`).join(', ')}`);
}

/** Two Jobs from the fernet CronJob's template, both at once, on a Secret and Role of their own. */
async function concurrent(t: Test, k: Kube, c: KeystoneCluster): Promise<void> {
  const name = 'concurrency-fernet-keys';
  const key = (): string => Buffer.from(`${randomBytes(32).toString('base64url')}=`).toString('base64');
  const objects = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data: { '0': key(), '1': key() } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name }, rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [name], verbs: ['get', 'update'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ kind: 'ServiceAccount', name: 'keystone-fernet-rotate' }] },
  ];
  t.equal(c.kc(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects })).status, 0, 'the Secret, its Role and binding');
  const cron = k.json<{ spec: { jobTemplate: { spec: { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } } } } }>(['-n', c.ns, 'get', 'cronjob', 'keystone-fernet-rotate']);
  const spec = cron.spec.jobTemplate.spec;
  for (const ct of spec.template.spec.containers) ct.env = [...(ct.env ?? []), { name: 'KEYSTONE_FERNET_SECRET', value: name }];
  const jobs = ['at-once-a', 'at-once-b'].map((n) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: n }, spec }));
  t.equal(c.kc(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: jobs })).status, 0, 'two Jobs created at once');
  const codes: number[] = [];
  for (const j of jobs) {
    const code = await until(300_000, () => {
      const pod = k.json<{ items: Pod[] }>(['-n', c.ns, 'get', 'pods', '-l', `job-name=${j.metadata.name}`]).items[0];
      return pod?.status.containerStatuses?.[0]?.state.terminated?.exitCode;
    }, 1000);
    codes.push(code ?? -1);
  }
  t.ok(codes.every((x) => x === 0 || x === 75), `exit codes ${codes.join(', ')}: 0 (rotated) or 75 (the Secret changed under it: nothing written)`);
  const landed = codes.filter((x) => x === 0).length;
  t.ok(landed >= 1, `${landed} landed`);
  const s = k.json<SecretJson>(['-n', c.ns, 'get', 'secret', name]);
  const keys = keySetFromFiles(Object.keys(s.data), (n) => Buffer.from(s.data[n] ?? '', 'base64'), name);
  t.same(keys.files.map((f) => f.name), ['0', '1', ...Array.from({ length: landed }, (_, i) => String(i + 2))], 'one key set, each rotation whole');
  t.equal(s.metadata.annotations?.['keystone-entrypoint/rotations']?.split(' ').length, landed, 'one record per rotation that landed');
}
