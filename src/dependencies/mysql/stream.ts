// The socket mysql2 reads from, with what it may read bounded. mysql2 collects a packet of any
// announced length (16 MiB, and "more follows" without end), a result set of any size, and
// prints a line of its own for a packet out of sequence; a peer that floods it grows the agent
// by gigabytes. So the agent makes the TCP connection itself and hands mysql2 this stream:
// every packet's header is read here first, and the stream is cut right before the first
// packet refused, so a refused packet is never collected, parsed or printed by mysql2
// (frame-guard.ts reads the other protocols' headers beside their drivers, which then still
// get the chunk that held the refused header; here the driver gets none of it). It also
// records whether the TCP connection was made and what came back, for the message when
// nothing does. Plaintext only, as the agent's MySQL targets are: over TLS the headers would
// have to be read above the TLS layer.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { ProbeError } from '../classify.ts';
import { type FrameFormat, FrameScanner, refusalMessage } from '../frame-guard.ts';

/** What one connection may receive. */
export interface MysqlLimits {
  /** The longest packet passed on, its 4-byte header included. */
  maxPacket: number;
  /** Everything the peer may send on this connection, in bytes and in packets; undefined: no limit (a long-lived session). */
  maxTotal: { bytes: number; packets: number } | undefined;
  /** Refuse a server packet whose sequence id does not follow the last packet of either side. */
  inSequence: boolean;
}

/**
 * The wait: a greeting, an auth exchange, `SELECT 1` and its result take about ten packets and
 * a few hundred bytes (a server's error message is at most 512); 16 KiB a packet, 64 KiB and
 * 64 packets in all are far beyond what a MySQL or MariaDB server sends there. mysql2 makes
 * objects of every packet it is given, so a peer answering with rows without end is bounded
 * by their number, not only by their bytes.
 */
export const MYSQL_PROBE_LIMITS: MysqlLimits = { maxPacket: 16 * 1024, maxTotal: { bytes: 64 * 1024, packets: 64 }, inSequence: true };

/**
 * The init's session: rows of the lease table (a record is a TEXT of at most 64 KiB) on a
 * connection that lives as long as the init. A server ends an idle session with an error
 * packet numbered 0 (MySQL 8.0.24's ER_CLIENT_INTERACTION_TIMEOUT), so the sequence is not
 * checked here.
 */
export const MYSQL_SESSION_LIMITS: MysqlLimits = { maxPacket: 1024 * 1024, maxTotal: undefined, inSequence: false };

/** What the socket saw, for the message when an attempt ends without an answer. */
export interface SocketState {
  /** The TCP connection was made. */
  connected: boolean;
  /** Bytes the peer sent. */
  received: number;
}

/** The first bytes a peer sent, as a message shows them: "SSH-2.0-OpenSSH_9". */
export function shownBytes(first: Buffer): string {
  return JSON.stringify(first.subarray(0, 16).toString('latin1'));
}

/** What the first packet of a session must be: protocol 10's greeting, or an error packet instead (too many connections). */
function greetingProblem(kind: number, first: Buffer): string | undefined {
  if (kind === 10 || kind === 0xff) return undefined;
  if (kind === 9) return 'the server greets with MySQL protocol 9 (MySQL before 3.22); MySQL and MariaDB clients speak protocol 10 only';
  return `not a MySQL server (it sent ${shownBytes(first)})`;
}

/**
 * MySQL packets: a 3-byte little-endian payload length, a sequence id, the payload. Every
 * packet this client can be sent has a payload (the empty packet only ends one of 16 MiB,
 * which is refused anyway), so 5 bytes are read at each boundary: the header and the
 * payload's first byte, which tells the greeting's protocol version. `expected` is shared with
 * the writer: the server's next packet follows the last one either side sent.
 */
function mysqlFormat(limits: MysqlLimits, seq: { expected: number; packets: number }, first: () => Buffer): FrameFormat {
  const most = limits.maxTotal?.packets;
  return {
    headerBytes: 5,
    measure: (h) => {
      const unit = { length: h.readUIntLE(0, 3) + 4, limit: limits.maxPacket, what: 'MySQL packet' };
      const [id = 0, kind = 0] = [h[3], h[4]];
      const n = seq.packets++;
      // The first bytes decide whether this is MySQL at all: a banner ("SSH-2.0") would read
      // as an absurd length and be reported as an oversized packet.
      const problem = n === 0 ? greetingProblem(kind, first()) : undefined;
      if (problem !== undefined) return { ...unit, problem };
      if (most !== undefined && n >= most) return { ...unit, problem: `the server sent more than ${most} packets, where a MySQL login and SELECT 1 take about ten` };
      if (limits.inSequence && id !== seq.expected) return { ...unit, problem: `MySQL packet out of sequence (number ${id}, expected ${seq.expected})` };
      seq.expected = (id + 1) & 0xff;
      return unit;
    },
  };
}

/** Follows the client's own packets, so the server's next sequence id is known. */
function clientFormat(seq: { expected: number }): FrameFormat {
  return {
    headerBytes: 4,
    measure: (h) => {
      seq.expected = ((h[3] ?? 0) + 1) & 0xff;
      return { length: h.readUIntLE(0, 3) + 4, limit: Number.POSITIVE_INFINITY, what: 'client packet' };
    },
  };
}

/**
 * The stream mysql2 is given (its `stream` option): writes go to the socket as they are,
 * reads come from it through the scanner, cut before the first packet refused, which ends the
 * stream with a ProbeError ('protocol') that mysql2 hands back as its connection error.
 */
export class GuardedMysqlStream extends Duplex {
  private readonly socket: net.Socket;
  private readonly incoming: FrameScanner;
  private readonly outgoing: FrameScanner;
  private first = Buffer.alloc(0);
  /** Bytes passed on to mysql2 so far. */
  private passed = 0;

  /** `state` is filled in as the socket connects and receives. */
  constructor(
    target: { host: string; port: number; address: string },
    private readonly limits: MysqlLimits,
    readonly state: SocketState = { connected: false, received: 0 },
  ) {
    super({ allowHalfOpen: false });
    const seq = { expected: 0, packets: 0 };
    this.incoming = new FrameScanner(mysqlFormat(limits, seq, () => this.first));
    this.outgoing = new FrameScanner(clientFormat(seq));
    const socket = net.connect({ host: target.host, port: target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once('connect', () => {
      this.state.connected = true;
    });
    socket.on('data', (chunk: Buffer) => this.received(chunk, target.address));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  private received(chunk: Buffer, where: string): void {
    if (this.destroyed) return;
    this.state.received += chunk.length;
    if (this.first.length < 16) this.first = Buffer.concat([this.first, chunk.subarray(0, 16 - this.first.length)]);
    const before = this.passed;
    const refusal = this.incoming.push(chunk);
    const most = this.limits.maxTotal?.bytes;
    const over = most !== undefined && this.state.received > most;
    // A refused packet's bytes and everything after them stay here.
    const keep = refusal === undefined ? chunk.length : refusal.offset - before;
    const allowed = over ? Math.min(keep, Math.max(0, most - before)) : keep;
    if (allowed > 0) {
      this.passed += allowed;
      if (!this.push(chunk.subarray(0, allowed))) this.socket.pause();
    }
    if (refusal !== undefined) this.destroy(new ProbeError('protocol', refusalMessage(refusal, where)));
    else if (over) {
      this.destroy(
        new ProbeError('protocol', `protocol mismatch at ${where}: the server sent more than ${most} bytes, where a MySQL login and SELECT 1 take a few hundred; refused the rest unread`),
      );
    }
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.outgoing.push(chunk);
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
