// server.conf after the edits, on disk: written atomically (a rename) or, where a rename is
// refused, in place without ever shortening the old bytes first. With read.ts, the only
// module that touches the file.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfFileError, fileErrorReason } from '../common/errors.ts';
import { copyXattrs, readXattrs } from './xattrs.ts';

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

const MAX_LINKS = 40;

/**
 * The file a write must change: `path` itself, or, when it is a symbolic link (a chain of
 * them), the file it finally points to, as augtool does. Replacing the link with a regular
 * file would leave the real file unedited and the link gone. A link leaving /etc/pulp is
 * followed too: the agent runs as root in its own container and reads the same target anyway.
 */
export function writeTargetOf(path: string): string {
  let at = path;
  for (let hops = 0; ; hops++) {
    let link: string;
    try {
      if (!lstatSync(at).isSymbolicLink()) break;
      link = readlinkSync(at);
    } catch {
      break; // missing: the write creates it there
    }
    if (hops === MAX_LINKS) throw new ConfFileError(`${path}: too many levels of symbolic links`);
    at = resolve(dirname(at), link);
  }
  // The directory as the kernel resolves it, so the temporary file is renamed within one directory.
  try {
    return join(realpathSync(dirname(at)), basename(at));
  } catch {
    return at;
  }
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

/**
 * Rewrites `file` in its own inode (a bind-mounted single file, or attributes that could not
 * be copied). Not crash-safe, but it never leaves a short file behind when the disk is full:
 * a longer text first writes its tail past the old end (reserving the space; on failure the
 * file is cut back to its old length, old bytes whole), then overwrites the old extent, which
 * needs no new space, and only then shortens a shorter text. Any failure after the first byte
 * of the old extent changed puts the old bytes back.
 */
function writeInPlace(shown: string, file: string, data: Buffer, note?: string): WriteResult {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR);
  } catch (err) {
    throw new ConfFileError(`${shown}: cannot write: ${fileErrorReason(err)}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new ConfFileError(`${shown}: cannot write in place: not a regular file`);
    const old = readFileSync(fd);
    if (data.length > old.length) {
      try {
        writeAll(fd, data.subarray(old.length), old.length);
        fsyncSync(fd);
      } catch (err) {
        let cut = true;
        try {
          ftruncateSync(fd, old.length);
          fsyncSync(fd);
        } catch {
          cut = false;
        }
        throw new ConfFileError(`${shown}: cannot write in place: ${fileErrorReason(err)}; ${cut ? 'the file is unchanged' : `its old ${old.length} bytes are whole, but bytes were added after them`}`);
      }
    }
    try {
      writeAll(fd, data.subarray(0, Math.min(old.length, data.length)), 0);
      if (data.length < old.length) ftruncateSync(fd, data.length);
      fsyncSync(fd);
    } catch (err) {
      let restored = true;
      try {
        writeAll(fd, old, 0);
        ftruncateSync(fd, old.length);
        fsyncSync(fd);
      } catch {
        restored = false;
      }
      throw new ConfFileError(
        `${shown}: cannot write in place: ${fileErrorReason(err)}; ${restored ? 'the old content was put back' : 'the file may be damaged: restore it from its source'}`,
      );
    }
  } catch (err) {
    if (err instanceof ConfFileError) throw err;
    throw new ConfFileError(`${shown}: cannot write in place: ${fileErrorReason(err)}`);
  } finally {
    closeSync(fd);
  }
  return { written: true, how: 'in-place', file, ...(note !== undefined ? { note } : {}) };
}

function writeAll(fd: number, data: Buffer, position?: number): void {
  let off = 0;
  while (off < data.length) {
    off += writeSync(fd, data, off, data.length - off, position === undefined ? null : position + off);
  }
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
