// The agent as PID 1 of a PID namespace (unshare), running the role in both modes:
// supervise (Node 20, this machine's `node`) and exec (Node 24's process.execve).
// The role is fixtures/fake-bin/celery, a stand-in that records its argv, ids, environment
// and the signals it gets: Pulp 2's Celery apps cannot be installed here.
// Driven through test/fixtures-run-entry.ts until `bin/pulp-entrypoint run` is wired.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { FAKE_BIN, NODE24, ROOT, bundleEntry, cleanup, createTestUser, openDir, readRecord, runAsPid1, waitFor, type RecordEvent } from './exec-helpers.ts';

const isRoot = process.geteuid?.() === 0;
if (!isRoot) {
  if (process.env.CI === 'true') t.fail('these tests need root (useradd, unshare --pid); CI runs as root');
  else t.skip('SKIPPED: PID-namespace and user-switch tests need root (run the suite as root, as CI does)', () => {});
} else {
  const entry = await bundleEntry();
  const user = createTestUser('pe-pid1');
  t.teardown(() => {
    user.remove();
    cleanup(join(entry, '..'));
  });

  let node24: string | undefined = NODE24;
  if (!existsSync(NODE24)) {
    try {
      node24 = execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-node24.mjs')], { encoding: 'utf8' }).trim();
    } catch {
      node24 = undefined;
    }
  }

  const modes: { name: string; node: string | undefined }[] = [
    { name: 'supervise (Node 20)', node: process.execPath },
    { name: 'exec (Node 24 process.execve)', node: node24 },
  ];

  for (const mode of modes) {
    t.test(mode.name, async (t) => {
      if (mode.node === undefined) {
        if (process.env.CI === 'true') t.fail('Node 24 is missing: `node scripts/ensure-node24.mjs` failed');
        else t.skip('SKIPPED: Node 24 missing; run `node scripts/ensure-node24.mjs` (needs the npm registry)', () => {});
        return;
      }
      const node = mode.node;
      const execMode = mode.name.startsWith('exec');
      const dir = openDir('pe-pid1-');
      t.teardown(() => cleanup(dir));
      const baseEnv = (rec: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
        PATH: `${FAKE_BIN}:/usr/bin:/bin`,
        FAKE_RECORD: rec,
        ENTRY_RUN_AS: user.name,
        ENTRY_CWD: dir,
        HOME: '/root',
        ...extra,
      });

      t.test('the role runs as the target user, gets extra args, and SIGTERM to PID 1 reaches it: exit 0', async (t) => {
        const rec = join(dir, 'term.jsonl');
        const run = runAsPid1([node, entry, 'exec', 'celery', 'worker', '--extra', 'two words'], baseEnv(rec));
        const pid1 = await run.pid1();
        await waitFor('the role to be ready', () => readRecord(rec).find((e) => e.event === 'ready'));
        process.kill(pid1, 'SIGTERM');
        const { code } = await run.exit;
        const events = readRecord(rec);
        const start = events.find((e) => e.event === 'start') as RecordEvent;
        t.equal(code, 0, `exit code (output: ${run.output()})`);
        t.same(start.argv, [join(FAKE_BIN, 'celery'), 'worker', '--extra', 'two words'], 'argv[0] resolved on PATH, extra args kept whole');
        t.same(start.uid, [user.uid, user.uid, user.uid], 'real, effective and saved uid');
        t.same(start.gid, [user.gid, user.gid, user.gid], 'real, effective and saved gid');
        t.same(start.groups, [user.gid, user.extraGid].sort((a, b) => a - b), 'supplementary groups');
        t.equal(start.home, `/nonexistent/${user.name}`);
        t.equal(start.user, user.name);
        t.equal(start.logname, user.name);
        t.equal(start.cwd, dir);
        if (execMode) t.equal(start.pid, 1, 'exec: the role is PID 1');
        else t.not(start.pid, 1, 'supervise: the agent stays PID 1');
        t.same(
          events.filter((e) => e.event === 'signal').map((e) => e.signal),
          ['SIGTERM'],
        );
      });

      t.test('no signal is left ignored in the role (Node ignores SIGPIPE and SIGXFSZ itself)', async (t) => {
        // A shell, not the Python stand-in: Python ignores SIGPIPE on its own at start-up.
        const out = join(dir, 'sigign.txt');
        const run = runAsPid1([node, entry, 'exec', 'sh', '-c', `grep SigIgn /proc/self/status > ${out}`], baseEnv(join(dir, 'x.jsonl')));
        t.equal((await run.exit).code, 0, run.output());
        t.match(readFileSync(out, 'utf8'), /^SigIgn:\s+0+$/m);
      });

      t.test("the role's exit code comes back", async (t) => {
        const rec = join(dir, 'code.jsonl');
        const run = runAsPid1([node, entry, 'exec', 'celery'], baseEnv(rec, { FAKE_EXIT: '7' }));
        t.equal((await run.exit).code, 7, run.output());
      });

      if (!execMode) {
        t.test('supervise: HUP, USR1, USR2, WINCH are forwarded; TERM is rewritten to QUIT', async (t) => {
          const rec = join(dir, 'fwd.jsonl');
          const run = runAsPid1([node, entry, 'exec', 'celery'], baseEnv(rec, { PULP_SIGNAL_REWRITE: 'TERM:QUIT' }));
          const pid1 = await run.pid1();
          await waitFor('ready', () => readRecord(rec).find((e) => e.event === 'ready'));
          const sigs = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
          for (const s of sigs) {
            process.kill(pid1, s);
            await waitFor(`${s} at the role`, () => readRecord(rec).find((e) => e.signal === s));
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
          const run = runAsPid1([node, entry, 'exec', 'celery'], baseEnv(rec));
          await run.pid1();
          const ready = await waitFor('ready', () => readRecord(rec).find((e) => e.event === 'ready'));
          // The role's host PID: the only child of the agent (PID 1).
          const pid1 = await run.pid1();
          const rolePid = Number(execFileSync('cat', [`/proc/${pid1}/task/${pid1}/children`], { encoding: 'utf8' }).trim());
          t.ok(ready);
          process.kill(rolePid, 'SIGKILL');
          t.equal((await run.exit).code, 128 + constants.signals.SIGKILL, run.output());
        });

        t.test('init: runToCompletion runs pulp-manage-db as the user and returns its code', async (t) => {
          const rec = join(dir, 'init.jsonl');
          const ok = runAsPid1([node, entry, 'init', 'pulp-manage-db'], baseEnv(rec, { FAKE_INIT_SLEEP: '0' }));
          t.equal((await ok.exit).code, 0, ok.output());
          const start = readRecord(rec).find((e) => e.event === 'start');
          t.same(start?.uid, [user.uid, user.uid, user.uid]);
          const failing = runAsPid1([node, entry, 'init', 'pulp-manage-db'], baseEnv(rec, { FAKE_INIT_SLEEP: '0', FAKE_INIT_EXIT: '3' }));
          t.equal((await failing.exit).code, 3, failing.output());
          // As root, the stand-in refuses (exit 64) like the real pulp-manage-db: the switch is not optional.
          const asRoot = runAsPid1([node, entry, 'init', 'pulp-manage-db'], baseEnv(rec, { FAKE_INIT_SLEEP: '0', ENTRY_RUN_AS: 'root' }));
          t.equal((await asRoot.exit).code, 64, asRoot.output());
        });
      }

      t.test('a program not on PATH exits 127, a missing working directory 65', async (t) => {
        const rec = join(dir, 'missing.jsonl');
        const noProg = runAsPid1([node, entry, 'exec', 'no-such-celery'], baseEnv(rec));
        const r1 = await noProg.exit;
        t.equal(r1.code, 127);
        t.match(noProg.output(), /no-such-celery: not found on PATH/);
        const noDir = runAsPid1([node, entry, 'exec', 'celery'], baseEnv(rec, { ENTRY_CWD: join(dir, 'nope') }));
        t.equal((await noDir.exit).code, 65);
        t.match(noDir.output(), /working directory .*nope for celery does not exist/);
      });
    });
  }
}
