// The MongoDB readiness probe (and the init-record read of a restart) for a direct connection
// (no replica set name), on one connection made by the official driver's own connection code:
// socket (TLS when asked), the hello handshake, authentication (SCRAM, as MongoClient would
// negotiate it), then `ping` (or `find`) as an OP_MSG command. A MongoClient would add a monitoring connection with its own handshake,
// server selection, and a pool connection with a second handshake before the ping; and
// loading all of it costs twice the CPU of these pieces. Measured in `npm run bench` (check).
//
// Uses internal modules of mongodb 7.x (declared in src/dependencies/mongodb/internals.d.ts): the
// tests run it against FerretDB (test/dependencies/mongodb-direct.test.ts: the same outcomes as the
// MongoClient path, credentials sent, TLS, one connection), so a driver update that moves
// them fails there, not in a pod.
import os from 'node:os';
import type { MongoClientOptions } from 'mongodb';
import { loadMongoProbe } from '../drivers.ts';
import { joinHostPort } from '../../common/net.ts';
import type { MongoTarget } from '../../common/targets.ts';
import { toProbeError } from '../classify.ts';
import { guardedConnection } from './connect.ts';
import type { AttemptOptions } from '../timeout.ts';
import { withTimeout } from '../timeout.ts';

type Seed = MongoTarget['seeds'][number];

/**
 * Connects to `seed`, authenticates as `options` says (mongoClientOptions), runs `ping` on
 * `database`, closes. The connection options are what MongoClient would derive from the same
 * MongoClientOptions for its pool.
 */
export async function pingDirect(seed: Seed, database: string, options: MongoClientOptions, opts: AttemptOptions): Promise<void> {
  await onDirectConnection(seed, database, options, opts, async (command) => {
    await command({ ping: 1 });
  });
}

/**
 * The first document of `collection` matching `filter` (a `find` with limit 1), or null, on
 * one direct connection as pingDirect makes it. For the init record a restarted pod reads.
 */
export async function findOneDirect(seed: Seed, database: string, options: MongoClientOptions, opts: AttemptOptions, collection: string, filter: Record<string, unknown>): Promise<Record<string, unknown> | null> {
  return onDirectConnection(seed, database, options, opts, async (command) => {
    const reply = await command({ find: collection, filter, limit: 1, singleBatch: true });
    const batch = (reply.cursor as { firstBatch?: unknown } | undefined)?.firstBatch;
    if (!Array.isArray(batch)) throw new Error(`unexpected reply to find on ${collection}`);
    return (batch[0] as Record<string, unknown> | undefined) ?? null;
  });
}

type Command = (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function onDirectConnection<T>(seed: Seed, database: string, options: MongoClientOptions, opts: AttemptOptions, fn: (command: Command) => Promise<T>): Promise<T> {
  const [d, connectionType] = await Promise.all([loadMongoProbe(), guardedConnection()]);
  const where = joinHostPort(seed.host, seed.port);
  // The driver's default is `await import('os')`, which the vm.Script that loads bin/'s drivers
  // chunk cannot do; MongoClient is given the same module through this option.
  const runtime = d.resolveRuntimeAdapters({ runtimeAdapters: { os } });
  const credentials =
    options.auth?.username !== undefined
      ? new d.MongoCredentials({ username: options.auth.username, password: options.auth.password ?? '', source: options.authSource ?? database, mechanismProperties: {} })
      : undefined;
  const tlsOptions: Record<string, unknown> = options.tls
    ? {
        ...(options.ca !== undefined && { ca: options.ca }),
        ...(options.cert !== undefined && { cert: options.cert }),
        ...(options.key !== undefined && { key: options.key }),
        ...(options.tlsAllowInvalidCertificates && { rejectUnauthorized: false }),
        ...(options.tlsAllowInvalidHostnames && { checkServerIdentity: () => undefined }),
      }
    : {};
  let conn: Awaited<ReturnType<typeof d.connect>> | undefined;
  const work = (async () => {
    conn = await d.connect({
      id: 1,
      generation: 0,
      hostAddress: d.HostAddress.fromString(where),
      tls: options.tls === true,
      ...tlsOptions,
      credentials,
      authProviders: new d.MongoClientAuthProviders(),
      metadata: d.makeClientMetadata([], { appName: options.appName, runtime }),
      runtime,
      connectTimeoutMS: options.connectTimeoutMS,
      socketTimeoutMS: options.socketTimeoutMS,
      monitorCommands: false,
      loadBalanced: false,
      noDelay: true,
      // The frame guard (a peer's length prefix cannot make the driver collect gigabytes).
      connectionType,
    });
    const c = conn;
    return fn((cmd) => c.command(d.ns(`${database}.$cmd`), cmd, { socketTimeoutMS: options.socketTimeoutMS }));
  })();
  try {
    return await withTimeout(work, opts.timeoutMs, opts.signal, where);
  } catch (err) {
    throw toProbeError(err, where);
  } finally {
    // A late connection (after a timeout) is closed when it arrives.
    void work.finally(() => conn?.destroy()).catch(() => {});
  }
}
