// Run by Bun (scripts/build-binary.mjs starts it with the pinned Bun): one standalone
// executable, `bun scripts/compile-binary.mjs SPEC.json` with { entry, outfile, target,
// executablePath, define, external, jitPolicy, minify }.
//
// The plugin defers a few of mongodb's module-level require()s to first use. Loading the
// driver's connection code otherwise loads node:zlib, node:http and node:dns (used only for
// compression, cloud credentials and SRV records) and @mongodb-js/saslprep, which gunzips its
// Unicode tables at load (7 ms) although only SCRAM-SHA-256 with a password needs them. Every
// use of these modules in the driver is inside a function, so a proxy that requires the real
// module on first property access behaves the same.
import { readFileSync } from 'node:fs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const LAZY = /require\("(zlib|http|https|dns|@mongodb-js\/saslprep)"\)/g;

const lazyRequires = {
  name: 'lazy-driver-requires',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]mongodb[\\/]lib[\\/].*\.js$/ }, async (args) => {
      const text = await Bun.file(args.path).text();
      return {
        loader: 'js',
        contents: text.replace(LAZY, (_m, id) => `new Proxy({}, { get: (_t, k) => require(${JSON.stringify(id)})[k] })`),
      };
    });
  },
};

const result = await Bun.build({
  entrypoints: [spec.entry],
  compile: {
    target: spec.target,
    outfile: spec.outfile,
    executablePath: spec.executablePath,
    // A container's working directory may hold a .env or bunfig.toml meant for something
    // else; the agent reads only its own environment, as bin/ does.
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
    jitPolicy: spec.jitPolicy,
  },
  bytecode: true,
  minify: spec.minify ? { whitespace: true, syntax: true, identifiers: true, keepNames: true } : false,
  define: spec.define,
  external: spec.external,
  plugins: [lazyRequires],
});
if (!result.success) {
  for (const l of result.logs) console.error(String(l));
  process.exit(1);
}
