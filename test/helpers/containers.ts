// What the container tests share: test/containers/setup.sh (packages, podman's configuration,
// the Debian base image, the images' inputs), run once per test file, its exports as a record.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './cli.ts';
import { unavailable } from './unavailable.ts';

/** setup.sh's exports, or undefined after failing (CI=true) or skipping loudly, naming `what`. */
export function containerSetup(t: Test, what: string): Record<string, string> | undefined {
  const r = spawnSync('bash', [join(ROOT, 'test', 'containers', 'setup.sh')], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) {
    unavailable(t, `${what}: test/containers/setup.sh failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}; run it as root`);
    return undefined;
  }
  return shellExports(r.stdout);
}

/** The `export NAME=value` lines a set-up script prints, as a record. */
export function shellExports(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of stdout.matchAll(/^export ([A-Z0-9_]+)=(.*)$/gm)) env[m[1] as string] = m[2] as string;
  return env;
}
