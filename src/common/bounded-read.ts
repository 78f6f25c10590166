// Reading a file that someone else names (a NAME_FILE secret, server.conf) without trusting
// it: only a regular file, never more than asked for, never waiting. readFileSync would read
// /dev/zero until memory runs out, a 1.5 GB file whole before any size check, and wait
// forever on a FIFO nobody writes (as PID 1, deaf to SIGTERM while it waits).
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

/** What a non-regular file is, for the one-line refusal. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'an unknown kind of file';
}

/** Thrown for anything but a regular file; `code` lets fileErrorReason() word it. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly kind: string) {
    super(`${kind}, not a regular file`);
  }
}

/**
 * At most `maxBytes` of the regular file at `path`, symbolic links followed (as a Kubernetes
 * Secret volume needs). The path is looked at before it is opened, so a device is not opened
 * at all (opening some has effects); the open is non-blocking, and fstat on the open file
 * checks again what was opened.
 */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  const before = statSync(path);
  if (!before.isFile()) throw new NotRegularFileError(fileKind(before));
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(fileKind(st));
    // Sized by st.size, but bounded by maxBytes only: a file may grow between fstat and read.
    const chunks: Buffer[] = [];
    let n = 0;
    while (n < maxBytes) {
      const want = Math.min(maxBytes - n, Math.max(st.size - n + 1, 64 * 1024));
      const buf = Buffer.allocUnsafe(want);
      const r = readSync(fd, buf, 0, want, null);
      if (r === 0) break;
      chunks.push(buf.subarray(0, r));
      n += r;
    }
    return Buffer.concat(chunks, n);
  } finally {
    closeSync(fd);
  }
}
