// Every exit code the agent can end with, in one table (the README's "Exit codes" and the
// help text list the same): sysexits(3) for the agent's own failures, a shell's 126/127 for a
// program that cannot start, 128 + signal for a stop. Every expected failure is an
// EntrypointError of the one type that carries its code: main() prints its one line and
// exits with it; anything else is a bug and exits 70 (EX_SOFTWARE). Only main() ends the
// process.
import { constants } from 'node:os';
import { envName } from './program.ts';

export const ExitCode = {
  ok: 0,
  usage: 64,
  dataErr: 65,
  /** The named input does not exist (a Secret the rotation reads). */
  noInput: 66,
  unavailable: 69,
  software: 70,
  cantCreate: 73,
  ioErr: 74,
  /** Try again later: what the command acts on changed under it, or it is not time yet. */
  tempFail: 75,
  /** The Kubernetes API refused the command's identity (RBAC). */
  noPerm: 77,
  /** sysexits' EX_CONFIG: the image is older than its database (a downgrade), refused. */
  config: 78,
  /** As a shell reports it: the program was found but could not be started. */
  cannotExecute: 126,
  /** As a shell reports it: the program is not on PATH. */
  notFound: 127,
  /** Plus the signal's number: stopped (or killed) by a signal. */
  signalBase: 128,
} as const;

/**
 * What each code means, in the order --help and the README's "Exit codes" table list them
 * (both are this: the help is built from it, a test holds the README's table to it), naming
 * the system's file and the program's own variables.
 */
export function exitCodeMeanings(confName: string, tasks: readonly string[], phases: boolean): readonly (readonly [code: number | 'other', meaning: string])[] {
  // The rotation's codes only where the system has the command (Keystone's), the downgrade's
  // where its schema changes in phases (Keystone's).
  const rotate = tasks.includes('rotate');
  return [
  [ExitCode.ok, "done (`run`: the role's own code, after exec)"],
  [ExitCode.usage, 'usage: unknown command, option or role, or a first word that is none of them and no program on `PATH` (nothing was read or written)'],
  [ExitCode.dataErr, `bad input: an invalid environment value or mounted key, ${confName} not a readable INI file, or a path the role writes as it starts that its user cannot use; nothing was written`],
  ...(rotate ? [[ExitCode.noInput, '`keystone-entrypoint rotate`: the Secret to rotate does not exist (404); nothing was written'] as const] : []),
  [
    ExitCode.unavailable,
    'a dependency (or the init record) was not ready before the deadline; or the init lease was lost while the init ran (the init was stopped, nothing recorded)',
  ],
  [ExitCode.software, `internal error (a bug: please report it with \`${envName('ENTRYPOINT_TRACE')}=1\`)`],
  [ExitCode.cantCreate, `${confName} cannot be read or written (missing, read-only, permissions); nothing half-written`],
  [ExitCode.ioErr, 'what the command prints could not be written (`preview`, `configure`, `--help` with a full or closed stdout)'],
  ...(rotate
    ? ([
        [ExitCode.tempFail, '`keystone-entrypoint rotate`: the Secret changed while it ran (another rotation), or a key it would drop may still be needed by live tokens; nothing was written, try again later'],
        [ExitCode.noPerm, '`keystone-entrypoint rotate`: the Kubernetes API refused its service account (401, 403: the Role or RoleBinding); nothing was written'],
      ] as const)
    : []),
  ...(phases
    ? ([
        [ExitCode.config, "`keystone-entrypoint`: the image is older than its database (a downgrade: a newer release's migrations ran, or its contract did); refused before anything ran"],
      ] as const)
    : []),
  [
    ExitCode.cannotExecute,
    `the role or init program could not be started (exec refused, its directory refused after the switch to \`${envName('RUN_AS')}\`, or no trusted \`setpriv\` to start it as that user)`,
  ],
  [ExitCode.notFound, 'the role or init program is not on `PATH`'],
  ['other', "the init's own non-zero exit code; a role killed by a signal gives 128 + signal"],
  ];
}

/** The code a shell reports for a process ended by `signal`: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return ExitCode.signalBase + (constants.signals[signal] ?? 0);
}

export class EntrypointError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Exit 64: the command line makes no sense. */
export class UsageError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** Exit 65: an environment value or server.conf is invalid; nothing was written. */
export class InputError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.dataErr);
  }
}

/** Exit 66: the input the command acts on does not exist (a Secret, 404). */
export class NoInputError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.noInput);
  }
}

/** Exit 75: try again later; nothing was written. */
export class TempFailError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.tempFail);
  }
}

/** Exit 77: the Kubernetes API refused the command's identity. */
export class NoPermissionError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.noPerm);
  }
}

/** Exit 78: the image is older than the database it would serve (a downgrade); nothing ran. */
export class DowngradeError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.config);
  }
}

/** Exit 69: a dependency did not become ready before the deadline. */
export class UnavailableError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.unavailable);
  }
}

/** Exit 73: server.conf cannot be read or written (both, as the contract says); nothing half-written. */
export class ConfFileError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.cantCreate);
  }
}

/** Exit 74: what a command was asked to print could not be written (a full or closed stdout). */
export class OutputError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.ioErr);
  }
}

/**
 * Exit 126: the program was found but could not be started (exec refused, its directory
 * refused, or no trusted setpriv to start it as the run-as user: the image lacks a tool).
 */
export class CannotExecuteError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.cannotExecute);
  }
}

/** Exit 127: the program is not on PATH (or not executable there). */
export class NotFoundError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.notFound);
  }
}

/** The init ran and failed: exit with its own code (128 + signal when it was killed). */
export class ChildFailedError extends EntrypointError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A file system error as a few words for a one-line message ("no such file"). */
export function fileErrorReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'ENOTREG':
      return errorMessage(err);
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return typeof code === 'string' ? code : errorMessage(err);
  }
}
