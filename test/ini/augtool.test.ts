// src/ini/edit.ts and src/ini/augeas-path.ts against the real augtool.
// Our edits against the real augtool the original image used, with test/ini/augtool/pulp.aug
// (IniFile-based like MySQL's lens, sections labelled "target"). Where augtool's result is
// well defined (a key that exists) ours must be the same bytes; elsewhere the tests pin
// down the differences we chose on purpose.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { InputError } from '../../src/common/errors.ts';
import { parseIni, printIni } from '../../src/ini/document.ts';
import { toConfigView } from '../../src/ini/read.ts';
import { formatAugeasPath } from '../../src/ini/augeas-path.ts';
import { setKey } from '../../src/ini/edit.ts';
import { fixture, splitKeepEol, viewToObject } from '../helpers/ini.ts';
import { withTempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

const LENS_DIR = new URL('./augtool/', import.meta.url).pathname;
const available = spawnSync('augtool', ['--version'], { encoding: 'utf8' }).status === 0;
const HOW = 'the comparison with the real augtool: augtool is missing (apt-get install augeas-tools)';

interface AugtoolRun {
  files: Record<string, string>;
  errors: string;
  stdout: string;
}

/** Copies the files under ROOT/etc/pulp/, runs the commands (paths relative to that directory's node) and saves. */
function augtool(files: Record<string, string>, commands: string[]): AugtoolRun {
  return withTempDir('ini-augtool-', (root) => {
    mkdirSync(join(root, 'etc/pulp'), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc/pulp', name), text);
    const script = [
      'set /augeas/load/Pulp/lens Pulp.lns',
      'set /augeas/load/Pulp/incl /etc/pulp/*.conf',
      'load',
      ...commands,
      'save',
      'print /augeas//error',
    ].join('\n');
    const run = spawnSync('augtool', ['-r', root, '-I', LENS_DIR, '-A'], { input: `${script}\n`, encoding: 'utf8' });
    const out: Record<string, string> = {};
    for (const name of Object.keys(files)) out[name] = readFileSync(join(root, 'etc/pulp', name), 'utf8');
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('/augeas/')).join('\n') + run.stderr;
    return { files: out, errors, stdout: run.stdout };
  });
}

const setCommand = (file: string, section: string, key: string, value: string): string =>
  `set ${formatAugeasPath(`/etc/pulp/${file}`, section, key)} ${value}`;

/** Our result for the same edits, made as configure makes them. */
function ours(text: string, file: string, edits: [string, string, string][]): string {
  let doc = parseIni(text, file);
  for (const [section, key, value] of edits) doc = setKey(doc, section, key, value);
  return printIni(doc);
}

if (!available) {
  unavailable(t, HOW);
} else {
  t.test('existing keys: byte for byte what augtool writes', async (t) => {
    const edits: [string, string, string][] = [
      ['database', 'seeds', 'db:27017'],
      ['messaging', 'url', 'tcp://msg:5672'],
      ['tasks', 'broker_url', 'qpid://guest@msg:5672'],
      ['security', 'cacert', '/etc/pki/pulp/other-ca.crt'],
      ['email', 'host', 'smtp.example.com'],
    ];
    const files: Record<string, string> = {
      'uncommented.conf': fixture('pulp-uncommented.conf'),
      'crlf.conf': fixture('pulp-crlf.conf'),
      'equals.conf': fixture('pulp-equals.conf'),
    };
    const run = augtool(files, Object.keys(files).flatMap((f) => edits.map(([s, k, v]) => setCommand(f, s, k, v))));
    t.equal(run.errors, '', 'augtool reports no error');
    for (const [name, text] of Object.entries(files)) {
      t.not(run.files[name], text, `${name}: augtool changed it`);
      t.equal(ours(text, name, edits), run.files[name], name);
    }
  });

  t.test('augtool reads the same keys and values as we do', async (t) => {
    const text = fixture('pulp-uncommented.conf');
    const run = augtool({ 'u.conf': text }, ['print /files/etc/pulp/u.conf']);
    const tree: Record<string, Record<string, string>> = {};
    const names: Record<string, string> = {};
    for (const line of run.stdout.split('\n')) {
      const m = /^\/files\/etc\/pulp\/u\.conf\/target\[(\d+)\](?:\/([^#/][^/ ]*))?(?: = "(.*)")?$/.exec(line);
      if (m === null) continue;
      const [, n, key, value] = m;
      if (key === undefined) tree[(names[n!] = value!)] = {};
      else tree[names[n!]!]![key] = value ?? '';
    }
    t.same(tree, viewToObject(toConfigView(parseIni(text))));
  });

  t.test('empty value: augtool glues the value to the separator, we add the usual space', async (t) => {
    const files = { 'uncommented.conf': fixture('pulp-uncommented.conf'), 'equals.conf': fixture('pulp-equals.conf') };
    const run = augtool(files, Object.keys(files).map((f) => setCommand(f, 'oauth', 'oauth_key', 'abc')));
    t.equal(run.errors, '');
    const expect: Record<string, [string, string, string]> = {
      'uncommented.conf': ['oauth_key:\n', 'oauth_key:abc\n', 'oauth_key: abc\n'],
      'equals.conf': ['oauth_key = \n', 'oauth_key =abc \n', 'oauth_key = abc\n'],
    };
    for (const [name, text] of Object.entries(files)) {
      const [before, theirs, mine] = expect[name]!;
      t.equal(run.files[name], text.replace(before, theirs), `${name}: augtool`);
      t.equal(ours(text, name, [['oauth', 'oauth_key', 'abc']]), text.replace(before, mine), `${name}: ours`);
    }
  });

  t.test("missing keys: augtool appends after the next section's comment block with \"=\", we stay inside the section with \":\"", async (t) => {
    const text = fixture('pulp-default.conf');
    const edits: [string, string, string][] = [
      ['database', 'seeds', 'db:27017'],
      ['server', 'server_name', 'pulp.example.com'],
      ['messaging', 'url', 'tcp://msg:5672'],
      ['tasks', 'broker_url', 'qpid://guest@msg:5672'],
    ];
    const run = augtool({ 'server.conf': text }, edits.map(([s, k, v]) => setCommand('server.conf', s, k, v)));
    t.equal(run.errors, '');
    const theirs = splitKeepEol(run.files['server.conf']!);
    const mine = splitKeepEol(ours(text, 'server.conf', edits));
    const original = splitKeepEol(text);
    const nextHeader: Record<string, string> = { database: '[server]\n', server: '[authentication]\n', messaging: '[tasks]\n', tasks: '[email]\n' };
    for (const [section, key, value] of edits) {
      const at = theirs.indexOf(`${key}=${value}\n`);
      t.ok(at > 0, `augtool wrote ${key}=${value}`);
      t.equal(theirs[at + 1], nextHeader[section], `augtool: just above ${nextHeader[section]!.trim()}, below its documentation`);
      t.equal(theirs[at - 1], '\n', 'augtool: after the blank line that ends the comment block');
      t.match(theirs[at - 2], /^# /, 'augtool: below the comment block');
      const here = mine.indexOf(`${key}: ${value}\n`);
      t.ok(here > 0, `we wrote ${key}: ${value}`);
      t.match(mine[here - 1], new RegExp(`^# ${key}: `), `ours: right under "# ${key}: ..." in [${section}]`);
    }
    t.same(theirs.filter((l) => !/^[a-z_]+=/.test(l)), original, 'augtool added exactly four lines');
    t.same(mine.filter((l) => !/^[a-z_]+: (db|pulp|tcp|qpid)/.test(l)), original, 'we added exactly four lines');
  });

  t.test('missing section: augtool fails to save and leaves the file, we append the section', async (t) => {
    const text = fixture('pulp-uncommented.conf');
    const run = augtool({ 'server.conf': text }, [setCommand('server.conf', 'lazy', 'redirect_host', 'pulp.example.com')]);
    t.match(run.errors, /put_failed/);
    t.equal(run.files['server.conf'], text);
    t.equal(ours(text, 'server.conf', [['lazy', 'redirect_host', 'pulp.example.com']]), `${text}\n[lazy]\nredirect_host: pulp.example.com\n`);
  });

  t.test('no final newline: augtool adds one, we keep the file as it was', async (t) => {
    const text = fixture('pulp-no-final-newline.conf');
    const run = augtool({ 'server.conf': text }, [setCommand('server.conf', 'email', 'enabled', 'true')]);
    t.equal(run.errors, '');
    t.equal(run.files['server.conf'], `${text.replace(/enabled: false$/, 'enabled: true')}\n`);
    t.equal(ours(text, 'server.conf', [['email', 'enabled', 'true']]), text.replace(/enabled: false$/, 'enabled: true'));
  });

  t.test('duplicate section: both refuse', async (t) => {
    const text = fixture('pulp-duplicate-section.conf');
    const run = augtool({ 'server.conf': text }, [setCommand('server.conf', 'database', 'seeds', 'db:27017')]);
    t.match(run.stdout + run.errors, /Too many matches/);
    t.equal(run.files['server.conf'], text);
    t.throws(() => ours(text, 'server.conf', [['database', 'seeds', 'db:27017']]), InputError);
  });

  t.test('BOM: augtool cannot load the file, we edit it', async (t) => {
    const text = fixture('pulp-bom.conf');
    const run = augtool({ 'server.conf': text }, [setCommand('server.conf', 'database', 'seeds', 'db:27017')]);
    t.match(run.errors, /parse_(skel_)?failed/);
    t.equal(run.files['server.conf'], text);
    t.equal(ours(text, 'server.conf', [['database', 'seeds', 'db:27017']]), text.replace('seeds: localhost:27017', 'seeds: db:27017'));
  });
}
