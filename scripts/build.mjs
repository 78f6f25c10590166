// Bundles src/ into dist/main.mjs. Drivers (mongodb, rhea) stay external and
// are reached only through dynamic import(), so configure/preview never load them.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  define: {
    PULP_ENTRYPOINT_VERSION: JSON.stringify(pkg.version),
    PULP_EMBEDDED_SERVER_CONF: JSON.stringify(readFileSync(new URL('../src/default-server.conf', import.meta.url), 'utf8')),
  },
  logLevel: 'warning',
  legalComments: 'none',
});
