// The init's lease logic (src/init/once.ts) against an in-memory store and a fake clock:
// fast, no servers. The same logic runs on FerretDB in test/init/ferretdb.test.ts.
import t from 'tap';
import { createLogger } from '../../src/common/log.ts';
import { type DoneDoc, type Holder, LEASE_ID, type LeaseDoc, acquireUpdate, doneId, isDuplicateKey, leaseState, releaseUpdate, renewUpdate } from '../../src/init/lease.ts';
import { runInitOnce } from '../../src/init/once.ts';
import { awaitInitDone } from '../../src/init/await-done.ts';
import type { Clock } from '../../src/init/store-call.ts';
import type { InitStore } from '../../src/init/store.ts';
import { initKeyOf } from '../../src/init/key.ts';
import { StoreError } from '../../src/init/store-error.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import { toStoreError } from '../../src/init/mongo-store.ts';

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
      s.lease = { _id: LEASE_ID, committing: s.lease?.committing ?? null, ...acquireUpdate(holder, key, now, ttlMs).$set };
      return { acquired: true as const, tookOver: before && before.holder !== null && before.holder !== holder.id ? before : null, pending: before?.committing ?? null };
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
    async commit(holder: Holder, doc: DoneDoc, now: Date, ttlMs: number) {
      if (s.lease?.holder !== holder.id) return false;
      s.lease = { ...s.lease, committing: doc, ...renewUpdate(now, ttlMs).$set };
      return true;
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
    mono: () => c.t,
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
  const base = { store, key: 'k1', force: false, argv: ['/usr/bin/pulp-manage-db'], deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 3000 };
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
    runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => 3, deadline: deadlineIn(1000, clock), log: capture().log, clock }),
    { name: 'ChildFailedError', exitCode: 3, message: /init pmd failed with exit code 3/ },
  );
  t.equal(store.done.size, 0);
  t.equal(store.lease?.holder, null);
  // A run that throws releases too.
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => Promise.reject(new Error('boom')), deadline: deadlineIn(1000, clock), log: capture().log, clock }), /boom/);
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
  await runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run, deadline: deadlineIn(1000, clock), log: capture().log, clock, ttlMs: 3000 });
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
  const r = await runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => t.fail('must not run') as never, deadline: deadlineIn(60_000, clock), log, clock });
  t.equal(r.ran, false);
  t.match(lines.join(''), /waiting for the init lease: podB:1:bb on podB holds it until/);
});

t.test('an expired lease is taken over, with a warning', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const { log, lines } = capture();
  await store.tryAcquire(B, 'k', clock.now(), 3000);
  let runs = 0;
  const r = await runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => (runs++, 0), deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 3000, pollMs: 500 });
  t.equal(r.ran, true);
  t.equal(runs, 1);
  t.ok(clock.t >= 1_000_000 + 3000, 'not before the lease expired');
  t.match(lines.join(''), /took over the init lease of podB:1:bb on podB/);
});

t.test('a lease held past the deadline is 69', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  await store.tryAcquire(B, 'k', clock.now(), 600_000);
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => 0, deadline: deadlineIn(2000, clock), log: capture().log, clock }), {
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
  await t.rejects(awaitInitDone({ store, key: 'k', deadline: deadlineIn(2000, clock), log, clock }), { name: 'UnavailableError', exitCode: 69, message: /one-time init k was not recorded before the deadline/ });
  t.match(lines.join(''), /waiting for the one-time init k .*podB:1:bb on podB is running it now/);
  await store.markDone({ _id: doneId('k'), key: 'k', doneAt: clock.now(), host: 'podB', holder: B.id, argv: [], durationMs: 1 });
  const d = await awaitInitDone({ store, key: 'k', deadline: deadlineIn(2000, clock), log, clock });
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
  const { resolveInitKey } = await import('../../src/init/key.ts');
  t.equal(await resolveInitKey(['pulp-manage-db'], 'pulp-2.21.5', '/nonexistent'), 'pulp-2.21.5', 'a given key needs no program');
  await t.rejects(resolveInitKey(['pulp-manage-db'], undefined, '/nonexistent'), { name: 'InputError', message: /pulp-manage-db is not found on PATH.*set PULP_INIT_KEY/ });
  const k1 = await resolveInitKey(['sh'], undefined, '/usr/bin');
  t.match(k1, /^sh@[0-9a-f]{16}$/);
  t.equal(await resolveInitKey(['sh'], undefined, '/usr/bin'), k1, 'stable');
});

// A store whose calls fail as scripted: `failures[method]` is how many calls fail next (Infinity:
// all of them), with `error`. The memory store answers the others.
type Method = 'findDone' | 'readLease' | 'tryAcquire' | 'renew' | 'release' | 'commit' | 'markDone';
function failingStore(failures: Partial<Record<Method, number>>, error: () => unknown): ReturnType<typeof memoryStore> & { calls: Record<Method, number> } {
  const inner = memoryStore();
  const calls: Record<Method, number> = { findDone: 0, readLease: 0, tryAcquire: 0, renew: 0, release: 0, commit: 0, markDone: 0 };
  const guard = <A extends unknown[], R>(m: Method, f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      calls[m]++;
      const left = failures[m] ?? 0;
      if (left > 0) {
        failures[m] = left - 1;
        throw error();
      }
      return f(...a);
    };
  return Object.assign(inner, {
    calls,
    findDone: guard('findDone', inner.findDone),
    readLease: guard('readLease', inner.readLease),
    tryAcquire: guard('tryAcquire', inner.tryAcquire),
    renew: guard('renew', inner.renew),
    release: guard('release', inner.release),
    commit: guard('commit', inner.commit),
    markDone: guard('markDone', inner.markDone),
  });
}

const refused = (): StoreError => new StoreError('connection refused (connect ECONNREFUSED 10.0.0.5:27017)', true, 'is the server running and listening on that port?');
const forbidden = (): StoreError => new StoreError('not authorized (not authorized on pulp_database to execute command)', false, 'give the database user the readWrite role on database pulp_database');
const STORE = 'MongoDB at 10.0.0.5:27017 (database pulp_database)';

t.test('awaitInitDone: transient store errors are retried, one line each with the reason', async (t) => {
  const store = failingStore({ findDone: 2 }, refused);
  const clock = fakeClock();
  const { log, lines } = capture();
  await store.markDone({ _id: doneId('k'), key: 'k', doneAt: clock.now(), host: 'podB', holder: B.id, argv: [], durationMs: 1 });
  const d = await awaitInitDone({ store, storeName: STORE, key: 'k', deadline: deadlineIn(60_000, clock), log, clock });
  t.equal(d.host, 'podB');
  t.equal(store.calls.findDone, 3);
  const retries = lines.filter((l) => /warn: cannot read the init record of k in MongoDB at 10\.0\.0\.5:27017 \(database pulp_database\): connection refused .*; trying again in \d+ ms/.test(l));
  t.equal(retries.length, 2, lines.join(''));
});

t.test('awaitInitDone: a database that stays away is 69 at the deadline, one line naming it', async (t) => {
  const store = failingStore({ findDone: Infinity }, refused);
  const clock = fakeClock();
  const { log } = capture();
  const err = await awaitInitDone({ store, storeName: STORE, key: 'k', deadline: deadlineIn(5000, clock), log, clock }).then(
    () => t.fail('must not resolve') as never,
    (e: unknown) => e as Error & { exitCode: number },
  );
  t.equal(err.name, 'UnavailableError');
  t.equal(err.exitCode, 69);
  t.match(err.message, /^cannot read the init record of k in MongoDB at 10\.0\.0\.5:27017 \(database pulp_database\): connection refused .*still at the deadline after \d+ attempts; is the server running/);
  t.notMatch(err.message, /\n/);
  t.ok(clock.t >= 1_000_000 + 5000, 'kept trying until the deadline');
  t.ok(clock.t < 1_000_000 + 5000 + 2000, 'and not much longer');
});

t.test('awaitInitDone: a permission error is 69 at once, with what to fix', async (t) => {
  const store = failingStore({ findDone: Infinity }, forbidden);
  const clock = fakeClock();
  await t.rejects(awaitInitDone({ store, storeName: STORE, key: 'k', deadline: deadlineIn(60_000, clock), log: capture().log, clock }), {
    name: 'UnavailableError',
    exitCode: 69,
    message: /^cannot read the init record of k in MongoDB at 10\.0\.0\.5:27017 \(database pulp_database\): not authorized .*; give the database user the readWrite role/,
  });
  t.equal(store.calls.findDone, 1, 'no retry');
});

t.test('retry lines never show a password', async (t) => {
  const store = failingStore({ findDone: 1 }, () => new StoreError('failed (bad uri mongodb://pulp:s3cret-pw-in-error@db)', true, 'x'));
  const clock = fakeClock();
  const { log: plain, lines } = capture();
  const log = plain.withSecrets(['s3cret-pw-in-error']);
  await store.markDone({ _id: doneId('k'), key: 'k', doneAt: clock.now(), host: 'podB', holder: B.id, argv: [], durationMs: 1 });
  await awaitInitDone({ store, key: 'k', deadline: deadlineIn(60_000, clock), log, clock });
  t.match(lines.join(''), /cannot read the init record of k in the init database: failed \(bad uri mongodb:\/\/pulp:\*{8}@db\)/);
  t.notMatch(lines.join(''), /s3cret/);
});

t.test('runInitOnce: transient errors while taking the lease are retried, then the init runs', async (t) => {
  const store = failingStore({ findDone: 1, tryAcquire: 2 }, refused);
  const clock = fakeClock();
  const { log, lines } = capture();
  let runs = 0;
  const r = await runInitOnce({ store, storeName: STORE, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => (runs++, 0), deadline: deadlineIn(60_000, clock), log, clock });
  t.equal(r.ran, true);
  t.equal(runs, 1);
  t.equal(lines.filter((l) => /cannot take the init lease in MongoDB at 10\.0\.0\.5:27017 .*: connection refused/.test(l)).length, 2);
  t.ok(store.done.has('k'));
});

t.test('runInitOnce: a database gone while waiting for the lease is 69 at the deadline; the init never runs', async (t) => {
  const store = failingStore({ tryAcquire: Infinity }, refused);
  const clock = fakeClock();
  await t.rejects(runInitOnce({ store, storeName: STORE, key: 'k', force: false, holder: A, argv: ['pmd'], run: async () => t.fail('must not run') as never, deadline: deadlineIn(3000, clock), log: capture().log, clock }), {
    name: 'UnavailableError',
    exitCode: 69,
    message: /^cannot take the init lease in MongoDB at 10\.0\.0\.5:27017 \(database pulp_database\): connection refused .*at the deadline/,
  });
});

t.test('runInitOnce: an init that ran but whose record cannot be written says so and is 69', async (t) => {
  const store = failingStore({ markDone: Infinity }, forbidden);
  const clock = fakeClock();
  let runs = 0;
  const err = await runInitOnce({ store, storeName: STORE, key: 'k', force: false, holder: A, argv: ['/usr/bin/pulp-manage-db'], run: async () => (runs++, 0), deadline: deadlineIn(60_000, clock), log: capture().log, clock }).then(
    () => t.fail('must not resolve') as never,
    (e: unknown) => e as Error & { exitCode: number },
  );
  t.equal(runs, 1);
  t.equal(err.exitCode, 69);
  t.match(err.message, /^init \/usr\/bin\/pulp-manage-db ran successfully, but its completion record k could not be written to MongoDB at 10\.0\.0\.5:27017 \(database pulp_database\), so the next start will run the init again: not authorized/);
  t.equal(store.calls.markDone, 1, 'a permission error is not retried');
  t.equal(store.lease?.holder, null, 'lease released');
  t.equal(store.done.size, 0);
});

t.test('runInitOnce: a transient record failure is retried for one lease TTL after the init, even past the deadline', async (t) => {
  const clock = fakeClock();
  // The init takes 90 s of fake time: far past the 60 s start-up deadline (the watchdog renews meanwhile).
  const slowRun = async (): Promise<number> => {
    const end = clock.t + 90_000;
    while (clock.t < end) await new Promise((r) => setImmediate(r));
    return 0;
  };
  const flaky = failingStore({ markDone: 2 }, refused);
  const r = await runInitOnce({ store: flaky, key: 'k', force: false, holder: A, argv: ['pmd'], run: slowRun, deadline: deadlineIn(60_000, clock), log: capture().log, clock, ttlMs: 30_000 });
  t.equal(r.ran, true);
  t.equal(flaky.calls.markDone, 3);
  t.ok(flaky.done.has('k'));

  const gone = failingStore({ markDone: Infinity }, refused);
  const ended = clock.t + 90_000;
  await t.rejects(runInitOnce({ store: gone, key: 'k', force: false, holder: A, argv: ['pmd'], run: slowRun, deadline: deadlineIn(60_000, clock), log: capture().log, clock, ttlMs: 30_000 }), {
    exitCode: 69,
    message: /ran successfully, but its completion record k could not be written to the init database, so the next start will run the init again: connection refused .*at the deadline/,
  });
  t.ok(clock.t >= ended + 30_000, 'retried for the lease TTL');
});

t.test('runInitOnce: a renewal that fails is logged and the init goes on', async (t) => {
  const store = failingStore({ renew: 1 }, refused);
  const clock = fakeClock();
  const { log, lines } = capture();
  const run = async (): Promise<number> => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    return 0;
  };
  const r = await runInitOnce({ store, storeName: STORE, key: 'k', force: false, holder: A, argv: ['pmd'], run, deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 3000 });
  t.equal(r.ran, true);
  t.ok(lines.some((l) => /warn: cannot renew the init lease in MongoDB at 10\.0\.0\.5:27017 .*: connection refused .*; trying again in 1000 ms/.test(l)));
});

/** An init that runs until stopped (resolving 143, as SIGTERM gives), or `max` turns. */
function stoppableRun(max = 10_000): { run: (stop: AbortSignal) => Promise<number>; stopped: () => boolean } {
  let stopped = false;
  return {
    stopped: () => stopped,
    run: async (stop) => {
      for (let i = 0; i < max; i++) {
        if (stop.aborted) {
          stopped = true;
          return 143;
        }
        await new Promise((r) => setImmediate(r));
      }
      return 0;
    },
  };
}

t.test('runInitOnce: renewals failing for nearly a TTL (a partition) stop the init: 69, no record, no release', async (t) => {
  const store = failingStore({ renew: Infinity }, refused);
  const clock = fakeClock();
  const { log, lines } = capture();
  const init = stoppableRun();
  const err = await runInitOnce({ store, storeName: STORE, key: 'k', force: false, holder: A, argv: ['pmd'], run: init.run, deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 3000 }).then(
    () => t.fail('must not resolve') as never,
    (e: unknown) => e as Error & { exitCode: number },
  );
  t.ok(init.stopped(), 'the init was stopped');
  t.equal(err.exitCode, 69);
  t.match(err.message, /^lost the init lease while pmd ran \(no renewal confirmed by MongoDB at 10\.0\.0\.5:27017 .* for 2\.\d s, and it expires 3 s after one\): stopped it; no completion record written/);
  t.equal(store.done.size, 0, 'no record');
  t.equal(store.calls.commit, 0, 'nothing committed');
  t.equal(store.calls.release, 0, 'not released: it may be someone else\'s by now');
  t.ok(clock.t - 1_000_000 < 3000, 'stopped before the TTL ran out');
  t.ok(lines.some((l) => /warn: the init lease is lost/.test(l)));
});

t.test('runInitOnce: a lease taken over while the init ran (found on renewal) stops it; the new holder keeps it', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const init = stoppableRun();
  const run = (stop: AbortSignal): Promise<number> => {
    // The holder "stalls": its lease expires and B takes it over.
    setImmediate(() => {
      clock.t += 4000;
      void store.tryAcquire(B, 'k', clock.now(), 3000);
    });
    return init.run(stop);
  };
  const { log, lines } = capture();
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run, deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 3000 }), {
    exitCode: 69,
    message: /lost the init lease while pmd ran \((podB:1:bb on podB took it over after it expired|no renewal confirmed .*)\): stopped it/,
  });
  t.ok(init.stopped());
  t.equal(store.lease?.holder, B.id, 'B still holds it');
  t.equal(store.done.size, 0);
  t.ok(lines.some((l) => /this agent was stalled for 4\.\d s: checking the init lease now|the init lease is lost/.test(l)));
});

t.test('runInitOnce: a paused VM resuming with only its wall clock moved on checks the lease at once', async (t) => {
  const store = memoryStore();
  // Wall (now) and monotonic (mono) clocks apart: the pause moves only the wall clock.
  const c = { wall: 1_000_000, mono: 0 };
  const clock: Clock = {
    now: () => new Date(c.wall),
    mono: () => c.mono,
    sleep: async (ms, signal) => {
      if (signal?.aborted) return;
      c.wall += ms;
      c.mono += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  const init = stoppableRun();
  let monoAtResume = 0;
  const run = (stop: AbortSignal): Promise<number> => {
    setImmediate(() => {
      c.wall += 60_000; // paused for a minute; the lease expired and B took it
      monoAtResume = c.mono;
      void store.tryAcquire(B, 'k', clock.now(), 30_000);
    });
    return init.run(stop);
  };
  const { log, lines } = capture();
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run, deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 30_000 }), {
    exitCode: 69,
    message: /lost the init lease while pmd ran \(podB:1:bb on podB took it over after it expired\)/,
  });
  t.ok(init.stopped());
  t.ok(c.mono - monoAtResume < 10_000, `found within ${c.mono - monoAtResume} ms of monotonic time, before the next scheduled renewal (10 s)`);
  t.ok(lines.some((l) => /this agent was stalled for 60\.\d s: checking the init lease now/.test(l)));
});

t.test('runInitOnce: an init that ends after losing the lease (not stoppable) writes no record', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  const run = async (): Promise<number> => {
    store.lease = { ...(store.lease as LeaseDoc), holder: B.id, host: B.host };
    return 0;
  };
  await t.rejects(runInitOnce({ store, key: 'k', force: false, holder: A, argv: ['pmd'], run, deadline: deadlineIn(60_000, clock), log: capture().log, clock, ttlMs: 3000 }), {
    exitCode: 69,
    message: /lost the init lease while pmd ran \(it was taken over before the init ended\)/,
  });
  t.equal(store.done.size, 0, 'no record');
  t.equal(store.lease?.holder, B.id);
});

t.test('runInitOnce: a record committed in the lease but not published is published by the next holder', async (t) => {
  const store = memoryStore();
  const clock = fakeClock();
  await store.tryAcquire(A, 'k', clock.now(), 3000);
  const record: DoneDoc = { _id: doneId('k'), key: 'k', doneAt: clock.now(), host: 'podA', holder: A.id, argv: ['pmd'], durationMs: 5 };
  t.ok(await store.commit(A, record, clock.now(), 3000));
  clock.t += 5000; // A stalls past its TTL before publishing
  let runs = 0;
  const { log, lines } = capture();
  const r = await runInitOnce({ store, key: 'k', force: false, holder: B, argv: ['pmd'], run: async () => (runs++, 0), deadline: deadlineIn(60_000, clock), log, clock, ttlMs: 3000 });
  t.equal(r.ran, false, 'the published record means the init is done');
  t.equal(runs, 0);
  t.equal(store.done.get('k')?.holder, A.id);
  t.equal(store.lease?.committing, null, 'cleared on release');
  t.match(lines.join(''), /publishing the completion record of k that podA:1:aa on podA committed in the lease/);
});

t.test('errors that are not StoreErrors are bugs and pass unchanged', async (t) => {
  const store = failingStore({ findDone: Infinity }, () => new TypeError('x is undefined'));
  const clock = fakeClock();
  await t.rejects(awaitInitDone({ store, key: 'k', deadline: deadlineIn(5000, clock), log: capture().log, clock }), { name: 'TypeError' });
});

t.test('toStoreError: driver errors sorted into transient and not', async (t) => {
  const refusedErr = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), { name: 'MongoNetworkError', cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), { code: 'ECONNREFUSED' }) });
  t.match(toStoreError(refusedErr, 'db'), { transient: true, reason: /^connection refused \(connect ECONNREFUSED 127\.0\.0\.1:27017\)$/ });
  const selection = Object.assign(new Error('Server selection timed out after 2000 ms'), { name: 'MongoServerSelectionError' });
  t.match(toStoreError(selection, 'db'), { transient: true, reason: /^timed out/ });
  const notPrimary = Object.assign(new Error('not primary'), { name: 'MongoServerError', code: 10107 });
  t.match(toStoreError(notPrimary, 'db'), { transient: true, reason: /^not primary/, hint: /replica_set/ });
  const stepDown = Object.assign(new Error('interrupted'), { name: 'MongoServerError', code: 11602 });
  t.equal(toStoreError(stepDown, 'db').transient, true);
  const labelled = Object.assign(new Error('something'), { name: 'MongoServerError', code: 999, errorLabels: ['RetryableWriteError'] });
  t.equal(toStoreError(labelled, 'db').transient, true);
  const unauthorized = Object.assign(new Error('not authorized on pulp to execute command { find: ... }'), { name: 'MongoServerError', code: 13 });
  t.match(toStoreError(unauthorized, 'pulp'), { transient: false, reason: /^not authorized/, hint: /readWrite role on database pulp/ });
  const auth = Object.assign(new Error('Authentication failed.'), { name: 'MongoServerError', code: 18 });
  t.match(toStoreError(auth, 'db'), { transient: false, reason: /^authentication failed/, hint: /user name and password/ });
  const other = Object.assign(new Error('document too large'), { name: 'MongoServerError', code: 10334 });
  t.match(toStoreError(other, 'db'), { transient: false, reason: /^failed \(document too large\)$/ });
});

t.test('runInitOnce: every way out of a held lease releases it exactly once; a failed release is a warning only on a normal end', async (t) => {
  const argv = ['pmd'];
  const attempt = async (store: ReturnType<typeof failingStore>, run: () => Promise<number>, force = false): Promise<{ outcome: unknown; lines: string }> => {
    const clock = fakeClock();
    const { log, lines } = capture();
    const outcome = await runInitOnce({ store, key: 'k', force, holder: A, argv, run, deadline: deadlineIn(5000, clock), log, clock, ttlMs: 3000 }).then(
      (o) => o,
      (err: unknown) => err,
    );
    return { outcome, lines: lines.join('') };
  };

  // Done: one release; its failure is a warning and the run still counts as done.
  const done = failingStore({ release: 1 }, forbidden);
  const d = await attempt(done, async () => 0);
  t.match(d.outcome, { ran: true });
  t.equal(done.calls.release, 1);
  t.match(d.lines, /cannot release the init lease: not authorized .*\(it expires by itself\)/);

  // The init's own failure: one release, a warning when it fails, then the init's code.
  const failed = failingStore({ release: 1 }, forbidden);
  const f = await attempt(failed, async () => 3);
  t.match(f.outcome, { name: 'ChildFailedError', exitCode: 3 });
  t.equal(failed.calls.release, 1);
  t.match(f.lines, /cannot release the init lease/);

  // Someone else recorded the key between the first look and the lease: one release, a warning
  // when it fails, and no init.
  const late = failingStore({ release: 1 }, forbidden);
  const acquireThenRecord = late.tryAcquire;
  late.tryAcquire = async (...a) => {
    const got = await acquireThenRecord(...a);
    late.done.set('k', { _id: doneId('k'), key: 'k', doneAt: new Date(0), host: 'podB', holder: B.id, argv, durationMs: 1 });
    return got;
  };
  let ran = 0;
  const l = await attempt(late, async () => (ran++, 0));
  t.match(l.outcome, { ran: false, record: { host: 'podB' } });
  t.equal(ran, 0);
  t.equal(late.calls.release, 1);
  t.match(l.lines, /cannot release the init lease/);

  // An error on its way out (the record cannot be committed): one release, and the error is
  // the only line about it.
  const commit = failingStore({ commit: 1, release: 1 }, forbidden);
  const c = await attempt(commit, async () => 0);
  t.match(c.outcome, { name: 'UnavailableError', message: /ran successfully, but its completion record k could not be written/ });
  t.equal(commit.calls.release, 1);
  t.notMatch(c.lines, /cannot release/);

  // The run throws: one release, quiet.
  const thrown = failingStore({}, forbidden);
  const th = await attempt(thrown, async () => Promise.reject(new Error('boom')));
  t.match(th.outcome, /boom/);
  t.equal(thrown.calls.release, 1);
  t.equal(thrown.lease?.holder, null);
});
