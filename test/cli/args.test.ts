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

t.test('a first word that is not ours and no program is refused, with the word meant when one is close', async (t) => {
  const onPath = new Set(['bash', 'sh', 'python']);
  const parse = (argv: string[]) => parseWith(argv, ROLES, ['keys'], (name) => onPath.has(name));
  // [argv, the suggestion, or undefined for none]
  const cases: [string[], string | undefined][] = [
    [['preveiw', 'beat'], 'preview'],
    [['beet'], 'beat'],
    [['Beat'], 'beat'],
    [['resource-manager'], 'resource_manager'],
    [['wrker'], 'worker'],
    [['confgure'], 'configure'],
    [['chek', '--timeout', '2'], 'check'],
    [['key'], 'keys'],
    [['Help'], 'help'],
    [['xyzzy'], undefined],
  ];
  for (const [argv, meant] of cases) {
    t.throws(
      () => parse(argv),
      { name: 'UsageError', message: meant ? new RegExp(`^${argv[0]}: not a command, a role or a program on PATH; did you mean ${meant}\\?`) : /not a command, a role or a program on PATH; see .* --help$/ },
      argv.join(' '),
    );
  }
  t.throws(() => parse(['/no/such/program']), { message: '/no/such/program: no such executable file' }, 'a path is a program, never a typo');
  for (const [argv, meant] of [[['run', 'beet'], 'beat'], [['preview', 'Worker'], 'worker']] as const) {
    t.throws(() => parse([...argv]), { name: 'UsageError', message: new RegExp(`unknown role "${argv[1]}": did you mean ${meant}\\?$`) }, argv.join(' '));
  }
  t.same(parse(['bash', '-c', 'true']), { kind: 'exec', argv: ['bash', '-c', 'true'] }, 'a program on PATH is exec\'d as given');
  t.same(parse(['default-conf']), { kind: 'default-conf' });
});
