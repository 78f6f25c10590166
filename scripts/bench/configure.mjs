// configure as a whole process on a Pulp-size server.conf, next to what the original did:
// four augtool calls (lens autoload) making the same edits. Median of N runs each.
// Also: preview, --version and `node -e 0` for scale, and the in-process cost of the pure
// plan (parse, edits, print, diff) on the same file.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 15);
const work = mkdtempSync(join(tmpdir(), 'pe-bench-conf-'));
const conf = join(work, 'etc/pulp/server.conf');
mkdirSync(join(work, 'etc/pulp'), { recursive: true });
const pristine = join(root, 'src/pulp/default-server.conf');

const env = {
  PATH: process.env.PATH,
  PULP_SERVER_CONF: conf,
  PULP_SERVER_NAME: 'pulp.example.org',
  DB_SERVICE_HOST: '10.0.0.5',
  DB_SERVICE_PORT: '27017',
  MSG_SERVICE_HOST: '10.0.0.6',
  MSG_SERVICE_PORT: '5672',
};

function time(fn) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    copyFileSync(pristine, conf);
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples[samples.length - 1] };
}

function must(r, what) {
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr}`);
}

const rows = [];
const bin = join(root, 'bin/pulp-entrypoint');
rows.push(['node -e 0', time(() => must(spawnSync(process.execPath, ['-e', '0']), 'node'))]);
rows.push(['pulp-entrypoint --version', time(() => must(spawnSync(process.execPath, [bin, '--version']), 'version'))]);
rows.push(['pulp-entrypoint configure', time(() => must(spawnSync(process.execPath, [bin, 'configure'], { env }), 'configure'))]);
rows.push(['pulp-entrypoint preview beat --json', time(() => must(spawnSync(process.execPath, [bin, 'preview', 'beat', '--json'], { env }), 'preview'))]);

const augtool = spawnSync('augtool', ['--version']).status === 0;
if (augtool) {
  const lens = join(root, 'test/ini/augtool');
  const edits = [
    ['server', 'server_name', env.PULP_SERVER_NAME],
    ['database', 'seeds', `${env.DB_SERVICE_HOST}:${env.DB_SERVICE_PORT}`],
    ['messaging', 'url', `tcp://${env.MSG_SERVICE_HOST}:${env.MSG_SERVICE_PORT}`],
    ['tasks', 'broker_url', `qpid://guest@${env.MSG_SERVICE_HOST}:${env.MSG_SERVICE_PORT}`],
  ];
  rows.push([
    'original: 4 x augtool (lens autoload)',
    time(() => {
      for (const [s, k, v] of edits) {
        must(spawnSync('augtool', ['-r', work, '-I', lens, '-s', 'set', `/files/etc/pulp/server.conf/target[. = '${s}']/${k}`, v]), 'augtool');
      }
    }),
  ]);
} else {
  rows.push(['original: 4 x augtool', null]);
}

const w = Math.max(...rows.map((r) => r[0].length));
console.log(`whole processes, ${runs} runs each, ms (median  min  max); server.conf: ${pristine} (Pulp-shaped, 4 edits)`);
for (const [name, r] of rows) {
  console.log(r ? `${name.padEnd(w)}  ${r.median.toFixed(1).padStart(7)}  ${r.min.toFixed(1).padStart(7)}  ${r.max.toFixed(1).padStart(7)}` : `${name.padEnd(w)}  n/a (augtool not installed: apt-get install augeas-tools)`);
}
const conf_ = rows.find((r) => r[0] === 'pulp-entrypoint configure')?.[1];
const aug = rows.find((r) => r[0].startsWith('original'))?.[1];
if (conf_ && aug) console.log(`configure is ${(aug.median / conf_.median).toFixed(1)}x faster than the augtool pipeline (goal: 10x)`);
