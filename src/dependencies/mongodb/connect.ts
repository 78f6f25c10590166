// A MongoDB connection that answered `ping`, authenticated the way Pulp 2 does it (against its
// own database `name`): shared by the wait's probe and the init's record. The driver loads only
// when one is made, never on configure/preview.
import type { Duplex } from 'node:stream';
import type { MongoClient, MongoClientOptions } from 'mongodb';
import type { Connection, ConnectionOptions } from 'mongodb/lib/cmap/connection.js';
import { loadMongo, loadMongoConnection } from '../drivers.ts';
import { joinHostPort } from '../../common/net.ts';
import type { MongoTarget } from '../../common/targets.ts';
import { ProbeError, toProbeError } from '../classify.ts';
import { MONGO_MAX_BEFORE_HELLO, MONGO_MAX_MESSAGE, guardStream, mongoFormat } from '../frame-guard.ts';
import { readTlsFiles } from '../tls-files.ts';
import { type AttemptOptions, withTimeout } from '../timeout.ts';
import { programNames } from '../../common/program.ts';

type Seed = MongoTarget['seeds'][number];

export function mongoUrl(seeds: Seed[]): string {
  return `mongodb://${seeds.map((s) => joinHostPort(s.host, s.port)).join(',')}/`;
}

/**
 * The driver's Connection, with a guard on the stream it reads (plaintext, after TLS) that
 * refuses a message longer than allowed before the driver starts collecting it: 1 MiB until
 * the hello is answered, then the server's own maxMessageSizeBytes (at most MongoDB's 48 MB).
 * The driver itself accepts any length up to 2 GiB. Every connection the client opens (the
 * monitor's, the pool's, the RTT pinger's) is made from this class.
 */
export function guardedConnectionType(Base: typeof Connection): typeof Connection {
  return class GuardedConnection extends Base {
    private readonly limits: { max: number };

    constructor(stream: Duplex, options: ConnectionOptions) {
      const limits = { max: MONGO_MAX_BEFORE_HELLO };
      // Before super(): the guard's 'data' listener must come before the driver's.
      guardStream(stream, mongoFormat(limits), String(options.hostAddress ?? 'the MongoDB server'));
      super(stream, options);
      this.limits = limits;
    }

    override get hello(): unknown {
      return super.hello;
    }

    override set hello(response: unknown) {
      super.hello = response;
      const announced = Number((response as { maxMessageSizeBytes?: unknown } | null | undefined)?.maxMessageSizeBytes);
      this.limits.max = announced > 0 ? Math.min(announced, MONGO_MAX_MESSAGE) : MONGO_MAX_MESSAGE;
    }
  };
}

let guarded: Promise<typeof Connection> | undefined;

/** The guarded Connection class, for MongoClient and the direct probe alike. */
export function guardedConnection(): Promise<typeof Connection> {
  guarded ??= loadMongoConnection().then((m) => guardedConnectionType(m.Connection));
  return guarded;
}

/** Driver options for one attempt. TLS material is passed in, already read. */
export function mongoClientOptions(
  target: MongoTarget,
  timeoutMs: number,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {},
): MongoClientOptions {
  const t = Math.max(100, Math.round(timeoutMs));
  const opts: MongoClientOptions = {
    // Without a replica set name every seed is asked on its own: with several seeds and no
    // name, the driver's discovery drops standalone servers from the topology, so a list
    // where only the second seed answers would never become ready.
    directConnection: target.replicaSet === undefined,
    serverSelectionTimeoutMS: t,
    // Shorter than server selection, so a silent peer is reported as a connect timeout
    // rather than as a generic "no server selected".
    connectTimeoutMS: Math.max(50, Math.round(t * 0.8)),
    socketTimeoutMS: t,
    waitQueueTimeoutMS: t,
    maxPoolSize: 1,
    retryReads: false,
    retryWrites: false,
    appName: programNames().program,
  };
  if (target.replicaSet !== undefined) opts.replicaSet = target.replicaSet;
  if (target.username !== undefined) {
    opts.auth = { username: target.username, password: target.password ?? '' };
    opts.authSource = target.database;
  }
  if (target.tls) {
    opts.tls = true;
    if (!target.tlsVerify) {
      opts.tlsAllowInvalidCertificates = true;
      opts.tlsAllowInvalidHostnames = true;
    }
    if (tls.ca) opts.ca = tls.ca;
    if (tls.cert) opts.cert = tls.cert;
    if (tls.key) opts.key = tls.key;
  }
  return opts;
}

/** One client for `seeds`, connected and pinged within the attempt's time, or closed. */
async function pingClient(target: MongoTarget, seeds: Seed[], options: MongoClientOptions, opts: AttemptOptions): Promise<MongoClient> {
  const { MongoClient } = await loadMongo();
  // connectionType is accepted by the driver's option parser but missing from its typings.
  const client = new MongoClient(mongoUrl(seeds), { ...options, connectionType: await guardedConnection() } as MongoClientOptions);
  const where = seeds.map((s) => joinHostPort(s.host, s.port)).join(',');
  // A direct connection has one server: its first failed heartbeat is the answer (refused,
  // reset, ...), so there is no point in waiting out server selection.
  const heartbeatFailed = new Promise<never>((_resolve, reject) => {
    if (options.directConnection) client.once('serverHeartbeatFailed', (ev) => reject(ev.failure));
  });
  heartbeatFailed.catch(() => {});
  try {
    await withTimeout(
      Promise.race([
        heartbeatFailed,
        (async () => {
          await client.connect();
          await client.db(target.database).command({ ping: 1 });
        })(),
      ]),
      opts.timeoutMs,
      opts.signal,
      where,
    );
    return client;
  } catch (err) {
    void client.close(true).catch(() => {});
    throw toProbeError(err, where);
  }
}

/** The driver options of one attempt, with the TLS files read. */
export async function probeOptions(target: MongoTarget, opts: AttemptOptions): Promise<MongoClientOptions> {
  return mongoClientOptions(target, opts.timeoutMs, target.tls
      ? await readTlsFiles({
          ca: { file: target.caFile, setting: target.tlsSettings.ca },
          cert: { file: target.certFile, setting: target.tlsSettings.cert },
          key: { file: target.keyFile, setting: target.tlsSettings.key },
        })
      : {});
}

/**
 * A connected client that answered `ping`. With a replica set name: the driver's replica-set
 * discovery over all seeds. Without one: every seed is tried at once with a direct connection
 * and the first that answers wins (the others are closed).
 */
export async function connectMongo(target: MongoTarget, opts: AttemptOptions): Promise<MongoClient> {
  const options = await probeOptions(target, opts);
  if (target.replicaSet !== undefined || target.seeds.length === 1) {
    return pingClient(target, target.seeds, options, opts);
  }
  const attempts = target.seeds.map((seed) => pingClient(target, [seed], options, opts));
  try {
    const winner = await Promise.any(attempts);
    for (const a of attempts) void a.then((c) => (c === winner ? undefined : c.close(true)), () => {});
    return winner;
  } catch (err) {
    const errors = (err as AggregateError).errors.map((e) => toProbeError(e, target.address));
    // An authentication failure anywhere means the credentials are wrong, whichever seed said so.
    const first = errors.find((e) => e.permanent) ?? errors[0];
    if (!first) throw toProbeError(err, target.address);
    const message = errors.length > 1 ? errors.map((e) => e.message).join('; ') : first.message;
    throw new ProbeError(first.reason, message, first.permanent);
  }
}
