// src/init/once.ts and lease.ts (fencing) through `pulp-entrypoint init` against FerretDB.
// The init lease fences: through bin/pulp-entrypoint `init` against the real FerretDB, a holder
// that loses its lease (frozen with its init past the TTL, or cut off from the database) stops
// its init, writes no record and exits 69; an agent whose clock runs 45 s ahead cannot take a
// live lease over (expiry is judged by the database server's clock). The init is the stand-in
// fixtures/fake-bin/pulp-manage-db, which records its start and its end.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ENTRYPOINT, FAKE_BIN, agentEnv, freshDatabases, openDir, readRecord, runAgent, waitFor } from '../helpers/exec.ts';
import { requireServices } from '../helpers/services.ts';
import { INIT_COLLECTION, doneId } from '../../src/init/lease.ts';
import { splitHostPort } from '../../src/common/net.ts';
import { isRoot, unavailable } from '../helpers/unavailable.ts';

const s = requireServices(t, 'the init lease fencing against FerretDB (init waits for MongoDB and AMQP)');
if (s) {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(`mongodb://${s.mongodb}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  await client.connect();
  t.teardown(() => client.close());
  const newDb = freshDatabases(t, s, 'pe_fence');
  const dir = openDir(t, 'pe-fence-');
  const runAs = isRoot ? 'nobody' : String(process.geteuid?.());
  let pods = 0;

  /** `pulp-entrypoint init` as its own pod (its own server.conf). */
  const start = (db: string, env: NodeJS.ProcessEnv) => {
    const own = join(dir, `pod${pods++}`);
    mkdirSync(own);
    return runAgent(process.execPath, ['init'], {
      PATH: `${FAKE_BIN}:/usr/bin:/bin`,
      PULP_RUN_AS: runAs,
      PULP_CELERY_WORKDIR: dir,
      ...agentEnv(s, own, db),
      ...env,
    });
  };
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const errorLines = (out: string): string[] => out.split('\n').filter((l) => /^pulp-entrypoint: error:/.test(l));

  t.test('a holder frozen with its init past the TTL: on resume it stops its init, writes no record, exits 69', async (t) => {
    const db = newDb();
    const rec = join(dir, 'frozen.jsonl');
    const env = { FAKE_RECORD: rec, PULP_INIT_LEASE_TTL: '2', PULP_INIT_KEY: 'frozen' };
    const first = start(db, { ...env, FAKE_INIT_SLEEP: '30' });
    const firstInit = await waitFor('the first init to start', () => readRecord(rec).find((e) => e.event === 'start'));
    // A VM pause: the agent and its init stopped together.
    process.kill(first.pid, 'SIGSTOP');
    process.kill(firstInit.pid, 'SIGSTOP');
    const second = start(db, { ...env, FAKE_INIT_SLEEP: '2' });
    const secondInit = await waitFor('the second init to start after the takeover', () => readRecord(rec).find((e) => e.event === 'start' && e.pid !== firstInit.pid));
    process.kill(firstInit.pid, 'SIGCONT');
    process.kill(first.pid, 'SIGCONT');
    const [a, b] = await Promise.all([first.done, second.done]);
    t.equal(a.code, 69, a.out);
    const errors = errorLines(a.out);
    t.equal(errors.length, 1, a.out);
    t.match(errors[0], /lost the init lease while .*pulp-manage-db ran \(.*\): stopped it; no completion record written/);
    t.match(a.out, /stopping pulp-manage-db \(SIGTERM/);
    t.equal(b.code, 0, b.out);
    t.match(b.out, /took over the init lease of .* \(database time\)/);
    const ends = readRecord(rec).filter((e) => e.event === 'end');
    t.same(ends.map((e) => e.pid), [secondInit.pid], 'only the second init ran to its end');
    const done = await client.db(db).collection(INIT_COLLECTION).findOne({ _id: doneId('frozen') as never });
    t.match(done?.holder, new RegExp(`^${hostname()}:${second.pid}:`), 'the record is the second holder\'s');
  });

  t.test('a holder cut off from the database stops its init before the lease can be taken over', async (t) => {
    const db = newDb();
    const rec = join(dir, 'partition.jsonl');
    const target = splitHostPort(s.mongodb);
    // A proxy between the first agent and FerretDB that can drop everything (a partition).
    let cut = false;
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((down) => {
      const up = net.connect(target?.port ?? 0, target?.host ?? '127.0.0.1');
      for (const sock of [down, up]) {
        sockets.add(sock);
        sock.on('error', () => {});
      }
      down.on('data', (d: Buffer) => void (cut || up.write(d)));
      up.on('data', (d: Buffer) => void (cut || down.write(d)));
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    t.teardown(() => {
      for (const sock of sockets) sock.destroy();
      proxy.close();
    });
    const port = (proxy.address() as net.AddressInfo).port;
    const env = { FAKE_RECORD: rec, PULP_INIT_LEASE_TTL: '3', PULP_INIT_KEY: 'partition' };
    const first = start(db, { ...env, FAKE_INIT_SLEEP: '30', DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(port) });
    const firstInit = await waitFor('the first init to start', () => readRecord(rec).find((e) => e.event === 'start'));
    cut = true;
    const second = start(db, { ...env, FAKE_INIT_SLEEP: '1' });
    const firstStillRunning = await waitFor('the second init to start', () => {
      const started = readRecord(rec).find((e) => e.event === 'start' && e.pid !== firstInit.pid);
      return started === undefined ? undefined : alive(firstInit.pid);
    });
    t.equal(firstStillRunning, false, 'the first init was gone before the second started');
    const [a, b] = await Promise.all([first.done, second.done]);
    t.equal(a.code, 69, a.out);
    const errors = errorLines(a.out);
    t.equal(errors.length, 1, a.out);
    t.match(errors[0], /lost the init lease while .*pulp-manage-db ran \(no renewal confirmed by .* for 2\.\d s, and it expires 3 s after one\)/);
    t.equal(b.code, 0, b.out);
    t.equal(readRecord(rec).filter((e) => e.event === 'end').length, 1, 'one init ran to its end');
  });

  t.test('an agent with a clock 45 s ahead does not take over a live lease (default TTL)', async (t) => {
    const faketime = spawnSync('faketime', ['-f', '+45s', 'true']);
    if (faketime.status !== 0) {
      unavailable(t, 'faketime is missing (Debian package faketime, installed by test/setup-machine.sh)');
      return;
    }
    const db = newDb();
    const rec = join(dir, 'skew.jsonl');
    const env = { FAKE_RECORD: rec, PULP_INIT_KEY: 'skew' };
    const first = start(db, { ...env, FAKE_INIT_SLEEP: '6' });
    await waitFor('the first init to start', () => readRecord(rec).find((e) => e.event === 'start'));
    const second = runSkewed(db, env);
    const [a, b] = await Promise.all([first.done, second]);
    t.equal(a.code, 0, a.out);
    t.equal(readRecord(rec).filter((e) => e.event === 'start').length, 1, 'the init ran once');
    t.equal(b.code, 0, b.out);
    t.match(b.out, /waiting for the init lease: .* holds it until/);
    t.match(b.out, /already done at .*: skipping it/, 'it waited for the record instead');
    t.notMatch(b.out, /took over/);
  });

  /** `pulp-entrypoint init` with the wall clock 45 s ahead (libfaketime; the monotonic clock is left alone). */
  const services = s;
  function runSkewed(db: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
    const own = join(dir, `pod${pods++}`);
    mkdirSync(own);
    return spawnAsync('faketime', ['-f', '+45s', process.execPath, ENTRYPOINT, 'init'], {
      PATH: `${FAKE_BIN}:/usr/bin:/bin`,
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      PULP_RUN_AS: runAs,
      PULP_CELERY_WORKDIR: dir,
      ...agentEnv(services, own, db),
      ...env,
    });
  }
}

function spawnAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return import('node:child_process').then(
    ({ spawn }) =>
      new Promise((resolve) => {
        const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', (code) => resolve({ code, out }));
      }),
  );
}
