// The one retry loop (src/common/retry.ts) on a fake clock: what ends it, how attempts are counted,
// and that the pause is cut to the deadline. The waits and the init run on it too (wait-*.test.ts,
// init-*.test.ts); this pins the rules they share.
import t from 'tap';
import { type Deadline, type RetryOptions, type Time, deadlineIn, laterOf, msLeft, retryUntil } from '../../src/common/retry.ts';

function fakeTime(): Time & { t: number; slept: number[] } {
  const c = {
    t: 5_000,
    slept: [] as number[],
    mono: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) return;
      c.slept.push(ms);
      c.t += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  return c;
}

class Flaky extends Error {}
class Fatal extends Error {}

/** A loop whose attempts fail with `fail(n)` (undefined: succeed with n); records what it saw. */
function loop(time: Time, deadline: Deadline, fail: (n: number) => Error | undefined, extra: Partial<RetryOptions<number, Flaky>> = {}) {
  const seen = { attempts: [] as Array<[number, number]>, retries: [] as Array<[string, number, number]> };
  const run = retryUntil<number, Flaky>({
    deadline,
    time,
    attempt: async (n, left) => {
      seen.attempts.push([n, left]);
      const e = fail(n);
      if (e) throw e;
      return n;
    },
    failure: (err) => {
      if (err instanceof Flaky) return err;
      throw err;
    },
    pauseMs: (failures) => 100 * failures,
    onRetry: (f, n, pause) => seen.retries.push([f.message, n, pause]),
    expired: (f, attempts) => new Error(`expired after ${attempts}: ${f.message}`),
    ...extra,
  });
  return { run, seen };
}

t.test('succeeds after failures: one onRetry per failure, pauses from pauseMs, time left passed to each attempt', async (t) => {
  const time = fakeTime();
  const { run, seen } = loop(time, deadlineIn(10_000, time), (n) => (n < 3 ? new Flaky(`f${n}`) : undefined));
  t.equal(await run, 3);
  t.same(seen.retries, [
    ['f1', 1, 100],
    ['f2', 2, 200],
  ]);
  t.same(seen.attempts, [
    [1, 10_000],
    [2, 9_900],
    [3, 9_700],
  ]);
});

t.test('a failure that failure() throws ends the loop at once, unchanged', async (t) => {
  const time = fakeTime();
  const fatal = new Fatal('no');
  const { run, seen } = loop(time, deadlineIn(10_000, time), (n) => (n < 2 ? new Flaky('f') : fatal));
  await t.rejects(run, fatal);
  t.equal(seen.attempts.length, 2);
  t.equal(time.t, 5_100, 'no pause after it');
});

t.test('a TypeError the caller retries is retried (p-retry alone would not)', async (t) => {
  const time = fakeTime();
  const run = retryUntil({
    deadline: deadlineIn(10_000, time),
    time,
    attempt: async (n) => {
      if (n < 2) throw new TypeError('x is undefined');
      return 'ok';
    },
    failure: (err) => err,
    pauseMs: () => 10,
    onRetry: () => {},
    expired: () => new Error('expired'),
  });
  t.equal(await run, 'ok');
});

t.test('the deadline: the last pause is cut to the time left, one attempt at the deadline, then expired(last, attempts)', async (t) => {
  const time = fakeTime();
  const { run, seen } = loop(time, deadlineIn(250, time), (n) => new Flaky(`f${n}`));
  await t.rejects(run, { message: 'expired after 3: f3' });
  t.same(
    seen.retries.map((r) => r[2]),
    [100, 150],
    'the second pause (200) cut to the 150 ms left',
  );
  t.same(
    seen.attempts.map((a) => a[1]),
    [250, 150, 0],
  );
  t.equal(time.t, 5_250, 'not a moment past the deadline');
});

t.test('a deadline already passed: one attempt, then expired', async (t) => {
  const time = fakeTime();
  const { run, seen } = loop(time, deadlineIn(0, time), () => new Flaky('down'));
  await t.rejects(run, { message: 'expired after 1: down' });
  t.equal(seen.retries.length, 0);
});

t.test('the signal: aborted before the first attempt, the loop throws its reason without trying', async (t) => {
  const time = fakeTime();
  const reason = new Error('stopped');
  const { run, seen } = loop(time, deadlineIn(10_000, time), () => new Flaky('down'), { signal: AbortSignal.abort(reason) });
  await t.rejects(run, reason);
  t.equal(seen.attempts.length, 0);
});

t.test('the signal: aborting during a pause ends the loop with the last failure', async (t) => {
  const time = fakeTime();
  const ac = new AbortController();
  const sleep = time.sleep;
  time.sleep = async (ms, signal) => {
    ac.abort(new Error('stopped'));
    return sleep(ms, signal);
  };
  const { run, seen } = loop(time, deadlineIn(10_000, time), (n) => new Flaky(`f${n}`), { signal: ac.signal });
  await t.rejects(run, { message: 'expired after 1: f1' });
  t.equal(seen.attempts.length, 1);
});

t.test('the signal: a failure caused by the abort is not reported; the one before it is', async (t) => {
  const time = fakeTime();
  const ac = new AbortController();
  let failures = 0;
  const run = retryUntil({
    deadline: deadlineIn(10_000, time),
    time,
    signal: ac.signal,
    attempt: async (n) => {
      if (n === 2) ac.abort(new Error('stopped'));
      throw new Flaky(n === 1 ? 'refused' : 'aborted');
    },
    failure: (err) => (failures++, err as Flaky),
    pauseMs: () => 10,
    onRetry: () => {},
    expired: (f, attempts) => new Error(`${attempts}: ${f.message}`),
  });
  await t.rejects(run, { message: '2: refused' });
  t.equal(failures, 1, 'the failure after the abort was not even sorted');
});

t.test('deadline helpers', async (t) => {
  const time = fakeTime();
  const d = deadlineIn(1_000, time);
  t.equal(msLeft(d, time), 1_000);
  time.t += 1_500;
  t.equal(msLeft(d, time), -500);
  t.equal(laterOf(d, deadlineIn(10, time)), 6_510);
  t.equal(laterOf(deadlineIn(-5_000, time), d), d);
  t.ok(Math.abs(msLeft(deadlineIn(60_000)) - 60_000) < 1_000, 'the real clock: performance.now()');
});
