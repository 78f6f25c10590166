// src/init/mysql-store.ts against the real MariaDB of test/services/mariadb.sh: the table made
// on first use; racers on one connection each, exactly one winner; expiry judged on the
// server's clock; a holder fenced off after a takeover; a record committed in the lease and
// published by the next holder; a holder releasing between another start's read and update
// not reported as taken over; the lease logic of once.ts on it, the init run once. Each
// test has its own table. The errors as StoreErrors (pure).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { requireMysql, type Mysql } from '../helpers/services.ts';
import { INIT_TABLE, mysqlInitStore, toMysqlStoreError } from '../../src/init/mysql-store.ts';
import { type DoneDoc, type Holder, LEASE_ID, doneId } from '../../src/init/lease.ts';
import { runInitOnce } from '../../src/init/once.ts';
import { runCountedInit } from '../helpers/init-run.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import { silentLogger } from '../../src/common/log.ts';

t.test('driver errors sorted into transient and not (pure)', async (t) => {
  const denied = toMysqlStoreError({ errno: 1142, code: 'ER_TABLEACCESS_DENIED_ERROR', message: "CREATE command denied to user 'ks'@'%' for table 'entrypoint_init'" }, 'keystone');
  t.equal(denied.transient, false);
  t.match(denied.hint, /GRANT .* ON keystone\.\*/);
  t.equal(toMysqlStoreError({ errno: 1213, code: 'ER_LOCK_DEADLOCK', message: 'Deadlock found' }, 'k').transient, true);
  t.equal(toMysqlStoreError(Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' }), 'k').transient, true);
  t.equal(toMysqlStoreError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:3306'), { code: 'ECONNREFUSED' }), 'k').transient, true);
  t.equal(toMysqlStoreError({ errno: 1064, code: 'ER_PARSE_ERROR', message: 'syntax' }, 'k').transient, false, 'a bug is not retried');
});

const db = requireMysql(t, 'the init store on MariaDB');
if (db) {
  const mysql = (await import('mysql2/promise')).default;
  const open = async (m: Mysql) => {
    const c = await mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password, database: m.database, timezone: 'Z' });
    t.teardown(() => c.end().catch(() => c.destroy()));
    return c;
  };
  const freshTable = (): string => `test_init_${randomBytes(4).toString('hex')}`;
  const admin = await open(db);
  const tables: string[] = [];
  t.teardown(async () => {
    for (const name of tables) await admin.query(`DROP TABLE IF EXISTS \`${name}\``);
  });
  const table = (): string => {
    const name = freshTable();
    tables.push(name);
    return name;
  };
  const A: Holder = { id: 'podA:1:aa', host: 'podA' };
  const B: Holder = { id: 'podB:1:bb', host: 'podB' };

  t.test('the table and the free lease are made on first use, once, by any number of stores', async (t) => {
    const name = table();
    const stores = await Promise.all(Array.from({ length: 4 }, async () => mysqlInitStore(await open(db), db.database, name)));
    const leases = await Promise.all(stores.map((s) => s.readLease()));
    t.ok(leases.every((l) => l !== null && l.holder === null), 'a free lease');
    const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM \`${name}\``);
    t.same(rows, [{ n: 1 }], 'one lease row');
    t.equal(INIT_TABLE, 'entrypoint_init', 'the default table');
  });

  t.test('eight racers on their own connections: exactly one takes the lease', async (t) => {
    const name = table();
    const stores = await Promise.all(Array.from({ length: 8 }, async () => mysqlInitStore(await open(db), db.database, name)));
    const now = new Date();
    const results = await Promise.all(stores.map((s, i) => s.tryAcquire({ id: `h${i}`, host: `host${i}` }, 'k', now, 30_000)));
    t.equal(results.filter((r) => r.acquired).length, 1);
    const winner = `h${results.findIndex((r) => r.acquired)}`;
    t.equal((await stores[0]?.readLease())?.holder, winner, 'held by the winner');
    for (const r of results) if (!r.acquired) t.equal(r.current?.holder, winner, "a loser is told who holds it");
  });

  t.test('expiry on the server clock; the old holder is fenced off after a takeover', async (t) => {
    const name = table();
    const a = mysqlInitStore(await open(db), db.database, name);
    const b = mysqlInitStore(await open(db), db.database, name);
    const serverNow = await a.serverNow?.();
    t.ok(serverNow instanceof Date && Math.abs(serverNow.getTime() - Date.now()) < 5000, `server time ${serverNow?.toISOString()} is UTC`);
    // The caller's "now" is far in the future: MySQL's own clock decides, so B cannot take a live lease.
    t.equal((await a.tryAcquire(A, 'k', new Date(), 400)).acquired, true);
    const early = await b.tryAcquire(B, 'k', new Date(Date.now() + 3_600_000), 400);
    t.equal(early.acquired, false, 'a live lease is not taken, whatever the caller\'s clock says');
    t.equal(early.acquired === false && early.current?.holder, A.id);
    t.equal(await a.renew(A, new Date(), 400), true, 'the holder renews');
    await new Promise((r) => setTimeout(r, 600));
    const late = await b.tryAcquire(B, 'k', new Date(0), 30_000);
    t.equal(late.acquired, true, 'an expired lease is taken over');
    t.equal(late.acquired && late.tookOver?.holder, A.id, 'and says whose it was');
    t.equal(await a.renew(A, new Date(), 30_000), false, 'the old holder cannot renew');
    const doc: DoneDoc = { _id: doneId('k'), key: 'k', doneAt: new Date(), host: 'podA', holder: A.id, argv: ['x'], durationMs: 1 };
    t.equal(await a.commit(A, doc, new Date(), 30_000), false, 'nor commit');
    await a.release(A, new Date());
    t.equal((await b.readLease())?.holder, B.id, "nor release the new holder's lease");
  });

  t.test('a holder that releases between another start\'s read and its update is not reported as taken over', async (t) => {
    const name = table();
    const a = mysqlInitStore(await open(db), db.database, name);
    t.equal((await a.tryAcquire(A, 'k3', new Date(), 30_000)).acquired, true, 'A holds a live lease');
    // B's connection, with A's release slipped in right after B's first read of the lease: the
    // interleaving that made "took over ... (its holder died or stalled?)" appear when nobody died.
    const conn = await open(db);
    let slipped = false;
    const racing = new Proxy(conn, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver);
        return async (sql: string, values?: unknown[]) => {
          const result = await target.query(sql, values);
          if (!slipped && /^SELECT \* FROM/.test(sql) && values?.[0] === LEASE_ID) {
            slipped = true;
            await a.release(A, new Date());
          }
          return result;
        };
      },
    });
    const { runs, lines } = await runCountedInit(mysqlInitStore(racing, db.database, name), B, 'k3', ['keystone-manage', 'db_sync']);
    t.ok(slipped, 'A released its lease between B\'s read and its update');
    t.equal(runs, 1, 'B ran the init once the lease was free');
    t.notMatch(lines.join(''), /took over/, 'and said nothing of a takeover');
  });

  t.test('a record committed in the lease is seen by the next holder; published records read back whole', async (t) => {
    const name = table();
    const a = mysqlInitStore(await open(db), db.database, name);
    const b = mysqlInitStore(await open(db), db.database, name);
    t.equal((await a.tryAcquire(A, 'k2', new Date(), 300)).acquired, true);
    const doc: DoneDoc = { _id: doneId('k2'), key: 'k2', doneAt: new Date('2026-12-02T10:11:12.345Z'), host: 'podA', holder: A.id, argv: ['keystone-manage', 'db_sync'], durationMs: 4321 };
    t.equal(await a.commit(A, doc, new Date(), 300), true);
    await new Promise((r) => setTimeout(r, 500));
    const next = await b.tryAcquire(B, 'k2', new Date(), 30_000);
    t.same(next.acquired && next.pending, doc, 'the pending record, dates and all');
    t.equal(await b.findDone('k2'), null, 'not published yet');
    await b.markDone(doc);
    await b.markDone(doc);
    t.same(await a.findDone('k2'), doc, 'published, idempotently');
    await b.release(B, new Date());
    const freed = await b.readLease();
    t.equal(freed?.holder, null);
    t.equal(freed?.committing, null);
  });

  t.test("once.ts on it: four concurrent starts run the init exactly once, the others skip on its record", async (t) => {
    const name = table();
    let runs = 0;
    const starts = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const store = mysqlInitStore(await open(db), db.database, name);
        return runInitOnce({
          store,
          key: 'db_sync:30.0.0',
          force: false,
          holder: { id: `pod${i}:1:${i}`, host: `pod${i}` },
          argv: ['keystone-manage', 'db_sync'],
          run: async () => {
            runs++;
            await new Promise((r) => setTimeout(r, 300));
            return 0;
          },
          deadline: deadlineIn(20_000),
          log: silentLogger,
          ttlMs: 3000,
        });
      }),
    );
    t.equal(runs, 1, 'one run');
    t.equal(starts.filter((s) => s.ran).length, 1);
    const store = mysqlInitStore(await open(db), db.database, name);
    t.equal((await store.findDone('db_sync:30.0.0'))?.argv.join(' '), 'keystone-manage db_sync');
  });
}
