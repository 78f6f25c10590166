// Entry of the standalone binaries (scripts/build-binary.mjs, bun build --compile). In a Bun
// executable process.argv is [bun, the embedded script, ...args], as for
// `node bin/pulp-entrypoint ARGS`, hence the same slice(2); the name it was started as (a link
// named keystone-entrypoint picks Keystone) is process.argv0, as the exec'ing shell gave it.
import { main } from '../src/main.ts';

void main(process.argv.slice(2), process.argv0);
