// server.conf on disk: read the starting text, write the result atomically. The only module
// that touches the file.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { embeddedServerConf } from './embedded.ts';
import { readRegularFile } from './bounded-read.ts';
import { CantWriteError, InputError, fileErrorReason } from './errors.ts';

export type ConfOrigin = 'file' | 'template' | 'embedded';

export interface StartingConf {
  /** The text the edits apply to. */
  text: string;
  origin: ConfOrigin;
  /** Where the text came from (the target, the template, or "(embedded default)"). */
  readFrom: string;
  /** The target's current bytes, when it exists: a write is needed only if they differ. */
  current: string | undefined;
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ENOENT';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(buf: Buffer, path: string): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new InputError(`${path}: not UTF-8 text; is this really server.conf?`);
  }
}

/** Pulp's own server.conf is about 15 KB; anything near this is not one. */
const MAX_CONF = 16 * 1024 * 1024;

/**
 * A regular file only, at most MAX_CONF + 1 bytes, never waiting: a FIFO or /dev/zero named
 * by mistake would otherwise hang the agent or fill its memory (bounded-read.ts).
 */
function readBounded(path: string, variable: string): Buffer {
  const buf = readRegularFile(path, MAX_CONF + 1);
  if (buf.length > MAX_CONF) throw new InputError(`${path} (${variable}): larger than 16 MiB; is this really server.conf?`);
  return buf;
}

function readText(path: string, variable: string): string {
  let buf: Buffer;
  try {
    buf = readBounded(path, variable);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new CantWriteError(`${path} (${variable}): cannot read: ${fileErrorReason(err)}`);
  }
  return decode(buf, path);
}

function readIfExists(path: string): string | undefined {
  let buf: Buffer;
  try {
    buf = readBounded(path, 'PULP_SERVER_CONF');
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (isMissing(err)) return undefined;
    throw new CantWriteError(`${path} (PULP_SERVER_CONF): cannot read: ${fileErrorReason(err)}`);
  }
  return decode(buf, path);
}

/**
 * The text to edit: the template when PULP_SERVER_CONF_TEMPLATE is set, else the file itself.
 * With `allowEmbedded` (preview only) a missing file falls back to the embedded default.
 */
export function readStartingConf(confPath: string, templatePath: string | undefined, allowEmbedded: boolean): StartingConf {
  const current = readIfExists(confPath);
  // A template that cannot be read is an error for preview too: showing the embedded
  // default instead would preview a run that cannot happen.
  if (templatePath !== undefined) {
    return { text: readText(templatePath, 'PULP_SERVER_CONF_TEMPLATE'), origin: 'template', readFrom: templatePath, current };
  }
  if (current !== undefined) return { text: current, origin: 'file', readFrom: confPath, current };
  if (allowEmbedded) return { text: embeddedServerConf(), origin: 'embedded', readFrom: '(embedded default)', current };
  throw new CantWriteError(
    `${confPath} does not exist: mount Pulp's server.conf there, set PULP_SERVER_CONF to where it is, ` +
      'or set PULP_SERVER_CONF_TEMPLATE to a file to start from',
  );
}

export type WriteResult = { written: false } | { written: true; how: 'rename' | 'in-place' };

/**
 * Replaces the file with `text`: a temporary file in the same directory, fsync, rename over
 * the target, fsync the directory. A crash at any moment leaves the old file or the new one,
 * whole. Mode and owner of an existing file are kept; a new file takes the template's.
 * When rename cannot replace the target (a single file bind-mounted into a container gives
 * EBUSY) the file is rewritten in place, which is not crash-safe; `how` says which happened.
 */
export function writeConf(path: string, text: string, current: string | undefined, modeFrom?: string): WriteResult {
  if (current === text) return { written: false };
  const data = Buffer.from(text, 'utf8');
  const meta = statOrUndefined(path) ?? (modeFrom ? statOrUndefined(modeFrom) : undefined);
  const dir = dirname(path);
  removeStaleTemps(dir, basename(path));
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // A read-only directory around a writable bind-mounted file: the in-place path can still work.
    if ((code === 'EROFS' || code === 'EACCES') && current !== undefined) return writeInPlace(path, data);
    throw new CantWriteError(`${path}: cannot write in ${dir}: ${fileErrorReason(err)}`);
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
    throw new CantWriteError(`${path}: cannot write: ${fileErrorReason(err)}`);
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    safeUnlink(tmp);
    const code = (err as { code?: unknown }).code;
    if ((code === 'EBUSY' || code === 'EXDEV') && current !== undefined) return writeInPlace(path, data);
    throw new CantWriteError(`${path}: cannot replace the file: ${fileErrorReason(err)}`);
  }
  syncDir(dir);
  return { written: true, how: 'rename' };
}

function writeInPlace(path: string, data: Buffer): WriteResult {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY);
  } catch (err) {
    throw new CantWriteError(`${path}: cannot write: ${fileErrorReason(err)}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    writeAll(fd, data, 0);
    ftruncateSync(fd, data.length);
    fsyncSync(fd);
  } catch (err) {
    throw new CantWriteError(`${path}: cannot write in place: ${fileErrorReason(err)}`);
  } finally {
    closeSync(fd);
  }
  return { written: true, how: 'in-place' };
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
