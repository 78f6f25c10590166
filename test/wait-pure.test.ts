// The wait's pure parts: backoff schedule, failure classification, header recognition, the
// final message, and the loop's control flow with stand-in probes (no servers, no sockets).
import t from 'tap';
import { attemptsPerMinuteAtCap, backoffDelay, DEFAULT_BACKOFF } from '../src/wait/backoff.ts';
import { classifyFacts, errorFacts, ProbeError, toProbeError } from '../src/wait/classify.ts';
import { describeForeignHeader } from '../src/wait/amqp.ts';
import { mongoClientOptions } from '../src/wait/mongodb.ts';
import { checkTargets, waitForTargets } from '../src/wait/wait.ts';
import { UnavailableError } from '../src/errors.ts';
import { createLogger, silentLogger } from '../src/log.ts';
import type { AmqpTarget, MongoTarget, Target } from '../src/targets.ts';
import { brokerFromConf, brokerUrl, mongoFromConf } from './helpers/targets.ts';

const mongo = (database: Record<string, string> = {}): MongoTarget => mongoFromConf('db:27017', database);
const amqp = (auth?: { username: string; password?: string }): AmqpTarget => brokerFromConf(brokerUrl('msg:5672', auth));

t.test('backoff: grows, jitters within half the ceiling, never exceeds the cap', async (t) => {
  t.equal(backoffDelay(1, 0), 13);
  t.equal(backoffDelay(1, 0.999), 25);
  t.equal(backoffDelay(2, 0), 25);
  t.equal(backoffDelay(3, 0.5), 75);
  const out: string[] = [];
  for (let n = 1; n < 200; n++) {
    for (const r of [0, 0.3, 0.999]) {
      const d = backoffDelay(n, r);
      if (!(d <= DEFAULT_BACKOFF.capMs && d >= 0)) out.push(`attempt ${n} r=${r}: ${d} ms`);
    }
  }
  t.same(out, [], 'every delay within 0..cap');
  t.equal(backoffDelay(50, 0), DEFAULT_BACKOFF.capMs / 2, 'at the cap the floor is half the cap');
  t.equal(backoffDelay(1e9, 1), DEFAULT_BACKOFF.capMs);
  const rate = attemptsPerMinuteAtCap(1);
  t.ok(rate.min > 200 && rate.max < 500, `attempts/min at the cap: ${rate.min.toFixed(0)}..${rate.max.toFixed(0)}`);
});

t.test('classifier: each reason from the facts drivers give', async (t) => {
  const f = (codes: string[], names: string[] = [], messages: string[] = [], serverCodes: number[] = []) => classifyFacts({ codes, names, messages, serverCodes });
  t.equal(f(['ECONNREFUSED']), 'refused');
  t.equal(f(['ECONNRESET']), 'reset');
  t.equal(f(['EPIPE']), 'reset');
  t.equal(f(['ENOTFOUND']), 'dns');
  t.equal(f(['EAI_AGAIN']), 'dns');
  t.equal(f(['ETIMEDOUT']), 'timeout');
  t.equal(f(['EHOSTUNREACH']), 'unreachable');
  t.equal(f([], ['MongoNetworkTimeoutError'], ['connection timed out']), 'timeout');
  t.equal(f([], ['MongoServerSelectionError'], ['Server selection timed out after 500 ms']), 'timeout');
  t.equal(f([], ['MongoServerError'], ['Authentication failed.'], [18]), 'auth');
  t.equal(f(['DEPTH_ZERO_SELF_SIGNED_CERT'], [], ['self-signed certificate']), 'tls');
  t.equal(f(['ERR_SSL_WRONG_VERSION_NUMBER']), 'tls');
  t.equal(f([], ['MongoNetworkError'], ['connection 1 to 127.0.0.1:1 closed']), 'reset');
  t.equal(f([], ['Error'], ['something odd']), 'error');
  // Facts come from the whole chain: cause, AggregateError members.
  const nested = new Error('outer', { cause: Object.assign(new Error('connect ECONNREFUSED 1.2.3.4:5'), { code: 'ECONNREFUSED' }) });
  t.same(errorFacts(nested).codes, ['ECONNREFUSED']);
  const pe = toProbeError(new AggregateError([nested]), 'h:1');
  t.equal(pe.reason, 'refused');
  t.match(pe.message, /^connection refused at h:1 \(connect ECONNREFUSED 1\.2\.3\.4:5\)$/);
  t.notOk(pe.permanent);
  t.ok(toProbeError(Object.assign(new Error('Authentication failed.'), { code: 18 }), 'h:1').permanent, 'auth is permanent');
});

t.test('AMQP header recognition', async (t) => {
  const h = (s: string) => describeForeignHeader(Buffer.from(s, 'latin1'), 'msg:5672');
  t.equal(h('AMQP\x03\x01\x00\x00'), undefined, 'SASL layer');
  t.equal(h('AMQP\x00\x01\x00\x00'), undefined, 'plain AMQP 1.0');
  t.equal(h('AMQP\x02\x01\x00\x00'), undefined, 'TLS layer');
  t.equal(h('AMQ'), undefined, 'too short to tell');
  t.match(h('AMQP\x00\x00\x09\x01')?.message, /AMQP 0-9-1 only.*rabbitmq-plugins enable rabbitmq_amqp1_0/);
  t.equal(h('AMQP\x00\x00\x09\x01')?.reason, 'protocol');
  t.match(h('AMQP\x01\x01\x00\x0a')?.message, /AMQP header 1\.1\.0\.10, not AMQP 1\.0/);
  t.match(h('HTTP/1.1 400 Bad Request')?.message, /not an AMQP server \(it sent "HTTP\/1\.1 400 Bad"\)/);
});

t.test('mongo options: direct connection without a replica set, auth against the Pulp database', async (t) => {
  const o = mongoClientOptions(mongo({ username: 'pulp', password: 'pw-1' }), 1000);
  t.equal(o.directConnection, true);
  t.equal(o.authSource, 'pulp_database');
  t.same(o.auth, { username: 'pulp', password: 'pw-1' });
  t.equal(o.serverSelectionTimeoutMS, 1000);
  t.ok((o.connectTimeoutMS ?? 0) < 1000);
  const rs = mongoClientOptions(mongo({ replica_set: 'rs0', ssl: 'true', verify_ssl: 'false' }), 1000);
  t.equal(rs.directConnection, false);
  t.equal(rs.replicaSet, 'rs0');
  t.equal(rs.tls, true);
  t.equal(rs.tlsAllowInvalidCertificates, true);
  t.equal(rs.auth, undefined);
});

t.test('loop with stand-in probes', async (t) => {
  t.test('ready on the third attempt; one line per failed attempt and one final line', async (t) => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', trace: false, write: (l) => lines.push(l) });
    let n = 0;
    const results = await waitForTargets([mongo()], { deadlineMs: 5000, log, random: () => 0 }, async () => {
      if (++n < 3) throw Object.assign(new Error('connect ECONNREFUSED db:27017'), { code: 'ECONNREFUSED' });
    });
    t.equal(results[0]?.ready, true);
    t.equal(results[0]?.attempts, 3);
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    t.equal(recs.length, 3);
    t.match(recs[0], { level: 'info', dependency: 'mongodb', address: 'db:27017', attempt: 1, reason: 'refused', next_delay_ms: 13 });
    t.match(recs[1], { attempt: 2, next_delay_ms: 25 });
    t.match(recs[2], { level: 'info', ready: true, attempts: 3, msg: /^mongodb at db:27017 ready after .* \(3 attempts\)$/ });
  });

  t.test('a permanent failure stops every wait at once', async (t) => {
    const started = Date.now();
    let other = 0;
    const err = await waitForTargets([mongo(), amqp({ username: 'pulp' })], { deadlineMs: 20000, log: silentLogger }, async (target) => {
      if (target.kind === 'amqp') throw new ProbeError('auth', 'authentication failed for user pulp at msg:5672', true);
      other++;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }).catch((e: unknown) => e);
    t.ok(err instanceof UnavailableError);
    t.equal((err as UnavailableError).exitCode, 69);
    t.match((err as Error).message, /^authentication failed for user pulp at msg:5672; check the user and password in \[tasks\] broker_url$/);
    t.ok(Date.now() - started < 5000, 'long before the deadline');
    t.ok(other >= 1);
  });

  t.test('the deadline holds even when an attempt never returns', async (t) => {
    const started = Date.now();
    const err = await waitForTargets([mongo(), amqp()], { deadlineMs: 300, log: silentLogger, attemptTimeoutMs: 60000 }, (target, opts) =>
      target.kind === 'amqp'
        ? Promise.resolve()
        : new Promise((_r, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('aborted')))),
    ).catch((e: unknown) => e);
    const took = Date.now() - started;
    t.ok(err instanceof UnavailableError);
    t.match((err as Error).message, /^not ready after 0\.3 s: mongodb at db:27017: /);
    t.notMatch((err as Error).message, /amqp/, 'only the dependency not ready is named');
    t.ok(took < 2000, `returned after ${took} ms`);
  });

  t.test('check: one attempt each, names every failure', async (t) => {
    let calls = 0;
    const err = await checkTargets([mongo(), amqp()], { timeoutMs: 100, log: silentLogger }, async (target) => {
      calls++;
      if (target.kind === 'amqp') throw new ProbeError('protocol', 'protocol mismatch at msg:5672: the broker speaks AMQP 0-9-1 only');
      throw Object.assign(new Error('getaddrinfo ENOTFOUND db'), { code: 'ENOTFOUND' });
    }).catch((e: unknown) => e);
    t.equal(calls, 2);
    t.ok(err instanceof UnavailableError);
    t.match((err as Error).message, /mongodb at db:27017: host name not found.*; amqp at msg:5672 \(\[tasks\] broker_url\): protocol mismatch/);
    const ok = await checkTargets([mongo()] as Target[], { timeoutMs: 100, log: silentLogger }, async () => {});
    t.equal(ok[0]?.ready, true);
  });
});
