// Keystone's fernet and credential key repositories on disk: reading a key set from a mounted
// Kubernetes Secret (one version of it, never a mix) or a repository, and installing one where
// Keystone reads it (0700 directory, 0600 files, the keystone user's), crash-safely, in an
// order that never leaves out a key either set needs, and without following planted links.
// Every replica must hold the same keys, so they come from one Secret; Keystone's own
// fernet_setup in each pod would give each its own. What a key set is: key-set.ts.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readRegularFile } from '../common/bounded-read.ts';
import { ConfFileError, InputError, UnavailableError, fileErrorReason } from '../common/errors.ts';
import { type Deadline, type Time, realTime, retryUntil } from '../common/retry.ts';
import { KEYSTONE_READS_AS_KEY, MAX_KEY_FILE, type KeySet, byNumber, checkKeySet, keySetFromFiles } from './key-set.ts';

/** The kubelet's link to the current copy of a Secret volume's files, swapped atomically on an update. */
const SECRET_DATA = '..data';

/**
 * The directory to read a consistent set from: for a kubelet Secret (or ConfigMap) volume, the
 * timestamped copy `..data` points at, which the kubelet writes whole before it swaps the
 * link (the visible names are links through `..data`, re-made one by one after the swap: read
 * through them, a set could mix two versions or miss a name); for any other directory, itself.
 */
function snapshotOf(dir: string): string {
  try {
    if (!lstatSync(join(dir, SECRET_DATA)).isSymbolicLink()) return dir;
  } catch {
    return dir;
  }
  return resolve(dir, readlinkSync(join(dir, SECRET_DATA)));
}

/** One attempt at reading the set in `snapshot`; a vanished file says the kubelet swapped it. */
function readSnapshot(snapshot: string, where: string): KeySet {
  return keySetFromFiles(readdirSync(snapshot), (name) => {
    try {
      return readRegularFile(join(snapshot, name), MAX_KEY_FILE + 1);
    } catch (err) {
      // A FIFO or a directory under a key's name is the operator's mistake, not the disk's.
      if ((err as { code?: unknown }).code === 'ENOTREG') throw new InputError(`${where}: file ${name} is ${fileErrorReason(err)}`);
      throw err;
    }
  }, where);
}

/**
 * Reads the keys in `dir` (a mounted Secret, or a repository): entries whose name is a
 * non-negative decimal integer without leading zeros; other entries (..data, dotfiles, other
 * names) ignored; a name Keystone would also read as a key ("01") refused. A kubelet volume is
 * read from the copy its `..data` link points at, so the set is one version of the Secret,
 * never a mix; when the kubelet replaces that copy during the read, it is read again. Each
 * file a regular file of at most 4 KiB, read bounded. At least 2 keys, one of them 0.
 * `variable` names the setting in messages: "KEYSTONE_FERNET_KEYS=/run/secrets/fernet: file 1
 * is not a Fernet key (...)". Missing or unreadable dir -> ConfFileError; too few keys or a
 * bad one -> InputError.
 */
export function readKeySet(dir: string, variable: string): KeySet {
  const where = `${variable}=${dir}`;
  try {
    if (!statSync(dir).isDirectory()) throw new ConfFileError(`${where}: not a directory (mount the key Secret as a directory of files 0, 1, ...)`);
  } catch (err) {
    if (err instanceof ConfFileError) throw err;
    throw new ConfFileError(`${where}: cannot read the key directory: ${fileErrorReason(err)}`);
  }
  for (let attempt = 1; ; attempt++) {
    const snapshot = snapshotOf(dir);
    try {
      return readSnapshot(snapshot, where);
    } catch (err) {
      if (err instanceof InputError || err instanceof ConfFileError) throw err;
      // The kubelet removes the old copy right after the swap: read the new one.
      if (snapshot !== dir && (err as { code?: unknown }).code === 'ENOENT' && attempt < 5) continue;
      throw new ConfFileError(`${where}: cannot read the key directory: ${fileErrorReason(err)}`);
    }
  }
}

/** What installKeySet did. */
export interface InstallResult {
  dir: string;
  /** Whether any key file was written or removed (mode and owner fixes do not count). */
  changed: boolean;
  /** The names written (new or changed keys), highest first, as they were written. */
  written: string[];
  /** The names removed: rotated-out keys, and names Keystone would also read as keys. */
  removed: string[];
}

interface KeyOwner {
  uid: number | undefined;
  gid: number | undefined;
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown }).code;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Creates the missing parents of `dir` readable by all (0755, whatever the umask): Keystone
 * runs as its own user and must traverse them; a root-only 0700 parent would lock it out.
 */
function makeParents(dir: string): void {
  // Absolute, so the walk up stops at what mkdir made (it answers with an absolute path).
  const parent = dirname(resolve(dir));
  const first = mkdirSync(parent, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  for (let p = parent; ; p = dirname(p)) {
    const st = lstatSync(p);
    if (st.isDirectory() && (st.mode & 0o7777) !== 0o755) fchmodPath(p, 0o755);
    if (p === first || dirname(p) === p) break;
  }
}

function fchmodPath(path: string, mode: number): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/** Sets mode and owner through `fd` (never a path, which could be swapped for a link), only where they differ. */
function fixMeta(fd: number, st: Stats, mode: number, owner: KeyOwner): void {
  if ((st.mode & 0o7777) !== mode) fchmodSync(fd, mode);
  const uid = owner.uid ?? st.uid;
  const gid = owner.gid ?? st.gid;
  if (uid !== st.uid || gid !== st.gid) fchownSync(fd, uid, gid);
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/**
 * The temporary files' directory, made fresh in the repository for each install (mkdtemp:
 * 0700, ours, never a planted name). Not a file beside the keys: Keystone's _get_key_files
 * opens every regular file it lists before it looks at the name, so a temporary file renamed
 * away between its listdir and its open fails that token operation (FileNotFoundError, a
 * 500); a directory it skips.
 */
const TEMP_DIR_PREFIX = '.keystone-entrypoint-';
const TEMP_DIR = /^\.keystone-entrypoint-[A-Za-z0-9]{6}$/;

/** The temporary file of earlier versions, a dot file beside the keys; removed when stale. */
const OLD_TEMP = /^\.key-(?:0|[1-9][0-9]*)\.[0-9a-f]{12}\.tmp$/;

/** A temporary entry older than this was left by a run that died: live writes take milliseconds. */
const STALE_TEMP_MS = 60_000;

/** Removes what a killed run left: old temporary files, and temporary directories with the regular files in them. */
function removeStaleTemps(dir: string, entries: readonly string[]): void {
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const entry of entries) {
    const path = join(dir, entry);
    try {
      const st = lstatSync(path);
      if (st.mtimeMs >= cutoff) continue;
      if (OLD_TEMP.test(entry) && st.isFile()) unlinkSync(path);
      if (TEMP_DIR.test(entry) && st.isDirectory()) {
        for (const f of readdirSync(path)) if (lstatSync(join(path, f)).isFile()) unlinkSync(join(path, f));
        rmdirSync(path);
      }
    } catch {
      // Gone already (its writer finished), or not ours to empty: left alone.
    }
  }
}

/**
 * Whether `path` already holds `key` as a plain regular file (one link, not a symlink); if so
 * its mode and owner are fixed and it is kept, else it must be replaced. Opened with
 * O_NOFOLLOW and checked again on the descriptor: a link planted after lstat is never followed,
 * and a hard link to another file (its nlink > 1) is never chmod-ed or chown-ed.
 */
function keepIfSame(path: string, key: string, owner: KeyOwner): boolean {
  const before = lstatOrUndefined(path);
  if (!before?.isFile() || before.nlink !== 1 || before.size > MAX_KEY_FILE) return false;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1 || st.ino !== before.ino || st.dev !== before.dev) return false;
    const buf = Buffer.alloc(MAX_KEY_FILE + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    const text = buf.subarray(0, n).toString('latin1');
    if (text !== key && text !== `${key}\n` && text !== `${key}\r\n`) return false;
    fixMeta(fd, st, 0o600, owner);
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Writes `key` as `dir/name`: a file in `tmpDir` (0600 from its creation), fsync, owner, rename over. */
function writeKey(dir: string, tmpDir: string, name: string, key: string, owner: KeyOwner): void {
  const tmp = join(tmpDir, name);
  // O_EXCL with O_NOFOLLOW: nothing under that name is written through (the directory is ours).
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeAll(fd, Buffer.from(key, 'latin1'));
      fixMeta(fd, fstatSync(fd), 0o600, owner);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // rename replaces a symlink or a hard link under that name, never what it points to.
    renameSync(tmp, join(dir, name));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Renamed already, or never made.
    }
    throw err;
  }
}

/**
 * Makes `dir` hold exactly `keys`: created (missing parents 0755) if missing; the directory
 * 0700, each file 0600, owned by uid/gid when given (undefined: ownership left alone, as for an
 * agent that is not root). Each file written crash-safely (a temporary directory's file, fsync, rename),
 * the highest number first; numbered files not in `keys` removed after; other entries left alone; a file already holding its
 * key (with or without a newline) is not rewritten, only its mode and owner fixed. Refuses
 * (ConfFileError) a `dir` that is a symlink (one planted to point into /etc would otherwise get
 * root's chmod and chown) or not a directory.
 */
export function installKeySet(dir: string, keys: KeySet, owner: { uid: number | undefined; gid: number | undefined }): InstallResult {
  const where = `key repository ${dir}`;
  checkKeySet(keys, where);
  if (keys.files.length === 0) throw new InputError(`${where}: no keys to install`);
  function fail(doing: string, err: unknown): never {
    if (err instanceof ConfFileError || err instanceof InputError) throw err;
    throw new ConfFileError(`${where}: cannot ${doing}: ${fileErrorReason(err)}`);
  }

  let changed = false;
  let st: Stats | undefined;
  try {
    st = lstatOrUndefined(dir);
  } catch (err) {
    fail('look at it', err);
  }
  if (st === undefined) {
    try {
      makeParents(dir);
      mkdirSync(dir, { mode: 0o700 });
      changed = true;
    } catch (err) {
      // Another container sharing the volume may have made it meanwhile: checked below.
      if (codeOf(err) !== 'EEXIST') fail('create it', err);
    }
  } else if (st.isSymbolicLink()) {
    throw new ConfFileError(`${where}: is a symbolic link; refusing to follow it (point the setting at the real directory)`);
  } else if (!st.isDirectory()) {
    throw new ConfFileError(`${where}: exists and is not a directory`);
  }

  let dirFd: number | undefined;
  try {
    // O_NOFOLLOW | O_DIRECTORY: what is opened is the directory lstat saw, not a link swapped in.
    dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    if (codeOf(err) === 'ELOOP') throw new ConfFileError(`${where}: is a symbolic link; refusing to follow it (point the setting at the real directory)`);
    if (codeOf(err) === 'ENOTDIR') throw new ConfFileError(`${where}: exists and is not a directory`);
    fail('open it', err);
  }
  if (dirFd === undefined) throw new ConfFileError(`${where}: cannot open it`);
  const removed: string[] = [];
  const written: string[] = [];
  try {
    try {
      fixMeta(dirFd, fstatSync(dirFd), 0o700, owner);
    } catch (err) {
      fail('set its mode and owner', err);
    }

    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch (err) {
      fail('list it', err);
    }
    // A directory under a key's name: Keystone skips it, but this module's readers refuse it
    // and a rename cannot replace it; refused before anything is written, not half-way through.
    for (const entry of entries) {
      if (!KEYSTONE_READS_AS_KEY.test(entry)) continue;
      let isDir = false;
      try {
        isDir = lstatSync(join(dir, entry)).isDirectory();
      } catch {
        // Gone meanwhile: nothing to refuse.
      }
      if (isDir) throw new ConfFileError(`${where}: holds a directory named ${entry}, where only a key file can be; remove it`);
    }

    removeStaleTemps(dir, entries);

    // Highest number first, then removals: at every instant the repository holds every key of
    // the old set and of the new one that a token may carry. A rotation turns the old staged
    // key 0 into the new primary N+1 and puts a new key at 0: written in numeric order, 0
    // would be replaced before N+1 exists, and for that moment tokens the other replicas
    // already sign with N+1 would not validate here.
    let tmpDir: string | undefined;
    try {
      for (const { name, key } of [...keys.files].sort((a, b) => byNumber(b.name, a.name))) {
        try {
          if (keepIfSame(join(dir, name), key, owner)) continue;
          tmpDir ??= mkdtempSync(join(dir, TEMP_DIR_PREFIX));
          writeKey(dir, tmpDir, name, key, owner);
          written.push(name);
          changed = true;
        } catch (err) {
          fail(`write file ${name}`, err);
        }
      }
    } finally {
      if (tmpDir !== undefined) {
        try {
          rmdirSync(tmpDir);
        } catch {
          // Not empty after a failed write: a later install removes it once stale.
        }
      }
    }

    const wanted = new Set(keys.files.map((f) => f.name));
    for (const entry of entries.sort()) {
      if (wanted.has(entry) || !KEYSTONE_READS_AS_KEY.test(entry)) continue;
      try {
        // unlink removes a symlink itself, never its target.
        unlinkSync(join(dir, entry));
        removed.push(entry);
        changed = true;
      } catch (err) {
        if (codeOf(err) !== 'ENOENT') fail(`remove file ${entry}`, err);
      }
    }

    if (changed) {
      try {
        fsyncSync(dirFd);
      } catch {
        // Some file systems refuse fsync on a directory; each rename is still atomic.
      }
    }
  } finally {
    closeSync(dirFd);
  }
  return { dir, changed, written, removed };
}

/** Whether `dir` already holds a usable key set (a restarted container keeps the keys it generated). */
export function hasKeySet(dir: string): boolean {
  try {
    readKeySet(dir, 'key repository');
    return true;
  } catch (err) {
    if (err instanceof InputError || err instanceof ConfFileError) return false;
    throw err;
  }
}

/** The set in `dir`, when Keystone can use it as the run-as user; else why not (thrown). */
function readyKeySet(dir: string, uid: number | undefined): KeySet {
  const st = statSync(dir);
  const keys = readKeySet(dir, 'key repository');
  if ((st.mode & 0o007) !== 0) throw new Error(`it is open to every user (mode ${(st.mode & 0o777).toString(8)}); Keystone's repositories are 0700`);
  if (uid !== undefined && st.uid !== uid) throw new Error(`it belongs to uid ${st.uid}, not to uid ${uid}, which Keystone runs as`);
  return keys;
}

/**
 * Waits until `dir`, which another container keeps (`keptBy` names the setting that says so),
 * holds a complete key set the run-as user owns and others cannot read (checked every 200 ms,
 * on the one retry loop), and gives that set. The agent never writes it. UnavailableError (69)
 * at the deadline, with the last reason.
 */
export function awaitKeySet(dir: string, uid: number | undefined, keptBy: string, deadline: Deadline, time: Time = realTime): Promise<KeySet> {
  return retryUntil<KeySet, string>({
    deadline,
    attempt: async () => readyKeySet(dir, uid),
    failure: (err) => (err instanceof Error ? err.message.replace(/^key repository=\S+: /, '') : String(err)),
    pauseMs: () => 200,
    onRetry: () => undefined,
    expired: (why) => new UnavailableError(`key repository ${dir} is not ready (${why}); ${keptBy} says the sync-keys sidecar keeps it: see that container's log (kubectl logs POD -c keys)`),
    time,
  });
}
