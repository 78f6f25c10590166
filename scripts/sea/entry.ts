// Entry of the standalone binary (Node single executable application).
// In a Node 24 SEA, process.argv is [binary, binary-as-invoked, ...args]: the
// runtime repeats the binary in argv[1] so that code written for
// `node script.js ARGS` keeps working, hence the same slice(2) as bin/pulp-entrypoint.
import { main } from '../../src/main.ts';

void main(process.argv.slice(2));
