// The standalone binaries (npm run build:binary), rebuilt when missing or older than what they
// are made of. A few seconds with Bun installed (scripts/bun, from the npm registry once).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY, ROOT } from './cli.ts';

export const BINARIES = { x64: `${BINARY}-linux-x64`, arm64: `${BINARY}-linux-arm64` } as const;

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  for (const f of ['scripts/build-binary.mjs', 'scripts/compile-binary.mjs', 'scripts/binary-entry.ts', 'scripts/build-constants.mjs', 'scripts/bun/package-lock.json', 'package.json', 'package-lock.json']) {
    newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  }
  return newest;
}

/** Undefined when the binaries are there and current; else why they could not be built. */
export function ensureBinaries(): string | undefined {
  const files = [BINARY, BINARIES.x64, BINARIES.arm64];
  if (files.every((f) => existsSync(f)) && Math.min(...files.map((f) => statSync(f).mtimeMs)) >= newestSource()) return undefined;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-binary.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  return r.status === 0 ? undefined : `npm run build:binary failed (${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`;
}
