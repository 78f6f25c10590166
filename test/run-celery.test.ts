// A real Celery worker (Debian's python3-celery, the tiny app in fixtures/celery-app) run by
// the agent as PID 1 of a PID namespace, against the real RabbitMQ (its AMQP 0-9-1 side;
// test/services/start.sh). Pulp's own Celery apps stand in as this app: Pulp 2 cannot be
// installed here. SIGTERM to PID 1 must give Celery's warm shutdown and exit 0, in both modes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NODE24, ROOT, bundleEntry, cleanup, createTestUser, runAsPid1, serviceAddress, waitFor } from './exec-helpers.ts';

const amqp = serviceAddress('PULP_TEST_AMQP');
let celeryOk = false;
try {
  execFileSync('/usr/bin/python3', ['-c', 'import celery'], { stdio: 'ignore' });
  celeryOk = true;
} catch {
  celeryOk = false;
}
const missing = amqp === undefined ? 'RabbitMQ (run test/services/start.sh or set PULP_TEST_AMQP)' : !celeryOk ? 'python3-celery (apt-get install python3-celery)' : process.geteuid?.() !== 0 ? 'root' : undefined;

if (missing !== undefined) {
  if (process.env.CI === 'true') t.fail(`the real-Celery test needs ${missing}`);
  else t.skip(`SKIPPED: real Celery worker test: missing ${missing}`, () => {});
} else {
  const entry = await bundleEntry();
  const user = createTestUser('pe-celery');
  t.teardown(() => {
    user.remove();
    cleanup(join(entry, '..'));
  });
  const appDir = join(ROOT, 'fixtures', 'celery-app');
  const modes = [
    { name: 'supervise (Node 20)', node: process.execPath },
    { name: 'exec (Node 24)', node: existsSync(NODE24) ? NODE24 : undefined },
  ];
  for (const mode of modes) {
    t.test(`${mode.name}: the worker starts, and SIGTERM to PID 1 gives a warm shutdown and exit 0`, async (t) => {
      if (mode.node === undefined) {
        if (process.env.CI === 'true') t.fail('Node 24 missing: run node scripts/ensure-node24.mjs');
        else t.skip('SKIPPED: Node 24 missing (node scripts/ensure-node24.mjs)', () => {});
        return;
      }
      const run = runAsPid1(
        [mode.node, entry, 'exec', 'celery', '-A', 'app', 'worker', '-c', '1', '-n', 'resource_manager@test', '--without-mingle', '--without-gossip', '-l', 'INFO'],
        {
          PATH: `${join(appDir, 'bin')}:/usr/bin:/bin`,
          PYTHONPATH: appDir,
          CELERY_BROKER_URL: `amqp://guest:guest@${amqp}//`,
          ENTRY_RUN_AS: user.name,
          ENTRY_CWD: appDir,
        },
      );
      t.teardown(() => void run.child.kill('SIGKILL'));
      const pid1 = await run.pid1();
      await waitFor('Celery to say ready', () => (/resource_manager@test ready\./.test(run.output()) ? true : undefined), 60_000);
      process.kill(pid1, 'SIGTERM');
      const { code } = await run.exit;
      t.equal(code, 0, run.output());
      t.match(run.output(), /Connected to amqp:\/\/guest:\*\*@/);
      t.match(run.output(), /Warm shutdown \(MainProcess\)/);
      t.notMatch(run.output(), /running the worker with superuser privileges/i, 'not run as root');
    });
  }
}
