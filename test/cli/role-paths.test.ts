// src/cli/role-paths.ts through the whole command, under both names: a role that would start
// broken because what it writes as it starts is missing or not its user's is refused before
// anything is written (65, one line naming the key, the path and what to change), and the
// preview shows the path and quotes the same line as a note. Pulp's workers and their
// [server] working_directory (why: test/pulp/worker-start-pulp2.test.ts); Keystone's API and
// its log file (the real Keystone: test/keystone/api-real.test.ts).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { requireRoot } from '../helpers/unavailable.ts';
import type { PreviewDocument } from '../../src/cli/preview.ts';

const dir = tempDir(t, 'pe-paths-');
chmodSync(dir, 0o755); // the run-as user (nobody) must reach bin/ and work/
const bin = join(dir, 'bin');
mkdirSync(bin);
for (const name of ['celery', 'pulp-manage-db', 'gunicorn', 'keystone-manage']) {
  writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, name), 0o755);
}
const work = join(dir, 'work');
mkdirSync(work, { mode: 0o777 });
chmodSync(work, 0o777);
const rootOwned = join(dir, 'root-owned');
mkdirSync(rootOwned);
chmodSync(rootOwned, 0o755);
const open = join(dir, 'open');
mkdirSync(open);
chmodSync(open, 0o777);
const missing = join(dir, 'missing');

function run(program: string, args: string[], env: Record<string, string>): { status: number | null; stdout: string; last: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', program), ...args], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: '/root', ...env }, encoding: 'utf8', input: '', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, last: r.stderr.trimEnd().split('\n').pop() ?? '' };
}

/** The files under `d`, with their bytes. */
function files(d: string): Record<string, string> {
  return Object.fromEntries(readdirSync(d).map((n) => [n, readFileSync(join(d, n), 'latin1')]));
}

/** run refuses with `line`, writes nothing in `state`; the preview shows the path and quotes the line. */
function refused(t: Test, program: string, role: string, env: Record<string, string>, state: string, line: RegExp, path: string): void {
  const before = files(state);
  const r = run(program, [role], env);
  t.equal(r.status, 65, `run ${role}: 65 (${r.last})`);
  t.match(r.last, line);
  t.same(files(state), before, 'nothing written');
  const p = run(program, ['preview', role, '--json'], env);
  t.equal(p.status, 0, 'the preview is complete');
  const doc = JSON.parse(p.stdout) as PreviewDocument;
  t.ok(doc.paths?.some((x) => x.path === path), `the preview lists ${path}`);
  const quoted = r.last.replace(/^\S+: error: /, '');
  t.ok(doc.notes.some((n) => n === `on this machine run would refuse the role: ${quoted}`), `and quotes run's line as a note: ${doc.notes.join(' | ')}`);
}

if (requireRoot(t, "the run-as user's access to the role's paths (PREFIX_RUN_AS=nobody)")) {
  t.test("pulp-entrypoint: a worker's [server] working_directory", async (t) => {
    const state = join(dir, 'pulp');
    mkdirSync(state);
    copyFileSync(join(ROOT, 'src', 'pulp', 'default-server.conf'), join(state, 'server.conf'));
    const env = (wd: string): Record<string, string> => ({
      PULP_SERVER_CONF: join(state, 'server.conf'),
      PULP_CONF__SERVER__WORKING_DIRECTORY: wd,
      PULP_RUN_AS: 'nobody',
      PULP_INIT_KEY: 'k',
      PULP_CELERY_WORKDIR: work,
      PULP_WAIT_TIMEOUT: '1',
      DB_SERVICE_HOST: '127.0.0.1',
      DB_SERVICE_PORT: '9',
      MSG_SERVICE_HOST: '127.0.0.1',
      MSG_SERVICE_PORT: '9',
    });
    const label = (p: string): string => `^pulp-entrypoint: error: server\\.conf \\[server\\] working_directory \\(${p}\\): `;
    const tail = "; the role would start broken: each Celery worker makes its own working directory there as it starts \\(Pulp's initialize_worker\\), and its tasks work in it; create it, writable by the run-as user, in the image or a volume, or set PULP_CONF__SERVER__WORKING_DIRECTORY$";
    for (const role of ['worker', 'resource_manager']) {
      refused(t, 'pulp-entrypoint', role, env(missing), state, new RegExp(`${label(missing)}${missing} does not exist${tail}`), missing);
      refused(t, 'pulp-entrypoint', role, env(rootOwned), state, new RegExp(`${label(rootOwned)}nobody \\(uid \\d+.*\\) cannot make entries in ${rootOwned}: no write \\(w\\) permission \\(owner 0:0, mode 0755\\)${tail}`), rootOwned);
    }
    const fine = run('pulp-entrypoint', ['worker'], env(open));
    t.equal(fine.status, 69, `a directory nobody may write: past the checks, to the waits (${fine.last})`);
    const beat = run('pulp-entrypoint', ['preview', 'beat', '--json'], env(missing));
    t.equal((JSON.parse(beat.stdout) as PreviewDocument).paths, undefined, 'beat makes no working directory');
  });

  t.test("keystone-entrypoint: the API's log file", async (t) => {
    const state = join(dir, 'keystone');
    mkdirSync(state);
    copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), join(state, 'keystone.conf'));
    writeFileSync(join(state, 'gunicorn.conf.py'), '# an older gunicorn file\n');
    const env = (extra: Record<string, string>): Record<string, string> => ({
      KEYSTONE_CONF: join(state, 'keystone.conf'),
      KEYSTONE_RUN_AS: 'nobody',
      KEYSTONE_INIT_KEY: 'k',
      KEYSTONE_WAIT_TIMEOUT: '1',
      DB_SERVICE_HOST: '127.0.0.1',
      DB_SERVICE_PORT: '9',
      // Past the checks the agent makes this replica's keys: here, not in /etc/keystone.
      KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: join(state, 'fernet-keys'),
      KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: join(state, 'fernet-keys'),
      KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: join(state, 'credential-keys'),
      ...extra,
    });
    const log = join(rootOwned, 'gunicorn.log');
    refused(
      t,
      'keystone-entrypoint',
      'api',
      env({ KEYSTONE_CONF__DEFAULT__LOG_DIR: rootOwned }),
      state,
      new RegExp(
        `^keystone-entrypoint: error: keystone\\.conf \\[DEFAULT\\] log_dir \\(${log}\\): nobody \\(uid \\d+.*\\) cannot create ${log}: no write \\(w\\) permission on ${rootOwned} \\(owner 0:0, mode 0755\\); the role would start broken: oslo\\.log opens the log file to append as each API worker starts; a worker that cannot fails to boot; make its directory writable by the run-as user, or set KEYSTONE_CONF__DEFAULT__LOG_DIR$`,
      ),
      log,
    );
    const secret = join(rootOwned, 'logging.conf');
    writeFileSync(secret, '[loggers]\n', { mode: 0o600 });
    chmodSync(secret, 0o600);
    refused(t, 'keystone-entrypoint', 'api', env({ KEYSTONE_CONF__DEFAULT__LOG_CONFIG_APPEND: secret }), state, /log_config_append \(.*logging\.conf\): nobody .* cannot read .*logging\.conf: no read \(r\) permission/, secret);
    const fine = run('keystone-entrypoint', ['api'], env({ KEYSTONE_CONF__DEFAULT__LOG_DIR: open }));
    t.equal(fine.status, 69, `a log directory nobody may write: past the checks, to the wait (${fine.last})`);
    t.ok(existsSync(join(state, 'fernet-keys', '0')), "this replica's keys made where keystone.conf says");
  });
}
