// src/exec/run.ts and supervise.ts (exec and supervise mode) starting a real Celery worker as PID 1.
// `pulp-entrypoint resource_manager` (bin/pulp-entrypoint, the role table's exact argv) exec'ing
// a REAL Celery worker (Debian's python3-celery) as PID 1 of a PID namespace, against the real
// RabbitMQ of test/services/start.sh: the agent waits on its AMQP 1.0 side, Celery talks 0-9-1
// on the same port. Pulp 2 cannot be installed here, so the app behind `-A
// pulp.server.async.app` is the stand-in app of fixtures/celery-app, re-exported under that
// module name at test time, and pulp-manage-db is the stand-in of fixtures/fake-bin. The
// `celery` on PATH (fixtures/celery-app/bin/celery) moves `-A APP` before the sub-command:
// Pulp 2's Celery 3.1/4 took it after `worker`, Debian's Celery 5.2 refuses that. SIGTERM to
// PID 1 must give Celery's warm shutdown and exit 0, in both modes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentArgv, FAKE_BIN, ROOT, agentEnv, createTestUser, execModes, freshDatabases, openDir, runAgent, runAsPid1, waitFor, needNode24 } from '../helpers/exec.ts';
import { requireServices } from '../helpers/services.ts';
import { requireRoot, unavailable } from '../helpers/unavailable.ts';

const APP_DIR = join(ROOT, 'fixtures', 'celery-app');
// `celery` for the agent to find on PATH: Debian ships the module but no script. Not the
// `python3` first on PATH, which may be pyenv's without celery.
const CELERY_BIN = join(APP_DIR, 'bin');

function hasCelery(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import celery'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the package pulp.server.async under `dir` with an `app` module that re-exports the
 * stand-in app; returns the directory for PYTHONPATH. (`async` is a keyword, but importlib,
 * which Celery's -A uses, imports it by name.)
 */
function writePulpAppPackage(dir: string): string {
  const root = join(dir, 'py');
  const pkg = join(root, 'pulp', 'server', 'async');
  mkdirSync(pkg, { recursive: true });
  for (const d of [join(root, 'pulp'), join(root, 'pulp', 'server'), pkg]) writeFileSync(join(d, '__init__.py'), '');
  writeFileSync(join(pkg, 'app.py'), '# Stand-in for Pulp 2\'s pulp.server.async.app (written by test/exec/celery.test.ts).\nfrom app import app  # noqa: F401  (fixtures/celery-app/app.py)\n');
  return root;
}

/** The uid line of /proc/PID/status: real, effective, saved, filesystem. */
function uids(pid: number): number[] {
  const line = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
  return line.split(/\s+/).map(Number);
}

const celeryOk = hasCelery();
if (!celeryOk) unavailable(t, 'the real-Celery test needs python3-celery for /usr/bin/python3 (apt-get install python3-celery)');
const s =
  celeryOk && requireRoot(t, 'the real-Celery test (useradd, unshare --pid)')
    ? requireServices(t, 'a real Celery worker under bin/pulp-entrypoint (waits for MongoDB and AMQP)')
    : undefined;
if (s) {
  const user = createTestUser('pe-celery');
  t.teardown(() => user.remove());
  const newDb = freshDatabases(t, s, 'pe_celery');
  const brokerUrl = `amqp://${s.amqpUser}:${encodeURIComponent(s.amqpPassword)}@${s.amqp}//`;

  const modes = execModes();
  for (const mode of modes) {
    t.test(`${mode.name}: resource_manager starts a real worker; SIGTERM to PID 1 gives a warm shutdown and exit 0`, async (t) => {
      const node = needNode24(t, mode.node);
      if (node === undefined) return;
      const execMode = mode.name.startsWith('exec');
      const dir = openDir(t, 'pe-celery-');
      const env: NodeJS.ProcessEnv = {
        PATH: `${CELERY_BIN}:${FAKE_BIN}:/usr/bin:/bin`,
        HOME: '/root',
        PULP_RUN_AS: user.name,
        PULP_CELERY_WORKDIR: dir,
        PULP_SERVER_NAME: 'test',
        PULP_INIT_KEY: `pe-celery-${randomBytes(4).toString('hex')}`,
        PYTHONPATH: `${writePulpAppPackage(dir)}:${APP_DIR}`,
        CELERY_BROKER_URL: brokerUrl,
        ...agentEnv(s, dir, newDb()),
        ...mode.env,
      };

      // resource_manager waits for the init record of its key: written first, as beat does.
      const init = await runAgent(node, ['init'], { ...env, FAKE_INIT_SLEEP: '0' }).done;
      t.equal(init.code, 0, init.code === 0 ? 'pulp-entrypoint init: exit 0' : `pulp-entrypoint init failed: ${init.out}`);

      // Mingle and gossip only talk to other workers (there are none): left out to start faster.
      const run = runAsPid1(agentArgv(['resource_manager', '--without-mingle', '--without-gossip'], node), env);
      t.teardown(() => void run.child.kill('SIGKILL'));
      const pid1 = await run.pid1();
      let ended = false;
      void run.exit.then(() => (ended = true));
      await waitFor(
        'Celery to say ready',
        () => {
          if (/resource_manager@test ready\./.test(run.output())) return true;
          if (ended) throw new Error(`the role ended before Celery was ready; output:\n${run.output()}`);
          return undefined;
        },
        60_000,
      ).catch((err: unknown) => {
        throw err instanceof Error && ended ? err : new Error(`${String(err)}; output:\n${run.output()}`);
      });

      // Celery 5.2 accepts --umask 18 but applies it only with --detach: the worker keeps the
      // agent's umask (seen in /proc/PID/status), so this checks the argv, not the umask.
      // The Celery main process: PID 1 itself after execve, else the agent's only child.
      const celeryPid = execMode ? pid1 : Number(readFileSync(`/proc/${pid1}/task/${pid1}/children`, 'utf8').trim().split(/\s+/)[0]);
      t.same(
        readFileSync(`/proc/${celeryPid}/cmdline`, 'utf8').split('\0').filter((a) => a !== ''),
        // prettier-ignore
        ['/usr/bin/python3', '-m', 'celery', '-A', 'pulp.server.async.app', 'worker', '-n', 'resource_manager@test', '-Q', 'resource_manager',
          '-c', '1', '--events', '--umask', '18', '--loglevel=INFO', '--without-mingle', '--without-gossip'],
        "the role's argv and the extra args, with -A moved before `worker` for Celery 5",
      );
      t.same(uids(celeryPid), [user.uid, user.uid, user.uid, user.uid], 'Celery runs as PULP_RUN_AS');

      process.kill(pid1, 'SIGTERM');
      const { code } = await run.exit;
      const out = run.output();
      t.equal(code, 0, code === 0 ? 'exit 0 after SIGTERM' : `exit code after SIGTERM; output:\n${out}`);
      t.match(out, execMode ? /exec resource_manager .*mode=exec/ : /starting resource_manager under the agent .*mode=supervise/, 'the mode');
      t.match(out, new RegExp(`Connected to amqp://${s.amqpUser}:\\*\\*@${s.amqp.replace(/[.[\]]/g, '\\$&')}//`), 'Celery reached the broker over AMQP 0-9-1');
      t.match(out, /\.> resource_manager\s+exchange=resource_manager\(direct\) key=resource_manager/, '-Q resource_manager');
      // The app leaves events off, so ON comes from the role's --events.
      t.match(out, /task events: ON/, '--events accepted');
      t.match(out, /Warm shutdown \(MainProcess\)/, 'warm shutdown');
      t.notMatch(out, /running the worker with superuser privileges/i, 'not run as root');
      t.notOk(out.includes(s.amqpPassword), 'the broker password is in no line');
    });
  }
}
