// src/conf-file/key-repository.ts: Fernet keys checked as Keystone reads them, read from a
// directory laid out as the kubelet lays out a Secret volume, installed 0700/0600 for the
// keystone user crash-safely and without following planted links, printed as a Secret
// manifest; and the real Keystone (its FernetUtils, keystone-manage, cryptography's Fernet)
// loading, rotating and using what was installed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfFileError, InputError, UnavailableError } from '../../src/common/errors.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import { awaitKeySet, hasKeySet, installKeySet, readKeySet } from '../../src/conf-file/key-repository.ts';
import { type KeySet, freshKey, freshKeySet } from '../../src/conf-file/key-set.ts';
import { ROOT } from '../helpers/cli.ts';
import { secretVolume as makeSecretVolume } from '../helpers/secret-volume.mjs';
import { keystoneDir } from '../helpers/keystone.ts';
import { tempDir, type Teardown } from '../helpers/temp.ts';
import { isRoot, requireRoot, unavailable } from '../helpers/unavailable.ts';
import { messageOf, thrown } from '../helpers/thrown.ts';

const MODULE = join(ROOT, 'src', 'conf-file', 'key-repository.ts');
const VAR = 'KEYSTONE_FERNET_KEYS';


/** A Secret volume of its own (test/helpers/secret-volume.mjs), removed with the test. */
function secretVolume(t: Teardown, files: Record<string, string | Buffer>, mode = 0o400): string {
  return makeSecretVolume(join(tempDir(t, 'pe-keys-secret-'), 'volume'), files, mode);
}

const mode = (path: string): number => statSync(path).mode & 0o7777;

t.test('readKeySet: a kubelet Secret volume, links followed, dot entries ignored', async (t) => {
  const k0 = freshKey();
  const k1 = freshKey();
  const dir = secretVolume(t, { '0': `${k0}\n`, '1': k1 });
  t.ok(lstatSync(join(dir, '0')).isSymbolicLink(), 'the fixture is laid out as the kubelet does');
  const set = readKeySet(dir, VAR);
  t.same(set, { files: [{ name: '0', key: k0 }, { name: '1', key: k1 }] }, 'both keys, without the newline');
  if (isRoot) t.equal(lstatSync(join(dir, '..data', '0')).uid, 0, 'read as root from root-owned 0400 files');
});

t.test('readKeySet: canonical integer names in numeric order; other names ignored; a second spelling of a key refused', async (t) => {
  const keys = Object.fromEntries(['0', '1', '2', '10'].map((n) => [n, freshKey()]));
  const ignored = ['a', '2.bak', '.5', '0.tmp', 'README'];
  const dir = secretVolume(t, { ...keys, ...Object.fromEntries(ignored.map((n) => [n, 'not a key'])) });
  const set = readKeySet(dir, VAR);
  t.same(set.files.map((f) => f.name), ['0', '1', '2', '10'], '10 after 2: numeric, not lexical');
  t.same(set.files.map((f) => f.key), ['0', '1', '2', '10'].map((n) => keys[n]));
  // Keystone's int(filename) would load "01" as key 1 too: which one wins is listdir's order.
  const twice = secretVolume(t, { '0': freshKey(), '1': freshKey(), '01': freshKey() });
  const e = thrown(() => readKeySet(twice, VAR));
  t.type(e, InputError);
  t.equal(messageOf(e), `${VAR}=${twice}: files "01" and 1 are two names for key 1 (Keystone would load either); keep only 1`);
});

t.test('readKeySet: a Secret volume is read from the copy ..data points at, one version, never a mix', async (t) => {
  const old = { '0': freshKey(), '1': freshKey() };
  const dir = secretVolume(t, old);
  // The kubelet's update, stopped half-way: the new copy written and ..data swapped, but the
  // visible names not yet re-made (1 still a link, 2 not there yet, 1 gone from the copy).
  const stamp = '..2026_12_07_03_00_00.000000001';
  mkdirSync(join(dir, stamp));
  const next = { '0': freshKey(), '2': old['0'], '3': freshKey() };
  for (const [n, k] of Object.entries(next)) writeFileSync(join(dir, stamp, n), k, { mode: 0o400 });
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  t.same(readdirSync(dir).filter((n) => !n.startsWith('.')).sort(), ['0', '1'], 'the visible names are still the old ones');
  t.same(readKeySet(dir, VAR), { files: ['0', '2', '3'].map((name) => ({ name, key: next[name as keyof typeof next] })) }, 'the new version, whole');
  // ..data pointing nowhere (the copy removed): read again a few times, then a one-line error.
  rmSync(join(dir, stamp), { recursive: true });
  const e = thrown(() => readKeySet(dir, VAR));
  t.type(e, ConfFileError);
  t.equal(messageOf(e), `${VAR}=${dir}: cannot read the key directory: no such file`);
});

t.test('readKeySet: too few keys, or no staged key 0: InputError naming the variable', async (t) => {
  const one = secretVolume(t, { '0': freshKey() });
  const e1 = thrown(() => readKeySet(one, VAR));
  t.type(e1, InputError);
  t.match(messageOf(e1), new RegExp(`^${VAR}=${one}: only file 0 found; Keystone needs at least 2`));
  const none = secretVolume(t, { data: freshKey() });
  const e0 = thrown(() => readKeySet(none, VAR));
  t.type(e0, InputError);
  t.match(messageOf(e0), /no key files found/);
  const noZero = secretVolume(t, { '1': freshKey(), '2': freshKey() });
  const ez = thrown(() => readKeySet(noZero, VAR));
  t.type(ez, InputError);
  t.match(messageOf(ez), new RegExp(`^${VAR}=${noZero}: no file 0 \\(the staged key\\)`));
});

t.test('readKeySet: a bad key names the file and what is wrong, never its content', async (t) => {
  const good = freshKey();
  const dir = secretVolume(t, { '0': freshKey(), '1': `${good.slice(0, 43)}xx` });
  const err = thrown(() => readKeySet(dir, VAR));
  t.type(err, InputError);
  t.equal(messageOf(err), `${VAR}=${dir}: file 1 is not a Fernet key (45 characters, not 44; a key is 44 characters of URL-safe base64 of 32 bytes)`);
  t.notOk(messageOf(err).includes(good.slice(0, 16)), 'no part of the key');
  const big = secretVolume(t, { '0': freshKey(), '1': 'A'.repeat(5000) });
  t.match(messageOf(thrown(() => readKeySet(big, VAR))), /file 1 is larger than 4 KiB/);
});

t.test('readKeySet: a FIFO, a device or a directory named 0 is refused at once', async (t) => {
  const dir = secretVolume(t, { '1': freshKey() });
  // In the copy ..data points at, where a Secret volume's files really are.
  spawnSync('mkfifo', [join(dir, '..data', '0')]);
  symlinkSync(join('..data', '0'), join(dir, '0'));
  t.ok(statSync(join(dir, '0')).isFIFO(), 'a FIFO nobody writes');
  // In a child with a deadline: were the FIFO opened, the read would block this whole process.
  const script = join(tempDir(t, 'pe-keys-fifo-'), 'read.mjs');
  writeFileSync(
    script,
    `import { readKeySet } from ${JSON.stringify(pathToFileURL(MODULE).href)};\n` +
      `try { readKeySet(${JSON.stringify(dir)}, 'KEYSTONE_FERNET_KEYS'); console.log('read'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }\n`,
  );
  const r = spawnSync(process.execPath, [...process.execArgv, script], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.signal, null, 'did not hang (not killed by the deadline)');
  t.equal(r.stdout.trim(), `InputError: ${VAR}=${dir}: file 0 is a FIFO (named pipe), not a regular file`, r.stderr);

  const dev = tempDir(t, 'pe-keys-dev-');
  symlinkSync('/dev/zero', join(dev, '0'));
  writeFileSync(join(dev, '1'), freshKey());
  t.match(messageOf(thrown(() => readKeySet(dev, VAR))), /file 0 is a character device, not a regular file$/);
  const sub = tempDir(t, 'pe-keys-subdir-');
  mkdirSync(join(sub, '0'));
  writeFileSync(join(sub, '1'), freshKey());
  t.type(thrown(() => readKeySet(sub, VAR)), InputError, 'a directory named 0');
});

t.test('readKeySet: missing, not a directory, dangling link: ConfFileError naming variable and path', async (t) => {
  const base = tempDir(t, 'pe-keys-missing-');
  const missing = join(base, 'nope');
  const e = thrown(() => readKeySet(missing, VAR));
  t.type(e, ConfFileError);
  t.equal(messageOf(e), `${VAR}=${missing}: cannot read the key directory: no such file`);
  writeFileSync(join(base, 'file'), freshKey());
  const ef = thrown(() => readKeySet(join(base, 'file'), VAR));
  t.type(ef, ConfFileError);
  t.match(messageOf(ef), /: not a directory/);
  // A plain directory (no ..data) is read through its names: a dangling link is a broken mount.
  const dangling = tempDir(t, 'pe-keys-dangling-');
  writeFileSync(join(dangling, '0'), freshKey());
  symlinkSync(join(dangling, 'gone'), join(dangling, '1'));
  const ed = thrown(() => readKeySet(dangling, VAR));
  t.type(ed, ConfFileError);
  t.equal(messageOf(ed), `${VAR}=${dangling}: cannot read the key directory: no such file`);
});

/** A place to install into whose parents anyone can traverse (a keystone user must reach it). */
function installBase(t: Teardown): string {
  const base = tempDir(t, 'pe-keys-install-');
  chmodSync(base, 0o755);
  return base;
}

const noOwner = { uid: undefined, gid: undefined };

t.test('installKeySet: a new repository 0700, files 0600 holding the keys, parents 0755', async (t) => {
  const base = installBase(t);
  const dir = join(base, 'etc', 'keystone', 'fernet-keys');
  const keys = freshKeySet();
  const old = process.umask(0o077);
  let r;
  try {
    r = installKeySet(dir, keys, noOwner);
  } finally {
    process.umask(old);
  }
  t.same(r, { dir, changed: true, written: ['1', '0'], removed: [] }, 'the highest key first');
  t.equal(mode(dir), 0o700, 'repository 0700');
  t.equal(mode(join(base, 'etc')), 0o755, 'created parent 0755 despite umask 077');
  t.equal(mode(join(base, 'etc', 'keystone')), 0o755);
  t.same(readdirSync(dir).sort(), ['0', '1'], 'the two files and nothing else (no temporary file)');
  for (const { name, key } of keys.files) {
    t.equal(readFileSync(join(dir, name), 'latin1'), key, `file ${name}: the key, no newline (as Keystone writes)`);
    t.equal(mode(join(dir, name)), 0o600, `file ${name} 0600`);
    t.ok(lstatSync(join(dir, name)).isFile(), `file ${name} a regular file`);
  }
  t.same(readKeySet(dir, 'repo'), keys, 'reads back the same');
});

t.test('installKeySet: owner set as given (numeric uid/gid, no passwd entry needed)', async (t) => {
  if (!requireRoot(t, 'chown to uid 4242')) return;
  const dir = join(installBase(t), 'fernet-keys');
  const keys = freshKeySet();
  installKeySet(dir, keys, { uid: 4242, gid: 4243 });
  for (const p of [dir, join(dir, '0'), join(dir, '1')]) {
    const st = statSync(p);
    t.equal(st.uid, 4242, `${p} uid`);
    t.equal(st.gid, 4243, `${p} gid`);
  }
  // Owner wrong afterwards: fixed without rewriting.
  chownSync(join(dir, '1'), 0, 0);
  chownSync(dir, 0, 0);
  const ino = statSync(join(dir, '1')).ino;
  const again = installKeySet(dir, keys, { uid: 4242, gid: 4243 });
  t.equal(again.changed, false, 'an owner fix is not a change of keys');
  t.equal(statSync(join(dir, '1')).uid, 4242, 'file owner fixed');
  t.equal(statSync(dir).uid, 4242, 'directory owner fixed');
  t.equal(statSync(join(dir, '1')).ino, ino, 'not rewritten');
  // undefined: ownership left alone, whatever it is.
  installKeySet(dir, keys, noOwner);
  t.equal(statSync(join(dir, '0')).uid, 4242, 'undefined leaves the owner alone');
  const other = join(installBase(t), 'other');
  installKeySet(other, keys, noOwner);
  t.equal(statSync(join(other, '0')).uid, process.getuid?.(), 'a new file is the writer\'s own');
});

t.test('installKeySet: idempotent; modes fixed in place; a key with a newline kept', async (t) => {
  const dir = join(installBase(t), 'repo');
  const keys = freshKeySet();
  installKeySet(dir, keys, noOwner);
  const past = new Date('2021-06-01T00:00:00Z');
  for (const n of ['0', '1']) utimesSync(join(dir, n), past, past);
  const inodes = ['0', '1'].map((n) => statSync(join(dir, n)).ino);
  const again = installKeySet(dir, keys, noOwner);
  t.same(again, { dir, changed: false, written: [], removed: [] }, 'second run: nothing to do');
  t.same(['0', '1'].map((n) => statSync(join(dir, n)).ino), inodes, 'same files');
  t.equal(statSync(join(dir, '0')).mtimeMs, past.getTime(), 'not written');

  chmodSync(dir, 0o755);
  chmodSync(join(dir, '0'), 0o644);
  writeFileSync(join(dir, '1'), `${keys.files[1]?.key}\n`);
  chmodSync(join(dir, '1'), 0o666);
  const ino1 = statSync(join(dir, '1')).ino;
  const fixed = installKeySet(dir, keys, noOwner);
  t.equal(fixed.changed, false, 'mode fixes only');
  t.equal(mode(dir), 0o700);
  t.equal(mode(join(dir, '0')), 0o600);
  t.equal(mode(join(dir, '1')), 0o600);
  t.equal(statSync(join(dir, '1')).ino, ino1, 'the key with a newline is the same key: kept');
  t.equal(readFileSync(join(dir, '1'), 'latin1'), `${keys.files[1]?.key}\n`);

  const rotated: KeySet = { files: [{ name: '0', key: freshKey() }, ...keys.files.slice(1)] };
  const r = installKeySet(dir, rotated, noOwner);
  t.equal(r.changed, true, 'a different key 0 is written');
  t.equal(readFileSync(join(dir, '0'), 'latin1'), rotated.files[0]?.key);
  t.equal(statSync(join(dir, '1')).ino, ino1, 'file 1 untouched');
});

t.test('installKeySet: rotated-out keys removed, others\' entries kept, no temporary file left', async (t) => {
  const dir = join(installBase(t), 'repo');
  mkdirSync(dir);
  for (const n of ['0', '1', '2', '3', '01', '-1', '00']) writeFileSync(join(dir, n), freshKey());
  writeFileSync(join(dir, '.someone-elses'), 'kept');
  writeFileSync(join(dir, '0.tmp'), freshKey()); // Keystone's own temporary name: int() refuses it
  writeFileSync(join(dir, 'README'), 'kept');
  mkdirSync(join(dir, 'sub'));
  symlinkSync('/nonexistent', join(dir, '5'));
  const keys = freshKeySet();
  const r = installKeySet(dir, keys, noOwner);
  t.equal(r.changed, true);
  t.same(r.removed, ['-1', '00', '01', '2', '3', '5'], "every name Keystone's int() reads as a key and that is not in the set");
  t.same(readdirSync(dir).sort(), ['.someone-elses', '0', '0.tmp', '1', 'README', 'sub'], 'the rest kept');
  t.same(readKeySet(dir, 'repo'), keys);
  t.notOk(readdirSync(dir).some((n) => n.startsWith('.key-')), 'no temporary file of ours');
});

t.test('installKeySet: a directory under a key\'s name is refused before anything is written', async (t) => {
  for (const name of ['7', '1']) {
    const dir = join(installBase(t), 'repo');
    mkdirSync(dir);
    mkdirSync(join(dir, name));
    const e = thrown(() => installKeySet(dir, freshKeySet(), noOwner));
    t.type(e, ConfFileError, name);
    t.equal(messageOf(e), `key repository ${dir}: holds a directory named ${name}, where only a key file can be; remove it`);
    t.same(readdirSync(dir), [name], `${name}: nothing written`);
  }
});

t.test('installKeySet: a stale temporary file of a killed run is removed, a fresh one is not', async (t) => {
  const dir = join(installBase(t), 'repo');
  mkdirSync(dir);
  const stale = '.key-1.0123456789ab.tmp';
  const live = '.key-1.ba9876543210.tmp';
  writeFileSync(join(dir, stale), 'half');
  writeFileSync(join(dir, live), 'half');
  const past = new Date(Date.now() - 3600_000);
  utimesSync(join(dir, stale), past, past);
  installKeySet(dir, freshKeySet(), noOwner);
  t.notOk(existsSync(join(dir, stale)), 'an hour old: removed');
  t.ok(existsSync(join(dir, live)), 'just made (another writer\'s, maybe): kept');
});

t.test('installKeySet: links planted in the repository are replaced, never followed', async (t) => {
  const base = installBase(t);
  const dir = join(base, 'repo');
  mkdirSync(dir, { mode: 0o700 });
  const keys = freshKeySet();
  // A symlink under a key's name pointing at a file of root's, and a hard link to another
  // file that already holds the key: chmod or chown through either would reach that file.
  const victim = join(base, 'victim');
  writeFileSync(victim, 'root only\n');
  chmodSync(victim, 0o640);
  symlinkSync(victim, join(dir, '1'));
  const twin = join(base, 'twin');
  writeFileSync(twin, keys.files[0]?.key ?? '');
  chmodSync(twin, 0o644);
  linkSync(twin, join(dir, '0'));
  const r = installKeySet(dir, keys, noOwner);
  t.equal(r.changed, true);
  t.equal(readFileSync(victim, 'utf8'), 'root only\n', 'the symlink target untouched');
  t.equal(mode(victim), 0o640, 'its mode untouched');
  t.equal(mode(twin), 0o644, 'the hard-linked file\'s mode untouched');
  t.equal(statSync(twin).nlink, 1, 'the repository\'s name no longer links to it');
  t.ok(lstatSync(join(dir, '1')).isFile(), 'file 1 is now a regular file of its own');
  t.same(readKeySet(dir, 'repo'), keys);
});

t.test('installKeySet: refuses a symlinked or non-directory repository, and bad key sets', async (t) => {
  const base = installBase(t);
  const target = join(base, 'elsewhere');
  mkdirSync(target, { mode: 0o755 });
  const link = join(base, 'link');
  symlinkSync(target, link);
  const e = thrown(() => installKeySet(link, freshKeySet(), noOwner));
  t.type(e, ConfFileError);
  t.equal(messageOf(e), `key repository ${link}: is a symbolic link; refusing to follow it (point the setting at the real directory)`);
  t.same(readdirSync(target), [], 'nothing written through the link');
  t.equal(mode(target), 0o755, 'its mode untouched');

  const file = join(base, 'file');
  writeFileSync(file, 'x');
  const ef = thrown(() => installKeySet(file, freshKeySet(), noOwner));
  t.type(ef, ConfFileError);
  t.match(messageOf(ef), /exists and is not a directory/);

  const dir = join(base, 'repo');
  const bad = (files: KeySet['files']): unknown => thrown(() => installKeySet(dir, { files }, noOwner));
  t.type(bad([{ name: '../escape', key: freshKey() }]), InputError, 'a name that is a path');
  t.type(bad([{ name: '01', key: freshKey() }]), InputError, 'a non-canonical name');
  t.type(bad([{ name: '0', key: freshKey() }, { name: '0', key: freshKey() }]), InputError, 'a name twice');
  const secret = 'not-a-key-but-secret-text';
  const eb = bad([{ name: '0', key: secret }]);
  t.type(eb, InputError, 'a bad key');
  t.notMatch(messageOf(eb), secret, 'not in the message');
  t.notOk(existsSync(dir), 'nothing created for a refused set');
});

t.test('hasKeySet: a usable repository or not', async (t) => {
  const base = installBase(t);
  t.equal(hasKeySet(join(base, 'missing')), false, 'missing');
  mkdirSync(join(base, 'empty'));
  t.equal(hasKeySet(join(base, 'empty')), false, 'empty');
  const dir = join(base, 'repo');
  installKeySet(dir, freshKeySet(), noOwner);
  t.equal(hasKeySet(dir), true, 'after installKeySet');
  writeFileSync(join(dir, '2'), 'garbage');
  t.equal(hasKeySet(dir), false, 'a bad key Keystone would choke on');
  const one = join(base, 'one');
  installKeySet(one, { files: [{ name: '0', key: freshKey() }] }, noOwner);
  t.equal(hasKeySet(one), false, 'one key only');
});

t.test('installKeySet: a rotation is written highest key first, removals last', async (t) => {
  const dir = join(installBase(t), 'repo');
  const before: KeySet = { files: ['0', '1', '2', '3'].map((name) => ({ name, key: freshKey() })) };
  installKeySet(dir, before, noOwner);
  // fernet_rotate with max_active_keys 4: 0 -> 4, a new 0, 1 dropped.
  const after: KeySet = { files: [{ name: '0', key: freshKey() }, before.files[2]!, before.files[3]!, { name: '4', key: before.files[0]!.key }] };
  const r = installKeySet(dir, after, noOwner);
  t.same(r.written, ['4', '0'], 'the new primary (the old staged key) before the new staged key');
  t.same(r.removed, ['1'], 'the dropped key after both');
  t.same(readKeySet(dir, 'repo'), after);
});

t.test('awaitKeySet: waits until another writer completes the repository; 69 naming why at the deadline', async (t) => {
  const base = installBase(t);
  const dir = join(base, 'shared');
  const late = setTimeout(() => installKeySet(dir, freshKeySet(), noOwner), 300);
  t.teardown(() => clearTimeout(late));
  const t0 = Date.now();
  await awaitKeySet(dir, undefined, 'KEYSTONE_KEYS_SYNCED', deadlineIn(10_000));
  t.ok(Date.now() - t0 >= 250, 'returned once the keys were there');

  const open = join(base, 'open');
  installKeySet(open, freshKeySet(), noOwner);
  chmodSync(open, 0o755);
  const e = await awaitKeySet(open, undefined, 'KEYSTONE_KEYS_SYNCED', deadlineIn(300)).catch((err: unknown) => err);
  t.type(e, UnavailableError);
  t.equal(messageOf(e), `key repository ${open} is not ready (it is open to every user (mode 755); Keystone's repositories are 0700); KEYSTONE_KEYS_SYNCED says the sync-keys sidecar keeps it: see that container's log (kubectl logs POD -c keys)`);

  const half = join(base, 'half');
  mkdirSync(half, { mode: 0o700 });
  writeFileSync(join(half, '1'), freshKey());
  const e1 = await awaitKeySet(half, undefined, 'KEYSTONE_KEYS_SYNCED', deadlineIn(300)).catch((err: unknown) => err);
  t.match(messageOf(e1), /is not ready \(only file 1 found; Keystone needs at least 2/);
  if (isRoot) {
    const e2 = await awaitKeySet(dir, 4242, 'KEYSTONE_KEYS_SYNCED', deadlineIn(300)).catch((err: unknown) => err);
    t.match(messageOf(e2), new RegExp(`is not ready \\(it belongs to uid ${process.getuid?.()}, not to uid 4242, which Keystone runs as\\)`));
  }
  t.notOk(readdirSync(half).some((n) => n !== '1'), 'nothing written by the wait');
});

/** The Python of the real Keystone environment (test/services/keystone.sh), or undefined when it is not built. */
function keystonePython(): string | undefined {
  const dir = keystoneDir();
  if (dir === undefined) return undefined;
  const python = join(dir, 'venv', 'bin', 'python');
  if (!existsSync(python)) return undefined;
  return spawnSync(python, ['-c', 'import keystone.common.fernet_utils'], { stdio: 'ignore', timeout: 60_000 }).status === 0 ? python : undefined;
}

/**
 * Keystone's own FernetUtils.load_keys on the repository (as the keystone user when `uid` is
 * given): its list must be our keys highest first; then a MultiFernet of that list, as
 * keystone/token/providers/fernet/token_formatters.py builds it, encrypts with the primary
 * (highest) key and decrypts with the set; the staged key 0 alone cannot decrypt.
 */
const LOAD_AND_USE = `
import json, sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
from keystone.common import fernet_utils
repo, count = sys.argv[1], int(sys.argv[2])
keys = fernet_utils.FernetUtils(repo, count, 'fernet_tokens').load_keys()
# The order load_keys documents, done again by hand: sorted by int(filename), highest first.
import os
by_hand = [open(os.path.join(repo, n)).read() for n in sorted((n for n in os.listdir(repo) if n.isdigit()), key=int, reverse=True)]
multi = MultiFernet([Fernet(k) for k in keys])
token = multi.encrypt(b'pulp-entrypoint')
out = {'keys': keys, 'by_hand': by_hand, 'round_trip': multi.decrypt(token).decode()}
out['primary_decrypts'] = Fernet(keys[0]).decrypt(token).decode()
try:
    Fernet(keys[-1]).decrypt(token)
    out['staged_decrypts'] = True
except InvalidToken:
    out['staged_decrypts'] = False
print(json.dumps(out))
`;

interface Loaded {
  keys: string[];
  by_hand: string[];
  round_trip: string;
  primary_decrypts: string;
  staged_decrypts: boolean;
}

const python = keystonePython();
if (python === undefined) {
  unavailable(t, 'the real Keystone check (FernetUtils.load_keys and keystone-manage on installed keys): the Keystone venv is not built; run `bash test/services/keystone.sh` once');
} else {
  const env = { PATH: '/usr/bin:/bin', HOME: '/nonexistent' };
  const load = (repo: string, count: number, uid?: number): Loaded => {
    const r = spawnSync(python, ['-W', 'ignore', '-c', LOAD_AND_USE, repo, String(count)], {
      encoding: 'utf8',
      env,
      timeout: 120_000,
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Loaded;
  };

  t.test('the real Keystone loads the installed keys, primary = highest, as the keystone user', async (t) => {
    const dir = join(installBase(t), 'etc', 'keystone', 'fernet-keys');
    const keys: KeySet = { files: ['0', '1', '2'].map((name) => ({ name, key: freshKey() })) };
    const owner = isRoot ? { uid: 4242, gid: 4242 } : noOwner;
    installKeySet(dir, keys, owner);
    const got = load(dir, 3, isRoot ? 4242 : undefined);
    t.same(got.keys, keys.files.map((f) => f.key).reverse(), 'load_keys: 2, 1, 0 (empty when Keystone cannot reach the repository)');
    t.same(got.by_hand, got.keys, 'the order by int(filename), highest first');
    t.equal(got.round_trip, 'pulp-entrypoint', 'MultiFernet encrypt/decrypt');
    t.equal(got.primary_decrypts, 'pulp-entrypoint', 'encrypted with the primary (highest) key');
    t.equal(got.staged_decrypts, false, 'the staged key 0 alone does not decrypt: it is not the primary');
  });

  t.test('keystone-manage: fernet_setup output reads as a key set; fernet_rotate works on an installed one', async (t) => {
    const work = installBase(t);
    const tokens = join(work, 'fernet-keys');
    const conf = join(work, 'keystone.conf');
    // Every repository fernet_setup and fernet_rotate touch is named: receipts default to
    // /etc/keystone/fernet-keys/, which a test must not write.
    const configure = (repo: string): void =>
      writeFileSync(
        conf,
        `[fernet_tokens]\nkey_repository = ${repo}\nmax_active_keys = 3\n[fernet_receipts]\nkey_repository = ${join(work, 'receipt-keys')}\n` +
          `[credential]\nkey_repository = ${join(work, 'credential-keys')}\n`,
      );
    const manage = (...args: string[]): void => {
      const bin = join(python, '..', 'keystone-manage');
      const r = spawnSync(bin, ['--config-file', conf, ...args, '--keystone-user', 'root', '--keystone-group', 'root'], { encoding: 'utf8', env, timeout: 120_000 });
      if (r.status !== 0) throw new Error(`keystone-manage ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    };
    const made = join(work, 'made');
    configure(made);
    manage('fernet_setup');
    const set = readKeySet(made, 'fernet_setup');
    t.same(set.files.map((f) => f.name), ['0', '1'], "Keystone's own repository: 0 and 1");
    t.equal(mode(made), 0o700, 'fernet_setup makes the directory 0700');
    t.equal(mode(join(made, '0')), 0o600, 'and the files 0600');

    configure(tokens);
    installKeySet(tokens, set, noOwner);
    manage('fernet_rotate');
    const rotated = readKeySet(tokens, 'fernet_rotate');
    t.same(rotated.files.map((f) => f.name), ['0', '1', '2'], 'rotated: a new staged 0, the old 0 promoted to 2');
    t.equal(rotated.files[2]?.key, set.files[0]?.key, 'the old staged key is the new primary');
    t.equal(rotated.files[1]?.key, set.files[1]?.key, 'the old primary kept for decryption');
    const r = installKeySet(tokens, set, noOwner);
    t.same(r.removed, ['2'], 're-installing the Secret\'s set removes the rotated-in key');
  });
}
