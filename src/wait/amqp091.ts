// The RabbitMQ check ([tasks] broker_url amqp://, amqps://, pyamqp://, librabbitmq://): an
// AMQP 0-9-1 connection open through amqplib, logging in as Pulp's client (kombu's py-amqp
// 2.1.4) does: the URL's user and password, guest/guest when absent, SASL AMQPLAIN (or
// [tasks] login_method), the URL's path as the vhost ("/" when empty), TLS as py-amqp does it.
// amqplib loads only when a probe runs.
import net from 'node:net';
import tls from 'node:tls';
import type { ChannelModel } from 'amqplib';
import { loadAmqplib } from '../dependencies/drivers.ts';
import type { AmqpTarget } from '../common/targets.ts';
import { AMQP_0_9_1_HEADER, mismatch, readPeerHeader } from './amqp-peer.ts';
import { readTls } from './amqp.ts';
import { ProbeError, toProbeError } from '../dependencies/classify.ts';
import type { AttemptOptions } from '../dependencies/timeout.ts';
import { withTimeout } from '../dependencies/timeout.ts';
import { programNames } from '../common/program.ts';

/** kombu's pyamqp transport fills these in when the URL leaves them out (or empty). */
export const KOMBU_DEFAULTS = { user: 'guest', password: 'guest', vhost: '/', loginMethod: 'AMQPLAIN' } as const;

/** Who the probe logs in as, and where: exactly what Pulp's Celery will send. */
export function loginOf(target: AmqpTarget): { user: string; password: string; vhost: string; mechanism: string } {
  return {
    user: target.username || KOMBU_DEFAULTS.user,
    password: target.password || KOMBU_DEFAULTS.password,
    vhost: target.vhost || KOMBU_DEFAULTS.vhost,
    mechanism: target.loginMethod?.toUpperCase() || KOMBU_DEFAULTS.loginMethod,
  };
}

/**
 * What an amqplib handshake failure means, from its message (amqplib gives no codes). Returns
 * 'sniff' when the peer sent something that is not AMQP 0-9-1, which a header exchange names.
 */
export function classifyAmqplibError(message: string, target: AmqpTarget): ProbeError | 'sniff' | undefined {
  const { user, vhost, mechanism } = loginOf(target);
  const where = target.address;
  const terminated = /Handshake terminated by server: (\d+) \(([A-Z-]+)\)(?: with message "(.*)")?/.exec(message);
  if (terminated?.[1] === '403' || (terminated && /auth/i.test(terminated[3] ?? ''))) {
    return new ProbeError('auth', `authentication failed for user ${user} at ${where}`, true);
  }
  // The broker closes instead of Connection.Open-Ok: RabbitMQ for a vhost that does not exist
  // (530 NOT_ALLOWED) or that the user may not use, Broker-J for an unknown vhost (402).
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return new ProbeError('vhost', `the broker at ${where} refused vhost "${vhost}" for user ${user}: it does not exist or the user has no permissions on it`, true);
  }
  const mech = /SASL mechanism (\S+) is not provided by the server/.exec(message);
  if (mech) {
    return new ProbeError(
      'protocol',
      `the broker at ${where} does not offer SASL ${mech[1] ?? mechanism}, which Pulp's ${target.scheme}:// client (py-amqp) logs in with`,
      true,
    );
  }
  if (/^Frame size \d+ exceeds|^Expected ConnectionStart|^Unknown frame|Socket closed abruptly during opening handshake/.test(message)) return 'sniff';
  return undefined;
}

/**
 * Sends the AMQP 0-9-1 header on a fresh connection and reads what comes back, to name a peer
 * that broke amqplib's handshake (a Qpid answering 0-10, an AMQP 1.0-only broker, a web server).
 */
async function sniff(target: AmqpTarget, tlsOptions: tls.ConnectionOptions | undefined, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const s: net.Socket = tlsOptions ? tls.connect({ host: target.host, port: target.port, ...tlsOptions }) : net.connect({ host: target.host, port: target.port });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, timeoutMs);
    s.once(tlsOptions ? 'secureConnect' : 'connect', () => s.write(AMQP_0_9_1_HEADER));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8) done();
    });
    s.on('error', done);
    s.on('close', done);
  });
}

async function tlsFor(target: AmqpTarget): Promise<tls.ConnectionOptions | undefined> {
  if (!target.tls) return undefined;
  const files = await readTls(target);
  return {
    ...files,
    // py-amqp 2.1.4 wraps the socket with ssl.wrap_socket: no certificate check for amqps://
    // alone, the chain against cacert with celery_require_ssl, never the host name.
    rejectUnauthorized: target.tlsVerify !== 'none',
    ...(target.tlsVerify !== 'chain-and-name' && { checkServerIdentity: () => undefined }),
  };
}

/** One AMQP 0-9-1 connection open, then a clean close; resolves when the broker said Open-Ok. */
export async function probeAmqp091(target: AmqpTarget, opts: AttemptOptions): Promise<undefined> {
  const where = target.address;
  const login = loginOf(target);
  const tlsOptions = await tlsFor(target);
  const amqplib = await loadAmqplib();
  // py-amqp sends an AMQPLAIN table as the response whatever the mechanism's name.
  const response = amqplib.credentials.amqplain(login.user, login.password).response;
  const pending: Promise<ChannelModel> = amqplib.connect(
    {
      protocol: target.tls ? 'amqps' : 'amqp',
      hostname: target.host,
      port: target.port,
      // amqplib percent-decodes the vhost it is given.
      vhost: encodeURIComponent(login.vhost),
      heartbeat: 0,
    },
    {
      credentials: { mechanism: login.mechanism, response, username: login.user, password: login.password },
      // amqplib destroys a socket idle this long, so an abandoned attempt leaves nothing open.
      timeout: opts.timeoutMs,
      // The handshake answers Tune with two frames (Tune-Ok, Open): with Nagle's algorithm the
      // second waits for the broker's delayed ACK, 40 ms on Linux, most of the probe's time.
      noDelay: true,
      clientProperties: { connection_name: `${programNames().program} readiness probe` },
      ...tlsOptions,
    },
  );
  let model: ChannelModel;
  try {
    model = await withTimeout(pending, opts.timeoutMs, opts.signal, where);
  } catch (err) {
    // A connection that opens after the attempt gave up is closed at once.
    pending.then((m) => m.close().catch(() => {}), () => {});
    if (err instanceof ProbeError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const known = classifyAmqplibError(message, target);
    if (known instanceof ProbeError) throw known;
    if (known === 'sniff') {
      const peer = readPeerHeader(await sniff(target, tlsOptions, Math.min(1000, opts.timeoutMs)));
      const wrong = peer && mismatch(peer, target);
      if (wrong) throw wrong;
      throw new ProbeError('reset', `connection reset at ${where} (closed during the AMQP 0-9-1 handshake)`);
    }
    throw toProbeError(err, where);
  }
  // Close cleanly, so that the broker does not log every probe as an unexpectedly closed client.
  await model.close().catch(() => {});
  return undefined;
}
