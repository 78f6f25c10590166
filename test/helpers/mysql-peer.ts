// Hostile (and merely odd) MySQL servers on raw loopback sockets (scriptedPeer, net.ts), for
// the tests of the MySQL wait and the init's connection: the packets of the client/server
// protocol built by hand (https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html),
// so a test says exactly what the peer sends and when.

/** Capability flags of the handshake (CLIENT_*). */
export const CAP = {
  LONG_PASSWORD: 0x1,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  PLUGIN_AUTH: 0x80000,
} as const;

/** What a MariaDB 10.11 greets with, as far as mysql2 looks. */
export const USUAL_CAPABILITIES = CAP.LONG_PASSWORD | CAP.CONNECT_WITH_DB | CAP.PROTOCOL_41 | CAP.TRANSACTIONS | CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH;

/** One packet: 3-byte little-endian payload length, sequence id, payload. */
export function packet(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq & 0xff;
  return Buffer.concat([h, payload]);
}

/** Protocol 10's initial handshake (the server's greeting). */
export function greeting(o: { protocol?: number; capabilities?: number; plugin?: string; version?: string } = {}): Buffer {
  const caps = o.capabilities ?? USUAL_CAPABILITIES;
  const scramble = Buffer.from('0123456789abcdefghij', 'latin1');
  const low = Buffer.alloc(2);
  low.writeUInt16LE(caps & 0xffff);
  const high = Buffer.alloc(2);
  high.writeUInt16LE((caps >>> 16) & 0xffff);
  return packet(
    0,
    Buffer.concat([
      Buffer.from([o.protocol ?? 10]),
      Buffer.from(`${o.version ?? '10.11.6-MariaDB'}\0`, 'latin1'),
      Buffer.from([1, 0, 0, 0]), // connection id
      scramble.subarray(0, 8),
      Buffer.from([0]),
      low,
      Buffer.from([45]), // utf8mb4
      Buffer.from([2, 0]), // status: autocommit
      high,
      Buffer.from([21]), // length of the scramble + 1
      Buffer.alloc(10),
      scramble.subarray(8),
      Buffer.from([0]),
      Buffer.from(`${o.plugin ?? 'mysql_native_password'}\0`, 'latin1'),
    ]),
  );
}

/** An auth switch request: the server asks for another authentication plugin. */
export function authSwitch(seq: number, plugin: string): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`, 'latin1'), Buffer.from('0123456789abcdefghij\0', 'latin1')]));
}

/** An ERR packet with `errno` and `message`. */
export function errPacket(seq: number, errno: number, message: string | Buffer): Buffer {
  const e = Buffer.alloc(3);
  e[0] = 0xff;
  e.writeUInt16LE(errno, 1);
  return packet(seq, Buffer.concat([e, Buffer.from('#28000', 'latin1'), typeof message === 'string' ? Buffer.from(message, 'utf8') : message]));
}

/** An OK packet: no rows affected, autocommit. */
export function okPacket(seq: number): Buffer {
  return packet(seq, Buffer.from([0, 0, 0, 2, 0, 0, 0]));
}

/** The start of `SELECT 1`'s answer (packets 1 to 3): one column named "1", BIGINT, then EOF. */
export function resultHead(): Buffer {
  const column = Buffer.concat([
    Buffer.from([3]),
    Buffer.from('def', 'latin1'),
    Buffer.from([0, 0, 0, 1]),
    Buffer.from('1', 'latin1'),
    Buffer.from([0, 0x0c, 0x3f, 0, 1, 0, 0, 0, 8, 0x81, 0, 0, 0, 0]),
  ]);
  return Buffer.concat([packet(1, Buffer.from([1])), packet(2, column), eofPacket(3)]);
}

/** A row of one text value (shorter than 251 bytes). */
export function row(seq: number, value: string): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([value.length]), Buffer.from(value, 'latin1')]));
}

/** An EOF packet (the end of columns or rows, without CLIENT_DEPRECATE_EOF). */
export function eofPacket(seq: number): Buffer {
  return packet(seq, Buffer.from([0xfe, 0, 0, 2, 0]));
}

/** The header of a packet announcing `length` bytes (the most: 0xffffff, "more follows"). */
export function header(length: number, seq = 0): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(length, 0, 3);
  h[3] = seq;
  return h;
}
