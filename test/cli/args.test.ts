// src/cli/args.ts: the command line -> Command (pure).
import t from 'tap';
import { parseArgs as parseWith } from '../../src/cli/args.ts';
import { ROLES } from '../../src/pulp/roles.ts';

const parseArgs = (argv: string[]) => parseWith(argv, ROLES);

t.test('roles and their arguments', async (t) => {
  t.same(parseArgs(['worker', '--concurrency=2']), { kind: 'run', role: 'worker', args: ['--concurrency=2'] });
  t.same(parseArgs(['run', 'beat', '--help']), { kind: 'run', role: 'beat', args: ['--help'] }, "run ROLE --help is the role's");
  t.same(parseArgs(['worker', '--help']), { kind: 'run', role: 'worker', args: ['--help'] });
  t.same(parseArgs(['preview', '--help']), { kind: 'help' });
  t.same(parseArgs(['bash', '-l']), { kind: 'exec', argv: ['bash', '-l'] });
  t.same(parseArgs(['wait', '--timeout', '2.5']), { kind: 'wait', timeoutSec: 2.5 });
  t.same(parseArgs(['check', '--timeout=3']), { kind: 'check', timeoutSec: 3 });
  t.same(parseArgs(['preview', '--json', 'worker']), { kind: 'preview', role: 'worker', json: true });
});

t.test('usage errors name what is wrong', async (t) => {
  t.throws(() => parseArgs(['--concurrency=2']), { name: 'UsageError', message: /options for the role go after it/ });
  t.throws(() => parseArgs(['preview', 'beat', 'worker']), { name: 'UsageError', message: /one role only/ });
  t.throws(() => parseArgs(['wait', '--timeout', '0']), { name: 'UsageError' });
  t.throws(() => parseArgs(['run', 'celery']), { name: 'UsageError', message: /unknown role "celery"/ });
});
