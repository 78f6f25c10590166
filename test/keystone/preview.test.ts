// src/cli/preview.ts under keystone-entrypoint (src/keystone/system.ts, roles.ts, edits.ts,
// targets.ts as the preview shows them): `keystone-entrypoint preview api [--json]` as a whole
// process, on a copy of the embedded keystone.conf and on a missing file; it writes, contacts and
// executes nothing, and shows no password.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { PreviewDocument } from '../../src/cli/preview.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { keyVolume } from '../helpers/secret-volume.mjs';
import { freshKey, freshKeySet } from '../../src/conf-file/key-set.ts';
import { installKeySet, readKeySet } from '../../src/conf-file/key-repository.ts';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');
const SAMPLE = join(ROOT, 'src', 'keystone', 'default-keystone.conf');
const DB_PW = 's3cr3t-pw';
const ADMIN_PW = 'adm1n-pw';
const TOKEN = 't0ken-value';
// Only what the test gives: no PATH entry has keystone-manage or gunicorn (fixtures/fake-bin has neither).
const BARE_PATH = '/usr/bin:/bin';

const dir = tempDir(t, 'ks-preview-');
const conf = join(dir, 'keystone.conf');
copyFileSync(SAMPLE, conf);
const hasKeystoneUser = /^keystone:/m.test(readFileSync('/etc/passwd', 'utf8'));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string>): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { PATH: BARE_PATH, ...env }, encoding: 'utf8', input: '', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function preview(env: Record<string, string>): { doc: PreviewDocument; out: string } {
  const r = run(['preview', 'api', '--json'], env);
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return { doc: JSON.parse(r.stdout) as PreviewDocument, out: r.stdout + r.stderr };
}

const K8S = { KEYSTONE_CONF: conf, DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '3306', MYSQL_PASSWORD: DB_PW, OS_BOOTSTRAP_PASSWORD: ADMIN_PW };

t.test('preview api --json on a keystone.conf: edits, the wait, the init, the files, the keys', async (t) => {
  const before = readFileSync(conf, 'utf8');
  const { doc, out } = preview(K8S);
  t.equal(readFileSync(conf, 'utf8'), before, 'nothing written');
  t.notOk(existsSync(join(dir, 'gunicorn.conf.py')), 'the gunicorn file is not written either');

  t.equal(doc.role, 'api');
  t.equal(doc.config.path, conf);
  t.equal(doc.config.source, 'file');
  t.same(
    doc.config.edits.map((e) => [`[${e.section}] ${e.key}`, e.value, e.from]),
    [['[database] connection', 'mysql+pymysql://keystone:********@10.0.0.5:3306/keystone', ['DB_SERVICE_HOST', 'DB_SERVICE_PORT', 'MYSQL_PASSWORD', 'default']]],
    'one edit, its password masked',
  );
  t.equal(doc.config.writes, true);
  t.match(doc.config.diff, /^\+connection = mysql\+pymysql:\/\/keystone:\*{8}@10\.0\.0\.5:3306\/keystone$/m);

  t.equal(doc.waits.length, 1);
  t.equal(doc.waits[0]?.kind, 'mysql');
  t.equal(doc.waits[0]?.address, '10.0.0.5:3306');
  t.equal(doc.waits[0]?.user, 'keystone');
  t.equal(doc.waits[0]?.source, 'database.connection');
  t.same(doc.notWaited, [], 'no memcached without KEYSTONE_CACHE_SERVERS (the default backend caches nothing)');

  const steps = doc.init?.steps ?? [];
  t.same(
    steps.map((s) => s.argv),
    [
      ['keystone-manage', '--config-file', conf, 'db_sync'],
      ['keystone-manage', '--config-file', conf, 'bootstrap'],
    ],
    'db_sync, then bootstrap',
  );
  for (const s of steps) t.equal(s.user, 'keystone');
  t.same(doc.init?.argv, steps[0]?.argv, 'the first step at the top');

  t.same(doc.exec.argv, ['gunicorn', '-c', join(dir, 'gunicorn.conf.py')]);
  t.equal(doc.exec.user, 'keystone');
  t.same(doc.files?.map((f) => f.path), [join(dir, 'gunicorn.conf.py')]);
  t.match(doc.files?.[0]?.why, /bind 0\.0\.0\.0:5000, 2 workers/);

  t.same(doc.keys, [
    { name: 'fernet', dir: '/etc/keystone/fernet-keys/', from: null, rotations: "never: this replica's own keys" },
    { name: 'credential', dir: '/etc/keystone/credential-keys/', from: null, rotations: "never: this replica's own keys" },
  ]);
  t.ok(doc.notes.some((n) => n.startsWith('KEYSTONE_FERNET_KEYS is not set')), 'warned: fernet keys of its own');
  t.ok(doc.notes.some((n) => n.startsWith('KEYSTONE_CREDENTIAL_KEYS is not set')), 'warned: credential keys of its own');
  t.ok(doc.notes.includes('keystone-manage is not on PATH here; run would fail to start it'));
  t.ok(doc.notes.includes('gunicorn is not on PATH here; run would fail to start it'));
  if (!hasKeystoneUser) t.ok(doc.notes.some((n) => n.startsWith('this machine has no user keystone')), 'no keystone user here: noted, not refused');

  t.notMatch(out, new RegExp(`${DB_PW}|${ADMIN_PW}`), 'no password anywhere in the output');
});

t.test('with the Secrets, the cache and the programs on PATH', async (t) => {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  // Stand-ins: a preview resolves their paths and never runs them.
  for (const name of ['keystone-manage', 'gunicorn']) {
    writeFileSync(join(bin, name), '#!/bin/sh\nexit 99\n');
    chmodSync(join(bin, name), 0o755);
  }
  const fernet = keyVolume(join(dir, 'fernet-secret'), [freshKey(), freshKey(), freshKey()]);
  const { doc, out } = preview({
    ...K8S,
    PATH: `${bin}:${BARE_PATH}`,
    KEYSTONE_FERNET_KEYS: fernet,
    KEYSTONE_CREDENTIAL_KEYS: '/run/secrets/credential',
    KEYSTONE_CACHE_SERVERS: '127.0.0.1:11211',
    KEYSTONE_LISTEN: '[::]:5000',
  });
  const copied = 'only when the container starts again (copied once, at start); the sync-keys sidecar follows rotations';
  t.same(doc.keys, [
    { name: 'fernet', dir: '/etc/keystone/fernet-keys/', from: `${fernet} (KEYSTONE_FERNET_KEYS)`, holds: '3 keys: 0 (staged), 1, 2 (primary)', rotations: copied },
    { name: 'credential', dir: '/etc/keystone/credential-keys/', from: '/run/secrets/credential (KEYSTONE_CREDENTIAL_KEYS)', unreadable: 'not readable here: cannot read the key directory: no such file', rotations: copied },
  ], 'the Secret read here: its keys by number; one not mounted here: said so');
  t.notOk(doc.notes.some((n) => / is not set: this replica uses /.test(n)), 'no key warning');
  t.notOk(doc.notes.some((n) => /not on PATH/.test(n)));
  t.same(doc.init?.steps?.map((s) => s.argv[0]), [join(bin, 'keystone-manage'), join(bin, 'keystone-manage')], 'resolved on PATH');
  t.equal(doc.exec.argv[0], join(bin, 'gunicorn'));
  t.match(doc.init?.key, /^keystone-manage@[0-9a-f]{16}$/, 'the default init key, from the program found');
  t.same(doc.notWaited.map((n) => [n.source, n.address, n.protocol]), [['cache.memcache_servers', '127.0.0.1:11211', 'memcached']], 'memcached: shown, not waited for');
  t.same(
    doc.config.edits.map((e) => `${e.section}.${e.key}`).sort(),
    ['cache.backend', 'cache.enabled', 'cache.memcache_servers', 'database.connection'],
  );
  t.match(doc.files?.[0]?.why, /bind \[::\]:5000/);
  t.notMatch(out, new RegExp(`${DB_PW}|${ADMIN_PW}`));
});

t.test('a missing keystone.conf: the embedded one, which has no connection', async (t) => {
  const missing = join(dir, 'absent', 'keystone.conf');
  const { doc } = preview({ KEYSTONE_CONF: missing });
  t.equal(doc.config.path, missing);
  t.equal(doc.config.source, 'embedded');
  t.ok(doc.notes.some((n) => n.startsWith(`${missing} does not exist here: showing the embedded default Keystone`)));
  t.same(
    doc.config.edits.map((e) => [e.key, e.value, e.from]),
    [['connection', 'mysql+pymysql://keystone@db:3306/keystone', ['default']]],
    "the Service's DNS name rather than Keystone's SQLite fallback",
  );
  t.equal(doc.waits[0]?.address, 'db:3306');
  t.same(doc.init?.steps, undefined, 'db_sync alone without OS_BOOTSTRAP_PASSWORD');
  t.same(doc.init?.argv, ['keystone-manage', '--config-file', missing, 'db_sync']);
  t.same(doc.keys?.map((k) => k.from), [null, null]);
  t.notOk(existsSync(join(dir, 'absent')), 'nothing made');
});

t.test('ADMIN_TOKEN: noted as not written, and not in the diff', async (t) => {
  const { doc, out } = preview({ ...K8S, ADMIN_TOKEN: TOKEN });
  t.ok(doc.notes.some((n) => n.startsWith('ADMIN_TOKEN is not written to keystone.conf')), 'a note');
  t.notMatch(doc.config.diff, /admin_token/);
  t.notOk(doc.config.edits.some((e) => e.key === 'admin_token'));
  t.notMatch(out, new RegExp(TOKEN), 'the token is nowhere');
});

t.test('a run-as user this machine lacks is only noted: exit 0', async (t) => {
  const r = run(['preview', 'api', '--json'], { ...K8S, KEYSTONE_RUN_AS: 'no-such-ks-user' });
  t.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as PreviewDocument;
  t.ok(doc.notes.some((n) => n.startsWith('this machine has no user no-such-ks-user (KEYSTONE_RUN_AS)')));
  t.equal(doc.exec.user, 'no-such-ks-user');
});

t.test('the text preview names the program and the file', async (t) => {
  const r = run(['preview', 'api'], { ...K8S, KEYSTONE_CONF: '' });
  t.equal(r.status, 0, r.stderr);
  const text = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  t.match(text, /^keystone-entrypoint preview api: a dry run; nothing was written, contacted or executed\.$/m);
  t.match(text, /^keystone\.conf \/etc\/keystone\/keystone\.conf$/m, 'KEYSTONE_CONF empty: the default path');
  t.match(text, /^ {2}as keystone in \/: keystone-manage --config-file \/etc\/keystone\/keystone\.conf db_sync$/m);
  t.match(text, /^ {2}as keystone in \/: keystone-manage --config-file \/etc\/keystone\/keystone\.conf bootstrap$/m);
  t.match(text, /^ {2}gunicorn -c \/etc\/keystone\/gunicorn\.conf\.py$/m);
  t.notMatch(text, /[Pp]ulp|server\.conf/);
  t.notMatch(r.stdout + r.stderr, new RegExp(`${DB_PW}|${ADMIN_PW}`));
});

t.test('KEYSTONE_KEYS_SYNCED: the repositories kept by the sync-keys sidecar, what they hold, rotations without a restart', async (t) => {
  const fernetRepo = join(dir, 'synced', 'fernet-keys');
  installKeySet(fernetRepo, freshKeySet(), { uid: undefined, gid: undefined });
  const absent = join(dir, 'synced', 'credential-keys');
  const env = { ...K8S, KEYSTONE_KEYS_SYNCED: 'true', KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: fernetRepo, KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: fernetRepo, KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: absent };
  const { doc, out } = preview(env);
  const synced = "within the kubelet's refresh of the Secret, without a restart: the sync-keys sidecar keeps it";
  t.same(doc.keys, [
    { name: 'fernet', dir: fernetRepo, from: null, keptBy: 'KEYSTONE_KEYS_SYNCED', holds: '2 keys: 0 (staged), 1 (primary)', rotations: synced },
    { name: 'credential', dir: absent, from: null, keptBy: 'KEYSTONE_KEYS_SYNCED', unreadable: 'not readable here: cannot read the key directory: no such file', rotations: synced },
  ]);
  t.notOk(doc.notes.some((n) => / is not set: this replica uses /.test(n)), 'no warning about keys of its own');
  const text = run(['preview', 'api'], env);
  t.match(text.stdout, new RegExp(`  fernet +${fernetRepo}  <- kept by the sync-keys sidecar \\(KEYSTONE_KEYS_SYNCED\\)\n +2 keys: 0 \\(staged\\), 1 \\(primary\\)\n +rotated keys arrive within the kubelet's refresh`));
  for (const f of readKeySet(fernetRepo, 'r').files) t.notOk(out.includes(f.key) || text.stdout.includes(f.key), 'no key shown');
});

t.test("the init's phases: decided at start, not known here (the preview connects to nothing), with the commands and how to ask", async (t) => {
  const env = { KEYSTONE_CONF: conf, DB_SERVICE_HOST: 'db.example', MYSQL_PASSWORD: DB_PW };
  const ph = preview(env).doc.init?.phases;
  const out = run(['preview', 'api'], env).stdout;
  t.equal(ph?.phase, 'decided at start');
  t.match(ph?.why, /^not known here: the preview connects to no database and runs nothing\. At start, under the lease: no alembic_version \(an empty database\) runs the steps above whole/);
  t.match(ph?.why, /runs the check first \(exit 0 up to date, 2 expand due, 4 contract due \(anything else: a downgrade, refused\)\): the expand when it is due, then the later steps; a downgrade refuses the start \(exit 78\)/);
  t.match(ph?.ask, /db_sync --check in a running replica \(kubectl exec\): exit 0 up to date, 2 expand due, 4 contract due/);
  t.same(ph?.check.argv, ['keystone-manage', '--config-file', conf, 'db_sync', '--check']);
  t.same(ph?.expand.argv.slice(-2), ['db_sync', '--expand']);
  t.same(ph?.contract.argv.slice(-2), ['db_sync', '--contract']);
  t.match(out, /\n {2}phase: decided at start; not known here/);
  t.match(out, /\n {2}contract keystone-manage --config-file \S+ db_sync --contract\n/);
});
