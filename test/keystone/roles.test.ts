// src/keystone/roles.ts (apiSpec) with src/keystone/settings.ts (KEYSTONE_SETTINGS through
// readSettings): the api role's init, exec, gunicorn file and key repositories, from the settings
// and the effective keystone.conf; and the refusal of a bad KEYSTONE_LISTEN or KEYSTONE_WORKERS.
import t from 'tap';
import { InputError } from '../../src/common/errors.ts';
import { useProgram } from '../../src/common/program.ts';
import { parseIni } from '../../src/ini/document.ts';
import type { ConfigView } from '../../src/ini/config-view.ts';
import { KEYSTONE_DIALECT } from '../../src/keystone/dialect.ts';
import { apiSpec } from '../../src/keystone/roles.ts';
import { KEYSTONE_SETTINGS } from '../../src/keystone/settings.ts';
import { KEYSTONE } from '../../src/keystone/system.ts';
import type { RoleSpec } from '../../src/system/system.ts';
import { readSettings } from '../../src/settings/options.ts';
import type { ReadFile } from '../../src/settings/secret-files.ts';

useProgram(KEYSTONE.names);

const noFiles: ReadFile = (path) => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
};
const conf = (text: string): ConfigView => KEYSTONE_DIALECT.read(parseIni(text, 'keystone.conf')).view;
const EFFECTIVE = conf('[DEFAULT]\n[database]\nconnection = mysql+pymysql://keystone:pw@db:3306/keystone\n');

const spec = (env: Record<string, string>, effective: ConfigView = EFFECTIVE, extraArgs: string[] = [], readFile: ReadFile = noFiles): RoleSpec => {
  const s = readSettings(env, readFile, KEYSTONE_SETTINGS);
  return apiSpec({ conf: effective, confPath: s.opts.confPath.value, runAs: s.opts.runAs.value, opts: s.opts, extraArgs });
};

t.test('init: db_sync alone without OS_BOOTSTRAP_PASSWORD', async (t) => {
  const s = spec({});
  t.equal(s.role, 'api');
  t.equal(s.init?.length, 1);
  const [dbSync] = s.init ?? [];
  t.same(dbSync?.argv, ['keystone-manage', '--config-file', '/etc/keystone/keystone.conf', 'db_sync'], 'the file the agent wrote, and no other');
  t.equal(dbSync?.user, 'keystone');
  t.equal(dbSync?.cwd, '/');
  t.equal(dbSync?.env?.OS_BOOTSTRAP_PASSWORD, undefined);
});

t.test('init: db_sync then bootstrap with OS_BOOTSTRAP_PASSWORD, the password in its environment only', async (t) => {
  const pw = 'adm1n-pw';
  const s = spec({ KEYSTONE_CONF: '/srv/ks/keystone.conf', OS_BOOTSTRAP_PASSWORD: pw, KEYSTONE_RUN_AS: 'ks' });
  t.same(
    s.init?.map((c) => c.argv.at(-1)),
    ['db_sync', 'bootstrap'],
    'in order',
  );
  const boot = s.init?.[1];
  t.same(boot?.argv, ['keystone-manage', '--config-file', '/srv/ks/keystone.conf', 'bootstrap']);
  t.equal(boot?.env?.OS_BOOTSTRAP_PASSWORD, pw);
  t.equal(boot?.user, 'ks', 'as KEYSTONE_RUN_AS');
  for (const c of [...(s.init ?? []), s.exec]) {
    t.notOk(c.argv.some((a) => a.includes(pw)), `${c.argv.join(' ')}: no password on the command line`);
    t.equal(c.env?.OS_KEYSTONE_CONFIG_FILES, '/srv/ks/keystone.conf', 'every command reads the file the agent wrote');
  }
  t.equal(s.init?.[0]?.env?.OS_BOOTSTRAP_PASSWORD, undefined, 'db_sync does not get it');
  t.equal(s.exec.env?.OS_BOOTSTRAP_PASSWORD, undefined, 'nor the API');

  const fromFile = spec({ OS_BOOTSTRAP_PASSWORD_FILE: '/run/secrets/admin' }, EFFECTIVE, [], () => Buffer.from(`${pw}\n`));
  t.equal(fromFile.init?.[1]?.env?.OS_BOOTSTRAP_PASSWORD, pw, 'OS_BOOTSTRAP_PASSWORD_FILE: passed as the variable');
});

t.test('exec: gunicorn -c the file beside keystone.conf, then the extra arguments', async (t) => {
  const s = spec({ KEYSTONE_CONF: '/srv/ks/keystone.conf' }, EFFECTIVE, ['--timeout', '90']);
  t.same(s.exec.argv, ['gunicorn', '-c', '/srv/ks/gunicorn.conf.py', '--timeout', '90']);
  t.equal(s.exec.user, 'keystone');
  t.same(spec({}).exec.argv, ['gunicorn', '-c', '/etc/keystone/gunicorn.conf.py']);
  t.same(
    s.files.map((f) => f.path),
    ['/srv/ks/gunicorn.conf.py'],
  );
});

t.test("the gunicorn file binds KEYSTONE_LISTEN with KEYSTONE_WORKERS", async (t) => {
  const dflt = spec({}).files[0];
  t.match(dflt?.text, /^bind = \["0\.0\.0\.0:5000"\]$/m, 'default 0.0.0.0:5000');
  t.match(dflt?.text, /^workers = 2$/m, 'default 2 workers');
  t.match(dflt?.why, /bind 0\.0\.0\.0:5000, 2 workers/);

  const v6 = spec({ KEYSTONE_LISTEN: '[::]:35357', KEYSTONE_WORKERS: '8' }).files[0];
  t.match(v6?.text, /^bind = \["\[::\]:35357"\]$/m, 'IPv6 bracketed');
  t.match(v6?.text, /^workers = 8$/m);
  t.match(v6?.why, /bind \[::\]:35357, 8 workers/);
  t.match(spec({ KEYSTONE_LISTEN: '127.0.0.1:8080' }).files[0]?.text, /^bind = \["127\.0\.0\.1:8080"\]$/m);
});

t.test("key repositories: where the effective file's key_repository says", async (t) => {
  const dflt = spec({}).keys;
  t.same(
    dflt.map((k) => [k.name, k.dir, k.source]),
    [
      ['fernet', '/etc/keystone/fernet-keys/', undefined],
      ['credential', '/etc/keystone/credential-keys/', undefined],
    ],
    "Keystone's defaults, made here without a Secret",
  );
  t.match(dflt[0]?.generatedWarning, /^KEYSTONE_FERNET_KEYS is not set: .*tokens/);
  t.match(dflt[1]?.generatedWarning, /^KEYSTONE_CREDENTIAL_KEYS is not set: .*credentials/);
  t.notMatch(dflt[1]?.generatedWarning, /tokens/, 'credential keys encrypt stored credentials, not tokens');

  const moved = conf('[DEFAULT]\n[fernet_tokens]\nkey_repository = /var/lib/ks/fernet\n[credential]\nkey_repository = "/var/lib/ks/cred"\n[fernet_receipts]\nkey_repository = /var/lib/ks/fernet/\n');
  const keys = spec({ KEYSTONE_FERNET_KEYS: '/run/secrets/fernet', KEYSTONE_CREDENTIAL_KEYS: '/run/secrets/cred' }, moved).keys;
  t.same(
    keys.map((k) => [k.name, k.dir, k.source]),
    [
      ['fernet', '/var/lib/ks/fernet', { dir: '/run/secrets/fernet', variable: 'KEYSTONE_FERNET_KEYS' }],
      ['credential', '/var/lib/ks/cred', { dir: '/run/secrets/cred', variable: 'KEYSTONE_CREDENTIAL_KEYS' }],
    ],
    'from the Secrets the variables name; receipts in the same directory (a trailing slash aside) get no repository of their own',
  );

  const apart = conf('[DEFAULT]\n[fernet_tokens]\nkey_repository = /var/lib/ks/fernet\n');
  t.same(
    spec({ KEYSTONE_FERNET_KEYS: '/run/secrets/fernet' }, apart).keys.map((k) => [k.name, k.dir, k.source?.variable]),
    [
      ['fernet', '/var/lib/ks/fernet', 'KEYSTONE_FERNET_KEYS'],
      ['fernet receipt', '/etc/keystone/fernet-keys/', 'KEYSTONE_FERNET_KEYS'],
      ['credential', '/etc/keystone/credential-keys/', undefined],
    ],
    'the receipts left at the default, apart from the moved tokens: the same fernet keys there too',
  );
});

t.test('KEYSTONE_LISTEN and KEYSTONE_WORKERS: a bad value is refused at once, one line naming it', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ KEYSTONE_LISTEN: 'bad' }, /^KEYSTONE_LISTEN: "bad" is not host:port/],
    [{ KEYSTONE_LISTEN: '0.0.0.0' }, /^KEYSTONE_LISTEN: /],
    [{ KEYSTONE_LISTEN: '::5000' }, /^KEYSTONE_LISTEN: /],
    [{ KEYSTONE_LISTEN: '0.0.0.0:70000' }, /^KEYSTONE_LISTEN: /],
    [{ KEYSTONE_WORKERS: '0' }, /^KEYSTONE_WORKERS: "0" is not a number of workers \(1 to 999\)/],
    [{ KEYSTONE_WORKERS: 'many' }, /^KEYSTONE_WORKERS: /],
    [{ KEYSTONE_WORKERS: '1000' }, /^KEYSTONE_WORKERS: /],
    [{ KEYSTONE_WORKERS: '-1' }, /^KEYSTONE_WORKERS: /],
  ];
  for (const [env, re] of cases) {
    const err = t.throws(() => readSettings(env, noFiles, KEYSTONE_SETTINGS), JSON.stringify(env)) as Error;
    t.ok(err instanceof InputError, 'an InputError (exit 65)');
    t.match(err.message, re);
    t.equal(err.message.split('\n').length, 1, 'one line');
  }
  t.equal(readSettings({ KEYSTONE_WORKERS: '999' }, noFiles, KEYSTONE_SETTINGS).opts.workers.value, 999);
  t.same(readSettings({ KEYSTONE_WORKERS: '3' }, noFiles, KEYSTONE_SETTINGS).opts.workers.from, ['KEYSTONE_WORKERS']);
});

t.test("paths: the log oslo.log opens as each API worker starts, as oslo.log's _get_log_file_path makes it", async (t) => {
  const paths = (text: string): [string, string, string][] => spec({}, conf(`[DEFAULT]\n${text}\n`)).paths.map((p) => [`${p.section}.${p.key}`, p.path, p.access]);
  t.same(paths(''), [], 'no log file: Keystone logs to stderr');
  t.same(paths('log_file = /var/log/keystone/api.log'), [['DEFAULT.log_file', '/var/log/keystone/api.log', 'file']]);
  t.same(paths('log_dir = /var/log/keystone'), [['DEFAULT.log_dir', '/var/log/keystone/gunicorn.log', 'file']], "log_dir alone: the name of the script the process started from, gunicorn's");
  t.same(paths('log_dir = /var/log/keystone\nlog_file = api.log'), [['DEFAULT.log_file', '/var/log/keystone/api.log', 'file']], 'both: log_file in log_dir');
  t.same(paths('log_dir = /var/log/keystone\nlog_file = /srv/api.log'), [['DEFAULT.log_file', '/srv/api.log', 'file']], "both, an absolute log_file: Python's os.path.join keeps it");
  t.same(paths('log_file = api.log'), [['DEFAULT.log_file', '/api.log', 'file']], "relative: to the role's working directory, /");
  t.same(
    paths('log_config_append = /etc/keystone/logging.conf\nlog_dir = /var/log/keystone'),
    [['DEFAULT.log_config_append', '/etc/keystone/logging.conf', 'read']],
    'a logging configuration replaces log_file and log_dir: only it is read',
  );
});
