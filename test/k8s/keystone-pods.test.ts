// fixtures/k8s/keystone/ on a real node (test/k8s/node.sh), set up by test/helpers/keystone-cluster.ts
// (the image docs/images.md builds, a memcached stand-in, MariaDB outside the cluster): one db_sync
// and bootstrap for the three replicas, each Ready with its keys from the keys sidecar, and a
// token issued through the Service keystone-public accepted by every replica.
import t from 'tap';
import { kube, podsOf, type Kube } from '../helpers/kube.ts';
import { ADMIN_AUTH, API, keystoneCluster } from '../helpers/keystone-cluster.ts';

t.setTimeout(30 * 60_000);

const k = kube(t, { node: true });
if (k) await main(k);

async function main(k: Kube): Promise<void> {
  const c = await keystoneCluster(t, k, 'keystone-pods');
  if (!c) return;
  const { ns, kc } = c;
  const t0 = Date.now();
  await t.test('three replicas Ready; db_sync and bootstrap ran once, in one of them', async (t) => {
    const pods = await c.threeReady(t, 600_000);
    t.ok(pods, `three keystone pods Ready, ${Math.round((Date.now() - t0) / 1000)} s after the apply`);
    if (!pods) return;
    const logs = pods.map((p) => kc(['logs', p.metadata.name, '-c', 'keystone']).out);
    const ran = logs.filter((l) => /init lease taken/.test(l));
    t.equal(ran.length, 1, 'one replica took the init lease');
    t.match(ran[0] ?? '', /keystone-manage db_sync exited code=0[\s\S]*keystone-manage bootstrap exited code=0/, 'db_sync, then bootstrap');
    t.equal(logs.filter((l) => /done at/.test(l) && !/init lease taken/.test(l)).length, 2, 'the other two used its record');
    for (const p of pods) t.equal(p.status.containerStatuses?.find((c) => c.name === 'keystone')?.restartCount, 0, `${p.metadata.name}: no restart`);
    const stat = kc(['exec', pods[0]!.metadata.name, '-c', 'keystone', '--', 'stat', '-c', '%U %a', '/etc/keystone/fernet-keys', '/etc/keystone/fernet-keys/0']).stdout.trim();
    t.equal(stat, 'keystone 700\nkeystone 600', 'the fernet keys from the Secret, installed by the keys sidecar: 0700/0600 as keystone');
    t.match(logs[0] ?? '', /fernet keys in \/etc\/keystone\/fernet-keys\/: 2 keys: 0 \(staged\), 1 \(primary\), kept by the sync-keys sidecar \(KEYSTONE_KEYS_SYNCED\)/, 'the api container checked them, did not write them');
    const pid1 = kc(['exec', pods[0]!.metadata.name, '-c', 'keystone', '--', 'cat', '/proc/1/cmdline']).stdout.split('\0').join(' ');
    t.match(pid1, /gunicorn -c \S+gunicorn\.conf\.py/, 'PID 1 is gunicorn');
  });

  await t.test('a token issued through keystone-public is accepted by every replica', async (t) => {
    const base = c.service();
    const issued = await fetch(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: ADMIN_AUTH,
    });
    t.equal(issued.status, 201, `POST ${base}/auth/tokens as the bootstrap admin`);
    const token = issued.headers.get('x-subject-token') ?? '';
    t.ok(token.length > 100, 'a fernet token');
    const replicas = podsOf(k, ns, API);
    t.equal(replicas.length, 3, 'three replicas to ask');
    for (const p of replicas) {
      const r = await fetch(`http://${p.status.podIP}:5000/v3/auth/tokens`, { headers: { 'x-auth-token': token, 'x-subject-token': token } });
      t.equal(r.status, 200, `${p.metadata.name} (${p.status.podIP}) validates it`);
    }
    const codes = await Promise.all(Array.from({ length: 9 }, async () => (await fetch(`${base}/auth/tokens`, { headers: { 'x-auth-token': token, 'x-subject-token': token } })).status));
    t.same(codes, Array(9).fill(200), 'and so does keystone-public, nine times');
  });
}
