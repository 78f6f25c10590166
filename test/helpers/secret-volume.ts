// A directory exactly as the kubelet's atomic writer makes a Secret volume, for the tests of
// what reads one (the keys, the NAME_FILE credentials): the real files in a timestamped
// directory, `..data` a link to it, each visible name a link through `..data`, all root's (when
// the test runs as root), with the volume's defaultMode.
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot } from './unavailable.ts';

/** Makes `dir` (which must not exist) a Secret volume holding `files`; returns `dir`. */
export function secretVolume(dir: string, files: Record<string, string | Buffer>, mode = 0o400): string {
  const stamp = '..2026_12_03_08_00_00.123456789';
  mkdirSync(join(dir, stamp), { recursive: true });
  chmodSync(dir, 0o1777);
  chmodSync(join(dir, stamp), 0o755);
  for (const [name, content] of Object.entries(files)) {
    const real = join(dir, stamp, name);
    writeFileSync(real, content);
    chmodSync(real, mode);
    if (isRoot) chownSync(real, 0, 0);
  }
  symlinkSync(stamp, join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
  return dir;
}

/** Keys 0, 1, ... as a Secret volume: Keystone's fernet or credential keys mounted. */
export function keyVolume(dir: string, keys: readonly string[]): string {
  return secretVolume(dir, Object.fromEntries(keys.map((k, i) => [String(i), k])));
}
