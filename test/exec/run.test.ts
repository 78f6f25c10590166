// src/exec/run.ts and src/exec/supervise.ts on their own (the CLI tests reach them only through
// the whole agent): what must hold before a start, the init run to its end, and the role under
// the agent in supervise mode: exit codes, signals passed on and rewritten, a stop that
// escalates. As the current user (no switch), with /bin/sh scripts as the programs.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EntrypointError, ExitCode } from '../../src/common/errors.ts';
import { type LogFields, createLogger } from '../../src/common/log.ts';
import { checkLaunch, execRole, runToCompletion } from '../../src/exec/run.ts';
import { STOP_GRACE_MS } from '../../src/exec/supervise.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-exec-run-');
const env = { PATH: `${dir}:/usr/bin:/bin` };

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

function recorder(): { lines: { level: string; msg: string; fields: LogFields }[]; log: ReturnType<typeof createLogger> } {
  const lines: { level: string; msg: string; fields: LogFields }[] = [];
  const log = createLogger({
    format: 'json',
    trace: false,
    write: (line) => {
      const o = JSON.parse(line) as { level: string; msg: string } & LogFields;
      lines.push({ level: o.level, msg: o.msg, fields: o });
    },
  });
  return { lines, log };
}

async function until(file: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(25);
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof EntrypointError ? err.exitCode : -1;
  }
  return undefined;
}

t.test('before a start: the program on PATH (127), a working directory to enter (65), a command at all (65)', async (t) => {
  script('present', 'exit 0');
  t.equal(checkLaunch(['present'], null, dir, env), join(dir, 'present'), 'found through the given PATH');
  t.equal(codeOf(() => checkLaunch(['absent'], null, dir, env)), ExitCode.notFound);
  t.equal(codeOf(() => checkLaunch(['present'], null, join(dir, 'nowhere'), env)), ExitCode.dataErr);
  t.equal(codeOf(() => checkLaunch([], null, dir, env)), ExitCode.dataErr);
  t.throws(() => checkLaunch(['absent'], null, dir, env), /absent: not found on PATH \(.*\) or not executable/);
});

t.test('the init runs to its end: its own code, 128 + signal when it is killed, in its working directory', async (t) => {
  const { log } = recorder();
  script('three', `pwd > "${dir}/cwd"; exit 3`);
  t.equal(await runToCompletion({ argv: ['three'], user: null, cwd: '/', env }, log), 3);
  t.equal(readFileSync(join(dir, 'cwd'), 'utf8').trim(), '/', 'started in the given directory');
  script('killed', 'kill -TERM $$; sleep 5');
  t.equal(await runToCompletion({ argv: ['killed'], user: null, cwd: dir, env }, log), 128 + 15);
});

t.test('a lost lease stops the init: SIGTERM, then SIGKILL when it ignores that', async (t) => {
  const { log, lines } = recorder();
  script('polite', `echo up > "${dir}/polite.up"; trap 'exit 7' TERM; while :; do sleep 0.05; done`);
  const stop = new AbortController();
  const polite = runToCompletion({ argv: ['polite'], user: null, cwd: dir, env }, log, stop.signal);
  await until(join(dir, 'polite.up'));
  stop.abort();
  t.equal(await polite, 7, 'SIGTERM reached it: its own code');
  t.ok(lines.some((l) => l.level === 'warn' && /^stopping polite \(SIGTERM, then SIGKILL after \d+ ms\)$/.test(l.msg)), 'the stop is logged');

  script('stubborn', `echo up > "${dir}/stubborn.up"; trap '' TERM; while :; do sleep 0.05; done`);
  const stop2 = new AbortController();
  const started = Date.now();
  const stubborn = runToCompletion({ argv: ['stubborn'], user: null, cwd: dir, env }, log, stop2.signal);
  await until(join(dir, 'stubborn.up'));
  stop2.abort();
  t.equal(await stubborn, 128 + 9, 'killed');
  t.ok(Date.now() - started >= STOP_GRACE_MS, `not before the grace period (${STOP_GRACE_MS} ms)`);
});

t.test('supervise mode: the role as a child gets the agent\'s signals, rewritten as asked, and its code is returned', async (t) => {
  const { log, lines } = recorder();
  const handlersBefore = process.listenerCount('SIGTERM');
  script('role', `trap 'echo QUIT > "${dir}/got"; exit 0' QUIT; trap 'echo TERM > "${dir}/got"; exit 1' TERM; echo up > "${dir}/role.up"; while :; do sleep 0.05; done`);
  const running = execRole({ argv: ['role', '--x'], user: null, cwd: dir, env, mode: 'supervise', signalRewrite: new Map([['SIGTERM', 'SIGQUIT']]), label: 'worker' }, log);
  await until(join(dir, 'role.up'));
  process.kill(process.pid, 'SIGTERM');
  t.equal(await running, 0, "the role's own code");
  t.equal(readFileSync(join(dir, 'got'), 'utf8').trim(), 'QUIT', 'SIGTERM arrived as SIGQUIT');
  t.ok(lines.some((l) => l.msg === 'passing SIGTERM on as SIGQUIT to worker'), 'the rewrite is logged');
  const start = lines.find((l) => l.msg === 'starting worker under the agent');
  t.same(start?.fields.argv, [join(dir, 'role'), '--x'], 'the resolved file and the extra arguments');
  t.equal(process.listenerCount('SIGTERM'), handlersBefore, 'no handler left behind once the role ended');
});

t.test('supervise mode: a program that cannot start is 126, one line naming it', async (t) => {
  const { log } = recorder();
  writeFileSync(join(dir, 'broken'), '#!/nonexistent/interpreter\n', { mode: 0o755 });
  await t.rejects(execRole({ argv: ['broken'], user: null, cwd: dir, env, mode: 'supervise' }, log), { exitCode: ExitCode.cannotExecute, message: /^broken: cannot start .*broken: / });
});
