// Exit codes follow sysexits(3), as the contract says. Every expected failure is an
// EntrypointError: main() prints its one line and exits with its code; anything else is
// a bug and exits 70 (EX_SOFTWARE).
export const ExitCode = {
  ok: 0,
  usage: 64,
  dataErr: 65,
  unavailable: 69,
  software: 70,
  cantCreate: 73,
  ioErr: 74,
} as const;

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

/** Exit 69: a dependency did not become ready before the deadline. */
export class UnavailableError extends EntrypointError {
  constructor(message: string) {
    super(message, ExitCode.unavailable);
  }
}

/** Exit 73: server.conf cannot be read or written; nothing half-written. */
export class CantWriteError extends EntrypointError {
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

/** A child program (the init) failed: exit with its own code. */
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
