// The command line -> a Command (pure). Anything that is not one of ours is a program to exec,
// so `docker run IMAGE bash` gives a shell, as docker-library entrypoints do.
import { UsageError } from '../common/errors.ts';
import { programNames } from '../common/program.ts';
import { MAX_WAIT_SECONDS, waitSecondsOf } from '../settings/validators.ts';

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; role: string; args: string[] }
  | { kind: 'preview'; role: string; json: boolean }
  | { kind: 'configure' }
  | { kind: 'wait'; timeoutSec: number | undefined }
  | { kind: 'check'; timeoutSec: number | undefined }
  | { kind: 'init' }
  | { kind: 'command'; name: string; args: string[] }
  | { kind: 'exec'; argv: string[] };

const SUBCOMMANDS = ['run', 'preview', 'configure', 'wait', 'check', 'init'];

/**
 * @param roles the system's roles, the first and last named in the examples of messages
 * @param commands the system's own commands (Keystone's keys)
 */
export function parseArgs(argv: readonly string[], roles: readonly string[], commands: readonly string[] = []): Command {
  const program = programNames().program;
  const isRole = (name: string): boolean => roles.includes(name);
  const needRole = (cmd: string, role: string | undefined): string => {
    if (role === undefined) throw new UsageError(`${cmd}: which role? one of ${roles.join(', ')}`);
    if (!isRole(role)) throw new UsageError(`${cmd}: unknown role "${role}": one of ${roles.join(', ')}`);
    return role;
  };
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError(`no command given: try "${program} ${roles[0] ?? 'ROLE'}", or --help`);
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-V' || first === 'version') return { kind: 'version' };
  if (isRole(first)) return { kind: 'run', role: first, args: rest };
  if (first.startsWith('-')) {
    throw new UsageError(
      `unknown option ${first}: options for the role go after it (${program} ${roles.at(-1) ?? 'ROLE'} ${first}); see --help`,
    );
  }
  if (commands.includes(first)) return rest.includes('--help') || rest.includes('-h') ? { kind: 'help' } : { kind: 'command', name: first, args: rest };
  if (!SUBCOMMANDS.includes(first)) return { kind: 'exec', argv: [first, ...rest] };
  // `run ROLE --help` is the role's own --help, as `ROLE --help` is.
  if (first !== 'run' && (rest.includes('--help') || rest.includes('-h'))) return { kind: 'help' };
  switch (first) {
    case 'run': {
      const [role, ...args] = rest;
      return { kind: 'run', role: needRole('run', role), args };
    }
    case 'preview': {
      let json = false;
      let role: string | undefined;
      for (const a of rest) {
        if (a === '--json') json = true;
        else if (a.startsWith('-')) throw new UsageError(`preview: unknown option ${a} (only --json)`);
        else if (role === undefined) role = needRole('preview', a);
        else throw new UsageError(`preview: one role only, got "${role}" and "${a}"`);
      }
      return { kind: 'preview', role: needRole('preview', role), json };
    }
    case 'configure':
    case 'init':
      if (rest.length > 0) throw new UsageError(`${first}: takes no arguments, got "${rest[0]}"`);
      return { kind: first };
    case 'wait':
    case 'check':
      return { kind: first, timeoutSec: parseTimeout(first, rest) };
  }
  throw new UsageError(`unknown command ${first}`);
}

function parseTimeout(cmd: string, args: readonly string[]): number | undefined {
  let timeout: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    let value: string | undefined;
    if (a === '--timeout') value = args[++i];
    else if (a.startsWith('--timeout=')) value = a.slice('--timeout='.length);
    else throw new UsageError(`${cmd}: unknown argument ${a} (only --timeout SECONDS)`);
    const n = value === undefined ? undefined : waitSecondsOf(value);
    if (n === undefined) throw new UsageError(`${cmd}: --timeout needs a number of seconds (more than 0, at most ${MAX_WAIT_SECONDS})`);
    timeout = n;
  }
  return timeout;
}
