// The tests that run the agent as a whole process (CLI, PID 1 in a PID namespace, privilege
// drop, signals, init, waits, a real Celery worker, the real Pulp 2) once more, against the standalone binary
// dist/pulp-entrypoint (Bun) instead of bin/pulp-entrypoint (Node): each file runs in a child
// process with PULP_TEST_PROGRAM=binary (test/helpers/cli.ts), and its results are this
// file's subtests.
import t from 'tap';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { ensureBinaries } from '../helpers/binary.ts';

const FILES = ['cli/preview', 'cli/refusals', 'cli/run', 'exec/pid1', 'init/ferretdb', 'exec/celery', 'e2e/pulp2-real'];

const buildError = ensureBinaries();
if (buildError) {
  t.fail(buildError);
} else {
  for (const f of FILES) {
    t.spawn(process.execPath, [...process.execArgv, join(ROOT, 'test', `${f}.test.ts`)], { env: { ...process.env, PULP_TEST_PROGRAM: 'binary' } }, `${f} against dist/pulp-entrypoint`);
  }
}
