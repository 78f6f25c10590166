// npm run build (and npm ci, through prepare):
//   dist/main.mjs       the agent, with envalid and p-retry inlined (fewer files to resolve at start)
//   dist/drivers.cjs    mongodb, rhea and amqplib in one CommonJS chunk, loaded only by the waits and the init
//   dist/drivers.cjs.v8-*.cache  V8's code cache for that chunk, made with the Node that builds
// See src/dependencies/drivers.ts for why.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DRIVER_PACKAGES, DRIVERS_CHUNK, OPTIONAL_DRIVER_PEERS, embeddedFilesDefine } from './build-constants.mjs';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const dist = fileURLToPath(new URL('dist/', root));

await build({
  entryPoints: [fileURLToPath(new URL('src/main.ts', root))],
  outfile: `${dist}main.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The drivers come from dist/drivers.cjs (src/dependencies/drivers.ts); these imports are its fallback.
  external: DRIVER_PACKAGES,
  define: {
    PULP_ENTRYPOINT_VERSION: JSON.stringify(pkg.version),
    PULP_EMBEDDED_FILES: embeddedFilesDefine(root),
    PULP_DRIVERS_CHUNK: 'true',
  },
  logLevel: 'warning',
  legalComments: 'none',
});

await build({
  // Getters: each part is evaluated when first used (esbuild wraps every module lazily), so the
  // direct MongoDB probe (mongoProbe) does not pay for MongoClient and the rest of the driver.
  stdin: { contents: DRIVERS_CHUNK, resolveDir: fileURLToPath(root), loader: 'js' },
  outfile: `${dist}drivers.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: OPTIONAL_DRIVER_PEERS,
  logLevel: 'warning',
  legalComments: 'none',
});

for (const f of readdirSync(dist)) if (/^drivers\.cjs\..*cache$/.test(f)) rmSync(dist + f, { force: true });
const warm = spawnSync(process.execPath, ['--input-type=module', '-e', `import('${dist}main.mjs').then((m) => m.warmDriverCache())`], {
  stdio: 'inherit',
});
if (warm.status !== 0) process.stderr.write('build: could not write the drivers code cache; start-up will be slower\n');
