// Sizes of what ships: the standalone binaries (npm run build:binary), next to tini (Debian's
// /usr/bin/tini) and wait4x (scripts/bench/ensure-wait4x.sh), as files and compressed with
// gzip -9 (what a registry layer roughly costs) and zstd -19 when zstd is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../..', import.meta.url));
const w = spawnSync('bash', [join(root, 'scripts', 'bench', 'ensure-wait4x.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const files = [
  ['dist/pulp-entrypoint-linux-x64 (Bun)', join(root, 'dist', 'pulp-entrypoint-linux-x64')],
  ['dist/pulp-entrypoint-linux-arm64 (Bun)', join(root, 'dist', 'pulp-entrypoint-linux-arm64')],
  ['tini (Debian, dynamic)', '/usr/bin/tini'],
  ['tini-static (Debian)', '/usr/bin/tini-static'],
  ['wait4x v2.14.3 (Go, -s -w)', w.stdout.trim().split('\n').pop() ?? ''],
];
const mb = (n) => (n < 1e6 ? `${(n / 1e3).toFixed(0)} kB` : `${(n / 1e6).toFixed(1)} MB`);
const zstd = (file) => {
  const r = spawnSync('zstd', ['-19', '-q', '-c', file], { maxBuffer: 1 << 30 });
  return r.status === 0 ? mb(r.stdout.length) : 'n/a (no zstd)';
};
console.log('| file | size | gzip -9 | zstd -19 |');
console.log('|---|---|---|---|');
for (const [name, file] of files) {
  if (!file || !existsSync(file)) {
    console.log(`| ${name} | n/a (missing) | | |`);
    continue;
  }
  console.log(`| ${name} | ${mb(statSync(file).size)} | ${mb(gzipSync(readFileSync(file), { level: 9 }).length)} | ${zstd(file)} |`);
}
