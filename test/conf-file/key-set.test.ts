// src/conf-file/key-set.ts: what a Fernet key is as Keystone reads one, which file names are
// keys (and which Keystone would also read as keys in another spelling), the checks a whole
// set must pass, and a set described by its numbers, never its keys.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { InputError } from '../../src/common/errors.ts';
import {
  MAX_KEYS,
  checkKeySet,
  describeKeySet,
  freshKey,
  freshKeySet,
  isFernetKey,
  keyNamesOf,
  keySetFromFiles,
  primaryOf,
} from '../../src/conf-file/key-set.ts';
import { ROOT } from '../helpers/cli.ts';
import { messageOf, thrown } from '../helpers/thrown.ts';


/** A key whose standard base64 has a '+' or '/': its URL-safe form is a key, that form is not. */
function keyWithStandardAlphabet(): { urlSafe: string; standard: string } {
  for (;;) {
    const bytes = randomBytes(32);
    const standard = bytes.toString('base64');
    if (/[+/]/.test(standard)) return { urlSafe: `${bytes.toString('base64url')}=`, standard };
  }
}

t.test('isFernetKey: 32 bytes as URL-safe base64 with padding, one optional line ending', async (t) => {
  const key = freshKey();
  t.ok(isFernetKey(key), 'a fresh key');
  t.ok(isFernetKey(`${key}\n`), 'with a newline');
  t.ok(isFernetKey(`${key}\r\n`), 'with CRLF');
  t.ok(isFernetKey(Buffer.alloc(32).toString('base64url') + '='), "Keystone's NULL_KEY (32 zero bytes)");
  const { urlSafe, standard } = keyWithStandardAlphabet();
  t.ok(isFernetKey(urlSafe), 'the URL-safe form');
  t.notOk(isFernetKey(standard), 'the standard alphabet (+ or /) is not what Keystone writes');
  t.notOk(isFernetKey(key.slice(0, 43)), '43 characters (no padding)');
  t.notOk(isFernetKey(`${key}A`), '45 characters');
  t.notOk(isFernetKey(`${randomBytes(31).toString('base64url')}==`), '44 characters that decode to 31 bytes');
  t.notOk(isFernetKey(randomBytes(33).toString('base64url')), '44 characters that decode to 33 bytes');
  t.notOk(isFernetKey(`${key} `), 'a trailing space');
  t.notOk(isFernetKey(` ${key}`), 'a leading space');
  t.notOk(isFernetKey(`${key}\n\n`), 'two newlines');
  t.notOk(isFernetKey(`${key}\r`), 'a lone CR');
  t.notOk(isFernetKey(`${key.slice(0, 20)}\n${key.slice(20)}`), 'a newline inside');
  t.notOk(isFernetKey(''), 'empty');
  t.notOk(isFernetKey('\n'), 'a newline only');
  t.notOk(isFernetKey(`${key.slice(0, 42)}B=`), 'a last character with non-zero spare bits (no encoder makes it)');
  t.notOk(isFernetKey(`${key.slice(0, 42)}é=`), 'a non-ASCII character');
});

t.test('freshKey: 44 characters, 32 random bytes, Python urlsafe_b64encode form; 1000 all distinct', async (t) => {
  const keys = Array.from({ length: 1000 }, () => freshKey());
  for (const key of keys.slice(0, 20)) {
    t.equal(key.length, 44);
    t.match(key, /^[A-Za-z0-9_-]{43}=$/);
    t.equal(Buffer.from(key, 'base64url').length, 32);
    t.ok(isFernetKey(key));
  }
  t.ok(keys.every((k) => isFernetKey(k) && !k.includes('\n')), 'all valid, none with a newline');
  t.equal(new Set(keys).size, 1000, 'no two alike');
  const set = freshKeySet();
  t.same(set.files.map((f) => f.name), ['0', '1']);
  t.not(set.files[0]?.key, set.files[1]?.key, 'staged and primary differ');
  t.ok(set.files.every((f) => isFernetKey(f.key)));
});

t.test('the example keys of fixtures/k8s/keystone/01-keys.yaml: two Secrets, files 0 and 1, each a Fernet key', async (t) => {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'fixtures', 'k8s', 'keystone', '01-keys.yaml'), 'utf8')).map((d) => d.toJSON() as { metadata: { name: string }; data: Record<string, string> });
  t.same(docs.map((d) => d.metadata.name), ['keystone-fernet-keys', 'keystone-credential-keys']);
  for (const doc of docs) {
    t.same(Object.keys(doc.data), ['0', '1'], `${doc.metadata.name}: the staged key 0 and the primary 1`);
    const keys = keySetFromFiles(Object.keys(doc.data), (n) => Buffer.from(doc.data[n] ?? '', 'base64'), doc.metadata.name);
    t.ok(keys.files.every((f) => isFernetKey(f.key)), `${doc.metadata.name}: Fernet keys`);
  }
});

t.test('keyNamesOf: canonical names in numeric order; other names ignored; a second spelling of a key refused', async (t) => {
  const W = 'KEYSTONE_FERNET_KEYS=/s';
  t.same(keyNamesOf(['10', '2', '0', '1', '..data', '..2026_12_07', 'README', '.hidden', '2.bak', '0.tmp', 'a'], W), ['0', '1', '2', '10'], 'numeric, not lexical');
  // Each of these Keystone's int(filename) reads as a key: a Secret or directory holding one is wrong.
  const cases: [names: string[], message: RegExp][] = [
    [['0', '1', '01'], /^KEYSTONE_FERNET_KEYS=\/s: files "01" and 1 are two names for key 1 \(Keystone would load either\); keep only 1$/],
    [['0', '1', '2', '002'], /files "002" and 2 are two names for key 2/],
    [['0', '1', '+1'], /files "\+1" and 1 are two names for key 1/],
    [['0', '1', ' 1'], /files " 1" and 1 are two names for key 1/],
    [['0', '1', '1_0', '10'], /files "1_0" and 10 are two names for key 10/],
    [['00', '1'], /files "00" and .*|file "00" would be read by Keystone as a key/],
    [['0', '1', '07'], /^KEYSTONE_FERNET_KEYS=\/s: file "07" would be read by Keystone as a key, but is not a key name \(0, 1, 2, ... without leading zeros or signs\); name it 7$/],
    [['0', '1', '-1'], /file "-1" would be read by Keystone as a key, but is not a key name \(0, 1, 2, ... without leading zeros or signs\)$/],
    [['0', '1', '\u0663'], /file "\u0663" would be read by Keystone as a key/],
  ];
  for (const [names, message] of cases) {
    const err = thrown(() => keyNamesOf(names, W));
    t.type(err, InputError, JSON.stringify(names));
    t.match(messageOf(err), message, JSON.stringify(names));
  }
  const many = Array.from({ length: MAX_KEYS + 1 }, (_, i) => String(i));
  t.match(messageOf(thrown(() => keyNamesOf(many, W))), new RegExp(`: ${MAX_KEYS + 1} key files, more than ${MAX_KEYS}: not a key repository`));
  t.equal(keyNamesOf(many.slice(0, MAX_KEYS), W).length, MAX_KEYS, `${MAX_KEYS} is allowed`);
});

t.test('keySetFromFiles: the keys by number; each bad key named by its number with what is wrong, never its content', async (t) => {
  const k = [freshKey(), freshKey(), freshKey()];
  const files: Record<string, string> = { '0': `${k[0]}\n`, '1': k[1] ?? '', '2': `${k[2]}\r\n`, note: 'not a key' };
  const read = (n: string): Buffer => Buffer.from(files[n] ?? '', 'latin1');
  t.same(keySetFromFiles(Object.keys(files), read, 'S'), { files: [{ name: '0', key: k[0] }, { name: '1', key: k[1] }, { name: '2', key: k[2] }] }, 'line endings dropped');
  const good = freshKey();
  const bad: [what: string, content: string, why: string][] = [
    ['45 characters', `${good.slice(0, 43)}xx`, '45 characters, not 44'],
    ['43 characters', good.slice(0, 43), '43 characters, not 44'],
    ['standard base64', keyWithStandardAlphabet().standard, 'not URL-safe base64 of 32 bytes'],
    ['a trailing space', `${good} `, '45 characters, not 44'],
    ['two keys in one file', `${good}\n${freshKey()}\n`, '89 characters, not 44'],
    ['empty', '', '0 characters, not 44'],
  ];
  for (const [what, content, why] of bad) {
    const err = thrown(() => keySetFromFiles(['0', '1'], (n) => Buffer.from(n === '1' ? content : good), 'Secret ks/keystone-fernet-keys'));
    t.type(err, InputError, what);
    t.equal(messageOf(err), `Secret ks/keystone-fernet-keys: file 1 is not a Fernet key (${why}; a key is 44 characters of URL-safe base64 of 32 bytes)`, what);
    if (content.length > 8) t.notOk(messageOf(err).includes(content.trim().slice(0, 12)), `${what}: no part of the content`);
  }
  t.match(messageOf(thrown(() => keySetFromFiles(['0', '1'], (n) => Buffer.from(n === '1' ? 'A'.repeat(5000) : good), 'S'))), /^S: file 1 is larger than 4 KiB/);
});

t.test('keySetFromFiles: a set is complete with key 0 and at least one other; else the names found are listed', async (t) => {
  const read = (): Buffer => Buffer.from(freshKey());
  t.match(messageOf(thrown(() => keySetFromFiles(['0'], read, 'S'))), /^S: only file 0 found; Keystone needs at least 2, named 0 \(the staged key\) and 1 \(the primary\)$/);
  t.match(messageOf(thrown(() => keySetFromFiles(['1', '2'], read, 'S'))), /^S: no file 0 \(the staged key\); Keystone's repositories always hold one \(files found: 1, 2\)$/);
  // The old layout's Secret (one Secret, keys fernet-0, credential-0) mounted whole.
  t.match(
    messageOf(thrown(() => keySetFromFiles(['..data', 'fernet-0', 'fernet-1', 'credential-0', 'credential-1'], read, 'S'))),
    /^S: no key files found; Keystone needs at least 2, named 0 \(the staged key\) and 1 \(the primary\) \(found only fernet-0, fernet-1, credential-0, credential-1: key files are named 0, 1, 2, ...\)$/,
  );
});

t.test('describeKeySet and primaryOf: numbers only, the primary the highest, 0 the staged key', async (t) => {
  const set = (names: string[]): { files: { name: string; key: string }[] } => ({ files: names.map((name) => ({ name, key: freshKey() })) });
  t.equal(describeKeySet(set(['0', '1'])), '2 keys: 0 (staged), 1 (primary)');
  t.equal(describeKeySet(set(['0', '2', '10', '9'])), '4 keys: 0 (staged), 2, 9, 10 (primary)');
  t.equal(primaryOf(set(['0', '2', '10', '9'])), '10');
  t.equal(describeKeySet(set(['0'])), '1 key: 0 (primary)', 'a lone 0 is the primary, as Keystone reads it');
  const s = set(['0', '1']);
  t.notOk(describeKeySet(s).includes(s.files[0]?.key.slice(0, 8) ?? '?'), 'no key in the line');
});

t.test('checkKeySet: only sets this program may write', async (t) => {
  t.doesNotThrow(() => checkKeySet(freshKeySet(), 'w'));
  t.match(messageOf(thrown(() => checkKeySet({ files: [{ name: '../x', key: freshKey() }] }, 'w'))), /^w: key file name "..\/x" is not a non-negative integer/);
  t.match(messageOf(thrown(() => checkKeySet({ files: [{ name: '1', key: freshKey() }, { name: '1', key: freshKey() }] }, 'w'))), /key file 1 given twice/);
  t.match(messageOf(thrown(() => checkKeySet({ files: [{ name: '1', key: 'secret-text' }] }, 'w'))), /^w: key 1 is not a Fernet key/);
});
