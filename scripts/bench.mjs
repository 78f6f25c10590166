// `npm run bench`: every benchmark under scripts/bench/, in an order that reads well, each a
// separate process printing its own table. A missing piece prints "n/a (why)" there instead
// of stopping the rest.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('./bench/', import.meta.url));
const order = ['configure.mjs', 'wait.mjs', 'check.mjs', 'run.mjs', 'startup.mjs', 'size.mjs', 'pulp2.mjs'];
const all = readdirSync(dir).filter((f) => f.endsWith('.mjs'));
const files = [...order.filter((f) => all.includes(f)), ...all.filter((f) => !order.includes(f)).sort()];
let failed = 0;
for (const f of files) {
  if (!existsSync(dir + f)) continue;
  console.log(`\n== ${f.replace(/\.mjs$/, '')} ==`);
  const r = spawnSync(process.execPath, [dir + f, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(${f} exited ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
