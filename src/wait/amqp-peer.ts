// What a broker's first bytes say about it, and the one line for a protocol it does not share
// with the service's client (the target's speaker says how to name it). Pure: the probes feed
// it the bytes they saw.
import type { AmqpSpeaker, BrokerProtocol } from '../common/targets.ts';
import { ProbeError } from '../dependencies/classify.ts';

/** The AMQP 0-9-1 protocol header, which RabbitMQ also sends back to any header it refuses. */
export const AMQP_0_9_1_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

export type PeerHeader =
  | { kind: 'not-amqp'; sent: string }
  | { kind: 'amqp'; version: '0-9-1' | '0-10' | '1.0' | 'other'; bytes: string };

/**
 * Reads a protocol header from the first bytes a peer sent; undefined when there are too few
 * to tell. An AMQP 0-9-1 broker answering a 0-9-1 header sends Connection.Start (a frame, not
 * a header): that is { kind: 'not-amqp' } here, so callers only ask after a handshake failed.
 */
export function readPeerHeader(first: Buffer): PeerHeader | undefined {
  if (first.length === 0) return undefined;
  const amqp = Buffer.from('AMQP', 'latin1');
  const prefix = first.subarray(0, Math.min(4, first.length));
  if (!amqp.subarray(0, prefix.length).equals(prefix)) {
    return { kind: 'not-amqp', sent: JSON.stringify(first.subarray(0, 16).toString('latin1')) };
  }
  if (first.length < 8) return undefined;
  const [id = 0, major = 0, minor = 0, revision = 0] = first.subarray(4, 8);
  const bytes = [id, major, minor, revision].join('.');
  if (first.subarray(0, 8).equals(AMQP_0_9_1_HEADER)) return { kind: 'amqp', version: '0-9-1', bytes };
  // 0-10 is "AMQP" 1 1 0 10; 1.0 is "AMQP" id 1 0 0 with id 0 (plain), 2 (TLS) or 3 (SASL).
  if (id === 1 && major === 1 && minor === 0 && revision === 10) return { kind: 'amqp', version: '0-10', bytes };
  if ((id === 0 || id === 2 || id === 3) && major === 1 && minor === 0 && revision === 0) return { kind: 'amqp', version: '1.0', bytes };
  return { kind: 'amqp', version: 'other', bytes };
}

type Peer = { address: string; protocol: BrokerProtocol; scheme: string; speaker: AmqpSpeaker };

function speaks(target: Peer): string {
  const s = target.speaker;
  return `${target.scheme}:// makes ${s.service} speak ${s.protocolName} (${s.client})`;
}

/**
 * The mismatch line for a peer header that Pulp's client could not use, or undefined when
 * the header is one the probe goes on with (AMQP 1.0 for the Qpid check) or a live Qpid.
 */
export function mismatch(peer: PeerHeader, target: Peer): ProbeError | undefined {
  const at = `protocol mismatch at ${target.address}`;
  if (peer.kind === 'not-amqp') {
    return new ProbeError('protocol', `${at}: not an AMQP server (it sent ${peer.sent}); is this the broker's AMQP port?`);
  }
  const { version } = peer;
  if (target.protocol === 'amqp-0-10') {
    if (version === '1.0' || version === '0-10') return undefined;
    if (version === '0-9-1') {
      return new ProbeError('protocol', `${at}: the broker speaks AMQP 0-9-1 only (RabbitMQ), but ${speaks(target)}; ${target.speaker.advice['0-9-1']}`);
    }
  } else {
    if (version === '0-9-1') return undefined;
    if (version === '0-10') {
      return new ProbeError('protocol', `${at}: the broker speaks AMQP 0-10 (Qpid), but ${speaks(target)}; ${target.speaker.advice['0-10']}`);
    }
    if (version === '1.0') {
      return new ProbeError('protocol', `${at}: the broker speaks AMQP 1.0 only, but ${speaks(target)}; ${target.speaker.needs}`);
    }
  }
  return new ProbeError('protocol', `${at}: the peer answered with AMQP header ${peer.bytes}, which ${target.speaker.service}'s client (${target.speaker.client}) does not speak`);
}

/** RabbitMQ's AMQP 1.0 plugin answers the Qpid check, but python-qpid cannot talk to RabbitMQ. */
export function rabbitBehindQpid(target: Peer): ProbeError {
  return new ProbeError(
    'protocol',
    `protocol mismatch at ${target.address}: RabbitMQ answered (through its AMQP 1.0 plugin), but ${speaks(target)}, which RabbitMQ does not; ${target.speaker.advice['0-9-1']}`,
  );
}

/** The ready line's addition when only liveness could be checked. */
export const QPID_0_10_LIVENESS =
  'only liveness was checked: the broker answered with the AMQP 0-10 header (a Qpid that python-qpid can use; no AMQP 0-10 client exists for Node), so the credentials were not tried';
