// The api role (src/keystone/, through bin/keystone-entrypoint) against the real Keystone 30.0.0
// and the test MariaDB: three replicas started at once, each in its own PID and mount
// namespace with its own keystone.conf, against a database that answers only a few seconds
// later: one runs db_sync and bootstrap, the others wait for its record; all answer GET /v3;
// a token issued by one validates on the other two (the same fernet keys, from one
// Secret-shaped directory); SIGTERM ends each with 0 within 10 s. Then a restart skips the
// init, KEYSTONE_FORCE_INIT=1 runs it again; gunicorn's /proc/PID/environ (master and workers)
// holds none of the secrets the agent consumed while bootstrap still got its password; with
// [DEFAULT] log_dir Keystone logs to the file the agent checks, and a log_dir keystone cannot
// write is refused before anything is written; a wrong
// password is 69 at once without the password, and a database that never answers is 69 at
// the deadline.
import t, { type Test } from 'tap';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { BINARY, ROOT } from '../helpers/cli.ts';
import { keystoneWorkspace, requireKeystone } from '../helpers/keystone.ts';
import { closedPort } from '../helpers/net.ts';
import { type Mysql, requireMysql } from '../helpers/services.ts';
import { freshKey } from '../../src/conf-file/key-set.ts';
import { ensureBinaries } from '../helpers/binary.ts';
import { unavailable } from '../helpers/unavailable.ts';
import { keyVolume } from '../helpers/secret-volume.mjs';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');
const ADMIN_PASSWORD = 'adm1n-$ecret pw';


/** A TCP forwarder to MariaDB that starts listening only when opened: "the database comes up later". */
function lateDatabase(db: Mysql, port: number): { open(): Promise<void>; close(): void } {
  let server: Server | undefined;
  return {
    open: () =>
      new Promise((resolve) => {
        server = createServer((c) => {
          const up = createConnection({ host: db.host, port: db.port });
          c.pipe(up).pipe(c);
          c.on('error', () => up.destroy());
          up.on('error', () => c.destroy());
        });
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    close: () => server?.close(),
  };
}

interface Replica {
  child: ChildProcess;
  out: () => string;
  done: Promise<number | null>;
  port: number;
}

const keystoneUid = (): number => Number(execFileSync('id', ['-u', 'keystone'], { encoding: 'utf8' }).trim());
const keystoneGid = (): number => Number(execFileSync('id', ['-g', 'keystone'], { encoding: 'utf8' }).trim());

const keystone = requireKeystone(t, 'the api role against the real Keystone');
const db = requireMysql(t, 'the api role against the real Keystone');
if (keystone && db) {
  const { work, name, template } = keystoneWorkspace(t, db, 'api');
  const secrets = join(work, 'secrets');
  const fernet = keyVolume(join(secrets, 'fernet'), [freshKey(), freshKey()]);
  const credential = keyVolume(join(secrets, 'credential'), [freshKey(), freshKey()]);
  const passwordFile = join(secrets, 'db-password');
  writeFileSync(passwordFile, `${db.password}\n`, { mode: 0o400 });

  const envFor = (dir: string, dbPort: number, listen: number, extra: Record<string, string> = {}): Record<string, string> => ({
    PATH: `${join(keystone, 'venv', 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`,
    DB_SERVICE_HOST: '127.0.0.1',
    DB_SERVICE_PORT: String(dbPort),
    MYSQL_USER: db.user,
    MYSQL_PASSWORD_FILE: passwordFile,
    MYSQL_DATABASE: name,
    OS_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD,
    OS_BOOTSTRAP_REGION_ID: 'RegionOne',
    OS_BOOTSTRAP_PUBLIC_URL: 'http://keystone-public:5000/v3',
    KEYSTONE_CONF: join(dir, 'keystone.conf'),
    KEYSTONE_CONF_TEMPLATE: template,
    KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: join(dir, 'fernet-keys'),
    KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: join(dir, 'fernet-keys'),
    KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: join(dir, 'credential-keys'),
    KEYSTONE_FERNET_KEYS: fernet,
    KEYSTONE_CREDENTIAL_KEYS: credential,
    KEYSTONE_LISTEN: `127.0.0.1:${listen}`,
    KEYSTONE_WORKERS: '1',
    KEYSTONE_WAIT_TIMEOUT: '240',
    KEYSTONE_INIT_KEY: `api-real-${process.pid}`,
    ...extra,
  });

  /** One replica: its own directory, PID 1 of its own PID namespace, in a mount namespace of its own. */
  const start = async (label: string, dbPort: number, extra: Record<string, string> = {}, bin = BIN): Promise<Replica> => {
    const dir = join(work, label);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const port = await closedPort();
    const child = spawn('unshare', ['--pid', '--fork', '--mount', '--mount-proc', bin, 'api'], { env: envFor(dir, dbPort, port, extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    t.teardown(() => {
      child.kill('SIGKILL');
      spawnSync('pkill', ['-KILL', '-f', `${dir}/gunicorn.conf.py`]);
    });
    return { child, out: () => out, done, port };
  };

  /** The agent (PID 1 of the namespace, gunicorn after the exec): unshare's only child. */
  const pid1 = (r: Replica): number => Number(readFileSync(`/proc/${r.child.pid}/task/${r.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);

  const answers = async (r: Replica, ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (Date.now() < until && r.child.exitCode === null) {
      try {
        const res = await fetch(`http://127.0.0.1:${r.port}/v3`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return true;
      } catch {
        // not yet
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    return false;
  };

  const token = async (r: Replica): Promise<string | null> => {
    const res = await fetch(`http://127.0.0.1:${r.port}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
      signal: AbortSignal.timeout(10_000),
    });
    return res.status === 201 ? res.headers.get('x-subject-token') : null;
  };

  const stop = async (t: Test, r: Replica, label: string): Promise<void> => {
    const at = Date.now();
    process.kill(pid1(r), 'SIGTERM');
    t.equal(await r.done, 0, `${label}: SIGTERM -> exit 0\n${r.out().slice(-1500)}`);
    t.ok(Date.now() - at < 10_000, `${label}: within 10 s (${Date.now() - at} ms)`);
  };

  const dbPort = await closedPort();
  const late = lateDatabase(db, dbPort);
  t.teardown(() => late.close());

  t.test('three replicas at once, the database later: one init, three APIs, one token valid everywhere', async (t) => {
    const replicas = await Promise.all(['r1', 'r2', 'r3'].map((l) => start(l, dbPort)));
    await new Promise((r) => setTimeout(r, 3000));
    t.ok(replicas.every((r) => r.child.exitCode === null), 'all three wait for the database');
    await late.open();
    const up = await Promise.all(replicas.map((r) => answers(r, 240_000)));
    replicas.forEach((r, i) => t.ok(up[i], `r${i + 1} answers GET /v3\n${r.out().slice(-3000)}`));
    const ran = replicas.filter((r) => /init lease taken/.test(r.out()));
    t.equal(ran.length, 1, 'exactly one replica ran the init');
    t.match(ran[0]?.out(), /keystone-manage db_sync exited code=0[\s\S]*keystone-manage bootstrap exited code=0/, 'db_sync, then bootstrap');
    for (const r of replicas.filter((x) => !ran.includes(x))) t.match(r.out(), /already done|done at/, 'the others used its record');
    for (const r of replicas) t.notMatch(r.out(), new RegExp(db.password.replace(/[$%]/g, '\\$&')), 'the database password in no line');
    for (const r of replicas) t.notMatch(r.out(), /adm1n/, 'the admin password in no line');

    const issued = replicas[0] ? await token(replicas[0]) : null;
    t.ok(issued, 'r1 issues a token to the bootstrap admin');
    for (const r of replicas.slice(1)) {
      const res = await fetch(`http://127.0.0.1:${r.port}/v3/auth/tokens`, {
        headers: { 'x-auth-token': issued ?? '', 'x-subject-token': issued ?? '' },
        signal: AbortSignal.timeout(10_000),
      });
      t.equal(res.status, 200, `a token from r1 validates on r${replicas.indexOf(r) + 1}`);
    }
    for (const [i, r] of replicas.entries()) await stop(t, r, `r${i + 1}`);
  });

  t.test('a restart skips the init; KEYSTONE_FORCE_INIT=1 runs it again', async (t) => {
    const again = await start('r1', dbPort);
    t.ok(await answers(again, 120_000), `answers\n${again.out().slice(-2000)}`);
    t.match(again.out(), /already done at .*: skipping it \(KEYSTONE_FORCE_INIT=1 runs it again\)/);
    await stop(t, again, 'restart');
    const forced = await start('r2', dbPort, { KEYSTONE_FORCE_INIT: '1' });
    t.ok(await answers(forced, 180_000), `answers\n${forced.out().slice(-2000)}`);
    t.match(forced.out(), /init lease taken/, 'the init ran again');
    await stop(t, forced, 'forced');
  });

  t.test("gunicorn's environment (/proc/PID/environ of the master and its workers) holds none of the secrets the agent consumed", async (t) => {
    const adminToken = 'adm1n-t0ken-value';
    const sasl = 'sasl-s3cret-value';
    const r = await start('environ', dbPort, { ADMIN_TOKEN: adminToken, KEYSTONE_CONF__CACHE__MEMCACHE_SASL_PASSWORD: sasl, KEYSTONE_FORCE_INIT: '1' });
    t.ok(await answers(r, 180_000), `answers\n${r.out().slice(-2000)}`);
    t.match(r.out(), /keystone-manage bootstrap exited code=0/, 'bootstrap ran (with its password, in its own environment)');
    t.ok(await token(r), 'the bootstrap admin gets a token: bootstrap had the password');
    const children = (pid: number): number[] =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((p) => p !== '').map(Number);
    const agent = pid1(r);
    // bin/ on Node 20 supervises: gunicorn's master is the agent's child (exec mode: PID 1 itself).
    const master = /gunicorn/.test(readFileSync(`/proc/${agent}/cmdline`, 'utf8')) ? agent : (children(agent)[0] ?? 0);
    t.match(readFileSync(`/proc/${master}/cmdline`, 'utf8'), /gunicorn/, `pid ${master} is gunicorn's master`);
    const pids = [master, ...children(master)];
    t.ok(pids.length >= 2, `the master and its worker(s): ${pids.join(', ')}`);
    const withheld = ['MYSQL_PASSWORD', 'MYSQL_PASSWORD_FILE', 'OS_BOOTSTRAP_PASSWORD', 'ADMIN_TOKEN', 'KEYSTONE_CONF__CACHE__MEMCACHE_SASL_PASSWORD'];
    for (const pid of pids) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter((v) => v !== '');
      const names = environ.map((v) => v.slice(0, v.indexOf('=')));
      t.same(names.filter((n) => withheld.includes(n)), [], `pid ${pid}: none of ${withheld.join(', ')}`);
      t.notOk(environ.some((v) => [db.password, ADMIN_PASSWORD, adminToken, sasl].some((secret) => v.includes(secret))), `pid ${pid}: nor their values under any name`);
      t.ok(['OS_KEYSTONE_CONFIG_FILES', 'PATH', 'MYSQL_USER', 'DB_SERVICE_HOST', 'OS_BOOTSTRAP_REGION_ID'].every((n) => names.includes(n)), `pid ${pid}: the rest is passed on`);
    }
    await stop(t, r, 'environ');
  });

  t.test("[DEFAULT] log_dir: the real Keystone logs to LOG_DIR/gunicorn.log, the path the agent checks; one keystone cannot write is refused before anything is written", async (t) => {
    const logs = join(work, 'logs');
    mkdirSync(logs);
    chownSync(logs, keystoneUid(), keystoneGid());
    const r = await start('logdir', dbPort, { KEYSTONE_CONF__DEFAULT__LOG_DIR: logs });
    t.ok(await answers(r, 180_000), `answers\n${r.out().slice(-2000)}`);
    // oslo.log opens the file as each worker starts (a GET /v3 logs nothing at INFO).
    t.same(readdirSync(logs), ['gunicorn.log'], "Keystone's log file is LOG_DIR/gunicorn.log, as apiSpec's paths say");
    t.equal(statSync(join(logs, 'gunicorn.log')).uid, keystoneUid(), 'made by the API worker, as keystone');
    await stop(t, r, 'logdir');

    const locked = join(work, 'locked-logs');
    mkdirSync(locked, { mode: 0o755 });
    const refused = await start('logdir-locked', dbPort, { KEYSTONE_CONF__DEFAULT__LOG_DIR: locked });
    t.equal(await refused.done, 65, refused.out());
    t.match(refused.out(), new RegExp(`keystone-entrypoint: error: keystone\\.conf \\[DEFAULT\\] log_dir \\(${locked}/gunicorn\\.log\\): keystone \\(uid \\d+.*\\) cannot create ${locked}/gunicorn\\.log: no write \\(w\\) permission on ${locked}`));
    t.notOk(existsSync(join(work, 'logdir-locked', 'keystone.conf')), 'keystone.conf not written');
    t.notOk(existsSync(join(work, 'logdir-locked', 'gunicorn.conf.py')), 'nor gunicorn.conf.py');
  });

  t.test('the standalone binary, linked as keystone-entrypoint: exec makes gunicorn PID 1, as keystone', async (t) => {
    const why = ensureBinaries();
    if (why) {
      unavailable(t, `the standalone binary: ${why}`);
      return;
    }
    const link = join(work, 'bin', 'keystone-entrypoint');
    mkdirSync(join(work, 'bin'), { recursive: true });
    symlinkSync(BINARY, link);
    const r = await start('binary', dbPort, {}, link);
    t.ok(await answers(r, 120_000), `answers\n${r.out().slice(-2000)}`);
    const pid = pid1(r);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    t.match(cmdline.join(' '), /gunicorn -c \S+\/binary\/gunicorn\.conf\.py/, 'PID 1 of the namespace is gunicorn itself (the agent exec\'d it)');
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    t.equal(uid, execFileSync('id', ['-u', 'keystone'], { encoding: 'utf8' }).trim(), 'as keystone');
    const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    t.notMatch(environ, /(^|\0)(MYSQL_PASSWORD_FILE|OS_BOOTSTRAP_PASSWORD)=/, 'exec mode too: the secrets the agent consumed are not in its environment');
    t.match(environ, /(^|\0)OS_KEYSTONE_CONFIG_FILES=/, 'what Keystone needs is');
    t.match(r.out(), /already done at .*: skipping it/);
    await stop(t, r, 'binary');
  });

  t.test('a wrong database password: 69 at once, one line, no password', async (t) => {
    const wrong = join(secrets, 'wrong-password');
    writeFileSync(wrong, 'not-the-Pa55word', { mode: 0o400 });
    const r = await start('wrong', dbPort, { MYSQL_PASSWORD_FILE: wrong });
    const at = Date.now();
    t.equal(await r.done, 69, r.out());
    t.ok(Date.now() - at < 30_000, 'at once, not at the deadline');
    t.match(r.out(), /keystone-entrypoint: error: .*authentication failed/);
    t.notMatch(r.out(), /not-the-Pa55word/);
  });

  t.test('a database that never answers: 69 at the deadline', async (t) => {
    const r = await start('down', await closedPort(), { KEYSTONE_WAIT_TIMEOUT: '4' });
    const at = Date.now();
    t.equal(await r.done, 69, r.out());
    t.ok(Date.now() - at >= 3000, 'not before the deadline');
    t.match(r.out(), /not ready after 4 s: mysql at 127\.0\.0\.1:\d+ .*the limit is KEYSTONE_WAIT_TIMEOUT/);
  });
}
