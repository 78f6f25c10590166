// src/wait/amqp.ts and amqp091.ts (with src/wait/wait.ts) against real brokers.
// The broker check speaks what Pulp's client speaks, against real brokers from
// test/services/start.sh: RabbitMQ with no plugins (AMQP 0-9-1 only, Pulp's documented set-up),
// RabbitMQ with its AMQP 1.0 plugin, and Qpid Broker-J (PLAIN and ANONYMOUS); plus small
// listeners written here for a Qpid that answers only with the AMQP 0-10 header (qpidd
// without its AMQP 1.0 module, which Debian does not package) and an AMQP 1.0-only peer.
import t from 'tap';
import net from 'node:net';
import { UnavailableError } from '../../src/common/errors.ts';
import { createLogger, silentLogger } from '../../src/common/log.ts';
import type { AmqpTarget } from '../../src/common/targets.ts';
import { checkTargets, waitForTargets } from '../../src/wait/wait.ts';
import { cli } from '../helpers/cli.ts';
import { closedPort, rejection } from '../helpers/net.ts';
import { requireBrokers } from '../helpers/services.ts';
import { brokerFromConf } from '../helpers/targets.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { deadlineIn } from '../../src/common/retry.ts';

const b = requireBrokers(t, 'the broker checks against RabbitMQ (0-9-1 only and with AMQP 1.0) and Qpid Broker-J');

const url = (scheme: string, address: string, auth?: { username: string; password: string }, path = '/'): string =>
  `${scheme}://${auth ? `${encodeURIComponent(auth.username)}:${encodeURIComponent(auth.password)}@` : ''}${address}${path}`;

/** A listener that answers the first bytes it gets with `reply` and keeps the connection. */
async function answering(reply: string): Promise<string> {
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.once('data', () => c.write(Buffer.from(reply, 'latin1')));
    t.teardown(() => c.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** One check with a log that keeps its lines: the lines of the dependencies not ready say why. */
async function checkLogged(targets: AmqpTarget[], timeoutMs: number): Promise<{ lines: string; error: Error }> {
  const lines: string[] = [];
  const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) });
  const error = await rejection(checkTargets(targets, { timeoutMs, log }));
  return { lines: lines.join(''), error };
}

/** Waits with a log that keeps its lines; returns the lines and the outcome. */
async function waitLogged(targets: AmqpTarget[], deadlineMs: number): Promise<{ lines: string[]; error?: Error; tookMs: number }> {
  const lines: string[] = [];
  const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) });
  const started = performance.now();
  try {
    await waitForTargets(targets, { deadline: deadlineIn(deadlineMs), log });
    return { lines, tookMs: performance.now() - started };
  } catch (err) {
    return { lines, error: err as Error, tookMs: performance.now() - started };
  }
}

if (b) {
  const user = { username: b.amqpUser, password: b.amqpPassword };

  t.test('RabbitMQ without plugins: amqp:// opens AMQP 0-9-1 as Pulp logs in (user, guest default, vhosts, kombu aliases)', async (t) => {
    const targets = [
      brokerFromConf(url('amqp', b.amqp091, user)),
      // Pulp's documented URL: guest/guest, "//" is the vhost "/".
      brokerFromConf(`amqp://${b.amqp091}//`),
      brokerFromConf(`amqp://guest:guest@${b.amqp091}//`),
      brokerFromConf(url('amqp', b.amqp091, user, '/pulp-test')),
      brokerFromConf(url('pyamqp', b.amqp091, user)),
    ];
    t.same(targets.map((x) => x.protocol), Array(5).fill('amqp-0-9-1'));
    const results = await waitForTargets(targets, { deadline: deadlineIn(20000), log: silentLogger });
    t.same(results.map((r) => [r.ready, r.attempts, r.note]), Array(5).fill([true, 1, undefined]));
    const checked = await checkTargets(targets.slice(0, 1), { timeoutMs: 5000, log: silentLogger });
    t.equal(checked[0]?.ready, true);
  });

  t.test('RabbitMQ without plugins: a wrong password is one permanent line, at once, without the password', async (t) => {
    const password = `wrong-${Date.now()}-pw`;
    const { lines, error, tookMs } = await waitLogged([brokerFromConf(url('amqp', b.amqp091, { username: b.amqpUser, password }))], 30000);
    t.ok(error instanceof UnavailableError && error.exitCode === 69);
    t.equal(error?.message, `authentication failed for user ${b.amqpUser} at ${b.amqp091}; check the user and password in [tasks] broker_url`);
    t.ok(tookMs < 3000, `gave up after ${Math.round(tookMs)} ms of a 30 s deadline`);
    t.notOk([error?.message ?? '', ...lines].some((l) => l.includes(password)), 'the password is in no line');
    t.equal(lines.filter((l) => l.includes('giving up')).length, 1);
  });

  t.test('RabbitMQ without plugins: a vhost that does not exist is one permanent line', async (t) => {
    const { error, tookMs, lines } = await waitLogged([brokerFromConf(url('amqp', b.amqp091, user, '/no-such-vhost'))], 30000);
    t.equal(
      error?.message,
      `the broker at ${b.amqp091} refused vhost "no-such-vhost" for user ${b.amqpUser}: it does not exist or the user has no permissions on it; create the vhost or give the user permissions on it (rabbitmqctl add_vhost, set_permissions), or fix the path of [tasks] broker_url ("//" is the vhost "/")`,
    );
    t.ok(tookMs < 3000, `gave up after ${Math.round(tookMs)} ms`);
    t.notOk(lines.some((l) => l.includes(b.amqpPassword)));
  });

  t.test('RabbitMQ without plugins behind qpid://: a real mismatch, naming amqp://', async (t) => {
    const err = await checkLogged([brokerFromConf(url('qpid', b.amqp091, user))], 3000);
    t.match(err.error.message, /: protocol mismatch; one attempt each/);
    t.match(
      err.lines,
      `protocol mismatch at ${b.amqp091}: the broker speaks AMQP 0-9-1 only (RabbitMQ), but qpid:// makes Pulp speak AMQP 0-10 (python-qpid); for RabbitMQ set [tasks] broker_url to amqp://... (PULP_BROKER_SCHEME=amqp)`,
    );
    t.notOk(err.lines.includes(b.amqpPassword));
  });

  t.test('TLS as py-amqp does it: amqps:// alone checks no certificate; celery_require_ssl checks the chain, not the name', async (t) => {
    const ready = await checkTargets(
      [
        brokerFromConf(url('amqps', b.amqps, user)),
        // The certificate names "localhost", not 127.0.0.1: py-amqp's ssl.wrap_socket never checks names.
        brokerFromConf(url('amqp', b.amqps, user), { celery_require_ssl: 'true', cacert: b.amqpsCa }),
      ],
      { timeoutMs: 5000, log: silentLogger },
    );
    t.same(ready.map((r) => r.ready), [true, true]);
    const err = await checkLogged([brokerFromConf(url('amqp', b.amqps, user), { celery_require_ssl: 'true' })], 5000);
    t.match(err.lines, new RegExp(`amqp at ${b.amqps.replace(/\./g, '\\.')} .* not ready .*: TLS failed at .*\\(check the TLS settings and certificates\\)`), 'a CA Pulp would not trust either');
    t.match(err.error.message, /: TLS failed; one attempt each/);
    const plain = await checkLogged([brokerFromConf(url('amqps', b.amqp091, user))], 3000);
    t.match(plain.error.message, /TLS failed|protocol mismatch|connection reset/, 'amqps:// to a plain port fails');
    t.notOk([err.lines, plain.lines].some((m) => m.includes(b.amqpPassword)));
  });

  t.test('RabbitMQ with the AMQP 1.0 plugin: amqp:// still opens 0-9-1; qpid:// is refused, as python-qpid cannot use RabbitMQ', async (t) => {
    const ok = await checkTargets([brokerFromConf(url('amqp', b.amqp, user))], { timeoutMs: 5000, log: silentLogger });
    t.equal(ok[0]?.ready, true);
    const err = await checkLogged([brokerFromConf(url('qpid', b.amqp, user))], 5000);
    t.match(err.lines, `protocol mismatch at ${b.amqp}: RabbitMQ answered (through its AMQP 1.0 plugin), but qpid:// makes Pulp speak AMQP 0-10 (python-qpid), which RabbitMQ does not; for RabbitMQ set [tasks] broker_url to amqp://`);
  });

  t.test('Qpid Broker-J: qpid:// opens with SASL PLAIN and with ANONYMOUS', async (t) => {
    const targets = [brokerFromConf(url('qpid', b.qpid, { username: b.qpidUser, password: b.qpidPassword })), brokerFromConf(`qpid://${b.qpidAnonymous}/`)];
    t.same(targets.map((x) => x.protocol), ['amqp-0-10', 'amqp-0-10']);
    const results = await waitForTargets(targets, { deadline: deadlineIn(20000), log: silentLogger });
    t.same(results.map((r) => [r.ready, r.attempts, r.note]), [
      [true, 1, undefined],
      [true, 1, undefined],
    ]);
  });

  t.test('Qpid Broker-J: a wrong password is one permanent line without the password', async (t) => {
    const password = `wrong-${Date.now()}-qpid`;
    const { error, lines, tookMs } = await waitLogged([brokerFromConf(url('qpid', b.qpid, { username: b.qpidUser, password }))], 30000);
    t.equal(error?.message, `authentication failed for user ${b.qpidUser} at ${b.qpid}; check the user and password in [tasks] broker_url`);
    t.ok(tookMs < 10000, `gave up after ${Math.round(tookMs)} ms`);
    t.notOk([error?.message ?? '', ...lines].some((l) => l.includes(password)));
  });

  t.test('a Qpid answering only with the AMQP 0-10 header: live behind qpid://, saying only liveness was checked', async (t) => {
    const qpidd = await answering('AMQP\x01\x01\x00\x0a');
    const { lines, error } = await waitLogged([brokerFromConf(`qpid://pulp:secret-0-10@${qpidd}/`)], 5000);
    t.equal(error, undefined);
    const ready = lines.filter((l) => l.includes('ready after'));
    t.equal(ready.length, 1);
    t.match(ready[0], /amqp at 127\.0\.0\.1:\d+ \(\[tasks\] broker_url\) ready after [\d.]+ s \(1 attempt\); only liveness was checked: the broker answered with the AMQP 0-10 header/);
    t.notOk(lines.some((l) => l.includes('secret-0-10')));
    const checked = await checkTargets([brokerFromConf(`qpid://${qpidd}/`)], { timeoutMs: 2000, log: silentLogger });
    t.match(checked[0]?.note, /^only liveness was checked/);
  });

  t.test('behind amqp://, a Qpid answering 0-10 and an AMQP 1.0-only peer are mismatches that say what to use', async (t) => {
    const qpidd = await answering('AMQP\x01\x01\x00\x0a');
    const amqp10 = await answering('AMQP\x00\x01\x00\x00');
    const web = await answering('HTTP/1.1 400 Bad Request\r\n\r\n');
    const { lines, error: err } = await checkLogged([brokerFromConf(`amqp://${qpidd}//`), brokerFromConf(`amqp://${amqp10}//`), brokerFromConf(`amqp://${web}//`)], 2000);
    t.match(lines, `protocol mismatch at ${qpidd}: the broker speaks AMQP 0-10 (Qpid), but amqp:// makes Pulp speak AMQP 0-9-1 (kombu's py-amqp); for Qpid set [tasks] broker_url to qpid://... (PULP_BROKER_SCHEME=qpid)`);
    t.match(lines, `protocol mismatch at ${amqp10}: the broker speaks AMQP 1.0 only`);
    t.match(lines, `protocol mismatch at ${web}: not an AMQP server (it sent "HTTP/1.1 400 Bad")`);
    t.equal(lines.trimEnd().split('\n').length, 3, 'one line per dependency');
    t.match(err.message, /^not ready: (amqp at \S+ \(\[tasks\] broker_url\): protocol mismatch(; )?){3}; one attempt each/);
    t.notMatch(err.message, /\n/);
  });

  t.test("bin/pulp-entrypoint with Pulp's documented RabbitMQ set-up: ready at once; [messaging] url is not waited for", async (t) => {
    // The issue's report: amqp://guest:guest@host//, no AMQP 1.0 plugin, transport rabbitmq.
    // [messaging] url points at a closed port: the Celery roles never connect there at start.
    const conf = confCopy(tempDir(t, 'pe-brokers-'));
    const closed = await closedPort();
    const env = {
      PULP_SERVER_CONF: conf,
      DB_SERVICE_HOST: b.mongodb.split(':')[0],
      DB_SERVICE_PORT: b.mongodb.split(':')[1],
      PULP_CONF__TASKS__BROKER_URL: `amqp://guest:guest@${b.amqp091}//`,
      PULP_CONF__MESSAGING__URL: `tcp://127.0.0.1:${closed}`,
      PULP_CONF__MESSAGING__TRANSPORT: 'rabbitmq',
    };
    const started = Date.now();
    const r = cli(['wait', '--timeout', '10'], env);
    t.equal(r.status, 0, r.stderr);
    t.ok(Date.now() - started < 5000, `ready after ${Date.now() - started} ms`);
    t.match(r.stderr, new RegExp(`amqp at ${b.amqp091.replace(/\./g, '\\.')} \\(\\[tasks\\] broker_url\\) ready after`));
    t.notMatch(r.stderr, new RegExp(String(closed)), 'nothing waited on [messaging] url');

    const wrong = cli(['check'], { ...env, PULP_CONF__TASKS__BROKER_URL: `amqp://guest:not-the-password@${b.amqp091}//` });
    t.equal(wrong.status, 69);
    const lines = wrong.stderr.trimEnd().split('\n');
    const last = lines.at(-1) ?? '';
    const detail = lines.find((l) => l.includes('error: amqp at')) ?? '';
    t.match(detail, new RegExp(`^pulp-entrypoint: error: amqp at .* not ready after .*: authentication failed for user guest at ${b.amqp091.replace(/\./g, '\\.')} \\(check the user and password in \\[tasks\\] broker_url\\)`));
    t.match(last, /^pulp-entrypoint: error: not ready: amqp at .*: authentication failed; one attempt each, limited by the default 5 s \(--timeout sets it\)$/);
    t.notMatch(wrong.stderr, /not-the-password|\n\s+at /, 'no password, no stack trace');

    const vhost = cli(['wait', '--timeout', '10'], { ...env, PULP_CONF__TASKS__BROKER_URL: url('amqp', b.amqp091, user, '/missing') });
    t.equal(vhost.status, 69);
    t.match(
      vhost.stderr.trimEnd().split('\n').pop(),
      new RegExp(`^pulp-entrypoint: error: the broker at \\S+ refused vhost "missing" for user ${b.amqpUser}: it does not exist or the user has no permissions on it; create the vhost`),
    );
    t.notOk(vhost.stderr.includes(b.amqpPassword));

    const qpid = cli(['check'], { ...env, PULP_CONF__TASKS__BROKER_URL: url('qpid', b.qpid, { username: b.qpidUser, password: b.qpidPassword }) });
    t.equal(qpid.status, 0, qpid.stderr);
    t.notOk(qpid.stderr.includes(b.qpidPassword));
  });
}
