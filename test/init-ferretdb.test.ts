// The one-time init against a real FerretDB (MongoDB wire protocol; test/services/start.sh).
// pulp-manage-db is fixtures/fake-bin/pulp-manage-db, a stand-in that records each run and
// sleeps a little: Pulp 2 cannot be installed here. Driven through test/fixtures-run-entry.ts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FAKE_BIN, bundleEntry, cleanup, openDir, readRecord, serviceAddress, waitFor } from './exec-helpers.ts';
import { mongoInitStore } from '../src/init/mongo-store.ts';
import { INIT_COLLECTION, LEASE_ID, doneId } from '../src/init/lease.ts';

const mongo = serviceAddress('PULP_TEST_MONGODB');
if (mongo === undefined) {
  if (process.env.CI === 'true') t.fail('PULP_TEST_MONGODB is not set and test/services/start.sh has not run: FerretDB is required under CI');
  else t.skip('SKIPPED: no FerretDB; run test/services/start.sh (or set PULP_TEST_MONGODB=host:port) to test the one-time init on it', () => {});
} else {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(`mongodb://${mongo}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const entry = await bundleEntry();
  const dir = openDir('pe-init-');
  const dbs: string[] = [];
  t.teardown(async () => {
    for (const db of dbs) await client.db(db).dropDatabase().catch(() => {});
    await client.close();
    cleanup(dir, join(entry, '..'));
  });
  const newDb = (): string => {
    const name = `pe_init_${randomBytes(4).toString('hex')}`;
    dbs.push(name);
    return name;
  };

  interface Result {
    code: number | null;
    out: string;
    pid: number;
  }
  const start = (args: string[], env: NodeJS.ProcessEnv): { pid: number; done: Promise<Result> } => {
    const child = spawn(process.execPath, [entry, ...args], {
      env: {
        PATH: `${FAKE_BIN}:/usr/bin:/bin`,
        ENTRY_MONGO: mongo,
        ENTRY_RUN_AS: 'root',
        FAKE_ALLOW_ROOT: '1',
        ENTRY_CWD: dir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<Result>((r) => child.on('close', (code) => r({ code, out, pid: child.pid ?? 0 })));
    return { pid: child.pid ?? 0, done };
  };
  const starts = (rec: string): number => readRecord(rec).filter((e) => e.prog === 'pulp-manage-db' && e.event === 'start').length;

  t.test('eight racing tryAcquire calls on a fresh collection: exactly one wins, no error', async (t) => {
    const store = mongoInitStore(client.db(newDb()), INIT_COLLECTION);
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.tryAcquire({ id: `h${i}`, host: `host${i}` }, 'k', now, 30_000)));
    t.equal(results.filter((r) => r.acquired).length, 1);
  });

  t.test('eight concurrent starts run the init exactly once', async (t) => {
    const db = newDb();
    const rec = join(dir, 'eight.jsonl');
    const runs = Array.from({ length: 8 }, () => start(['initonce', 'pulp-manage-db'], { ENTRY_DB: db, FAKE_RECORD: rec, FAKE_INIT_SLEEP: '0.5' }).done);
    const results = await Promise.all(runs);
    t.same(results.map((r) => r.code), Array(8).fill(0), results.map((r) => r.out).join('\n---\n'));
    t.equal(starts(rec), 1, 'pulp-manage-db ran once');
    t.equal(results.filter((r) => /already done at .* on /.test(r.out)).length, 7, 'the others skipped it, saying when and where');
  });

  t.test('a holder killed with SIGKILL is taken over after its lease expires', async (t) => {
    const db = newDb();
    const rec = join(dir, 'killed.jsonl');
    const env = { ENTRY_DB: db, FAKE_RECORD: rec, PULP_INIT_LEASE_TTL: '1.5', PULP_INIT_KEY: 'killed' };
    const first = start(['initonce', 'pulp-manage-db'], { ...env, FAKE_INIT_SLEEP: '60' });
    const initStart = await waitFor('the first init to start', () => readRecord(rec).find((e) => e.event === 'start'));
    process.kill(first.pid, 'SIGKILL');
    process.kill(initStart.pid, 'SIGKILL'); // its orphaned init, which a dead pod would take along
    await first.done;
    const second = await start(['initonce', 'pulp-manage-db'], { ...env, FAKE_INIT_SLEEP: '0' }).done;
    t.equal(second.code, 0, second.out);
    t.equal(starts(rec), 2);
    t.match(second.out, /waiting for the init lease: .* holds it until/);
    t.match(second.out, /took over the init lease of .* it expired at/);
    const done = await client.db(db).collection(INIT_COLLECTION).findOne({ _id: doneId('killed') as never });
    t.ok(done, 'recorded');
  });

  t.test('skip, force, and failure', async (t) => {
    const db = newDb();
    const rec = join(dir, 'sff.jsonl');
    const env = { ENTRY_DB: db, FAKE_RECORD: rec, FAKE_INIT_SLEEP: '0' };
    t.equal((await start(['initonce', 'pulp-manage-db'], env).done).code, 0);
    const skip = await start(['initonce', 'pulp-manage-db'], env).done;
    t.equal(skip.code, 0);
    t.match(skip.out, new RegExp(`init pulp-manage-db@[0-9a-f]{16} already done at \\S+ on ${hostname()}: skipping it`));
    t.equal(starts(rec), 1);
    const forced = await start(['initonce', 'pulp-manage-db'], { ...env, PULP_FORCE_INIT: '1' }).done;
    t.equal(forced.code, 0, forced.out);
    t.equal(starts(rec), 2, 'PULP_FORCE_INIT=1 ran it again');

    const failed = await start(['initonce', 'pulp-manage-db'], { ...env, PULP_INIT_KEY: 'failing', FAKE_INIT_EXIT: '5' }).done;
    t.equal(failed.code, 5, 'the init code is the exit code');
    t.match(failed.out, /failed with exit code 5: no completion record written, lease released/);
    const col = client.db(db).collection(INIT_COLLECTION);
    t.equal(await col.findOne({ _id: doneId('failing') as never }), null, 'no record');
    t.equal((await col.findOne({ _id: LEASE_ID as never }))?.holder, null, 'lease released');
  });

  t.test('a worker without a completed init does not start (69); with one it does', async (t) => {
    const db = newDb();
    const rec = join(dir, 'worker.jsonl');
    const env = { ENTRY_DB: db, FAKE_RECORD: rec, PULP_INIT_KEY: 'w', ENTRY_DEADLINE_MS: '1500', FAKE_EXIT: '0', FAKE_INIT_SLEEP: '0' };
    const blocked = await start(['awaitinit', 'pulp-manage-db', '--', 'celery', 'worker'], env).done;
    t.equal(blocked.code, 69, blocked.out);
    t.match(blocked.out, /waiting for the one-time init w \(run by the beat role\)/);
    t.match(blocked.out, /one-time init w was not recorded before the deadline/);
    t.equal(readRecord(rec).filter((e) => e.prog === 'celery').length, 0, 'celery never started');

    t.equal((await start(['initonce', 'pulp-manage-db'], env).done).code, 0);
    const worker = await start(['awaitinit', 'pulp-manage-db', '--', 'celery', 'worker'], env).done;
    t.equal(worker.code, 0, worker.out);
    t.match(worker.out, /init w was done at .* on /);
    t.equal(readRecord(rec).filter((e) => e.prog === 'celery' && e.event === 'start').length, 1);
  });
}
