// The whole agent (the standalone binary) in container images; no one src module.
// The images of fixtures/docker, built as docs/images.md says and run with a real container
// runtime: podman with runc, this project's configuration and a Debian 12 base image made
// with mmdebstrap (test/containers/setup.sh), host networking to FerretDB and RabbitMQ on
// loopback (test/services/start.sh). The roles are the real Pulp 2 Celery processes.
//
// - `preview beat` in the image shows Pulp's celery and pulp-manage-db, as apache;
// - a program that is not a role passes through with its exit code;
// - beat, resource_manager and worker started together: the init runs once (in beat), the
//   others wait for it; each container's PID 1 is its Celery role, as apache; `podman stop`
//   sends the image's STOPSIGNAL to it and the container exits 0 long before the kill;
// - the same as an arbitrary uid in group 0 (OpenShift), set up as fixtures/k8s sets up a
//   pod: server.conf rendered from a read-only template, passwords from 0440 files that the
//   pod's fsGroup may read.
//
// The first build of Pulp 2 into an image takes minutes: scripts/test.sh runs
// test/containers/build-images.sh before the tests, outside tap's per-file timeout (by hand:
// run it first, or `npx tap --timeout 900`). The layers are cached in podman's storage
// (test/containers/storage.conf), so the build here rebuilds only what changed (the agent
// layer, after `npm run build:binary`).
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { join } from 'node:path';
import { ROLES, type Role } from '../../src/pulp/roles.ts';
import { ensureBinaries } from '../helpers/binary.ts';
import { ROOT } from '../helpers/cli.ts';
import { requireServices, type Services } from '../helpers/services.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';
import { containerSetup } from '../helpers/containers.ts';

/** The agent binary the images get (`--build-arg AGENT=`), as `npm run build:binary` writes it. */
const AGENT = 'dist/pulp-entrypoint';
const IMAGE: Record<Role, string> = { beat: 'pulp-beat', resource_manager: 'pulp-resource-manager', worker: 'pulp-worker' };
const STOP_SIGNAL: Record<Role, string> = { beat: 'SIGTERM', resource_manager: 'SIGTERM', worker: 'SIGQUIT' };
/** What each Celery role prints once it runs. */
const READY: Record<Role, RegExp> = { beat: /beat: Starting\.\.\./, resource_manager: /\bready\./, worker: /\bready\./ };
const ARBITRARY_UID = 1000680000;
const FS_GROUP = 1000680000;

type Env = Record<string, string>;

function fail(t: Test, what: string): undefined {
  unavailable(t, `the container tests: ${what}`);
  return undefined;
}


/** `npm run build:binary` when the binary is missing or older than its sources (scripts/test.sh builds it first). */
function ensureAgent(t: Test): boolean {
  const error = ensureBinaries();
  if (error === undefined) return true;
  fail(t, error);
  return false;
}

const setupEnv = containerSetup(t, 'the container tests');
const services = setupEnv && requireServices(t, 'the container tests');
if (setupEnv && services && ensureAgent(t)) await main(setupEnv, services);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

async function main(setupEnv: Env, services: Services): Promise<void> {
  const podmanEnv = { ...process.env, ...setupEnv } as NodeJS.ProcessEnv;
  const podman = (args: string[], timeoutMs = 120_000): Run => {
    const r = spawnSync('podman', args, { env: podmanEnv, encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const [dbHost, dbPort] = splitHostPort(services.mongodb);
  // RabbitMQ without plugins when there is one: AMQP 0-9-1, as Pulp's docs set it up.
  const [msgHost, msgPort] = splitHostPort(services.amqp091 ?? services.amqp);
  // Celery node names and the database are this run's own: the broker is shared.
  const runId = randomBytes(4).toString('hex');

  await t.test('the images build with the commands of docs/images.md', async (t) => {
    // The agent layer and the role images are rebuilt whenever the binary changes; their
    // previous versions are removed afterwards, so that the cache does not grow by a binary
    // per run. The Pulp 2 layers stay: they are the cache.
    const agentImages = ['pulp-entrypoint-base', ...Object.values(IMAGE)];
    const imageId = (name: string): string | undefined => {
      const r = podman(['image', 'inspect', '-f', '{{.Id}}', name]);
      return r.status === 0 ? r.stdout.trim() : undefined;
    };
    const before = agentImages.map(imageId);
    const started = Date.now();
    // The block of docs/images.md, run as it is (test/containers/build-images.sh extracts it).
    const r = spawnSync('bash', [join(ROOT, 'test', 'containers', 'build-images.sh')], {
      cwd: ROOT,
      env: { ...podmanEnv, AGENT } as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 25 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    t.equal(r.status, 0, r.status === 0 ? `built in ${Math.round((Date.now() - started) / 1000)} s` : `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    for (const image of ['pulp2', ...agentImages]) t.equal(podman(['image', 'exists', image]).status, 0, `${image} exists`);
    const after = new Set(agentImages.map(imageId));
    const stale = before.filter((id): id is string => id !== undefined && !after.has(id)).reverse();
    if (stale.length > 0) podman(['rmi', ...stale]);
  });

  await t.test('the build context from the repository root holds only the agent binary', async (t) => {
    const dir = tempDir(t, 'containers-context-');
    const file = join(dir, 'Containerfile');
    writeFileSync(file, `FROM ${setupEnv.PULP_TEST_IMAGE_BASE}\nCOPY . /context/\nRUN find /context -type f | sort\n`);
    const r = podman(['build', '--no-cache', '-f', file, ROOT], 600_000);
    t.equal(r.status, 0, r.stderr);
    const files = r.stdout.split('\n').filter((l) => l.startsWith('/context/'));
    t.ok(files.includes(`/context/${AGENT}`), `the agent (${AGENT}) is in it`);
    t.same(files.filter((f) => !/^\/context\/dist\/pulp-entrypoint(-linux-(x64|arm64))?$/.test(f)), [], `and nothing but agent binaries: ${files.join(' ')}`);
    const id = /^([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    if (id) podman(['rmi', id]);
  });

  await t.test('preview beat shows Pulp 2 as the image has it', async (t) => {
    const r = podman(['run', '--rm', '--network=host', IMAGE.beat, 'preview', 'beat', '--json']);
    t.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { role: string; init: { argv: string[]; user: string }; exec: { argv: string[]; user: string; cwd: string } };
    t.equal(p.role, 'beat');
    t.same(p.init.argv, ['/opt/python2.7/bin/pulp-manage-db'], "Pulp's pulp-manage-db");
    t.equal(p.init.user, 'apache');
    t.same(p.exec.argv.slice(0, 2), ['/opt/python2.7/bin/celery', 'beat'], "Pulp's celery");
    t.equal(p.exec.user, 'apache');
    t.equal(p.exec.cwd, '/var/lib/pulp/celery');
  });

  await t.test('a program that is not a role passes through, exit code included', async (t) => {
    const r = podman(['run', '--rm', '--network=host', IMAGE.worker, 'bash', '-c', 'echo "$(id -un) $PULP_CONF__SERVER__LOG_TYPE"; exit 7']);
    t.equal(r.status, 7, r.stderr);
    t.equal(r.stdout, 'root console\n', 'the shell runs as the container user, with the image ENV');
  });

  const common = (db: string): string[] => [
    '--network=host',
    '-e', `DB_SERVICE_HOST=${dbHost}`,
    '-e', `DB_SERVICE_PORT=${dbPort}`,
    '-e', `MSG_SERVICE_HOST=${msgHost}`,
    '-e', `MSG_SERVICE_PORT=${msgPort}`,
    '-e', 'PULP_BROKER_SCHEME=amqp',
    '-e', `PULP_DB_NAME=${db}`,
    '-e', `PULP_SERVER_NAME=ct-${runId}-${db.slice(-4)}.example.com`,
    '-e', 'PULP_WAIT_TIMEOUT=90',
  ];

  await t.test('three roles as root: init once, Celery as apache is PID 1, stop signals', async (t) => {
    const db = `pulp_ct_${runId}_root`;
    const args = [...common(db), '-e', `MSG_SERVICE_USER=${services.amqpUser}`, '-e', `MSG_SERVICE_PASSWORD=${services.amqpPassword}`];
    await threeRoles(t, db, args, { uid: 48, gid: 48 });
  });

  await t.test(`uid ${ARBITRARY_UID}:0 reads a 0440 Secret file through the pod's group, and only so`, async (t) => {
    // What fsGroup + defaultMode 0440 buy: without the group (0400, or no fsGroup) the agent
    // stops with one line naming the variable, before writing anything.
    const dir = tempDir(t, 'containers-secret-');
    writeFileSync(join(dir, 'msg-password'), 'not-printed-anywhere');
    chownSync(join(dir, 'msg-password'), 0, FS_GROUP);
    chmodSync(join(dir, 'msg-password'), 0o440);
    chmodSync(dir, 0o755);
    const args = ['run', '--rm', `--user=${ARBITRARY_UID}:0`, '-v', `${dir}:/run/secrets/pulp:ro`, '-e', 'MSG_SERVICE_PASSWORD_FILE=/run/secrets/pulp/msg-password', '-e', 'MSG_SERVICE_HOST=127.0.0.1'];
    const denied = podman([...args, IMAGE.worker, 'configure']);
    t.equal(denied.status, 65, 'no group: refused as bad input');
    t.match(denied.stderr, /MSG_SERVICE_PASSWORD_FILE=\/run\/secrets\/pulp\/msg-password: cannot read the file \(permission denied/, denied.stderr);
    const allowed = podman([...args.slice(0, 3), `--group-add=${FS_GROUP}`, ...args.slice(3), IMAGE.worker, 'configure']);
    t.equal(allowed.status, 0, `with the pod's group: ${allowed.stderr}`);
    t.match(allowed.stdout + allowed.stderr, /\/etc\/pulp\/server\.conf: written/, 'and server.conf is written as that uid');
    t.notMatch(denied.stdout + denied.stderr + allowed.stdout + allowed.stderr, /not-printed-anywhere/, 'the secret is in no output');
  });

  await t.test(`three roles as uid ${ARBITRARY_UID}:0, set up as the Kubernetes pods are`, async (t) => {
    const db = `pulp_ct_${runId}_anyuid`;
    // The pod's volumes: the ConfigMap's server.conf (read-only) and the Secret's files, 0440,
    // group = the pod's fsGroup, which the kubelet adds to the container's groups.
    const vol = tempDir(t, 'containers-pod-');
    mkdirSync(join(vol, 'template'));
    mkdirSync(join(vol, 'secrets'));
    confCopy(join(vol, 'template'));
    writeFileSync(join(vol, 'secrets', 'msg-username'), services.amqpUser);
    writeFileSync(join(vol, 'secrets', 'msg-password'), services.amqpPassword);
    for (const f of ['msg-username', 'msg-password']) {
      chownSync(join(vol, 'secrets', f), 0, FS_GROUP);
      chmodSync(join(vol, 'secrets', f), 0o440);
    }
    chmodSync(vol, 0o755);
    const args = [
      ...common(db),
      `--user=${ARBITRARY_UID}:0`,
      `--group-add=${FS_GROUP}`,
      '-v', `${join(vol, 'template')}:/etc/pulp-template:ro`,
      '-v', `${join(vol, 'secrets')}:/run/secrets/pulp:ro`,
      '-e', 'PULP_SERVER_CONF_TEMPLATE=/etc/pulp-template/server.conf',
      '-e', 'PULP_SERVER_CONF=/etc/pulp/server.conf',
      '-e', 'MSG_SERVICE_USER_FILE=/run/secrets/pulp/msg-username',
      '-e', 'MSG_SERVICE_PASSWORD_FILE=/run/secrets/pulp/msg-password',
    ];
    await threeRoles(t, db, args, { uid: ARBITRARY_UID, gid: 0 });
  });

  async function threeRoles(t: Test, db: string, args: string[], who: { uid: number; gid: number }): Promise<void> {
    const names: Record<Role, string> = { beat: '', resource_manager: '', worker: '' };
    for (const role of ROLES) names[role] = `pulp-ct-${runId}-${db.slice(-4)}-${role}`;
    t.teardown(() => {
      podman(['rm', '-f', '-t', '0', ...Object.values(names)]);
    });
    // Started together: beat takes the init lease, the others wait for its record.
    for (const role of ROLES) {
      const r = podman(['run', '-d', '--name', names[role], ...args, ...(role === 'worker' ? ['-e', 'PULP_WORKER_ID=1'] : []), IMAGE[role]]);
      t.equal(r.status, 0, `${role} started: ${r.stderr}`);
    }
    const logs = (role: Role): string => {
      const r = podman(['logs', names[role]]);
      return r.stdout + r.stderr;
    };
    const deadline = Date.now() + 120_000;
    for (const role of ROLES) {
      while (!READY[role].test(logs(role)) && Date.now() < deadline && podman(['inspect', '-f', '{{.State.Running}}', names[role]]).stdout.trim() === 'true') {
        await new Promise((r) => setTimeout(r, 500));
      }
      t.match(logs(role), READY[role], `${role}: Celery runs`);
    }
    const all = ROLES.map(logs);
    t.equal(all.join('\n').match(/init lease taken: running \S*pulp-manage-db/g)?.length, 1, 'pulp-manage-db ran once, in all three');
    t.match(logs('beat'), /running pulp-manage-db argv=\/opt\/python2\.7\/bin\/pulp-manage-db/, 'beat ran it');
    t.match(logs('beat'), /Database migrations complete\./, "pulp-manage-db's own output");
    for (const role of ['resource_manager', 'worker'] as const) {
      t.match(logs(role), /waiting for the one-time init|init \S+ was done at/, `${role} waited for the init record`);
    }

    for (const role of ROLES) {
      // Written by the agent as the container's user: root keeps the image's owner (apache reads
      // it), an arbitrary uid writes a new copy through group 0's rights on /etc/pulp.
      const conf = podman(['exec', names[role], 'stat', '-c', '%u:%g %a', '/etc/pulp/server.conf']).stdout.trim();
      t.equal(conf, who.uid === 48 ? '48:0 660' : `${who.uid}:0 660`, `${role}: server.conf written, ${conf}`);
      t.match(logs(role), /\/etc\/pulp\/server\.conf: written/, `${role}: the agent wrote server.conf`);
      const status = podman(['exec', names[role], 'cat', '/proc/1/status']).stdout;
      const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
      const gid = /^Gid:\s+(\d+)\s+(\d+)/m.exec(status);
      t.same([Number(uid?.[1]), Number(uid?.[2]), Number(gid?.[1]), Number(gid?.[2])], [who.uid, who.uid, who.gid, who.gid], `${role}: PID 1 runs as ${who.uid}:${who.gid}`);
      const cmdline = podman(['exec', names[role], 'cat', '/proc/1/cmdline']).stdout.split('\0');
      t.same(cmdline.slice(1, 3), ['/opt/python2.7/bin/celery', role === 'beat' ? 'beat' : 'worker'], `${role}: PID 1 is celery ${role === 'beat' ? 'beat' : 'worker'}`);
    }

    // Stop all three at once, as a rollout would; Docker's and podman's default grace is 10 s.
    for (const role of ROLES) t.equal(podman(['inspect', '-f', '{{.Config.StopSignal}}', names[role]]).stdout.trim(), String(signalNumber(STOP_SIGNAL[role])), `${role}: STOPSIGNAL ${STOP_SIGNAL[role]}`);
    const started = Date.now();
    const stops = ROLES.map((role) => spawnAsync('podman', ['stop', '-t', '30', names[role]], podmanEnv));
    const elapsed = await Promise.all(stops.map(async (p) => (await p, Date.now() - started)));
    ROLES.forEach((role, i) => {
      const code = podman(['inspect', '-f', '{{.State.ExitCode}}', names[role]]).stdout.trim();
      t.equal(code, '0', `${role}: exit code 0 after ${STOP_SIGNAL[role]}`);
      t.ok((elapsed[i] as number) < 15_000, `${role}: stopped in ${elapsed[i]} ms, not killed at the 30 s grace`);
    });
    t.match(logs('worker'), /Cold shutdown/, 'the worker got SIGQUIT: Celery cold shutdown');
    t.match(logs('resource_manager'), /Warm shutdown/, 'the resource manager got SIGTERM: Celery warm shutdown');
  }
}

function splitHostPort(addr: string): [string, string] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`not host:port: ${addr}`);
  return [m[1] as string, m[2] as string];
}

function signalNumber(name: string): number {
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new Error(`unknown signal ${name}`);
  return n;
}

function spawnAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: 'ignore' });
    p.on('exit', (code) => resolve(code));
  });
}
