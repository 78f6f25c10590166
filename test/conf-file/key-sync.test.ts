// src/conf-file/key-sync.ts: repositories kept equal to Secret volumes the kubelet updates (as
// its atomic writer does: a new copy, ..data swapped, links re-made, the old copy removed);
// a rotation in two steps; a Secret that turns bad leaves the keys as they were and is said
// once; and, with the real Keystone reading the repository in a loop as it does at every
// token operation, no load ever misses a key a replica may sign with.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/common/log.ts';
import { readKeySet } from '../../src/conf-file/key-repository.ts';
import { type KeySet, freshKey, freshKeySet } from '../../src/conf-file/key-set.ts';
import { type KeyFollow, changeLine, firstStep, followKeys, syncOnce } from '../../src/conf-file/key-sync.ts';
import { rotateKeySet } from '../../src/keystone/key-rotation.ts';
import { keystoneDir } from '../helpers/keystone.ts';
import { secretVolume, updateSecretVolume } from '../helpers/secret-volume.mjs';
import { tempDir, type Teardown } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

const noOwner = { uid: undefined, gid: undefined };
const filesOf = (k: KeySet): Record<string, string> => Object.fromEntries(k.files.map((f) => [f.name, f.key]));
const set = (names: string[]): KeySet => ({ files: names.map((name) => ({ name, key: freshKey() })) });

/** A Secret volume holding `keys` and a repository to keep equal to it. */
function follow(t: Teardown, keys: KeySet): KeyFollow {
  const base = tempDir(t, 'pe-key-sync-');
  chmodSync(base, 0o755);
  return { name: 'fernet', source: secretVolume(join(base, 'secret'), filesOf(keys)), variable: 'KEYSTONE_FERNET_KEYS', dir: join(base, 'repo') };
}

/** A logger that keeps its lines. */
function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = {
    lines,
    traceEnabled: false,
    trace: () => {},
    info: (m: string) => void lines.push(`info ${m}`),
    warn: (m: string) => void lines.push(`warn ${m}`),
    error: (m: string) => void lines.push(`error ${m}`),
    withSecrets: () => log,
  };
  return log;
}

t.test('firstStep: every key of both sets with key 0 as it is now; nothing when 0 does not change', async (t) => {
  const now = set(['0', '1', '2']);
  const next = rotateKeySet(now, 3);
  const first = firstStep(now, next.after);
  t.same(first?.files.map((f) => f.name), ['0', '1', '2', '3'], 'the old keys kept, the new primary added');
  t.equal(first?.files[0]?.key, now.files[0]?.key, 'key 0 still the old staged key');
  t.equal(first?.files[3]?.key, now.files[0]?.key, 'the new primary 3 holds it too');
  t.equal(firstStep(now, { files: [now.files[0]!, ...set(['1', '5']).files] }), undefined, 'same 0: one step');
  t.equal(firstStep({ files: [] }, next.after), undefined, 'nothing there yet: one step');
});

t.test('syncOnce: the Secret as the kubelet updates it, installed; a rotation in two steps, the grace between', async (t) => {
  const keys = freshKeySet();
  const f = follow(t, keys);
  const first = await syncOnce(f, noOwner, 0);
  t.same(first.keys, keys);
  t.same(first.result.written, ['1', '0'], 'a new repository: one step');
  t.same(readKeySet(f.dir, 'repo'), keys);

  const r = rotateKeySet(keys, 3);
  updateSecretVolume(f.source, filesOf(r.after));
  const sleeps: number[] = [];
  const seen: string[][] = [];
  const time = {
    mono: () => performance.now(),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      seen.push(readdirSync(f.dir).filter((n) => !n.startsWith('.')).sort());
      // During the grace: 0 is still the old staged key, the new primary 2 holds it too.
      t.equal(readKeySet(f.dir, 'repo').files.find((k) => k.name === '0')?.key, keys.files[0]?.key, 'during the grace: the old key 0');
    },
  };
  const second = await syncOnce(f, noOwner, 1234, time);
  t.same(sleeps, [1234], 'one grace');
  t.same(seen, [['0', '1', '2']], 'the new primary was there before 0 changed');
  t.same(second.result.written, ['2', '0'], 'the new primary in the first step, the new 0 in the second');
  t.same(second.result.removed, []);
  t.same(readKeySet(f.dir, 'repo'), r.after);
  t.match(changeLine(f, second.keys, second.result), /^fernet keys in \S+ now as in \S+ \(KEYSTONE_FERNET_KEYS\): 3 keys: 0 \(staged\), 1, 2 \(primary\) \(wrote 2, 0\)$/);

  // Pruned at max_active_keys 3: the dropped key goes in the second step.
  const r2 = rotateKeySet(r.after, 3);
  updateSecretVolume(f.source, filesOf(r2.after));
  const third = await syncOnce(f, noOwner, 0);
  t.same(third.result.removed, ['1']);
  t.same(readKeySet(f.dir, 'repo'), r2.after);
  t.same((await syncOnce(f, noOwner, 0)).result.changed, false, 'nothing new: nothing written');
});

t.test('followKeys: follows every update; a bad Secret keeps the keys and is said once; a stop ends it', async (t) => {
  const keys = freshKeySet();
  const f = follow(t, keys);
  await syncOnce(f, noOwner, 0);
  const log = memoryLog();
  const stop = new AbortController();
  let passes = 0;
  const script: (() => void)[] = [
    () => updateSecretVolume(f.source, filesOf(rotateKeySet(keys, 3).after)),
    () => updateSecretVolume(f.source, { '0': freshKey(), '1': 'not a key at all' }),
    () => {},
    () => {},
    () => updateSecretVolume(f.source, filesOf(keys)),
    () => stop.abort(),
  ];
  const time = {
    mono: () => performance.now(),
    sleep: async (ms: number) => {
      if (ms === 5) script[passes++]?.();
    },
  };
  await followKeys([f], { owner: noOwner, log, intervalMs: 5, graceMs: 0, signal: stop.signal, time });
  t.equal(passes, 6, 'stopped at the abort');
  t.same(readKeySet(f.dir, 'repo'), keys, 'back to the Secret\'s keys');
  const errors = log.lines.filter((l) => l.startsWith('error'));
  t.equal(errors.length, 1, 'the bad Secret said once over three passes');
  t.match(errors[0], /^error KEYSTONE_FERNET_KEYS=\S+: file 1 is not a Fernet key \(16 characters, not 44; .*\); \S+ keeps the keys it has$/);
  t.match(log.lines.join('\n'), /info fernet keys in \S+: \S+ \(KEYSTONE_FERNET_KEYS\) is usable again/);
  t.equal(log.lines.filter((l) => /now as in/.test(l)).length, 2, 'two changes: the rotation, then back');
});

t.test('a killed pass leaves no temporary file a later pass does not clear, and the keys whole', async (t) => {
  const keys = freshKeySet();
  const f = follow(t, keys);
  await syncOnce(f, noOwner, 0);
  // What a kill between a temporary write and its rename leaves: a directory Keystone skips.
  const stale = join(f.dir, '.keystone-entrypoint-Ab12Cd');
  renameSync(tempDir(t, 'pe-stale-'), stale);
  writeFileSync(join(stale, '2'), freshKey());
  const past = new Date(Date.now() - 3600_000);
  utimesSync(stale, past, past);
  updateSecretVolume(f.source, filesOf(rotateKeySet(keys, 3).after));
  await syncOnce(f, noOwner, 0);
  t.notOk(existsSync(stale), 'the stale temporary directory removed');
  t.same(readdirSync(f.dir).sort(), ['0', '1', '2'], 'the keys, nothing else');
});

/**
 * Keystone's own load_keys in a loop beside the rotations (argv: repository, published keys,
 * stop file): each load must hold every key published before it started, the keys replicas
 * may sign with once a set is out: its primary and its staged key (the next primary).
 */
const READ_WHILE_ROTATING = `
import json, os, sys
import keystone.conf
keystone.conf.configure()
keystone.conf.CONF([], project='keystone', default_config_files=[])
from keystone.common import fernet_utils
repo, required, stop = sys.argv[1:4]
loads = missing = 0
while not os.path.exists(stop):
    need = json.load(open(required))
    got = set(fernet_utils.FernetUtils(repo, 1000, 'fernet_tokens').load_keys())
    loads += 1
    if not all(k in got for k in need):
        missing += 1
print(json.dumps({'loads': loads, 'missing': missing}))
`;

t.test('the real Keystone reading beside 100 rotations never misses a key a replica may sign with', async (t) => {
  const dir = keystoneDir();
  const python = dir ? join(dir, 'venv', 'bin', 'python') : undefined;
  if (!python || !existsSync(python)) {
    unavailable(t, 'the real Keystone reader: the Keystone venv is not built; run `bash test/services/keystone.sh` once');
    return;
  }
  let keys = freshKeySet();
  const f = follow(t, keys);
  await syncOnce(f, noOwner, 0);
  const required = join(tempDir(t, 'pe-key-sync-req-'), 'required.json');
  const stopFile = `${required}.stop`;
  const publish = (k: KeySet): void => {
    writeFileSync(`${required}.tmp`, JSON.stringify([k.files[0]?.key, k.files.at(-1)?.key]));
    renameSync(`${required}.tmp`, required);
  };
  publish(keys);
  const reader = spawn(python, ['-W', 'ignore', '-c', READ_WHILE_ROTATING, f.dir, required, stopFile], { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
  reader.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve) => reader.on('close', () => resolve()));
  await new Promise((r) => setTimeout(r, 2000)); // Keystone's imports
  for (let n = 0; n < 100; n++) {
    keys = rotateKeySet(keys, 1000).after;
    updateSecretVolume(f.source, filesOf(keys));
    // A grace far shorter than the sidecar's (STAGED_GRACE_MS), to keep the test short; long
    // enough that a reader stalled by a busy machine between its listdir and its open is rare.
    // Without it (0), about one rotation in forty gives a load without the new primary.
    await syncOnce(f, noOwner, 400);
    publish(keys);
  }
  writeFileSync(stopFile, '');
  await done;
  const result = JSON.parse(out.trim().split('\n').at(-1) || '{}') as { loads?: number; missing?: number };
  t.ok((result.loads ?? 0) > 100, `${result.loads} loads during the rotations${result.loads ? '' : `: ${err.slice(-300)}`}`);
  t.equal(result.missing, 0, 'no load without a key a replica may sign with');
});
