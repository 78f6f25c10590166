// The Qpid check ([tasks] broker_url qpid:// or qpids://): Pulp's client there is python-qpid
// (AMQP 0-10), for which Node has no client, so the probe opens AMQP 1.0 through rhea, which
// Qpid brokers (qpidd with its AMQP 1.0 module, Broker-J) also speak: SASL ANONYMOUS, or PLAIN
// with the URL's credentials, TLS for qpids/celery_require_ssl. A Qpid that answers with the
// AMQP 0-10 header instead is live and usable by python-qpid: ready, saying that only liveness
// was checked. rhea loads only when a probe runs.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Container } from 'rhea';
import { loadRhea } from '../dependencies/drivers.ts';
import type { AmqpTarget } from '../common/targets.ts';
import { QPID_0_10_LIVENESS, mismatch, rabbitBehindQpid, readPeerHeader } from './amqp-peer.ts';
import { ProbeError, toProbeError } from '../dependencies/classify.ts';
import { AMQP10_MAX_FRAME, AMQP10_MAX_SASL_FRAME, type Guard, amqp10Format, guardStream } from '../dependencies/frame-guard.ts';
import type { AttemptOptions } from '../dependencies/timeout.ts';
import { type TimeoutControl, withTimeout } from '../dependencies/timeout.ts';
import { readTlsFiles } from '../dependencies/tls-files.ts';
import { programNames } from '../common/program.ts';

/**
 * RabbitMQ answers a failed SASL login only after a pause (3 s here), so once a live AMQP 1.0
 * peer has answered, the attempt may last this long to learn the outcome instead of reporting
 * a misleading timeout. The overall deadline still applies.
 */
export const SASL_OUTCOME_GRACE_MS = 5000;

/** The TLS material of [tasks] (cacert, certfile, keyfile) and SNI for a host name. */
export async function readTls(target: AmqpTarget): Promise<tls.ConnectionOptions> {
  const files = await readTlsFiles({
    ca: { file: target.caFile, setting: target.tlsSettings.ca },
    cert: { file: target.certFile, setting: target.tlsSettings.cert },
    key: { file: target.keyFile, setting: target.tlsSettings.key },
  });
  return {
    ...(files.ca && { ca: files.ca }),
    ...(files.cert && { cert: files.cert }),
    ...(files.cert && files.key && { key: files.key }),
    ...(net.isIP(target.host) === 0 && { servername: target.host }),
  };
}

/** rhea, loaded on the first probe; one container per attempt. */
async function rheaContainer(): Promise<Container> {
  const mod = await loadRhea();
  const rhea = (mod as unknown as { default?: typeof mod }).default ?? mod;
  return rhea.create_container({ id: programNames().program });
}

/** What the probe sees of the socket rhea uses: its first bytes and its frame guard. */
interface Peek {
  first: Buffer;
  guard?: Guard;
  socket?: Duplex;
}

/** The peer's header when it is not what `target` needs (RabbitMQ's 0-9-1, HTTP...), as the error. */
function foreignPeer(peek: Peek, target: AmqpTarget): ProbeError | undefined {
  const peer = readPeerHeader(peek.first);
  return peer === undefined ? undefined : mismatch(peer, target);
}

/**
 * rhea's connect hook: opens the TCP or TLS socket and watches its first bytes itself, since
 * rhea reports a foreign protocol header only as a vague framing error; `onHeader` runs once
 * the first 8 bytes are in.
 */
function connectHook(target: AmqpTarget, tlsOptions: tls.ConnectionOptions, peek: Peek, onHeader: () => void) {
  return (port: number, host: string, _o: unknown, callback: () => void): Duplex => {
    const s: net.Socket | tls.TLSSocket = target.tls
      ? tls.connect({ host, port, ...tlsOptions, rejectUnauthorized: true }, callback)
      : net.connect({ host, port }, callback);
    const watch = (chunk: Buffer): void => {
      peek.first = Buffer.concat([peek.first, chunk]);
      if (peek.first.length >= 8) {
        s.off('data', watch);
        onHeader();
      }
    };
    s.on('data', watch);
    // Before rhea's own listener, which would collect any announced frame size (see frame-guard.ts).
    peek.guard = guardStream(s, amqp10Format({ sasl: AMQP10_MAX_SASL_FRAME, max: AMQP10_MAX_FRAME }), target.address);
    peek.socket = s;
    return s;
  };
}

/** Why the handshake failed, as the one error to report: the guard's, a foreign peer, a refused login, or the connection's. */
function handshakeFailure(err: unknown, target: AmqpTarget, peek: Peek): ProbeError {
  const where = target.address;
  if (peek.guard?.refused) return peek.guard.refused;
  const wrong = foreignPeer(peek, target);
  if (wrong) return wrong;
  const condition = (err as { condition?: unknown } | undefined)?.condition;
  const text = err instanceof Error ? err.message : String(err ?? '');
  if (condition === 'amqp:unauthorized-access' || /Failed to authenticate/.test(text)) {
    const who = target.username === undefined ? 'ANONYMOUS' : `user ${target.username}`;
    return new ProbeError('auth', `authentication failed for ${who} at ${where}`, true);
  }
  if (err === undefined || err === '') {
    return new ProbeError('reset', `connection reset at ${where} (closed before the AMQP open handshake)`);
  }
  return toProbeError(err, where);
}

/**
 * One AMQP 1.0 open handshake; resolves once the broker's open arrives (then closes), or with
 * a note when a Qpid answered with the AMQP 0-10 header.
 */
export async function probeAmqp(target: AmqpTarget, opts: AttemptOptions): Promise<string | undefined> {
  const tlsOptions = target.tls ? await readTls(target) : {};
  const container = await rheaContainer();
  const peek: Peek = { first: Buffer.alloc(0) };
  const control: TimeoutControl = {};

  const handshake = new Promise<string | undefined>((resolve, reject) => {
    const onHeader = (): void => {
      const peer = readPeerHeader(peek.first);
      if (peer?.kind === 'amqp' && peer.version === '0-10') resolve(QPID_0_10_LIVENESS);
      else if (foreignPeer(peek, target) === undefined) control.extendTo?.(Math.max(opts.timeoutMs, SASL_OUTCOME_GRACE_MS));
    };
    const connection = container.connect({
      host: target.host,
      port: target.port,
      // rhea offers PLAIN only when both are set, ANONYMOUS otherwise.
      ...(target.username !== undefined && { username: target.username, password: target.password ?? '' }),
      reconnect: false,
      idle_time_out: 0,
      max_frame_size: AMQP10_MAX_FRAME,
      connect: connectHook(target, tlsOptions, peek, onHeader),
      // rhea's typings do not know the connect hook; it is documented in its README.
    } as unknown as Parameters<typeof container.connect>[0]);
    const failed = (err: unknown): void => reject(handshakeFailure(err, target, peek));
    connection.on('connection_open', (ctx) => {
      const product = (ctx.connection.remote.open as { properties?: { product?: unknown } } | undefined)?.properties?.product;
      if (product === 'RabbitMQ') reject(rabbitBehindQpid(target));
      else resolve(undefined);
      connection.close();
    });
    connection.on('connection_error', (ctx) => failed(ctx.connection.error ?? ctx.error));
    connection.on('connection_close', (ctx) => failed(ctx.connection.error));
    connection.on('disconnected', (ctx) => failed(ctx.error ?? ctx.connection.error));
    connection.on('error', (ctx) => failed(ctx.error ?? ctx.connection.error));
    // Without a handler rhea prints framing errors (a foreign header) to the console itself.
    connection.on('protocol_error', (ctx) => failed(ctx.error));
  });

  try {
    return await withTimeout(handshake, opts.timeoutMs, opts.signal, target.address, control);
  } finally {
    // Let the close frame go out when the handshake succeeded; then make sure nothing lingers.
    const s = peek.socket;
    if (s) setTimeout(() => s.destroy(), 50).unref();
  }
}
