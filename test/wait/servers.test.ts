// src/wait/wait.ts and src/wait/mongodb.ts against real and hostile servers.
// The wait against real servers (FerretDB and RabbitMQ with AMQP 1.0 from test/services/start.sh;
// amqp:// URLs, so the broker is checked over AMQP 0-9-1) and against small hostile listeners
// written here: one that accepts and never answers, one that resets on accept, one that answers
// with the AMQP 0-9-1 header.
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { closedPort, rejection } from '../helpers/net.ts';
import { requireServices } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { checkTargets, waitForTargets } from '../../src/wait/wait.ts';
import { UnavailableError } from '../../src/common/errors.ts';
import { createLogger, silentLogger } from '../../src/common/log.ts';
import { splitHostPort } from '../../src/common/net.ts';
import type { AmqpTarget, MongoTarget } from '../../src/common/targets.ts';
import { brokerFromConf, brokerUrl, mongoFromConf } from '../helpers/targets.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import { unavailable } from '../helpers/unavailable.ts';

const services = requireServices(t, 'the wait tests against FerretDB and RabbitMQ');

const hp = (address: string): { host: string; port: number } => {
  const r = splitHostPort(address);
  if (!r || r.port === undefined) throw new Error(`bad address ${address}`);
  return { host: r.host, port: r.port };
};
const mongo = (addresses: string[]): MongoTarget => mongoFromConf(addresses.join(','));
const amqp = (address: string, auth?: { username: string; password: string }): AmqpTarget => brokerFromConf(brokerUrl(address, auth));

async function listen(onConnection: (s: net.Socket) => void): Promise<{ address: string; server: net.Server }> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  t.teardown(() => {
    for (const s of sockets) s.destroy();
  });
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, server };
}

if (services) {
  const s = services;

  t.test('both ready: FerretDB ping, RabbitMQ AMQP 0-9-1 open (guest default and the test user)', async (t) => {
    const results = await waitForTargets(
      [mongo([s.mongodb]), amqp(s.amqp), amqp(s.amqp, { username: s.amqpUser, password: s.amqpPassword })],
      { deadline: deadlineIn(20000), log: silentLogger },
    );
    t.same(
      results.map((r) => [r.kind, r.ready, r.attempts]),
      [
        ['mongodb', true, 1],
        ['amqp', true, 1],
        ['amqp', true, 1],
      ],
    );
    const checked = await checkTargets([mongo([s.mongodb]), amqp(s.amqp)], { timeoutMs: 5000, log: silentLogger });
    t.ok(checked.every((r) => r.ready));
  });

  t.test('IPv6 loopback', async (t) => {
    if (!s.mongodbIpv6 || !s.amqpIpv6) return unavailable(t, 'the IPv6 loopback test servers (test/services/start.sh listens on ::1 when the machine has it)');
    const results = await waitForTargets([mongo([s.mongodbIpv6 ?? '']), amqp(s.amqpIpv6 ?? '')], { deadline: deadlineIn(20000), log: silentLogger });
    t.ok(results.every((r) => r.ready));
    t.match(results[0]?.address, /^\[::1\]:\d+$/);
  });

  t.test('seeds without a replica set: ready when only the second answers', async (t) => {
    const closed = `127.0.0.1:${await closedPort()}`;
    const results = await checkTargets([mongo([closed, s.mongodb])], { timeoutMs: 5000, log: silentLogger });
    t.equal(results[0]?.ready, true);
  });

  t.test('dependencies started in the middle of a wait', async (t) => {
    if (!s.ferretdbBin) return unavailable(t, 'a FerretDB of its own: PULP_TEST_FERRETDB_BIN is not set (test/services/start.sh sets it)');
    const mongoPort = await closedPort();
    const amqpPort = await closedPort();
    const dir = tempDir(t, 'pe-wait-ferret-');
    let ferret: ReturnType<typeof spawn> | undefined;
    let proxy: net.Server | undefined;
    t.teardown(() => {
      // Before the dir goes: teardowns run last first.
      ferret?.kill('SIGKILL');
      proxy?.close();
    });
    setTimeout(() => {
      // A fresh FerretDB process, and a TCP relay to the real RabbitMQ that only now listens.
      ferret = spawn(
        s.ferretdbBin ?? 'ferretdb',
        ['--handler=sqlite', `--sqlite-url=file:${dir}/`, `--state-dir=${dir}`, `--listen-addr=127.0.0.1:${mongoPort}`, '--debug-addr=127.0.0.1:0', '--telemetry=disable', '--log-level=ERROR'],
        { stdio: 'ignore' },
      );
      const upstream = hp(s.amqp);
      proxy = net.createServer((c) => {
        const u = net.connect(upstream.port, upstream.host);
        c.pipe(u).pipe(c);
        c.on('error', () => u.destroy());
        u.on('error', () => c.destroy());
      });
      proxy.listen(amqpPort, '127.0.0.1');
    }, 1000);
    const lines: string[] = [];
    const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) });
    const results = await waitForTargets([mongo([`127.0.0.1:${mongoPort}`]), amqp(`127.0.0.1:${amqpPort}`)], { deadline: deadlineIn(20000), log });
    t.ok(results.every((r) => r.ready));
    t.ok(results.every((r) => r.attempts > 1), `attempts: ${results.map((r) => r.attempts).join(', ')}`);
    t.ok(lines.some((l) => /waiting for mongodb at 127\.0\.0\.1:\d+: connection refused .*; retrying for up to [\d.]+ s \(PULP_WAIT_TIMEOUT\)/.test(l)));
    t.ok(lines.some((l) => /amqp at 127\.0\.0\.1:\d+ \(\[tasks\] broker_url\) ready after [\d.]+ s \(\d+ attempts\)/.test(l)));
  });

  t.test('never up: the deadline is honoured and every dependency is named', async (t) => {
    const m = `127.0.0.1:${await closedPort()}`;
    const a = `127.0.0.1:${await closedPort()}`;
    const started = performance.now();
    const lines: string[] = [];
    const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) });
    const err = await rejection(waitForTargets([mongo([m]), amqp(a)], { deadline: deadlineIn(2000), log }));
    const took = performance.now() - started;
    t.ok(err instanceof UnavailableError);
    t.equal((err as UnavailableError).exitCode, 69);
    t.ok(took >= 1900 && took < 3500, `returned after ${Math.round(took)} ms for a 2 s deadline`);
    t.equal(err.message, `not ready after 2 s: mongodb at ${m}: connection refused; amqp at ${a} ([tasks] broker_url): connection refused; the limit is PULP_WAIT_TIMEOUT`);
    const errors = lines.filter((l) => l.includes(': error: '));
    t.equal(errors.length, 2, 'one error line per dependency');
    t.match(errors.join(''), new RegExp(`mongodb at ${m} not ready after [\\d.]+ s \\(\\d+ attempts\\): connection refused .*\\(is the server running and listening on that port\\?\\)`));
    t.ok(lines.length <= 4, `a handful of lines, not one per attempt: ${lines.length}`);
  });

  t.test('listeners that accept and never answer: both kinds time out within the deadline', async (t) => {
    const silent = await listen(() => {});
    const started = performance.now();
    const err = await rejection(waitForTargets([mongo([silent.address]), amqp(silent.address)], { deadline: deadlineIn(2000), log: silentLogger }));
    const took = performance.now() - started;
    t.ok(took < 3500, `returned after ${Math.round(took)} ms for a 2 s deadline`);
    t.match(err.message, /mongodb at 127\.0\.0\.1:\d+: (timed out|no answer).*amqp at 127\.0\.0\.1:\d+ .*: (timed out|no answer)/);
  });

  t.test('a listener that resets on accept', async (t) => {
    const reset = await listen((c) => c.resetAndDestroy());
    const results = await rejection(checkTargets([mongo([reset.address]), amqp(reset.address)], { timeoutMs: 1500, log: silentLogger }));
    t.match(results.message, /^not ready: mongodb at 127\.0\.0\.1:\d+: connection reset; amqp at .*: connection reset; one attempt each, limited by 1\.5 s$/);
  });

  t.test('a listener answering with the AMQP 0-9-1 header behind qpid://', async (t) => {
    const old = await listen((c) =>
      c.once('data', () => {
        c.end(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
      }),
    );
    const lines: string[] = [];
    const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) });
    await rejection(checkTargets([brokerFromConf(`qpid://${old.address}/`)], { timeoutMs: 1500, log }));
    t.match(lines.join(''), /protocol mismatch at 127\.0\.0\.1:\d+: the broker speaks AMQP 0-9-1 only \(RabbitMQ\), but qpid:\/\/ makes Pulp speak AMQP 0-10 \(python-qpid\); for RabbitMQ set \[tasks\] broker_url to amqp:\/\//);
  });

  t.test('wrong password: fails fast, names user and address, never shows the password (text and JSON logs)', async (t) => {
    const password = `wrong-${Date.now()}-pw`;
    for (const format of ['text', 'json'] as const) {
      const lines: string[] = [];
      const log = createLogger({ format, trace: false, write: (l) => lines.push(l) });
      const started = performance.now();
      const err = await rejection(
        waitForTargets([mongo([s.mongodb]), amqp(s.amqp, { username: s.amqpUser, password })], { deadline: deadlineIn(30000), log }),
      );
      const took = performance.now() - started;
      t.ok(took < 15000, `${format}: gave up after ${Math.round(took)} ms, long before the 30 s deadline`);
      t.equal(err.message, `authentication failed for user ${s.amqpUser} at ${s.amqp}; check the user and password in [tasks] broker_url`);
      t.notOk(err.message.includes(password));
      t.notOk(lines.some((l) => l.includes(password)), `${format}: no log line holds the password`);
      if (format === 'json') {
        const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        t.ok(recs.every((r) => typeof r.time === 'string' && typeof r.level === 'string' && typeof r.msg === 'string'));
        t.match(
          recs.find((r) => r.dependency === 'amqp'),
          { level: 'error', address: s.amqp, ready: false, attempts: 1, reason: 'auth' },
        );
        // RabbitMQ refuses an AMQP 0-9-1 login at once, often before FerretDB's ping returns:
        // then the MongoDB wait is cut short, and its record says so in the same fields.
        t.match(
          recs.find((r) => r.dependency === 'mongodb'),
          { address: s.mongodb, ready: Boolean, attempts: 1, elapsed_ms: Number },
        );
      }
    }
  });
}
