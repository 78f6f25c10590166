// src/wait/mysql.ts and src/dependencies/mysql/ (and their place in wait.ts and probe.ts)
// against the real MariaDB of test/services/mariadb.sh and small hostile listeners: ready, a
// wrong password and an unknown database ending the wait at once without the password in any
// line, a closed port and a silent peer retried within their bounds (the silent one named as a
// connection made that said nothing); authentication plugins mysql2 lacks refused at once,
// foreign and malformed greetings, packets out of sequence, absurd capability sets.
import t from 'tap';
import net from 'node:net';
import { type Peer, closedPort, rejection, scriptedPeer } from '../helpers/net.ts';
import { requireMysql } from '../helpers/services.ts';
import { probeMysql } from '../../src/wait/mysql.ts';
import { permanentRefusal } from '../../src/dependencies/mysql/connect.ts';
import { checkTargets, waitForTargets } from '../../src/wait/wait.ts';
import { ProbeError, REASON_HINT } from '../../src/dependencies/classify.ts';
import { authSwitch, eofPacket, greeting, okPacket, packet, resultHead, row } from '../helpers/mysql-peer.ts';
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
  t.equal((silent as ProbeError).reason, 'no-answer', silent.message);
  t.equal(silent.message, `no answer at 127.0.0.1:${port}: connected, but no MySQL greeting came within 400 ms`, 'the connection was made, and the line says so');
  t.notMatch(REASON_HINT['no-answer'], /reachable|firewall/, 'the hint does not send the operator to the network');
  t.ok(Date.now() - started < 3000, 'bounded by the attempt');
});

t.test('hostile and odd servers on raw sockets (test/helpers/mysql-peer.ts)', async (t) => {
  const probe = async (peer: Peer, timeoutMs = 3000): Promise<ProbeError> => {
    const err = await rejection(probeMysql(target({ host: '127.0.0.1', port: peer.port }), { timeoutMs }));
    t.ok(err instanceof ProbeError, err.message);
    return err as ProbeError;
  };
  /** A greeting, then `answer` to the client's login. */
  const afterLogin = (answer: Buffer, greet = greeting()) =>
    scriptedPeer(t, async (s, next) => {
      s.write(greet);
      await next();
      s.write(answer);
      await next();
    });

  t.test('an authentication plugin mysql2 lacks ends the wait at once, naming it', async (t) => {
    for (const plugin of ['dialog', 'auth_gssapi_client']) {
      const peer = await afterLogin(authSwitch(2, plugin));
      const started = Date.now();
      const err = await rejection(waitForTargets([target({ host: '127.0.0.1', port: peer.port })], { deadline: deadlineIn(20_000), log: silentLogger }));
      t.comment(`${plugin}: refused after ${Date.now() - started} ms`);
      t.ok(err instanceof UnavailableError, err.message);
      t.equal(peer.connections(), 1, `${plugin}: one attempt, not retried until the deadline`);
      t.match(
        err.message,
        `unsupported authentication plugin at ${peer.address}: the server asks for the authentication plugin "${plugin}", which mysql2 (the agent's MySQL client) does not speak; let the database user log in with a plugin both the agent and the service speak: mysql_native_password or caching_sha2_password`,
      );
      t.notMatch(err.message, /TODO/, "not the driver's placeholder");
      t.notOk(err.message.includes('\n'), 'one line');
    }
    const clear = await probe(await afterLogin(authSwitch(2, 'mysql_clear_password')));
    t.equal(clear.reason, 'auth-plugin');
    t.equal(clear.permanent, true);
    t.match(clear.message, /"mysql_clear_password" \(the password in clear text, over a connection without TLS\), which the agent does not send/);
    const odd = await probe(await afterLogin(authSwitch(2, `x\n\x1b[1m${'p'.repeat(500)}`)));
    t.match(odd.message, /the authentication plugin "x \[1mp+\.\.\."/, "the server's name for it on one line, cut");
  });

  t.test('a greeting of protocol 9, a banner, a malformed greeting: protocol mismatch, at once', async (t) => {
    const v9 = await scriptedPeer(t, (s) => void s.write(greeting({ protocol: 9 })));
    const nine = await probe(v9);
    t.equal(nine.reason, 'protocol');
    t.equal(nine.message, `protocol mismatch at ${v9.address}: the server greets with MySQL protocol 9 (MySQL before 3.22); MySQL and MariaDB clients speak protocol 10 only`);
    const ssh = await scriptedPeer(t, (s) => void s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    t.equal((await probe(ssh)).message, `protocol mismatch at ${ssh.address}: not a MySQL server (it sent "SSH-2.0-OpenSSH_")`);
    const short = await scriptedPeer(t, (s) => void s.write(packet(0, Buffer.from([10, 0x41, 0x41]))));
    const malformed = await probe(short);
    t.equal(malformed.reason, 'protocol');
    t.match(malformed.message, /^protocol mismatch at 127\.0\.0\.1:\d+: malformed MySQL packet \(/);
  });

  t.test('a packet out of sequence is refused before mysql2 sees it (it would print a line of its own)', async (t) => {
    const err = await probe(await afterLogin(okPacket(7)));
    t.match(err.message, /protocol mismatch at 127\.0\.0\.1:\d+: MySQL packet out of sequence \(number 7, expected 2\)/);
  });

  t.test('absurd capability sets (all bits, none) with an otherwise well-behaved server: ready', async (t) => {
    for (const capabilities of [0xffffffff, 0]) {
      const peer = await scriptedPeer(t, async (s, next) => {
        s.write(greeting({ capabilities }));
        await next();
        s.write(okPacket(2));
        await next();
        s.write(Buffer.concat([resultHead(), row(4, '1'), eofPacket(5)]));
        await next();
      });
      await probeMysql(target({ host: '127.0.0.1', port: peer.port }), { timeoutMs: 3000 });
      t.pass(`capabilities 0x${capabilities.toString(16)}: ready`);
    }
  });

  t.test('a server that greets and then says nothing: no answer, not a network problem', async (t) => {
    const err = await probe(await scriptedPeer(t, (s) => void s.write(greeting())), 400);
    t.equal(err.reason, 'no-answer');
    t.match(err.message, /connected and greeted, then the server stopped answering \(login or query; 400 ms\)/);
  });
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
