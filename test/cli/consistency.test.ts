// src/cli (run-steps.ts preflight, preview.ts, output.ts) through the whole command: where
// two paths must agree.
// Small disagreements, through the real command: preview quotes the line run refuses an
// unknown PULP_RUN_AS with, and both refuse alike a value wrong everywhere; output that cannot
// be written is exit 74, not 0; durations in messages are whole milliseconds; a missing setpriv (every switch of user in supervise mode and for the init
// needs it) is refused before server.conf is written. (The group list of a role in supervise
// mode: test/exec/pid1.test.ts.)
import t from 'tap';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cli } from '../helpers/cli.ts';
import { runMeasured } from '../helpers/measure.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { requireRoot } from '../helpers/unavailable.ts';

const dir = tempDir(t, 'pe-consistency-');
const conf = confCopy(dir);
const work = join(dir, 'work');
mkdirSync(work);
const last = (s: string): string => s.trimEnd().split('\n').pop() ?? '';

t.test('PULP_RUN_AS: preview quotes the line run refuses an unknown user with; a value wrong everywhere both refuse alike', async (t) => {
  // As another user both ignore PULP_RUN_AS.
  if (!requireRoot(t, 'PULP_RUN_AS refusals')) return;
  for (const runAs of ['no-such-user-x', '99999', '4294967294']) {
    const env = { PULP_SERVER_CONF: conf, PULP_CELERY_WORKDIR: work, PULP_RUN_AS: runAs, PULP_INIT_KEY: 'k' };
    const run = cli(['worker'], env);
    const preview = cli(['preview', 'worker', '--json'], env);
    t.equal(run.status, 65, `run: ${last(run.stderr)}`);
    t.match(last(run.stderr), new RegExp(`PULP_RUN_AS=${runAs}: no such user`));
    t.equal(preview.status, 0, `preview of ${runAs} is complete`);
    const notes = (JSON.parse(preview.stdout) as { notes: string[] }).notes;
    t.ok(notes.some((n) => n.endsWith(`run here would refuse with "${last(run.stderr)}"`)), `the note quotes run's line: ${notes.join(' | ')}`);
  }
  for (const [runAs, why] of [['4294967295', /uid 4294967295 is out of range/], ['no such user', /is not a user name or uid/]] as const) {
    const env = { PULP_SERVER_CONF: conf, PULP_CELERY_WORKDIR: work, PULP_RUN_AS: runAs, PULP_INIT_KEY: 'k' };
    const run = cli(['worker'], env);
    const preview = cli(['preview', 'worker'], env);
    t.equal(run.status, 65, `run: ${last(run.stderr)}`);
    t.equal(preview.status, 65, `preview: ${last(preview.stderr)}`);
    t.equal(last(preview.stderr), last(run.stderr), 'the same refusal');
    t.match(last(preview.stderr), why);
  }
  t.equal(cli(['preview', 'worker'], { PULP_SERVER_CONF: conf, PULP_RUN_AS: 'nobody' }).status, 0, 'an existing user is fine');
});

t.test('a full stdout (/dev/full) is exit 74 with one line on stderr', async (t) => {
  for (const args of [['preview', 'beat'], ['preview', 'beat', '--json'], ['configure'], ['--help'], ['--version']]) {
    const full = openSync('/dev/full', 'w');
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, PULP_SERVER_CONF: conf, DB_SERVICE_HOST: 'db' },
      stdio: ['ignore', full, 'pipe'],
      encoding: 'utf8',
      timeout: 30_000,
    });
    closeSync(full);
    t.equal(r.status, 74, `${args.join(' ')}: exit 74`);
    t.match(r.stderr, /^pulp-entrypoint: error: cannot write to stdout \(no space left on the device\)/, `${args.join(' ')}: says why`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`);
  }
});

t.test('durations in messages are whole milliseconds', async (t) => {
  // Accepts and never answers: the attempt ends at its own time limit, here a fraction of a
  // millisecond (as what is left of a deadline often is), shown rounded.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const r = await runMeasured(['check', '--timeout', '0.8398275'], {
    PULP_SERVER_CONF: conf,
    DB_SERVICE_HOST: '127.0.0.1',
    DB_SERVICE_PORT: String(port),
    MSG_SERVICE_HOST: '127.0.0.1',
    MSG_SERVICE_PORT: String(port),
    MSG_SERVICE_USER: 'u',
  });
  t.equal(r.status, 69, last(r.stderr));
  t.match(r.stderr, /no answer within 840 ms/, 'the attempt limit is in the messages');
  t.notMatch(r.stderr, /\d\.\d+ ms/, 'and never with a fraction');
});

t.test('as root, no setpriv: run refuses before server.conf is written', async (t) => {
  if (!requireRoot(t, 'a run without setpriv (user switch, unshare --mount)')) return;
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const name of ['celery', 'pulp-manage-db']) {
    writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, name), 0o755);
  }
  chmodSync(dir, 0o755);
  chmodSync(work, 0o777);
  const blank = join(dir, 'not-setpriv');
  writeFileSync(blank, '');
  const file = join(dir, 'untouched.conf');
  copyFileSync(conf, file);
  const past = new Date('2020-03-03T00:00:00Z');
  utimesSync(file, past, past);
  const before = readFileSync(file);
  // setpriv hidden in a mount namespace of this command alone: an empty, non-executable file
  // bound over it.
  const script = 'for f in /usr/bin/setpriv /bin/setpriv /usr/sbin/setpriv /sbin/setpriv; do [ -e "$f" ] && mount --bind "$0" "$f"; done; exec "$@"';
  for (const role of ['beat', 'worker']) {
    const r = spawnSync('unshare', ['--mount', 'sh', '-c', script, blank, process.execPath, BIN, role], {
      env: { PATH: `${bin}:/usr/bin:/bin`, PULP_SERVER_CONF: file, DB_SERVICE_HOST: 'db', PULP_CELERY_WORKDIR: work, PULP_RUN_AS: 'nobody', PULP_INIT_KEY: 'k', PULP_EXEC_MODE: 'supervise' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    t.equal(r.status, 126, `${role}: ${last(r.stderr)}`);
    t.match(last(r.stderr), /setpriv \(util-linux\) not found at \/usr\/bin\/setpriv or \/bin\/setpriv: it is needed to start a program as nobody with its groups/, `${role}: names setpriv`);
    t.ok(readFileSync(file).equals(before) && statSync(file).mtimeMs === past.getTime(), `${role}: server.conf untouched`);
  }
});
