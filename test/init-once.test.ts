// The init's lease logic (src/init/once.ts) against an in-memory store and a fake clock:
// fast, no servers. The same logic runs on FerretDB in init-ferretdb.test.ts.
import t from 'tap';
import { createLogger } from '../src/log.ts';
import { type DoneDoc, type Holder, LEASE_ID, type LeaseDoc, acquireUpdate, doneId, isDuplicateKey, leaseState, releaseUpdate, renewUpdate } from '../src/init/lease.ts';
import { type Clock, awaitInitDone, runInitOnce } from '../src/init/once.ts';
import type { InitStore } from '../src/init/store.ts';
import { initKeyOf } from '../src/init/key.ts';

function memoryStore(): InitStore & { lease: LeaseDoc | null; done: Map<string, DoneDoc>; renewals: number } {
  const s = {
    lease: null as LeaseDoc | null,
    done: new Map<string, DoneDoc>(),
    renewals: 0,
    async findDone(key: string) {
      return s.done.get(key) ?? null;
    },
    async readLease() {
      return s.lease;
    },
    async tryAcquire(holder: Holder, key: string, now: Date, ttlMs: number) {
      const st = leaseState(s.lease, now);
      if (st.state === 'held' && st.by !== holder.id) return { acquired: false as const, current: s.lease };
      const before = s.lease;
      s.lease = { _id: LEASE_ID, ...acquireUpdate(holder, key, now, ttlMs).$set };
      return { acquired: true as const, tookOver: before && before.holder !== null && before.holder !== holder.id ? before : null };
    },
    async renew(holder: Holder, now: Date, ttlMs: number) {
      if (s.lease?.holder !== holder.id) return false;
      s.renewals++;
      s.lease = { ...s.lease, ...renewUpdate(now, ttlMs).$set };
      return true;
    },
    async release(holder: Holder, now: Date) {
      if (s.lease?.holder === holder.id) s.lease = { ...s.lease, ...releaseUpdate(now).$set };
    },
    async markDone(doc: DoneDoc) {
      s.done.set(doc.key, doc);
    },
  };
  return s;
}

function fakeClock(start = 1_000_000): Clock & { t: number } {
  const c = {
    t: start,
    now: () => new Date(c.t),
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) return;
      c.t += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  return c;
}

function capture(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) }), lines };
}

const A: Holder = { id: 'podA:1:aa', host: 'podA' };
const B: Holder = { id: 'podB:1:bb', host: 'podB' };

t.test('runs, records, releases; a second start skips and says when and where', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const { log, lines } = capture();
  let runs = 0;
  const base = { store, key: 'k1', force: false, argv: ['/usr/bin/pulp-manage-db'], deadline: clock.t + 60_000, log, clock, ttlMs: 3000 };
  const first = await runInitOnce({ ...base, holder: A, run: async () => (runs++, 0) });
  t.equal(first.ran, true);
  t.equal(store.lease?.holder, null, 'lease released');
  t.equal(store.done.get('k1')?.host, 'podA');
  const second = await runInitOnce({ ...base, holder: B, run: async () => (runs++, 0) });
  t.equal(second.ran, false);
  t.equal(runs, 1);
  t.match(lines.join(''), /init k1 already done at .* on podA: skipping it/);
  const forced = await runInitOnce({ ...base, holder: B, force: true, run: async () => (runs++, 0) });
  t.equal(forced.ran, true);
  t.equal(runs, 2, 'PULP_FORCE_INIT runs it again');
  t.equal(store.done.get('k1')?.host, 'podB');
});

t.test('failure: the init code comes back, no record, lease released', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  await t.rejects(
    runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => 3, deadline: clock.t + 1000, log: capture().log, clock }),
    { name: 'ChildFailedError', exitCode: 3, message: /init pmd failed with exit code 3/ },
  );
  t.equal(store.done.size, 0);
  t.equal(store.lease?.holder, null);
  // A run that throws releases too.
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => Promise.reject(new Error('boom')), deadline: clock.t + 1000, log: capture().log, clock }), /boom/);
  t.equal(store.lease?.holder, null);
});

t.test('renewed every ttl/3 while the init runs', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const run = async (): Promise<number> => {
    // The init "runs" for 10 s of fake time, in steps that let the renew loop in.
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
    return 0;
  };
  await runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run, deadline: clock.t + 1000, log: capture().log, clock, ttlMs: 3000 });
  t.ok(store.renewals >= 3, `renewed ${store.renewals} times`);
});

t.test('a live lease of another holder is waited for; its record ends the wait', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const { log, lines } = capture();
  await store.tryAcquire(B, 'k', clock.now(), 60_000);
  let waited = 0;
  const origSleep = clock.sleep;
  clock.sleep = async (ms, signal) => {
    waited++;
    if (waited === 3) await store.markDone({ _id: doneId('k'), key: 'k', doneAt: clock.now(), host: 'podB', holder: B.id, argv: [], durationMs: 5 });
    return origSleep(ms, signal);
  };
  const r = await runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => t.fail('must not run') as never, deadline: clock.t + 60_000, log, clock });
  t.equal(r.ran, false);
  t.match(lines.join(''), /waiting for the init lease: podB:1:bb on podB holds it until/);
});

t.test('an expired lease is taken over, with a warning', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const { log, lines } = capture();
  await store.tryAcquire(B, 'k', clock.now(), 3000);
  let runs = 0;
  const r = await runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => (runs++, 0), deadline: clock.t + 60_000, log, clock, ttlMs: 3000, pollMs: 500 });
  t.equal(r.ran, true);
  t.equal(runs, 1);
  t.ok(clock.t >= 1_000_000 + 3000, 'not before the lease expired');
  t.match(lines.join(''), /took over the init lease of podB:1:bb on podB/);
});

t.test('a lease held past the deadline is 69', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  await store.tryAcquire(B, 'k', clock.now(), 600_000);
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => 0, deadline: clock.t + 2000, log: capture().log, clock }), {
    name: 'UnavailableError',
    exitCode: 69,
    message: /still held by podB:1:bb on podB/,
  });
});

t.test('awaitInitDone: returns the record, or 69 at the deadline saying what it waited for', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const { log, lines } = capture();
  await store.tryAcquire(B, 'k', clock.now(), 600_000);
  await t.rejects(awaitInitDone({ store, key: 'k', deadline: clock.t + 2000, log, clock }), { name: 'UnavailableError', exitCode: 69, message: /one-time init k was not recorded before the deadline/ });
  t.match(lines.join(''), /waiting for the one-time init k .*podB:1:bb on podB is running it now/);
  await store.markDone({ _id: doneId('k'), key: 'k', doneAt: clock.now(), host: 'podB', holder: B.id, argv: [], durationMs: 1 });
  const d = await awaitInitDone({ store, key: 'k', deadline: clock.t + 2000, log, clock });
  t.equal(d.host, 'podB');
});

t.test('pure bits', async (t) => {
  t.ok(isDuplicateKey({ code: 11000 }));
  t.ok(isDuplicateKey(new Error('E11000 duplicate key error collection')));
  t.notOk(isDuplicateKey(new Error('other')));
  t.notOk(isDuplicateKey(null));
  t.same(leaseState(null, new Date()), { state: 'free' });
  const facts = { path: '/usr/bin/pulp-manage-db', args: [], size: 10, mtimeSeconds: 5, sha256: 'ab' };
  t.match(initKeyOf(facts), /^pulp-manage-db@[0-9a-f]{16}$/);
  t.equal(initKeyOf(facts), initKeyOf({ ...facts }));
  t.not(initKeyOf(facts), initKeyOf({ ...facts, sha256: 'ac' }), 'content changes the key');
  t.not(initKeyOf(facts), initKeyOf({ ...facts, mtimeSeconds: 6 }), 'mtime changes the key');
  t.not(initKeyOf(facts), initKeyOf({ ...facts, args: ['--dry-run'] }), 'arguments change the key');
});

t.test('resolveInitKey: PULP_INIT_KEY wins; the default needs the program', async (t) => {
  const { resolveInitKey } = await import('../src/init/key.ts');
  t.equal(await resolveInitKey(['pulp-manage-db'], { PULP_INIT_KEY: ' pulp-2.21.5 ' }), 'pulp-2.21.5');
  await t.rejects(resolveInitKey(['pulp-manage-db'], { PATH: '/nonexistent' }), { name: 'InputError', message: /pulp-manage-db is not found on PATH.*set PULP_INIT_KEY/ });
  const k1 = await resolveInitKey(['sh'], { PATH: '/usr/bin' });
  t.match(k1, /^sh@[0-9a-f]{16}$/);
  t.equal(await resolveInitKey(['sh'], { PATH: '/usr/bin' }), k1, 'stable');
});
