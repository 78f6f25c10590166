// The whole agent against the real Pulp 2 (src/init with pulp-manage-db, src/wait, src/exec).
// The real Pulp 2 behind the agent: Pulp's 2-master sources with their Python 2.7 environment
// (built and cached by test/services/pulp2.sh from ../shared/pulp2), the real
// `pulp-manage-db` and the real `celery beat` / `celery worker` of Pulp's three roles, started
// through the program under test (bin/pulp-entrypoint; the standalone binary when
// test/ship/binary-runs.test.ts runs this file with PULP_TEST_PROGRAM=binary), against the real FerretDB and brokers of
// test/services/start.sh (every broker of helpers/pulp2.ts' BROKERS), in both exec modes.
//
// Each role runs as a container would: PID 1 of its own PID namespace, its own process group
// and host name, a Kubernetes-shaped environment (the kubelet's service variables for the
// Services `db` and `msg`), and its own /etc/pulp/server.conf (Pulp's own file as shipped) and
// /usr/lib/pulp/plugins through a mount namespace (test/services/pulp2-pod.sh); the machine's
// /etc is never touched. Roles run as `apache`, the default of PULP_RUN_AS, created when missing.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freshDatabases, needNode24, node24, openDir } from '../helpers/exec.ts';
import { KUBERNETES_SERVICE, type KubeObject, serviceEnv } from '../helpers/kubelet-env.ts';
import { type Broker, POD_SCRIPT, type PodRun, type Program, brokers, ensureApacheUser, podView, programs, requirePulp2, runInPod } from '../helpers/pulp2.ts';
import { requireServices } from '../helpers/services.ts';
import { INIT_COLLECTION } from '../../src/init/lease.ts';
import { splitHostPort } from '../../src/common/net.ts';
import { requireRoot, unavailable } from '../helpers/unavailable.ts';

const run = promisify(execFile);
// The images' stop grace: each role must be gone well within Kubernetes' default 30 s.
const STOP_WITHIN_MS = 10_000;

/** Beat's scheduler has started, under the pod's host name. */
const scheduling = (host: string): RegExp => new RegExp(`New worker 'scheduler@${host}' discovered`);

/** The Celery process in a pod: PID 1 itself (exec mode) or the agent's child (supervise). */
async function celeryPid(pid1: number): Promise<number> {
  for (let pid = pid1, depth = 0; depth < 3; depth++) {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('celery')) return pid;
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (kids === '') break;
    pid = Number(kids.split(/\s+/)[0]);
  }
  throw new Error(`no celery process under ${pid1}`);
}

/** Whether the main thread of `pid` is in Python 2's time.sleep: select() (or pselect6) with no descriptors. */
function sleeping(pid: number): boolean {
  const [nr, ...args] = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim().split(' ');
  // x86_64: select 23, pselect6 270; arm64: pselect6 72.
  return ['23', '270', '72'].includes(nr ?? '') && args.slice(0, 4).every((a) => a === '0x0');
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The kubelet's variables for the Services `db` (MongoDB) and `msg` (the broker) at these addresses. */
function kubeEnv(mongodb: string, broker: string): Record<string, string> {
  const service = (name: string, address: string, portName: string): KubeObject => {
    const hp = splitHostPort(address);
    if (hp?.port === undefined) throw new Error(`not host:port: ${address}`);
    return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { clusterIP: hp.host, ports: [{ name: portName, port: hp.port, protocol: 'TCP' }] } };
  };
  return Object.fromEntries(serviceEnv([KUBERNETES_SERVICE, service('db', mongodb, 'mongodb'), service('msg', broker, 'amqp')]));
}

// Up to six real Pulp processes per broker and mode on a shared two-core machine: more than
// the suite's 300 s per file.
t.setTimeout(15 * 60_000);

const s = requireRoot(t, 'the tests against the real Pulp 2 (unshare, mount, useradd)') ? requireServices(t, 'the real Pulp 2 roles (FerretDB and RabbitMQ)') : undefined;
const pulp2 = s ? requirePulp2(t) : undefined;

if (s && pulp2) {
  ensureApacheUser();
  const apache = { uid: Number((await run('id', ['-u', 'apache'])).stdout), gid: Number((await run('id', ['-g', 'apache'])).stdout) };
  const machineHadEtcPulp = existsSync('/etc/pulp');
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(`mongodb://${s.mongodb}/`, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  await client.connect();
  t.teardown(() => client.close());
  const newDb = freshDatabases(t, s, 'pe_pulp2');
  const n24 = node24();

  for (const broker of brokers()) {
    for (const { name, program } of programs(n24)) {
      t.test(`${broker.name}; ${name}`, async (t) => {
        if (broker.address === undefined) {
          const how = `its PULP_TEST_* address is not set (test/services/start.sh starts it)`;
          unavailable(t, `${broker.name}: ${how}`);
          return;
        }
        if (program === undefined) {
          needNode24(t, undefined);
          return;
        }
        await threeRoles(t, { ...broker, address: broker.address }, program);
      });
    }
  }

  /** One Pulp: worker first (it waits), then beat and resource_manager; checks; stop; init again. */
  async function threeRoles(t: Test, broker: Broker & { address: string }, program: Program): Promise<void> {
    const dir = openDir(t, 'pe-pulp2-');
    const db = newDb();
    const kube = kubeEnv(s!.mongodb, broker.address);
    // Names of this test's own: the brokers are shared, and Celery's remote-control queues are
    // named after the nodes.
    const tag = `p${randomBytes(3).toString('hex')}`;
    const SERVER_NAME = `${tag}.pulp.test`;
    const BEAT_HOST = `${tag}-beat-0`;
    const RM_HOST = `${tag}-resource-manager-0`;
    const RESOURCE_MANAGER = `resource_manager@${SERVER_NAME}`;
    // A StatefulSet pod: the agent takes N of reserved_resource_worker-N from the ordinal. It has
    // no PULP_SERVER_NAME (beat and resource_manager have): Pulp then takes its host name.
    const WORKER_HOST = `${tag}-worker-2`;
    const WORKER = `reserved_resource_worker-2@${WORKER_HOST}`;

    interface Pod extends PodRun {
      conf: string;
      view: string;
      host: string;
    }
    const pods: Pod[] = [];
    t.teardown(() => {
      for (const p of pods) p.kill();
    });
    const startPod = (role: string, host: string, extra: NodeJS.ProcessEnv = {}): Pod => {
      const view = join(dir, `${host}-${pods.length}`);
      const conf = podView(pulp2!, view);
      const workdir = join(view, 'celery');
      mkdirSync(workdir);
      chownSync(workdir, apache.uid, apache.gid);
      // [server] working_directory, where each worker makes its own as it starts: Pulp's
      // /var/cache/pulp is not on this machine, and the agent refuses a worker without it.
      const cache = join(view, 'cache');
      mkdirSync(cache);
      chownSync(cache, apache.uid, apache.gid);
      const env: NodeJS.ProcessEnv = {
        PATH: `${pulp2}/venv/bin:/usr/bin:/bin`,
        HOSTNAME: host,
        ...kube,
        MSG_SERVICE_USER: broker.user,
        MSG_SERVICE_PASSWORD: broker.password,
        PULP_BROKER_SCHEME: 'amqp',
        PULP_DB_NAME: db,
        PULP_SERVER_NAME: SERVER_NAME,
        // Pulp's documented RabbitMQ set-up; and console logs, as a container has no /dev/log.
        PULP_CONF__MESSAGING__TRANSPORT: 'rabbitmq',
        PULP_CONF__SERVER__LOG_TYPE: 'console',
        PULP_CELERY_WORKDIR: workdir,
        PULP_CONF__SERVER__WORKING_DIRECTORY: cache,
        PULP_EXEC_MODE: program.execMode,
        // Two cores shared with everything else: generous, the deadline is not what is tested.
        PULP_WAIT_TIMEOUT: '240',
        ...extra,
      };
      for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
      const pod: Pod = { ...runInPod(view, host, [...program.argv, role], env), conf, view, host };
      pods.push(pod);
      return pod;
    };
    /** Signals the pod's PID 1; after 30 s without an exit the pod is killed (code null). */
    const stop = async (pod: Pod, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> => {
      const pid1 = await pod.pid1();
      const t0 = Date.now();
      process.kill(pid1, signal);
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<{ code: null }>((r) => (timer = setTimeout(() => r({ code: null }), 30_000)));
      const { code } = await Promise.race([pod.exit, hung]);
      clearTimeout(timer);
      if (code === null) pod.kill();
      return { code, ms: Date.now() - t0 };
    };
    /**
     * Until beat's heartbeat is in the database and its main thread sleeps between two ticks.
     * Pulp 2's beat survives a SIGTERM only there, with or without the agent (in exec mode the
     * agent is gone): before its scheduler is set up it exits 1 ("The database is already
     * initialized": Celery's shutdown handler builds the scheduler a second time); during a
     * tick's database work it hangs until killed (the handler runs in the main thread while
     * that thread holds pymongo's topology lock, and needs the lock to delete the scheduler's
     * record; seen with gdb). Between ticks it sleeps for seconds (Python 2's time.sleep:
     * select() with no descriptors), far longer than it takes to signal it.
     */
    const settled = async (pod: Pod, host: string, since: Date): Promise<void> => {
      const end = Date.now() + 120_000;
      const beatPid = await celeryPid(await pod.pid1());
      for (;;) {
        const doc = await client.db(db).collection('workers').findOne({ _id: `scheduler@${host}` as never });
        if (doc && (doc.last_heartbeat as Date) >= new Date(since.getTime() - 1000) && sleeping(beatPid)) return;
        if (Date.now() > end) throw new Error(`scheduler@${host}: no heartbeat in ${db}, or never asleep between ticks`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    // A worker started before beat waits for the init record, then starts.
    const worker = startPod('worker', WORKER_HOST, { PULP_SERVER_NAME: undefined });
    await worker.until(/waiting for the one-time init pulp-manage-db@\w+ \(run by the beat role\)/, 'the worker to wait for the init');

    const beatSince = new Date();
    const beat = startPod('beat', BEAT_HOST);
    const rm = startPod('resource_manager', RM_HOST);
    await Promise.all([
      beat.until(/beat: Starting/, 'beat: Starting').then(() => beat.until(scheduling(BEAT_HOST), 'the scheduler to run')),
      rm.until(new RegExp(`${esc(RESOURCE_MANAGER)} ready\\.`), 'the resource manager to be ready'),
      worker.until(new RegExp(`${esc(WORKER)} ready\\.`), 'the worker to be ready'),
    ]);

    // configure: Pulp's own server.conf, in each pod's view, with what the environment says.
    for (const pod of [beat, rm, worker]) {
      const conf = readFileSync(pod.conf, 'utf8');
      t.match(conf, new RegExp(`^seeds: ${esc(s!.mongodb)}$`, 'm'), `${pod.host}: [database] seeds from DB_SERVICE_*`);
      t.match(conf, new RegExp(`^name: ${db}$`, 'm'), `${pod.host}: [database] name`);
      t.match(conf, new RegExp(`^broker_url: amqp://${esc(broker.user)}:.+@${esc(broker.address)}$`, 'm'), `${pod.host}: [tasks] broker_url from MSG_SERVICE_*`);
      t.match(conf, /^transport: rabbitmq$/m, `${pod.host}: [messaging] transport`);
    }
    t.match(readFileSync(beat.conf, 'utf8'), new RegExp(`^server_name: ${esc(SERVER_NAME)}$`, 'm'), 'beat: [server] server_name from PULP_SERVER_NAME');
    t.notMatch(readFileSync(worker.conf, 'utf8'), /^server_name:/m, 'worker: no PULP_SERVER_NAME, no server_name written');
    const pgrp = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2] ?? '';
    const groups = await Promise.all([beat, rm, worker].map(async (p) => pgrp(await p.pid1())));
    t.equal(new Set([...groups, pgrp(process.pid)]).size, 4, 'each pod in a process group of its own');
    t.equal(existsSync('/etc/pulp'), machineHadEtcPulp, "the machine's /etc is untouched");

    // init: the real pulp-manage-db ran once, in beat, on the database the agent configured.
    const migrated = (p: Pod): number => (p.output().match(/^Database migrations complete\.$/gm) ?? []).length;
    t.same([beat, rm, worker].map(migrated), [1, 0, 0], 'pulp-manage-db ran once, in the beat pod');
    const version = Number(/fast-forwarded to version (\d+)/.exec(beat.output())?.[1]);
    t.ok(version > 0, `pulp-manage-db migrated to version ${version}`);
    const tracker = await client.db(db).collection('migration_trackers').findOne({ name: 'pulp.server.db.migrations' });
    t.equal(tracker?.version, version, `the migrations are recorded in ${db}, the database the agent configured`);
    t.equal(await client.db(db).collection(INIT_COLLECTION).countDocuments({ _id: { $regex: '^done:' } } as never), 1, 'one completion record');
    for (const pod of [rm, worker]) t.match(pod.output(), new RegExp(`init pulp-manage-db@\\w+ was done at \\S+ on ${BEAT_HOST}`), `${pod.host} waited for beat's init`);
    t.match(beat.output(), program.execMode === 'exec' ? /exec beat / : /starting beat under the agent/, `mode ${program.execMode}`);

    // The workers answer over the broker the agent configured, under the names the agent built.
    // (inspect ping returns as soon as every node named by -d answered; the timeout is for a
    // slow machine.)
    const ping = async (nodes: string[]): Promise<string> => {
      const r = await run(
        'unshare',
        ['--mount', '--uts', 'bash', POD_SCRIPT, rm.view, 'ping', 'setpriv', '--reuid=apache', '--regid=apache', '--init-groups', 'celery', '-A', 'pulp.server.async.app', 'inspect', 'ping', '--timeout', '15', '-d', nodes.join(',')],
        { env: { PATH: `${pulp2}/venv/bin:/usr/bin:/bin`, HOME: '/' }, timeout: 60_000 },
      ).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: String(err.stdout), stderr: String(err.stderr) }));
      return r.stdout + r.stderr;
    };
    // A broadcast reply is now and then missing right after start (seen with both nodes
    // "ready."): the nodes still missing are asked again, as a liveness probe would.
    const answered = new Map<string, number>();
    let pong = '';
    for (let attempt = 1; attempt <= 3 && answered.size < 2; attempt++) {
      pong = await ping([RESOURCE_MANAGER, WORKER].filter((n) => !answered.has(n)));
      for (const node of [RESOURCE_MANAGER, WORKER]) if (!answered.has(node) && new RegExp(`-> ${esc(node)}: OK\\s+pong`).test(pong)) answered.set(node, attempt);
    }
    for (const node of [RESOURCE_MANAGER, WORKER]) {
      t.ok(answered.has(node), `${node} answers ping${answered.has(node) ? ` (attempt ${answered.get(node)})` : ''}`, { pong, rm: rm.output().slice(-3000), worker: worker.output().slice(-3000) });
    }
    // Without server_name the node name's host is the one Pulp itself takes for server_name.
    const pulpServerName = await run(
      'unshare',
      ['--mount', '--uts', 'bash', POD_SCRIPT, worker.view, WORKER_HOST, 'python', '-c', "from pulp.server.config import config; print(config.get('server', 'server_name'))"],
      { env: { PATH: `${pulp2}/venv/bin:/usr/bin:/bin`, HOME: '/' }, timeout: 60_000 },
    );
    t.equal(`reserved_resource_worker-2@${pulpServerName.stdout.trim()}`, WORKER, "no PULP_SERVER_NAME: the worker's node name ends in Pulp's own server_name (its host name)");
    const workers = await client.db(db).collection('workers').find({}).toArray();
    for (const node of [RESOURCE_MANAGER, WORKER]) t.ok(workers.some((w) => w._id === (node as never)), `${node} is in Pulp's workers collection`);

    // Stop signals: the images' STOPSIGNALs. Each role stops and exits 0 in time.
    await settled(beat, BEAT_HOST, beatSince);
    const stopped = await Promise.all([stop(beat, 'SIGTERM'), stop(rm, 'SIGTERM'), stop(worker, 'SIGQUIT')]);
    ['beat (SIGTERM)', 'resource_manager (SIGTERM)', 'worker (SIGQUIT)'].forEach((what, i) => {
      const r = stopped[i]!;
      const pod = [beat, rm, worker][i]!;
      t.equal(r.code, 0, r.code === 0 ? `${what}: exit 0` : `${what}: exit code; output:\n${pod.output()}`);
      t.ok(r.ms < STOP_WITHIN_MS, `${what}: stopped in ${r.ms} ms`);
    });
    for (const pod of [beat, rm, worker]) t.notOk(pod.output().includes(broker.password), `${pod.host}: the broker password is in no line`);

    // beat again: the init is skipped; with PULP_FORCE_INIT=1 the real pulp-manage-db runs again.
    const againSince = new Date();
    const again = startPod('beat', BEAT_HOST);
    await again.until(/beat: Starting/, 'beat: Starting (again)');
    await again.until(scheduling(BEAT_HOST), 'the scheduler to run (again)');
    t.match(again.output(), new RegExp(`init pulp-manage-db@\\w+ already done at \\S+ on ${BEAT_HOST}: skipping it`), 'a second beat skips the init');
    t.equal(migrated(again), 0, 'pulp-manage-db did not run');
    await settled(again, BEAT_HOST, againSince);
    t.equal((await stop(again, 'SIGTERM')).code, 0, 'the second beat stops: exit 0');
    const forcedSince = new Date();
    const forced = startPod('beat', BEAT_HOST, { PULP_FORCE_INIT: '1' });
    await forced.until(/beat: Starting/, 'beat: Starting (forced init)');
    await forced.until(scheduling(BEAT_HOST), 'the scheduler to run (forced init)');
    t.match(forced.output(), /init lease taken: running pulp-manage-db/, 'PULP_FORCE_INIT=1 runs the init again');
    t.match(forced.output(), /pulp-manage-db exited code=0/);
    await settled(forced, BEAT_HOST, forcedSince);
    t.equal((await stop(forced, 'SIGTERM')).code, 0, 'the forced beat stops: exit 0');
  }
}
