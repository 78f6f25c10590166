// src/drivers.ts as the standalone binary has it (scripts/build-binary.mjs puts this module
// in its place). The drivers travel as two SEA assets: drivers.cjs (mongodb, rhea and amqplib
// in one CommonJS chunk) and drivers.cjs.cache, V8's code cache made by Node 24 after *running*
// the chunk, so it holds the module bodies V8 compiled while loading. The SEA's own code
// cache (useCodeCache) is made before running and so leaves every lazily compiled function
// out; for the drivers, the bulk of the start-up cost, that is most of their code.
// Same API as src/drivers.ts.
import Module, { isBuiltin } from 'node:module';
import { getAsset } from 'node:sea';
import { Script } from 'node:vm';

type MongoModule = typeof import('mongodb');
type RheaModule = typeof import('rhea');
type AmqplibModule = typeof import('amqplib');
type MongoConnectionModule = typeof import('mongodb/lib/cmap/connection.js');

interface Chunk {
  mongodb: MongoModule;
  mongodbConnection: MongoConnectionModule;
  rhea: RheaModule;
  amqplib: AmqplibModule;
}

type Wrapper = (exports: object, require: (id: string) => unknown, module: { exports: object }, filename: string, dirname: string) => void;

/** Built-in modules only: an optional driver peer (kerberos, snappy...) is simply absent, as mongodb expects. */
export function builtinRequire(id: string): unknown {
  if (isBuiltin(id)) return process.getBuiltinModule(id);
  throw Object.assign(new Error(`Cannot find module '${id}' (not built into pulp-entrypoint)`), { code: 'MODULE_NOT_FOUND' });
}

/** Shared with the build, which must compile exactly this source to make a cache V8 accepts. */
export function compileChunk(code: string, cachedData: Buffer | undefined): { script: Script; chunk: Chunk } {
  const script = new Script(Module.wrap(code), { filename: 'pulp-entrypoint/drivers.cjs', cachedData });
  const wrapper = script.runInThisContext() as Wrapper;
  const mod = { exports: {} };
  wrapper.call(mod.exports, mod.exports, builtinRequire, mod, 'pulp-entrypoint/drivers.cjs', 'pulp-entrypoint');
  return { script, chunk: mod.exports as Chunk };
}

let chunk: Chunk | undefined;

function loadChunk(): Chunk {
  chunk ??= compileChunk(getAsset('drivers.cjs', 'utf8'), Buffer.from(getAsset('drivers.cjs.cache'))).chunk;
  return chunk;
}

export async function loadMongo(): Promise<MongoModule> {
  return loadChunk().mongodb;
}

export async function loadMongoConnection(): Promise<MongoConnectionModule> {
  return loadChunk().mongodbConnection;
}

export async function loadRhea(): Promise<RheaModule> {
  return loadChunk().rhea;
}

export async function loadAmqplib(): Promise<AmqplibModule> {
  return loadChunk().amqplib;
}

/** The binary's cache is made at build time (scripts/build-binary.mjs), not by the binary. */
export function warmDriverCache(): void {}
