// server.conf rewritten in its own inode, where a rename cannot replace it: never shorter
// before the new bytes are down, the old bytes put back on failure.
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ConfFileError, fileErrorReason } from '../common/errors.ts';

/**
 * Rewrites `file` in its own inode (a bind-mounted single file, or attributes that could not
 * be copied). Not crash-safe, but it never leaves a short file behind when the disk is full:
 * a longer text first writes its tail past the old end (reserving the space; on failure the
 * file is cut back to its old length, old bytes whole), then overwrites the old extent, which
 * needs no new space, and only then shortens a shorter text. Any failure after the first byte
 * of the old extent changed puts the old bytes back.
 */
export function rewriteInPlace(shown: string, file: string, data: Buffer): void {
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
}

export function writeAll(fd: number, data: Buffer, position?: number): void {
  let off = 0;
  while (off < data.length) {
    off += writeSync(fd, data, off, data.length - off, position === undefined ? null : position + off);
  }
}
