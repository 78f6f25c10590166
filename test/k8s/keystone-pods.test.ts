// fixtures/k8s/keystone/ on a real node (test/k8s/node.sh): three Keystone replicas from the
// image docs/images.md builds (test/containers/build-keystone-image.sh), each with the memcached
// sidecar (a stand-in image for memcached:1.6 from Debian's memcached, test/k8s/images/memcached),
// MariaDB outside the cluster as docs/kubernetes.md says to adapt 00-db.yaml: the Service `db` without a
// selector and an EndpointSlice to the node's address, forwarded to a MariaDB of this test's
// own (test/services/mariadb.sh in a state directory of its own: a clean database). Then: one
// db_sync and bootstrap for the three, each replica Ready, and a token issued through the
// Service keystone-public accepted by every replica.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { containerSetup, shellExports } from '../helpers/containers.ts';
import { Forwarder, isReady, kube, loadImages, outsideServices, podsOf, until, type Kube } from '../helpers/kube.ts';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

t.setTimeout(30 * 60_000);

const FIXTURES = join(ROOT, 'fixtures', 'k8s', 'keystone');
const API = 'app.kubernetes.io/name=keystone,app.kubernetes.io/component=api';
const ADMIN_PASSWORD = 'example-admin-password'; // 02-keystone.yaml's Secret keystone-admin, as shipped

/** The two images: Keystone's (docs/images.md's block) and the memcached stand-in; a reason when they cannot be had. */
function images(setup: Record<string, string>): string | undefined {
  const ks = spawnSync('bash', [join(ROOT, 'test', 'containers', 'build-keystone-image.sh')], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (ks.status !== 0) return `the Keystone image (bash test/containers/build-keystone-image.sh: ${ks.stderr.trim().split('\n').slice(-2).join(' | ')})`;
  const dir = join(ROOT, 'test', 'k8s', 'images', 'memcached');
  const mc = spawnSync('podman', ['build', '-q', '--network=host', '--build-arg', `BASE=${setup.PULP_TEST_IMAGE_BASE ?? ''}`, '-t', 'localhost/memcached:1.6', '-f', join(dir, 'Containerfile'), dir], { encoding: 'utf8', env: { ...process.env, ...setup }, timeout: 10 * 60_000 });
  if (mc.status !== 0) return `the memcached stand-in (podman build test/k8s/images/memcached: ${mc.stderr.trim().split('\n').slice(-2).join(' | ')})`;
  return loadImages(['localhost/keystone-entrypoint:latest', 'localhost/memcached:1.6']);
}

const k = kube(t, { node: true });
if (k) {
  const setup = containerSetup(t, 'podman and the images');
  const why = setup ? images(setup) : undefined;
  if (why) unavailable(t, why);
  else if (setup) await main(k);
}

async function main(k: Kube): Promise<void> {
  const nodeIp = k.env.PULP_TEST_K8S_NODE_IP!;
  const ns = `keystone-pods-${process.pid}-${Date.now().toString(36)}`;
  const kc = (args: string[], input?: string): ReturnType<Kube['kubectl']> => k.kubectl(['-n', ns, ...args], input);

  // MariaDB of this test's own, and the forwarder its EndpointSlice points at.
  const state = tempDir(t, 'pe-k8s-mariadb-');
  const mariadb = (arg?: string): ReturnType<typeof spawnSync> =>
    spawnSync('bash', [join(ROOT, 'test', 'services', 'mariadb.sh'), ...(arg ? [arg] : [])], { encoding: 'utf8', env: { ...process.env, PULP_TEST_SERVICES_DIR: state }, timeout: 120_000 });
  const started = mariadb();
  t.teardown(() => void mariadb('stop'));
  if (started.status !== 0) {
    unavailable(t, `a MariaDB of its own (test/services/mariadb.sh): ${String(started.stderr).trim()}`);
    return;
  }
  const my = shellExports(String(started.stdout));
  const [myHost = '127.0.0.1', myPort = '3306'] = (my.PULP_TEST_MYSQL ?? '').split(':');
  const db = new Forwarder(nodeIp, { host: myHost, port: Number(myPort) });
  await db.open();
  t.teardown(() => db.close());

  t.teardown(() => void k.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']));
  t.equal(k.kubectl(['create', 'namespace', ns]).status, 0, `namespace ${ns}`);

  await t.test('the manifests apply: db outside (EndpointSlice), the keys, three replicas, keystone-public', async (t) => {
    const db00 = outsideServices(readFileSync(join(FIXTURES, '00-db.yaml'), 'utf8'), nodeIp, { db: db.port }, ['StatefulSet']);
    t.notMatch(db00, /kind: StatefulSet/, 'MariaDB runs outside: no StatefulSet');
    const r = kc(['apply', '--validate=strict', '-f', '-'], db00);
    t.equal(r.status, 0, r.out);
    // "Replace the example values": this MariaDB's password for keystone.
    const secret = JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'keystone-db' }, type: 'Opaque',
      stringData: { 'root-password': my.PULP_TEST_MYSQL_ROOT_PASSWORD ?? '', 'keystone-password': my.PULP_TEST_MYSQL_PASSWORD ?? '' },
    });
    t.equal(kc(['apply', '-f', '-'], secret).status, 0, 'the Secret keystone-db with this MariaDB\'s password');
    for (const f of ['01-keys.yaml', '02-keystone.yaml', '03-service.yaml']) {
      const a = kc(['apply', '--validate=strict', '-f', join(FIXTURES, f)]);
      t.equal(a.status, 0, a.out);
    }
  });

  const t0 = Date.now();
  await t.test('three replicas Ready; db_sync and bootstrap ran once, in one of them', async (t) => {
    const pods = await until(600_000, () => {
      const ps = podsOf(k, ns, API);
      return ps.length === 3 && ps.every(isReady) ? ps : undefined;
    }, 2000);
    t.ok(pods, `three keystone pods Ready, ${Math.round((Date.now() - t0) / 1000)} s after the apply`);
    if (!pods) {
      t.comment(kc(['get', 'pods', '-o', 'wide']).out);
      for (const p of podsOf(k, ns, API)) t.comment(kc(['logs', p.metadata.name, '-c', 'keystone', '--tail=20']).out);
      return;
    }
    const logs = pods.map((p) => kc(['logs', p.metadata.name, '-c', 'keystone']).out);
    const ran = logs.filter((l) => /init lease taken/.test(l));
    t.equal(ran.length, 1, 'one replica took the init lease');
    t.match(ran[0] ?? '', /keystone-manage db_sync exited code=0[\s\S]*keystone-manage bootstrap exited code=0/, 'db_sync, then bootstrap');
    t.equal(logs.filter((l) => /done at/.test(l) && !/init lease taken/.test(l)).length, 2, 'the other two used its record');
    for (const p of pods) t.equal(p.status.containerStatuses?.find((c) => c.name === 'keystone')?.restartCount, 0, `${p.metadata.name}: no restart`);
    const stat = kc(['exec', pods[0]!.metadata.name, '-c', 'keystone', '--', 'stat', '-c', '%U %a', '/etc/keystone/fernet-keys/0']).stdout.trim();
    t.equal(stat, 'keystone 600', 'the fernet keys from the Secret volume, installed 0600 as keystone');
    const pid1 = kc(['exec', pods[0]!.metadata.name, '-c', 'keystone', '--', 'cat', '/proc/1/cmdline']).stdout.split('\0').join(' ');
    t.match(pid1, /gunicorn -c \S+gunicorn\.conf\.py/, 'PID 1 is gunicorn');
  });

  await t.test('a token issued through keystone-public is accepted by every replica', async (t) => {
    const svc = k.json<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'service', 'keystone-public']);
    const base = `http://${svc.spec.clusterIP}:5000/v3`;
    const issued = await fetch(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      } }),
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
