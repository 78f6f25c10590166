// src/settings/secret-files.ts and src/common/bounded-read.ts, also through the whole command.
// NAME_FILE secrets that are not what they should be, through the real command: only a
// regular file is read, at most the limit plus one byte, without ever waiting; anything else
// is exit 65 with one line, at once and small. The same holds for server.conf and its
// template (exit 73: cannot be read; 65: too large to be one).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, ftruncateSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFile } from '../../src/common/bounded-read.ts';
import { BIN, ROOT, cli } from '../helpers/cli.ts';
import { KEYSTONE_SETTINGS } from '../../src/keystone/settings.ts';
import { PULP_SETTINGS } from '../../src/pulp/settings.ts';
import { runMeasured } from '../helpers/measure.ts';
import { DEFAULT_CONF, tempDir } from '../helpers/temp.ts';
import { requireRoot } from '../helpers/unavailable.ts';

const dir = tempDir(t, 'pe-secret-files-');
const conf = DEFAULT_CONF;
const fifo = join(dir, 'fifo');
spawnSync('mkfifo', [fifo]);
const huge = join(dir, 'huge');
// Sparse: 1.5 GB that costs no disk.
const fd = openSync(huge, 'w');
ftruncateSync(fd, 1536 * 1024 * 1024);
closeSync(fd);
const atLimit = join(dir, 'at-limit');
writeFileSync(atLimit, 'p'.repeat(64 * 1024));
const overLimit = join(dir, 'over-limit');
writeFileSync(overLimit, 'p'.repeat(64 * 1024 + 1));
const good = join(dir, 'good');
writeFileSync(good, 'Secret99\n');
// A Kubernetes Secret volume: the file is a symbolic link into a timestamped directory.
mkdirSync(join(dir, '..data'));
writeFileSync(join(dir, '..data', 'pw'), 'Secret99\n');
symlinkSync(join(dir, '..data', 'pw'), join(dir, 'linked'));

const last = (s: string): string => s.trimEnd().split('\n').pop() ?? '';

t.test('refused at once with one line and exit 65: device, FIFO, directory, too large', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['/dev/zero', '/dev/zero', /MSG_SERVICE_PASSWORD_FILE=\/dev\/zero: cannot read the file \(a character device, not a regular file\)$/],
    ['a FIFO nobody writes', fifo, /MSG_SERVICE_PASSWORD_FILE=.*fifo: cannot read the file \(a FIFO \(named pipe\), not a regular file\)$/],
    ['a directory', dir, /cannot read the file \(a directory, not a regular file\)$/],
    ['a 1.5 GB file', huge, /MSG_SERVICE_PASSWORD_FILE=.*huge: the file is larger than 64 KiB$/],
    ['64 KiB + 1 byte', overLimit, /the file is larger than 64 KiB$/],
  ];
  for (const [name, path, message] of cases) {
    const r = await runMeasured(['preview', 'beat'], { PULP_SERVER_CONF: conf, MSG_SERVICE_PASSWORD_FILE: path }, { timeoutMs: 15_000 });
    t.equal(r.status, 65, `${name}: exit 65 (${last(r.stderr)})`);
    t.match(last(r.stderr), message, `${name}: the line names the variable and the file`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    t.ok(r.maxRssKib < 150 * 1024, `${name}: peak RSS ${Math.round(r.maxRssKib / 1024)} MiB`);
  }
});

t.test('a regular file of exactly 64 KiB is read whole; a symlinked Secret file is read', async (t) => {
  const r = cli(['preview', 'beat'], { PULP_SERVER_CONF: conf, MSG_SERVICE_PASSWORD_FILE: atLimit, MSG_SERVICE_HOST: 'mq' });
  // Read, not refused for its size: the value itself is then too long for a password.
  t.equal(r.status, 65);
  t.match(last(r.stderr), /MSG_SERVICE_PASSWORD: is longer than 1024 characters$/);
  const l = cli(['preview', 'beat', '--json'], { PULP_SERVER_CONF: conf, MSG_SERVICE_PASSWORD_FILE: join(dir, 'linked'), MSG_SERVICE_HOST: 'mq' });
  t.equal(l.status, 0, l.stderr);
  t.match(l.stdout, /"MSG_SERVICE_PASSWORD_FILE"/, 'the value came from the file');
  t.match(l.stdout, /qpid:\/\/guest:\*{8}@mq:5672/, 'into the broker URL, masked');
  t.notMatch(l.stdout + l.stderr, /Secret99/, 'nowhere in clear');
});

t.test('as PID 1, a FIFO does not hold the agent: it exits 65 at once', async (t) => {
  if (!requireRoot(t, 'a FIFO as PID 1 (unshare --pid)')) return;
  const r = spawnSync('unshare', ['--pid', '--fork', '--kill-child', process.execPath, BIN, 'preview', 'beat'], {
    env: { PATH: process.env.PATH, PULP_SERVER_CONF: conf, MSG_SERVICE_PASSWORD_FILE: fifo },
    encoding: 'utf8',
    timeout: 15_000,
  });
  t.equal(r.status, 65, last(r.stderr));
  t.match(last(r.stderr), /FIFO/);
});

t.test('server.conf and the template: a device, a FIFO or a huge file is refused at once', async (t) => {
  const target = join(dir, 'target.conf');
  const cases: [string, Record<string, string>, number, RegExp][] = [
    ['PULP_SERVER_CONF=/dev/zero', { PULP_SERVER_CONF: '/dev/zero' }, 73, /^pulp-entrypoint: error: \/dev\/zero \(PULP_SERVER_CONF\): cannot read: a character device, not a regular file$/],
    ['PULP_SERVER_CONF=FIFO', { PULP_SERVER_CONF: fifo }, 73, /\(PULP_SERVER_CONF\): cannot read: a FIFO \(named pipe\), not a regular file$/],
    ['PULP_SERVER_CONF_TEMPLATE=FIFO', { PULP_SERVER_CONF: target, PULP_SERVER_CONF_TEMPLATE: fifo }, 73, /\(PULP_SERVER_CONF_TEMPLATE\): cannot read: a FIFO/],
    ['PULP_SERVER_CONF_TEMPLATE=1.5 GB', { PULP_SERVER_CONF: target, PULP_SERVER_CONF_TEMPLATE: huge }, 65, /\(PULP_SERVER_CONF_TEMPLATE\): larger than 16 MiB; is this really server.conf\?$/],
  ];
  for (const [name, env, code, message] of cases) {
    for (const cmd of [['preview', 'beat'], ['configure']]) {
      const r = await runMeasured(cmd, env, { timeoutMs: 15_000 });
      t.equal(r.status, code, `${name}, ${cmd[0]}: exit ${code} (${last(r.stderr)})`);
      t.match(last(r.stderr), message, `${name}, ${cmd[0]}: one line naming the file and the variable`);
      t.ok(r.maxRssKib < 150 * 1024, `${name}, ${cmd[0]}: peak RSS ${Math.round(r.maxRssKib / 1024)} MiB`);
    }
  }
});

t.test('readRegularFile: never more than asked for', async (t) => {
  t.equal(readRegularFile(overLimit, 10).length, 10);
  t.equal(readRegularFile(good, 100).toString(), 'Secret99\n');
  t.throws(() => readRegularFile(join(dir, 'missing'), 10), { code: 'ENOENT' });
  t.throws(() => readRegularFile('/dev/null', 10), { code: 'ENOTREG' });
});

t.test('one rule for every NAME_FILE of both systems: an empty file (or a line ending only) is exit 65 naming the variable and the file; nothing written', async (t) => {
  const systems = [
    { bin: BIN, schema: PULP_SETTINGS, confVar: 'PULP_SERVER_CONF', sample: conf, role: 'beat' },
    { bin: join(ROOT, 'bin', 'keystone-entrypoint'), schema: KEYSTONE_SETTINGS, confVar: 'KEYSTONE_CONF', sample: join(ROOT, 'src', 'keystone', 'default-keystone.conf'), role: 'api' },
  ];
  const contents: [string, string][] = [
    ['empty', ''],
    ['a newline only', '\n'],
    ['a CRLF only', '\r\n'],
  ];
  for (const s of systems) {
    const target = join(dir, `${s.confVar}.conf`);
    copyFileSync(s.sample, target);
    const before = readFileSync(target);
    t.ok(s.schema.fileVariables.length >= 4, `${s.confVar}: the system's NAME_FILE variables (${s.schema.fileVariables.map((f) => f.name).join(', ')})`);
    for (const { name } of s.schema.fileVariables) {
      for (const [what, text] of contents) {
        const file = join(dir, `${name}-${what.replace(/\W+/g, '-')}`);
        writeFileSync(file, text);
        // configure would write; preview would mask an empty password (once is enough for it).
        for (const cmd of text === '' ? [['configure'], ['preview', s.role]] : [['configure']]) {
          // DB_SERVICE_HOST: an edit that would be written, had the file been taken as empty.
          const r = spawnSync(process.execPath, [s.bin, ...cmd], { env: { PATH: process.env.PATH, [s.confVar]: target, DB_SERVICE_HOST: '10.1.1.1', [`${name}_FILE`]: file }, encoding: 'utf8', timeout: 15_000 });
          const label = `${name}_FILE ${what}, ${cmd[0]}`;
          t.equal(r.status, 65, `${label}: exit 65 (${last(r.stderr)})`);
          t.equal(r.stderr.trimEnd().split('\n').length, 1, `${label}: one line`);
          t.match(last(r.stderr), new RegExp(`error: ${name}_FILE=${file}: the file is empty.*: put the value in it, or unset ${name}_FILE$`), `${label}: names the variable and the file`);
          t.equal(r.stdout, '', `${label}: no preview, no report`);
        }
      }
    }
    t.ok(readFileSync(target).equals(before), `${s.confVar}: never written`);
  }
});
