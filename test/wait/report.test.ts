// src/wait/report.ts: what a wait says of each target (its result, the line when it did not get
// ready, with what to check) and the exit-69 message, word for word, without any probe or loop.
import t from 'tap';
import { ProbeError } from '../../src/dependencies/classify.ts';
import { createLogger } from '../../src/common/log.ts';
import { type WaitResult, attemptsText, authHint, fields, notReadyLine, reportNotReady, resultOf, seconds, unavailableMessage } from '../../src/wait/report.ts';
import { brokerFromConf, brokerUrl, mongoFromConf } from '../helpers/targets.ts';

const mongo = mongoFromConf('db:27017');
const amqp = brokerFromConf(brokerUrl('msg:5672'));

t.test('durations and counts as the lines print them', async (t) => {
  t.equal(seconds(840), '0.84 s');
  t.equal(seconds(2500), '2.50 s');
  t.equal(seconds(61234), '61.2 s', 'a tenth past ten seconds');
  t.equal(attemptsText(1), '1 attempt');
  t.equal(attemptsText(3), '3 attempts');
});

t.test('a result: ready with its note, or not with the last failure', async (t) => {
  const started = performance.now() - 5;
  const ready = resultOf(amqp, started, 2, { ready: true, note: 'only AMQP 0-10 answered' });
  t.match(ready, { kind: 'amqp', address: 'msg:5672', ready: true, attempts: 2, note: 'only AMQP 0-10 answered' });
  t.ok(ready.elapsedMs >= 5, 'time since the start');
  t.notOk('reason' in ready || 'error' in ready, 'no failure on a ready target');
  const failed = resultOf(mongo, started, 4, { ready: false, last: new ProbeError('refused', 'connection refused') });
  t.match(failed, { kind: 'mongodb', ready: false, attempts: 4, reason: 'refused', error: 'connection refused' });
  t.notOk('note' in failed);
  t.same(fields(failed), { dependency: 'mongodb', address: 'db:27017', ready: false, attempts: 4, elapsed_ms: failed.elapsedMs, reason: 'refused', note: undefined });
});

t.test('the exit-69 message names each target not ready and its reason in a word; its line says what to check', async (t) => {
  const results: WaitResult[] = [
    { kind: 'mongodb', address: 'db:27017', ready: false, attempts: 3, elapsedMs: 10, reason: 'auth', error: 'authentication failed' },
    { kind: 'amqp', address: 'msg:5672', ready: false, attempts: 3, elapsedMs: 10 },
  ];
  t.equal(
    unavailableMessage([mongo, amqp], results, 'not ready after 2 s'),
    'not ready after 2 s: mongodb at db:27017: authentication failed; amqp at msg:5672 ([tasks] broker_url): no answer',
  );
  const oneLeft = [{ ...results[0]!, ready: true }, { ...results[1]!, reason: 'refused' as const, error: 'connection refused at msg:5672' }];
  t.equal(unavailableMessage([mongo, amqp], oneLeft, 'not ready'), 'not ready: amqp at msg:5672 ([tasks] broker_url): connection refused', 'a ready target is left out');
  t.equal(
    notReadyLine(mongo, results[0]!),
    'mongodb at db:27017 not ready after 0.01 s (3 attempts): authentication failed (check [database] username and password (Pulp authenticates against the database named in [database] name))',
  );
  t.equal(notReadyLine(amqp, results[1]!), 'amqp at msg:5672 ([tasks] broker_url) not ready after 0.01 s (3 attempts): no answer (is the address right and reachable (firewall, NetworkPolicy)?)');
  t.equal(authHint(amqp), 'check the user and password in [tasks] broker_url');
});

t.test('the line for a target not ready: refused for good, cut short, or out of time', async (t) => {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ format: 'json', trace: false, write: (l) => void lines.push(JSON.parse(l) as { level: string; msg: string }) });
  const last = new ProbeError('auth', 'authentication failed for user pulp at msg:5672', true);
  const r = resultOf(amqp, performance.now(), 1, { ready: false, last });
  const calm = new AbortController().signal;
  reportNotReady(amqp, r, last, true, calm, log);
  const other = new AbortController();
  other.abort(new ProbeError('auth', 'elsewhere', true));
  const late = new ProbeError('refused', 'connection refused');
  const r2 = { ...resultOf(mongo, performance.now(), 2, { ready: false, last: late }), elapsedMs: 1500 };
  reportNotReady(mongo, r2, late, false, other.signal, log);
  reportNotReady(mongo, r2, late, false, calm, log);
  t.same(lines.map((l) => [l.level, l.msg]), [
    ['error', 'amqp at msg:5672 ([tasks] broker_url): authentication failed for user pulp at msg:5672; giving up without retrying'],
    ['info', 'mongodb at db:27017: wait stopped after 1.50 s (2 attempts): another dependency failed for good'],
    ['error', 'mongodb at db:27017 not ready after 1.50 s (2 attempts): connection refused (is the server running and listening on that port?)'],
  ]);
});
