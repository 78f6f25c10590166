// The wait's figures:
// - readiness lag: time from a dependency starting to listen until waitForTargets returns.
//   The dependency "starts" as an in-process TCP relay to the real FerretDB / RabbitMQ
//   (test/services/start.sh) that calls listen() at a known instant, so the lag is exact.
// - attempts per minute during an outage: from the backoff schedule (exact bounds) and
//   measured against a closed port for a few seconds, extrapolated to a minute.
// - `pulp-entrypoint wait` with both ready as a whole process, next to `node -e 0`.
// - one broker probe in process (drivers loaded): the AMQP 0-9-1 open (amqplib) against RabbitMQ
//   without plugins, the AMQP 1.0 open (rhea) against Qpid Broker-J and against RabbitMQ.
// The source is bundled with esbuild into node_modules/.cache (so the drivers resolve from
// the repo's node_modules); dist/ holds only the CLI.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { freePort, hostPort, services } from './lib/servers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const trials = Number(process.env.BENCH_TRIALS ?? 10);
const outageMs = Number(process.env.BENCH_OUTAGE_MS ?? 5000);

const out = join(root, 'node_modules/.cache/pulp-entrypoint-bench');
mkdirSync(out, { recursive: true });
await build({
  stdin: {
    contents: [
      `export { waitForTargets } from ${JSON.stringify(join(root, 'src/wait/wait.ts'))};`,
      `export { probeTarget } from ${JSON.stringify(join(root, 'src/wait/probe.ts'))};`,
      `export { attemptsPerMinuteAtCap, DEFAULT_BACKOFF, ATTEMPT_TIMEOUT_MS } from ${JSON.stringify(join(root, 'src/wait/backoff.ts'))};`,
      `export { createLogger, silentLogger } from ${JSON.stringify(join(root, 'src/common/log.ts'))};`,
      `export { deadlineIn } from ${JSON.stringify(join(root, 'src/common/retry.ts'))};`,
    ].join('\n'),
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outfile: join(out, 'wait.mjs'),
  logLevel: 'warning',
});
const w = await import(pathToFileURL(join(out, 'wait.mjs')).href);

const split = (a) => {
  const [host, port] = hostPort(a);
  return { host, port: Number(port) };
};
const mongoTarget = (address) => ({
  kind: 'mongodb', address, seeds: [split(address)], database: 'pulp_database', username: undefined, password: undefined,
  replicaSet: undefined, tls: false, tlsVerify: true, caFile: undefined, certFile: undefined, keyFile: undefined,
});
// amqp://address// by default (AMQP 0-9-1, guest/guest as kombu sends it); qpid:// for rhea.
const amqpTarget = (address, o = {}) => ({
  kind: 'amqp', address, ...split(address), protocol: 'amqp-0-9-1', scheme: 'amqp', username: undefined, password: undefined,
  vhost: undefined, tls: false, tlsVerify: 'none', caFile: undefined, certFile: undefined, keyFile: undefined, loginMethod: undefined,
  source: 'tasks.broker_url', ...o,
});
const qpid = { protocol: 'amqp-0-10', scheme: 'qpid', tlsVerify: 'chain-and-name' };

/** A relay to `upstream` that starts listening on `port` when start() is called; resolves with the instant. */
function relay(port, upstream) {
  const sockets = new Set();
  const server = net.createServer((c) => {
    const u = net.connect(upstream.port, upstream.host);
    sockets.add(c).add(u);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  return {
    start: () => new Promise((r) => server.listen(port, '127.0.0.1', () => r(performance.now()))),
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], worst: s[s.length - 1], best: s[0] };
};
const ms = (x) => (x === undefined ? 'n/a' : `${x.toFixed(0)} ms`);
const rows = [];
const svc = services();

// 1. Readiness lag.
if (svc) {
  await w.waitForTargets([mongoTarget(svc.mongodb), amqpTarget(svc.amqp)], { deadline: w.deadlineIn(20000), log: w.silentLogger }); // warm the driver imports
  const lags = { mongodb: [], amqp: [], both: [] };
  for (let i = 0; i < trials; i++) {
    const [mp, ap] = [await freePort(), await freePort()];
    const rm = relay(mp, split(svc.mongodb));
    const ra = relay(ap, split(svc.amqp));
    const t0 = performance.now();
    const waiting = w.waitForTargets([mongoTarget(`127.0.0.1:${mp}`), amqpTarget(`127.0.0.1:${ap}`)], { deadline: w.deadlineIn(30000), log: w.silentLogger });
    // Start listening at a varying point of the backoff cycle.
    await new Promise((r) => setTimeout(r, 600 + Math.random() * 900));
    const [listenM, listenA] = await Promise.all([rm.start(), ra.start()]);
    const results = await waiting;
    const done = performance.now();
    lags.mongodb.push(t0 + results[0].elapsedMs - listenM);
    lags.amqp.push(t0 + results[1].elapsedMs - listenA);
    lags.both.push(done - Math.min(listenM, listenA));
    await Promise.all([rm.stop(), ra.stop()]);
  }
  for (const k of ['mongodb', 'amqp', 'both']) {
    const s = stats(lags[k]);
    rows.push([`readiness lag, ${k} (${trials} trials)`, `median ${ms(s.median)}, worst ${ms(s.worst)}`, 'goal < 500 ms']);
  }
} else {
  rows.push(['readiness lag', 'n/a (no test servers: run test/services/start.sh)', '']);
}

// 2. Attempts per minute during an outage.
{
  const port = await freePort();
  let attempts = 0;
  const log = { ...w.silentLogger, info: (_m, f) => void (f?.attempt !== undefined && attempts++), error: () => {}, warn: () => {}, trace: () => {}, traceEnabled: false };
  const started = performance.now();
  await w.waitForTargets([mongoTarget(`127.0.0.1:${port}`)], { deadline: w.deadlineIn(outageMs), log }).catch(() => {});
  const elapsed = performance.now() - started;
  const perMin = (attempts * 60000) / elapsed;
  const bound = w.attemptsPerMinuteAtCap(1);
  rows.push([
    `attempts/min per dependency, outage (measured ${(outageMs / 1000).toFixed(0)} s, x${(60000 / elapsed).toFixed(1)})`,
    `${perMin.toFixed(0)}`,
    `schedule at the cap: ${bound.min.toFixed(0)}..${bound.max.toFixed(0)} (mean ${bound.mean.toFixed(0)}), original: 12/min`,
  ]);
}

// 3. The whole process.
{
  const bin = join(root, 'bin/pulp-entrypoint');
  const runs = Number(process.env.BENCH_RUNS ?? 10);
  const time = (args, env) => {
    const xs = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
      if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').pop() };
      xs.push(performance.now() - t0);
    }
    return stats(xs);
  };
  const node = time(['-e', '0'], process.env);
  rows.push([`node -e 0 (median of ${runs})`, ms(node.median), '']);
  if (svc) {
    const m = split(svc.mongodb);
    const a = split(svc.amqp);
    const confDir = join(out, 'etc');
    mkdirSync(confDir, { recursive: true });
    const env = {
      PATH: process.env.PATH,
      PULP_SERVER_CONF_TEMPLATE: join(root, 'src/pulp/default-server.conf'),
      PULP_SERVER_CONF: join(confDir, 'server.conf'),
      DB_SERVICE_HOST: m.host,
      DB_SERVICE_PORT: String(m.port),
      MSG_SERVICE_HOST: a.host,
      MSG_SERVICE_PORT: String(a.port),
      PULP_BROKER_SCHEME: 'amqp',
    };
    const wait = time([bin, 'wait', '--timeout', '10'], env);
    rows.push([
      `pulp-entrypoint wait, both ready (median of ${runs})`,
      wait.error ? `n/a (${wait.error})` : `${ms(wait.median)} (+${(wait.median - node.median).toFixed(0)} ms over node -e 0)`,
      'goal: within 60 ms of node -e 0',
    ]);
  }
}

// 4. One broker probe, in process, drivers already loaded.
if (svc) {
  const n = Number(process.env.BENCH_PROBES ?? 30);
  const cases = [
    ['AMQP 0-9-1 open (amqplib), RabbitMQ without plugins', svc.amqp091 && amqpTarget(svc.amqp091)],
    ['AMQP 1.0 open (rhea), Qpid Broker-J, PLAIN', svc.qpid && amqpTarget(svc.qpid, { ...qpid, username: svc.qpidUser, password: svc.qpidPassword })],
    ['AMQP 0-9-1 open (amqplib), RabbitMQ with the AMQP 1.0 plugin', amqpTarget(svc.amqp)],
  ];
  for (const [name, target] of cases) {
    if (!target) {
      rows.push([`broker probe: ${name}`, 'n/a (not started: run test/services/start.sh)', '']);
      continue;
    }
    const xs = [];
    for (let i = 0; i < n + 3; i++) {
      const t0 = performance.now();
      await w.probeTarget(target, { timeoutMs: 5000 });
      if (i >= 3) xs.push(performance.now() - t0);
    }
    const st = stats(xs);
    rows.push([`broker probe: ${name} (median of ${n})`, `${st.median.toFixed(1)} ms, best ${st.best.toFixed(1)}, worst ${st.worst.toFixed(1)}`, 'connect, handshake, clean close']);
  }
}

const width = Math.max(...rows.map((r) => r[0].length));
for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value}${note ? `   (${note})` : ''}`);
process.exit(0);
