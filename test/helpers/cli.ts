// The program under test as a whole process, with a clean environment plus `env`.
// PULP_TEST_PROGRAM picks it: unset or `bin`, bin/pulp-entrypoint on the Node running the
// tests; `binary`, the standalone dist/pulp-entrypoint (Bun). test/ship/binary-runs.test.ts runs
// the files that exercise the whole process once more with PULP_TEST_PROGRAM=binary.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/pulp-entrypoint', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BINARY = join(ROOT, 'dist', 'pulp-entrypoint');

export interface Program {
  kind: 'bin' | 'binary';
  /** For test names: which runtime runs the agent. */
  name: string;
  /** The command line up to the agent's own arguments. */
  argv: string[];
  /** process.execve exists, so `run` defaults to exec mode. */
  hasExecve: boolean;
}

/** bin/pulp-entrypoint on `node` (the test runner's Node by default). */
export function binOn(node: string = process.execPath, name = `bin/ on Node ${process.versions.node}`, hasExecve = typeof (process as { execve?: unknown }).execve === 'function'): Program {
  return { kind: 'bin', name, argv: [node, BIN], hasExecve };
}

export const STANDALONE: Program = { kind: 'binary', name: 'dist/pulp-entrypoint (Bun)', argv: [BINARY], hasExecve: true };

function fromEnv(): Program {
  const v = process.env.PULP_TEST_PROGRAM ?? 'bin';
  if (v === 'bin') return binOn();
  if (v === 'binary') return STANDALONE;
  throw new Error(`PULP_TEST_PROGRAM=${v}: use bin or binary`);
}

export const PROGRAM: Program = fromEnv();

/** The command line that runs the program under test with `args`; `node` is used for bin/ only. */
export function agentArgv(args: string[], node: string = process.execPath): string[] {
  return PROGRAM.kind === 'binary' ? [...PROGRAM.argv, ...args] : [node, BIN, ...args];
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** PATH and HOME only from the outer environment, so the agent sees exactly the test's variables. */
export function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
  opts: { input?: string; timeoutMs?: number } = {},
  program: Program = PROGRAM,
): CliResult {
  const [cmd = '', ...pre] = program.argv;
  const r = spawnSync(cmd, [...pre, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
    encoding: 'utf8',
    input: opts.input ?? '',
    timeout: opts.timeoutMs ?? 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `cli` on a machine without the service users, as on an operator's laptop: in a mount
 * namespace whose /etc/passwd holds only root and nobody (root only, for unshare). The users
 * that other test files add to the real /etc/passwd are not seen here.
 */
export function cliWithoutServiceUsers(args: string[], env: Record<string, string | undefined> = {}, program: Program = PROGRAM): CliResult {
  const dir = mkdtempSync(join(tmpdir(), 'pe-passwd-'));
  try {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, readFileSync('/etc/passwd', 'utf8').split('\n').filter((l) => /^(root|nobody):/.test(l)).join('\n') + '\n');
    const [cmd = '', ...pre] = program.argv;
    const r = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/passwd && exec "$@"', passwd, cmd, ...pre, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
      encoding: 'utf8',
      input: '',
      timeout: 30_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
