// src/keystone/key-rotation.ts: a rotation as keystone-manage does it, exhaustively over small
// key sets and against the real keystone-manage fernet_rotate on temporary repositories; the
// check of max_active_keys against token lifetimes at a schedule; the Secret's record of
// rotations and the check that no key is dropped while tokens it signed may live.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installKeySet } from '../../src/conf-file/key-repository.ts';
import { KEY_NAME, type KeySet, freshKey } from '../../src/conf-file/key-set.ts';
import { parseCronSchedule } from '../../src/kube-api/cron-schedule.ts';
import { PROPAGATION_SEC, credentialKeyLife, historyRefusal, neededMaxActiveKeys, parseHistory, rotateKeySet, scheduleRefusal, tokenKeyLife, withRotation } from '../../src/keystone/key-rotation.ts';
import { keystoneDir } from '../helpers/keystone.ts';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

const set = (names: readonly (string | number)[]): KeySet => ({ files: names.map((n) => ({ name: String(n), key: freshKey() })) });
const names = (k: KeySet): string[] => k.files.map((f) => f.name);
const LIFE = { expirationSec: 3600, allowExpiredWindowSec: 172800 };

t.test('the staged key becomes primary highest + 1, a fresh 0, the lowest beyond max_active_keys dropped', async (t) => {
  const before = set([0, 1]);
  const r = rotateKeySet(before, 3);
  t.same(names(r.after), ['0', '1', '2']);
  t.equal(r.promoted, '2');
  t.equal(r.after.files[2]?.key, before.files[0]?.key, 'the new primary is the old staged key');
  t.equal(r.after.files[1]?.key, before.files[1]?.key, 'the old primary kept');
  t.not(r.after.files[0]?.key, before.files[0]?.key, 'a fresh staged key');
  t.same(r.removed, []);
  const full = rotateKeySet(r.after, 3);
  t.same(names(full.after), ['0', '2', '3']);
  t.same(full.removed, ['1']);
  t.same(names(rotateKeySet(set([0, 1, 5, 9]), 3).after), ['0', '9', '10'], 'gaps: highest + 1');
  t.same(rotateKeySet(set([0, 1, 2, 3, 4, 5]), 3).removed, ['1', '2', '3', '4'], 'max_active_keys lowered: every excess key at once, as Keystone does');
  t.same(names(rotateKeySet(set([0, 1]), 1).after), ['0'], 'max_active_keys 1: only the staged key is left (Keystone does the same)');
  t.same(names(rotateKeySet(set([0, '9007199254740993']), 3).after), ['0', '9007199254740993', '9007199254740994'], 'past 2^53: exact');
});

t.test('exhaustive over small sets: the invariants of Keystone\'s rotate_keys', async (t) => {
  let checked = 0;
  for (let max = 1; max <= 6; max++) {
    for (let mask = 1; mask < 1 << 7; mask++) {
      const ns = [0, ...[1, 2, 3, 4, 5, 6, 7].filter((_, i) => mask & (1 << i))];
      const before = set(ns);
      const r = rotateKeySet(before, max);
      const top = Math.max(...ns) + 1;
      const expectKept = [...ns.filter((n) => n !== 0), top].sort((a, b) => b - a).slice(0, Math.max(0, max - 1));
      if (names(r.after).join() !== ['0', ...expectKept.sort((a, b) => a - b).map(String)].join()) t.fail(`max ${max} from ${ns}: ${names(r.after)}`);
      if (r.after.files.length > max) t.fail(`max ${max} from ${ns}: ${r.after.files.length} keys`);
      checked++;
    }
  }
  t.equal(checked, 6 * 127, 'every subset of 1..7 with 0, max_active_keys 1..6');
});

t.test('the same key numbers as the real keystone-manage fernet_rotate, pruning included', async (t) => {
  const dir = keystoneDir();
  if (!dir) {
    unavailable(t, 'keystone-manage fernet_rotate: the Keystone venv is not built; run `bash test/services/keystone.sh` once');
    return;
  }
  const manage = join(dir, 'venv', 'bin', 'keystone-manage');
  const starts: [number[], number][] = [
    [[0, 1], 3],
    [[0, 1, 2], 3],
    [[0, 1, 2, 3, 4], 3],
    [[0, 1, 4, 9], 5],
    [[0, 7], 2],
    [[0, 1, 2, 3], 1],
    [[0, 3, 4, 5, 6, 7, 8], 4],
  ];
  for (const [start, max] of starts) {
    const work = tempDir(t, 'pe-rotate-real-');
    const repo = join(work, 'fernet-keys');
    const conf = join(work, 'keystone.conf');
    writeFileSync(conf, `[fernet_tokens]\nkey_repository = ${repo}\nmax_active_keys = ${max}\n[fernet_receipts]\nkey_repository = ${join(work, 'receipts')}\n`);
    // keystone-manage fernet_rotate rotates the receipts' repository too: it needs keys of its own.
    installKeySet(join(work, 'receipts'), set([0, 1]), { uid: undefined, gid: undefined });
    let ours = set(start);
    installKeySet(repo, ours, { uid: undefined, gid: undefined });
    // Three rotations each way, from the same start.
    for (let n = 1; n <= 3; n++) {
      const r = spawnSync(manage, ['--config-file', conf, 'fernet_rotate', '--keystone-user', 'root', '--keystone-group', 'root'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' }, timeout: 120_000 });
      if (r.status !== 0) {
        t.fail(`keystone-manage fernet_rotate: ${r.stderr.slice(-300)}`);
        break;
      }
      // As Keystone lists them (readKeySet would refuse the lone key 0 max_active_keys 1 leaves).
      const theirs: KeySet = { files: readdirSync(repo).filter((f) => KEY_NAME.test(f)).sort((a, b) => Number(a) - Number(b)).map((name) => ({ name, key: readFileSync(join(repo, name), 'latin1') })) };
      ours = rotateKeySet(ours, max).after;
      t.same(names(ours), names(theirs), `from ${start} at max_active_keys ${max}, rotation ${n}: ${names(theirs).join(' ')}`);
      // Beyond the numbers: the same keys kept under each number (all but the fresh 0).
      const kept = (k: KeySet): string[] => k.files.filter((f) => f.name !== '0').map((f) => `${f.name}=${f.key}`);
      t.same(kept(ours), kept(theirs), `rotation ${n}: the same key under each number`);
      // Go on from Keystone's own repository, so both keep the same keys.
      ours = theirs;
    }
  }
});

t.test("Keystone's formula, and the schedule check: a refusal gives the numbers", async (t) => {
  t.equal(neededMaxActiveKeys(LIFE, 86400), 5, 'daily with the defaults: (3600 + 172800) / 86400 + 2, rounded up');
  t.equal(neededMaxActiveKeys({ expirationSec: 3600, allowExpiredWindowSec: 0 }, 3600), 3);
  t.equal(neededMaxActiveKeys(LIFE, 3600), 51, 'hourly');
  const daily = parseCronSchedule('0 3 * * *');
  t.equal(scheduleRefusal(5, LIFE, daily, 'KEYSTONE_ROTATION_SCHEDULE'), undefined, 'the shipped manifests: 5 at daily');
  t.equal(scheduleRefusal(3, { expirationSec: 3600, allowExpiredWindowSec: 0 }, parseCronSchedule('@hourly'), 'S'), undefined, 'exactly enough');
  t.equal(
    scheduleRefusal(3, LIFE, daily, 'KEYSTONE_ROTATION_SCHEDULE'),
    "[fernet_tokens] max_active_keys = 3 drops a key 1 rotation after it stops signing (24 h at the quickest), but tokens live 49 h ([token] expiration 3600 s + allow_expired_window 172800 s) and keys rotate as often as every 24 h (KEYSTONE_ROTATION_SCHEDULE \"0 3 * * *\"): Keystone's formula (176400 / 86400 + 2, rounded up) needs max_active_keys = 5",
  );
  t.match(scheduleRefusal(2, LIFE, daily, 'S'), /drops a key at the very rotation it stops signing/);
  t.match(scheduleRefusal(5, LIFE, parseCronSchedule('0 3 * * 1-5'), 'S'), undefined, 'weekdays: three intervals take at least 3 days');
  t.match(scheduleRefusal(4, LIFE, parseCronSchedule('0 3 * * 1-5'), 'S'), /max_active_keys = 4 drops a key 2 rotations after it stops signing \(48 h at the quickest\)/);
  t.equal(scheduleRefusal(3, LIFE, parseCronSchedule('0 0 29 2 *'), 'S'), undefined, 'too rare to matter');
});

t.test("the Secret's record: newest first, bounded, unreadable items dropped", async (t) => {
  const at = (s: string): Date => new Date(s);
  t.same(parseHistory('3@2026-12-07T03:00:00.000Z  2@2026-12-06T03:00:00.000Z junk 4@notadate'), [
    { primary: '3', at: at('2026-12-07T03:00:00.000Z') },
    { primary: '2', at: at('2026-12-06T03:00:00.000Z') },
  ]);
  t.same(parseHistory(undefined), []);
  let text = '';
  for (let n = 1; n <= 40; n++) text = withRotation(parseHistory(text), { primary: String(n), at: new Date(Date.UTC(2026, 0, n)) });
  const h = parseHistory(text);
  t.equal(h.length, 32, 'the last 32');
  t.equal(h[0]?.primary, '40', 'newest first');
});

t.test('historyRefusal: a key is dropped only once what it encrypted is dead (tokens; cached credentials)', async (t) => {
  const keys = set([0, 2, 3, 4, 5]); // 5 primary
  const r = rotateKeySet(keys, 5); // drops 2
  t.same(r.removed, ['2']);
  const now = new Date('2026-12-07T03:00:00Z');
  const hoursAgo = (h: number): Date => new Date(now.getTime() - h * 3600_000);
  const tokens = tokenKeyLife(LIFE);
  // Key 2 stopped being the primary when 3 became primary.
  t.equal(historyRefusal(r, [{ primary: '3', at: hoursAgo(50) }], tokens, now), undefined, '50 h ago: its tokens are dead (49 h)');
  t.equal(
    historyRefusal(r, [{ primary: '5', at: hoursAgo(0.2) }, { primary: '4', at: hoursAgo(0.4) }, { primary: '3', at: hoursAgo(0.6) }], tokens, now),
    'rotating now drops key 2, the primary until 2026-12-07T02:24:00.000Z (36 min ago), and tokens live 49 h ([token] expiration + allow_expired_window): the next rotation may run after 2026-12-09T03:24:00.000Z',
  );
  t.equal(historyRefusal(r, [], tokens, now), undefined, 'no record of key 3 (the first set, or older than the record): not judged');
  t.equal(historyRefusal(rotateKeySet(set([0, 1]), 5), [{ primary: '2', at: now }], tokens, now), undefined, 'nothing dropped: nothing to judge');

  // Credentials: the rotated Secret's way to every replica, then each replica's cache of the stored row.
  const creds = credentialKeyLife(600);
  t.equal(creds.seconds, PROPAGATION_SEC + 600);
  const cr = rotateKeySet(set([0, 1, 2]), 3); // drops 1
  const minutesAgo = (m: number): Date => new Date(now.getTime() - m * 60_000);
  t.match(historyRefusal(cr, [{ primary: '2', at: minutesAgo(5) }], creds, now), /^rotating now drops key 1, the primary until \S+ \(5 min ago\), and replicas may use credentials encrypted with it for 13 min after \(a rotated Secret reaches every replica within about 3 min, and each caches credentials as stored for 600 s: \[credential\] cache_time, else \[cache\] expiration_time\): the next rotation may run after 2026-12-07T03:08:00.000Z$/);
  t.equal(historyRefusal(cr, [{ primary: '2', at: minutesAgo(14) }], creds, now), undefined, '14 min ago: no replica can still hold it');
  t.equal(historyRefusal(cr, [{ primary: '2', at: minutesAgo(4) }], credentialKeyLife(0), now), undefined, 'without a cache: the propagation alone (3 min)');
});
