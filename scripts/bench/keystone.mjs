// Keystone start-up, one paired run: start -> exec of the api with the database ready and the
// init recorded, for (a) the original's start (fixtures/original/keystone-start.sh: crudini,
// then keystone-manage db_sync at every start) and (b) bin/keystone-entrypoint api (configure,
// the MySQL wait, the init record found, the keys installed, exec of gunicorn). Both against
// the test MariaDB (test/services/mariadb.sh) and the real Keystone 30.0.0
// (test/services/keystone.sh). The exec point: the original's stand-in start command; the
// agent's "starting api" line (gunicorn is then stopped). Runs are interleaved.
//
//   node scripts/bench/keystone.mjs          # 5 runs each; BENCH_RUNS=9 for more
//
// A piece that cannot run here prints "n/a (reason)"; the script exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));

function envFile(path) {
  const out = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function prepare() {
  const ks = spawnSync('bash', [join(root, 'test', 'services', 'keystone.sh')], { encoding: 'utf8' });
  const dir = /PULP_TEST_KEYSTONE=(\S+)/.exec(ks.stdout)?.[1];
  if (!dir) return { error: `test/services/keystone.sh failed: ${ks.stderr.trim().split('\n').pop()}` };
  const db = spawnSync('bash', [join(root, 'test', 'services', 'mariadb.sh')], { encoding: 'utf8' });
  if (db.status !== 0) return { error: `test/services/mariadb.sh failed: ${db.stderr.trim().split('\n').pop()}` };
  if (spawnSync('crudini', ['--version']).status !== 0) return { error: 'crudini is missing (apt-get install crudini)' };
  const m = envFile('/tmp/pulp-entrypoint-services/mariadb/env');
  const [host, port] = (m.PULP_TEST_MYSQL ?? '').split(':');
  return { dir, host, port, user: m.PULP_TEST_MYSQL_USER, password: m.PULP_TEST_MYSQL_PASSWORD, rootPassword: m.PULP_TEST_MYSQL_ROOT_PASSWORD };
}

function sql(p, text) {
  spawnSync('mariadb', ['--no-defaults', '--protocol=tcp', `-h${p.host}`, `-P${p.port}`, '-uroot', '-e', text], { env: { ...process.env, MYSQL_PWD: p.rootPassword } });
}

/** ms from spawn to the first line matching `ready`, then the process group is stopped. */
function timed(cmd, args, env, ready) {
  return new Promise((res) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let done = false;
    const finish = (ms) => {
      if (done) return;
      done = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      res({ ms, out });
    };
    const look = (d) => {
      out += d.toString();
      if (ready.test(out)) finish(Number(process.hrtime.bigint() - start) / 1e6);
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', () => setTimeout(() => finish(undefined), 50));
    setTimeout(() => finish(undefined), 120_000);
  });
}

function freePort() {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => res(a.port));
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const p = prepare();
  if (p.error) {
    console.log(`keystone start -> exec: n/a (${p.error})`);
    return;
  }
  const name = `ks_bench_${randomBytes(3).toString('hex')}`;
  sql(p, `CREATE DATABASE ${name}; GRANT ALL PRIVILEGES ON ${name}.* TO '${p.user}'@'%'`);
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-'));
  try {
    const conf = join(work, 'keystone.conf');
    const fernet = join(work, 'fernet-keys');
    mkdirSync(fernet);
    const PATH = `${join(p.dir, 'venv', 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`;
    const agentEnv = {
      PATH,
      DB_SERVICE_HOST: p.host,
      DB_SERVICE_PORT: p.port,
      MYSQL_USER: p.user,
      MYSQL_PASSWORD: p.password,
      MYSQL_DATABASE: name,
      KEYSTONE_CONF: conf,
      KEYSTONE_CONF_TEMPLATE: join(root, 'src', 'keystone', 'default-keystone.conf'),
      KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: fernet,
      KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: fernet,
      KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: join(work, 'credential-keys'),
      KEYSTONE_LISTEN: `127.0.0.1:${await freePort()}`,
      KEYSTONE_RUN_AS: String(process.getuid?.() ?? 0),
      KEYSTONE_INIT_KEY: `bench-${name}`,
    };
    // The init recorded once, as in a running installation.
    const first = await timed(join(root, 'bin', 'keystone-entrypoint'), ['api'], agentEnv, /starting api/);
    if (first.ms === undefined) {
      console.log(`keystone start -> exec: n/a (the agent did not start: ${first.out.trim().split('\n').pop()})`);
      return;
    }
    const origConf = join(work, 'original.conf');
    copyFileSync(join(root, 'src', 'keystone', 'default-keystone.conf'), origConf);
    // The original's URL: mysql:// needs MySQLdb, absent here, so the driver is named as Keystone's pins have it; the rest as it wrote it.
    // The original ignored the port; the test MariaDB is not on 3306, so it rides in the address.
    const origEnv = { PATH, DB_PORT_3306_TCP_ADDR: `${p.host}:${p.port}`, ADMIN_TOKEN: 'x', MYSQL_USER: p.user, MYSQL_PASSWORD: encodeURIComponent(p.password), MYSQL_DATABASE: name, KEYSTONE_CONF_FILE: origConf, KEYSTONE_START: 'echo started' };
    // The one change to the original: its mysql:// needs MySQLdb, which Keystone's pins do not install.
    const script = join(work, 'keystone-start.sh');
    writeFileSync(script, readFileSync(join(root, 'fixtures', 'original', 'keystone-start.sh'), 'utf8').replace('"mysql://', '"mysql+pymysql://'));
    const original = [];
    const agent = [];
    for (let i = 0; i < runs; i++) {
      const o = await timed('bash', [script], origEnv, /^started$/m);
      const a = await timed(join(root, 'bin', 'keystone-entrypoint'), ['api'], agentEnv, /starting api/);
      if (o.ms !== undefined) original.push(o.ms);
      if (a.ms !== undefined) agent.push(a.ms);
    }
    console.log(`keystone start -> exec of the api, database ready, init recorded (${runs} paired runs, median ms):`);
    console.log(`  original (crudini, db_sync at every start)  ${original.length ? median(original).toFixed(0) : 'n/a'}`);
    console.log(`  bin/keystone-entrypoint api                  ${agent.length ? median(agent).toFixed(0) : 'n/a'}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    sql(p, `DROP DATABASE IF EXISTS ${name}`);
  }
}

await main();
