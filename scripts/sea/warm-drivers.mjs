// Run by scripts/build-binary.mjs with the Node 24 that the binary is made of:
//   node24 scripts/sea/warm-drivers.mjs dist/sea/drivers.cjs
// Loads the drivers chunk the way scripts/sea/drivers.ts does in the binary (same wrapper
// source, built-in modules only), then writes V8's code cache, which now covers every
// function that loading compiled, to dist/sea/drivers.cjs.cache.
import Module, { isBuiltin } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { Script } from 'node:vm';

const file = process.argv[2];
const require = (id) => {
  if (isBuiltin(id)) return process.getBuiltinModule(id);
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
};
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: 'pulp-entrypoint/drivers.cjs' });
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, 'pulp-entrypoint/drivers.cjs', 'pulp-entrypoint');
if (typeof mod.exports.mongodb?.MongoClient !== 'function' || typeof mod.exports.rhea?.connect !== 'function') {
  console.error('warm-drivers: the chunk did not export mongodb and rhea');
  process.exit(1);
}
writeFileSync(`${file}.cache`, script.createCachedData());
