// The role table: what each Pulp role runs, as whom and where. Pure data read by the preview
// and by run, so both show and do exactly the same thing.
import type { ConfigView } from '../ini/config-view.ts';
import type { RolePath } from '../system/system.ts';
import { keyParts, pulpValue, setValue } from './keys.ts';

export const ROLES = ['beat', 'resource_manager', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(name: string): name is Role {
  return (ROLES as readonly string[]).includes(name);
}

export interface CommandSpec {
  /** argv[0] is a program name looked up on PATH (or an absolute path). */
  argv: string[];
  user: string;
  cwd: string;
}

export interface RoleSpec {
  role: Role;
  /** The one-time init before the role (beat: pulp-manage-db), or null. */
  init: CommandSpec | null;
  exec: CommandSpec;
  /** Where N of reserved_resource_worker-N came from (workers only). */
  workerIdFrom?: string;
  /** What the role writes as it starts. */
  paths: RolePath[];
}

export interface RoleInputs {
  conf: ConfigView;
  runAs: string;
  hostname: string;
  workerId: number | undefined;
  logLevel: string;
  logFile: string | undefined;
  workdir: string | undefined;
  extraArgs: readonly string[];
}

const CELERY_DIR = '/var/lib/pulp/celery';

/** The one-time init (beat's); the other roles wait for the record of the same command's key. */
export const INIT_ARGV: readonly string[] = ['pulp-manage-db'];

/** The N of a StatefulSet pod's host name ("pulp-worker-3" -> 3). */
export function statefulSetOrdinal(hostname: string): number | undefined {
  const m = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?-([0-9]+)$/.exec(hostname.split('.')[0] ?? '');
  return m?.[2] === undefined ? undefined : Number(m[2]);
}

/**
 * Every Celery worker process (resource_manager and worker; not beat) runs Pulp's
 * initialize_worker as it starts (pulp/server/async/app.py, on celeryd_after_setup): it removes
 * and makes [server] working_directory/<node name> (os.mkdir, so the directory itself must
 * exist). Celery 4.0.2 logs a signal handler's exception and goes on, so without that directory
 * the worker still says "ready" and then fails every task that asks for its working directory.
 */
function workingDirectory(conf: ConfigView): RolePath {
  return {
    ...keyParts('server.working_directory'),
    path: pulpValue(conf, 'server.working_directory') ?? '',
    access: 'dir',
    why: "each Celery worker makes its own working directory there as it starts (Pulp's initialize_worker), and its tasks work in it",
  };
}

export function roleSpec(role: Role, inputs: RoleInputs): RoleSpec {
  // The host part of the node names: [server] server_name, as the original images did; unset,
  // the host name, as Pulp's own units do (`-n resource_manager@%%h`), which is also what Pulp
  // takes for server_name then (socket.getfqdn(), not a fixed name): two pods must never
  // share a node name, or Pulp mixes up their heartbeats and the resource manager lock.
  const serverName = setValue(inputs.conf, 'server.server_name') ?? inputs.hostname;
  const cwd = inputs.workdir ?? CELERY_DIR;
  const logging = [`--loglevel=${inputs.logLevel}`, ...(inputs.logFile ? [`--logfile=${inputs.logFile}`] : [])];
  const as = (argv: string[]): CommandSpec => ({ argv: [...argv, ...inputs.extraArgs], user: inputs.runAs, cwd });
  switch (role) {
    case 'beat':
      return {
        role,
        paths: [],
        init: { argv: [...INIT_ARGV], user: inputs.runAs, cwd },
        exec: as([
          'celery',
          'beat',
          '--app=pulp.server.async.celery_instance.celery',
          '--scheduler=pulp.server.async.scheduler.Scheduler',
          `--workdir=${cwd}`,
          ...logging,
        ]),
      };
    case 'resource_manager':
      return {
        role,
        init: null,
        paths: [workingDirectory(inputs.conf)],
        exec: as([
          'celery',
          'worker',
          '-A',
          'pulp.server.async.app',
          '-n',
          `resource_manager@${serverName}`,
          '-Q',
          'resource_manager',
          '-c',
          '1',
          '--events',
          '--umask',
          '18',
          ...logging,
        ]),
      };
    case 'worker': {
      const ordinal = statefulSetOrdinal(inputs.hostname);
      const n = inputs.workerId ?? ordinal ?? 0;
      const workerIdFrom = inputs.workerId !== undefined ? 'PULP_WORKER_ID' : ordinal !== undefined ? `host name ${inputs.hostname}` : 'default';
      return {
        role,
        init: null,
        workerIdFrom,
        paths: [workingDirectory(inputs.conf)],
        exec: as([
          'celery',
          'worker',
          '-n',
          `reserved_resource_worker-${n}@${serverName}`,
          '-A',
          'pulp.server.async.app',
          '-c',
          '1',
          '--events',
          ...logging,
        ]),
      };
    }
  }
}
