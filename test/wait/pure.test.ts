// src/wait (backoff, amqp-peer, amqp091) and src/dependencies/classify.ts, the pure parts: backoff
// schedule, failure classification, header recognition, the final message, and the loop's control
// flow with stand-in probes (no servers, no sockets).
import t from 'tap';
import { attemptsPerMinuteAtCap, backoffDelay, DEFAULT_BACKOFF } from '../../src/wait/backoff.ts';
import { classifyFacts, errorFacts, ProbeError, toProbeError } from '../../src/dependencies/classify.ts';
import { mismatch, rabbitBehindQpid, readPeerHeader } from '../../src/wait/amqp-peer.ts';
import { classifyAmqplibError, loginOf } from '../../src/wait/amqp091.ts';
import { mongoClientOptions } from '../../src/dependencies/mongodb/connect.ts';
import { checkTargets, waitForTargets } from '../../src/wait/wait.ts';
import { PROGRESS_EVERY_MS } from '../../src/wait/wait-one.ts';
import { UnavailableError } from '../../src/common/errors.ts';
import { createLogger, silentLogger } from '../../src/common/log.ts';
import { messagingEndpoint, targetsFromConfig } from '../../src/pulp/targets.ts';
import type { AmqpTarget, MongoTarget, Target } from '../../src/common/targets.ts';
import { configViewFrom } from '../helpers/targets.ts';
import { brokerFromConf, brokerUrl, mongoFromConf } from '../helpers/targets.ts';
import { deadlineIn } from '../../src/common/retry.ts';

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

t.test('AMQP header recognition and the mismatch line for each broker URL', async (t) => {
  const qpid = brokerFromConf('qpid://msg:5672/');
  const rabbit = brokerFromConf('amqp://msg:5672//');
  const peer = (s: string) => readPeerHeader(Buffer.from(s, 'latin1'));
  const h = (s: string, target: AmqpTarget = qpid) => {
    const p = peer(s);
    return p === undefined ? undefined : mismatch(p, target);
  };
  t.equal(h('AMQP\x03\x01\x00\x00'), undefined, 'SASL layer');
  t.equal(h('AMQP\x00\x01\x00\x00'), undefined, 'plain AMQP 1.0');
  t.equal(h('AMQP\x02\x01\x00\x00'), undefined, 'TLS layer');
  t.equal(h('AMQ'), undefined, 'too short to tell');
  t.equal(h('AMQP\x01\x01\x00\x0a'), undefined, 'a Qpid answering AMQP 0-10 is no mismatch behind qpid://');
  t.same(peer('AMQP\x01\x01\x00\x0a'), { kind: 'amqp', version: '0-10', bytes: '1.1.0.10' });
  // Behind qpid:// a RabbitMQ without AMQP 1.0 is a real mismatch, and the line says to use amqp://.
  t.equal(
    h('AMQP\x00\x00\x09\x01')?.message,
    'protocol mismatch at msg:5672: the broker speaks AMQP 0-9-1 only (RabbitMQ), but qpid:// makes Pulp speak AMQP 0-10 (python-qpid); for RabbitMQ set [tasks] broker_url to amqp://... (PULP_BROKER_SCHEME=amqp)',
  );
  t.equal(h('AMQP\x00\x00\x09\x01')?.reason, 'protocol');
  // Behind amqp:// a Qpid answering 0-10 or an AMQP 1.0-only broker are mismatches naming qpid://.
  t.equal(
    h('AMQP\x01\x01\x00\x0a', rabbit)?.message,
    "protocol mismatch at msg:5672: the broker speaks AMQP 0-10 (Qpid), but amqp:// makes Pulp speak AMQP 0-9-1 (kombu's py-amqp); for Qpid set [tasks] broker_url to qpid://... (PULP_BROKER_SCHEME=qpid)",
  );
  t.match(h('AMQP\x00\x01\x00\x00', rabbit)?.message, /the broker speaks AMQP 1\.0 only, but amqp:\/\/ makes Pulp speak AMQP 0-9-1.*needs RabbitMQ \(amqp:\/\/\) or Qpid \(qpid:\/\/\)/);
  t.equal(h('AMQP\x00\x00\x09\x01', rabbit), undefined);
  t.match(h('AMQP\x01\x01\x08\x00')?.message, /answered with AMQP header 1\.1\.8\.0, which Pulp's client \(python-qpid\) does not speak/);
  t.match(h('HTTP/1.1 400 Bad Request')?.message, /not an AMQP server \(it sent "HTTP\/1\.1 400 Bad"\)/);
  t.match(h('HTTP/1.1 400 Bad Request', rabbit)?.message, /not an AMQP server/);
  t.match(rabbitBehindQpid(qpid).message, /^protocol mismatch at msg:5672: RabbitMQ answered .*AMQP 0-10 \(python-qpid\), which RabbitMQ does not; for RabbitMQ set \[tasks\] broker_url to amqp:\/\//);
});

t.test('amqplib failures: wrong login and a refused vhost are permanent, one line, no password', async (t) => {
  const target = brokerFromConf('amqp://pulp:s3cret-pw@msg:5672/pulp');
  const auth = classifyAmqplibError('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN. For details see the broker logfile."', target);
  t.ok(auth instanceof ProbeError);
  if (auth instanceof ProbeError) {
    t.same([auth.reason, auth.permanent, auth.message], ['auth', true, 'authentication failed for user pulp at msg:5672']);
  }
  const vhost = classifyAmqplibError('Expected ConnectionOpenOk; got <ConnectionClose channel:0>', target);
  t.ok(vhost instanceof ProbeError);
  if (vhost instanceof ProbeError) {
    t.same([vhost.reason, vhost.permanent], ['vhost', true]);
    t.equal(vhost.message, 'the broker at msg:5672 refused vhost "pulp" for user pulp: it does not exist or the user has no permissions on it');
    t.notMatch(vhost.message, /s3cret/);
  }
  t.equal(classifyAmqplibError('Frame size 1342243072 exceeds maxFrameSize 67108864', target), 'sniff');
  t.equal(classifyAmqplibError('Socket closed abruptly during opening handshake', target), 'sniff');
  t.equal(classifyAmqplibError('connect ECONNREFUSED 127.0.0.1:1', target), undefined);
  const mech = classifyAmqplibError('SASL mechanism AMQPLAIN is not provided by the server', target);
  t.match(mech instanceof ProbeError && [mech.reason, mech.permanent, mech.message], ['protocol', true, /does not offer SASL AMQPLAIN, which Pulp's amqp:\/\/ client \(py-amqp\) logs in with/]);
});

t.test("login as kombu's py-amqp does: guest/guest, vhost / and AMQPLAIN unless the file says otherwise", async (t) => {
  t.same(loginOf(brokerFromConf('amqp://msg//')), { user: 'guest', password: 'guest', vhost: '/', mechanism: 'AMQPLAIN' });
  t.same(loginOf(brokerFromConf('amqp://msg')), { user: 'guest', password: 'guest', vhost: '/', mechanism: 'AMQPLAIN' });
  t.same(loginOf(brokerFromConf('amqp://msg/')), { user: 'guest', password: 'guest', vhost: '/', mechanism: 'AMQPLAIN' });
  t.same(loginOf(brokerFromConf('pyamqp://u:p%40w@msg/pulp%2Fprod', { login_method: 'EXTERNAL' })), { user: 'u', password: 'p@w', vhost: 'pulp/prod', mechanism: 'EXTERNAL' });
  t.same(loginOf(brokerFromConf('amqp://u@msg/v')), { user: 'u', password: 'guest', vhost: 'v', mechanism: 'AMQPLAIN' }, "kombu fills a missing password with guest");
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
  t.test('ready on the third attempt; with the trace switch one line per failed attempt, and one final line', async (t) => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', trace: true, write: (l) => lines.push(l) });
    let n = 0;
    const results = await waitForTargets([mongo()], { deadline: deadlineIn(5000), log, random: () => 0 }, async () => {
      if (++n < 3) throw Object.assign(new Error('connect ECONNREFUSED db:27017'), { code: 'ECONNREFUSED' });
    });
    t.equal(results[0]?.ready, true);
    t.equal(results[0]?.attempts, 3);
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    t.equal(recs.length, 3);
    t.match(recs[0], { level: 'trace', dependency: 'mongodb', address: 'db:27017', attempt: 1, reason: 'refused', next_delay_ms: 13, msg: /; next try in 13 ms$/ });
    t.match(recs[1], { level: 'trace', attempt: 2, next_delay_ms: 25 });
    t.match(recs[2], { level: 'info', ready: true, attempts: 3, msg: /^mongodb at db:27017 ready after .* \(3 attempts\)$/ });
  });

  t.test('without it, progress at a human rate: the first failure, then one line every few seconds of the clock', async (t) => {
    // [attempts that fail before the target answers, ms the clock moves per attempt, the info lines before "ready"]
    const cases: [number, number, number][] = [
      [1, 10, 1],
      [40, 10, 1], // 400 ms in all: the first failure only
      [40, PROGRESS_EVERY_MS / 4, 10], // the first, then every fourth failure: 1 + 9
      [10, PROGRESS_EVERY_MS, 10],
    ];
    for (const [failures, step, want] of cases) {
      const lines: string[] = [];
      const log = createLogger({ format: 'json', trace: false, write: (l) => lines.push(l) });
      let clock = 0;
      let n = 0;
      const results = await waitForTargets(
        [mongo()],
        { deadline: deadlineIn(60000), log, random: () => 0, backoff: { baseMs: 0, factor: 1, capMs: 0 }, now: () => clock, limit: '--timeout 60' },
        async () => {
          clock += step;
          if (++n <= failures) throw Object.assign(new Error('connect ECONNREFUSED db:27017'), { code: 'ECONNREFUSED' });
        },
      );
      t.equal(results[0]?.attempts, failures + 1);
      const recs = lines.map((l) => JSON.parse(l) as { level: string; msg: string });
      const progress = recs.filter((r) => !/ ready after /.test(r.msg));
      t.equal(progress.length, want, `${failures} failures, ${step} ms apart: ${want} line(s)`);
      t.match(progress[0]?.msg, /^waiting for mongodb at db:27017: connection refused .*; retrying for up to [\d.]+ s \(--timeout 60\)$/);
      for (const r of progress.slice(1)) t.match(r.msg, /^still waiting for mongodb at db:27017 after [\d.]+ s \(\d+ attempts\): connection refused/);
      t.ok(recs.every((r) => r.level === 'info'), 'no error: it got ready');
    }
  });

  t.test('a permanent failure stops every wait at once', async (t) => {
    const started = Date.now();
    let other = 0;
    const err = await waitForTargets([mongo(), amqp({ username: 'pulp' })], { deadline: deadlineIn(20000), log: silentLogger }, async (target) => {
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
    const err = await waitForTargets([mongo(), amqp()], { deadline: deadlineIn(300), log: silentLogger, attemptTimeoutMs: 60000 }, (target, opts) =>
      target.kind === 'amqp'
        ? Promise.resolve()
        : new Promise((_r, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('aborted')))),
    ).catch((e: unknown) => e);
    const took = Date.now() - started;
    t.ok(err instanceof UnavailableError);
    t.match((err as Error).message, /^not ready after 0\.3 s: mongodb at db:27017: [a-z ]+; the limit is PULP_WAIT_TIMEOUT$/);
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
    t.equal((err as Error).message, 'not ready: mongodb at db:27017: host name not found; amqp at msg:5672 ([tasks] broker_url): protocol mismatch; one attempt each, limited by 0.1 s');
    const ok = await checkTargets([mongo()] as Target[], { timeoutMs: 100, log: silentLogger }, async () => {});
    t.equal(ok[0]?.ready, true);
  });
});

t.test('broker targets: the protocol, port and TLS checks follow the URL scheme as kombu 4.0.2 reads it', async (t) => {
  const b = (url: string, tasks: Record<string, string> = {}) => {
    const x = brokerFromConf(url, tasks);
    return [x.protocol, x.address, x.tls, x.tlsVerify];
  };
  t.same(b('amqp://msg//'), ['amqp-0-9-1', 'msg:5672', false, 'none']);
  t.same(b('pyamqp://msg/'), ['amqp-0-9-1', 'msg:5672', false, 'none']);
  t.same(b('librabbitmq://msg/'), ['amqp-0-9-1', 'msg:5672', false, 'none']);
  t.same(b('amqps://msg/'), ['amqp-0-9-1', 'msg:5671', true, 'none'], 'py-amqp checks no certificate for amqps:// alone');
  t.same(b('amqp://msg/', { celery_require_ssl: 'true' }), ['amqp-0-9-1', 'msg:5671', true, 'chain'], "py-amqp's TLS port, chain checked, no host name");
  t.same(b('amqp://msg:5672/', { celery_require_ssl: 'true' }), ['amqp-0-9-1', 'msg:5672', true, 'chain'], 'a port in the URL stays');
  t.same(b('qpid://msg/'), ['amqp-0-10', 'msg:5672', false, 'chain-and-name']);
  t.same(b('qpid://msg/', { celery_require_ssl: 'true' }), ['amqp-0-10', 'msg:5672', true, 'chain-and-name'], "kombu's Qpid transport keeps 5672 with TLS");
  t.same(b('qpids://msg/'), ['amqp-0-10', 'msg:5671', true, 'chain-and-name']);
  t.throws(() => brokerFromConf('tcp://msg:5672'), /\[tasks\] broker_url: tcp:\/\/ is a \[messaging\] url scheme/);
});

t.test('[messaging] url is parsed (a bad value is refused) but not waited for; its transport names the protocol', async (t) => {
  const conf = (messaging: Record<string, string>) => configViewFrom({ tasks: { broker_url: 'amqp://msg//' }, messaging });
  t.same(
    targetsFromConfig(conf({ url: 'tcp://other:5672' })).map((x) => x.kind),
    ['mongodb', 'amqp'],
    'a [messaging] url on another host adds no wait',
  );
  t.same(messagingEndpoint(conf({ url: 'tcp://other:5672' })), { address: 'other:5672', transport: 'qpid', protocol: 'amqp-0-10' });
  t.same(messagingEndpoint(conf({ url: 'ssl://other', transport: 'rabbitmq' })), { address: 'other:5671', transport: 'rabbitmq', protocol: 'amqp-0-9-1' });
  t.throws(() => targetsFromConfig(conf({ url: 'http://other' })), /\[messaging\] url: "http:\/\/other" is not a broker URL/);
});
