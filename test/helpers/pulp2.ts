// The real Pulp 2 (2-master, Python 2.7) that test/services/pulp2.sh builds, and what it takes
// to run its roles the way containers run them: each role in its own process group and PID
// namespace, with its own /etc/pulp/server.conf and /usr/lib/pulp/plugins (a mount namespace,
// test/services/pulp2-pod.sh), never the machine's /etc.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ENTRYPOINT, ROOT, waitFor } from './exec.ts';
import { PROGRAM } from './cli.ts';
import { SERVICES_DIR } from './services.ts';
import { cachedBuild } from './cached-build.ts';
import { unavailable } from './unavailable.ts';
import { ensureServiceUser } from './users.ts';

export const POD_SCRIPT = join(ROOT, 'test', 'services', 'pulp2-pod.sh');
const BUILD_SCRIPT = join(ROOT, 'test', 'services', 'pulp2.sh');

/** The built environment: PULP_TEST_PULP2, else the cached build of test/services/pulp2.sh. */
export function pulp2Dir(): string | undefined {
  return cachedBuild(BUILD_SCRIPT, 'PULP_TEST_PULP2');
}

/** The Pulp 2 environment, or undefined after failing (CI=true) or skipping loudly. */
export function requirePulp2(t: Test): string | undefined {
  const dir = pulp2Dir();
  if (dir) return dir;
  const how = 'run `bash test/services/pulp2.sh` once (builds it into /var/cache/pulp-entrypoint, about a minute; `npm test` does it)';
  unavailable(t, `the tests against the real Pulp 2: its environment is not built; ${how}`);
  return undefined;
}

/**
 * The user Pulp's roles run as (PULP_RUN_AS' default), created as Pulp's RPM does when the
 * machine has none; left in place, like the package's.
 */
export function ensureApacheUser(): void {
  ensureServiceUser('apache', '/usr/share/httpd');
}

/** A broker the roles are tested against; address undefined when its server is not running. */
export interface Broker {
  name: string;
  /** host:port */
  address: string | undefined;
  user: string;
  password: string;
}

function serviceVar(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  try {
    const line = readFileSync(join(SERVICES_DIR, 'env'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`export ${name}=`));
    return line?.slice(`export ${name}=`.length) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The brokers of test/services/start.sh that Pulp 2 runs against, each named by the prefix of
 * its PULP_TEST_* variables (PREFIX = host:port, PREFIX_USER, PREFIX_PASSWORD). Another broker
 * is one more line.
 */
const BROKERS: readonly { name: string; prefix: string }[] = [
  { name: 'RabbitMQ with the AMQP 1.0 plugin', prefix: 'PULP_TEST_AMQP' },
  { name: "RabbitMQ without plugins (AMQP 0-9-1 only, Pulp's documented set-up)", prefix: 'PULP_TEST_AMQP091' },
];

export function brokers(): Broker[] {
  return BROKERS.map(({ name, prefix }) => ({
    name,
    address: serviceVar(prefix),
    user: serviceVar(`${prefix}_USER`) ?? 'guest',
    password: serviceVar(`${prefix}_PASSWORD`) ?? 'guest',
  }));
}

/** How the program under test is started: `node bin/pulp-entrypoint`, or a standalone binary. */
export interface Program {
  name: string;
  /** argv before the role. */
  argv: string[];
  /** PULP_EXEC_MODE for this run. */
  execMode: 'exec' | 'supervise';
}

/**
 * The programs under test, each in both exec modes. bin/pulp-entrypoint: supervise with this
 * Node (20), exec with Node 24 (process.execve; undefined when Node 24 is missing). With
 * PULP_TEST_PROGRAM=binary (test/ship/binary-runs.test.ts) the standalone binary instead, which
 * has process.execve and runs both modes.
 */
export function programs(node24: string | undefined): { name: string; program: Program | undefined }[] {
  if (PROGRAM.kind === 'binary') {
    return (['supervise', 'exec'] as const).map((execMode) => ({ name: `${PROGRAM.name}, ${execMode}`, program: { name: 'dist/pulp-entrypoint', argv: PROGRAM.argv, execMode } }));
  }
  return [
    { name: 'bin/pulp-entrypoint, supervise (Node 20)', program: { name: 'bin/pulp-entrypoint', argv: [process.execPath, ENTRYPOINT], execMode: 'supervise' } },
    { name: 'bin/pulp-entrypoint, exec (Node 24)', program: node24 === undefined ? undefined : { name: 'bin/pulp-entrypoint', argv: [node24, ENTRYPOINT], execMode: 'exec' } },
  ];
}

/** A pod's private view: VIEW/etc/pulp/server.conf (Pulp's own, as shipped), VIEW/lib/pulp/plugins/types. */
export function podView(pulp2: string, view: string): string {
  mkdirSync(join(view, 'etc', 'pulp'), { recursive: true });
  mkdirSync(join(view, 'lib', 'pulp', 'plugins', 'types'), { recursive: true });
  const conf = join(view, 'etc', 'pulp', 'server.conf');
  copyFileSync(join(pulp2, 'server.conf'), conf);
  chmodSync(conf, 0o644);
  return conf;
}

export interface PodRun {
  child: ChildProcess;
  /** SIGKILL to the whole pod (its PID namespace). */
  kill: () => void;
  output: () => string;
  /** Host PID of the pod's PID 1 (the agent, or the role after execve). */
  pid1: () => Promise<number>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the output matches `re`; rejects when the pod ends first or after `ms`. */
  until: (re: RegExp, what: string, ms?: number) => Promise<void>;
}

/**
 * Runs `argv` as PID 1 of a new PID and mount namespace, in a process group of its own (as a
 * container runtime does), with `view` as its /etc/pulp and /usr/lib/pulp, `host` as its host
 * name (UTS namespace), and exactly `env`.
 */
export function runInPod(view: string, host: string, argv: string[], env: NodeJS.ProcessEnv): PodRun {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--uts', '--kill-child', 'bash', POD_SCRIPT, view, host, ...argv], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let ended = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => {
      ended = true;
      r({ code, signal });
    }),
  );
  const init = (): number | undefined => {
    try {
      const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      return kids === '' ? undefined : Number(kids.split(/\s+/)[0]);
    } catch {
      return undefined;
    }
  };
  // A failed test must not leave a pod behind. Killing unshare is not enough: --kill-child is
  // a parent-death signal, which the kernel drops when the child changes its uid (exec mode:
  // the agent becomes apache's Celery in place). Killing a PID namespace's init ends it all.
  const kill = (): void => {
    const pid = init();
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  void exit.then(() => process.off('exit', kill));
  const pid1 = (): Promise<number> => waitFor('the pod init', init);
  const until = (re: RegExp, what: string, ms = 120_000): Promise<void> =>
    waitFor(
      what,
      () => {
        if (re.test(out)) return true;
        if (ended) throw new Error(`the pod ended before ${what}; output:\n${out}`);
        return undefined;
      },
      ms,
    )
      .then(() => undefined)
      .catch((err: unknown) => {
        throw ended ? err : new Error(`${String(err)}; output so far:\n${out}`);
      });
  return { child, kill, output: () => out, pid1, exit, until };
}
