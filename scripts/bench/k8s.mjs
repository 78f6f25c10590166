// Kubernetes: the time from `kubectl apply -f fixtures/k8s/` to all three roles Ready with
// Celery running (beat's "Starting...", the resource manager's and both workers' "ready."), on
// the test cluster (test/k8s/cluster.sh and node.sh: Kubernetes v1.34.4, one node), the images
// loaded as test/k8s/pulp-pods.test.ts loads them. Each run: a fresh namespace and a fresh
// FerretDB (so beat's pulp-manage-db runs every time), the Services `db` and `msg` pointed at
// the host as docs/kubernetes.md says for servers outside the cluster. Runs one after the other.
//
//   node scripts/bench/k8s.mjs          # 3 runs; BENCH_RUNS=5 for more
//
// A piece that cannot run here prints "n/a (reason)"; the script exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outsideServices } from '../../test/helpers/outside-services.mjs';
import { freePort, testEnv } from './lib/servers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const fixtures = join(root, 'fixtures', 'k8s');
const images = ['pulp-beat', 'pulp-resource-manager', 'pulp-worker'].map((n) => `localhost/${n}:latest`);
const up = [
  ['app.kubernetes.io/component=beat', 'beat', /beat: Starting\.\.\./],
  ['app.kubernetes.io/component=resource_manager', 'resource-manager', /\bready\./],
  ['app.kubernetes.io/component=worker', 'worker', /\bready\./],
];

const exportsOf = (s) => Object.fromEntries([...s.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
const sh = (args, opts = {}) => spawnSync('bash', args, { encoding: 'utf8', ...opts });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function na(why) {
  console.log(`apply -> three roles Ready: n/a (${why})`);
  process.exit(0);
}

async function forwarder(host, to) {
  const child = spawn(process.execPath, [join(root, 'test', 'helpers', 'forward.mjs'), host, '0', to.host, String(to.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((res) => child.stdout.once('data', (d) => res(Number(String(d).trim()))));
  return { port, stop: () => child.kill('SIGKILL') };
}

const env = testEnv();
if (!env?.PULP_TEST_FERRETDB_BIN) na('FerretDB and RabbitMQ: bash test/services/start.sh');
const cluster = sh([join(root, 'test', 'k8s', 'cluster.sh'), 'start']);
if (cluster.status !== 0) na(`bash test/k8s/cluster.sh start failed: ${cluster.stderr.trim().split('\n').pop()}`);
const node = sh([join(root, 'test', 'k8s', 'node.sh'), 'start']);
if (node.status !== 0) na(`bash test/k8s/node.sh start failed: ${node.stderr.trim().split('\n').pop()}`);
const k8s = { ...exportsOf(cluster.stdout), ...exportsOf(node.stdout) };
if (sh([join(root, 'test', 'containers', 'build-images.sh')]).status !== 0) na('the images: bash test/containers/build-images.sh');
const load = sh([join(root, 'test', 'k8s', 'node.sh'), 'load', ...images]);
if (load.status !== 0) na(`node.sh load: ${load.stderr.trim()}`);

const kubectl = (args, input) => spawnSync(k8s.PULP_TEST_KUBECTL, args, { encoding: 'utf8', input, env: { ...process.env, KUBECONFIG: k8s.KUBECONFIG }, maxBuffer: 64 << 20 });
const [amqpHost, amqpPort] = env.PULP_TEST_AMQP.split(':');
const times = [];
for (let i = 0; i < runs; i++) {
  const ns = `bench-k8s-${process.pid}-${i}`;
  const data = mkdtempSync(join(tmpdir(), 'pe-bench-k8s-'));
  const ferretPort = await freePort();
  const ferret = spawn(env.PULP_TEST_FERRETDB_BIN, ['--handler=sqlite', `--sqlite-url=file:${data}/`, `--state-dir=${data}`, `--listen-addr=127.0.0.1:${ferretPort}`,
    '--debug-addr=127.0.0.1:0', '--telemetry=disable', '--log-level=ERROR', '--test-enable-new-auth', '--setup-database=pulp_database', '--setup-username=pulp', '--setup-password=bench'], { stdio: 'ignore' });
  const db = await forwarder(k8s.PULP_TEST_K8S_NODE_IP, { host: '127.0.0.1', port: ferretPort });
  const msg = await forwarder(k8s.PULP_TEST_K8S_NODE_IP, { host: amqpHost, port: Number(amqpPort) });
  try {
    kubectl(['create', 'namespace', ns]);
    const secret = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pulp-credentials' }, type: 'Opaque',
      stringData: { 'db-username': 'pulp', 'db-password': 'bench', 'msg-username': env.PULP_TEST_AMQP_USER ?? 'guest', 'msg-password': env.PULP_TEST_AMQP_PASSWORD ?? 'guest' } });
    const all = [
      outsideServices(readFileSync(join(fixtures, '00-services.yaml'), 'utf8'), k8s.PULP_TEST_K8S_NODE_IP, { db: db.port, msg: msg.port }),
      // 01-config.yaml with the Secret's values replaced, as docs/kubernetes.md asks.
      readFileSync(join(fixtures, '01-config.yaml'), 'utf8').split(/^---$/m).filter((d) => !/^kind: Secret/m.test(d)).join('---'),
      secret,
      ...['beat.yaml', 'resource-manager.yaml', 'worker.yaml'].map((f) => readFileSync(join(fixtures, f), 'utf8')),
    ].join('\n---\n');
    const t0 = performance.now();
    const r = kubectl(['apply', '-n', ns, '-f', '-'], all);
    if (r.status !== 0) na(`kubectl apply: ${r.stderr.trim()}`);
    let done = false;
    while (!done && performance.now() - t0 < 600_000) {
      await sleep(250);
      const pods = JSON.parse(kubectl(['get', 'pods', '-n', ns, '-o', 'json']).stdout || '{"items":[]}').items;
      const ready = pods.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      if (ready.length !== 4) continue;
      done = up.every(([sel, container, re]) => pods.filter((p) => `app.kubernetes.io/component=${p.metadata.labels['app.kubernetes.io/component']}` === sel)
        .every((p) => re.test(kubectl(['logs', '-n', ns, p.metadata.name, '-c', container]).stdout)));
    }
    if (!done) na(`run ${i + 1}: not Ready within 10 minutes (kubectl -n ${ns} get pods)`);
    times.push(performance.now() - t0);
  } finally {
    kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s']);
    db.stop();
    msg.stop();
    ferret.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  }
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`apply -> three roles Ready (beat, resource manager, 2 workers; Celery running), Kubernetes ${spawnSync(k8s.PULP_TEST_KUBECTL, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).stdout.match(/"gitVersion": "([^"]+)"/)?.[1] ?? '?'}, one node`);
console.log(`  ${runs} runs: median ${(median / 1000).toFixed(1)} s (min ${(times[0] / 1000).toFixed(1)} s, max ${(times[times.length - 1] / 1000).toFixed(1)} s)`);
