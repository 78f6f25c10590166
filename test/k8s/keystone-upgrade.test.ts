// A rolling upgrade of Keystone on a live cluster, with the shipped manifests
// (test/helpers/keystone-cluster.ts; 02-keystone.yaml's RollingUpdate, maxSurge 1,
// maxUnavailable 0): three replicas of Keystone 28.0.2 (localhost/keystone-entrypoint:upgrade-old,
// test/containers/build-keystone-upgrade-images.sh), a client in a process of its own issuing
// tokens through keystone-public and validating each on every replica the whole time
// (test/helpers/keystone-traffic.mjs), then `kubectl set image` to Keystone 30.0.0
// (:upgrade-new). No request fails; the expand ran once (one new replica's log), before the
// first new replica was Ready (alembic_version already at 30.0.0's expand head then, and its
// record earlier than that Ready); the contract ran once (its record), after the last 28.0.2
// replica was gone; a token issued before the update validates on every new replica after it.
// The figure: `kubectl set image` to three new replicas Ready (docs/keystone-upgrade.md).
import t from 'tap';
import { kube, until, type Kube } from '../helpers/kube.ts';
import { ADMIN_AUTH, API, keystoneCluster, keystoneTraffic } from '../helpers/keystone-cluster.ts';

t.setTimeout(60 * 60_000);

const OLD = 'keystone-entrypoint:upgrade-old';
const NEW = 'keystone-entrypoint:upgrade-new';
const OLD_HEADS = '47147121 c88cdce8f248';
const NEW_HEADS = '742c857f1dfb c88cdce8f248';

interface PodJson {
  metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string };
  spec: { containers: { name: string; image: string }[] };
  status: { podIP?: string; conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
}

const k = kube(t, { node: true });
if (k) await main(k);

async function main(k: Kube): Promise<void> {
  const c = await keystoneCluster(t, k, 'keystone-upgrade', {}, {
    images: { script: 'build-keystone-upgrade-images.sh', load: [`localhost/${OLD}`, `localhost/${NEW}`], image: OLD },
    plainDbPassword: true,
  });
  if (!c) return;
  const pods = (): PodJson[] => k.json<{ items: PodJson[] }>(['-n', c.ns, 'get', 'pods', '-l', API]).items;
  const imageOf = (p: PodJson): string => p.spec.containers.find((x) => x.name === 'keystone')?.image ?? '';
  const readyAt = (p: PodJson): number | undefined => {
    const r = p.status.conditions?.find((x) => x.type === 'Ready' && x.status === 'True');
    return r?.lastTransitionTime ? Date.parse(r.lastTransitionTime) : undefined;
  };
  const heads = (): string => c.sql('SELECT version_num FROM alembic_version ORDER BY version_num').split('\n').filter(Boolean).sort().join(' ');
  /** The agent's records: key -> doneAt (ms), host. */
  const records = (): Map<string, { at: number; host: string }> =>
    new Map(
      c.sql("SELECT id, record FROM entrypoint_init WHERE id LIKE 'done:%'").split('\n').filter(Boolean).map((l) => {
        const [id = '', json = '{}'] = l.split('\t');
        const r = JSON.parse(json) as { doneAt: string; host: string };
        return [id.slice('done:'.length), { at: Date.parse(r.doneAt), host: r.host }];
      }),
    );

  const t0 = Date.now();
  let ready = false;
  await t.test('three replicas of Keystone 28.0.2 Ready', async (t) => {
    ready = (await c.threeReady(t, 600_000)) !== undefined;
    t.ok(ready, `three replicas Ready, ${Math.round((Date.now() - t0) / 1000)} s after the apply`);
    t.equal(heads(), OLD_HEADS, "alembic_version at 28.0.2's heads");
  });
  if (!ready) return;
  const base = c.service();
  const oldKeys = new Set(records().keys());

  let token0 = '';
  await t.test('before the update: a token', async (t) => {
    const r = await fetch(`${base}/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ADMIN_AUTH });
    t.equal(r.status, 201);
    token0 = r.headers.get('x-subject-token') ?? '';
    t.ok(token0, 'the token (X-Subject-Token)');
  });
  if (!token0) return;

  // The traffic, in a process of its own, the whole time.
  const traffic = keystoneTraffic(t, k, c.ns, base);

  // What the test sees each second: heads when each new replica first turned Ready, the moment no old replica was left.
  let setAt = 0;
  let allNewAt: number | undefined;
  let lastOldGoneAt: number | undefined;
  let headsAtFirstNewReady: string | undefined;
  let firstNewReadyAt: number | undefined;
  let newPods: string[] = [];
  await t.test('kubectl set image to Keystone 30.0.0: three new replicas Ready, the old ones gone', async (t) => {
    // A few seconds of traffic on the old replicas first (inside a subtest: tap ends a file's root test when nothing is pending in it).
    await new Promise((r) => setTimeout(r, 5000));
    setAt = Date.now();
    const set = c.kc(['set', 'image', 'deployment/keystone', `keystone=${NEW}`, `keys=${NEW}`]);
    t.equal(set.status, 0, set.out);
    const done = await until(900_000, () => {
      const ps = pods();
      const fresh = ps.filter((p) => imageOf(p) === NEW && !p.metadata.deletionTimestamp);
      const readyNew = fresh.filter((p) => readyAt(p) !== undefined);
      if (readyNew.length > 0 && headsAtFirstNewReady === undefined) {
        headsAtFirstNewReady = heads();
        firstNewReadyAt = Math.min(...readyNew.map((p) => readyAt(p) ?? Infinity));
      }
      if (readyNew.length === 3 && allNewAt === undefined) allNewAt = Date.now();
      if (lastOldGoneAt === undefined && !ps.some((p) => imageOf(p) === OLD)) lastOldGoneAt = Date.now();
      newPods = fresh.map((p) => p.metadata.name);
      return allNewAt !== undefined && lastOldGoneAt !== undefined ? true : undefined;
    }, 1000);
    t.ok(done, 'three replicas of 30.0.0 Ready and no 28.0.2 pod left');
    if (!done) {
      t.comment(c.kc(['get', 'pods', '-o', 'wide']).out);
      for (const p of pods()) t.comment(c.kc(['logs', p.metadata.name, '-c', 'keystone', '--tail=30']).out);
      return;
    }
    t.comment(`benchmark: kubectl set image to three new replicas Ready: ${(((allNewAt ?? 0) - setAt) / 1000).toFixed(1)} s; the last 28.0.2 pod gone after ${(((lastOldGoneAt ?? 0) - setAt) / 1000).toFixed(1)} s`);
  });
  if (allNewAt === undefined) return;

  await t.test('the expand: once, by one new replica, before the first new replica was Ready', async (t) => {
    t.equal(headsAtFirstNewReady, NEW_HEADS, "alembic_version was at 30.0.0's expand head when the first new replica turned Ready");
    const newKey = [...records().keys()].find((key) => !oldKeys.has(key) && !key.startsWith('contract:'));
    t.ok(newKey, "the new image's init record");
    const rec = newKey ? records().get(newKey) : undefined;
    t.ok(rec && firstNewReadyAt !== undefined && rec.at <= firstNewReadyAt, `recorded at ${rec ? new Date(rec.at).toISOString() : '?'}, before the first Ready (${firstNewReadyAt ? new Date(firstNewReadyAt).toISOString() : '?'})`);
    const logs = newPods.map((p) => c.kc(['logs', p, '-c', 'keystone']).out);
    t.equal(logs.filter((l) => /keystone-manage db_sync --expand exited code=0/.test(l)).length, 1, 'one db_sync --expand among the new replicas');
    t.equal(logs.filter((l) => /init phase: expand \(alembic_version at 47147121, c88cdce8f248; db_sync --check: the expand is due \(2\)\)/.test(l)).length, 1, 'by the check (2)');
    t.equal(logs.filter((l) => /db_sync --contract/.test(l)).length, 0, 'no contract at any start');
  });

  await t.test('the contract: once, after the last 28.0.2 replica was gone, by a readiness check', async (t) => {
    // Up to the rows' TTL (90 s after the last old probe) and a probe period (30 s), and a margin.
    const contracted = await until(300_000, () => [...records().entries()].find(([key]) => key.startsWith('contract:') && !oldKeys.has(key)), 2000);
    t.ok(contracted, "the contract of the new image's key is recorded");
    if (!contracted) return;
    const [, rec] = contracted;
    t.ok(lastOldGoneAt !== undefined && rec.at >= lastOldGoneAt, `recorded at ${new Date(rec.at).toISOString()}, after the last old pod was gone (${new Date(lastOldGoneAt ?? 0).toISOString()})`);
    t.ok(newPods.includes(rec.host), `by a new replica (${rec.host})`);
    t.equal(heads(), NEW_HEADS, "alembic_version at 30.0.0's heads");
    t.comment(`the contract ran ${((rec.at - setAt) / 1000).toFixed(1)} s after kubectl set image, ${((rec.at - (lastOldGoneAt ?? 0)) / 1000).toFixed(1)} s after the last old pod was gone`);
  });

  await t.test('no request failed; the token from before the update validates on every new replica', async (t) => {
    const s = await traffic.stop();
    t.ok((s.requests ?? 0) > 50, `${s.requests} requests during the update`);
    t.same(s.failures, [], 'zero failed requests');
    // Three old replicas, then three new: at least three addresses validated on, not only the Service.
    t.ok(Object.keys(s.validatedOn ?? {}).length >= 3, `validated on each replica, not only through the Service: ${JSON.stringify(s.validatedOn)}`);
    const now = pods();
    t.equal(now.filter((p) => imageOf(p) === NEW).length, 3, 'three new replicas to ask');
    for (const p of now) {
      const r = await fetch(`http://${p.status.podIP}:5000/v3/auth/tokens`, { headers: { 'x-auth-token': token0, 'x-subject-token': token0 } });
      t.equal(r.status, 200, `${p.metadata.name}: the old token validates`);
    }
  });
}
