// Start-up benchmark: start -> exec of a role, with MongoDB (FerretDB) and RabbitMQ
// ready, for (a) the original pipeline (fixtures/original/run.sh: bash, four augtool
// calls, a Python/pymongo check, runuser exec), (b) bin/pulp-entrypoint on the Node on
// PATH, (c) the standalone dist/pulp-entrypoint.
//
// The role's program is a stand-in `celery` (a two-line sh script that notes it ran and
// exits 0), and `pulp-manage-db` likewise: each figure is start -> configure -> wait ->
// (init) -> exec -> exit of a trivial role. Every run starts from a fresh copy of
// server.conf. Runs are interleaved across the pipelines so that load from elsewhere on
// the machine hits them alike.
//
//   node scripts/bench/startup.mjs              # roles beat and worker, 5 runs each
//   BENCH_RUNS=9 BENCH_ROLES=worker node scripts/bench/startup.mjs
//
// A pipeline that cannot run here prints "n/a (reason)" in its row; the script exits 0.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPort } from './lib/servers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
// beat first: it records the one-time init that the other roles wait for.
const roles = (process.env.BENCH_ROLES ?? 'beat,worker').split(',').filter(Boolean);
const isRoot = process.getuid?.() === 0;
// A user that exists everywhere; as root both pipelines drop to it as they would to apache.
const runAs = isRoot ? 'nobody' : '';

function lastLine(text) {
  const lines = String(text ?? '').trim().split('\n');
  return lines[lines.length - 1]?.slice(0, 160) ?? '';
}

function services() {
  const script = join(root, 'test', 'services', 'start.sh');
  if (!existsSync(script)) return { error: 'test/services/start.sh is missing' };
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return { error: `test/services/start.sh failed: ${lastLine(r.stderr)}` };
  const env = {};
  for (const m of r.stdout.matchAll(/^export (PULP_TEST_\w+)=(.*)$/gm)) env[m[1]] = m[2];
  if (!env.PULP_TEST_MONGODB || !env.PULP_TEST_AMQP) return { error: 'start.sh printed no PULP_TEST_MONGODB / PULP_TEST_AMQP' };
  return { env };
}

function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'pulp-bench-'));
  // The run user (nobody) must reach the stand-ins and the marker file.
  chmodSync(dir, 0o755);
  const bin = join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  const marker = join(dir, 'execs');
  writeFileSync(marker, '', { mode: 0o666 });
  chmodSync(marker, 0o666);
  for (const name of ['celery', 'pulp-manage-db']) {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/sh\necho ${name} >> '${marker}'\nexit 0\n`);
    chmodSync(file, 0o755);
  }
  const confRoot = join(dir, 'root');
  mkdirSync(join(confRoot, 'etc', 'pulp'), { recursive: true });
  return { dir, bin, marker, conf: join(confRoot, 'etc', 'pulp', 'server.conf'), confRoot };
}

function pipelines(box, svc) {
  const [dbHost, dbPort] = hostPort(svc.PULP_TEST_MONGODB);
  const [msgHost, msgPort] = hostPort(svc.PULP_TEST_AMQP);
  const common = {
    PATH: `${box.bin}:${process.env.PATH}`,
    HOME: process.env.HOME ?? '/root',
    PULP_SERVER_NAME: 'pulp.example.com',
    DB_SERVICE_HOST: dbHost,
    DB_SERVICE_PORT: dbPort,
    MSG_SERVICE_HOST: msgHost,
    MSG_SERVICE_PORT: msgPort,
    MSG_SERVICE_USER: svc.PULP_TEST_AMQP_USER ?? 'guest',
  };
  const agentEnv = {
    ...common,
    MSG_SERVICE_PASSWORD: svc.PULP_TEST_AMQP_PASSWORD ?? 'guest',
    PULP_BROKER_SCHEME: 'amqp',
    PULP_SERVER_CONF: box.conf,
    PULP_RUN_AS: runAs || 'apache',
    // A database of its own: the init record the agents keep there starts empty each bench
    // run, so the warm-up round does the real init and the timed rounds find it recorded,
    // as a restarted pod would (the original runs pulp-manage-db at every start).
    PULP_DB_NAME: `pulp_bench_${process.pid}`,
    PULP_CELERY_WORKDIR: box.dir,
    PULP_WAIT_TIMEOUT: '20',
  };
  const binary = join(root, 'dist', 'pulp-entrypoint');
  return [
    {
      name: '(a) original run.sh',
      missing: () => (spawnSync('augtool', ['--version']).error ? 'augtool is not installed (apt-get install augeas-tools)' : null),
      argv: (role) => ['bash', join(root, 'fixtures', 'original', 'run.sh'), role],
      env: { ...common, ORIG_ROOT: box.confRoot, ORIG_RUN_AS: runAs },
    },
    {
      name: '(b) bin/pulp-entrypoint',
      missing: () => (existsSync(join(root, 'dist', 'main.mjs')) ? null : 'dist/main.mjs not built (npm run build)'),
      argv: (role) => [process.execPath, join(root, 'bin', 'pulp-entrypoint'), role],
      env: agentEnv,
    },
    {
      name: '(c) dist/pulp-entrypoint',
      missing: () => (existsSync(binary) ? null : 'dist/pulp-entrypoint not built (npm run build:binary)'),
      // No Node.js on PATH for the binary: it must not need one.
      argv: (role) => [binary, role],
      env: { ...agentEnv, PATH: `${box.bin}:/usr/sbin:/usr/bin:/sbin:/bin` },
    },
  ];
}

function once(p, role, box, template) {
  copyFileSync(template, box.conf);
  chmodSync(box.conf, 0o644);
  writeFileSync(box.marker, '');
  const [cmd, ...args] = p.argv(role);
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: p.env, encoding: 'utf8', timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}: ${lastLine(r.stderr)}` };
  if (!readFileSync(box.marker, 'utf8').includes('celery')) return { error: 'exited 0 but never exec\'d celery' };
  return { ms };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function main() {
  const template = join(root, 'src', 'pulp', 'default-server.conf');
  const svc = services();
  const box = sandbox();
  try {
    const rows = [];
    for (const role of roles) {
      const ps = svc.error ? [] : pipelines(box, svc.env);
      const state = ps.map((p) => ({ p, times: [], na: p.missing() }));
      // One warm-up round (page cache, FerretDB's first connection), then interleaved runs.
      for (let i = 0; i <= runs; i++) {
        for (const s of state) {
          if (s.na) continue;
          const r = once(s.p, role, box, template);
          if (r.error) s.na = r.error;
          else if (i > 0) s.times.push(r.ms);
        }
      }
      if (svc.error) {
        rows.push({ role, name: 'all', na: svc.error });
        continue;
      }
      const base = state[0] && !state[0].na ? median(state[0].times) : null;
      for (const s of state) {
        if (s.na) {
          rows.push({ role, name: s.p.name, na: s.na });
          continue;
        }
        const m = median(s.times);
        rows.push({
          role,
          name: s.p.name,
          median: m,
          min: Math.min(...s.times),
          max: Math.max(...s.times),
          ratio: base === null ? 'n/a' : s === state[0] ? '1.0x' : `${(base / m).toFixed(1)}x faster`,
        });
      }
    }
    const f = (n) => `${n.toFixed(0)} ms`;
    console.log(`start -> exec of a trivial role (stand-in celery exits 0), FerretDB + RabbitMQ ready; median of ${runs} runs, node ${process.version} for (b)`);
    console.log('');
    console.log('| role | pipeline | median | min | max | vs (a) |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) {
      if (r.na) console.log(`| ${r.role} | ${r.name} | n/a (${r.na}) | | | |`);
      else console.log(`| ${r.role} | ${r.name} | ${f(r.median)} | ${f(r.min)} | ${f(r.max)} | ${r.ratio} |`);
    }
  } finally {
    rmSync(box.dir, { recursive: true, force: true });
  }
}

main();
