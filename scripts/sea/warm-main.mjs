// Run by scripts/build-binary.mjs with the binary's Node 24:
//   node24 scripts/sea/warm-main.mjs dist/sea/main.cjs SERVER_CONF
// Runs the agent's `preview beat --json` (writes nothing, connects to nothing) the way
// scripts/sea/loader.cjs runs it in the binary, then writes V8's code cache, which now holds
// the functions that path compiled, to main.cjs.cache.
import Module, { createRequire, isBuiltin } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { Script } from 'node:vm';

const [file, conf] = process.argv.slice(2);
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: 'pulp-entrypoint/main.cjs' });
const builtinOnly = (id) => {
  if (isBuiltin(id)) return createRequire(import.meta.url)(id);
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
};
// The agent reads its arguments and environment like the binary would.
process.argv = [process.execPath, file, 'preview', 'beat', '--json'];
process.env.PULP_SERVER_CONF = conf;
process.stdout.write = () => true;
process.on('exit', () => writeFileSync(`${file}.cache`, script.createCachedData()));
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, builtinOnly, mod, file, '.');
