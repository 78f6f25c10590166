// fixtures/k8s/ on a real node: the kubelet and kube-proxy v1.34.4 with containerd
// (test/k8s/node.sh), the project's images (test/containers/build-images.sh) loaded into it.
// Applied as docs/kubernetes.md says, with the dependency Services pointed at servers on
// the host (docs/kubernetes.md: "MongoDB and RabbitMQ elsewhere"): the Services `db` and `msg` without a
// selector, each with an EndpointSlice to the node's address, where this test forwards to a
// FerretDB of its own (a clean database, and an outage that harms no other test) and to the
// test RabbitMQ. The real kubelet is the judge of: the Service variables a pod gets and what
// the agent reads from them, Secret and ConfigMap volumes, init containers and start order, the
// readiness probe, restarts after exit 69, the image's STOPSIGNAL on deletion, a rollout.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { containerSetup } from '../helpers/containers.ts';
import { Forwarder, isReady as ready, kube, loadImages, outsideServices, podsOf, until, type Kube, type Pod } from '../helpers/kube.ts';
import { closedPort } from '../helpers/net.ts';
import { serviceEnv, type KubeObject } from '../helpers/kubelet-env.ts';
import { testServices } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

t.setTimeout(40 * 60_000);

const FIXTURES = join(ROOT, 'fixtures', 'k8s');
const IMAGES = ['pulp-beat', 'pulp-resource-manager', 'pulp-worker'].map((n) => `localhost/${n}:latest`);
const SERVER_NAME = 'pulp.example.com'; // fixtures/k8s/01-config.yaml's server-name
const DB_PASSWORD = 'k8s-db-password';
// Celery's own line once a role runs (as test/e2e/containers.test.ts reads it).
const CELERY_UP = { beat: /beat: Starting\.\.\./, resource_manager: /\bready\./, worker: /\bready\./ } as const;

const k = kube(t, { node: true });
const services = testServices();
if (k && !services?.ferretdbBin) unavailable(t, 'FerretDB and RabbitMQ (test/services/start.sh): PULP_TEST_FERRETDB_BIN / PULP_TEST_AMQP are not set');
if (k && services?.ferretdbBin) await main(k, services.ferretdbBin, services.amqp, services.amqpUser, services.amqpPassword);

async function main(k: Kube, ferretdbBin: string, amqp: string, amqpUser: string, amqpPassword: string): Promise<void> {
  const nodeIp = k.env.PULP_TEST_K8S_NODE_IP!;
  const ns = `pulp-pods-${process.pid}-${Date.now().toString(36)}`;
  const kc = (args: string[], input?: string): ReturnType<Kube['kubectl']> => k.kubectl(['-n', ns, ...args], input);
  const pods = (selector: string): Pod[] => podsOf(k, ns, selector);
  const logs = (pod: string, container: string, previous = false): string => kc(['logs', pod, '-c', container, ...(previous ? ['--previous'] : [])]).out;
  const ROLE = {
    beat: 'app.kubernetes.io/component=beat',
    resource_manager: 'app.kubernetes.io/component=resource_manager',
    worker: 'app.kubernetes.io/component=worker',
  } as const;

  // podman as test/containers/setup.sh configures it; the images, as docs/images.md builds them
  // (cached: quick), loaded into the node's containerd.
  const setup = containerSetup(t, 'podman and the images');
  if (!setup) return;
  const podman = { ...process.env, ...setup };
  const built = spawnSync('bash', [join(ROOT, 'test', 'containers', 'build-images.sh')], { encoding: 'utf8', timeout: 30 * 60_000 });
  if (built.status !== 0) {
    unavailable(t, `the images (bash test/containers/build-images.sh failed: ${built.stderr.trim().split('\n').slice(-3).join(' | ')})`);
    return;
  }
  t.equal(loadImages(IMAGES), undefined, 'the images loaded into the node');

  // A FerretDB of this test's own on loopback, and the forwarders the EndpointSlices point at.
  const data = tempDir(t, 'pe-k8s-ferret-');
  const ferretPort = await closedPort();
  const ferret = spawn(ferretdbBin, ['--handler=sqlite', `--sqlite-url=file:${data}/`, `--state-dir=${data}`, `--listen-addr=127.0.0.1:${ferretPort}`, '--debug-addr=127.0.0.1:0', '--telemetry=disable', '--log-level=ERROR',
    // SCRAM-SHA-1 as Pulp 2's pymongo speaks it: FerretDB's "new" authentication, with the user
    // the Secret names, in the database Pulp authenticates against ([database] name's default).
    '--test-enable-new-auth', '--setup-database=pulp_database', '--setup-username=pulp', `--setup-password=${DB_PASSWORD}`], { stdio: 'ignore' });
  t.teardown(() => void ferret.kill('SIGKILL'));
  const [amqpHost = '127.0.0.1', amqpPort = '5672'] = amqp.split(':');
  const db = new Forwarder(nodeIp, { host: '127.0.0.1', port: ferretPort });
  const msg = new Forwarder(nodeIp, { host: amqpHost, port: Number(amqpPort) });
  await msg.open();
  await db.open(); // for its port; closed again below until the worker has been seen waiting
  await db.close();
  t.teardown(async () => { await db.close(); await msg.close(); });

  t.teardown(() => void k.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']));
  t.equal(k.kubectl(['create', 'namespace', ns]).status, 0, `namespace ${ns}`);

  // 00-services.yaml as docs/kubernetes.md says to adapt it for servers outside the cluster, plus
  // Services whose variables test the kubelet's naming: dashes, several ports (named, one with a
  // leading digit), UDP, one unnamed port.
  const services00 = outsideServices(readFileSync(join(FIXTURES, '00-services.yaml'), 'utf8'), nodeIp, { db: db.port, msg: msg.port });
  const extra = `
apiVersion: v1
kind: Service
metadata: {name: extra-ports}
spec:
  ports:
    - {name: http, port: 8080}
    - {name: 2nd-http, port: 8081, targetPort: 9000}
    - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: one-unnamed}
spec:
  ports: [{port: 7000}]
`;
  await t.test('the Services (db and msg to the host through EndpointSlices) and the ConfigMap and Secret apply', async (t) => {
    const r = kc(['apply', '--validate=strict', '-f', '-'], `${services00}\n---\n${extra}`);
    t.equal(r.status, 0, r.out);
    const c = kc(['apply', '--validate=strict', '-f', join(FIXTURES, '01-config.yaml')]);
    t.equal(c.status, 0, c.out);
    // "Replace the example values": this test's FerretDB user, the test RabbitMQ's login.
    const secret = JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pulp-credentials' }, type: 'Opaque',
      stringData: { 'db-username': 'pulp', 'db-password': DB_PASSWORD, 'msg-username': amqpUser, 'msg-password': amqpPassword },
    });
    t.equal(kc(['apply', '-f', '-'], secret).status, 0, 'the Secret with the test broker login');
  });

  await t.test('a worker started before anything it needs: Init:0/1 while MongoDB is down, then it waits for the init record', async (t) => {
    const r = kc(['apply', '--validate=strict', '-f', join(FIXTURES, 'worker.yaml')]);
    t.equal(r.status, 0, r.out);
    const waiting = await until(120_000, () => {
      const ps = pods(ROLE.worker);
      return ps.length === 2 && ps.every((p) => p.status.initContainerStatuses?.[0]?.state.running) ? ps : undefined;
    });
    t.ok(waiting, 'both workers run their init container `wait`');
    const table = kc(['get', 'pods', '-l', ROLE.worker, '--no-headers']).stdout;
    t.match(table, /pulp-worker-0 +0\/1 +Init:0\/1 /, `kubectl get pods: Init:0/1\n${table}`);
    const waitLog = await until(60_000, () => (/mongodb/i.test(logs('pulp-worker-0', 'wait')) ? logs('pulp-worker-0', 'wait') : undefined));
    t.ok(waitLog, 'the init container says what it waits for');
    t.match(waitLog ?? '', new RegExp(`${k.json<KubeObject>(['-n', ns, 'get', 'service', 'db']).spec?.clusterIP as string}:27017`), 'MongoDB at the Service IP from DB_SERVICE_HOST/PORT');

    await db.open(); // MongoDB comes up
    const main = await until(120_000, () => (/waiting for the one-time init/.test(logs('pulp-worker-0', 'worker')) ? true : undefined));
    t.ok(main, 'the worker container then waits for the one-time init (beat runs it)');
    t.notMatch(logs('pulp-worker-0', 'worker'), CELERY_UP.worker, 'Celery has not started');
  });

  const started = Date.now();
  await t.test('beat and the resource manager: all three roles Ready, pulp-manage-db ran once', async (t) => {
    for (const f of ['beat.yaml', 'resource-manager.yaml']) {
      const r = kc(['apply', '--validate=strict', '-f', join(FIXTURES, f)]);
      t.equal(r.status, 0, r.out);
    }
    // Ready alone is not enough: `check` (the probe) answers for the dependencies, so a worker
    // still waiting for the init record is Ready too. Celery's own start line says it runs.
    const up = (): string[] | undefined => {
      const ps = [...pods(ROLE.beat), ...pods(ROLE.resource_manager), ...pods(ROLE.worker)];
      if (ps.length !== 4 || !ps.every(ready)) return undefined;
      const text = [logs(ps[0]!.metadata.name, 'beat'), logs(ps[1]!.metadata.name, 'resource-manager'), logs('pulp-worker-0', 'worker'), logs('pulp-worker-1', 'worker')];
      const want = [CELERY_UP.beat, CELERY_UP.resource_manager, CELERY_UP.worker, CELERY_UP.worker];
      return text.every((l, i) => want[i]!.test(l)) ? text : undefined;
    };
    const text = await until(360_000, up, 2000);
    t.ok(text, `beat, resource manager and both workers Ready and Celery running, ${Math.round((Date.now() - started) / 1000)} s after beat was applied`);
    if (!text) return;
    t.equal(text.join('\n').match(/init lease taken: running \S*pulp-manage-db/g)?.length, 1, 'pulp-manage-db ran once, in beat');
    t.match(text[0], /Database migrations complete\./, "pulp-manage-db's own output, in beat's log");
    t.match(text[2], /init \S+ was done at \S+ on pulp-beat-/, 'worker 0 used the record beat wrote');
    for (const p of [...pods(ROLE.worker), ...pods(ROLE.beat)]) {
      const restarts = p.status.containerStatuses?.[0]?.restartCount;
      t.equal(restarts, 0, `${p.metadata.name}: no restart`);
    }
  });

  await t.test('the workers are Celery nodes named from their StatefulSet ordinals; ping answers inside the cluster', async (t) => {
    const want = [`reserved_resource_worker-0@${SERVER_NAME}`, `reserved_resource_worker-1@${SERVER_NAME}`, `resource_manager@${SERVER_NAME}`];
    let out = '';
    const answered = await until(90_000, () => {
      const r = kc(['exec', 'pulp-worker-0', '-c', 'worker', '--', 'setpriv', '--reuid=apache', '--regid=apache', '--init-groups',
        'celery', '-A', 'pulp.server.async.app', 'inspect', 'ping', '--timeout', '10', '-d', want.join(',')]);
      out = r.out;
      return want.every((n) => out.includes(`${n}: OK`)) ? true : undefined;
    }, 3000);
    t.ok(answered, out);
  });

  await t.test("the real kubelet's Service variables: what test/helpers/kubelet-env.ts builds, and what the agent reads", async (t) => {
    const beat = pods(ROLE.beat)[0]!.metadata.name;
    const env = Object.fromEntries(kc(['exec', beat, '-c', 'beat', '--', 'env']).stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const svcs = [
      ...k.json<{ items: KubeObject[] }>(['-n', ns, 'get', 'services']).items,
      k.json<KubeObject>(['-n', 'default', 'get', 'service', 'kubernetes']),
    ];
    const expected = Object.fromEntries(serviceEnv(svcs));
    const isServiceVar = (name: string): boolean => /_SERVICE_(HOST|PORT)|_PORT(_|$)/.test(name);
    const got = Object.fromEntries(Object.entries(env).filter(([n]) => isServiceVar(n)));
    t.same(got, expected, 'the same names and values');
    t.equal(got.EXTRA_PORTS_SERVICE_PORT_2ND_HTTP, '8081', 'a port name with a leading digit');
    t.equal(got.EXTRA_PORTS_PORT_53_UDP_PROTO, 'udp', 'UDP');
    t.equal(got.ONE_UNNAMED_SERVICE_PORT, '7000', 'an unnamed port');
    t.notOk(Object.keys(got).some((n) => n.startsWith('PULP_WORKER_')), 'the headless pulp-worker gives none');

    const ip = (name: string): string => svcs.find((s) => s.metadata.name === name)!.spec!.clusterIP as string;
    const p = JSON.parse(kc(['exec', beat, '-c', 'beat', '--', 'pulp-entrypoint', 'preview', 'beat', '--json']).stdout) as { waits: { kind: string; address: string }[] };
    t.same(p.waits.map((w) => [w.kind, w.address]), [['mongodb', `${ip('db')}:27017`], ['amqp', `${ip('msg')}:5672`]], "the agent's waits, from the kubelet's DB_ and MSG_SERVICE_HOST/PORT");
  });

  await t.test('Secret and ConfigMap volumes as the kubelet mounts them: ..data links, 0440, fsGroup 48; the files are read', async (t) => {
    const pod = 'pulp-worker-1';
    const sh = (cmd: string): string => kc(['exec', pod, '-c', 'worker', '--', 'sh', '-c', cmd]).stdout;
    t.match(sh('ls -la /run/secrets/pulp'), /\.\.data -> \.\.\d{4}_/, 'the Secret volume: ..data -> a timestamped directory');
    t.match(sh('ls -la /run/secrets/pulp'), /db-password -> \.\.data\/db-password/, 'each key a link into ..data');
    t.equal(sh('stat -L -c "%a %g" /run/secrets/pulp/db-password').trim(), '440 48', 'defaultMode 0440, group = the pod\'s fsGroup');
    t.match(sh('id -G apache; id -G'), /\b48\b/, 'the container runs with group 48');
    const conf = sh('cat /etc/pulp/server.conf');
    t.match(conf, new RegExp(`^password: ${DB_PASSWORD}$`, 'm'), 'server.conf has the password from PULP_DB_PASSWORD_FILE');
    t.match(conf, /^server_name: pulp\.example\.com$/m, 'and the server name from the ConfigMap');
    t.match(conf, /^# name: pulp_database$/m, "the ConfigMap's template (PULP_SERVER_CONF_TEMPLATE), comments kept");
    t.notOk(kc(['logs', pod, '-c', 'worker']).out.includes(DB_PASSWORD), 'the password in no log line');
  });

  await t.test('a MongoDB outage turns readiness false and back to true; nothing restarts', async (t) => {
    const before = new Map(pods(ROLE.worker).map((p) => [p.metadata.name, p.status.containerStatuses?.[0]?.restartCount]));
    await db.close();
    // periodSeconds 30, failureThreshold 3 (fixtures/k8s/worker.yaml): up to ~2 minutes.
    const down = await until(180_000, () => { const ps = pods(ROLE.worker); return (ps.length === 2 && ps.every((p) => !ready(p))) || undefined; }, 2000);
    t.ok(down, 'both workers not Ready while MongoDB is unreachable');
    const svc = k.json<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=pulp-worker']).items;
    const endpoints = svc.flatMap((s) => s.endpoints ?? []);
    t.ok(endpoints.length === 2 && endpoints.every((e) => e.conditions?.ready === false), `the headless Service lists both not ready (${endpoints.length} endpoints)`);
    await db.open();
    const up = await until(180_000, () => { const ps = pods(ROLE.worker); return (ps.length === 2 && ps.every(ready)) || undefined; }, 2000);
    t.ok(up, 'Ready again once MongoDB is back');
    for (const p of pods(ROLE.worker)) t.equal(p.status.containerStatuses?.[0]?.restartCount, before.get(p.metadata.name), `${p.metadata.name}: not restarted`);
  });

  await t.test("deleting a pod sends the image's STOPSIGNAL: SIGQUIT to a worker, SIGTERM to beat; both exit 0 within the grace period", async (t) => {
    // Python's default for SIGQUIT kills with a core (exit 131), so an exit 0 from beat also says
    // that it got SIGTERM; Celery's worker says "Cold shutdown" for SIGQUIT, "Warm" for SIGTERM.
    for (const [pod, container, signal, shutdown] of [
      ['pulp-worker-1', 'worker', 'SIGQUIT', /Cold shutdown/],
      [pods(ROLE.beat)[0]!.metadata.name, 'beat', 'SIGTERM', undefined],
    ] as const) {
      const image = spawnSync('podman', ['image', 'inspect', '-f', '{{.Config.StopSignal}}', `localhost/${container === 'beat' ? 'pulp-beat' : 'pulp-worker'}:latest`], { encoding: 'utf8', env: podman });
      t.equal(image.stdout.trim() || 'SIGTERM', signal, `${container}: the image's STOPSIGNAL is ${signal}`);
      const id = k.json<Pod>(['-n', ns, 'get', 'pod', pod]).status.containerStatuses?.find((c) => c.name === container)?.containerID?.replace(/^\w+:\/\//, '') ?? '';
      t.ok(id, `${pod}: container ${id.slice(0, 12)}`);
      const log = k.follow(['-n', ns, 'logs', '-f', pod, '-c', container, '--since=1s']);
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      const del = kc(['delete', 'pod', pod, '--wait=true', '--timeout=60s']);
      const took = Date.now() - t0;
      t.equal(del.status, 0, del.out);
      await Promise.race([log.done, new Promise((r) => setTimeout(r, 5000))]);
      log.stop();
      t.ok(took < 30_000, `${pod}: gone in ${took} ms, before the 30 s grace period ends`);
      if (shutdown) t.match(log.output(), shutdown, `${pod}: ${String(shutdown)} in its last log lines`);
      // The pod object is gone with its status; the kubelet's own log keeps the exit code.
      t.equal(await until(10_000, () => exitCodeOf(k.env.PULP_TEST_K8S_NODE_DIR!, id)), 0, `${pod}: the container exited 0 (the kubelet's PLEG)`);
    }
    const back = await until(240_000, () => pods(ROLE.worker).length === 2 && pods(ROLE.worker).every(ready) && pods(ROLE.beat).length === 1 && pods(ROLE.beat).every(ready) || undefined, 2000);
    t.ok(back, 'the StatefulSet and the Deployment bring them back, Ready');
    t.match(logs('pulp-worker-1', 'worker'), /init \S+ was done at \S+ on pulp-beat-/, 'the new worker-1 found the init record and started');
  });

  await t.test('a worker whose wait times out exits 69 and the kubelet restarts it', async (t) => {
    // The same StatefulSet under another name, with the init container's --timeout 300 cut to
    // 5 s, in a namespace whose Service db has no endpoint (its selector matches nothing).
    const other = `${ns}-nodb`;
    t.teardown(() => void k.kubectl(['delete', 'namespace', other, '--ignore-not-found', '--wait=false']));
    t.equal(k.kubectl(['create', 'namespace', other]).status, 0);
    const ko = (args: string[], input?: string): ReturnType<Kube['kubectl']> => k.kubectl(['-n', other, ...args], input);
    t.equal(ko(['apply', '-f', join(FIXTURES, '00-services.yaml'), '-f', join(FIXTURES, '01-config.yaml')]).status, 0);
    const worker = readFileSync(join(FIXTURES, 'worker.yaml'), 'utf8').replace('args: ["wait", "--timeout", "300"]', 'args: ["wait", "--timeout", "5"]').replace(/replicas: 2/, 'replicas: 1');
    t.match(worker, /"--timeout", "5"/);
    t.equal(ko(['apply', '-f', '-'], worker).status, 0);
    const restarted = await until(180_000, () => {
      const p = k.json<Pod>(['-n', other, 'get', 'pod', 'pulp-worker-0']);
      const s = p.status.initContainerStatuses?.[0];
      return s && s.restartCount >= 1 && s.lastState.terminated ? s : undefined;
    }, 2000);
    t.equal(restarted?.lastState.terminated?.exitCode, 69, 'the init container exited 69');
    t.ok((restarted?.restartCount ?? 0) >= 1, `and was restarted (${restarted?.restartCount ?? 0} times)`);
    const prev = ko(['logs', 'pulp-worker-0', '-c', 'wait', '--previous']).out;
    t.match(prev, /mongodb/i, `its one line names what was not ready: ${prev.trim().split('\n').pop()}`);
    k.kubectl(['delete', 'namespace', other, '--wait=false']);
  });

  await t.test('a rollout of a new beat image (a new pulp-manage-db: a new init key): refused while workers run, done once they are stopped', async (t) => {
    const v2 = 'localhost/pulp-beat:rollout-2';
    const dir = tempDir(t, 'pe-k8s-rollout-');
    // A new Pulp in the image, as far as the init key can tell: pulp-manage-db rewritten.
    writeFileSync(join(dir, 'Containerfile'), "FROM localhost/pulp-beat:latest\nRUN echo '# rollout 2' >> /opt/python2.7/bin/pulp-manage-db\n");
    const b = spawnSync('podman', ['build', '-q', '-t', v2, '-f', join(dir, 'Containerfile'), dir], { encoding: 'utf8', env: podman });
    t.equal(b.status, 0, b.stderr);
    t.equal(loadImages([v2]), undefined, 'loaded into the node');
    const old = pods(ROLE.beat)[0]!.metadata.name;
    const r = kc(['set', 'image', 'deployment/pulp-beat', 'wait=pulp-beat:rollout-2', 'beat=pulp-beat:rollout-2']);
    t.equal(r.status, 0, r.out);
    const newBeat = (): Pod | undefined => pods(ROLE.beat).find((p) => p.metadata.name !== old);

    // The real pulp-manage-db refuses to migrate while workers heartbeat (it waits 92 s for
    // them, then exits 70, EX_SOFTWARE): the agent exits with that code, no record written,
    // and the kubelet restarts beat.
    const refused = await until(300_000, () => {
      const s = newBeat()?.status.containerStatuses?.[0];
      return s?.lastState.terminated ? s : undefined;
    }, 2000);
    t.equal(refused?.lastState.terminated?.exitCode, 70, "with the workers running: beat exits with pulp-manage-db's 70");
    const beat = newBeat()?.metadata.name ?? '';
    const previous = logs(beat, 'beat', true);
    t.match(previous, /please stop the running workers before retrying the pulp-manage-db command/, "Pulp's own words, in the log");
    t.match(previous, /init \S*pulp-manage-db failed with exit code 70: no completion record written/, "the agent's line");

    // Pulp's upgrade order: stop the workers and the resource manager, migrate, start them.
    for (const w of ['statefulset/pulp-worker', 'deployment/pulp-resource-manager']) t.equal(kc(['scale', w, '--replicas=0']).status, 0, `${w} scaled to 0`);
    const text = await until(420_000, () => {
      const l = logs(beat, 'beat');
      return CELERY_UP.beat.test(l) ? l : undefined;
    }, 3000);
    if (!text) t.comment(`${kc(['get', 'pods', '-o', 'wide']).out}\n${kc(['logs', beat, '-c', 'beat', '--tail=30']).out}`);
    t.match(text ?? '', /init lease taken: running \S*pulp-manage-db/, 'the restarted beat ran pulp-manage-db again (the new key had no record)');
    t.match(text ?? '', /Database migrations complete\./, 'to the end, then Celery beat started');
    t.equal(kc(['scale', 'statefulset/pulp-worker', '--replicas=2']).status, 0);
    t.equal(kc(['scale', 'deployment/pulp-resource-manager', '--replicas=1']).status, 0);
    const back = await until(300_000, () => {
      const ps = [...pods(ROLE.resource_manager), ...pods(ROLE.worker)];
      return ps.length === 3 && ps.every(ready) && ps.every((p) => CELERY_UP.worker.test(logs(p.metadata.name, p.metadata.name.startsWith('pulp-worker') ? 'worker' : 'resource-manager'))) || undefined;
    }, 3000);
    t.ok(back, 'the workers and the resource manager are back, Celery running');
  });
}

/** A container's exit code as the node's kubelet logged it ("Generic (PLEG): container finished"). */
function exitCodeOf(nodeDir: string, containerId: string): number | undefined {
  const log = readFileSync(join(nodeDir, 'kubelet.log'), 'utf8');
  const m = new RegExp(`container finished" podID="[^"]*" containerID="${containerId}" exitCode=(-?\\d+)`).exec(log);
  return m ? Number(m[1]) : undefined;
}
