// The pure parts of src/exec: PATH lookup, signal rewrite, exit codes, mode choice, launch plan.
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveOnPath } from '../src/exec/path.ts';
import { exitCodeOf, parseSignalRewrite } from '../src/exec/signals.ts';
import { chooseExecMode } from '../src/exec/mode.ts';
import { envForUser, planLaunch, planUser } from '../src/exec/privileges.ts';
import type { ResolvedUser } from '../src/users.ts';

t.test('resolveOnPath finds the first executable file, skips relative entries', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'path-'));
  for (const d of ['a', 'b', 'c']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'a', 'prog'), 'not executable');
  writeFileSync(join(dir, 'b', 'prog'), '#!/bin/sh\n');
  chmodSync(join(dir, 'b', 'prog'), 0o755);
  writeFileSync(join(dir, 'c', 'prog'), '#!/bin/sh\n');
  chmodSync(join(dir, 'c', 'prog'), 0o755);
  mkdirSync(join(dir, 'c', 'dirprog'));
  const PATH = ['', 'relative', join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(':');
  t.equal(resolveOnPath('prog', PATH), join(dir, 'b', 'prog'));
  t.equal(resolveOnPath('dirprog', PATH), undefined, 'a directory is not a program');
  t.equal(resolveOnPath('missing', PATH), undefined);
  t.equal(resolveOnPath('./prog', PATH, join(dir, 'c')), join(dir, 'c', 'prog'), 'a name with a slash is a path');
  t.equal(resolveOnPath('prog', 'relative', join(dir, 'b')), undefined, 'relative PATH entries are not used');
  t.equal(resolveOnPath('sh', undefined), '/usr/bin/sh', 'default PATH');
});

t.test('parseSignalRewrite', async (t) => {
  t.same([...parseSignalRewrite('TERM:QUIT, sigint:sigquit')], [
    ['SIGTERM', 'SIGQUIT'],
    ['SIGINT', 'SIGQUIT'],
  ]);
  t.same([...parseSignalRewrite(undefined)], []);
  t.same([...parseSignalRewrite('  ')], []);
  t.throws(() => parseSignalRewrite('TERM'), { name: 'InputError', message: /PULP_SIGNAL_REWRITE=TERM: "TERM" is not FROM:TO/ });
  t.throws(() => parseSignalRewrite('TERM:BOGUS'), { message: /"BOGUS" is not a signal name/ });
  t.throws(() => parseSignalRewrite('TERM:KILL'), { message: /"KILL" is not a signal name/ });
  t.throws(() => parseSignalRewrite('ALRM:QUIT'), { message: /SIGALRM is not one the agent forwards/ });
});

t.test('exitCodeOf', async (t) => {
  t.equal(exitCodeOf(0, null), 0);
  t.equal(exitCodeOf(3, null), 3);
  t.equal(exitCodeOf(null, 'SIGTERM'), 143);
  t.equal(exitCodeOf(null, 'SIGKILL'), 137);
});

t.test('exec mode choice', async (t) => {
  t.equal(chooseExecMode('auto', true, false).mode, 'exec');
  t.equal(chooseExecMode('auto', false, false).mode, 'supervise');
  t.match(chooseExecMode('auto', true, true), { mode: 'supervise', reason: /PULP_SIGNAL_REWRITE/ });
  t.equal(chooseExecMode('supervise', true, false).mode, 'supervise');
  t.throws(() => chooseExecMode('exec', false, false), { name: 'InputError', message: /needs process.execve/ });
  t.throws(() => chooseExecMode('exec', true, true), { name: 'InputError', message: /cannot rewrite signals/ });
});

const apache: ResolvedUser = { name: 'apache', uid: 48, gid: 48, groups: [48, 500], home: '/usr/share/httpd', shell: '/sbin/nologin' };

t.test('launch plan: setpriv only when supplementary groups are needed', async (t) => {
  t.same(planLaunch('/usr/bin/celery', ['worker'], null, '/usr/bin/setpriv'), { file: '/usr/bin/celery', args: ['worker'] });
  t.same(planLaunch('/usr/bin/celery', ['worker'], { ...apache, groups: [48] }, undefined), { file: '/usr/bin/celery', args: ['worker'], uid: 48, gid: 48 });
  t.same(planLaunch('/usr/bin/celery', ['worker'], apache, '/usr/bin/setpriv'), {
    file: '/usr/bin/setpriv',
    args: ['--reuid=48', '--regid=48', '--groups=48,500', '--', '/usr/bin/celery', 'worker'],
  });
  t.throws(() => planLaunch('/usr/bin/celery', [], apache, undefined), { exitCode: 70, message: /setpriv \(util-linux\) not found.*apache.*500/ });
});

t.test('user plan and environment', async (t) => {
  t.match(planUser('apache', 1000), { user: null, drop: false, warning: /not running as root \(uid 1000\): PULP_RUN_AS=apache is ignored/ });
  t.match(planUser('root', 0), { user: { uid: 0 }, drop: true });
  t.throws(() => planUser('no-such-user-here', 0), { name: 'InputError' });
  const env = envForUser({ PATH: '/bin', HOME: '/root', USER: 'root' }, apache);
  t.same(env, { PATH: '/bin', HOME: '/usr/share/httpd', USER: 'apache', LOGNAME: 'apache' });
  t.same(envForUser({ HOME: '/root' }, null), { HOME: '/root' });
});
