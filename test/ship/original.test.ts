// fixtures/original/run.sh (the original pipeline, for comparison); no src module.
// fixtures/original/run.sh, the original images' pipeline recreated for the start-up
// benchmark, must do what the original did or the benchmark compares against a straw man:
// four augtool edits, the pymongo check against a real MongoDB-compatible server (FerretDB),
// then exec of the Celery command as the run user. `celery` and `pulp-manage-db` are
// stand-in sh scripts that record their argv and user (Pulp 2 is not installable here).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { requireServices } from '../helpers/services.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { isRoot, unavailable } from '../helpers/unavailable.ts';

const RUN_SH = join(ROOT, 'fixtures', 'original', 'run.sh');

function sandbox(t: Test) {
  const dir = tempDir(t, 'ship-original-');
  chmodSync(dir, 0o755); // the script's user switch must reach bin/ and the record
  const bin = join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  const record = join(dir, 'record');
  writeFileSync(record, '');
  chmodSync(record, 0o666);
  for (const name of ['celery', 'pulp-manage-db']) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $(id -un) $*" >> '${record}'\n`);
    chmodSync(join(bin, name), 0o755);
  }
  mkdirSync(join(dir, 'etc', 'pulp'), { recursive: true });
  const conf = confCopy(join(dir, 'etc', 'pulp'));
  return { dir, bin, record, conf };
}

const augtool = spawnSync('augtool', ['--version']);
if (augtool.error) {
  unavailable(t, 'the fixtures/original tests: augtool is missing (apt-get install augeas-tools)');
} else {
  t.test('beat: four augtool edits, pymongo check, pulp-manage-db, exec celery beat as the run user', async (t) => {
    const s = requireServices(t, 'the recreated original pipeline');
    if (!s) return;
    const box = sandbox(t);
    const i = s.mongodb.lastIndexOf(':');
    const runAs = isRoot ? 'nobody' : '';
    const r = spawnSync('bash', [RUN_SH, 'beat'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        PATH: `${box.bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
        ORIG_ROOT: box.dir,
        ORIG_RUN_AS: runAs,
        PULP_SERVER_NAME: 'pulp.test',
        DB_SERVICE_HOST: s.mongodb.slice(0, i),
        DB_SERVICE_PORT: s.mongodb.slice(i + 1),
        MSG_SERVICE_HOST: 'broker.test',
        MSG_SERVICE_USER: 'pulpuser',
      },
    });
    t.equal(r.status, 0, r.stderr);
    const conf = readFileSync(box.conf, 'utf8');
    // Augeas appends absent keys with the lens' default "=" separator, as seed-notes observed.
    t.match(conf, /^server_name=pulp\.test$/m);
    t.match(conf, new RegExp(`^seeds=${s.mongodb.replace(/[.[\]]/g, '\\$&')}$`, 'm'));
    t.match(conf, /^url=tcp:\/\/broker\.test:5672$/m);
    t.match(conf, /^broker_url=qpid:\/\/pulpuser@broker\.test:5672$/m);
    const user = runAs || spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
    t.same(readFileSync(box.record, 'utf8').trim().split('\n').map((l) => l.trimEnd()), [
      `pulp-manage-db ${user} `,
      `celery ${user} beat --app=pulp.server.async.celery_instance.celery --scheduler=pulp.server.async.scheduler.Scheduler --workdir=/var/lib/pulp/celery -f /var/log/pulp/celerybeat.log -l INFO`,
    ].map((l) => l.trimEnd()));
  });

  t.test('MongoDB never answers: gives up after the tries with exit 1, never execs', async (t) => {
    const box = sandbox(t);
    const r = spawnSync('bash', [RUN_SH, 'worker'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: `${box.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, ORIG_ROOT: box.dir, ORIG_RUN_AS: '', ORIG_TRIES: '2', ORIG_DELAY: '0', DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: '9' },
    });
    t.equal(r.status, 1);
    t.match(r.stderr, /MongoDB at 127\.0\.0\.1:9 did not answer/);
    t.equal(readFileSync(box.record, 'utf8'), '', 'celery never started');
  });

  t.test('no server.conf: refuses to go on, as the original did', async (t) => {
    const box = sandbox(t);
    rmSync(box.conf);
    const r = spawnSync('bash', [RUN_SH, 'worker'], { encoding: 'utf8', env: { PATH: `${box.bin}:/usr/bin:/bin`, ORIG_ROOT: box.dir, ORIG_RUN_AS: '' } });
    t.equal(r.status, 1);
    t.match(r.stderr, /server\.conf does not exist/);
  });
}
