// server.conf after the edits, on disk: written atomically (a temporary file renamed over
// it), or in place (in-place.ts) where a rename is refused. With read.ts and in-place.ts,
// the only modules that touch the file.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ConfFileError, fileErrorReason } from '../common/errors.ts';
import { copyXattrs, readXattrs } from './xattrs.ts';
import { rewriteInPlace, writeAll } from './in-place.ts';
import { writeTargetOf } from './link-target.ts';

export type WriteResult =
  | { written: false }
  | {
      written: true;
      how: 'rename' | 'in-place';
      /** The file written: the link's target when PULP_SERVER_CONF is a symlink (the link is kept). */
      file: string;
      /** Why the write went in place instead of by rename, when it was not the rename's own refusal. */
      note?: string;
    };

/** In place: see in-place.ts. */
function writeInPlace(shown: string, file: string, data: Buffer, note?: string): WriteResult {
  rewriteInPlace(shown, file, data);
  return { written: true, how: 'in-place', file, ...(note !== undefined ? { note } : {}) };
}

/**
 * Replaces the file with `text`: a temporary file in the same directory, fsync, rename over
 * the target, fsync the directory. A crash at any moment leaves the old file or the new one,
 * whole. Mode and owner of an existing file are kept, and so are its extended attributes
 * (ACLs, SELinux label) when attr's getfattr/setfattr are installed; a new file takes the
 * template's mode. A symlink is kept and its target written. When rename cannot replace the
 * target (a single file bind-mounted into a container gives EBUSY), or the attributes cannot
 * be copied, the file is rewritten in place, which is not crash-safe; `how` says which happened.
 */
export function writeConf(path: string, text: string, current: string | undefined, modeFrom?: string): WriteResult {
  if (current === text) return { written: false };
  const data = Buffer.from(text, 'utf8');
  const file = writeTargetOf(path);
  const shown = file === path ? path : `${path} (a link to ${file})`;
  const meta = statOrUndefined(file) ?? (modeFrom ? statOrUndefined(modeFrom) : undefined);
  const attrs = current !== undefined ? readXattrs(file) : undefined;
  const dir = dirname(file);
  removeStaleTemps(dir, basename(file));
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // A read-only directory around a writable bind-mounted file: the in-place path can still work.
    if ((code === 'EROFS' || code === 'EACCES') && current !== undefined) return writeInPlace(shown, file, data);
    throw new ConfFileError(`${shown}: cannot write in ${dir}: ${fileErrorReason(err)}`);
  }
  try {
    writeAll(fd, data);
    if (meta) {
      if (process.getuid?.() === 0) fchownSync(fd, meta.uid, meta.gid);
      fchmodSync(fd, meta.mode & 0o7777);
    } else {
      fchmodSync(fd, 0o644);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    safeUnlink(tmp);
    throw new ConfFileError(`${shown}: cannot write: ${fileErrorReason(err)}`);
  }
  closeSync(fd);
  // After chmod: setting an ACL sets the group bits of the mode from it, not the other way round.
  if (attrs?.known === true && attrs.names.length > 0) {
    const failed = copyXattrs(attrs, tmp);
    if (failed !== undefined) {
      safeUnlink(tmp);
      return writeInPlace(shown, file, data, `its extended attributes (${attrs.names.join(', ')}) could not be copied to a new file (${failed})`);
    }
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    safeUnlink(tmp);
    const code = (err as { code?: unknown }).code;
    if ((code === 'EBUSY' || code === 'EXDEV') && current !== undefined) return writeInPlace(shown, file, data);
    throw new ConfFileError(`${shown}: cannot replace the file: ${fileErrorReason(err)}`);
  }
  syncDir(dir);
  return { written: true, how: 'rename', file };
}

function statOrUndefined(path: string): { mode: number; uid: number; gid: number } | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A temporary file older than this was left by a run that died: live writes take milliseconds. */
const STALE_TEMP_MS = 60_000;

/**
 * A run killed between creating its temporary file and the rename leaves one behind. Only
 * old ones are removed: a younger one may belong to another process writing the same file
 * right now (containers sharing a volume), whose rename would then fail.
 */
function removeStaleTemps(dir: string, base: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const pattern = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.[0-9a-f]{12}\\.tmp$`);
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const n of names) {
    if (!pattern.test(n)) continue;
    const file = join(dir, n);
    try {
      if (statSync(file).mtimeMs < cutoff) safeUnlink(file);
    } catch {
      // Gone already (its writer renamed it).
    }
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone; nothing else to clean.
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic.
  }
}
