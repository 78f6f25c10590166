// "Exit 65 (and 73 for a file that cannot be read) means nothing was written", for every input
// the agent reads and every command that writes, under both names (src/main.ts,
// src/cli/run-steps.ts's preflight): keys mounted from a Secret that are not keys, an empty or
// missing key directory, a FIFO for a key, a credential file or a template that cannot be read,
// a value the waits could not use. Each case starts from its own copy of the same files (the
// configuration file, gunicorn's, both key repositories, all different from what a run would
// write) and checks every one of them byte for byte, with its mode and mtime, after the refusal.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { keyVolume } from '../helpers/secret-volume.mjs';
import { freshKey } from '../../src/conf-file/key-set.ts';

const dir = tempDir(t, 'pe-nothing-');
chmodSync(dir, 0o755); // the run-as user (nobody) must reach bin/ and the working directory
const bin = join(dir, 'bin');
mkdirSync(bin);
for (const name of ['celery', 'pulp-manage-db', 'gunicorn', 'keystone-manage']) {
  writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, name), 0o755);
}
const PAST = new Date('2020-03-03T00:00:00Z');

const workdir = join(dir, 'work');
mkdirSync(workdir);
const keys = [freshKey(), freshKey(), freshKey()];
let cases = 0;

/**
 * A new directory of the files the agent would write, as they are before a case: keystone.conf
 * and server.conf as shipped, an older gunicorn file, both key repositories with other keys;
 * all with an old mtime.
 */
function freshState(): string {
  const state = join(dir, `state-${cases++}`);
  mkdirSync(state);
  copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), join(state, 'keystone.conf'));
  copyFileSync(join(ROOT, 'src', 'pulp', 'default-server.conf'), join(state, 'server.conf'));
  writeFileSync(join(state, 'gunicorn.conf.py'), '# an older gunicorn file\n');
  for (const repo of ['fernet-keys', 'credential-keys']) {
    mkdirSync(join(state, repo), { mode: 0o700 });
    keys.forEach((k, i) => writeFileSync(join(state, repo, String(i)), k, { mode: 0o600 }));
  }
  const touch = (p: string): void => {
    if (lstatSync(p).isDirectory()) for (const n of readdirSync(p)) touch(join(p, n));
    utimesSync(p, PAST, PAST);
  };
  touch(state);
  return state;
}

/** Every file and directory under `state`: bytes, mode, mtime. */
function snapshot(state: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.set(p.slice(state.length), `${st.mode.toString(8)} ${st.mtimeMs} ${st.isDirectory() ? '(dir)' : readFileSync(p).toString('base64')}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(state);
  return out;
}

// The inputs, good and bad.
const inputs = join(dir, 'inputs');
mkdirSync(inputs);
const goodFernet = keyVolume(join(inputs, 'fernet'), [freshKey(), freshKey()]);
const goodCredential = keyVolume(join(inputs, 'credential'), [freshKey(), freshKey()]);
const notAKey = keyVolume(join(inputs, 'not-a-key'), [freshKey(), 'this is not a fernet key']);
const onlyZero = keyVolume(join(inputs, 'only-zero'), [freshKey()]);
const emptyDir = join(inputs, 'empty');
mkdirSync(emptyDir);
const fifoDir = join(inputs, 'fifo');
mkdirSync(fifoDir);
writeFileSync(join(fifoDir, '0'), freshKey());
spawnSync('mkfifo', [join(fifoDir, '1')]);
const missing = join(inputs, 'missing');

const KEYSTONE = (state: string): Record<string, string> => ({
  PATH: `${bin}:/usr/bin:/bin`,
  KEYSTONE_CONF: join(state, 'keystone.conf'),
  KEYSTONE_RUN_AS: 'nobody',
  KEYSTONE_INIT_KEY: 'k',
  KEYSTONE_WAIT_TIMEOUT: '1',
  DB_SERVICE_HOST: '127.0.0.1',
  DB_SERVICE_PORT: '9',
  MYSQL_PASSWORD: 'pw',
  KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: join(state, 'fernet-keys'),
  KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: join(state, 'fernet-keys'),
  KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: join(state, 'credential-keys'),
  KEYSTONE_FERNET_KEYS: goodFernet,
  KEYSTONE_CREDENTIAL_KEYS: goodCredential,
});
const PULP = (state: string): Record<string, string> => ({
  PATH: `${bin}:/usr/bin:/bin`,
  PULP_SERVER_CONF: join(state, 'server.conf'),
  PULP_RUN_AS: 'nobody',
  PULP_INIT_KEY: 'k',
  PULP_WAIT_TIMEOUT: '1',
  PULP_CELERY_WORKDIR: workdir,
  DB_SERVICE_HOST: '127.0.0.1',
  DB_SERVICE_PORT: '9',
  MSG_SERVICE_HOST: '127.0.0.1',
  MSG_SERVICE_PORT: '9',
});

function run(program: 'pulp-entrypoint' | 'keystone-entrypoint', args: string[], env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', program), ...args], { env: { HOME: '/root', ...env }, encoding: 'utf8', input: '', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

type Case = [name: string, env: Record<string, string>, code: number, last: RegExp];

function untouched(t: Test, program: 'pulp-entrypoint' | 'keystone-entrypoint', commands: string[], base: (state: string) => Record<string, string>, list: Case[]): void {
  for (const [name, env, code, last] of list) {
    for (const command of commands) {
      const state = freshState();
      const before = snapshot(state);
      const r = run(program, [command], { ...base(state), ...env });
      const line = r.stderr.trimEnd().split('\n').pop() ?? '';
      t.equal(r.status, code, `${program} ${command}, ${name}: exit ${code} (${line})`);
      t.match(line, last, `${command}, ${name}: the last line names it`);
      const after = snapshot(state);
      const changed = [...before.keys()].filter((p) => after.get(p) !== before.get(p));
      const added = [...after.keys()].filter((p) => !before.has(p));
      t.same([...changed, ...added], [], `${command}, ${name}: every file as it was`);
    }
  }
}

t.test('keystone-entrypoint api and init: the keys mounted from a Secret are read and checked before anything is written', async (t) => {
  untouched(t, 'keystone-entrypoint', ['api', 'init'], KEYSTONE, [
    ['a fernet key file that is not a Fernet key', { KEYSTONE_FERNET_KEYS: notAKey }, 65, /KEYSTONE_FERNET_KEYS=.*not-a-key: file 1 is not a Fernet key/],
    ['an empty credential key directory', { KEYSTONE_CREDENTIAL_KEYS: emptyDir }, 65, /KEYSTONE_CREDENTIAL_KEYS=.*empty: no key files found/],
    ['a fernet Secret with file 0 only', { KEYSTONE_FERNET_KEYS: onlyZero }, 65, /only file 0 found/],
    ['a FIFO for a key', { KEYSTONE_FERNET_KEYS: fifoDir }, 65, /file 1 is /],
    ['a credential key directory that does not exist', { KEYSTONE_CREDENTIAL_KEYS: missing }, 73, /KEYSTONE_CREDENTIAL_KEYS=.*missing: cannot read the key directory/],
  ]);
});

t.test('keystone-entrypoint api, init and configure: credential files, the template, settings', async (t) => {
  untouched(t, 'keystone-entrypoint', ['api', 'init', 'configure'], KEYSTONE, [
    ['a password file that does not exist', { MYSQL_PASSWORD: '', MYSQL_PASSWORD_FILE: missing }, 65, /MYSQL_PASSWORD_FILE=.*missing: cannot read the file/],
    ['a template that does not exist', { KEYSTONE_CONF_TEMPLATE: missing }, 73, /KEYSTONE_CONF_TEMPLATE/],
    ['a database port the wait could not use', { DB_SERVICE_PORT: '99999' }, 65, /DB_SERVICE_PORT/],
  ]);
});

t.test('pulp-entrypoint beat, init and configure: credential files, the template, settings', async (t) => {
  untouched(t, 'pulp-entrypoint', ['beat', 'init', 'configure'], PULP, [
    ['a password file that does not exist', { PULP_DB_PASSWORD_FILE: missing }, 65, /PULP_DB_PASSWORD_FILE=.*missing: cannot read the file/],
    ['a template that does not exist', { PULP_SERVER_CONF_TEMPLATE: missing }, 73, /PULP_SERVER_CONF_TEMPLATE/],
    ['seeds the wait could not use', { PULP_CONF__DATABASE__SEEDS: 'db:99999' }, 65, /PULP_CONF__DATABASE__SEEDS/],
  ]);
});
