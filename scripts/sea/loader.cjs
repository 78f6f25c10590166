// The SEA's main script: runs the agent (asset main.cjs) with V8's code cache made by
// *running* it at build time (asset main.cjs.cache, scripts/sea/warm-main.mjs). The SEA's
// own code cache is made before running, so it covers only top-level code; this one also
// holds every function the configure/preview path compiled.
const { getAsset } = require('node:sea');
const Module = require('node:module');
const { Script } = require('node:vm');

const script = new Script(Module.wrap(getAsset('main.cjs', 'utf8')), {
  filename: 'pulp-entrypoint/main.cjs',
  cachedData: Buffer.from(getAsset('main.cjs.cache')),
});
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, __filename, __dirname);
