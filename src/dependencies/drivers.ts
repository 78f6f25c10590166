// The database and AMQP drivers (mongodb; mysql2; rhea for AMQP 1.0; amqplib for AMQP 0-9-1): the
// heaviest part of the agent (about 190 ms to load from node_modules on Node 20, against 40 ms
// to connect and ping), and needed only by the waits and the init. The build puts them in one
// CommonJS chunk, dist/drivers.cjs (its contents: scripts/build-constants.mjs), with a V8 code
// cache beside it (dist/drivers.cjs.v8-VERSION.cache), which loads in about a third of that
// time. Run from source (tests) or inside the standalone binary (which has a code cache of its
// own), they come from plain import().
/// <reference path="./mongodb/internals.d.ts" />
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

type MongoModule = typeof import('mongodb');
type RheaModule = typeof import('rhea');
type AmqplibModule = typeof import('amqplib');
type MysqlModule = typeof import('mysql2/promise');
type MongoConnectionModule = typeof import('mongodb/lib/cmap/connection.js');

/** Defined (true) by scripts/build.mjs, which writes the chunk. */
declare const PULP_DRIVERS_CHUNK: boolean | undefined;

/** bin/'s bundle loads the drivers from its chunk; source and the standalone binary import them. */
const FROM_CHUNK = typeof PULP_DRIVERS_CHUNK === 'boolean' && PULP_DRIVERS_CHUNK;

/** The driver pieces of the direct MongoDB probe (src/dependencies/mongodb/direct.ts), without MongoClient. */
export interface MongoProbeModule {
  connect: typeof import('mongodb/lib/cmap/connect.js').connect;
  makeClientMetadata: typeof import('mongodb/lib/cmap/handshake/client_metadata.js').makeClientMetadata;
  resolveRuntimeAdapters: typeof import('mongodb/lib/runtime_adapters.js').resolveRuntimeAdapters;
  MongoClientAuthProviders: typeof import('mongodb/lib/mongo_client_auth_providers.js').MongoClientAuthProviders;
  MongoCredentials: typeof import('mongodb/lib/cmap/auth/mongo_credentials.js').MongoCredentials;
  HostAddress: typeof import('mongodb/lib/utils.js').HostAddress;
  ns: typeof import('mongodb/lib/utils.js').ns;
}

interface Chunk {
  mongodb: MongoModule;
  /** The driver's Connection class, for its connectionType option (src/dependencies/mongodb/connect.ts). */
  mongodbConnection: MongoConnectionModule;
  rhea: RheaModule;
  amqplib: AmqplibModule;
  mysql: MysqlModule;
  mongoProbe: MongoProbeModule;
}

interface Loaded {
  chunk: Chunk;
  script: Script;
  cacheFile: string;
}

let loaded: Loaded | undefined;

function chunkPath(): string {
  return fileURLToPath(new URL('./drivers.cjs', import.meta.url));
}

/**
 * Evaluates the chunk through vm.Script, which takes V8's cached data (Node 20 has no
 * module.enableCompileCache). A missing or rejected cache (another Node version) is written
 * anew when the directory allows; a read-only image just loads without it.
 */
function load(): Loaded {
  if (loaded) return loaded;
  const file = chunkPath();
  // V8 rejects a cache made by another version, so each Node keeps its own.
  const cacheFile = `${file}.v8-${process.versions.v8}.cache`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const wrapper = script.runInThisContext() as (e: object, r: NodeJS.Require, m: { exports: object }, f: string, d: string) => void;
  const mod = { exports: {} };
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  loaded = { chunk: mod.exports as Chunk, script, cacheFile };
  if (cachedData === undefined || script.cachedDataRejected === true) writeCache(loaded);
  return loaded;
}

/** Holds every function this script has compiled so far; best effort (read-only images). */
function writeCache({ script, cacheFile }: Loaded): void {
  try {
    const tmp = `${cacheFile}.${process.pid}`;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    // Read-only: the next start compiles again, which is only slower.
  }
}

export async function loadMongo(): Promise<MongoModule> {
  if (FROM_CHUNK) return load().chunk.mongodb;
  return import('mongodb');
}

export async function loadMongoConnection(): Promise<MongoConnectionModule> {
  if (FROM_CHUNK) return load().chunk.mongodbConnection;
  return import('mongodb/lib/cmap/connection.js');
}

export async function loadMongoProbe(): Promise<MongoProbeModule> {
  if (FROM_CHUNK) return load().chunk.mongoProbe;
  const [connect, metadata, runtime, providers, credentials, utils] = await Promise.all([
    import('mongodb/lib/cmap/connect.js'),
    import('mongodb/lib/cmap/handshake/client_metadata.js'),
    import('mongodb/lib/runtime_adapters.js'),
    import('mongodb/lib/mongo_client_auth_providers.js'),
    import('mongodb/lib/cmap/auth/mongo_credentials.js'),
    import('mongodb/lib/utils.js'),
  ]);
  return {
    connect: connect.connect,
    makeClientMetadata: metadata.makeClientMetadata,
    resolveRuntimeAdapters: runtime.resolveRuntimeAdapters,
    MongoClientAuthProviders: providers.MongoClientAuthProviders,
    MongoCredentials: credentials.MongoCredentials,
    HostAddress: utils.HostAddress,
    ns: utils.ns,
  };
}

export async function loadRhea(): Promise<RheaModule> {
  if (FROM_CHUNK) return load().chunk.rhea;
  return import('rhea');
}

export async function loadAmqplib(): Promise<AmqplibModule> {
  if (FROM_CHUNK) return load().chunk.amqplib;
  return import('amqplib');
}

export async function loadMysql(): Promise<MysqlModule> {
  if (FROM_CHUNK) return load().chunk.mysql;
  const m = (await import('mysql2/promise')) as MysqlModule & { default?: MysqlModule };
  return m.default ?? m;
}

/**
 * For the build: load the chunk, run the drivers' connect paths against a port nobody
 * listens on (so V8 compiles what a real probe uses), then write the code cache with the
 * Node that will run it. A cache taken right after loading would hold top-level code only.
 */
export async function warmDriverCache(): Promise<void> {
  const l = load();
  const { mongodb, rhea, amqplib, mysql } = l.chunk;
  const client = new mongodb.MongoClient('mongodb://127.0.0.1:9/?directConnection=true', {
    serverSelectionTimeoutMS: 300,
    connectTimeoutMS: 300,
  });
  await client
    .connect()
    .then(() => client.db('admin').command({ ping: 1 }))
    .catch(() => undefined);
  await client.close(true).catch(() => undefined);
  await new Promise<void>((resolve) => {
    const container = (rhea as unknown as { default?: RheaModule }).default ?? rhea;
    const c = container.create_container({ id: 'warm' });
    const conn = c.connect({ host: '127.0.0.1', port: 9, reconnect: false });
    conn.on('disconnected', () => resolve());
    conn.on('error', () => resolve());
    setTimeout(resolve, 500).unref();
  });
  await amqplib.connect({ hostname: '127.0.0.1', port: 9 }).then(
    (c) => c.close(),
    () => undefined,
  );
  await mysql.createConnection({ host: '127.0.0.1', port: 9, connectTimeout: 300 }).then(
    (c) => c.end(),
    () => undefined,
  );
  writeCache(l);
}
