// src/conf-file/write.ts through `pulp-entrypoint configure`: writing server.conf only when
// something changes, atomically, keeping mode and owner.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, readFileSync, readdirSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cli } from '../helpers/cli.ts';
import { confCopy, tempDir, type Teardown } from '../helpers/temp.ts';
import { isRoot, requireRoot, unavailable } from '../helpers/unavailable.ts';

const fresh = (t: Teardown): { dir: string; conf: string } => {
  const dir = tempDir(t, 'pe-write-');
  return { dir, conf: confCopy(dir) };
};

t.test('configure writes the edits, prints them masked, keeps mode and owner', async (t) => {
  const { conf } = fresh(t);
  chmodSync(conf, 0o640);
  if (isRoot) chownSync(conf, 0, 65534);
  const r = cli(['configure'], { PULP_SERVER_CONF: conf, DB_SERVICE_HOST: 'db', PULP_DB_PASSWORD: 'Tr0ub4dor&3' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /\[database\] seeds = db:27017 {2}\(DB_SERVICE_HOST, default\)/);
  t.match(r.stdout, /\[database\] password = \*{8}/);
  t.notMatch(r.stdout + r.stderr, /Tr0ub4dor/);
  const text = readFileSync(conf, 'utf8');
  t.match(text, /\nseeds: db:27017\n/);
  t.match(text, /\npassword: Tr0ub4dor&3\n/, 'the file itself holds the real value');
  const st = statSync(conf);
  t.equal(st.mode & 0o7777, 0o640, 'mode kept');
  if (isRoot) t.equal(st.gid, 65534, 'group kept');
});

t.test('nothing to change: nothing written, mtime unchanged', async (t) => {
  const { conf } = fresh(t);
  const env = { PULP_SERVER_CONF: conf, DB_SERVICE_HOST: 'db' };
  t.equal(cli(['configure'], env).status, 0);
  const past = new Date('2021-06-01T00:00:00Z');
  utimesSync(conf, past, past);
  const r = cli(['configure'], env);
  t.equal(r.status, 0);
  t.match(r.stdout, /unchanged, nothing written/);
  t.equal(statSync(conf).mtimeMs, past.getTime());
});

t.test('template: read-only source, writable target', async (t) => {
  const { dir, conf: template } = fresh(t);
  chmodSync(template, 0o444);
  const target = join(dir, 'out', 'server.conf');
  spawnSync('mkdir', ['-p', join(dir, 'out')]);
  const before = readFileSync(template);
  const r = cli(['configure'], { PULP_SERVER_CONF: target, PULP_SERVER_CONF_TEMPLATE: template, MSG_SERVICE_HOST: 'rabbit' });
  t.equal(r.status, 0, r.stderr);
  t.ok(readFileSync(template).equals(before), 'template untouched');
  t.match(readFileSync(target, 'utf8'), /\nurl: tcp:\/\/rabbit:5672\n/);
  t.equal(statSync(target).mode & 0o777, 0o444, 'a new file takes the template\'s mode');
  // A restart re-applies the template: same result, nothing written.
  const again = cli(['configure'], { PULP_SERVER_CONF: target, PULP_SERVER_CONF_TEMPLATE: template, MSG_SERVICE_HOST: 'rabbit' });
  t.match(again.stdout, /unchanged/);
});

t.test('SIGKILL at any moment leaves the old file or the new one, whole', async (t) => {
  const { dir, conf } = fresh(t);
  // A padded file (8 MiB of comments) makes the write take long enough for kills to land
  // inside it; kill times are spread around the measured duration of a whole run.
  writeFileSync(conf, readFileSync(conf, 'utf8') + `# ${'x'.repeat(1022)}\n`.repeat(8192));
  const texts = ['db-a', 'db-b'].map((host) => {
    const copy = join(dir, `${host}.conf`);
    copyFileSync(conf, copy);
    cli(['configure'], { PULP_SERVER_CONF: copy, DB_SERVICE_HOST: host });
    return readFileSync(copy, 'utf8');
  });
  const run = (host: string, killAfter?: number) =>
    new Promise<{ code: number | null; ms: number }>((resolve) => {
      const started = performance.now();
      const child = spawn(process.execPath, [BIN, 'configure'], {
        env: { PATH: process.env.PATH, PULP_SERVER_CONF: conf, DB_SERVICE_HOST: host },
        stdio: 'ignore',
      });
      const timer = killAfter === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfter);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, ms: performance.now() - started });
      });
    });
  const durations: number[] = [];
  for (const host of ['db-a', 'db-b', 'db-a']) durations.push((await run(host)).ms);
  const full = durations.sort((a, b) => a - b)[1] ?? 300;
  const allowed = new Set(texts);
  const outcome = { old: 0, new: 0, completed: 0, tempLeft: 0 };
  for (let i = 0; i < 40; i++) {
    const before = readFileSync(conf, 'utf8');
    const host = i % 2 ? 'db-b' : 'db-a';
    const { code } = await run(host, full * (0.5 + Math.random() * 0.6));
    const now = readFileSync(conf, 'utf8');
    if (!allowed.has(now)) {
      t.fail(`run ${i}: the file is neither the old nor the new text`);
      return;
    }
    if (code !== null) outcome.completed++;
    else if (now === before) outcome.old++;
    else outcome.new++;
    if (readdirSync(dir).some((n) => n.endsWith('.tmp'))) outcome.tempLeft++;
  }
  t.pass(`40 runs around ${Math.round(full)} ms: ${JSON.stringify(outcome)}; the file was always whole`);
  // A later run removes temporary files a killed run left behind, once they are old enough
  // not to belong to a live writer; young ones stay.
  writeFileSync(join(dir, '.server.conf.0123456789ab.tmp'), 'partial');
  const old = new Date(Date.now() - 120_000);
  for (const n of readdirSync(dir).filter((n) => n.endsWith('.tmp'))) utimesSync(join(dir, n), old, old);
  writeFileSync(join(dir, '.server.conf.ba9876543210.tmp'), 'a live writer');
  t.equal(cli(['configure'], { PULP_SERVER_CONF: conf, DB_SERVICE_HOST: 'db-c' }).status, 0);
  t.same(readdirSync(dir).filter((n) => n.endsWith('.tmp')), ['.server.conf.ba9876543210.tmp'], 'the young one is kept');
  unlinkSync(join(dir, '.server.conf.ba9876543210.tmp'));
  t.same(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temporary files left');
});

t.test('a bind-mounted single file (rename gives EBUSY) is written in place, and says so', async (t) => {
  if (!requireRoot(t, 'the bind-mount test (mount --bind)')) return;
  const { dir, conf } = fresh(t);
  const mounted = join(dir, 'mounted.conf');
  writeFileSync(mounted, '');
  const r = spawnSync(
    'unshare',
    ['-m', 'sh', '-c', `mount --bind "$0" "$1" && "${process.execPath}" "${BIN}" configure`, conf, mounted],
    { env: { PATH: process.env.PATH, PULP_SERVER_CONF: mounted, DB_SERVICE_HOST: 'bound' }, encoding: 'utf8' },
  );
  if (r.status !== 0 && /mount|unshare/.test(r.stderr) && !/pulp-entrypoint/.test(r.stderr)) {
    unavailable(t, `a bind mount does not work here (${r.stderr.trim()})`);
    return;
  }
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /written in place/);
  t.match(readFileSync(conf, 'utf8'), /\nseeds: bound:27017\n/, 'the bind-mounted source file got the edit');
});
