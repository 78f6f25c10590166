// Broker readiness: the AMQP 1.0 open handshake completes (SASL ANONYMOUS, or PLAIN with the
// URL's credentials; TLS for amqps/qpids/ssl). rhea loads only when a probe runs.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { loadRhea } from '../drivers.ts';
import { registerSecret } from '../redact.ts';
import type { AmqpTarget } from '../targets.ts';
import { ProbeError, toProbeError } from './classify.ts';
import { AMQP10_MAX_FRAME, AMQP10_MAX_SASL_FRAME, type Guard, amqp10Format, guardStream } from './frame-guard.ts';
import type { AttemptOptions } from './mongodb.ts';
import { type TimeoutControl, withTimeout } from './timeout.ts';
import { readTlsFiles } from './tls-files.ts';

/**
 * RabbitMQ answers a failed SASL login only after a pause (3 s here), so once a live AMQP 1.0
 * peer has answered, the attempt may last this long to learn the outcome instead of reporting
 * a misleading timeout. The overall deadline still applies.
 */
export const SASL_OUTCOME_GRACE_MS = 5000;

const AMQP_0_9_1 = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

/**
 * What the first bytes a peer sent say about it, when they rule out AMQP 1.0; undefined when
 * they are an AMQP 1.0 header (plain, SASL or TLS layer) or too short to tell.
 */
export function describeForeignHeader(first: Buffer, address: string): ProbeError | undefined {
  if (first.length === 0) return undefined;
  const amqp = Buffer.from('AMQP', 'latin1');
  const prefix = first.subarray(0, Math.min(4, first.length));
  if (!amqp.subarray(0, prefix.length).equals(prefix)) {
    const shown = JSON.stringify(first.subarray(0, 16).toString('latin1'));
    return new ProbeError('protocol', `protocol mismatch at ${address}: not an AMQP server (it sent ${shown}); is this the broker's AMQP port?`);
  }
  if (first.length < 8) return undefined;
  if (first.subarray(0, 8).equals(AMQP_0_9_1)) {
    return new ProbeError(
      'protocol',
      `protocol mismatch at ${address}: the broker speaks AMQP 0-9-1 only, not AMQP 1.0; on RabbitMQ enable the plugin: rabbitmq-plugins enable rabbitmq_amqp1_0`,
    );
  }
  const [id, major, minor] = [first[4], first[5], first[6]];
  if ((id === 0 || id === 2 || id === 3) && major === 1 && minor === 0) return undefined;
  return new ProbeError(
    'protocol',
    `protocol mismatch at ${address}: the peer answered with AMQP header ${[...first.subarray(4, 8)].join('.')}, not AMQP 1.0`,
  );
}

async function readTls(target: AmqpTarget): Promise<tls.ConnectionOptions> {
  const where = target.source === 'messaging.url' ? 'server.conf [messaging]' : 'server.conf [tasks]';
  const files = await readTlsFiles({
    ca: { file: target.caFile, setting: `${where} cacert` },
    cert: { file: target.certFile, setting: `${where} ${target.source === 'messaging.url' ? 'clientcert' : 'certfile'}` },
    key: { file: target.keyFile, setting: `${where} keyfile` },
  });
  return {
    ...(files.ca && { ca: files.ca }),
    ...(files.cert && { cert: files.cert }),
    ...(files.cert && files.key && { key: files.key }),
    ...(net.isIP(target.host) === 0 && { servername: target.host }),
  };
}

/** One AMQP 1.0 open handshake; resolves once the broker's open arrives, then closes. */
export async function probeAmqp(target: AmqpTarget, opts: AttemptOptions): Promise<void> {
  registerSecret(target.password);
  const where = target.address;
  const tlsOptions = target.tls ? await readTls(target) : {};
  const mod = await loadRhea();
  const rhea = (mod as unknown as { default?: typeof mod }).default ?? mod;
  const container = rhea.create_container({ id: 'pulp-entrypoint' });

  let socket: Duplex | undefined;
  let guard: Guard | undefined;
  let first = Buffer.alloc(0);
  const control: TimeoutControl = {};
  // rhea reports a foreign protocol header only as a vague framing error, so the probe watches
  // the first bytes itself on the very socket rhea uses.
  const connect = (port: number, host: string, _o: unknown, callback: () => void): Duplex => {
    const s: net.Socket | tls.TLSSocket = target.tls
      ? tls.connect({ host, port, ...tlsOptions, rejectUnauthorized: true }, callback)
      : net.connect({ host, port }, callback);
    const peek = (chunk: Buffer): void => {
      first = Buffer.concat([first, chunk]);
      if (first.length >= 8) {
        s.off('data', peek);
        if (describeForeignHeader(first, where) === undefined) control.extendTo?.(Math.max(opts.timeoutMs, SASL_OUTCOME_GRACE_MS));
      }
    };
    s.on('data', peek);
    // Before rhea's own listener, which would collect any announced frame size (see frame-guard.ts).
    guard = guardStream(s, amqp10Format({ sasl: AMQP10_MAX_SASL_FRAME, max: AMQP10_MAX_FRAME }), where);
    socket = s;
    return s;
  };

  const handshake = new Promise<void>((resolve, reject) => {
    const connection = container.connect({
      host: target.host,
      port: target.port,
      // rhea offers PLAIN only when both are set, ANONYMOUS otherwise.
      ...(target.username !== undefined && { username: target.username, password: target.password ?? '' }),
      reconnect: false,
      idle_time_out: 0,
      max_frame_size: AMQP10_MAX_FRAME,
      connect,
      // rhea's typings do not know the connect hook; it is documented in its README.
    } as unknown as Parameters<typeof container.connect>[0]);
    const failed = (err: unknown): void => {
      if (guard?.refused) return reject(guard.refused);
      const foreign = describeForeignHeader(first, where);
      if (foreign) return reject(foreign);
      const condition = (err as { condition?: unknown } | undefined)?.condition;
      const text = err instanceof Error ? err.message : String(err ?? '');
      if (condition === 'amqp:unauthorized-access' || /Failed to authenticate/.test(text)) {
        const who = target.username === undefined ? 'ANONYMOUS' : `user ${target.username}`;
        return reject(new ProbeError('auth', `authentication failed for ${who} at ${where}`, true));
      }
      if (err === undefined || err === '') {
        return reject(new ProbeError('reset', `connection reset at ${where} (closed before the AMQP open handshake)`));
      }
      reject(toProbeError(err, where));
    };
    connection.on('connection_open', () => {
      resolve();
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
    await withTimeout(handshake, opts.timeoutMs, opts.signal, where, control);
  } finally {
    // Let the close frame go out when the handshake succeeded; then make sure nothing lingers.
    const s = socket;
    if (s) setTimeout(() => s.destroy(), 50).unref();
  }
}
