// src/dependencies/frame-guard.ts and the probes of src/wait, through `pulp-entrypoint wait`.
// Peers that announce a huge message and then stream zeros, against the whole command
// (bin/pulp-entrypoint wait): the agent must refuse the message unread, fail that attempt with
// a clear reason, keep its deadline and stay small (peak RSS: test/helpers/measure.ts). The
// other dependency is the real server from test/services/start.sh.
import t, { type Test } from 'tap';
import { type Peer, flood, scriptedPeer } from '../helpers/net.ts';
import { type Measured, runMeasured } from '../helpers/measure.ts';
import { requireServices, serviceVariables } from '../helpers/services.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';

const MAX_RSS_KIB = 150 * 1024;
const DEADLINE_S = 3;

/**
 * A listener that waits for the client's first bytes, answers with `prefix` and then writes
 * zeros as fast as the client reads them, until the client goes away.
 */
function floodingPeer(prefix: Buffer): Promise<Peer> {
  return scriptedPeer(t, async (s, next) => {
    await next();
    s.write(prefix);
    flood(s, Buffer.alloc(64 * 1024));
  });
}

const s = requireServices(t, 'the hostile-peer wait tests (the other dependency is real)');
if (s) {
  const conf = confCopy(tempDir(t, 'pe-hostile-'));
  const base = {
    PULP_SERVER_CONF: conf,
    ...serviceVariables(s),
    // qpid://: the AMQP 1.0 probe (rhea).
    PULP_BROKER_SCHEME: 'qpid',
  };

  /** `dep`: how the lines name the dependency; `what`: the refusal its own line gives. */
  const bounded = (t: Test, r: Measured, dep: string, what: RegExp): void => {
    const lines = r.stderr.trimEnd().split('\n');
    const last = lines.at(-1) ?? '';
    t.equal(r.status, 69, `exit 69: ${last}`);
    t.ok(last.endsWith(`: not ready after ${DEADLINE_S} s: ${dep}: protocol mismatch; the limit is --timeout ${DEADLINE_S}`), `the last line names the dependency alone: ${last}`);
    const own = lines.find((l) => l.includes(`error: ${dep} not ready after`)) ?? '';
    t.match(own, what, 'its line names the refused length');
    t.ok(r.maxRssKib > 0 && r.maxRssKib < MAX_RSS_KIB, `peak RSS ${Math.round(r.maxRssKib / 1024)} MiB (limit ${MAX_RSS_KIB / 1024} MiB)`);
    t.ok(r.elapsedMs < (DEADLINE_S + 5) * 1000, `exit after ${r.elapsedMs} ms with a ${DEADLINE_S} s deadline`);
  };

  t.test('a "MongoDB" that announces a 2 GiB reply to the hello and streams zeros', async (t) => {
    const header = Buffer.alloc(16);
    header.writeInt32LE(0x7ffffff0, 0); // messageLength
    header.writeInt32LE(1, 4); // requestID
    header.writeInt32LE(0, 8); // responseTo
    header.writeInt32LE(2013, 12); // OP_MSG
    const peer = await floodingPeer(header);
    // amqp://: RabbitMQ answers it (qpid:// would be a mismatch there, and the broker never ready).
    const r = await runMeasured(['wait', '--timeout', String(DEADLINE_S)], { ...base, PULP_BROKER_SCHEME: 'amqp', DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(peer.port) });
    bounded(t, r, `mongodb at 127.0.0.1:${peer.port}`, new RegExp(`: oversized MongoDB message at 127\\.0\\.0\\.1:${peer.port}: the peer announced 2147483632 bytes, at most 1048576 are allowed here`));
    t.ok(peer.connections() > 1, `each attempt refused and retried (${peer.connections()} connections)`);
    t.match(r.stderr, /amqp at .* ready after/, 'the real broker was ready');
  });

  t.test('an "AMQP 1.0 broker" that announces a 4 GiB SASL frame and streams zeros', async (t) => {
    const prefix = Buffer.concat([Buffer.from('AMQP\x03\x01\x00\x00', 'latin1'), Buffer.from([0xff, 0xff, 0xff, 0xf0, 2, 1, 0, 0])]);
    const peer = await floodingPeer(prefix);
    const r = await runMeasured(['wait', '--timeout', String(DEADLINE_S)], { ...base, MSG_SERVICE_HOST: '127.0.0.1', MSG_SERVICE_PORT: String(peer.port) });
    bounded(t, r, `amqp at 127.0.0.1:${peer.port} ([tasks] broker_url)`, new RegExp(`: oversized AMQP 1\\.0 SASL frame at .*: the peer announced 4294967280 bytes, at most 4096 are allowed`));
    t.ok(peer.connections() > 1, `each attempt refused and retried (${peer.connections()} connections)`);
    t.match(r.stderr, /mongodb at .* ready after/, 'the real FerretDB was ready');
  });

  t.test('an "AMQP 1.0 broker" whose open frame is larger than the max-frame-size we announced', async (t) => {
    // Without credentials rhea sends no SASL header and expects the AMQP one straight away.
    const prefix = Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), Buffer.from([0x00, 0x10, 0x00, 0x01, 2, 0, 0, 0])]);
    const peer = await floodingPeer(prefix);
    const r = await runMeasured(['wait', '--timeout', String(DEADLINE_S)], {
      ...base,
      PULP_CONF__TASKS__BROKER_URL: `qpid://127.0.0.1:${peer.port}/`,
      MSG_SERVICE_HOST: '127.0.0.1',
      MSG_SERVICE_PORT: String(peer.port),
    });
    bounded(t, r, `amqp at 127.0.0.1:${peer.port} ([tasks] broker_url)`, new RegExp(`: oversized AMQP 1\\.0 frame at .*: the peer announced 1048577 bytes, at most 65536 are allowed`));
  });
}
