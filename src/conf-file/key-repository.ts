// Keystone's fernet and credential key repositories: reading the keys an operator mounts from a
// Kubernetes Secret, making fresh ones, and installing them where Keystone reads them (0700
// directory, 0600 files, the keystone user's), crash-safely and without following planted links.
//
// Keystone's layout (keystone/common/fernet_utils.py): a directory of files named by integers;
// the highest is the primary key (it encrypts), 0 is the staged key (the next primary, already
// accepted for decryption), the others decrypt only. Every replica must hold the same keys, so
// they come from one Secret; Keystone's own fernet_setup in each pod would give each its own.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { readRegularFile } from '../common/bounded-read.ts';
import { ConfFileError, InputError, fileErrorReason } from '../common/errors.ts';

/** What a key is, for messages (never the key itself). */
const KEY_SHAPE = '44 characters of URL-safe base64 of 32 bytes';

/** The alphabet and length of a padded 32-byte key; canonical form is checked by re-encoding. */
const KEY_FORM = /^[A-Za-z0-9_-]{43}=$/;

/** A key file is 45 bytes at most; anything near this is not one (and is not read whole). */
const MAX_KEY_FILE = 4096;

/** A key file's name as this module reads and writes them: int(filename) without surprises. */
const KEY_NAME = /^(?:0|[1-9][0-9]*)$/;

/**
 * Names that Keystone's int(filename) also accepts: "01", "-1", " 2", "1_0", "٣". Keystone
 * loads such a file as a key (and "01" collides with "1": which one wins depends on listdir's
 * order), so in a repository this module owns they are removed like any rotated-out key.
 */
const KEYSTONE_READS_AS_KEY = /^\s*[+-]?\p{Nd}+(?:_\p{Nd}+)*\s*$/u;

/** A Fernet key as Keystone reads it: URL-safe base64 of 32 bytes (44 characters with padding). */
export function isFernetKey(text: string): boolean {
  // One line ending is what an editor or `echo` adds; Python's decoder skips it too.
  const body = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!KEY_FORM.test(body)) return false;
  // Re-encoding catches a last character with non-zero spare bits: no real generator makes
  // one, so it is a typo even though Python's lenient decoder would take it.
  const bytes = Buffer.from(body, 'base64url');
  return bytes.length === 32 && `${bytes.toString('base64url')}=` === body;
}

/** 32 random bytes as Python's base64.urlsafe_b64encode gives them (Fernet.generate_key): with '=' padding, no newline. */
export function freshKey(): string {
  return `${randomBytes(32).toString('base64url')}=`;
}

export interface KeySet {
  /** Names "0", "1", ... sorted numerically; each key without its newline. */
  files: { name: string; key: string }[];
}

/** Numeric order of canonical decimal names, without converting (a name may exceed 2^53). */
function byNumber(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function withoutNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/**
 * Reads the keys in `dir` (a mounted Secret): entries whose name is a non-negative decimal
 * integer without leading zeros; other entries (..data, ..2026_..., dotfiles) ignored; symlinks
 * followed (the kubelet makes every Secret file one), each resolved file a regular file of at
 * most 4 KiB, read bounded. At least 2 keys, one of them 0. `variable` names the setting in
 * messages: "KEYSTONE_FERNET_KEYS=/run/secrets/fernet: file 1 is not a Fernet key (...)".
 * Missing or unreadable dir -> ConfFileError; too few keys or a bad one -> InputError.
 */
export function readKeySet(dir: string, variable: string): KeySet {
  const where = `${variable}=${dir}`;
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ConfFileError(`${where}: not a directory (mount the key Secret as a directory of files 0, 1, ...)`);
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof ConfFileError) throw err;
    throw new ConfFileError(`${where}: cannot read the key directory: ${fileErrorReason(err)}`);
  }
  const files: KeySet['files'] = [];
  for (const name of names.filter((n) => KEY_NAME.test(n)).sort(byNumber)) {
    let buf: Buffer;
    try {
      buf = readRegularFile(join(dir, name), MAX_KEY_FILE + 1);
    } catch (err) {
      // A FIFO or a directory under a key's name is the operator's mistake, not the disk's.
      if ((err as { code?: unknown }).code === 'ENOTREG') throw new InputError(`${where}: file ${name} is ${fileErrorReason(err)}`);
      throw new ConfFileError(`${where}: cannot read file ${name}: ${fileErrorReason(err)}`);
    }
    if (buf.length > MAX_KEY_FILE) throw new InputError(`${where}: file ${name} is larger than 4 KiB, not a Fernet key (${KEY_SHAPE})`);
    // latin1 maps every byte to one character, so any non-ASCII byte fails the check below.
    const text = buf.toString('latin1');
    if (!isFernetKey(text)) throw new InputError(`${where}: file ${name} is not a Fernet key (${KEY_SHAPE})`);
    files.push({ name, key: withoutNewline(text) });
  }
  if (files.length < 2) {
    throw new InputError(
      `${where}: ${files.length === 0 ? 'no key files' : `only file ${files[0]?.name ?? ''}`} found; Keystone needs at least 2, named 0 (the staged key) and 1 (the primary)`,
    );
  }
  // keystone-manage fernet_rotate pops key 0 and fails without it; every repository Keystone
  // makes has one, so its absence means the Secret's items were mapped wrongly.
  if (files[0]?.name !== '0') throw new InputError(`${where}: no file 0 (the staged key); Keystone's repositories always hold one (files found: ${files.map((f) => f.name).join(', ')})`);
  return { files };
}

/** Two fresh keys, 0 (staged) and 1 (primary), as fernet_setup makes. */
export function freshKeySet(): KeySet {
  return { files: [{ name: '0', key: freshKey() }, { name: '1', key: freshKey() }] };
}

/** What installKeySet did. */
export interface InstallResult {
  dir: string;
  /** Whether any key file was written or removed (mode and owner fixes do not count). */
  changed: boolean;
  /** The names removed: rotated-out keys, and names Keystone would also read as keys. */
  removed: string[];
}

interface KeyOwner {
  uid: number | undefined;
  gid: number | undefined;
}

/** A set's names and keys must be ours to write: a name is joined into a path. */
function checkKeySet(keys: KeySet, what: string): void {
  const seen = new Set<string>();
  for (const { name, key } of keys.files) {
    if (!KEY_NAME.test(name)) throw new InputError(`${what}: key file name ${JSON.stringify(name)} is not a non-negative integer without leading zeros`);
    if (seen.has(name)) throw new InputError(`${what}: key file ${name} given twice`);
    seen.add(name);
    if (!isFernetKey(key) || key.endsWith('\n')) throw new InputError(`${what}: key ${name} is not a Fernet key (${KEY_SHAPE})`);
  }
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

/** The temporary file's name: a dot first (Keystone's int() refuses it), then the key's name. */
const TEMP = /^\.key-(?:0|[1-9][0-9]*)\.[0-9a-f]{12}\.tmp$/;

/** A temporary file older than this was left by a run that died: live writes take milliseconds. */
const STALE_TEMP_MS = 60_000;

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

/** Writes `key` as `dir/name`: temporary file (0600 from its creation), fsync, owner, rename over. */
function writeKey(dir: string, name: string, key: string, owner: KeyOwner): void {
  const tmp = join(dir, `.key-${name}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL with O_NOFOLLOW: a name planted in the directory is refused, never written through.
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
 * agent that is not root). Each file written crash-safely (temporary dot file, fsync, rename);
 * numbered files not in `keys` removed; other entries left alone; a file already holding its
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

    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const entry of entries) {
      if (!TEMP.test(entry)) continue;
      try {
        const t = lstatSync(join(dir, entry));
        if (t.isFile() && t.mtimeMs < cutoff) unlinkSync(join(dir, entry));
      } catch {
        // Gone already: its writer renamed it.
      }
    }

    // New keys first, old ones removed after: the repository never lacks a usable key.
    for (const { name, key } of keys.files) {
      try {
        if (keepIfSame(join(dir, name), key, owner)) continue;
        writeKey(dir, name, key, owner);
        changed = true;
      } catch (err) {
        fail(`write file ${name}`, err);
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
  return { dir, changed, removed };
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

/** Kubernetes' IsDNS1123Subdomain: what metadata.name of a Secret must be. */
const DNS_1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

const FERNET_MOUNT = '/etc/keystone/secrets/fernet-keys';
const CREDENTIAL_MOUNT = '/etc/keystone/secrets/credential-keys';

/**
 * A Kubernetes Secret manifest (YAML) holding both key sets as data "fernet-N" and
 * "credential-N", for `keystone-entrypoint keys` to print, with a leading comment showing how to
 * mount it: one Secret, two volumes whose `items` give each repository its files 0, 1, ...
 * `name` must be a DNS-1123 subdomain (else InputError).
 */
export function keysSecretManifest(name: string, fernet: KeySet, credential: KeySet): string {
  if (name.length > 253 || !DNS_1123_SUBDOMAIN.test(name)) {
    throw new InputError(`Secret name ${JSON.stringify(name)}: not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters)`);
  }
  checkKeySet(fernet, 'fernet keys');
  checkKeySet(credential, 'credential keys');
  const items = (prefix: string, set: KeySet): string[] => set.files.map((f) => `#           - { key: ${prefix}-${f.name}, path: "${f.name}" }`);
  // Plain scalars are safe here: base64 of a 44-character key is 60 characters ending in '=',
  // which YAML can read as nothing but a string.
  const data = (prefix: string, set: KeySet): string[] => set.files.map((f) => `  ${prefix}-${f.name}: ${Buffer.from(f.key, 'latin1').toString('base64')}`);
  return [
    "# Keystone's fernet keys (they sign and encrypt tokens) and credential keys (they encrypt",
    '# the credentials stored in the database), freshly generated. Keep this Secret as secret as',
    '# the database password: whoever holds the fernet keys can forge any token.',
    '#',
    '# Every replica mounts the same Secret, so a token issued by one is accepted by all. Mount it',
    "# twice, once per key repository, with `items` naming the files as Keystone's repository",
    '# does (0 is the staged key, the highest number the primary one); the agent copies them into',
    "# Keystone's own repositories at each container start, owned by the keystone user:",
    '#',
    '#   volumes:',
    '#     - name: fernet-keys',
    '#       secret:',
    `#         secretName: ${name}`,
    '#         defaultMode: 0400',
    '#         items:',
    ...items('fernet', fernet),
    '#     - name: credential-keys',
    '#       secret:',
    `#         secretName: ${name}`,
    '#         defaultMode: 0400',
    '#         items:',
    ...items('credential', credential),
    '#   containers:',
    '#     - name: keystone',
    '#       env:',
    `#         - { name: KEYSTONE_FERNET_KEYS, value: ${FERNET_MOUNT} }`,
    `#         - { name: KEYSTONE_CREDENTIAL_KEYS, value: ${CREDENTIAL_MOUNT} }`,
    '#       volumeMounts:',
    `#         - { name: fernet-keys, mountPath: ${FERNET_MOUNT}, readOnly: true }`,
    `#         - { name: credential-keys, mountPath: ${CREDENTIAL_MOUNT}, readOnly: true }`,
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${name}`,
    'type: Opaque',
    'data:',
    ...data('fernet', fernet),
    ...data('credential', credential),
    '',
  ].join('\n');
}
