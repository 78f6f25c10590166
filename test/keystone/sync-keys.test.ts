// src/keystone/sync-keys.ts as a whole process (`keystone-entrypoint sync-keys`, the keys
// sidecar): it installs the Secrets' keys into the repositories keystone.conf names, owned by
// the run-as user, follows a rotation the kubelet writes into the volume, keeps the keys when
// the Secret turns bad, stops with 0 on SIGTERM, and, killed at any instant of a rotation,
// leaves a repository that holds a whole key set with the keys a replica may sign with.
import t from 'tap';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readKeySet } from '../../src/conf-file/key-repository.ts';
import { type KeySet, freshKey, freshKeySet } from '../../src/conf-file/key-set.ts';
import { rotateKeySet } from '../../src/keystone/key-rotation.ts';
import { ROOT } from '../helpers/cli.ts';
import { spawnCollect } from '../helpers/exec.ts';
import { ensureKeystoneUser } from '../helpers/keystone.ts';
import { keysPod } from '../helpers/keys-pod.mjs';
import { updateSecretVolume } from '../helpers/secret-volume.mjs';
import { tempDir, type Teardown } from '../helpers/temp.ts';
import { isRoot } from '../helpers/unavailable.ts';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');
const filesOf = (k: KeySet): Record<string, string> => Object.fromEntries(k.files.map((f) => [f.name, f.key]));

interface Pod {
  fernetSecret: string;
  credentialSecret: string;
  fernetRepo: string;
  credentialRepo: string;
  env: Record<string, string>;
}

/** Two Secret volumes and keystone.conf naming two repositories, as the sidecar's container has them. */
function pod(t: Teardown, fernet: KeySet, credential: KeySet): Pod {
  const base = tempDir(t, 'pe-sync-keys-');
  chmodSync(base, 0o755);
  if (isRoot) ensureKeystoneUser();
  return keysPod(base, filesOf(fernet), filesOf(credential));
}

/** The sidecar in the background: its output so far, and its end. */
function start(env: Record<string, string>): { child: ChildProcess; output(): string; ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const { child, output, done } = spawnCollect([process.execPath, BIN, 'sync-keys'], { env });
  return { child, output, ended: done.then(({ code, signal }) => ({ code, signal })) };
}

async function until(ms: number, check: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

const same = (dir: string, keys: KeySet): boolean => {
  try {
    return JSON.stringify(readKeySet(dir, 'repo')) === JSON.stringify(keys);
  } catch {
    return false;
  }
};

t.test('installs both Secrets, follows a rotation without a restart, stops with 0 on SIGTERM', async (t) => {
  const fernet = freshKeySet();
  const credential = freshKeySet();
  const p = pod(t, fernet, credential);
  const s = start(p.env);
  t.teardown(() => void s.child.kill('SIGKILL'));
  t.ok(await until(15_000, () => same(p.fernetRepo, fernet) && same(p.credentialRepo, credential)), 'both repositories installed');
  const mode = statSync(p.fernetRepo).mode & 0o777;
  t.equal(mode, 0o700, 'repository 0700');
  if (isRoot) {
    const keystone = Number(spawnSync('id', ['-u', 'keystone'], { encoding: 'utf8' }).stdout.trim());
    t.equal(statSync(join(p.fernetRepo, '1')).uid, keystone, 'owned by the run-as user keystone');
  }
  const r = rotateKeySet(fernet, 5);
  updateSecretVolume(p.fernetSecret, filesOf(r.after));
  t.ok(await until(20_000, () => same(p.fernetRepo, r.after)), 'the rotated set installed (two steps, a grace between)');
  // The line follows the last rename by a moment, and reaches this process through a pipe: waited for.
  const said = /fernet keys in \S+ now as in \S+ \(KEYSTONE_FERNET_KEYS\): 3 keys: 0 \(staged\), 1, 2 \(primary\) \(wrote 2, 0\)/;
  t.ok(await until(5000, () => said.test(s.output())), `the rotation's line: ${s.output().slice(-400)}`);
  t.equal(s.child.exitCode, null, 'still running: no restart');
  s.child.kill('SIGTERM');
  const end = await s.ended;
  t.same(end, { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.match(s.output(), /SIGTERM received: stopping/);
  for (const k of [...fernet.files, ...r.after.files, ...credential.files]) t.notOk(s.output().includes(k.key), 'no key in any line');
});

t.test('a Secret that turns bad keeps the keys in place, said once; refusals at start', async (t) => {
  const fernet = freshKeySet();
  const p = pod(t, fernet, freshKeySet());
  const s = start(p.env);
  t.teardown(() => void s.child.kill('SIGKILL'));
  t.ok(await until(15_000, () => same(p.fernetRepo, fernet)));
  updateSecretVolume(p.fernetSecret, { '0': freshKey(), '1': 'AAAA' });
  t.ok(await until(15_000, () => /file 1 is not a Fernet key/.test(s.output())), 'said');
  await new Promise((r) => setTimeout(r, 5000));
  t.equal(s.output().match(/file 1 is not a Fernet key/g)?.length, 1, 'once, over several passes');
  t.ok(same(p.fernetRepo, fernet), 'the keys it had are kept');
  s.child.kill('SIGTERM');
  t.equal((await s.ended).code, 0);

  const run = (env: Record<string, string>, args: string[] = []): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [BIN, 'sync-keys', ...args], { env, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stderr: r.stderr };
  };
  const bad = run(p.env);
  t.equal(bad.status, 65, 'a bad Secret at start: 65 (Kubernetes restarts the sidecar)');
  t.match(bad.stderr, /error: KEYSTONE_FERNET_KEYS=\S+: file 1 is not a Fernet key/);
  const none = run({ ...p.env, KEYSTONE_FERNET_KEYS: '', KEYSTONE_CREDENTIAL_KEYS: '' });
  t.equal(none.status, 65);
  t.match(none.stderr, /sync-keys: neither KEYSTONE_FERNET_KEYS nor KEYSTONE_CREDENTIAL_KEYS is set/);
  t.equal(run(p.env, ['--now']).status, 64, 'an unknown argument');
});

t.test('--dry-run: what the first pass would write, by key number; nothing written', async (t) => {
  const fernet = freshKeySet();
  const p = pod(t, fernet, freshKeySet());
  const r = spawnSync(process.execPath, [BIN, 'sync-keys', '--dry-run'], { env: p.env, encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^fernet: ${p.fernetRepo} <- ${p.fernetSecret} \\(KEYSTONE_FERNET_KEYS\\): 2 keys: 0 \\(staged\\), 1 \\(primary\\); would write 1, 0$`, 'm'));
  t.match(r.stdout, /sync-keys --dry-run: nothing was written/);
  t.throws(() => statSync(p.fernetRepo), 'no repository made');
});

t.test('killed at any instant of a rotation: a whole key set, with the old and the new primary', async (t) => {
  for (let round = 0; round < 4; round++) {
    const fernet = freshKeySet();
    const p = pod(t, fernet, freshKeySet());
    const s = start(p.env);
    t.ok(await until(15_000, () => same(p.fernetRepo, fernet)), `round ${round}: started`);
    const r = rotateKeySet(fernet, 5);
    updateSecretVolume(p.fernetSecret, filesOf(r.after));
    // Anywhere in the next pass: before it, in its first step, in the grace, in its second.
    await new Promise((res) => setTimeout(res, 500 + round * 2000));
    s.child.kill('SIGKILL');
    await s.ended;
    const left = readKeySet(p.fernetRepo, 'repo');
    const keys = left.files.map((f) => f.key);
    t.ok(keys.includes(fernet.files[1]!.key), `round ${round}: the old primary is there`);
    t.ok(keys.includes(r.after.files.at(-1)!.key), `round ${round}: the new primary (the old staged key) is there`);
    // readKeySet refuses a torn file; each file is also the old or the new key of its number, never another's.
    const either = (name: string, key: string): boolean => [fernet, r.after].some((set) => set.files.some((f) => f.name === name && f.key === key));
    t.ok(left.files.every((f) => either(f.name, f.key)), `round ${round}: every file the old or the new key of its number`);
  }
});
