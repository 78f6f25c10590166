// Load: many agents against one FerretDB (and one RabbitMQ) of test/services/start.sh at once.
// - BENCH_WAITS (default 200) concurrent `pulp-entrypoint wait`: every one must exit 0;
// - BENCH_INITS (default 50) concurrent `pulp-entrypoint init` of one key on a fresh database:
//   every one must exit 0, the init (the pulp-manage-db stand-in) must run exactly once, and
//   the other 49 must say they skipped it.
// So that all of a wave are alive at once (starting 200 Node processes on 2 cores takes longer
// than one of them needs), the agents reach FerretDB through a relay (its own process) that
// starts listening only when every agent of the wave has logged a refused attempt, i.e. is in
// its retry loop: then all of them connect at once. Prints the wall time of each wave (all started -> all ended, and from the
// gate opening), the agents' peak RSS (largest and median VmHWM) and the peak of their summed
// RSS with how many were alive then, read from /proc every 200 ms. Exits 1 when an outcome is wrong.
// Standalone: `node scripts/bench/load.mjs` (after `npm run build`).
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hostPort, services } from './lib/servers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'bin/pulp-entrypoint');
const WAITS = Number(process.env.BENCH_WAITS ?? 200);
const INITS = Number(process.env.BENCH_INITS ?? 50);

const svc = services();
if (!svc || !existsSync(join(root, 'dist/main.mjs'))) {
  console.log('load bench: SKIPPED (needs test/services/start.sh and `npm run build`)');
  process.exit(0);
}
const [dbHost, dbPort] = hostPort(svc.mongodb);
const [msgHost, msgPort] = hostPort(svc.amqp);

const dir = mkdtempSync(join(tmpdir(), 'pe-bench-load-'));
chmodSync(dir, 0o777);
const rec = join(dir, 'init.jsonl');
const isRoot = process.geteuid?.() === 0;

/** VmHWM and VmRSS of a live process, in KiB (undefined once it is gone). */
function mem(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

// The relay runs in its own process, so that this one's /proc sampling cannot slow it down.
const RELAY = `
const net = require('node:net');
const [port, host, upPort] = process.argv.slice(1);
process.stdin.once('data', () => {
  net.createServer((c) => {
    const u = net.connect(Number(upPort), host);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  }).listen(Number(port), '127.0.0.1', () => process.stdout.write('open\\n'));
});
`;

/** A relay on `port` to FerretDB that listens only once open() is called. */
function gate(port) {
  const child = spawn(process.execPath, ['-e', RELAY, String(port), dbHost, dbPort], { stdio: ['pipe', 'pipe', 'inherit'] });
  return {
    open: () =>
      new Promise((r) => {
        child.stdout.once('data', () => r());
        child.stdin.write('go\n');
      }),
    close: () => new Promise((r) => (child.once('exit', () => r()), child.kill())),
  };
}

/**
 * Starts `n` agents with `args`, their database behind a closed gate; opens it once all are
 * alive; resolves with their exits, the times and the memory figures.
 */
async function wave(n, args, envFor) {
  const port = await freePort();
  const g = gate(port);
  const hwm = new Map();
  let peakSum = 0;
  let peakLive = 0;
  const started = performance.now();
  const runs = Array.from({ length: n }, (_, i) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...envFor(i), DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const run = { child, waiting: false, done: undefined };
    let out = '';
    const take = (d) => {
      out += d;
      // In the retry loop: its first refused attempt at the closed gate.
      if (!run.waiting && /"dependency":"mongodb"[^\n]*"reason":"refused"/.test(out)) run.waiting = true;
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    run.done = new Promise((r) => child.on('close', (code) => ((run.waiting = true), r({ code, out }))));
    return run;
  });
  const sample = () => {
    let sum = 0;
    let live = 0;
    for (const { child } of runs) {
      const m = mem(child.pid);
      if (!m) continue;
      live++;
      hwm.set(child.pid, Math.max(hwm.get(child.pid) ?? 0, m.hwm));
      sum += m.rss;
    }
    peakSum = Math.max(peakSum, sum);
    peakLive = Math.max(peakLive, live);
  };
  const timer = setInterval(sample, 200);
  const all = Promise.all(runs.map((r) => r.done));
  // Open when every agent is in its retry loop (each then tries again within 250 ms).
  const since = performance.now();
  while (runs.some((r) => !r.waiting) && performance.now() - since < 300_000) await new Promise((r) => setTimeout(r, 50));
  const opened = performance.now();
  const openedAt = Date.now();
  await g.open();
  const results = await all;
  clearInterval(timer);
  await g.close();
  const ms = performance.now() - started;
  const fromGate = performance.now() - opened;
  const peaks = [...hwm.values()].sort((a, b) => a - b);
  // From the agents' JSON log: when MongoDB answered each, and why attempts after the gate failed.
  const readyAfter = [];
  const reasons = {};
  for (const r of results) {
    for (const l of r.out.split('\n')) {
      if (!l.startsWith('{')) continue;
      let e;
      try {
        e = JSON.parse(l);
      } catch {
        continue;
      }
      if (e.dependency !== 'mongodb') continue;
      const at = Date.parse(e.time) - openedAt;
      if (e.ready === true) readyAfter.push(at);
      else if (e.reason !== undefined && at >= 0 && e.reason !== 'refused') reasons[e.reason] = (reasons[e.reason] ?? 0) + 1;
    }
  }
  readyAfter.sort((a, b) => a - b);
  const ready = { median: readyAfter[Math.floor(readyAfter.length / 2)] ?? NaN, worst: readyAfter[readyAfter.length - 1] ?? NaN };
  return { results, ms, fromGate, ready, reasons, peakLive, maxHwm: peaks[peaks.length - 1] ?? 0, medianHwm: peaks[Math.floor(peaks.length / 2)] ?? 0, peakSum };
}

function agentEnv(i, db, extra = {}) {
  const own = join(dir, `pod${i}`);
  mkdirSync(own, { recursive: true });
  const conf = join(own, 'server.conf');
  if (!existsSync(conf)) copyFileSync(join(root, 'src/pulp/default-server.conf'), conf);
  return {
    PATH: `${join(root, 'fixtures/fake-bin')}:/usr/bin:/bin`,
    PULP_SERVER_CONF: conf,
    DB_SERVICE_HOST: dbHost,
    DB_SERVICE_PORT: dbPort,
    PULP_DB_NAME: db,
    MSG_SERVICE_HOST: msgHost,
    MSG_SERVICE_PORT: msgPort,
    MSG_SERVICE_USER: svc.user,
    MSG_SERVICE_PASSWORD: svc.password,
    PULP_BROKER_SCHEME: 'amqp',
    PULP_CONF__SERVER__LOG_TYPE: 'console',
    PULP_ENTRYPOINT_LOG: 'json',
    PULP_WAIT_TIMEOUT: '300',
    PULP_RUN_AS: isRoot ? 'nobody' : String(process.geteuid?.()),
    PULP_CELERY_WORKDIR: dir,
    ...extra,
  };
}

const mib = (kb) => `${(kb / 1024).toFixed(0)} MiB`;
const rows = [];
let wrong = 0;
const db = `pe_bench_load_${process.pid}`;

const w = await wave(WAITS, ['wait'], (i) => agentEnv(i, db));
const waitBad = w.results.filter((r) => r.code !== 0);
wrong += waitBad.length;
rows.push([`${WAITS} concurrent \`wait\``, `${(w.ms / 1000).toFixed(1)} s (${(w.fromGate / 1000).toFixed(1)} s)`, `${WAITS - waitBad.length}/${WAITS} exit 0`, mib(w.maxHwm), mib(w.medianHwm), `${mib(w.peakSum)} (${w.peakLive} alive)`]);

const i = await wave(INITS, ['init'], (n) => agentEnv(n, db, { PULP_INIT_KEY: 'bench-load', FAKE_RECORD: rec, FAKE_INIT_SLEEP: '1' }));
const initBad = i.results.filter((r) => r.code !== 0);
const runs = existsSync(rec) ? readFileSync(rec, 'utf8').split('\n').filter((l) => l.includes('"start"')).length : 0;
const skipped = i.results.filter((r) => /already done at .*: skipping it/.test(r.out)).length;
const initRight = initBad.length === 0 && runs === 1 && skipped === INITS - 1;
if (!initRight) wrong++;
rows.push([
  `${INITS} concurrent \`init\`, one key`,
  `${(i.ms / 1000).toFixed(1)} s (${(i.fromGate / 1000).toFixed(1)} s)`,
  `${INITS - initBad.length}/${INITS} exit 0, init ran ${runs}x, ${skipped} skipped`,
  mib(i.maxHwm),
  mib(i.medianHwm),
  `${mib(i.peakSum)} (${i.peakLive} alive)`,
]);

const head = ['wave', 'wall time (from the gate)', 'outcome', 'peak RSS, largest agent', 'median agent', 'all agents together, peak'];
const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
const line = (r) => `| ${r.map((c, k) => c.padEnd(widths[k])).join(' | ')} |`;
console.log(line(head));
console.log(`|${widths.map((n) => '-'.repeat(n + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
for (const [what, x] of [['wait', w], ['init', i]]) {
  const failed = Object.entries(x.reasons).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
  console.log(`${what}: MongoDB answered each agent ${(x.ready.median / 1000).toFixed(1)} s after the gate opened (median), ${(x.ready.worst / 1000).toFixed(1)} s (worst); failed attempts after it: ${failed}`);
}
for (const r of [...waitBad, ...initBad].slice(0, 3)) console.log(`\nexit ${r.code}:\n${r.out.split('\n').filter((l) => /"level":"(error|warn)"/.test(l)).slice(0, 5).join('\n')}`);

// The bench database and the pods' files.
try {
  const { MongoClient } = await import('mongodb');
  const c = new MongoClient(`mongodb://${svc.mongodb}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  await c.db(db).dropDatabase();
  await c.close();
} catch {
  // best effort
}
rmSync(dir, { recursive: true, force: true });
process.exit(wrong ? 1 : 0);
