// src/wait/mysql.ts (and its place in wait.ts and probe.ts) against the real MariaDB of
// test/services/mariadb.sh and small hostile listeners: ready, a wrong password and an unknown
// database ending the wait at once without the password in any line, a closed port and a
// silent peer retried within their bounds.
import t from 'tap';
import net from 'node:net';
import { closedPort, rejection } from '../helpers/net.ts';
import { requireMysql } from '../helpers/services.ts';
import { probeMysql, permanentRefusal } from '../../src/wait/mysql.ts';
import { checkTargets, waitForTargets } from '../../src/wait/wait.ts';
import { ProbeError } from '../../src/dependencies/classify.ts';
import { UnavailableError } from '../../src/common/errors.ts';
import { createLogger, silentLogger } from '../../src/common/log.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import type { MysqlTarget } from '../../src/common/targets.ts';

const target = (o: Partial<MysqlTarget> & { host: string; port: number }): MysqlTarget => ({
  kind: 'mysql',
  address: `${o.host}:${o.port}`,
  username: 'keystone',
  password: undefined,
  database: 'keystone',
  source: 'database.connection',
  ...o,
});

t.test('the refusals no retry mends, by error number; others are not', async (t) => {
  const denied = permanentRefusal({ errno: 1045, sqlMessage: "Access denied for user 'keystone'@'localhost' (using password: YES)" }, 'db:3306');
  t.equal(denied?.reason, 'auth');
  t.equal(denied?.permanent, true);
  t.equal(denied?.message, "authentication failed at db:3306 (Access denied for user 'keystone'@'localhost' (using password: YES))");
  t.equal(permanentRefusal({ errno: 1049, sqlMessage: "Unknown database 'ks'" }, 'db:3306')?.reason, 'database');
  t.equal(permanentRefusal({ errno: 1044 }, 'db:3306')?.message, 'database refused at db:3306 (MySQL error 1044)');
  t.equal(permanentRefusal({ errno: 1040, sqlMessage: 'Too many connections' }, 'db:3306'), undefined, 'too many connections passes');
  t.equal(permanentRefusal({ code: 'ECONNREFUSED' }, 'db:3306'), undefined);
  t.equal(permanentRefusal(undefined, 'db:3306'), undefined);
});

t.test('a closed port is refused and retried; a silent peer times out within the attempt', async (t) => {
  const closed = await closedPort();
  const refused = await rejection(probeMysql(target({ host: '127.0.0.1', port: closed }), { timeoutMs: 2000 }));
  t.ok(refused instanceof ProbeError);
  t.equal((refused as ProbeError).reason, 'refused');
  t.equal((refused as ProbeError).permanent, false);

  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const started = Date.now();
  const silent = await rejection(probeMysql(target({ host: '127.0.0.1', port }), { timeoutMs: 400 }));
  t.equal((silent as ProbeError).reason, 'timeout', silent.message);
  t.ok(Date.now() - started < 3000, 'bounded by the attempt');
});

const db = requireMysql(t, 'the MySQL wait against MariaDB');
if (db) {
  const ok = target({ host: db.host, port: db.port, username: db.user, password: db.password, database: db.database });

  t.test('ready: handshake, login (a password with $ and %), the database, SELECT 1', async (t) => {
    t.match(db.password, /[$%]/, 'the test password is hostile');
    await probeMysql(ok, { timeoutMs: 5000 });
    const results = await waitForTargets([ok], { deadline: deadlineIn(10_000), log: silentLogger });
    t.same(results.map((r) => [r.kind, r.ready, r.attempts]), [['mysql', true, 1]]);
    const checked = await checkTargets([ok], { timeoutMs: 5000, log: silentLogger });
    t.equal(checked[0]?.ready, true);
  });

  t.test('a wrong password ends the wait at once (exit 69), one line, no password anywhere', async (t) => {
    const lines: string[] = [];
    const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l), secrets: ['Wr0ng$pw%'] });
    const started = Date.now();
    const err = await rejection(waitForTargets([{ ...ok, password: 'Wr0ng$pw%' }], { deadline: deadlineIn(20_000), log }));
    t.ok(err instanceof UnavailableError, err.message);
    t.ok(Date.now() - started < 5000, 'at once, not at the deadline');
    t.match(err.message, /authentication failed at 127\.0\.0\.1:\d+ \(Access denied for user 'keystone'/);
    t.notMatch(err.message + lines.join(''), /Wr0ng/, 'the password is in no message');
    t.notOk(err.message.includes('\n'), 'one line');
  });

  t.test('an unknown database says so, at once', async (t) => {
    // As root: a user without rights on the name hears 1044 (access denied) instead, as the
    // next test shows; only a user who may see every database learns that it does not exist.
    const asRoot = { ...ok, username: 'root', password: db.rootPassword, database: 'no_such_db' };
    const err = await rejection(probeMysql(asRoot, { timeoutMs: 5000 }));
    t.equal((err as ProbeError).reason, 'database', err.message);
    t.equal((err as ProbeError).permanent, true);
    t.match(err.message, /Unknown database 'no_such_db'/);
  });

  t.test('a database the user may not use: refused for good, and the wait says what to fix', async (t) => {
    const err = await rejection(waitForTargets([{ ...ok, database: 'mysql' }], { deadline: deadlineIn(20_000), log: silentLogger }));
    t.ok(err instanceof UnavailableError, err.message);
    t.match(err.message, /database refused at 127\.0\.0\.1:\d+ \(Access denied for user 'keystone'@.* to database 'mysql'\)/);
    t.match(err.message, /grant the user access/);
  });
}
