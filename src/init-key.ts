// What makes an init "the same one" again. pulp-manage-db is idempotent, so re-running it is
// safe but slow; skipping it is right exactly when the code that would run is the code that
// already ran. By default that is the init program itself: its resolved path, size and
// modification time change whenever an image installs another Pulp (RPM builds stamp them).
// PULP_INIT_KEY replaces this with anything the operator prefers (an image tag, a version).
import { statSync } from 'node:fs';
import { resolveOnPath } from './exec/path.ts';
import type { RoleSpec } from './roles.ts';

export function defaultInitKey(spec: RoleSpec, PATH: string | undefined): string {
  const name = spec.init?.argv[0] ?? 'pulp-manage-db';
  const file = resolveOnPath(name, PATH);
  if (file === undefined) return `${name} (not found)`;
  try {
    const st = statSync(file);
    return `${file} size=${st.size} mtime=${new Date(Math.floor(st.mtimeMs)).toISOString()}`;
  } catch {
    return file;
  }
}
