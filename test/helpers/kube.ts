// The test cluster (test/k8s/cluster.sh, and test/k8s/node.sh for a node that runs pods) and
// kubectl against it. Starting is idempotent: scripts/test.sh starts both before tap, a file
// run alone starts what it needs (building the binaries first on a fresh machine: ~10 minutes).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.ts';
import { shellExports } from './containers.ts';
export { outsideServices } from './outside-services.mjs';
import { unavailable, type Reporter } from './unavailable.ts';

export interface Run { status: number | null; stdout: string; stderr: string; out: string }

export interface Kube {
  env: Record<string, string>;
  kubectl(args: string[], input?: string, timeoutMs?: number): Run;
  /** kubectl in the background, e.g. `logs -f` or `get -w`: its output so far, and a stop. */
  follow(args: string[]): { output(): string; done: Promise<void>; stop(): void };
  json<T>(args: string[]): T;
}

function script(name: string, t: Reporter): Record<string, string> | undefined {
  const r = spawnSync('bash', [join(ROOT, 'test', 'k8s', name), 'start'], { encoding: 'utf8', timeout: 40 * 60_000 });
  if (r.status === 0) return shellExports(r.stdout ?? '');
  const why = `test/k8s/${name} start failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-4).join(' | ')}`;
  unavailable(t, `a real Kubernetes ${name === 'node.sh' ? 'node (kubelet, kube-proxy, containerd)' : 'control plane'}: ${why}; run it as root (Go and the Go module proxy build the binaries)`);
  return undefined;
}

/** The control plane (and with `node`, the node too), or undefined after reporting why not. */
export function kube(t: Reporter, opts: { node?: boolean } = {}): Kube | undefined {
  const cluster = script('cluster.sh', t);
  if (!cluster?.KUBECONFIG || !cluster.PULP_TEST_KUBECTL) return undefined;
  let env = cluster;
  if (opts.node) {
    const node = script('node.sh', t);
    if (!node?.PULP_TEST_K8S_NODE) return undefined;
    env = { ...cluster, ...node };
  }
  const childEnv = { ...process.env, KUBECONFIG: env.KUBECONFIG };
  const kubectl = (args: string[], input?: string, timeoutMs = 120_000): Run => {
    const r = spawnSync(env.PULP_TEST_KUBECTL!, args, { encoding: 'utf8', timeout: timeoutMs, input, env: childEnv, maxBuffer: 64 << 20 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };
  const json = <T>(args: string[]): T => {
    const r = kubectl([...args, '-o', 'json']);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.out}`);
    return JSON.parse(r.stdout) as T;
  };
  const follow = (args: string[]): ReturnType<Kube['follow']> => {
    let out = '';
    const child = spawn(env.PULP_TEST_KUBECTL!, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
    return { output: () => out, done, stop: () => { child.kill('SIGTERM'); } };
  };
  return { env, kubectl, json, follow };
}

/** Polls `check` every `everyMs` until it returns a value or `ms` pass (then: undefined). */
export async function until<T>(ms: number, check: () => T | undefined | false, everyMs = 500): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ContainerStatus {
  name: string;
  containerID?: string;
  ready: boolean;
  restartCount: number;
  state: { running?: object; waiting?: { reason: string }; terminated?: { exitCode: number; reason?: string } };
  lastState: { terminated?: { exitCode: number; reason?: string } };
}

export interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

export const isReady = (p: Pod): boolean => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** A namespace's pods matching a label selector, those being deleted left out. */
export function podsOf(k: Kube, ns: string, selector: string): Pod[] {
  return k.json<{ items: Pod[] }>(['-n', ns, 'get', 'pods', '-l', selector]).items.filter((p) => !p.metadata.deletionTimestamp);
}

/**
 * A TCP forwarder from the node's address to a server on loopback (an EndpointSlice points at
 * it), in a process of its own (test/helpers/forward.mjs says why); close() is an outage (every
 * connection cut), open() ends it on the same port.
 */
export class Forwarder {
  private child: ChildProcess | undefined;
  port = 0;
  constructor(private readonly host: string, private readonly to: { host: string; port: number }) {}
  async open(): Promise<void> {
    const child = spawn(process.execPath, [join(ROOT, 'test', 'helpers', 'forward.mjs'), this.host, String(this.port), this.to.host, String(this.to.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    this.port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the forwarder to ${this.to.host}:${this.to.port} exited (${code})`)));
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    });
  }
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
  }
}

/** podman's images into the node's containerd (test/k8s/node.sh load); undefined when done, else why not. */
export function loadImages(images: string[]): string | undefined {
  const r = spawnSync('bash', [join(ROOT, 'test', 'k8s', 'node.sh'), 'load', ...images], { encoding: 'utf8', timeout: 15 * 60_000 });
  return r.status === 0 ? undefined : `node.sh load ${images.join(' ')} failed: ${(r.stderr ?? '').trim()}`;
}
