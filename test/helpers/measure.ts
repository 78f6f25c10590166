// Runs bin/pulp-entrypoint (or another bin/ program) asynchronously (so servers living in the test process can answer)
// and measures it: its peak RSS is ru_maxrss, read by a python3 parent with getrusage of its
// waited-for child, exact however short the run.
import { spawn } from 'node:child_process';
import { BIN } from './cli.ts';

export interface Measured {
  status: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** Peak resident set of the agent, KiB. */
  maxRssKib: number;
}

const RUSAGE = [
  'import os, resource, subprocess, sys',
  'r = subprocess.run(sys.argv[2:], stdout=sys.stdout, stderr=sys.stderr)',
  'os.write(int(sys.argv[1]), str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss).encode())',
  'sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)',
].join('\n');

/** `opts.bin`: another program of bin/ (bin/keystone-entrypoint); bin/pulp-entrypoint by default. */
export function runMeasured(args: string[], env: Record<string, string | undefined>, opts: { timeoutMs?: number; bin?: string } = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // fd 3 carries the figure, so stdout stays the agent's own.
    const child = spawn('python3', ['-c', RUSAGE, '3', process.execPath, opts.bin ?? BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let rss = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdio[3]?.on('data', (d: Buffer) => (rss += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr, elapsedMs: Date.now() - started, maxRssKib: Number(rss.trim()) });
    });
  });
}
