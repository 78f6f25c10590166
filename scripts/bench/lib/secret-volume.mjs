// A Secret volume as the kubelet's atomic writer makes and updates it, in plain JS for the
// benches (test/helpers/secret-volume.ts is the tests' own): the files in a timestamped
// directory, `..data` a link to it, each visible name a link through `..data`; an update
// writes a new timestamped copy, swaps `..data` to it by a rename, adds and removes the
// visible links, then removes the old copy.
import { chmodSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let copies = 0;
// "..2026_12_07_03_00_00.000000001": the writer's format; the counter keeps names unique.
const stamp = () => `..${new Date().toISOString().slice(0, 19).replace(/[-T:]/g, '_')}.${String(++copies).padStart(9, '0')}`;

function writeCopy(dir, files, mode) {
  const name = stamp();
  mkdirSync(join(dir, name), { mode: 0o755 });
  for (const [file, content] of Object.entries(files)) {
    writeFileSync(join(dir, name, file), content);
    chmodSync(join(dir, name, file), mode);
  }
  return name;
}

/** Makes `dir` (which must not exist) a Secret volume holding `files`. */
export function secretVolume(dir, files, mode = 0o400) {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o1777);
  symlinkSync(writeCopy(dir, files, mode), join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
  return dir;
}

/** The kubelet's update of the volume to `files`; returns once `..data` names the new copy and the old is gone. */
export function updateSecretVolume(dir, files, mode = 0o400) {
  const old = readlinkSync(join(dir, '..data'));
  symlinkSync(writeCopy(dir, files, mode), join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  const visible = readdirSync(dir).filter((n) => !n.startsWith('..'));
  for (const name of Object.keys(files)) if (!visible.includes(name)) symlinkSync(join('..data', name), join(dir, name));
  for (const name of visible) if (!(name in files)) unlinkSync(join(dir, name));
  rmSync(join(dir, old), { recursive: true });
}
