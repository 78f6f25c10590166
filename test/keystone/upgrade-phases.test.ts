// The rolling upgrade's ordering (src/init/phased.ts, rollout.ts) with the agent as built
// (bin/keystone-entrypoint `init` as a replica's start, `check` as its readiness probe) on the
// real MariaDB of test/services/mariadb.sh, and a stand-in keystone-manage
// (test/keystone/standin/keystone-manage) whose db_sync phases keep alembic's version table in
// that database, for two releases: an empty database, a rollout (expand once, the contract
// held back by a live older replica and run once when none is left), an old replica restarted
// during the rollout, a replica killed during the expand, two new replicas at once, two probes
// at once, a downgrade. upgrade-real.test.ts does the same with the real keystone-manage.
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { spawnCollect } from '../helpers/exec.ts';
import { ensureKeystoneUser, replicaEnv } from '../helpers/keystone.ts';
import { mysqlRoot, requireMysql } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');
const STANDIN = join(ROOT, 'test', 'keystone', 'standin');

const db = requireMysql(t, 'the rolling upgrade with a stand-in keystone-manage');
if (db) {
  ensureKeystoneUser();
  const root = mysqlRoot(db);

  interface Env {
    work: string;
    name: string;
    calls: string;
    /** Runs the agent as replica `host` of `release`; resolves with its code and output. */
    agent(host: string, release: 'old' | 'new', args: string[], extra?: Record<string, string>): Promise<{ status: number | null; out: string; child: ChildProcess }>;
    start(host: string, release: 'old' | 'new', args: string[], extra?: Record<string, string>): { child: ChildProcess; done: Promise<{ status: number | null; out: string }> };
    /** The stand-in's calls since the start: "<host> <args>". */
    callLines(): string[];
    versions(): string[];
    /** Rows of the agent's table: id -> init key. */
    rows(): string[];
    /** The replica rows of `release` stop counting: their heartbeat older than the TTL. */
    gone(release: 'old' | 'new'): void;
  }

  /** A database, a stand-in user that may change it, a work directory: one per test. */
  const setup = (t: Test): Env => {
    const work = tempDir(t, 'ks-upgrade-');
    chmodSync(work, 0o777);
    const name = `ks_up_${randomBytes(3).toString('hex')}`;
    const standinPassword = randomBytes(8).toString('hex');
    root(`CREATE DATABASE ${name}; GRANT ALL PRIVILEGES ON ${name}.* TO '${db.user}'@'%'; CREATE USER 'si_${name}'@'%' IDENTIFIED BY '${standinPassword}'; GRANT ALL PRIVILEGES ON ${name}.* TO 'si_${name}'@'%'`);
    t.teardown(() => void root(`DROP DATABASE IF EXISTS ${name}; DROP USER IF EXISTS 'si_${name}'@'%'`));
    const cnf = join(work, 'standin.cnf');
    writeFileSync(cnf, `[client]\nuser=si_${name}\npassword=${standinPassword}\nhost=${db.host}\nport=${db.port}\nprotocol=tcp\ndatabase=${name}\n`, { mode: 0o644 });
    const calls = join(work, 'calls');
    writeFileSync(calls, '', { mode: 0o666 });
    chmodSync(calls, 0o666);
    const template = join(work, 'keystone.conf.template');
    writeFileSync(template, readFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf')), { mode: 0o644 });
    const envOf = (host: string, release: string, extra: Record<string, string>): NodeJS.ProcessEnv => ({
      ...replicaEnv(join(work, host), { bin: STANDIN, template, db: { ...db, database: name } }),
      HOSTNAME: host,
      // Each image's init key: what a new image changes.
      KEYSTONE_INIT_KEY: `release-${release}`,
      KEYSTONE_WAIT_TIMEOUT: '60',
      STANDIN_RELEASE: release,
      STANDIN_CNF: cnf,
      STANDIN_CALLS: calls,
      ...extra,
    });
    const start: Env['start'] = (host, release, args, extra = {}) => {
      const { child, done } = spawnCollect([process.execPath, BIN, ...args], { env: envOf(host, release, extra), detached: true });
      return { child, done: done.then(({ code, out }) => ({ status: code, out })) };
    };
    return {
      work,
      name,
      calls,
      start,
      agent: async (host, release, args, extra) => {
        const s = start(host, release, args, extra);
        return { ...(await s.done), child: s.child };
      },
      callLines: () => readFileSync(calls, 'utf8').split('\n').filter(Boolean),
      versions: () => root('SELECT version_num FROM alembic_version ORDER BY version_num', name).split('\n').filter(Boolean),
      rows: () => root('SELECT id, init_key FROM entrypoint_init ORDER BY id', name).split('\n').filter(Boolean),
      gone: (release) => void root(`UPDATE entrypoint_init SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id LIKE 'replica:%' AND init_key = 'release-${release}'`, name),
    };
  };

  const count = (lines: string[], what: RegExp): number => lines.filter((l) => what.test(l)).length;

  t.test('an empty database: the whole db_sync, no check, and the contract recorded with it', async (t) => {
    const e = setup(t);
    const r = await e.agent('ks-new-a', 'new', ['init']);
    t.equal(r.status, 0, 'r: exit code 0', { output: r.out.slice(-1500) });
    t.same(e.callLines(), ['ks-new-a db_sync'], 'db_sync alone: no --check, no --expand, no --contract');
    t.same(e.versions(), ['C2', 'E2']);
    t.match(r.out, /init phase: full \(alembic_version does not exist/);
    t.ok(e.rows().some((row) => row.startsWith('done:contract:release-new')), 'the contract is recorded with the full db_sync');
    const c = await e.agent('ks-new-a', 'new', ['check']);
    t.equal(c.status, 0, 'c: exit code 0', { output: c.out.slice(-1500) });
    t.equal(count(e.callLines(), /--contract/), 0, 'the probe runs no contract');
    // A replica gone for more than an hour: its row is removed by the next heartbeat; a recent one stays.
    root("INSERT INTO entrypoint_init (id, host, init_key, expires_at) VALUES ('replica:ks-long-gone', 'ks-long-gone', 'release-old', NOW(3) - INTERVAL 61 MINUTE), ('replica:ks-just-gone', 'ks-just-gone', 'release-old', NOW(3) - INTERVAL 59 MINUTE)", e.name);
    t.equal((await e.agent('ks-new-a', 'new', ['check'])).status, 0);
    t.same(e.rows().filter((r) => r.startsWith('replica:')), ['replica:ks-just-gone\trelease-old', 'replica:ks-new-a\trelease-new'], 'rows expired over an hour ago are removed');
  });

  t.test('a rollout: expand once at the first new start, the contract held back while an old replica is live, then once', async (t) => {
    const e = setup(t);
    for (const h of ['ks-old-a', 'ks-old-b', 'ks-old-c']) t.equal((await e.agent(h, 'old', ['init'])).status, 0, `${h} started`);
    t.same(e.callLines(), ['ks-old-a db_sync'], 'the first install: one db_sync; the other old replicas skip it');
    t.same(e.versions(), ['C1', 'E1']);
    // The first new replica: check, expand; the second skips.
    const a = await e.agent('ks-new-a', 'new', ['init']);
    t.equal(a.status, 0, 'a: exit code 0', { output: a.out.slice(-1500) });
    t.match(a.out, /init phase: expand \(alembic_version at .*db_sync --check: the expand is due \(2\)\)/);
    t.same(e.callLines().slice(1), ['ks-new-a db_sync --check', 'ks-new-a db_sync --expand', 'ks-new-a expand-start', 'ks-new-a expand-end']);
    t.same(e.versions(), ['C1', 'E2'], 'expanded, not contracted');
    t.equal((await e.agent('ks-new-b', 'new', ['init'])).status, 0);
    t.equal(e.callLines().length, 5, 'the second new replica runs nothing');
    // The old replicas still serve (their probes refresh their rows): no contract.
    for (const h of ['ks-old-a', 'ks-old-b', 'ks-old-c']) t.equal((await e.agent(h, 'old', ['check'])).status, 0, `${h}'s probe`);
    const held = await e.agent('ks-new-a', 'new', ['check']);
    t.equal(held.status, 0, 'held: exit code 0', { output: held.out.slice(-1500) });
    t.match(held.out, /contract of release-new not yet: 3 replicas of another image still serve: ks-old-a .*ks-old-b .*ks-old-c/);
    t.equal(count(e.callLines(), /--contract/), 0, 'no contract while old replicas are live');
    // An old replica restarted during the rollout starts (the expand is additive) and runs nothing.
    const restarted = await e.agent('ks-old-b', 'old', ['init']);
    t.equal(restarted.status, 0, 'restarted: exit code 0', { output: restarted.out.slice(-1500) });
    t.equal(e.callLines().length, 5, 'the restarted old replica runs nothing');
    // Two old replicas replaced; the third died without a word: its row stops counting after its TTL.
    e.gone('old');
    const [p1, p2] = await Promise.all([e.agent('ks-new-a', 'new', ['check']), e.agent('ks-new-b', 'new', ['check'])]);
    t.equal(p1.status, 0, 'p1: exit code 0', { output: p1.out.slice(-1500) });
    t.equal(p2.status, 0, 'p2: exit code 0', { output: p2.out.slice(-1500) });
    t.equal(count(e.callLines(), /db_sync --contract/), 1, 'two probes at once: one contract');
    t.same(e.versions(), ['C2', 'E2'], 'contracted');
    t.equal((await e.agent('ks-new-c', 'new', ['check'])).status, 0);
    t.equal(count(e.callLines(), /db_sync --contract/), 1, 'a later probe finds it done');
    // An old replica restarted now: refused before anything ran, exit 78, one line.
    const late = await e.agent('ks-old-c', 'old', ['init']);
    t.equal(late.status, 78, 'late: exit code 78', { output: late.out.slice(-1500) });
    t.match(late.out.trimEnd().split('\n').at(-1) ?? '', /^keystone-entrypoint: error: this image is older than the database: the database was contracted by a newer image \(init key release-new/);
    t.equal(count(e.callLines(), /ks-old-c/), 0, 'nothing ran');
  });

  t.test('an old replica that writes its row while the contract is due: one of the two sees the other', async (t) => {
    const e = setup(t);
    t.equal((await e.agent('ks-old-a', 'old', ['init'])).status, 0);
    t.equal((await e.agent('ks-new-a', 'new', ['init'])).status, 0);
    e.gone('old');
    const [probe, old] = await Promise.all([e.agent('ks-new-a', 'new', ['check']), e.agent('ks-old-a', 'old', ['init'])]);
    t.equal(probe.status, 0, 'probe: exit code 0', { output: probe.out.slice(-1500) });
    const contracted = count(e.callLines(), /db_sync --contract/) === 1;
    // Never both: the contract ran while the old replica started.
    t.notOk(contracted && old.status === 0, 'not both: a contract and an old replica that started', { output: `${probe.out}\n${old.out}`.slice(-3000) });
    if (contracted) t.equal(old.status, 78, 'contract ran: the old replica is refused', { output: old.out.slice(-1500) });
    else if (old.status === 0) t.match(probe.out, /contract of release-new not yet: 1 replica of another image still serves: ks-old-a/, 'the old replica started: the contract waited');
    else {
      // Each saw the other (the old replica the contract's lease, the contract the old row): both
      // backed off. The restarted old replica then starts, and the contract keeps waiting for it.
      t.equal(old.status, 78, 'both backed off: the old replica refused', { output: old.out.slice(-1500) });
      const again = await e.agent('ks-old-a', 'old', ['init']);
      t.equal(again.status, 0, 'its restart starts', { output: again.out.slice(-1500) });
      const later = await e.agent('ks-new-a', 'new', ['check']);
      t.equal(count(e.callLines(), /db_sync --contract/), 0, 'and the contract waits for it', { output: later.out.slice(-1500) });
    }
  });

  t.test('an old image whose agent kept no rows: the contract is not run, since nothing vouches that its replicas are gone', async (t) => {
    const e = setup(t);
    t.equal((await e.agent('ks-old-a', 'old', ['init'])).status, 0);
    // An agent from before the rows: its replicas never wrote one.
    root("DELETE FROM entrypoint_init WHERE id LIKE 'replica:%'", e.name);
    t.equal((await e.agent('ks-new-a', 'new', ['init'])).status, 0);
    const probe = await e.agent('ks-new-a', 'new', ['check']);
    t.equal(probe.status, 0, 'probe: exit code 0', { output: probe.out.slice(-1500) });
    t.match(probe.out, /contract of release-new not yet: the image before this one \(init key release-old\) left no replica rows/);
    t.equal(count(e.callLines(), /--contract/), 0, 'no contract');
    t.same(e.versions(), ['C1', 'E2'], 'expanded only');
  });

  t.test('two new replicas at once: one expand; the other waits for it and skips', async (t) => {
    const e = setup(t);
    t.equal((await e.agent('ks-old-a', 'old', ['init'])).status, 0);
    const [a, b] = await Promise.all([e.agent('ks-new-a', 'new', ['init'], { STANDIN_EXPAND_SLEEP: '2' }), e.agent('ks-new-b', 'new', ['init'], { STANDIN_EXPAND_SLEEP: '2' })]);
    t.equal(a.status, 0, 'a: exit code 0', { output: a.out.slice(-1500) });
    t.equal(b.status, 0, 'b: exit code 0', { output: b.out.slice(-1500) });
    t.equal(count(e.callLines(), /db_sync --expand$/), 1, 'one expand');
    t.equal(count(e.callLines(), /db_sync --check$/), 1, 'one check');
    t.match(`${a.out}\n${b.out}`, /waiting for the init lease/);
  });

  t.test('a replica killed during the expand: the next start takes the lease over and expands', async (t) => {
    const e = setup(t);
    t.equal((await e.agent('ks-old-a', 'old', ['init'])).status, 0);
    const ttl = { KEYSTONE_INIT_LEASE_TTL: '2' };
    const killed = e.start('ks-new-a', 'new', ['init'], { ...ttl, STANDIN_EXPAND_SLEEP: '30' });
    for (let i = 0; i < 200 && !e.callLines().includes('ks-new-a expand-start'); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(e.callLines().includes('ks-new-a expand-start'), 'the expand started');
    // The pod dies: the agent and its keystone-manage at once.
    process.kill(-(killed.child.pid ?? 0), 'SIGKILL');
    await killed.done;
    t.same(e.versions(), ['C1', 'E1'], 'nothing expanded');
    const next = await e.agent('ks-new-b', 'new', ['init'], ttl);
    t.equal(next.status, 0, 'next: exit code 0', { output: next.out.slice(-1500) });
    // The killed start's lease was never released: the next start takes it over (the holder is
    // host:pid:random, the host the machine's name, so the killed agent is known by its pid).
    t.match(next.out, new RegExp(`took over the init lease of [^:\\s]+:${killed.child.pid}:[0-9a-f]+ on \\S+: it expired at `), "the killed replica's expired lease taken over");
    t.same(e.callLines().filter((l) => l.startsWith('ks-new-b')), ['ks-new-b db_sync --check', 'ks-new-b db_sync --expand', 'ks-new-b expand-start', 'ks-new-b expand-end']);
    t.same(e.versions(), ['C1', 'E2']);
  });

  t.test('a downgrade: an image older than the database is refused before anything migrates, one line, exit 78', async (t) => {
    const e = setup(t);
    t.equal((await e.agent('ks-new-a', 'new', ['init'])).status, 0);
    const r = await e.agent('ks-old-a', 'old', ['init']);
    t.equal(r.status, 78, 'r: exit code 78', { output: r.out.slice(-1500) });
    t.same(e.callLines().filter((l) => l.startsWith('ks-old-a')), ['ks-old-a db_sync --check'], 'only the check ran');
    t.same(e.versions(), ['C2', 'E2'], 'the database is as it was');
    const last = r.out.trimEnd().split('\n').at(-1) ?? '';
    t.match(last, /^keystone-entrypoint: error: keystone-manage db_sync --check failed \(exit code 1\): this Keystone cannot read the database's schema version/);
    t.notOk(e.rows().some((row) => row.startsWith('done:release-old')), 'no record of the refused init');
    // The lease was released: the newer image still starts at once.
    t.equal((await e.agent('ks-new-b', 'new', ['init'], { KEYSTONE_WAIT_TIMEOUT: '5' })).status, 0);
  });
}
