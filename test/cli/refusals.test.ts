// The whole command (src/main.ts, src/cli/run-steps.ts) on input it must refuse or survive:
// whatever is known wrong (a setting, the role's user, working directory or program) stops
// `run` and `configure` before server.conf is written, with one line naming the variable; a
// preview never prints a secret; templates and their targets; SIGTERM to PID 1 during the
// wait; a program that is not a role starts despite invalid settings.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentArgv, cli } from '../helpers/cli.ts';
import { closedPort } from '../helpers/net.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { isRoot } from '../helpers/unavailable.ts';

const dir = tempDir(t, 'pe-refuse-');
chmodSync(dir, 0o755); // PULP_RUN_AS=nobody must reach work/ and bin/
const bin = join(dir, 'bin');
mkdirSync(bin);
for (const name of ['celery', 'pulp-manage-db']) {
  writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, name), 0o755);
}
const work = join(dir, 'work');
mkdirSync(work);
const locked = join(dir, 'locked');
mkdirSync(locked, { mode: 0o700 });
const conf = confCopy(dir);
const past = new Date('2020-03-03T00:00:00Z');
utimesSync(conf, past, past);
const original = readFileSync(conf);
const empty = join(dir, 'empty');
mkdirSync(empty);
const base = { PATH: `${bin}:/usr/bin:/bin`, PULP_SERVER_CONF: conf, PULP_CELERY_WORKDIR: work, DB_SERVICE_HOST: 'db', PULP_INIT_KEY: 'k', PULP_RUN_AS: 'nobody' };

const untouched = (t: Test): void => {
  t.ok(readFileSync(conf).equals(original), 'server.conf bytes unchanged');
  t.equal(statSync(conf).mtimeMs, past.getTime(), 'server.conf not rewritten');
};

type Case = [name: string, env: Record<string, string>, code: number, lastLine: RegExp];

/** `worker` with each case's variables: its exit code, its last line, and server.conf untouched. */
function refusedBeforeWriting(t: Test, cases: Case[]): void {
  for (const [name, env, code, message] of cases) {
    const r = cli(['worker'], { ...base, ...env });
    t.equal(r.status, code, `${name}: exit ${code}`);
    t.match(r.stderr.trimEnd().split('\n').pop(), message, name);
    untouched(t);
  }
}

t.test('refused before anything is written: one line naming the variable, exit 65 (127 for a missing program), server.conf untouched', async (t) => {
  t.test('settings the waits could not use, in run and in configure', async (t) => {
    refusedBeforeWriting(t, [
      ['seeds with a bad port', { PULP_CONF__DATABASE__SEEDS: 'db:99999' }, 65, /PULP_CONF__DATABASE__SEEDS: .*seeds/],
      ['ssl not a boolean', { PULP_CONF__DATABASE__SSL: 'maybe' }, 65, /PULP_CONF__DATABASE__SSL: .*boolean/],
      ['broker URL not a URL', { PULP_CONF__TASKS__BROKER_URL: 'foo://x' }, 65, /PULP_CONF__TASKS__BROKER_URL/],
      ['init key too long', { PULP_INIT_KEY: 'k'.repeat(250) }, 65, /PULP_INIT_KEY/],
    ]);
    const c = cli(['configure'], { ...base, PULP_CONF__DATABASE__SEEDS: 'db:99999' });
    t.equal(c.status, 65, 'configure refuses a value the waits could not use');
    untouched(t);
  });

  t.test("the role's user, working directory and program", async (t) => {
    const missingWorkdir: Case = ['missing working directory', { PULP_CELERY_WORKDIR: join(dir, 'nope') }, 65, /working directory .*nope/];
    const notOnPath: Case = ['role program not on PATH', { PATH: empty }, 127, /celery: not found on PATH/];
    // Not root: PULP_RUN_AS is ignored (with a warning), so the user cases do not apply.
    const asRoot: Case[] = [
      ['unknown run-as user', { PULP_RUN_AS: 'no-such-user-x' }, 65, /PULP_RUN_AS/],
      missingWorkdir,
      ['working directory the run-as user cannot enter', { PULP_CELERY_WORKDIR: locked }, 65, /nobody .*cannot enter working directory/],
      notOnPath,
    ];
    refusedBeforeWriting(t, isRoot ? asRoot : [missingWorkdir, notOnPath]);
  });
});

t.test('secrets: a preview shows a changed password as a change and prints neither value', async (t) => {
  const withPw = join(dir, 'pw.conf');
  writeFileSync(withPw, readFileSync(conf, 'utf8').replace('[database]\n', '[database]\npassword: oldpass1\n'));
  const r = cli(['preview', 'beat', '--json'], { PATH: base.PATH, PULP_SERVER_CONF: withPw, PULP_DB_PASSWORD: 'newpass2' });
  const d = JSON.parse(r.stdout) as { config: { writes: boolean; diff: string } };
  t.equal(d.config.writes, true);
  t.match(d.config.diff, /^-password: \*{8}$/m);
  t.match(d.config.diff, /^\+password: \*{8} \(changed\)$/m);
  t.notMatch(r.stdout, /oldpass1|newpass2/);
  const text = cli(['preview', 'beat'], { PATH: base.PATH, PULP_SERVER_CONF: withPw, PULP_DB_PASSWORD: 'newpass2' });
  t.notMatch(text.stdout, /nothing would be written/);
});

t.test('files: the template and the target', async (t) => {
  t.test('a template that cannot be read fails preview as it would fail run: 73, naming the variable', async (t) => {
    const missing = cli(['preview', 'beat'], { PATH: base.PATH, PULP_SERVER_CONF: conf, PULP_SERVER_CONF_TEMPLATE: join(dir, 'no-template.conf') });
    t.equal(missing.status, 73, 'a template that cannot be read fails preview as it would fail run');
    t.match(missing.stderr, /PULP_SERVER_CONF_TEMPLATE/);
  });

  t.test('template mode replaces a target that is not an INI file', async (t) => {
    const target = join(dir, 'corrupt.conf');
    writeFileSync(target, 'not ini at all\n');
    const r = cli(['configure'], { PATH: base.PATH, PULP_SERVER_CONF: target, PULP_SERVER_CONF_TEMPLATE: conf, DB_SERVICE_HOST: 'db' });
    t.equal(r.status, 0, r.stderr);
    t.match(readFileSync(target, 'utf8'), /\nseeds: db:27017\n/);
  });
});

t.test('signals: as PID 1, SIGTERM during the wait stops the agent at once with 143', async (t) => {
  const closed = await closedPort();
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', ...agentArgv(['wait', '--timeout', '30'])], {
    env: { PATH: process.env.PATH, PULP_SERVER_CONF: conf, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(closed) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Once the wait has logged a failed attempt, the agent (PID 1 of the namespace) is waiting.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (/refused/.test(stderr)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
  const started = Date.now();
  // unshare forwards nothing; signal the agent itself: the only child of unshare.
  const pid = Number(spawnSyncText('pgrep', ['-P', String(child.pid)]).trim());
  t.ok(pid > 1, `the agent's pid in this namespace (${pid})`);
  process.kill(pid, 'SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.ok(Date.now() - started < 5000, `stopped within seconds (${Date.now() - started} ms), not at the 30 s deadline`);
  t.equal(code, 143, '128 + SIGTERM');
  t.match(stderr, /SIGTERM received during wait/);
});

t.test('a program that is not a role starts even when the settings are invalid, with a warning naming the variable', async (t) => {
  const r = cli(['sh', '-c', 'exit 3'], { PATH: base.PATH, PULP_SERVER_CONF: conf, PULP_WAIT_TIMEOUT: 'abc' });
  t.equal(r.status, 3, "the program's own exit code");
  t.match(r.stderr, /settings are invalid, starting sh anyway.*PULP_WAIT_TIMEOUT/);
  untouched(t);
});

function spawnSyncText(cmd: string, args: string[]): string {
  return spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
}
