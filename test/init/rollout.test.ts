// rollout.ts's verdicts, exhaustively on small cases: who may start (an image older than the
// database is refused once a newer image's contract ran after its own init, or holds the
// lease now), and when a contract is due (only with no live replica of another image).
// Keystone's reading of db_sync --check (db-phases.ts) beside them.
import t from 'tap';
import { contractKey, contractVerdict, startVerdict } from '../../src/init/rollout.ts';
import type { DoneDoc, LeaseDoc } from '../../src/init/lease.ts';
import type { ReplicaRow } from '../../src/init/store.ts';
import { decideFromCheck } from '../../src/keystone/db-phases.ts';

const at = (s: number): Date => new Date(Date.UTC(2026, 11, 7, 12, 0, s));
const done = (key: string, s: number): DoneDoc => ({ _id: `done:${key}`, key, doneAt: at(s), host: 'h', holder: 'x', argv: [], durationMs: 0 });
const lease = (key: string | null, until: number): LeaseDoc => ({ _id: 'lease', holder: key ? 'someone' : null, host: 'pod-z', key, acquiredAt: at(0), renewedAt: at(0), expiresAt: at(until) });
const row = (host: string, key: string, live: boolean): ReplicaRow => ({ host, key, seenAt: at(1), live });

t.test('startVerdict', async (t) => {
  const now = at(30);
  t.same(startVerdict({ key: 'new', mine: null, contracts: [], lease: null, now }), { ok: true }, 'a new image on a database without contracts');
  t.same(startVerdict({ key: 'old', mine: done('old', 10), contracts: [done(contractKey('old'), 10)], lease: null, now }), { ok: true }, 'its own contract');
  t.same(startVerdict({ key: 'old', mine: done('old', 10), contracts: [done(contractKey('older'), 5)], lease: null, now }), { ok: true }, 'an earlier image\'s contract, before its init');
  const later = startVerdict({ key: 'old', mine: done('old', 10), contracts: [done(contractKey('new'), 20)], lease: null, now });
  t.equal(later.ok, false, "a newer image's contract after its init: refused");
  t.match(later.ok ? '' : later.why, /contracted by a newer image \(init key new/);
  t.same(startVerdict({ key: 'new', mine: done('new', 15), contracts: [done(contractKey('new'), 20)], lease: null, now }), { ok: true }, 'the newer image itself');
  // The lease: another key's contract running now refuses; expired, free, or an expand does not.
  t.equal(startVerdict({ key: 'old', mine: done('old', 10), contracts: [], lease: lease(contractKey('new'), 40), now }).ok, false, 'a contract in progress');
  t.equal(startVerdict({ key: 'old', mine: null, contracts: [], lease: lease(contractKey('new'), 40), now }).ok, false, 'a contract in progress, a new-to-it image');
  t.same(startVerdict({ key: 'old', mine: done('old', 10), contracts: [], lease: lease(contractKey('new'), 29), now }), { ok: true }, 'an expired contract lease');
  t.same(startVerdict({ key: 'old', mine: done('old', 10), contracts: [], lease: lease('new', 40), now }), { ok: true }, "another image's expand");
  t.same(startVerdict({ key: 'new', mine: done('new', 10), contracts: [], lease: lease(contractKey('new'), 40), now }), { ok: true }, 'its own contract running');
  t.same(startVerdict({ key: 'old', mine: done('old', 10), contracts: [], lease: lease(null, 40), now }), { ok: true }, 'a free lease');
});

t.test('contractVerdict', async (t) => {
  const base = { key: 'new', mine: done('new', 10), contracted: false, inits: [done('old', 5), done('new', 10)] };
  t.same(contractVerdict({ ...base, inits: [done('new', 10)], replicas: [] }), { run: true }, 'no rows at all, no image before');
  const legacy = contractVerdict({ ...base, replicas: [row('a', 'new', true)] });
  t.equal(legacy.run, false, 'the image before left no rows: its replicas cannot be vouched for');
  t.match(legacy.run ? '' : legacy.why, /the image before this one \(init key old\) left no replica rows/);
  t.same(contractVerdict({ ...base, inits: [done('older', 1), done('old', 5), done('new', 10), done('newer', 20)], replicas: [row('a', 'new', true), row('b', 'old', false)] }), { run: true }, 'the image before is the last init before its own; an expired row of it vouches');
  t.same(contractVerdict({ ...base, replicas: [row('a', 'new', true), row('b', 'new', true), row('z', 'old', false)] }), { run: true }, 'only its own image live');
  t.same(contractVerdict({ ...base, replicas: [row('a', 'new', true), row('b', 'old', false)] }), { run: true }, 'an old row past its TTL: a replica gone (or dead without a word)');
  const held = contractVerdict({ ...base, replicas: [row('a', 'new', true), row('b', 'old', true), row('c', 'old', true)] });
  t.equal(held.run, false);
  t.match(held.run ? '' : held.why, /^2 replicas of another image still serve: b \(init key old, .*c \(init key old/);
  t.match(contractVerdict({ ...base, replicas: [row('y', 'old', false), row('z', 'newer', true)] }), { run: false, why: /^1 replica of another image still serves: z/ }, 'any other key holds it back, newer too');
  t.same(contractVerdict({ ...base, contracted: true, replicas: [] }), { run: false, why: 'already done' });
  t.equal(contractVerdict({ ...base, mine: null, replicas: [] }).run, false, 'no contract before its own init is recorded');
});

t.test("Keystone's db_sync --check", async (t) => {
  t.same(decideFromCheck(2), { expand: true, why: 'db_sync --check: the expand is due (2)' });
  t.match(decideFromCheck(4), { expand: false, why: /contract is pending \(4\)/ });
  t.match(decideFromCheck(0), { expand: false, why: /nothing to migrate/ });
  for (const code of [1, 3, 127, 137]) t.match(decideFromCheck(code), { refuse: new RegExp(`^keystone-manage db_sync --check failed \\(exit code ${code}\\)`) }, `code ${code}: refused`);
});
