// The pure parts of the exec stage: PATH lookup (src/common/program-path.ts), signal rewrite and
// exit codes (src/common/signals.ts), mode choice (src/exec/mode.ts), launch plan and working
// directory checks and the paths a role uses as it starts (src/exec/privileges.ts), /etc/passwd
// users (src/exec/users.ts).
import t from 'tap';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveOnPath } from '../../src/common/program-path.ts';
import { exitCodeOf, parseSignalRewrite } from '../../src/common/signals.ts';
import { chooseExecMode } from '../../src/exec/mode.ts';
import { checkWorkdirFor, envForUser, maySearch, pathProblem, planLaunch, planUser } from '../../src/exec/privileges.ts';
import type { ResolvedUser } from '../../src/exec/users.ts';
import { createTestUser } from '../helpers/exec.ts';
import { tempDir } from '../helpers/temp.ts';
import { requireRoot } from '../helpers/unavailable.ts';

t.test('resolveOnPath finds the first executable file, skips relative entries', async (t) => {
  const dir = tempDir(t, 'path-');
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

t.test('launch plan: every switch of user goes through setpriv; without it the program cannot start (126)', async (t) => {
  t.same(planLaunch('/usr/bin/celery', ['worker'], null, '/usr/bin/setpriv'), { file: '/usr/bin/celery', args: ['worker'] });
  // Also without supplementary groups: spawn's own uid/gid would leave the group list empty.
  t.same(planLaunch('/usr/bin/celery', ['worker'], { ...apache, groups: [48] }, '/usr/bin/setpriv'), {
    file: '/usr/bin/setpriv',
    args: ['--reuid=48', '--regid=48', '--groups=48', '--', '/usr/bin/celery', 'worker'],
  });
  t.same(planLaunch('/usr/bin/celery', ['worker'], apache, '/usr/bin/setpriv'), {
    file: '/usr/bin/setpriv',
    args: ['--reuid=48', '--regid=48', '--groups=48,500', '--', '/usr/bin/celery', 'worker'],
  });
  t.throws(() => planLaunch('/usr/bin/celery', [], apache, undefined), { exitCode: 126, message: /setpriv \(util-linux\) not found.*apache.*48,500/ });
});

t.test('user plan and environment', async (t) => {
  t.match(planUser('apache', 1000), { user: null, warning: /not running as root \(uid 1000\): PULP_RUN_AS=apache is ignored/ });
  t.match(planUser('root', 0), { user: { uid: 0 } });
  t.throws(() => planUser('no-such-user-here', 0), { name: 'InputError' });
  const env = envForUser({ PATH: '/bin', HOME: '/root', USER: 'root' }, apache);
  t.same(env, { PATH: '/bin', HOME: '/usr/share/httpd', USER: 'apache', LOGNAME: 'apache' });
  t.same(envForUser({ HOME: '/root' }, null), { HOME: '/root' });
});

t.test('maySearch: the owner class, else the group class (primary or supplementary), else other', async (t) => {
  const who = { uid: 1000, gid: 1000, groups: [1000, 2000] };
  t.ok(maySearch({ uid: 1000, gid: 0, mode: 0o40100 }, who), 'owner x');
  t.notOk(maySearch({ uid: 1000, gid: 1000, mode: 0o40011 }, who), 'the owner class decides alone, even when group and other may');
  t.ok(maySearch({ uid: 0, gid: 2000, mode: 0o40010 }, who), 'supplementary group x');
  t.notOk(maySearch({ uid: 0, gid: 2000, mode: 0o40701 }, who), 'the group class decides alone');
  t.ok(maySearch({ uid: 0, gid: 0, mode: 0o40001 }, who), 'other x');
  t.notOk(maySearch({ uid: 0, gid: 0, mode: 0o40770 }, who));
  t.ok(maySearch({ uid: 5, gid: 5, mode: 0o40000 }, { uid: 0, gid: 0, groups: [] }), 'root searches any directory');
});

t.test('checkWorkdirFor: missing, not a directory, and the agent itself', async (t) => {
  const dir = tempDir(t, 'workdir-');
  writeFileSync(join(dir, 'file'), '');
  t.equal(checkWorkdirFor(null, dir), undefined);
  t.equal(checkWorkdirFor(null, join(dir, 'nope')), `working directory ${join(dir, 'nope')} does not exist`);
  t.equal(checkWorkdirFor(null, join(dir, 'file')), `working directory ${join(dir, 'file')} is not a directory`);
  t.match(checkWorkdirFor(null, join(dir, 'file', 'sub')), /is not a directory \(a part of its path is a file\)/);
  t.equal(checkWorkdirFor(apache, join(dir, 'nope')), `working directory ${join(dir, 'nope')} does not exist`, 'the same for a target user');
});

t.test('checkWorkdirFor: search permission along the path for the target user', async (t) => {
  if (!requireRoot(t, 'checkWorkdirFor for another user (chown, useradd)')) return;
  const u = createTestUser('pe-wdir');
  t.teardown(() => u.remove());
  const user: ResolvedUser = { name: u.name, uid: u.uid, gid: u.gid, groups: [u.gid, u.extraGid], home: '/nonexistent', shell: '/usr/sbin/nologin' };
  const base = tempDir(t, 'workdir-');
  chmodSync(base, 0o755);
  const mk = (name: string, mode: number, uid = 0, gid = 0): string => {
    const p = join(base, name);
    mkdirSync(p, { recursive: true });
    chownSync(p, uid, gid);
    chmodSync(p, mode);
    return p;
  };
  const closed = mk('closed', 0o700);
  const inner = mk('closed/inner', 0o777);
  const byGroup = mk('bygroup', 0o750, 0, u.extraGid);
  const otherGroup = mk('othergroup', 0o750, 0, 0);
  const ownerNoX = mk('ownernox', 0o070, u.uid, u.extraGid);
  const open = mk('open', 0o755);
  symlinkSync(open, join(closed, 'link'));

  t.equal(
    checkWorkdirFor(user, inner),
    `${u.name} (uid ${u.uid}, gid ${u.gid}, groups ${u.gid},${u.extraGid}) cannot enter working directory ${inner}: no search (x) permission on ${closed} (owner 0:0, mode 0700)`,
    'a closed parent is named, with owner and mode',
  );
  t.match(checkWorkdirFor(user, closed), /cannot enter working directory .*closed: no search \(x\) permission on .*closed \(owner 0:0, mode 0700\)/, 'the directory itself');
  t.equal(checkWorkdirFor(user, byGroup), undefined, 'a supplementary group gives access');
  t.match(checkWorkdirFor(user, otherGroup), /no search \(x\) permission on .*othergroup \(owner 0:0, mode 0750\)/);
  t.match(checkWorkdirFor(user, ownerNoX), /mode 0070/, 'the owner class wins over the group class');
  t.equal(checkWorkdirFor(user, open), undefined);
  t.match(checkWorkdirFor(user, join(closed, 'link')), /no search \(x\) permission on .*closed \(/, 'a symlink inside a closed directory does not open it');
  t.equal(checkWorkdirFor({ ...user, name: 'root', uid: 0, gid: 0, groups: [0] }, inner), undefined, 'root as the target user enters anything');
  t.equal(checkWorkdirFor(null, inner), undefined, 'the agent (root) itself');
});

t.test('pathProblem: what a role writes or reads as it starts, by the mode bits, for a user who owns none of it', async (t) => {
  const other: ResolvedUser = { name: 'other', uid: 4242, gid: 4242, groups: [4242], home: '/nonexistent', shell: '/sbin/nologin' };
  const who = 'other (uid 4242, gid 4242, groups 4242)';
  const base = tempDir(t, 'paths-');
  chmodSync(base, 0o755);
  const dir = (name: string, mode: number): string => {
    const p = join(base, name);
    mkdirSync(p);
    chmodSync(p, mode);
    return p;
  };
  const file = (name: string, mode: number): string => {
    const p = join(base, name);
    writeFileSync(p, '');
    chmodSync(p, mode);
    return p;
  };
  const open = dir('open', 0o777);
  const shut = dir('shut', 0o755);
  const closed = dir('closed', 0o700);
  const writable = file('writable.log', 0o666);
  const readOnly = file('read-only.log', 0o644);
  const secret = file('secret.conf', 0o600);
  const inClosed = join(closed, 'inner.log');
  writeFileSync(inClosed, '');
  chmodSync(inClosed, 0o666);

  t.equal(pathProblem(other, open, 'dir'), undefined, 'dir: a directory open to all');
  t.equal(pathProblem(other, shut, 'dir'), `${who} cannot make entries in ${shut}: no write (w) permission (owner ${process.getuid?.()}:${process.getgid?.()}, mode 0755)`);
  t.equal(pathProblem(other, join(base, 'missing'), 'dir'), `${join(base, 'missing')} does not exist`);
  t.equal(pathProblem(other, writable, 'dir'), `${writable} is not a directory`);
  t.match(pathProblem(other, join(closed, 'sub'), 'dir'), /does not exist|no search/, 'behind a closed directory');

  t.equal(pathProblem(other, writable, 'file'), undefined, 'file: a regular file it may write');
  t.equal(pathProblem(other, join(open, 'new.log'), 'file'), undefined, 'file: made in a directory open to all');
  t.match(pathProblem(other, readOnly, 'file'), new RegExp(`^${who.replace(/[()]/g, '\\$&')} cannot write to .*read-only\\.log: no write \\(w\\) permission \\(owner \\d+:\\d+, mode 0644\\)$`));
  t.match(pathProblem(other, join(shut, 'new.log'), 'file'), /cannot create .*shut\/new\.log: no write \(w\) permission on .*shut \(owner \d+:\d+, mode 0755\)/);
  t.equal(pathProblem(other, join(base, 'nope', 'x.log'), 'file'), `${join(base, 'nope', 'x.log')} does not exist, nor its directory ${join(base, 'nope')}`);
  t.match(pathProblem(other, inClosed, 'file'), /cannot reach .*closed\/inner\.log: no search \(x\) permission on .*closed \(owner \d+:\d+, mode 0700\)/, 'a file it may write, in a directory it may not enter');
  t.equal(pathProblem(other, open, 'file'), `${open} is a directory, not a file`);
  t.equal(pathProblem(other, '/dev/null', 'file'), undefined, 'a device is opened as the service opens it, not judged');
  t.match(pathProblem(other, join(writable, 'sub.log'), 'file'), /a part of its path is a file, not a directory|is not a directory/);

  t.equal(pathProblem(other, readOnly, 'read'), undefined, 'read: a file readable by all');
  t.match(pathProblem(other, secret, 'read'), /cannot read .*secret\.conf: no read \(r\) permission \(owner \d+:\d+, mode 0600\)/);
  t.equal(pathProblem(other, join(base, 'missing.conf'), 'read'), `${join(base, 'missing.conf')} does not exist`);

  t.equal(pathProblem({ ...other, uid: 0, gid: 0, groups: [0] }, shut, 'dir'), undefined, 'root may write anywhere the mode bits forbid');
  t.equal(pathProblem(null, open, 'dir'), undefined, 'the agent itself');
});
