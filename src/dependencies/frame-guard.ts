// A bound on what a peer may make the agent buffer. The drivers read a length prefix and then
// collect that many bytes before looking at them, with no upper limit (the mongodb driver up
// to 2 GiB, rhea's SASL layer up to 4 GiB): a peer that announces a huge message and streams
// zeros grows the agent by gigabytes and starves the deadline. The guard reads the same length
// prefixes on the stream the driver reads (plaintext: after TLS), before the driver's own
// listener, and destroys the stream with a ProbeError when one announces more than allowed,
// so nothing of that unit is ever collected.
//
// The scanner and the protocol formats are pure; guardStream() is the only effect.
import { ProbeError } from './classify.ts';

/** What one unit at a boundary is: its full length, including the header, and its limit. */
export interface Unit {
  length: number;
  limit: number;
  /** For the message: "MongoDB message", "AMQP 1.0 SASL frame", ... */
  what: string;
  /** Set when the header alone already shows the unit cannot be allowed, whatever its length (MySQL: out of sequence). */
  problem?: string;
}

/** How a protocol delimits what a peer sends. */
export interface FrameFormat {
  /** Bytes needed at a boundary to know the unit's length (every unit is at least this long). */
  readonly headerBytes: number;
  measure(header: Buffer): Unit;
}

/** Why a stream was refused: a unit longer than allowed, shorter than its own header, or with a problem its header shows. */
export interface Refusal {
  unit: Unit;
  /** Total bytes of the stream before the refused unit. */
  offset: number;
}

/**
 * Follows the unit boundaries of a byte stream, chunk by chunk; keeps at most one partial
 * header, never the data.
 */
export class FrameScanner {
  private skip = 0;
  private head = Buffer.alloc(0);
  private seen = 0;

  constructor(private readonly format: FrameFormat) {}

  /** The first refused unit in `chunk`, or undefined when everything in it is allowed. */
  push(chunk: Buffer): Refusal | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const need = this.format.headerBytes - this.head.length;
      const take = chunk.subarray(at, at + need);
      this.head = this.head.length === 0 ? Buffer.from(take) : Buffer.concat([this.head, take]);
      at += take.length;
      if (this.head.length < this.format.headerBytes) break;
      const unit = this.format.measure(this.head);
      const start = this.seen + at - this.head.length;
      this.head = Buffer.alloc(0);
      if (unit.problem !== undefined || unit.length > unit.limit || unit.length < this.format.headerBytes) return { unit, offset: start };
      this.skip = unit.length - this.format.headerBytes;
    }
    this.seen += chunk.length;
    return undefined;
  }
}

/** The message for a refused unit; one line. */
export function refusalMessage(r: Refusal, where: string): string {
  const { length, limit, what, problem } = r.unit;
  if (problem !== undefined) return `protocol mismatch at ${where}: ${problem}`;
  return length > limit
    ? `oversized ${what} at ${where}: the peer announced ${length} bytes, at most ${limit} are allowed here; refused unread`
    : `malformed ${what} at ${where}: the peer announced ${length} bytes, less than its own header`;
}

/** A stream the guard can watch: the socket a driver reads from. */
export interface GuardedStream {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  destroy(error?: Error): unknown;
}

export interface Guard {
  /** Stops watching (the protocol is past the part that needed it, or the stream is done). */
  stop(): void;
  /** Set once a unit was refused. */
  readonly refused: ProbeError | undefined;
}

/**
 * Watches `stream` with `format` and destroys it with a ProbeError ('protocol') on the first
 * unit that is too long. Call it before the driver attaches its own 'data' listener, so the
 * guard sees each chunk first: listeners run in the order they were added, and the refused
 * chunk is the last one the driver gets. It fits drivers that read in flowing mode (rhea,
 * mongodb's pipe) or with read() without a size (amqplib: 'data' is emitted per read); one
 * that called read(n) with a huge n would make the stream buffer n bytes before any 'data'.
 */
export function guardStream(stream: GuardedStream, format: FrameFormat, where: string): Guard {
  const scanner = new FrameScanner(format);
  let refused: ProbeError | undefined;
  const onData = (chunk: Buffer): void => {
    const r = scanner.push(chunk);
    if (r === undefined) return;
    refused = new ProbeError('protocol', refusalMessage(r, where));
    stream.off('data', onData);
    stream.destroy(refused);
  };
  stream.on('data', onData);
  return {
    stop: () => stream.off('data', onData),
    get refused() {
      return refused;
    },
  };
}

// ---- Formats ------------------------------------------------------------------------------

/** MongoDB's own ceiling for any message (maxMessageSizeBytes, 48 MB). */
export const MONGO_MAX_MESSAGE = 48_000_000;
/**
 * Until the hello is answered: the replies then (hello, SASL steps) are a few hundred bytes,
 * so 1 MiB is generous and keeps a hostile peer's cost small.
 */
export const MONGO_MAX_BEFORE_HELLO = 1024 * 1024;

/** MongoDB wire protocol: every message starts with its total length, int32 little-endian. */
export function mongoFormat(limits: { max: number }): FrameFormat {
  return {
    headerBytes: 4,
    measure: (h) => ({ length: h.readUInt32LE(0), limit: limits.max, what: 'MongoDB message' }),
  };
}

const AMQP = Buffer.from('AMQP', 'latin1');

/**
 * The max-frame-size the AMQP 1.0 probe announces in its open: the peer must send nothing
 * larger (the handshake's frames are a few hundred bytes; rhea's own default is 4 GiB).
 */
export const AMQP10_MAX_FRAME = 64 * 1024;
/**
 * SASL frames: the spec bounds them at MIN-MAX-FRAME-SIZE (512 bytes); 4 KiB leaves room for
 * a broker that lists many mechanisms a little outside it, at no cost.
 */
export const AMQP10_MAX_SASL_FRAME = 4096;

/**
 * AMQP 1.0 (rhea): a protocol header ("AMQP" + 4 bytes) where a layer starts (SASL, then
 * AMQP), else a frame: size (uint32 big-endian, header included), doff, type (1 = SASL), channel.
 * SASL frames get `sasl`, the others `max`, our advertised max-frame-size.
 */
export function amqp10Format(limits: { sasl: number; max: number }): FrameFormat {
  return {
    headerBytes: 8,
    measure: (h) => {
      if (h.subarray(0, 4).equals(AMQP)) return { length: 8, limit: 8, what: 'AMQP protocol header' };
      const sasl = h[5] === 1;
      return { length: h.readUInt32BE(0), limit: sasl ? limits.sasl : limits.max, what: sasl ? 'AMQP 1.0 SASL frame' : 'AMQP 1.0 frame' };
    },
  };
}
