// scripts/test-summary.mjs and test/services/running.sh: the end of `npm test` (scripts/test.sh),
// all a CI record may keep, without running the suite: tap itself run on two small failing
// fixture files (fixtures/tap/) and its output fed to the summary; tap's other endings (a run
// timed out, stopped without a summary, hundreds of failures) as the TAP it writes; and which
// servers a run leaves running, from a state dir made here.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const SUMMARY = join(ROOT, 'scripts', 'test-summary.mjs');

function summary(tap: string): string[] {
  const r = spawnSync(process.execPath, [SUMMARY], { input: tap, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`test-summary.mjs: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n');
}

t.test('tap run on failing files: each file, its failed subtests with where, then the counts line', async (t) => {
  // A clean environment: the outer tap's variables would make this one its child.
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tap'), ['--reporter=tap', 'fixtures/tap/failing.ts', 'fixtures/tap/crashing.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 1, 'tap failed');
  const lines = summary(r.stdout);
  t.match(lines.at(-1), /^tests: \d+ passed, \d+ failed, 2 skipped$/, 'the counts line last');
  // tap runs two files at once: their order is the order they end in.
  const block = (file: string): string[] => {
    const start = lines.indexOf(lines.find((l) => l.startsWith(`FAILED ${file}`)) ?? '');
    t.ok(start >= 0, `${file} is named`);
    const end = lines.findIndex((l, i) => i > start && !l.startsWith('  '));
    return lines.slice(start, end);
  };
  t.same(block('fixtures/tap/failing.ts'), [
    'FAILED fixtures/tap/failing.ts (exit code 1)',
    '  group one > inner > one is two (fixtures/tap/failing.ts:9)',
    '  top-level assertion (fixtures/tap/failing.ts:19)',
  ]);
  t.same(block('fixtures/tap/crashing.ts'), ['FAILED fixtures/tap/crashing.ts (exit code 1)', '  cut short > test unfinished (fixtures/tap/crashing.ts:5)']);
  t.notOk(lines.some((l) => /not yet|a todo|group two|skipped >/.test(l)), 'passing, skipped and todo subtests are not listed');
});

t.test("tap's other endings", async (t) => {
  const timedOut = [
    'TAP version 14',
    '1..1',
    '# Subtest: test/slow.test.ts',
    '    # Subtest: hangs',
    '        not ok 1 - timeout!',
    '          ---',
    '          expired: TAP',
    '          ...',
    '        1..1',
    '    not ok 1 - hangs # time=3008.1ms',
    '    1..1',
    'not ok 1 - test/slow.test.ts # time=3023.28ms',
    '  ---',
    '  exitCode: null',
    '  signal: SIGALRM',
    '  ...',
    'not ok 2 - timeout!',
    '  ---',
    '  expired: test/slow.test.ts',
    '  ...',
    '# { total: 2, pass: 0, fail: 2 }',
  ].join('\n');
  t.same(summary(timedOut), [
    'FAILED test/slow.test.ts (killed by SIGALRM)',
    '  hangs > timeout! (timed out)',
    'FAILED timeout! (timed out: test/slow.test.ts)',
    'tests: 0 passed, 2 failed, 0 skipped',
  ]);
  t.same(summary('TAP version 14\n1..3\n# Subtest: test/a.test.ts\n    ok 1 - fine\n'), ['tests: tap gave no summary (it was stopped or crashed): see the log above']);
  t.same(summary('TAP version 14\n1..1\nok 1 - test/a.test.ts\n# { total: 5, pass: 4, skip: 1 }\n'), ['tests: 4 passed, 0 failed, 1 skipped'], 'a green run: the counts line alone');
  const many = ['TAP version 14', '# Subtest: test/many.test.ts', ...Array.from({ length: 100 }, (_, i) => `    not ok ${i + 1} - case ${i}`), 'not ok 1 - test/many.test.ts', '# { total: 100, pass: 0, fail: 100 }'].join('\n');
  const bounded = summary(many);
  t.equal(bounded.length, 42, 'at most 40 lines of failures, then how many more, then the counts');
  t.equal(bounded[40], '  ... and 61 more lines of failures: search the log above for "not ok"');
  t.equal(bounded[41], 'tests: 0 passed, 100 failed, 0 skipped');
});

t.test('running.sh names the servers whose recorded process is alive, and nothing else', async (t) => {
  const state = tempDir(t, 'pe-running-');
  const run = (): string => spawnSync('bash', [join(ROOT, 'test', 'services', 'running.sh')], { env: { PATH: process.env.PATH, PULP_TEST_SERVICES_DIR: state }, encoding: 'utf8' }).stdout;
  t.equal(run(), '', 'none');
  const alive = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => void alive.kill());
  const gone = spawnSync('true');
  for (const [dir, pid] of [['ferretdb', alive.pid], ['mariadb', alive.pid], ['qpid', gone.pid]] as const) {
    mkdirSync(join(state, dir));
    writeFileSync(join(state, dir, 'pid'), `${pid}\n`);
  }
  t.equal(run(), 'FerretDB, MariaDB\n', 'the live ones, in a fixed order; a dead pid is not running');
});

t.test('scripts/test.sh ends with them: the cluster stopped, the servers left running, the failures and counts last', async (t) => {
  const script = readFileSync(join(ROOT, 'scripts', 'test.sh'), 'utf8');
  const tail = script.slice(script.indexOf('npx tap --reporter=tap'));
  const order = ['cleanup', 'bash test/services/running.sh', 'bash test/services/stop.sh', 'node scripts/test-summary.mjs "$out"', 'exit "$rc"'].map((s) => tail.indexOf(s));
  t.ok(order.every((at, i) => at > 0 && (i === 0 || at > (order[i - 1] ?? 0))), `in this order after tap: ${order.join(', ')}`);
});
