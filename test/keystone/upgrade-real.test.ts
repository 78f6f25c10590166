// The rolling upgrade with the real keystone-manage of two releases (28.0.2 and 30.0.0, the
// venvs test/services/keystone.sh builds from each committed lock) on the real MariaDB: the
// agent as built (`init` as a replica's start, `check` as its probe), each release's default
// init key (computed from its own keystone-manage). 28.0.2 installs; 30.0.0 expands
// (alembic_version from 47147121 to 742c857f1dfb) and never contracts while a 28.0.2 replica
// is live; 28.0.2's own code still works on the expanded schema (its bootstrap reads and
// writes users, projects, roles); the contract runs once from a 30.0.0 probe when none is
// left; a 28.0.2 replica is then refused (exit 78); a 28.0.2 image the database never saw is
// refused by its own db_sync --check. The database user's password is letters and digits:
// 28.0.2's db_sync cannot take a percent-encoded one (docs/keystone-upgrade.md).
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { spawnCollect } from '../helpers/exec.ts';
import { ensureKeystoneUser, keystone28Dir, replicaEnv, requireKeystone } from '../helpers/keystone.ts';
import { mysqlRoot, requireMysql } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');

const k30 = requireKeystone(t, 'the upgrade with the real keystone-manage');
const k28 = keystone28Dir();
if (!k28) unavailable(t, "the upgrade with the real keystone-manage: Keystone 28.0.2's environment is not built; run `PULP_TEST_KEYSTONE_PINS=requirements-28-py311.txt bash test/services/keystone.sh` once (about a minute from PyPI; `npm test` does it)");
const db = requireMysql(t, 'the upgrade with the real keystone-manage');
if (k30 && k28 && db) {
  ensureKeystoneUser();
  const root = mysqlRoot(db);
  const work = tempDir(t, 'ks-upgrade-real-');
  chmodSync(work, 0o755);
  const name = `ks_upreal_${randomBytes(3).toString('hex')}`;
  const user = `u_${name}`;
  const password = randomBytes(12).toString('hex');
  root(`CREATE DATABASE ${name}; CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'; GRANT ALL PRIVILEGES ON ${name}.* TO '${user}'@'%'`);
  t.teardown(() => void root(`DROP DATABASE IF EXISTS ${name}; DROP USER IF EXISTS '${user}'@'%'`));
  const template = join(work, 'keystone.conf.template');
  copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), template);
  const venv = { old: k28, new: k30 };
  const envOf = (host: string, release: 'old' | 'new', extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...replicaEnv(join(work, host), { bin: join(venv[release], 'venv', 'bin'), template, db: { host: db.host, port: db.port, user, password, database: name } }),
    HOSTNAME: host,
    OS_BOOTSTRAP_PASSWORD: 'adm1n-pw',
    ...extra,
  });
  const agent = (host: string, release: 'old' | 'new', args: string[], extra?: Record<string, string>): Promise<{ status: number | null; out: string }> => {
    return spawnCollect([process.execPath, BIN, ...args], { env: envOf(host, release, extra) }).done.then(({ code, out }) => ({ status: code, out }));
  };
  const versions = (): string[] => root('SELECT version_num FROM alembic_version ORDER BY version_num', name).split('\n').filter(Boolean);
  const ran = (out: string): string[] => [...out.matchAll(/running (keystone-manage [a-z_]+(?: --[a-z]+)?)/g)].map((m) => m[1] ?? '');
  const OLD = ['47147121', 'c88cdce8f248'];
  const NEW = ['742c857f1dfb', 'c88cdce8f248'];

  t.test('28.0.2 to 30.0.0: expand at the first new start, contract once after the last old replica', async (t) => {
    const install = await agent('ks-old-a', 'old', ['init']);
    t.equal(install.status, 0, '28.0.2 installs', { output: install.out.slice(-2000) });
    t.same(ran(install.out), ['keystone-manage db_sync', 'keystone-manage bootstrap'], 'the whole db_sync, then bootstrap');
    t.same(versions(), OLD, "28.0.2's heads");
    t.equal((await agent('ks-old-b', 'old', ['init'])).status, 0, 'a second 28.0.2 replica skips the init');

    const expand = await agent('ks-new-a', 'new', ['init']);
    t.equal(expand.status, 0, '30.0.0 starts', { output: expand.out.slice(-2000) });
    t.same(ran(expand.out), ['keystone-manage db_sync --check', 'keystone-manage db_sync --expand', 'keystone-manage bootstrap'], 'check, expand, bootstrap: no contract');
    t.match(expand.out, /keystone-manage db_sync --check exited code=2/, "30.0.0's check: the expand is due");
    t.same(versions(), NEW, 'expanded to 742c857f1dfb');

    // 28.0.2's own code on the expanded schema: its bootstrap reads and writes the identity tables.
    const oldCode = spawn(join(k28, 'venv', 'bin', 'keystone-manage'), ['--config-file', join(work, 'ks-old-a', 'keystone.conf'), 'bootstrap', '--bootstrap-password', 'adm1n-pw'], { stdio: 'ignore' });
    t.equal(await new Promise((r) => oldCode.on('close', r)), 0, "28.0.2's keystone-manage bootstrap works on the expanded schema");
    const restarted = await agent('ks-old-b', 'old', ['init']);
    t.equal(restarted.status, 0, 'a 28.0.2 replica restarted during the rollout starts', { output: restarted.out.slice(-1500) });
    t.same(ran(restarted.out), [], 'and runs nothing');

    for (const h of ['ks-old-a', 'ks-old-b']) t.equal((await agent(h, 'old', ['check'])).status, 0, `${h}'s probe`);
    const held = await agent('ks-new-a', 'new', ['check']);
    t.equal(held.status, 0, "30.0.0's probe", { output: held.out.slice(-1500) });
    t.match(held.out, /contract of \S+ not yet: 2 replicas of another image still serve: ks-old-a/);
    t.same(ran(held.out), [], 'no contract while 28.0.2 replicas are live');

    // The 28.0.2 replicas are gone (their rows past the TTL).
    root("UPDATE entrypoint_init SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id IN ('replica:ks-old-a', 'replica:ks-old-b')", name);
    const contract = await agent('ks-new-a', 'new', ['check']);
    t.equal(contract.status, 0, 'the probe that contracts is ready', { output: contract.out.slice(-1500) });
    t.same(ran(contract.out), ['keystone-manage db_sync --contract'], 'the contract, once');
    t.match(contract.out, /keystone-manage db_sync --contract exited code=0/);
    t.same(versions(), NEW, 'both branches at 30.0.0 (its contract head did not move)');
    const again = await agent('ks-new-b', 'new', ['check']);
    t.same(ran(again.out), [], 'the next probe finds it done');

    const late = await agent('ks-old-a', 'old', ['init']);
    t.equal(late.status, 78, 'a 28.0.2 replica after the contract: refused', { output: late.out.slice(-1500) });
    t.same(ran(late.out), [], 'before anything ran');

    const unseen = await agent('ks-old-c', 'old', ['init'], { KEYSTONE_INIT_KEY: 'keystone-28-rebuilt' });
    t.equal(unseen.status, 78, 'a 28.0.2 image the database never saw: refused', { output: unseen.out.slice(-1500) });
    t.same(ran(unseen.out), ['keystone-manage db_sync --check'], 'by its own check alone');
    t.match(unseen.out, /Can't locate revision identified by '742c857f1dfb'/, "28.0.2's alembic says why");
    t.same(versions(), NEW, 'the database is as it was');
  });

  t.test('30.0.0 on an empty database: the whole db_sync, its contract recorded with it', async (t) => {
    const fresh = `${name}_b`;
    root(`CREATE DATABASE ${fresh}; GRANT ALL PRIVILEGES ON ${fresh}.* TO '${user}'@'%'`);
    t.teardown(() => void root(`DROP DATABASE IF EXISTS ${fresh}`));
    const r = await agent('ks-fresh', 'new', ['init'], { MYSQL_DATABASE: fresh });
    t.equal(r.status, 0, 'installs', { output: r.out.slice(-1500) });
    t.same(ran(r.out), ['keystone-manage db_sync', 'keystone-manage bootstrap']);
    const c = await agent('ks-fresh', 'new', ['check'], { MYSQL_DATABASE: fresh });
    t.same(ran(c.out), [], 'its probe runs no contract');
    t.equal(root('SELECT COUNT(*) FROM entrypoint_init WHERE id LIKE \'done:contract:%\'', fresh).trim(), '1');
  });
}
