// A directory exactly as the kubelet's atomic writer makes a Secret volume, for the tests of
// what reads one (the keys, the NAME_FILE credentials) and for the benches (plain JS, typed by
// secret-volume.d.mts, so scripts/bench/ imports it too): the real files in a timestamped
// directory, `..data` a link to it, each visible name a link through `..data`, all root's (when
// run as root), with the volume's defaultMode.
import { chmodSync, chownSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

/** Makes `dir` (which must not exist) a Secret volume holding `files`; returns `dir`. */
export function secretVolume(dir, files, mode = 0o400) {
  const stamp = '..2026_12_03_08_00_00.123456789';
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o1777);
  writeCopy(join(dir, stamp), files, mode);
  symlinkSync(stamp, join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
  return dir;
}

/** The timestamped copy of a Secret's files, as the atomic writer makes it. */
function writeCopy(copy, files, mode) {
  mkdirSync(copy);
  chmodSync(copy, 0o755);
  for (const [name, content] of Object.entries(files)) {
    const real = join(copy, name);
    writeFileSync(real, content);
    chmodSync(real, mode);
    if (isRoot) chownSync(real, 0, 0);
  }
}

let updates = 0;

/**
 * The kubelet's update of a Secret volume made by secretVolume (its AtomicWriter, in order):
 * a new timestamped copy, `..data` swapped to it by a rename, the visible links of new names
 * made, those of names gone removed, the old copy removed.
 */
export function updateSecretVolume(dir, files, mode = 0o400) {
  const old = readlinkSync(join(dir, '..data'));
  const stamp = `..2026_12_07_03_00_00.${String(++updates).padStart(9, '0')}`;
  writeCopy(join(dir, stamp), files, mode);
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  const visible = readdirSync(dir).filter((n) => !n.startsWith('..'));
  for (const name of Object.keys(files)) if (!visible.includes(name)) symlinkSync(join('..data', name), join(dir, name));
  for (const name of visible) if (!(name in files)) unlinkSync(join(dir, name));
  rmSync(join(dir, old), { recursive: true });
}

/** Keys 0, 1, ... as a Secret volume: Keystone's fernet or credential keys mounted. */
export function keyVolume(dir, keys) {
  return secretVolume(dir, Object.fromEntries(keys.map((k, i) => [String(i), k])));
}
