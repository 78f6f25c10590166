// The command line -> a Command (pure; whether a name is a program on PATH is asked). A program
// that is not one of ours is exec'd, so `docker run IMAGE bash` gives a shell, as
// docker-library entrypoints do; a first word that is neither is a typo, refused before
// anything is read or written, with the command or role it most likely meant.
import { UsageError } from '../common/errors.ts';
import { programNames } from '../common/program.ts';
import { closest } from '../common/suggest.ts';
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
  | { kind: 'default-conf' }
  | { kind: 'exec'; argv: string[] };

const SUBCOMMANDS = ['run', 'preview', 'configure', 'wait', 'check', 'init', 'default-conf'];
/** The words --help and --version also answer to. */
const HELP = ['--help', '-h', 'help'];
const VERSION = ['--version', '-V', 'version'];

/**
 * @param roles the system's roles, the first and last named in the examples of messages
 * @param commands the system's own commands (Keystone's keys)
 * @param isProgram whether a first word that is none of ours names a program exec would find
 *   (on PATH, or a path); the default takes every name for one
 */
export function parseArgs(
  argv: readonly string[],
  roles: readonly string[],
  commands: readonly string[] = [],
  isProgram: (name: string) => boolean = () => true,
): Command {
  const program = programNames().program;
  const isRole = (name: string): boolean => roles.includes(name);
  const needRole = (cmd: string, role: string | undefined): string => {
    if (role === undefined) throw new UsageError(`${cmd}: which role? one of ${roles.join(', ')}`);
    if (!isRole(role)) {
      const meant = closest(role, roles);
      throw new UsageError(`${cmd}: unknown role "${role}": ${meant === undefined ? `one of ${roles.join(', ')}` : `did you mean ${meant}?`}`);
    }
    return role;
  };
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError(`no command given: try "${program} ${roles[0] ?? 'ROLE'}", or --help`);
  if (HELP.includes(first)) return { kind: 'help' };
  if (VERSION.includes(first)) return { kind: 'version' };
  if (isRole(first)) return { kind: 'run', role: first, args: rest };
  if (first.startsWith('-')) {
    throw new UsageError(
      `unknown option ${first}: options for the role go after it (${program} ${roles.at(-1) ?? 'ROLE'} ${first}); see --help`,
    );
  }
  if (commands.includes(first)) return rest.includes('--help') || rest.includes('-h') ? { kind: 'help' } : { kind: 'command', name: first, args: rest };
  if (!SUBCOMMANDS.includes(first)) {
    if (isProgram(first)) return { kind: 'exec', argv: [first, ...rest] };
    throw notAWord(first, [...SUBCOMMANDS, ...roles, ...commands, 'help', 'version']);
  }
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
    case 'default-conf':
      if (rest.length > 0) throw new UsageError(`${first}: takes no arguments, got "${rest[0]}"`);
      return { kind: first };
    case 'wait':
    case 'check':
      return { kind: first, timeoutSec: parseTimeout(first, rest) };
  }
  throw new UsageError(`unknown command ${first}`);
}

/** A first word that is not ours and no program: the likeliest word meant, else what there is. */
function notAWord(word: string, known: readonly string[]): UsageError {
  // A path is meant as a program: no command is spelt like one.
  if (word.includes('/')) return new UsageError(`${word}: no such executable file`);
  const what = `${word}: not a command, a role or a program on PATH`;
  const meant = closest(word, known);
  if (meant !== undefined) return new UsageError(`${what}; did you mean ${meant}? (${programNames().program} --help lists them)`);
  return new UsageError(`${what}; see ${programNames().program} --help`);
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
