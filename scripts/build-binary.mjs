// npm run build:binary: the standalone executables, compiled with Bun (Bun.build with
// `compile`, run by scripts/compile-binary.mjs under the pinned Bun):
//   dist/pulp-entrypoint-linux-x64     x86-64, "baseline" (no AVX2 needed: older EL7 hosts)
//   dist/pulp-entrypoint-linux-arm64   aarch64
//   dist/pulp-entrypoint               a copy of the one for the machine that builds
// Each needs glibc 2.17 at most (EL7), no Node.js and no node_modules: the agent, its small
// dependencies and the drivers (mongodb, rhea, amqplib) are one bundle, stored as JavaScriptCore
// bytecode, so nothing is parsed at start and the drivers are only *evaluated* when a wait
// first needs them (dynamic import in src/dependencies/drivers.ts).
//
// Why Bun and not Node's single executable application (which this script built before):
// Node 18+ needs glibc 2.28, so a Node SEA cannot start on EL7 at all; and on this machine,
// side by side, Bun's binary started in a third of the time (--version 10 vs 31 ms) and ran
// `check` in well under half (docs/benchmarks.md).
//
// The toolchain is pinned in scripts/bun/package.json (+ lockfile), one npm package per
// target CPU, installed here with `npm ci --force` (npm refuses a package for another CPU
// otherwise) and from npm's cache when it has them (--prefer-offline). Each target is
// compiled against that package's own bun binary (executablePath), so Bun never downloads
// a runtime at build time.
//
// Environment knobs (experiments only):
//   PULP_BINARY_TARGETS=x64     build only these targets (comma list of x64, arm64)
//   PULP_BINARY_MINIFY=0        keep identifiers readable
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OPTIONAL_DRIVER_PEERS, embeddedFilesDefine } from './build-constants.mjs';
import { compareVersions, highestGlibc } from './elf-glibc.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bunDir = join(root, 'scripts', 'bun');
const out = join(root, 'dist', 'pulp-entrypoint');
const entry = join(root, 'scripts', 'binary-entry.ts');
const MAX_GLIBC = '2.17';
const JIT_POLICY = 100;

/** Target CPU (Node's process.arch) -> Bun's --target and the npm package holding that runtime. */
export const TARGETS = {
  x64: { bunTarget: 'bun-linux-x64-baseline', pkg: '@oven/bun-linux-x64-baseline' },
  arm64: { bunTarget: 'bun-linux-arm64', pkg: '@oven/bun-linux-aarch64' },
};

function log(msg) {
  process.stderr.write(`build-binary: ${msg}\n`);
}

function fail(msg) {
  log(`error: ${msg}`);
  process.exit(1);
}

const bunOf = (arch) => join(bunDir, 'node_modules', TARGETS[arch].pkg, 'bin', 'bun');

function ensureBun() {
  if (Object.keys(TARGETS).every((a) => existsSync(bunOf(a)))) return;
  log('installing Bun into scripts/bun/node_modules (npm ci --force, from the lockfile)');
  const r = spawnSync('npm', ['ci', '--force', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: bunDir, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) fail(`npm ci in scripts/bun failed (${r.status ?? r.error?.message})`);
  for (const a of Object.keys(TARGETS)) if (!existsSync(bunOf(a))) fail(`npm ci did not produce ${bunOf(a)}`);
}

function compile(hostBun, arch, file) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const define = {
    PULP_ENTRYPOINT_VERSION: JSON.stringify(pkg.version),
    PULP_EMBEDDED_FILES: embeddedFilesDefine(pathToFileURL(root + '/')),
  };
  const spec = {
    entry,
    outfile: file,
    target: TARGETS[arch].bunTarget,
    executablePath: bunOf(arch),
    define,
    // Optional peers mongodb require()s inside try/catch; absent, as in node_modules.
    external: OPTIONAL_DRIVER_PEERS,
    // The agent is short-lived (or idle while it supervises): JIT tiers would compile code that
    // runs a few times and then never again. Raising the tier-up thresholds cut `check` from
    // 58 to 46 ms of CPU here (npm run bench); 20..1000 measured alike.
    jitPolicy: JIT_POLICY,
    minify: process.env.PULP_BINARY_MINIFY !== '0',
  };
  // In a file, not an argument: the embedded default files exceed an argument's 128 KiB limit (E2BIG).
  const specFile = `${file}.spec.json`;
  writeFileSync(specFile, JSON.stringify(spec));
  const r = spawnSync(hostBun, [join(root, 'scripts', 'compile-binary.mjs'), specFile], { cwd: root, encoding: 'utf8' });
  rmSync(specFile, { force: true });
  if (r.status !== 0) fail(`bun build for ${arch} failed (${r.status ?? r.error?.message}):\n${r.stdout}${r.stderr}`);
}

async function main() {
  if (process.platform !== 'linux' || !(process.arch in TARGETS)) fail(`builds on Linux x64 or arm64 only (this is ${process.platform}/${process.arch})`);
  const started = Date.now();
  ensureBun();
  const hostBun = bunOf(process.arch);
  const bunVersion = execFileSync(hostBun, ['--version'], { encoding: 'utf8' }).trim();
  mkdirSync(dirname(out), { recursive: true });
  const wanted = (process.env.PULP_BINARY_TARGETS ?? Object.keys(TARGETS).join(',')).split(',').filter(Boolean);
  for (const arch of wanted) {
    if (!(arch in TARGETS)) fail(`PULP_BINARY_TARGETS: unknown target ${arch} (x64, arm64)`);
    const file = `${out}-linux-${arch}`;
    // Per process: test files may build at the same time; the last rename wins, same bytes.
    const tmp = `${file}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    compile(hostBun, arch, tmp);
    const glibc = highestGlibc(readFileSync(tmp));
    if (glibc === undefined || compareVersions(glibc, MAX_GLIBC) > 0) fail(`${file} needs GLIBC_${glibc}, more than ${MAX_GLIBC} (EL7)`);
    renameSync(tmp, file);
    log(`wrote ${file.slice(root.length + 1)} (${(statSync(file).size / 1e6).toFixed(1)} MB, needs GLIBC_${glibc})`);
  }
  const own = `${out}-linux-${process.arch}`;
  if (existsSync(own)) {
    copyFileSync(own, `${out}.${process.pid}.tmp`);
    renameSync(`${out}.${process.pid}.tmp`, out);
    const smoke = spawnSync(out, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    if (smoke.status !== 0) fail(`smoke test \`dist/pulp-entrypoint --version\` exited ${smoke.status}: ${smoke.stderr}`);
    log(`dist/pulp-entrypoint = ${own.slice(root.length + 1)}; --version: ${smoke.stdout.trim()}`);
  }
  log(`done with Bun ${bunVersion} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
