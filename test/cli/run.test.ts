// src/main.ts and src/cli/run-steps.ts (wait, check, init, run) through bin/pulp-entrypoint.
// The whole command against the real FerretDB and RabbitMQ: bin/pulp-entrypoint as users run
// it, drivers loaded from the built chunk (dist/drivers.cjs). pulp-manage-db and celery are
// stand-ins (shell scripts that record their argv and user), because Pulp 2 cannot be
// installed here; test/exec/celery.test.ts runs a real Celery worker.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROGRAM, cli, ROOT } from '../helpers/cli.ts';
import { closedPort } from '../helpers/net.ts';
import { requireServices, serviceVariables } from '../helpers/services.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { isRoot } from '../helpers/unavailable.ts';

const s = requireServices(t, 'whole-process wait, check and run');
if (s) {
  const dir = tempDir(t, 'pe-run-');
  chmodSync(dir, 0o755); // the role runs as another user and needs to reach work/
  const bin = join(dir, 'bin');
  const work = join(dir, 'work');
  mkdirSync(bin);
  mkdirSync(work);
  chmodSync(work, 0o777);
  const record = join(work, 'record.txt');
  for (const [name, code] of [['pulp-manage-db', 0], ['celery', 7]] as const) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $(id -un) $*" >> ${record}\nexit ${code}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const conf = confCopy(dir);
  const base = {
    PATH: `${bin}:${process.env.PATH}`,
    PULP_SERVER_CONF: conf,
    ...serviceVariables(s),
    PULP_BROKER_SCHEME: 'amqp',
    PULP_CELERY_WORKDIR: work,
    // The workers' [server] working_directory (Pulp's /var/cache/pulp is not on this machine).
    PULP_CONF__SERVER__WORKING_DIRECTORY: work,
    PULP_RUN_AS: isRoot ? 'nobody' : String(process.getuid?.()),
    PULP_INIT_KEY: `cli-run-${process.pid}-${Date.now()}`,
    PULP_WAIT_TIMEOUT: '20',
  };

  // bin/'s build only: the binary has no drivers chunk.
  if (PROGRAM.kind === 'bin') t.test('the drivers chunk and its code cache are built', async (t) => {
    t.ok(existsSync(join(ROOT, 'dist/drivers.cjs')));
    t.ok(existsSync(join(ROOT, `dist/drivers.cjs.v8-${process.versions.v8}.cache`)));
  });

  t.test('check and wait: ready, exit 0, the password in no line', async (t) => {
    for (const cmd of ['check', 'wait']) {
      const r = cli([cmd], base);
      t.equal(r.status, 0, `${cmd}: ${r.stderr}`);
      t.match(r.stderr, /mongodb at .* ready/);
      t.match(r.stderr, /amqp at .* ready/);
      t.notOk(r.stderr.includes(s.amqpPassword), 'no password');
    }
  });

  t.test('wait against a closed port: 69 at the deadline, naming the dependency', async (t) => {
    const closed = await closedPort();
    const started = Date.now();
    const r = cli(['wait', '--timeout', '1.5'], { ...base, DB_SERVICE_PORT: String(closed) });
    t.equal(r.status, 69);
    t.ok(Date.now() - started < 6000, 'returns soon after the deadline');
    const last = r.stderr.trimEnd().split('\n').pop() ?? '';
    t.match(last, new RegExp(`error: .*mongodb at 127\\.0\\.0\\.1:${closed}.*refused`), last);
  });

  t.test('run beat: init once, then the role with extra arguments, its exit code', async (t) => {
    const r = cli(['beat', '--extra-arg'], base);
    t.equal(r.status, 7, `the role's own code: ${r.stderr}`);
    const user = isRoot ? 'nobody' : '';
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    t.match(lines[0], new RegExp(`^pulp-manage-db ${user}`), 'init ran first, as the run-as user');
    t.match(lines[1], /^celery \S* beat --app=pulp\.server\.async\.celery_instance\.celery .*--extra-arg$/);
    const again = cli(['beat'], base);
    t.equal(again.status, 7);
    t.match(again.stderr, /already done at .*skipping it/);
    t.equal(readFileSync(record, 'utf8').trim().split('\n').filter((l) => l.startsWith('pulp-manage-db')).length, 1, 'init ran once');
  });

  t.test('run worker: starts once the init is recorded; without it, 69 and no start', async (t) => {
    const r = cli(['worker'], { ...base, HOSTNAME: 'pulp-worker-2' });
    t.equal(r.status, 7, r.stderr);
    t.match(readFileSync(record, 'utf8'), /celery \S* worker -n reserved_resource_worker-2@/);
    const before = readFileSync(record, 'utf8');
    const none = cli(['worker'], { ...base, PULP_INIT_KEY: `never-${Date.now()}`, PULP_WAIT_TIMEOUT: '2' });
    t.equal(none.status, 69);
    t.match(none.stderr, /not recorded before the deadline/);
    t.equal(readFileSync(record, 'utf8'), before, 'the worker did not start');
  });

  t.test('another program: configured, exec\'d as given, its exit code', async (t) => {
    const r = cli(['sh', '-c', 'grep -c "^seeds: " "$PULP_SERVER_CONF"; exit 4'], base);
    t.equal(r.status, 4);
    t.equal(r.stdout, '1\n', 'server.conf was configured before the program ran');
  });
}
