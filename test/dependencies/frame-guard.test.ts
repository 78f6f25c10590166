// The frame guard (src/dependencies/frame-guard.ts): the scanner over arbitrary chunkings, each
// protocol's format, the guard on a stream, the MongoDB connection class that raises its limit
// after the hello, and a real FerretDB reply larger than the pre-hello limit still read whole.
import t from 'tap';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import {
  FrameScanner,
  MONGO_MAX_BEFORE_HELLO,
  MONGO_MAX_MESSAGE,
  amqp10Format,
  guardStream,
  mongoFormat,
} from '../../src/dependencies/frame-guard.ts';
import { ProbeError, toProbeError } from '../../src/dependencies/classify.ts';
import { connectMongo, guardedConnectionType } from '../../src/dependencies/mongodb/connect.ts';
import type { Connection } from 'mongodb/lib/cmap/connection.js';
import { requireServices } from '../helpers/services.ts';
import { mongoFromConf } from '../helpers/targets.ts';

const mongoMsg = (length: number): Buffer => {
  const b = Buffer.alloc(length);
  b.writeUInt32LE(length, 0);
  return b;
};
const amqp10Frame = (length: number, type: number): Buffer => {
  const b = Buffer.alloc(length);
  b.writeUInt32BE(length, 0);
  b[4] = 2;
  b[5] = type;
  return b;
};

/** `bytes` cut at the given offsets. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

function firstRefusal(scanner: FrameScanner, chunks: Buffer[]): ReturnType<FrameScanner['push']> {
  for (const c of chunks) {
    const r = scanner.push(c);
    if (r) return r;
  }
  return undefined;
}

t.test('scanner: allowed units pass and the first oversized one is found, however the bytes are cut', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 16, max: 300 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (sizes, cuts) => {
      const limits = { max: 300 };
      const ok = Buffer.concat(sizes.map(mongoMsg));
      if (firstRefusal(new FrameScanner(mongoFormat(limits)), chunked(ok, cuts)) !== undefined) return false;
      const bad = Buffer.concat([ok, mongoMsg(301)]);
      const r = firstRefusal(new FrameScanner(mongoFormat(limits)), chunked(bad, cuts));
      return r !== undefined && r.unit.length === 301 && r.offset === ok.length;
    }),
  );
});

t.test('scanner: a length shorter than the header is refused (it would never advance)', async (t) => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(2, 0);
  const r = new FrameScanner(mongoFormat({ max: 100 })).push(b);
  t.equal(r?.unit.length, 2);
});

t.test('MongoDB: little-endian length; a negative int32 is a length over 2 GiB', async (t) => {
  const f = mongoFormat({ max: MONGO_MAX_BEFORE_HELLO });
  t.equal(f.measure(mongoMsg(200)).length, 200);
  const neg = Buffer.alloc(4);
  neg.writeInt32LE(-16, 0);
  t.ok(f.measure(neg).length > MONGO_MAX_MESSAGE);
});

t.test('AMQP 1.0: protocol headers between layers, SASL frames and AMQP frames each with their limit', async (t) => {
  const limits = { sasl: 512, max: 1024 };
  const stream = Buffer.concat([
    Buffer.from('AMQP\x03\x01\x00\x00', 'latin1'),
    amqp10Frame(512, 1),
    amqp10Frame(40, 1),
    Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'),
    amqp10Frame(1024, 0),
    amqp10Frame(8, 0), // an empty frame (heartbeat)
  ]);
  t.equal(new FrameScanner(amqp10Format(limits)).push(stream), undefined);
  const sasl = new FrameScanner(amqp10Format(limits)).push(Buffer.concat([Buffer.from('AMQP\x03\x01\x00\x00', 'latin1'), amqp10Frame(513, 1)]));
  t.same(sasl && { ...sasl.unit, offset: sasl.offset }, { length: 513, limit: 512, what: 'AMQP 1.0 SASL frame', offset: 8 });
  const amqp = new FrameScanner(amqp10Format(limits)).push(Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), amqp10Frame(1025, 0)]));
  t.equal(amqp?.unit.what, 'AMQP 1.0 frame');
});

t.test('guardStream: the stream is destroyed with a ProbeError before a later listener collects the unit', async (t) => {
  const stream = new PassThrough();
  const guard = guardStream(stream, mongoFormat({ max: 100 }), 'db:27017');
  stream.on('data', () => {});
  const error = new Promise<Error>((resolve) => stream.on('error', resolve));
  stream.write(mongoMsg(50));
  stream.write(Buffer.concat([mongoMsg(60).subarray(0, 4), Buffer.alloc(10)]));
  stream.write(Buffer.alloc(46)); // the rest of the 60-byte message
  const big = Buffer.alloc(8);
  big.writeUInt32LE(0x7ffffff0, 0);
  stream.write(big);
  const err = await error;
  t.ok(err instanceof ProbeError);
  t.equal(guard.refused, err);
  t.match(err.message, /^oversized MongoDB message at db:27017: the peer announced 2147483632 bytes, at most 100 are allowed here/);
  t.equal((err as ProbeError).reason, 'protocol');
  t.ok(stream.destroyed);
  t.same(toProbeError(Object.assign(new Error('connection 1 closed'), { cause: err }), 'x'), err, 'found inside the driver\'s wrapper');
});

t.test('the MongoDB connection class: 1 MiB until the hello, then the server\'s maxMessageSizeBytes (at most 48 MB)', async (t) => {
  class FakeConnection {
    private h: unknown;
    constructor(
      readonly stream: PassThrough,
      _options: object,
    ) {
      stream.on('data', () => {});
    }
    get hello(): unknown {
      return this.h;
    }
    set hello(v: unknown) {
      this.h = v;
    }
  }
  const Guarded = guardedConnectionType(FakeConnection as unknown as typeof Connection);
  const header = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    return b;
  };
  const run = async (hello: unknown, announce: number): Promise<Error | undefined> => {
    const stream = new PassThrough();
    const c = new Guarded(stream, {});
    if (hello !== undefined) c.hello = hello;
    const err = new Promise<Error | undefined>((resolve) => {
      stream.on('error', resolve);
      setTimeout(() => resolve(undefined), 50);
    });
    stream.write(header(announce));
    return err;
  };
  t.ok(await run(undefined, MONGO_MAX_BEFORE_HELLO + 1), 'before the hello: over 1 MiB refused');
  t.notOk(await run(undefined, MONGO_MAX_BEFORE_HELLO), 'before the hello: 1 MiB allowed');
  t.notOk(await run({ maxMessageSizeBytes: 48_000_000 }, 20_000_000), 'after the hello: 20 MB allowed');
  t.ok(await run({ maxMessageSizeBytes: 48_000_000 }, 48_000_001), 'after the hello: over 48 MB refused');
  t.ok(await run({ maxMessageSizeBytes: 4_000_000_000 }, 48_000_001), 'a server cannot raise it past 48 MB');
  t.notOk(await run({}, 48_000_000), 'a hello without the field: 48 MB');
});

const s = requireServices(t, 'the frame guard against FerretDB');
if (s) {
  t.test('FerretDB: a 3 MiB document is read back whole through the guarded connection', async (t) => {
    const client = await connectMongo(mongoFromConf(s.mongodb), { timeoutMs: 5000 });
    t.teardown(() => client.close(true));
    const coll = client.db('pulp_entrypoint_guard_test').collection<{ _id: number; blob: string }>('big');
    const blob = 'x'.repeat(3 * 1024 * 1024);
    await coll.replaceOne({ _id: 1 }, { blob }, { upsert: true });
    const back = await coll.findOne({ _id: 1 });
    t.equal(back?.blob.length, blob.length, 'more than the 1 MiB allowed before the hello');
    await coll.drop().catch(() => undefined);
  });
}
