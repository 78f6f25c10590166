// A set of Fernet keys as Keystone's key repositories hold them (pure): what a key is, what a
// key file's name may be, the order of names, and how a set is described in a line (its key
// numbers, never its keys). Reading a set from disk and installing one are key-repository.ts's.
//
// Keystone's layout (keystone/common/fernet_utils.py): files named by integers; the highest is
// the primary key (it encrypts), 0 is the staged key (the next primary, already accepted for
// decryption), the others only decrypt.
import { randomBytes } from 'node:crypto';
import { InputError } from '../common/errors.ts';

/** What a key is, for messages (never the key itself). */
export const KEY_SHAPE = '44 characters of URL-safe base64 of 32 bytes';

/** The alphabet and length of a padded 32-byte key; canonical form is checked by re-encoding. */
const KEY_FORM = /^[A-Za-z0-9_-]{43}=$/;

/** A key file's name as this program reads and writes them: int(filename) without surprises. */
export const KEY_NAME = /^(?:0|[1-9][0-9]*)$/;

/**
 * Names that Keystone's int(filename) also accepts: "01", "-1", " 2", "1_0", "٣". Keystone
 * loads such a file as a key (and "01" collides with "1": which one wins depends on listdir's
 * order).
 */
export const KEYSTONE_READS_AS_KEY = /^\s*[+-]?\p{Nd}+(?:_\p{Nd}+)*\s*$/u;

/**
 * The most keys a set may hold. Keystone keeps [fernet_tokens] max_active_keys of them (3 by
 * default; Keystone's own formula gives 5 to 10 for daily rotations); a thousand means a
 * broken Secret or a runaway rotation, and each key is read at every token operation.
 */
export const MAX_KEYS = 1000;

export interface KeySet {
  /** Names "0", "1", ... sorted numerically; each key without its newline. */
  files: { name: string; key: string }[];
}

/** Numeric order of canonical decimal names, without converting (a name may exceed 2^53). */
export function byNumber(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export function withoutNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** A Fernet key as Keystone reads it: URL-safe base64 of 32 bytes (44 characters with padding). */
export function isFernetKey(text: string): boolean {
  // One line ending is what an editor or `echo` adds; Python's decoder skips it too.
  const body = withoutNewline(text);
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

/** Two fresh keys, 0 (staged) and 1 (primary), as fernet_setup makes. */
export function freshKeySet(): KeySet {
  return { files: [{ name: '0', key: freshKey() }, { name: '1', key: freshKey() }] };
}

/** Whether two sets (each in numeric order, as they are read) hold the same keys under the same names. */
export function sameKeySet(a: KeySet, b: KeySet): boolean {
  return a.files.length === b.files.length && a.files.every((f, n) => f.name === b.files[n]?.name && f.key === b.files[n]?.key);
}

/** The primary key's name: the highest number. */
export function primaryOf(keys: KeySet): string | undefined {
  return keys.files.map((f) => f.name).sort(byNumber).at(-1);
}

/** "3 keys: 0 (staged), 1, 2 (primary)": a set in a line, by number only. */
export function describeKeySet(keys: KeySet): string {
  const names = keys.files.map((f) => f.name).sort(byNumber);
  const primary = names.at(-1);
  const label = (n: string): string => (n === primary ? `${n} (primary)` : n === '0' ? `${n} (staged)` : n);
  return `${names.length} key${names.length === 1 ? '' : 's'}: ${names.map(label).join(', ')}`;
}

/**
 * The names of the files in a directory or Secret that would be keys, checked as a set before
 * any is read: canonical names kept in numeric order; a name Keystone reads as a key in
 * another spelling ("01", "+1") refused, naming the canonical one it collides with or stands
 * for; more than MAX_KEYS refused. `where` starts each message ("KEYSTONE_FERNET_KEYS=/x").
 */
export function keyNamesOf(names: readonly string[], where: string): string[] {
  const canonical = names.filter((n) => KEY_NAME.test(n));
  for (const n of names) {
    if (KEY_NAME.test(n) || !KEYSTONE_READS_AS_KEY.test(n)) continue;
    const digits = n.replace(/[\s_+]/g, '');
    const number = /^-?[0-9]+$/.test(digits) ? BigInt(digits).toString() : undefined;
    const shown = JSON.stringify(n);
    if (number !== undefined && canonical.includes(number)) {
      throw new InputError(`${where}: files ${shown} and ${number} are two names for key ${number} (Keystone would load either); keep only ${number}`);
    }
    throw new InputError(`${where}: file ${shown} would be read by Keystone as a key, but is not a key name (0, 1, 2, ... without leading zeros or signs)${number !== undefined && !number.startsWith('-') ? `; name it ${number}` : ''}`);
  }
  if (canonical.length > MAX_KEYS) {
    throw new InputError(`${where}: ${canonical.length} key files, more than ${MAX_KEYS}: not a key repository (Keystone keeps [fernet_tokens] max_active_keys of them)`);
  }
  return canonical.sort(byNumber);
}

/** A set's names and keys must be ours to write: a name is joined into a path. */
export function checkKeySet(keys: KeySet, what: string): void {
  const seen = new Set<string>();
  for (const { name, key } of keys.files) {
    if (!KEY_NAME.test(name)) throw new InputError(`${what}: key file name ${JSON.stringify(name)} is not a non-negative integer without leading zeros`);
    if (seen.has(name)) throw new InputError(`${what}: key file ${name} given twice`);
    seen.add(name);
    if (!isFernetKey(key) || key.endsWith('\n')) throw new InputError(`${what}: key ${name} is not a Fernet key (${KEY_SHAPE})`);
  }
  if (keys.files.length > MAX_KEYS) throw new InputError(`${what}: ${keys.files.length} keys, more than ${MAX_KEYS}`);
}

/**
 * What Keystone needs of a whole set: at least 2 keys, one of them the staged key 0
 * (keystone-manage fernet_rotate pops key 0 and fails without it; every repository Keystone
 * makes has one, so its absence means the Secret was laid out wrongly).
 */
export function checkComplete(keys: KeySet, where: string, found: readonly string[]): void {
  const files = keys.files;
  if (files.length < 2) {
    const others = found.filter((n) => !KEY_NAME.test(n) && !n.startsWith('.'));
    const seen = others.length > 0 ? ` (found only ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}: key files are named 0, 1, 2, ...)` : '';
    throw new InputError(
      `${where}: ${files.length === 0 ? 'no key files' : `only file ${files[0]?.name ?? ''}`} found; Keystone needs at least 2, named 0 (the staged key) and 1 (the primary)${seen}`,
    );
  }
  if (files[0]?.name !== '0') throw new InputError(`${where}: no file 0 (the staged key); Keystone's repositories always hold one (files found: ${files.map((f) => f.name).join(', ')})`);
}

/** A key file is 45 bytes at most; anything near this is not one (and is not read whole). */
export const MAX_KEY_FILE = 4096;

/**
 * The key set in a directory's or a Secret's files: `names` are all its entries, `read` gives
 * one's bytes (at most MAX_KEY_FILE + 1 of them). Names checked first (keyNamesOf), then each
 * key; the set must be complete (checkComplete). A bad key is named by its number, never
 * shown. `where` starts every message.
 */
export function keySetFromFiles(names: readonly string[], read: (name: string) => Buffer, where: string): KeySet {
  const files: KeySet['files'] = [];
  for (const name of keyNamesOf(names, where)) {
    const buf = read(name);
    if (buf.length > MAX_KEY_FILE) throw new InputError(`${where}: file ${name} is larger than 4 KiB, not a Fernet key (${KEY_SHAPE})`);
    // latin1 maps every byte to one character, so any non-ASCII byte fails the check below.
    const text = buf.toString('latin1');
    if (!isFernetKey(text)) {
      const body = withoutNewline(text);
      const why = body.length !== 44 ? `${body.length} characters, not 44` : 'not URL-safe base64 of 32 bytes';
      throw new InputError(`${where}: file ${name} is not a Fernet key (${why}; a key is ${KEY_SHAPE})`);
    }
    files.push({ name, key: withoutNewline(text) });
  }
  const keys = { files };
  checkComplete(keys, where, names);
  return keys;
}
