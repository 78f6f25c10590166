// `pulp-entrypoint check` with both dependencies up (the FerretDB and RabbitMQ of
// test/services/start.sh), whole process, paired in one run with its Go peer wait4x v2.14.3
// doing the same two protocol checks (`wait4x mongodb URL -- wait4x rabbitmq URL`: a MongoDB
// hello handshake and ping, then an AMQP 0-9-1 connection open with the user's login).
// Runs alternate between the programs, so load from elsewhere hits them alike. For each:
// wall time, CPU time (user + system) and peak RSS, from the kernel's rusage of the child
// (python3's os.wait4, which times only the child).
//
//   node scripts/bench/check.mjs          # BENCH_RUNS (default 21) runs of each
// Goal (issue 9): the binary's median wall time at most 2.0x wait4x's.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPort, services } from './lib/servers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 21);
const binary = join(root, 'dist', 'pulp-entrypoint');

// Forks and execs argv with env, waits with wait4: one JSON line per run.
const RUNNER = `
import json, os, sys, time
spec = json.loads(sys.argv[1])
for _ in range(spec['n']):
    out = []
    for argv in spec['cmds']:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            fd = os.open('/dev/null', os.O_WRONLY)
            os.dup2(fd, 1); os.dup2(fd, 2)
            os.execve(argv[0], argv, spec['env'])
        _, status, ru = os.wait4(pid, 0)
        out.append({'ms': (time.perf_counter() - t0) * 1000, 'cpu': (ru.ru_utime + ru.ru_stime) * 1000, 'kb': ru.ru_maxrss, 'code': os.waitstatus_to_exitcode(status)})
    print(json.dumps(out), flush=True)
`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main() {
  const svc = services();
  if (!svc) return console.log('check bench: n/a (no test servers: run test/services/start.sh)');
  if (!existsSync(binary)) return console.log('check bench: n/a (dist/pulp-entrypoint not built: npm run build:binary)');
  const w = spawnSync('bash', [join(root, 'scripts', 'bench', 'ensure-wait4x.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const wait4x = w.stdout.trim().split('\n').pop() ?? '';
  const [dbHost, dbPort] = hostPort(svc.mongodb);
  const [mqHost, mqPort] = hostPort(svc.amqp);
  const dir = mkdtempSync(join(tmpdir(), 'pe-bench-check-'));
  try {
    copyFileSync(join(root, 'src', 'pulp', 'default-server.conf'), join(dir, 'server.conf'));
    const env = {
      PATH: '/usr/bin:/bin',
      PULP_SERVER_CONF: join(dir, 'server.conf'),
      DB_SERVICE_HOST: dbHost,
      DB_SERVICE_PORT: dbPort,
      MSG_SERVICE_HOST: mqHost,
      MSG_SERVICE_PORT: mqPort,
      MSG_SERVICE_USER: svc.user,
      MSG_SERVICE_PASSWORD: svc.password,
      PULP_BROKER_SCHEME: 'amqp',
    };
    const cmds = [
      { name: 'dist/pulp-entrypoint check (Bun)', argv: [binary, 'check'] },
      { name: 'bin/pulp-entrypoint check (Node ' + process.versions.node + ')', argv: [process.execPath, join(root, 'bin', 'pulp-entrypoint'), 'check'] },
    ];
    if (w.status === 0 && existsSync(wait4x)) {
      const mongoUrl = `mongodb://${svc.mongodb}/?directConnection=true`;
      const amqpUrl = `amqp://${encodeURIComponent(svc.user)}:${encodeURIComponent(svc.password)}@${svc.amqp}/`;
      cmds.push({ name: 'wait4x v2.14.3 mongodb -- rabbitmq (Go)', argv: [wait4x, 'mongodb', mongoUrl, '--', wait4x, 'rabbitmq', amqpUrl] });
    }
    const r = spawnSync('python3', ['-c', RUNNER, JSON.stringify({ n: runs + 1, cmds: cmds.map((c) => c.argv), env })], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) return console.log(`check bench: n/a (python3 runner failed: ${r.stderr.trim().split('\n').pop()})`);
    // The first round warms the page cache and the servers' first connections.
    const rounds = r.stdout.trim().split('\n').slice(1).map((l) => JSON.parse(l));
    const rows = cmds.map((c, i) => {
      const xs = rounds.map((round) => round[i]);
      const failed = xs.filter((x) => x.code !== 0).length;
      return { c, ms: median(xs.map((x) => x.ms)), min: Math.min(...xs.map((x) => x.ms)), cpu: median(xs.map((x) => x.cpu)), kb: median(xs.map((x) => x.kb)), failed };
    });
    const peer = rows.find((x) => x.c.name.startsWith('wait4x'));
    console.log(`check, both dependencies up, whole process; ${runs} alternating runs each (median; min)`);
    console.log('');
    console.log('| program | wall | min | CPU | peak RSS | vs wait4x |');
    console.log('|---|---|---|---|---|---|');
    for (const x of rows) {
      const ratio = peer ? `${(x.ms / peer.ms).toFixed(2)}x` : 'n/a';
      console.log(`| ${x.c.name} | ${x.ms.toFixed(0)} ms | ${x.min.toFixed(0)} ms | ${x.cpu.toFixed(0)} ms | ${(x.kb / 1024).toFixed(1)} MiB | ${ratio}${x.failed ? ` (${x.failed} runs FAILED)` : ''} |`);
    }
    if (!peer) console.log(`| wait4x | n/a (scripts/bench/ensure-wait4x.sh failed: needs Go and the Go module proxy once) | | | | |`);
    else console.log(`\ngoal: dist/pulp-entrypoint at most 2.0x wait4x; this run: ${(rows[0].ms / peer.ms).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
