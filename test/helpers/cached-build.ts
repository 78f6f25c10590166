// A test environment that a build script under test/services/ makes once and caches (the real
// Pulp 2, the real Keystone): its directory from the variable that names it, else from the
// script's `--cached` answer; undefined when it is not built.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function cachedBuild(script: string, variable: string): string | undefined {
  const given = process.env[variable];
  if (given) return existsSync(join(given, 'ready')) ? given : undefined;
  try {
    const out = execFileSync('bash', [script, '--cached'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return new RegExp(`^export ${variable}=(.+)$`, 'm').exec(out)?.[1];
  } catch {
    return undefined;
  }
}
