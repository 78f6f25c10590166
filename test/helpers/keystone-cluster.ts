// fixtures/k8s/keystone/ on the test cluster's node, for the test/k8s/ files that run Keystone:
// the images (docs/images.md's block through test/containers/build-keystone-image.sh, and a
// memcached stand-in from Debian's memcached), a namespace of the test's own, MariaDB outside
// the cluster as docs/kubernetes.md says to adapt 00-db.yaml (the Service `db` without a selector, an
// EndpointSlice to the node's address, forwarded to a MariaDB of the test's own), then the
// other manifests applied as shipped, --validate=strict. The CronJobs are suspended: a test
// starts their Jobs itself, and one that ran at 03:00 would race it.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './cli.ts';
import { containerSetup, shellExports } from './containers.ts';
import { Forwarder, type Kube, isReady, loadImages, outsideServices, podsOf, until } from './kube.ts';
import { tempDir } from './temp.ts';
import { unavailable } from './unavailable.ts';

export const FIXTURES = join(ROOT, 'fixtures', 'k8s', 'keystone');
export const API = 'app.kubernetes.io/name=keystone,app.kubernetes.io/component=api';
/** 02-keystone.yaml's Secret keystone-admin, as shipped. */
export const ADMIN_PASSWORD = 'example-admin-password';
/** The body of POST /v3/auth/tokens as that admin, project-scoped to admin. */
export const ADMIN_AUTH = JSON.stringify({
  auth: {
    identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
});

export interface KeystoneCluster {
  ns: string;
  nodeIp: string;
  kc(args: string[], input?: string, timeoutMs?: number): ReturnType<Kube['kubectl']>;
  /** The cluster IP of keystone-public, as a base URL: http://IP:5000/v3. */
  service(): string;
  /** A query in the keystone database of the test's MariaDB, as root: its rows, tab-separated. */
  sql(query: string): string;
  /** Three replicas Ready, within `ms`; the pods, or undefined (with the state logged as comments). */
  threeReady(t: Test, ms: number): Promise<ReturnType<typeof podsOf> | undefined>;
}

/** Which Keystone images a test runs: by default the README's (keystone-entrypoint:latest). */
export interface KeystoneImages {
  /** The build script under test/containers/ that makes them. */
  script: string;
  /** podman's names of what it makes, loaded into the node. */
  load: string[];
  /** The image the shipped manifests' `keystone-entrypoint:latest` becomes, as an operator sets it. */
  image: string;
}

const DEFAULT_IMAGES: KeystoneImages = { script: 'build-keystone-image.sh', load: ['localhost/keystone-entrypoint:latest'], image: 'keystone-entrypoint:latest' };

/** The images, loaded into the node; a reason when they cannot be had. */
function images(setup: Record<string, string>, want: KeystoneImages): string | undefined {
  const ks = spawnSync('bash', [join(ROOT, 'test', 'containers', want.script)], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (ks.status !== 0) return `the Keystone image (bash test/containers/${want.script}: ${ks.stderr.trim().split('\n').slice(-2).join(' | ')})`;
  const dir = join(ROOT, 'test', 'k8s', 'images', 'memcached');
  const mc = spawnSync('podman', ['build', '-q', '--network=host', '--build-arg', `BASE=${setup.PULP_TEST_IMAGE_BASE ?? ''}`, '-t', 'localhost/memcached:1.6', '-f', join(dir, 'Containerfile'), dir], { encoding: 'utf8', env: { ...process.env, ...setup }, timeout: 10 * 60_000 });
  if (mc.status !== 0) return `the memcached stand-in (podman build test/k8s/images/memcached: ${mc.stderr.trim().split('\n').slice(-2).join(' | ')})`;
  return loadImages([...want.load, 'localhost/memcached:1.6']);
}

/**
 * Keystone applied in a namespace of its own (`name` starts it), or undefined after reporting
 * why not; `config` added to the ConfigMap keystone-config, as an operator adds settings.
 * Everything it starts is removed when `t` ends.
 */
export async function keystoneCluster(
  t: Test,
  k: Kube,
  name: string,
  config: Record<string, string> = {},
  /**
   * `images`: other images than the README's; `plainDbPassword`: the database user's password
   * made letters and digits (Keystone 28.0.x's db_sync cannot take a percent-encoded one).
   */
  opts: { images?: KeystoneImages; plainDbPassword?: boolean } = {},
): Promise<KeystoneCluster | undefined> {
  const setup = containerSetup(t, 'podman and the images');
  if (!setup) return undefined;
  const want = opts.images ?? DEFAULT_IMAGES;
  const why = images(setup, want);
  if (why) {
    unavailable(t, why);
    return undefined;
  }
  const nodeIp = k.env.PULP_TEST_K8S_NODE_IP!;
  const ns = `${name}-${process.pid}-${Date.now().toString(36)}`;
  const kc = (args: string[], input?: string, timeoutMs?: number): ReturnType<Kube['kubectl']> => k.kubectl(['-n', ns, ...args], input, timeoutMs);

  // MariaDB of this test's own, and the forwarder its EndpointSlice points at.
  const state = tempDir(t, 'pe-k8s-mariadb-');
  const mariadb = (arg?: string): ReturnType<typeof spawnSync> =>
    spawnSync('bash', [join(ROOT, 'test', 'services', 'mariadb.sh'), ...(arg ? [arg] : [])], { encoding: 'utf8', env: { ...process.env, PULP_TEST_SERVICES_DIR: state }, timeout: 120_000 });
  const started = mariadb();
  t.teardown(() => void mariadb('stop'));
  if (started.status !== 0) {
    unavailable(t, `a MariaDB of its own (test/services/mariadb.sh): ${String(started.stderr).trim()}`);
    return undefined;
  }
  const my = shellExports(String(started.stdout));
  if (opts.plainDbPassword) {
    my.PULP_TEST_MYSQL_PASSWORD = randomBytes(12).toString('hex');
    const alter = spawnSync('mariadb', ['--no-defaults', `--socket=${my.PULP_TEST_MYSQL_SOCKET ?? ''}`, '-uroot', '-e', `ALTER USER 'keystone'@'%' IDENTIFIED BY '${my.PULP_TEST_MYSQL_PASSWORD}'`], { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: my.PULP_TEST_MYSQL_ROOT_PASSWORD ?? '' } });
    if (alter.status !== 0) {
      t.fail(`the keystone user's password not changed: ${alter.stderr}`);
      return undefined;
    }
  }
  const [myHost = '127.0.0.1', myPort = '3306'] = (my.PULP_TEST_MYSQL ?? '').split(':');
  const db = new Forwarder(nodeIp, { host: myHost, port: Number(myPort) });
  await db.open();
  t.teardown(() => db.close());

  t.teardown(() => void k.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']));
  if (k.kubectl(['create', 'namespace', ns]).status !== 0) {
    t.fail(`namespace ${ns} not created`);
    return undefined;
  }
  const db00 = outsideServices(readFileSync(join(FIXTURES, '00-db.yaml'), 'utf8'), nodeIp, { db: db.port }, ['StatefulSet']);
  const applied = [kc(['apply', '--validate=strict', '-f', '-'], db00)];
  // "Replace the example values": this MariaDB's password for keystone.
  const secret = JSON.stringify({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'keystone-db' }, type: 'Opaque',
    stringData: { 'root-password': my.PULP_TEST_MYSQL_ROOT_PASSWORD ?? '', 'keystone-password': my.PULP_TEST_MYSQL_PASSWORD ?? '' },
  });
  applied.push(kc(['apply', '-f', '-'], secret));
  // The added settings first, before any pod exists: apply then merges the shipped data in and
  // keeps these (they are in neither its manifest nor its last-applied record).
  if (Object.keys(config).length > 0) applied.push(kc(['create', 'configmap', 'keystone-config', ...Object.entries(config).map(([n, v]) => `--from-literal=${n}=${v}`)]));
  // The shipped manifests; another image as an operator sets it (kustomize's `images`, or an edit).
  const manifest = (f: string): string => readFileSync(join(FIXTURES, f), 'utf8').replaceAll('image: keystone-entrypoint:latest', `image: ${want.image}`);
  for (const f of ['01-keys.yaml', '02-keystone.yaml', '03-service.yaml', '04-rotation.yaml']) applied.push(kc(['apply', '--validate=strict', '-f', '-'], manifest(f)));
  for (const c of ['keystone-fernet-rotate', 'keystone-credential-rotate']) applied.push(kc(['patch', 'cronjob', c, '-p', '{"spec":{"suspend":true}}']));
  const refused = applied.find((a) => a.status !== 0);
  t.equal(refused, undefined, `the manifests applied (db outside, the keys, three replicas, keystone-public, the rotation CronJobs)${refused ? `: ${refused.out}` : ''}`);
  if (refused) return undefined;
  return {
    ns,
    nodeIp,
    kc,
    sql: (query) => {
      const r = spawnSync('mariadb', ['--no-defaults', `--socket=${my.PULP_TEST_MYSQL_SOCKET ?? ''}`, '-uroot', '-N', '-B', '-e', query, my.PULP_TEST_MYSQL_DATABASE ?? 'keystone'], { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: my.PULP_TEST_MYSQL_ROOT_PASSWORD ?? '' } });
      if (r.status !== 0) throw new Error(`mariadb: ${query}: ${r.stderr}`);
      return r.stdout;
    },
    service: () => `http://${k.json<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'service', 'keystone-public']).spec.clusterIP}:5000/v3`,
    threeReady: async (t, ms) => {
      const pods = await until(ms, () => {
        const ps = podsOf(k, ns, API);
        return ps.length === 3 && ps.every(isReady) ? ps : undefined;
      }, 2000);
      if (!pods) {
        t.comment(kc(['get', 'pods', '-o', 'wide']).out);
        for (const p of podsOf(k, ns, API)) for (const c of ['keys', 'keystone']) t.comment(kc(['logs', p.metadata.name, '-c', c, '--tail=20']).out);
      }
      return pods;
    },
  };
}

/**
 * Continuous traffic on a Keystone cluster (test/helpers/keystone-traffic.mjs in a process of
 * its own: the test's kubectl calls block its own event loop): tokens issued through `base`
 * (keystone-public) and validated on every replica the Service sends to, a file of their
 * addresses kept current from its EndpointSlices every second. stop() ends it and gives what it
 * counted; it is killed when `t` ends in any case.
 */
export interface TrafficSummary {
  requests?: number;
  failures?: unknown[];
  /** Successful validations on each replica, by its address. */
  validatedOn?: Record<string, number>;
}

export function keystoneTraffic(t: Test, k: Kube, ns: string, base: string): { stop(): Promise<TrafficSummary> } {
  const endpoints = join(tempDir(t, 'pe-k8s-traffic-'), 'endpoints.json');
  const refresh = (): void => {
    const slices = k.json<{ items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[] }>(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=keystone-public']);
    writeFileSync(`${endpoints}.tmp`, JSON.stringify(slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses))));
    renameSync(`${endpoints}.tmp`, endpoints);
  };
  refresh();
  const traffic = spawn(process.execPath, [join(ROOT, 'test', 'helpers', 'keystone-traffic.mjs'), base, endpoints, ADMIN_PASSWORD], { stdio: ['ignore', 'pipe', 'inherit'] });
  let summary = '';
  traffic.stdout.on('data', (d: Buffer) => (summary += d.toString()));
  const done = new Promise<void>((resolve) => traffic.on('close', () => resolve()));
  t.teardown(() => void traffic.kill('SIGKILL'));
  const refresher = setInterval(refresh, 1000);
  t.teardown(() => clearInterval(refresher));
  return {
    stop: async () => {
      clearInterval(refresher);
      traffic.kill('SIGTERM');
      await done;
      return JSON.parse(summary.trim() || '{}') as TrafficSummary;
    },
  };
}
