// src/init (once.ts, mongo-store.ts, on-mongo.ts) through bin/pulp-entrypoint against FerretDB.
// The one-time init through bin/pulp-entrypoint (`init`, and `worker` waiting for its record)
// against the real FerretDB (MongoDB wire protocol) and RabbitMQ from test/services/start.sh:
// both commands wait for both servers first. pulp-manage-db and celery are the stand-ins in
// fixtures/fake-bin, which record each run (the init sleeps a little so that concurrent
// starts overlap): Pulp 2 cannot be installed here. Each test has its own database. The store
// alone: racing takers, and a holder releasing between another start's read and its update,
// which must not be reported as a takeover.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { agentArgv, FAKE_BIN, agentEnv, freshDatabases, openDir, readRecord, runAgent, waitFor } from '../helpers/exec.ts';
import { closedPort } from '../helpers/net.ts';
import { requireServices } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { mongoInitStore } from '../../src/init/mongo-store.ts';
import { INIT_COLLECTION, LEASE_ID, doneId } from '../../src/init/lease.ts';
import { runCountedInit } from '../helpers/init-run.ts';
import { isRoot, unavailable } from '../helpers/unavailable.ts';

const s = requireServices(t, 'the one-time init against FerretDB (pulp-entrypoint init waits for MongoDB and AMQP)');
if (s) {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(`mongodb://${s.mongodb}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  await client.connect();
  t.teardown(() => client.close());
  const newDb = freshDatabases(t, s, 'pe_init');
  const dir = openDir(t, 'pe-init-');
  // Not root: the stand-in pulp-manage-db refuses root like the real one.
  const runAs = isRoot ? 'nobody' : String(process.geteuid?.());

  const start = (args: string[], db: string, env: NodeJS.ProcessEnv) =>
    runAgent(process.execPath, args, {
      PATH: `${FAKE_BIN}:/usr/bin:/bin`,
      PULP_RUN_AS: runAs,
      PULP_CELERY_WORKDIR: dir,
      ...agentEnv(s, dir, db),
      ...env,
    });
  const starts = (rec: string): number => readRecord(rec).filter((e) => e.prog === 'pulp-manage-db' && e.event === 'start').length;

  t.test('eight racing tryAcquire calls on a fresh collection: exactly one wins, no error', async (t) => {
    const store = mongoInitStore(client.db(newDb()), INIT_COLLECTION);
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.tryAcquire({ id: `h${i}`, host: `host${i}` }, 'k', now, 30_000)));
    t.equal(results.filter((r) => r.acquired).length, 1);
  });

  t.test("a holder that releases between another start's read and its update is not reported as taken over", async (t) => {
    const db = client.db(newDb());
    const A = { id: 'podA:1:aa', host: 'podA' };
    t.equal((await mongoInitStore(db, INIT_COLLECTION).tryAcquire(A, 'k', new Date(), 30_000)).acquired, true, 'A holds a live lease');
    // B's database, with A's release slipped in right after B's first read of the lease.
    let slipped = false;
    const racingCollection = (name: string) =>
      new Proxy(db.collection(name), {
        get(target, prop, receiver) {
          if (prop !== 'findOne') return Reflect.get(target, prop, receiver) as unknown;
          return async (filter: { _id?: unknown }) => {
            const found = await target.findOne(filter as never);
            if (!slipped && filter._id === LEASE_ID) {
              slipped = true;
              await mongoInitStore(db, INIT_COLLECTION).release(A, new Date());
            }
            return found;
          };
        },
      });
    const racing = new Proxy(db, { get: (target, prop, receiver) => (prop === 'collection' ? racingCollection : Reflect.get(target, prop, receiver)) as unknown });
    const { runs, lines } = await runCountedInit(mongoInitStore(racing, INIT_COLLECTION), { id: 'podB:1:bb', host: 'podB' }, 'k', ['pulp-manage-db']);
    t.ok(slipped, "A released its lease between B's read and its update");
    t.equal(runs, 1, 'B ran the init once the lease was free');
    t.notMatch(lines.join(''), /took over/, 'and said nothing of a takeover');
  });

  t.test('eight concurrent `pulp-entrypoint init` run the init exactly once', async (t) => {
    const db = newDb();
    const rec = join(dir, 'eight.jsonl');
    // Each with its own server.conf, as eight pods have.
    const runs = Array.from({ length: 8 }, (_, i) => {
      const own = join(dir, `pod${i}`);
      mkdirSync(own);
      return start(['init'], db, { ...agentEnv(s, own, db), FAKE_RECORD: rec, FAKE_INIT_SLEEP: '0.5' }).done;
    });
    const results = await Promise.all(runs);
    t.same(results.map((r) => r.code), Array(8).fill(0), results.map((r) => r.out).join('\n---\n'));
    t.equal(starts(rec), 1, 'pulp-manage-db ran once');
    t.equal(results.filter((r) => /already done at .* on /.test(r.out)).length, 7, 'the others skipped it, saying when and where');
  });

  t.test('eight concurrent starts sharing one server.conf (containers of one pod on a shared volume): none fails', async (t) => {
    // Each names another database host, so each of them writes the file.
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => start(['configure'], 'pe_configure_only', { ...agentEnv(s, shared, 'pe_configure_only'), DB_SERVICE_HOST: `10.0.0.${i + 1}` }).done),
    );
    t.same(results.map((r) => r.code), Array(8).fill(0), results.filter((r) => r.code !== 0).map((r) => r.out).join('\n---\n'));
    // cache/ is agentEnv's (the workers' working_directory).
    t.same(readdirSync(shared).filter((n) => n !== 'cache').sort(), ['server.conf'], 'no temporary file left behind');
  });

  t.test('a holder killed with SIGKILL is taken over after its lease expires', async (t) => {
    const db = newDb();
    const rec = join(dir, 'killed.jsonl');
    // A TTL long enough that the second start finds the lease still live on a loaded machine
    // (1.5 s was seen to expire before the second agent looked, so it never waited).
    const env = { FAKE_RECORD: rec, PULP_INIT_LEASE_TTL: '4', PULP_INIT_KEY: 'killed' };
    const first = start(['init'], db, { ...env, FAKE_INIT_SLEEP: '60' });
    const initStart = await waitFor('the first init to start', () => readRecord(rec).find((e) => e.event === 'start'));
    process.kill(first.pid, 'SIGKILL');
    process.kill(initStart.pid, 'SIGKILL'); // its orphaned init, which a dead pod would take along
    await first.done;
    const second = await start(['init'], db, { ...env, FAKE_INIT_SLEEP: '0' }).done;
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
    const env = { FAKE_RECORD: rec, FAKE_INIT_SLEEP: '0' };
    t.equal((await start(['init'], db, env).done).code, 0);
    const skip = await start(['init'], db, env).done;
    t.equal(skip.code, 0);
    // No PULP_INIT_KEY: the default key, from the init program found on PATH.
    t.match(skip.out, new RegExp(`init pulp-manage-db@[0-9a-f]{16} already done at \\S+ on ${hostname()}: skipping it`));
    t.equal(starts(rec), 1);
    const forced = await start(['init'], db, { ...env, PULP_FORCE_INIT: '1' }).done;
    t.equal(forced.code, 0, forced.out);
    t.equal(starts(rec), 2, 'PULP_FORCE_INIT=1 ran it again');

    const failed = await start(['init'], db, { ...env, PULP_INIT_KEY: 'failing', FAKE_INIT_EXIT: '5' }).done;
    t.equal(failed.code, 5, 'the init code is the exit code');
    t.match(failed.out, /failed with exit code 5: no completion record written, lease released/);
    const col = client.db(db).collection(INIT_COLLECTION);
    t.equal(await col.findOne({ _id: doneId('failing') as never }), null, 'no record');
    t.equal((await col.findOne({ _id: LEASE_ID as never }))?.holder, null, 'lease released');
  });

  t.test('a worker without a completed init does not start (69); with one it does', async (t) => {
    const db = newDb();
    const rec = join(dir, 'worker.jsonl');
    const env = { FAKE_RECORD: rec, PULP_INIT_KEY: 'w', FAKE_EXIT: '0', FAKE_INIT_SLEEP: '0' };
    // The deadline covers the server waits too, so it leaves them a little room.
    const blocked = await start(['worker'], db, { ...env, PULP_WAIT_TIMEOUT: '3' }).done;
    t.equal(blocked.code, 69, blocked.out);
    t.match(blocked.out, /waiting for the one-time init w \(run by the beat role\)/);
    t.match(blocked.out, /one-time init w was not recorded before the deadline/);
    t.equal(readRecord(rec).filter((e) => e.prog === 'celery').length, 0, 'celery never started');

    t.equal((await start(['init'], db, env).done).code, 0);
    const worker = await start(['worker'], db, env).done;
    t.equal(worker.code, 0, worker.out);
    t.match(worker.out, /init w was done at .* on /);
    t.equal(readRecord(rec).filter((e) => e.prog === 'celery' && e.event === 'start').length, 1);
  });

  t.test('the database goes away while a worker waits for the init record: 69, one line naming it, no stack', async (t) => {
    if (!s.ferretdbBin) return unavailable(t, 'a FerretDB of its own: PULP_TEST_FERRETDB_BIN is not set (test/services/start.sh sets it)');
    // Our own FerretDB, so that killing it harms no other test.
    const port = await closedPort();
    const data = tempDir(t, 'pe-init-ferret-');
    const ferret = spawn(
      s.ferretdbBin ?? 'ferretdb',
      ['--handler=sqlite', `--sqlite-url=file:${data}/`, `--state-dir=${data}`, `--listen-addr=127.0.0.1:${port}`, '--debug-addr=127.0.0.1:0', '--telemetry=disable', '--log-level=ERROR'],
      { stdio: 'ignore' },
    );
    t.teardown(() => void ferret.kill('SIGKILL')); // before the dir goes (teardowns run last first)
    const own = join(dir, 'gone');
    mkdirSync(own);
    const rec = join(own, 'rec.jsonl');
    const [cmd = '', ...args] = agentArgv(['worker']);
    const agent = spawn(
      cmd,
      args,
      {
        env: {
          PATH: `${FAKE_BIN}:/usr/bin:/bin`,
          PULP_RUN_AS: runAs,
          PULP_CELERY_WORKDIR: dir,
          ...agentEnv(s, own, 'pe_init_gone'),
          DB_SERVICE_HOST: '127.0.0.1',
          DB_SERVICE_PORT: String(port),
          PULP_INIT_KEY: 'gone',
          PULP_WAIT_TIMEOUT: '6',
          FAKE_RECORD: rec,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = new Promise<number | null>((r) => agent.on('close', (c) => r(c)));
    t.teardown(() => void agent.kill('SIGKILL'));
    await waitFor('the worker to wait for the init record', () => (/waiting for the one-time init gone/.test(out) ? true : undefined));
    ferret.kill('SIGKILL');
    t.equal(await code, 69, out);
    const errors = out.split('\n').filter((l) => l.startsWith('pulp-entrypoint: error:'));
    t.equal(errors.length, 1, out);
    t.match(errors[0], new RegExp(`cannot read the init record of gone in MongoDB at 127\\.0\\.0\\.1:${port} \\(database pe_init_gone\\): .*at the deadline after \\d+ attempts; .*PULP_WAIT_TIMEOUT`));
    t.match(out, /warn: cannot read the init record of gone in MongoDB at .*; trying again in \d+ ms/, 'each retry is logged');
    t.notMatch(out, /internal error|^\s+at /m, 'no internal error, no stack');
    t.notMatch(out, new RegExp(s.amqpPassword), 'no password');
    t.equal(readRecord(rec).length, 0, 'celery never started');
  });

  t.test('a restart that finds the init recorded reads it on one connection, with no MongoClient', async (t) => {
    // Through a relay that counts connections: the MongoDB wait is one, the record read one
    // more; a MongoClient would add a monitoring and a pool connection.
    const upstream = s.mongodb.split(':');
    let connections = 0;
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((c) => {
      connections++;
      const u = net.connect(Number(upstream[1]), upstream[0]);
      sockets.add(c).add(u);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      c.pipe(u).pipe(c);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      for (const x of sockets) x.destroy();
      relay.close();
    });
    const port = (relay.address() as net.AddressInfo).port;
    const db = newDb();
    const rec = join(dir, 'restart.jsonl');
    const env = { FAKE_RECORD: rec, FAKE_INIT_SLEEP: '0', FAKE_EXIT: '0', PULP_INIT_KEY: 'restart' };
    t.equal((await start(['init'], db, env).done).code, 0);
    const own = join(dir, 'restart');
    mkdirSync(own);
    const viaRelay = { ...agentEnv(s, own, db), ...env, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(port) };
    const worker = await start(['worker'], db, viaRelay).done;
    t.equal(worker.code, 0, worker.out);
    t.match(worker.out, /init restart was done at .* on /);
    t.equal(connections, 2, 'the wait and the record read');
    connections = 0;
    const beat = await start(['beat'], db, viaRelay).done;
    t.equal(beat.code, 0, beat.out);
    t.match(beat.out, /already done at .*skipping it/);
    t.equal(connections, 2, 'beat alike');
    t.equal(starts(rec), 1, 'the init ran once');
  });
}
