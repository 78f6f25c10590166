// src/cli (args.ts, help.ts, preview.ts) through the whole command: the outside contract of the
// command line: exit codes, --help, preview --json fields.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROGRAM, cli, cliWithoutServiceUsers, ROOT } from '../helpers/cli.ts';
import { requireRoot } from '../helpers/unavailable.ts';
import { renderPreview, type PreviewDocument } from '../../src/cli/preview.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-cli-');
// Stand-ins: only their paths matter to a preview, which never runs them.
const bin = join(dir, 'bin');
mkdirSync(bin);
for (const name of ['celery', 'pulp-manage-db']) {
  writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, name), 0o755);
}
const PATH = `${bin}:${process.env.PATH}`;
const conf = confCopy(dir);

const k8s = {
  PATH,
  PULP_SERVER_CONF: conf,
  PULP_SERVER_NAME: 'pulp.example.org',
  DB_SERVICE_HOST: '10.0.0.5',
  DB_SERVICE_PORT: '27017',
  MSG_SERVICE_HOST: 'fd00::11',
  MSG_SERVICE_PORT: '5672',
  MSG_SERVICE_PASSWORD: 'Correct-Horse-9',
};

const preview = (role: string, env: Record<string, string>): PreviewDocument => {
  const r = cli(['preview', role, '--json'], env);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as PreviewDocument;
};

t.test('usage errors exit 64 with one line', async (t) => {
  for (const args of [[], ['--bogus'], ['preview'], ['preview', 'nginx'], ['preview', 'beat', '--yaml'], ['configure', 'now'], ['wait', '--timeout', 'soon'], ['check', '--retries', '3'], ['run']]) {
    const r = cli(args);
    t.equal(r.status, 64, `${JSON.stringify(args)} -> 64`);
    t.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
    t.equal(r.stdout, '');
  }
});

// The variable and exit-code tables of the README and docs/ are the repository's copy of the
// outside contract: --help must name everything they list, and the program must read every
// variable they list (its settings are the code's table of them: a name it does not read is
// warned about in the preview's notes).
const docSection = (file: string, heading: string): string => {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${file} has no "## ${heading}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
};
/** The variables named in the first column of each table in `text`, in backticks. */
const tableVariables = (text: string): Set<string> =>
  new Set(
    text
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .flatMap((l) => [...(l.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] ?? '')),
  );
/** The README's "Main variables" table that follows the line naming `program`. */
const frontPageVariables = (program: string): Set<string> => {
  const section = docSection('README.md', 'Main variables');
  const from = section.indexOf(`\n\`${program}\`:\n`);
  if (from < 0) throw new Error(`README "Main variables" has no table for ${program}`);
  const table = section.slice(from).split('\n\n')[1] ?? '';
  return tableVariables(table);
};
const REFERENCE = {
  'pulp-entrypoint': { file: 'docs/configuration.md', heading: 'Environment', least: 25, conf: 'PULP_CONF__SECTION__KEY' },
  'keystone-entrypoint': { file: 'docs/keystone.md', heading: 'Environment', least: 15, conf: 'KEYSTONE_CONF__SECTION__KEY' },
} as const;
const runAs = (program: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(ROOT, 'bin', program), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 30_000 });

for (const [program, ref] of Object.entries(REFERENCE)) {
  t.test(`${program}: every variable of the README's and ${ref.file}'s tables is in --help and read`, async (t) => {
    const help = runAs(program, ['--help']);
    t.equal(help.status, 0);
    const reference = tableVariables(docSection(ref.file, ref.heading));
    t.ok(reference.size >= ref.least, `${ref.file}'s Environment table lists the variables (${reference.size})`);
    const front = frontPageVariables(program);
    t.ok(front.size >= 8, `the README's main variables of ${program} (${front.size})`);
    for (const v of front) t.ok(reference.has(v), `${v}: in the README, and in ${ref.file}`);
    for (const v of reference) {
      if (v === ref.conf) continue;
      t.match(help.stdout, v, `--help mentions ${v}`);
    }
    // Each listed name set (empty counts as unset): none is "not a variable ... reads". The note
    // covers the program's prefixes only (a kubelet-shaped name such as DB_SERVICE_HOST is
    // never flagged: --help's mention above holds those); one name no table lists shows that
    // the note still fires.
    const control = `${program === 'pulp-entrypoint' ? 'PULP' : 'KEYSTONE'}_NOT_IN_ANY_TABLE`;
    const env = { ...Object.fromEntries([...reference].filter((v) => v !== ref.conf).map((v) => [v, ''])), [control]: 'x' };
    const r = runAs(program, ['preview', program === 'pulp-entrypoint' ? 'beat' : 'api', '--json'], env);
    t.equal(r.status, 0, r.stderr);
    const notes = (JSON.parse(r.stdout) as { notes: string[] }).notes.filter((n) => n.includes('is not a variable'));
    t.equal(notes.length, 1, `${program} reads every variable its tables list: ${notes.join(' | ')}`);
    t.match(notes[0], control, 'the one note is the control name');
  });
}

t.test('--help answers: every exit code of the README table is there', async (t) => {
  const r = cli(['--help']);
  t.equal(r.status, 0);
  const codes = [...docSection('README.md', 'Exit codes').matchAll(/^\| (\d+) \| (.*)$/gm)].map((m) => ({ code: m[1] ?? '', rotate: (m[2] ?? '').startsWith('`keystone-entrypoint') }));
  t.ok(codes.length >= 8, `the README's Exit codes table lists the codes (${codes.map((c) => c.code).join(' ')})`);
  // Keystone's own codes (rotate, the downgrade): its --help lists them, Pulp's does not.
  const keystone = spawnSync(process.execPath, [join(ROOT, 'bin', 'keystone-entrypoint'), '--help'], { encoding: 'utf8' }).stdout;
  for (const { code, rotate } of codes) t.match(rotate ? keystone : r.stdout, new RegExp(`\\b${code}\\b`), `${rotate ? 'keystone-entrypoint ' : ''}--help mentions exit code ${code}`);
  t.equal(cli(['preview', '--help']).status, 0, 'subcommand --help');
});

t.test('--version is the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.equal(cli(['--version']).stdout, `pulp-entrypoint ${pkg.version}\n`);
});

t.test('preview --json: the contract fields', async (t) => {
  const past = new Date('2020-02-02T00:00:00Z');
  utimesSync(conf, past, past);
  const d = preview('beat', k8s);
  t.equal(d.role, 'beat');
  t.equal(d.config.path, conf);
  const seeds = d.config.edits.find((e) => e.key === 'seeds');
  t.same(seeds, {
    path: `/files${conf}/target[. = 'database']/seeds`,
    section: 'database',
    key: 'seeds',
    value: '10.0.0.5:27017',
    from: ['DB_SERVICE_HOST', 'DB_SERVICE_PORT'],
    changes: true,
  });
  const broker = d.config.edits.find((e) => e.key === 'broker_url');
  t.equal(broker?.value, 'qpid://guest:********@[fd00::11]:5672', 'password masked in edits');
  t.match(d.config.diff, /^\+seeds: 10\.0\.0\.5:27017$/m);
  t.match(d.config.diff, /^\+broker_url: qpid:\/\/guest:\*{8}@\[fd00::11\]:5672$/m);
  t.notMatch(JSON.stringify(d), /Correct-Horse/, 'the secret appears nowhere');
  t.same(d.waits.map((w) => [w.kind, w.address]), [
    ['mongodb', '10.0.0.5:27017'],
    ['amqp', '[fd00::11]:5672'],
  ]);
  t.same(d.init && { argv: d.init.argv, user: d.init.user }, { argv: [join(bin, 'pulp-manage-db')], user: 'apache' });
  t.equal(d.exec.argv[0], join(bin, 'celery'), 'program resolved on PATH');
  t.same(d.exec.argv.slice(1, 3), ['beat', '--app=pulp.server.async.celery_instance.celery']);
  t.equal(d.exec.user, 'apache');
  t.equal(d.exec.cwd, '/var/lib/pulp/celery');
  t.equal(statSync(conf).mtimeMs, past.getTime(), 'preview wrote nothing');
  t.same(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temporary file either');
});

t.test('a machine without the run-as user (a laptop): preview is complete and says what run would do; run refuses', async (t) => {
  // Only root could switch users, so only root's run refuses an unknown one (and only root can unshare).
  if (!requireRoot(t, 'an /etc/passwd without apache (unshare --mount)')) return;
  const past = new Date('2020-04-04T00:00:00Z');
  utimesSync(conf, past, past);
  const before = readFileSync(conf);
  const refusal = 'pulp-entrypoint: error: PULP_RUN_AS=apache: no such user in /etc/passwd (add the user to the image or set PULP_RUN_AS to an existing one)';
  const text = cliWithoutServiceUsers(['preview', 'beat'], k8s);
  t.equal(text.status, 0, text.stderr);
  t.equal(text.stderr, '');
  t.match(text.stdout, `note: this machine has no user apache (default)`);
  t.ok(text.stdout.includes(`run here would refuse with "${refusal}"`), 'the note quotes run\'s exact line');
  t.match(text.stdout, new RegExp(`as apache in /var/lib/pulp/celery:\\n  ${join(bin, 'celery')} beat`), 'the preview still shows the user and the command');
  const r = cliWithoutServiceUsers(['preview', 'worker', '--json'], { ...k8s, PULP_RUN_AS: 'apache' });
  t.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout) as PreviewDocument;
  t.equal(d.exec.user, 'apache');
  t.same(d.notes.filter((n) => n.includes('no user')), [`this machine has no user apache (PULP_RUN_AS); an image needs it: run here would refuse with "${refusal}"`]);
  const run = cliWithoutServiceUsers(['beat'], k8s);
  t.equal(run.status, 65, 'run refuses it');
  t.equal(run.stderr.trimEnd().split('\n').pop(), refusal, 'with the line the preview quoted');
  t.ok(readFileSync(conf).equals(before), 'before writing anything');
  t.equal(statSync(conf).mtimeMs, past.getTime());
  const real = cli(['preview', 'beat', '--json'], { ...k8s, PULP_RUN_AS: 'nobody' });
  t.notMatch(real.stdout, /no user/, 'no note for a user this machine has');
});

t.test('worker and resource_manager: no init, node names from server_name', async (t) => {
  const w = preview('worker', { ...k8s, HOSTNAME: 'pulp-worker-3' });
  t.equal(w.init, null);
  t.ok(w.exec.argv.includes('reserved_resource_worker-3@pulp.example.org'), 'StatefulSet ordinal from the host name');
  const w7 = preview('worker', { ...k8s, HOSTNAME: 'pulp-worker-3', PULP_WORKER_ID: '7' });
  t.ok(w7.exec.argv.includes('reserved_resource_worker-7@pulp.example.org'), 'PULP_WORKER_ID wins');
  const rm = preview('resource_manager', k8s);
  t.equal(rm.init, null);
  t.ok(rm.exec.argv.includes('resource_manager@pulp.example.org'));
  t.ok(rm.exec.argv.includes('resource_manager'), '-Q resource_manager');
});

t.test('no server_name anywhere: node names end in the host name, as in Pulp\'s own units (@%h)', async (t) => {
  const { PULP_SERVER_NAME: _, ...noName } = k8s;
  const rm = preview('resource_manager', { ...noName, HOSTNAME: 'pulp-resource-manager-7d9f' });
  t.ok(rm.exec.argv.includes('resource_manager@pulp-resource-manager-7d9f'), rm.exec.argv.join(' '));
  const w = preview('worker', { ...noName, HOSTNAME: 'pulp-worker-3' });
  t.ok(w.exec.argv.includes('reserved_resource_worker-3@pulp-worker-3'), w.exec.argv.join(' '));
});

t.test('without server.conf the embedded default is used, and said', async (t) => {
  const d = preview('beat', { PATH, PULP_SERVER_CONF: join(dir, 'absent.conf') });
  t.equal(d.config.source, 'embedded');
  t.match(d.notes.join('\n'), /embedded default/);
  t.equal(d.config.edits.length, 0);
  t.equal(d.config.diff, '', 'no environment, no change');
});

t.test('text preview: plain when piped, coloured only when asked', async (t) => {
  const r = cli(['preview', 'beat'], k8s);
  t.equal(r.status, 0);
  t.notMatch(r.stdout, /\x1b\[/, 'no escape codes in a pipe');
  t.match(r.stdout, /\[database\] seeds +10\.0\.0\.5:27017 +<- DB_SERVICE_HOST, DB_SERVICE_PORT/);
  t.match(r.stdout, new RegExp(`as apache in /var/lib/pulp/celery:\\n  ${join(bin, 'celery')} beat`));
  t.notMatch(r.stdout, /Correct-Horse/);
  const d = preview('beat', k8s);
  t.match(renderPreview(d, { color: true, fileName: 'server.conf' }), /\x1b\[32m\+seeds/);
});

// bin/'s bundle; the standalone binary has its own check (test/ship/binary.test.ts).
// The drivers chunk is bin/'s (the binary bundles everything), so this applies to bin/ alone.
if (PROGRAM.kind === 'bin') t.test('preview and configure never load the MongoDB or AMQP drivers', async (t) => {
  // The bundle alone, next to a node_modules that has every dependency but the drivers.
  const iso = join(dir, 'iso');
  mkdirSync(join(iso, 'node_modules'), { recursive: true });
  cpSync(join(ROOT, 'dist', 'main.mjs'), join(iso, 'main.mjs'));
  for (const dep of readdirSync(join(ROOT, 'node_modules'))) {
    if (['mongodb', 'rhea', 'amqplib', 'mysql2', 'bson', '.bin'].includes(dep)) continue;
    symlinkSync(join(ROOT, 'node_modules', dep), join(iso, 'node_modules', dep));
  }
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `import('${join(iso, 'main.mjs')}').then((m) => m.main(${JSON.stringify(args)}))`], {
      env: k8s,
      encoding: 'utf8',
    });
  const p = run(['preview', 'beat', '--json']);
  t.equal(p.status, 0, p.stderr);
  const c = run(['configure']);
  t.equal(c.status, 0, c.stderr);
  const w = run(['check']);
  t.not(w.status, 0, 'check does need them: the isolation is real');
});

t.test('run refuses an exec mode this runtime cannot honour, before writing anything', async (t) => {
  const before = readFileSync(conf);
  const hasExecve = PROGRAM.hasExecve;
  const env = hasExecve
    ? { ...k8s, PULP_EXEC_MODE: 'exec', PULP_SIGNAL_REWRITE: 'TERM:QUIT' }
    : { ...k8s, PULP_EXEC_MODE: 'exec' };
  const r = cli(['worker'], env);
  t.equal(r.status, 65);
  t.match(r.stderr, /PULP_EXEC_MODE=exec/);
  t.ok(readFileSync(conf).equals(before), 'server.conf untouched');
});

t.test('preview says how and why each dependency is waited for, and why [messaging] url is not', async (t) => {
  const d = preview('worker', { ...k8s, PULP_BROKER_SCHEME: 'amqp', PULP_CONF__MESSAGING__TRANSPORT: 'rabbitmq' });
  t.same(
    d.waits.map((w) => [w.kind, w.source, w.protocol]),
    [
      ['mongodb', 'database.seeds', 'mongodb'],
      ['amqp', 'tasks.broker_url', 'AMQP 0-9-1'],
    ],
  );
  t.match(d.waits[1]?.check, /^AMQP 0-9-1 connection open \(amqplib\)/);
  t.match(d.waits[1]?.why, /Celery connects to it as it starts.*kombu's py-amqp for amqp:\/\//);
  t.same(
    d.notWaited.map((n) => [n.source, n.address, n.protocol]),
    [['messaging.url', '[fd00::11]:5672', 'AMQP 0-9-1, transport rabbitmq']],
  );
  t.match(d.notWaited[0]?.why, /^not waited for: Pulp's Celery roles do not connect to it at start/);
  const q = preview('beat', k8s);
  t.same(q.waits.map((w) => w.protocol), ['mongodb', 'AMQP 0-10'], 'qpid:// by default: python-qpid');
  t.match(q.waits[1]?.check, /AMQP 1\.0 open \(rhea\).*a Qpid answering only AMQP 0-10 counts as live/);
});

t.test('nothing to change: "no changes" and "writes": false, for a file and for the embedded default', async (t) => {
  const missing = join(dir, 'no-such-server.conf');
  // [what, env]: the file already says it; no file, and nothing asked of the embedded default.
  const cases: [string, Record<string, string>][] = [
    ['a file that already has the value', { PATH, PULP_SERVER_CONF: conf }],
    ['the embedded default, no variables', { PATH, PULP_SERVER_CONF: missing }],
  ];
  for (const [what, env] of cases) {
    t.equal(preview('beat', env).config.writes, false, `${what}: --json says it`);
    const text = cli(['preview', 'beat'], env);
    t.equal(text.status, 0, text.stderr);
    t.match(text.stdout, /^ {2}no changes: the file already says all this; nothing would be written$/m, `${what}: the text says it`);
    t.notMatch(text.stdout, /^(---|\+\+\+|@@) /m, `${what}: no empty diff`);
  }
  t.equal(preview('beat', { PATH, PULP_SERVER_CONF: missing, DB_SERVICE_HOST: 'db.example' }).config.writes, true, 'an edit of the embedded default: a change');
});

t.test('a forced init is shown: in the settings, the init and its heading; a role that only waits says it is not affected', async (t) => {
  const forced = preview('beat', { ...k8s, PULP_FORCE_INIT: '1' });
  t.equal(forced.init?.forced, true);
  t.same(forced.settings.find((s) => s.name === 'force init'), { name: 'force init', value: 'yes', from: ['PULP_FORCE_INIT'] });
  t.equal(preview('beat', k8s).init?.forced, false, 'not forced without the variable');
  t.notOk(preview('beat', k8s).settings.some((s) => s.name === 'force init'));
  const text = cli(['preview', 'beat'], { ...k8s, PULP_FORCE_INIT: 'yes' }).stdout;
  t.match(text, /^Init \(forced by PULP_FORCE_INIT: runs even when its record exists, under a lease in the database\)$/m);
  const worker = preview('worker', { ...k8s, PULP_FORCE_INIT: '1' });
  t.equal(worker.init, null);
  t.ok(worker.notes.includes('PULP_FORCE_INIT is set, but worker does not run the init: it waits for its record as always (the beat role runs it again)'), worker.notes.join(' | '));
});

t.test('an init key that cannot be computed here: a short cell, the explanation in the notes', async (t) => {
  const doc = preview('beat', { ...k8s, PATH: '/usr/bin:/bin' });
  const row = doc.settings.find((s) => s.name === 'init key');
  t.equal(row?.value, '(not computable here)');
  t.equal(doc.init?.key, '(not computable here)');
  t.ok(doc.notes.some((n) => /^init key: cannot compute the default init key: pulp-manage-db is not found on PATH; .*PULP_INIT_KEY/.test(n)), doc.notes.join(' | '));
  const text = cli(['preview', 'beat'], { ...k8s, PATH: '/usr/bin:/bin' }).stdout;
  t.match(text, /^ {2}init key +\(not computable here\) +<- default$/m, 'the row holds the value only');
  t.match(text, /^note: init key: cannot compute the default init key/m);
});

t.test('default-conf prints the embedded default file of each name, byte for byte, reading nothing', async (t) => {
  for (const [name, file, confVar] of [
    ['pulp-entrypoint', join(ROOT, 'src', 'pulp', 'default-server.conf'), 'PULP_SERVER_CONF'],
    ['keystone-entrypoint', join(ROOT, 'src', 'keystone', 'default-keystone.conf'), 'KEYSTONE_CONF'],
  ] as const) {
    // A configuration that cannot be read and an invalid value: neither is looked at.
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', name), 'default-conf'], { env: { PATH, [confVar]: '/dev/zero', DB_SERVICE_PORT: 'x' }, encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, `${name}: ${r.stderr}`);
    t.equal(r.stdout, readFileSync(file, 'utf8'), `${name}: the embedded file`);
    t.equal(r.stderr, '');
  }
});

t.test('a stable order: the sources of an edit are the variables by name, then default, then the file; the same whatever the order of the environment', async (t) => {
  const env = { ...k8s, DB_SERVICE_PORT: '27018', PULP_DB_NAME: 'pulp', MSG_SERVICE_USER: 'pulp', PULP_BROKER_SCHEME: 'amqp', PULP_CONF__DATABASE__WRITE_CONCERN: 'all', PULP_X: '1', PULP_Y: '2' };
  const forward = cli(['preview', 'beat', '--json'], env);
  const backward = cli(['preview', 'beat', '--json'], Object.fromEntries(Object.entries(env).reverse()));
  t.equal(forward.status, 0, forward.stderr);
  t.equal(forward.stdout, backward.stdout, 'the same document');
  const doc = JSON.parse(forward.stdout) as PreviewDocument;
  for (const e of doc.config.edits) {
    const vars = e.from.filter((f) => /^[A-Z0-9_]+$/.test(f));
    t.same(e.from.slice(0, vars.length), [...vars].sort(), `[${e.section}] ${e.key}: variables first, by name (${e.from.join(', ')})`);
    t.same(e.from.slice(vars.length), e.from.slice(vars.length).sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : 0)), `[${e.section}] ${e.key}: then default, then the file`);
  }
  t.same(doc.config.edits.find((e) => e.key === 'broker_url')?.from, ['MSG_SERVICE_HOST', 'MSG_SERVICE_PASSWORD', 'MSG_SERVICE_PORT', 'MSG_SERVICE_USER', 'PULP_BROKER_SCHEME']);
  const unknown = doc.notes.filter((n) => n.includes('is not a variable'));
  t.same(unknown.map((n) => n.split(' ')[0]), ['PULP_X', 'PULP_Y'], 'notes in name order too');
});
