// src/exec (run.ts, supervise.ts, privileges.ts) and src/common/signals.ts through
// bin/pulp-entrypoint as PID 1 of a PID namespace (unshare), in both modes: supervise (Node 20,
// this machine's `node`) and exec (Node 24's process.execve). `run worker` waits for the real
// FerretDB and RabbitMQ (test/services/start.sh) and for the init record of its key, which each
// group of tests writes first with `pulp-entrypoint init`. The role is fixtures/fake-bin/celery and
// the init fixtures/fake-bin/pulp-manage-db: stand-ins that record their argv, ids, environment and
// the signals they get, because Pulp 2's Celery apps cannot be installed here.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import {
  FAKE_BIN,
  agentEnv,
  createTestUser,
  denyByAcl,
  freshDatabases,
  execModes,
  type Mode,
  agentArgv,
  openDir,
  readRecord,
  runAgent,
  runAsPid1,
  waitFor,
  type RecordEvent,
  needNode24,
} from '../helpers/exec.ts';
import { requireServices } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { resolveUser } from '../../src/exec/users.ts';
import { requireRoot, unavailable } from '../helpers/unavailable.ts';

const s = requireRoot(t, 'the PID-namespace and user-switch tests (useradd, unshare --pid)')
  ? requireServices(t, 'bin/pulp-entrypoint as PID 1 (run waits for MongoDB and AMQP)')
  : undefined;
if (s) {
  const user = createTestUser('pe-pid1');
  t.teardown(() => user.remove());
  const newDb = freshDatabases(t, s, 'pe_pid1');

  interface SetUp {
    node: string;
    /** The role's working directory, where the stand-ins write their records: the test user may write it. */
    dir: string;
    key: string;
    /** The agent's environment: the stand-ins record to `rec`, `extra` goes last. */
    env: (rec: string, extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  }

  /**
   * Each group's own directory, database and init key. With `init`, the init of that key is
   * recorded first, as the beat pod (or an init container) does before the workers come up: a
   * role starts only after it. Undefined when the mode's Node is missing (needNode24 says so).
   */
  const setUp = async (t: Test, mode: Mode, init: boolean): Promise<SetUp | undefined> => {
    const node = needNode24(t, mode.node);
    if (node === undefined) return undefined;
    const dir = openDir(t, 'pe-pid1-');
    const db = newDb();
    const key = `pe-pid1-${randomBytes(4).toString('hex')}`;
    const env = (rec: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
      PATH: `${FAKE_BIN}:/usr/bin:/bin`,
      HOME: '/root',
      HOSTNAME: 'pulp-worker-3',
      FAKE_RECORD: rec,
      PULP_RUN_AS: user.name,
      PULP_CELERY_WORKDIR: dir,
      PULP_SERVER_NAME: 'pulp.test',
      PULP_INIT_KEY: key,
      ...agentEnv(s, dir, db),
      ...mode.env,
      ...extra,
    });
    if (init) {
      const done = await runAgent(node, ['init'], env(join(dir, 'setup.jsonl'), { FAKE_INIT_SLEEP: '0' })).done;
      t.equal(done.code, 0, `pulp-entrypoint init: ${done.out}`);
    }
    return { node, dir, key, env };
  };

  for (const mode of execModes()) {
    const execMode = mode.name.startsWith('exec');

    t.test(`${mode.name}: the role runs as the target user, with its argv, ids, groups and working directory`, async (t) => {
      const set = await setUp(t, mode, true);
      if (set === undefined) return;
      const { node, dir, env } = set;

      t.test('run worker: as the target user, with extra args; SIGTERM to PID 1 reaches it: exit 0', async (t) => {
        const rec = join(dir, 'term.jsonl');
        const run = runAsPid1(agentArgv(['worker', '--extra', 'two words'], node), env(rec));
        const pid1 = await run.pid1();
        await waitFor('the role to be ready', () => readRecord(rec).find((e) => e.event === 'ready'));
        process.kill(pid1, 'SIGTERM');
        const { code } = await run.exit;
        const events = readRecord(rec);
        const start = events.find((e) => e.event === 'start') as RecordEvent;
        t.equal(code, 0, `exit code (output: ${run.output()})`);
        t.same(
          start.argv,
          [join(FAKE_BIN, 'celery'), 'worker', '-n', 'reserved_resource_worker-3@pulp.test', '-A', 'pulp.server.async.app', '-c', '1', '--events', '--loglevel=INFO', '--extra', 'two words'],
          'argv[0] resolved on PATH, the role table, extra args appended whole',
        );
        t.same(start.uid, [user.uid, user.uid, user.uid], 'real, effective and saved uid');
        t.same(start.gid, [user.gid, user.gid, user.gid], 'real, effective and saved gid');
        t.same(start.groups, [user.gid, user.extraGid].sort((a, b) => a - b), 'supplementary groups');
        t.equal(start.home, `/nonexistent/${user.name}`);
        t.equal(start.user, user.name);
        t.equal(start.logname, user.name);
        t.equal(start.cwd, dir, 'PULP_CELERY_WORKDIR');
        if (execMode) t.equal(start.pid, 1, 'exec: the role is PID 1');
        else t.not(start.pid, 1, 'supervise: the agent stays PID 1');
        t.match(run.output(), execMode ? /exec worker/ : /starting worker under the agent/);
        t.same(
          events.filter((e) => e.event === 'signal').map((e) => e.signal),
          ['SIGTERM'],
        );
      });

      t.test('a user without supplementary groups: its own group is its group list, in both modes', async (t) => {
        // libuv's setgroups(0, NULL) for spawn's uid/gid left supervise mode with none at all.
        const rec = join(dir, 'plain.jsonl');
        const run = runAsPid1(agentArgv(['worker'], node), env(rec, { FAKE_EXIT: '0', PULP_RUN_AS: 'nobody' }));
        t.equal((await run.exit).code, 0, run.output());
        const start = readRecord(rec).find((e) => e.event === 'start');
        const nobody = resolveUser('nobody');
        t.same(start?.uid, [nobody.uid, nobody.uid, nobody.uid]);
        t.same(start?.groups, [...nobody.groups].sort((a, b) => a - b), `the groups of nobody in /etc/group: ${nobody.groups.join(',')}`);
      });
    });

    t.test(`${mode.name}: beat's init and role get none of the secrets the agent consumed (the role's /proc/PID/environ)`, async (t) => {
      const set = await setUp(t, mode, false);
      if (set === undefined) return;
      const { node, dir, key, env } = set;
      const rec = join(dir, 'environ.jsonl');
      const secret = 'oauth-s3cret-value';
      const passwordFile = join(dir, 'msg-password');
      writeFileSync(passwordFile, `${s.amqpPassword}\n`);
      const run = runAsPid1(
        agentArgv(['beat'], node),
        env(rec, { FAKE_INIT_SLEEP: '0', PULP_INIT_KEY: `${key}-environ`, MSG_SERVICE_PASSWORD: undefined, MSG_SERVICE_PASSWORD_FILE: passwordFile, PULP_CONF__OAUTH__OAUTH_SECRET: secret }),
      );
      t.teardown(() => void run.child.kill('SIGKILL'));
      const pid1 = await run.pid1();
      await waitFor('the role to be ready', () => readRecord(rec).find((e) => e.event === 'ready'), 60_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; output:\n${run.output()}`);
      });
      const rolePid = execMode ? pid1 : Number(readFileSync(`/proc/${pid1}/task/${pid1}/children`, 'utf8').trim().split(/\s+/)[0]);
      const environ = readFileSync(`/proc/${rolePid}/environ`, 'latin1').split('\0').filter((v) => v !== '');
      const names = environ.map((v) => v.slice(0, v.indexOf('=')));
      const withheld = ['MSG_SERVICE_PASSWORD', 'MSG_SERVICE_PASSWORD_FILE', 'PULP_CONF__OAUTH__OAUTH_SECRET'];
      t.same(names.filter((n) => withheld.includes(n)), [], `the role (pid ${rolePid}) has none of ${withheld.join(', ')}`);
      t.notOk(environ.some((v) => v.includes(secret) || v.includes(s.amqpPassword)), 'nor their values under any name');
      t.ok(['PATH', 'MSG_SERVICE_USER', 'DB_SERVICE_HOST', 'PULP_SERVER_CONF', 'PULP_INIT_KEY'].every((n) => names.includes(n)), 'the rest is passed on');
      t.match(readFileSync(join(dir, 'server.conf'), 'utf8'), /^oauth_secret: oauth-s3cret-value$/m, 'the secret is in the file the role reads');
      const init = readRecord(rec).find((e) => e.prog === 'pulp-manage-db' && e.event === 'start');
      t.ok(init?.env?.includes('PULP_SERVER_CONF'), 'pulp-manage-db ran and recorded its environment');
      t.same(init?.env?.filter((n) => withheld.includes(n)), [], 'pulp-manage-db got none of them either');
      process.kill(pid1, 'SIGTERM');
      t.equal((await run.exit).code, 0, run.output());
    });

    t.test(`${mode.name}: signals and exit codes pass through PID 1`, async (t) => {
      const set = await setUp(t, mode, true);
      if (set === undefined) return;
      const { node, dir, env } = set;

      t.test('no signal is left ignored in the program (Node ignores SIGPIPE and SIGXFSZ itself)', async (t) => {
        // A shell through `pulp-entrypoint PROGRAM`, the same exec path as a role's; not the
        // Python stand-in, which ignores SIGPIPE on its own at start-up.
        const out = join(dir, 'sigign.txt');
        const run = runAsPid1(agentArgv(['sh', '-c', `grep SigIgn /proc/self/status > ${out}`], node), env(join(dir, 'x.jsonl')));
        t.equal((await run.exit).code, 0, run.output());
        t.match(readFileSync(out, 'utf8'), /^SigIgn:\s+0+$/m);
      });

      t.test("the role's exit code comes back", async (t) => {
        const rec = join(dir, 'code.jsonl');
        const run = runAsPid1(agentArgv(['worker'], node), env(rec, { FAKE_EXIT: '7' }));
        t.equal((await run.exit).code, 7, run.output());
        t.equal(readRecord(rec).filter((e) => e.event === 'start').length, 1);
      });

      if (!execMode) {
        t.test('supervise: HUP, USR1, USR2, WINCH are forwarded; TERM is rewritten to QUIT', async (t) => {
          const rec = join(dir, 'fwd.jsonl');
          const run = runAsPid1(agentArgv(['worker'], node), env(rec, { PULP_SIGNAL_REWRITE: 'TERM:QUIT' }));
          const pid1 = await run.pid1();
          await waitFor('ready', () => readRecord(rec).find((e) => e.event === 'ready'));
          const sigs = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
          for (const sig of sigs) {
            process.kill(pid1, sig);
            await waitFor(`${sig} at the role`, () => readRecord(rec).find((e) => e.signal === sig));
          }
          process.kill(pid1, 'SIGTERM');
          const { code } = await run.exit;
          t.equal(code, 0, run.output());
          t.same(
            readRecord(rec).filter((e) => e.event === 'signal').map((e) => e.signal),
            [...sigs, 'SIGQUIT'],
          );
          t.match(run.output(), /passing SIGTERM on as SIGQUIT/);
        });

        t.test('supervise: a role killed by a signal gives 128 + signal', async (t) => {
          const rec = join(dir, 'kill.jsonl');
          const run = runAsPid1(agentArgv(['worker'], node), env(rec));
          const ready = await waitFor('ready', () => readRecord(rec).find((e) => e.event === 'ready'));
          // The role's host PID: the only child of the agent (PID 1); setpriv exec'd into it.
          const pid1 = await run.pid1();
          const rolePid = Number(execFileSync('cat', [`/proc/${pid1}/task/${pid1}/children`], { encoding: 'utf8' }).trim());
          t.ok(ready);
          process.kill(rolePid, 'SIGKILL');
          t.equal((await run.exit).code, 128 + constants.signals.SIGKILL, run.output());
        });
      }
    });

    if (!execMode) {
      t.test(`${mode.name}: init runs pulp-manage-db as the target user, and its exit code is the exit code`, async (t) => {
        const set = await setUp(t, mode, false);
        if (set === undefined) return;
        const { node, dir, key, env } = set;
        const rec = join(dir, 'init.jsonl');
        const ok = await runAgent(node, ['init'], env(rec, { FAKE_INIT_SLEEP: '0', PULP_INIT_KEY: `${key}-ok` })).done;
        t.equal(ok.code, 0, ok.out);
        const start = readRecord(rec).find((e) => e.event === 'start');
        t.same(start?.uid, [user.uid, user.uid, user.uid]);
        t.same(start?.argv, [join(FAKE_BIN, 'pulp-manage-db')]);
        const failing = await runAgent(node, ['init'], env(rec, { FAKE_INIT_SLEEP: '0', FAKE_INIT_EXIT: '3', PULP_INIT_KEY: `${key}-fails` })).done;
        t.equal(failing.code, 3, failing.out);
        // As root the stand-in refuses (exit 64) like the real pulp-manage-db: the switch is not optional.
        const asRoot = await runAgent(node, ['init'], env(rec, { FAKE_INIT_SLEEP: '0', PULP_RUN_AS: 'root', PULP_INIT_KEY: `${key}-root` })).done;
        t.equal(asRoot.code, 64, asRoot.out);
      });
    }

    // In exec mode the ACL case gets as far as the exec, so past the wait for the init record.
    t.test(`${mode.name}: a role that cannot start is refused with one line and its exit code; nothing starts`, async (t) => {
      const set = await setUp(t, mode, execMode);
      if (set === undefined) return;
      const { node, dir, env } = set;

      t.test('a working directory the user cannot enter: refused with one line naming it and the user; nothing starts', async (t) => {
        const rec = join(dir, 'closed.jsonl');
        const closed = tempDir(t, 'pe-closed-');
        chmodSync(closed, 0o700); // root's, and the role runs as the test user
        const run = runAsPid1(agentArgv(['worker'], node), env(rec, { PULP_CELERY_WORKDIR: closed }));
        const { code } = await run.exit;
        // A setting to fix, found before server.conf is written (both modes alike: supervise
        // mode alone would enter the directory as root and run the role there).
        t.equal(code, 65, run.output());
        const errors = run.output().split('\n').filter((l) => /^pulp-entrypoint: error:/.test(l));
        t.equal(errors.length, 1, run.output());
        t.match(errors[0], new RegExp(`${user.name} \\(uid ${user.uid}, .*cannot enter working directory ${closed}: no search \\(x\\) permission on ${closed} \\(owner 0:0, mode 0700\\)`));
        t.notMatch(run.output(), /internal error|^\s+at /m);
        t.equal(readRecord(rec).length, 0, 'nothing started');
      });

      if (execMode) {
        t.test('exec: a chdir refused after the switch (an ACL the mode bits do not show) is 126 with one line', async (t) => {
          const denied = tempDir(t, 'pe-acl-');
          if (!denyByAcl(denied, user.uid)) {
            unavailable(t, 'a POSIX ACL on a temp dir (python3 os.setxattr; needs ACL support in the temp filesystem)');
            return;
          }
          const rec = join(dir, 'acl.jsonl');
          // Without tap's process-info hook (NODE_OPTIONS): after the switch it cannot write its
          // own file at exit and prints a stack that is tap's, not the agent's.
          const run = runAsPid1(['env', '-u', 'NODE_OPTIONS', ...agentArgv(['worker'], node)], env(rec, { PULP_CELERY_WORKDIR: denied }));
          const { code } = await run.exit;
          t.equal(code, 126, run.output());
          const errors = run.output().split('\n').filter((l) => /^pulp-entrypoint: error:/.test(l));
          t.equal(errors.length, 1, run.output());
          t.match(errors[0], new RegExp(`^pulp-entrypoint: error: \\S+: ${user.name} \\(uid ${user.uid}, gid ${user.gid}, groups [\\d,]+\\) cannot enter working directory ${denied}: EACCES: give that user search \\(x\\) permission`));
          t.notMatch(run.output(), /internal error|^\s+at /m);
          t.equal(readRecord(rec).length, 0, 'the role never ran');
        });
      }

      t.test('a program not on PATH exits 64 (a typo never acts), a missing working directory 65', async (t) => {
        const rec = join(dir, 'missing.jsonl');
        const noProg = runAsPid1(agentArgv(['no-such-celery'], node), env(rec));
        t.equal((await noProg.exit).code, 64, noProg.output());
        t.match(noProg.output(), /no-such-celery: not a command, a role or a program on PATH/);
        const noDir = runAsPid1(agentArgv(['worker'], node), env(rec, { PULP_CELERY_WORKDIR: join(dir, 'nope') }));
        t.equal((await noDir.exit).code, 65, noDir.output());
        t.match(noDir.output(), /working directory .*nope does not exist/);
        t.equal(readRecord(rec).length, 0, 'nothing started');
      });
    });
  }
}
