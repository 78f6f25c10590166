// The Kubernetes examples in fixtures/k8s, run as far as they can be without a cluster: each
// role's pod environment is built the way the kubelet builds it (test/helpers/kubelet-env.ts:
// service variables from the Services in the folder, the container's env, the Secret and
// ConfigMap volumes as files), and `bin/pulp-entrypoint preview ROLE --json` must show the
// seeds, URLs, waits and command a real pod would get, with the passwords masked.
// `celery` and `pulp-manage-db` resolve to the stand-ins in fixtures/fake-bin (Pulp 2 is not
// installable here); previews execute nothing.
import t, { type Test } from 'tap';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROLES, type Role } from '../../src/pulp/roles.ts';
import { ROOT, cli } from '../helpers/cli.ts';
import { FAKE_BIN } from '../helpers/exec.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { type Container, type KubeObject, type Pod, containerEnv, envVarName, expand, loadManifests, podOf, serviceEnv } from '../helpers/kubelet-env.ts';

const DIR = join(ROOT, 'fixtures', 'k8s');
const SECRETS = { db: 'example-db-password', msg: 'example-msg-password' };

interface Preview {
  role: string;
  config: { readFrom?: string; edits: { section: string; key: string; value: string }[]; diff: string };
  waits: { kind: string; address: string }[];
  init: { argv: string[]; user: string } | null;
  exec: { argv: string[]; user: string; cwd: string };
}

/** What each Docker image runs: its CMD (fixtures/docker/<role>/Dockerfile) under its build tag. */
function imageRoles(): Map<string, Role> {
  const m = new Map<string, Role>();
  for (const role of ROLES) {
    const text = readFileSync(join(ROOT, 'fixtures', 'docker', role, 'Dockerfile'), 'utf8');
    const tag = /docker build -f fixtures\/docker\/\w+\/Dockerfile -t (\S+) \./.exec(text)?.[1];
    const cmd = /^CMD (\[.*\])$/m.exec(text)?.[1];
    if (tag && cmd) m.set(tag, (JSON.parse(cmd) as Role[])[0] as Role);
  }
  return m;
}

const baseEntrypoint = (JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(ROOT, 'fixtures', 'docker', 'base', 'Dockerfile'), 'utf8'))?.[1] ?? '[]') as string[])[0];

/** What the API server does on create: a cluster IP for each Service that asks for none in particular. */
const ASSIGNED: Record<string, string> = { db: '10.96.0.10', msg: '10.96.0.11' };
function withClusterIPs(objects: KubeObject[], ips: Record<string, string> = ASSIGNED): KubeObject[] {
  return objects.map((o) => {
    const ip = ips[o.metadata.name];
    return o.kind === 'Service' && o.spec?.clusterIP === undefined && ip ? { ...o, spec: { ...o.spec, clusterIP: ip } } : o;
  });
}

function field(p: Preview, section: string, key: string): string | undefined {
  return p.config.edits.find((e) => e.section === section && e.key === key)?.value;
}

/** Runs the container's own command through `preview`: the image's CMD when args is absent. */
function preview(t: Test, objects: KubeObject[], pod: Pod, container: Container, role: Role, services?: KubeObject[]): Preview {
  const root = tempDir(t, 'ship-k8s-');
  // The image's own /etc/pulp/server.conf, from the Pulp packages.
  mkdirSync(join(root, 'etc', 'pulp'), { recursive: true });
  confCopy(join(root, 'etc', 'pulp'));
  const env = containerEnv(objects, pod, container.name, root, services);
  const r = cli(['preview', role, '--json'], { ...env, PATH: `${FAKE_BIN}:/usr/bin:/bin` });
  t.equal(r.status, 0, `preview ${role} for ${pod.name}/${container.name}: ${r.stderr}`);
  for (const secret of Object.values(SECRETS)) {
    t.notOk(r.stdout.includes(secret) || r.stderr.includes(secret), `${secret} appears in no output`);
  }
  const p = JSON.parse(r.stdout) as Preview;
  t.equal(p.config.readFrom, join(root, 'etc', 'pulp-template', 'server.conf'), 'starts from the ConfigMap template');
  return p;
}

t.test('kubelet service variables follow pkg/kubelet/envvars', async (t) => {
  t.equal(envVarName('pulp-db-v2'), 'PULP_DB_V2');
  t.equal(envVarName('2nd-db'), '2ND_DB', 'a port name may start with a digit; nothing is added');
  const env = Object.fromEntries(
    serviceEnv([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'my-db' }, spec: { clusterIP: 'fd00::10', ports: [{ name: 'mongo-db', port: 27017 }, { port: 28017, protocol: 'UDP' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 1 }] } },
    ]),
  );
  t.same(env, {
    MY_DB_SERVICE_HOST: 'fd00::10',
    MY_DB_SERVICE_PORT: '27017',
    MY_DB_SERVICE_PORT_MONGO_DB: '27017',
    MY_DB_PORT: 'tcp://[fd00::10]:27017',
    MY_DB_PORT_27017_TCP: 'tcp://[fd00::10]:27017',
    MY_DB_PORT_27017_TCP_PROTO: 'tcp',
    MY_DB_PORT_27017_TCP_PORT: '27017',
    MY_DB_PORT_27017_TCP_ADDR: 'fd00::10',
    MY_DB_PORT_28017_UDP: 'udp://[fd00::10]:28017',
    MY_DB_PORT_28017_UDP_PROTO: 'udp',
    MY_DB_PORT_28017_UDP_PORT: '28017',
    MY_DB_PORT_28017_UDP_ADDR: 'fd00::10',
  });
  t.equal(expand('$(A)-$$(A)-$(B)', { A: 'x' }), 'x-$(A)-$(B)');
});

t.test('manifests: Services db and msg first and without fixed cluster IPs, one workload per role', async (t) => {
  const objects = await loadManifests(DIR);
  const services = objects.filter((o) => o.kind === 'Service');
  for (const name of ['db', 'msg']) t.ok(services.find((s) => s.metadata.name === name), `Service ${name} exists`);
  // A fixed address collides with what a cluster has allocated (kube-dns holds 10.96.0.10 on
  // kubeadm and kind) or lies outside its service range; only headless (None) is a choice.
  for (const s of services) t.ok(s.spec?.clusterIP === undefined || s.spec.clusterIP === 'None', `Service ${s.metadata.name}: no fixed clusterIP`);
  // `kubectl apply -f DIR` goes in file-name order (loadManifests reads it the same way): the
  // kubelet gives a pod the variables of the Services that exist when it starts.
  const firstWorkload = objects.findIndex((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
  const lastService = objects.map((o) => o.kind).lastIndexOf('Service');
  t.ok(firstWorkload > lastService, 'every Service comes before every workload');
  for (const w of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
    const pod = podOf(w);
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      // A tag with no pull policy means Always for :latest: images loaded into a local cluster
      // (kind load, ctr import) would fail with ErrImagePull.
      t.equal(c.imagePullPolicy, 'IfNotPresent', `${w.metadata.name}/${c.name}: imagePullPolicy IfNotPresent`);
    }
    t.equal(typeof pod.spec.securityContext?.fsGroup, 'number', `${w.metadata.name}: an fsGroup, so that any uid can read the Secret's files`);
    for (const v of pod.spec.volumes ?? []) if (v.secret) t.equal(v.secret.defaultMode, 0o440, `${w.metadata.name}: Secret volume ${v.name} is 0440 (group: the fsGroup)`);
  }
  const images = imageRoles();
  const roles = objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((w) => images.get(podOf(w).spec.containers[0]?.image.replace(/:latest$/, '') ?? ''));
  t.same([...roles].sort(), [...ROLES].sort(), 'each role once, by the image it runs');
  t.ok(objects.find((o) => o.kind === 'StatefulSet' && images.get(podOf(o).spec.containers[0]?.image.replace(/:latest$/, '') ?? '') === 'worker'), 'workers are a StatefulSet (ordinal -> worker id)');
});

t.test('each role previews with the pod environment the kubelet gives it', async (t) => {
  const objects = withClusterIPs(await loadManifests(DIR));
  const images = imageRoles();
  for (const w of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
    const pod = podOf(w, 1);
    const main = pod.spec.containers[0] as Container;
    const role = images.get(main.image.replace(/:latest$/, '')) as Role;
    await t.test(`${w.kind} ${w.metadata.name} (${role})`, async (t) => {
      t.equal(pod.spec.containers.length, 1, 'one container');
      t.equal(main.command, undefined, 'keeps the image ENTRYPOINT (the agent)');
      t.equal(main.args, undefined, "runs the image's CMD: the role");
      t.same(main.readinessProbe?.exec?.command, [baseEntrypoint, 'check'], 'probe: the agent at the path the image puts it, `check`');

      const p = preview(t, objects, pod, main, role);
      t.equal(p.role, role);
      t.equal(field(p, 'server', 'server_name'), 'pulp.example.com', 'server_name from the ConfigMap key');
      t.equal(field(p, 'database', 'seeds'), '10.96.0.10:27017', 'seeds from DB_SERVICE_HOST/PORT');
      t.equal(field(p, 'database', 'username'), 'pulp', 'database user from the Secret');
      t.equal(field(p, 'database', 'password'), '********', 'database password masked');
      t.equal(field(p, 'messaging', 'url'), 'tcp://10.96.0.11:5672', 'messaging url from MSG_SERVICE_HOST/PORT');
      t.match(field(p, 'tasks', 'broker_url'), /^amqp:\/\/pulp:\*{8}@10\.96\.0\.11:5672\/?$/, 'broker_url: amqp, user, masked password');
      t.match(p.config.diff, /password: \*{8}/, 'the diff masks the password too');
      t.same(p.waits.map((x) => [x.kind, x.address]), [['mongodb', '10.96.0.10:27017'], ['amqp', '10.96.0.11:5672']]);
      t.equal(p.exec.user, 'apache');
      t.equal(basename(p.exec.argv[0] ?? ''), 'celery');
      const args = p.exec.argv.slice(1);
      if (role === 'beat') {
        t.equal(args[0], 'beat');
        t.same(p.init && { prog: basename(p.init.argv[0] ?? ''), user: p.init.user }, { prog: 'pulp-manage-db', user: 'apache' }, 'beat runs the init first');
      } else {
        t.equal(p.init, null, 'no init');
        t.equal(args[0], 'worker');
        const node = args[args.indexOf('-n') + 1];
        t.equal(node, role === 'worker' ? 'reserved_resource_worker-1@pulp.example.com' : 'resource_manager@pulp.example.com', 'Celery node name (worker N = StatefulSet ordinal)');
      }

      const init = pod.spec.initContainers ?? [];
      t.equal(init.length, 1, 'one init container');
      const wait = init[0] as Container;
      t.equal(wait.image, main.image, 'the init container is the same image');
      t.equal(wait.args?.[0], 'wait', 'it runs `wait`');
      const w2 = preview(t, objects, pod, wait, role);
      t.same(w2.waits, p.waits, 'it waits for exactly what the role will use');
    });
  }
});

t.test('IPv6 cluster IPs reach seeds, URLs and waits in brackets', async (t) => {
  const objects = await loadManifests(DIR);
  const services = withClusterIPs(objects, { db: 'fd00:10:96::10', msg: 'fd00:10:96::11' }).filter((o) => o.kind === 'Service');
  const worker = objects.find((o) => o.kind === 'StatefulSet') as KubeObject;
  const pod = podOf(worker, 3);
  const p = preview(t, objects, pod, pod.spec.containers[0] as Container, 'worker', services);
  t.equal(field(p, 'database', 'seeds'), '[fd00:10:96::10]:27017');
  t.equal(field(p, 'messaging', 'url'), 'tcp://[fd00:10:96::11]:5672');
  t.match(field(p, 'tasks', 'broker_url'), /^amqp:\/\/pulp:\*{8}@\[fd00:10:96::11\]:5672\/?$/);
  t.same(p.waits.map((x) => x.address), ['[fd00:10:96::10]:27017', '[fd00:10:96::11]:5672']);
  t.ok(p.exec.argv.includes('reserved_resource_worker-3@pulp.example.com'));
});
