// Dropping from root to PULP_RUN_AS: the environment the user gets, how a spawned child gets
// its groups, and the in-process drop right before execve.
import { EntrypointError, ExitCode } from '../errors.ts';
import type { ResolvedUser } from '../users.ts';
import { resolveUser } from '../users.ts';

export interface UserPlan {
  /** The user to switch to, or null to run as the agent's own user. */
  user: ResolvedUser | null;
  /** True when the agent is root and will switch user. */
  drop: boolean;
  /** Set when PULP_RUN_AS is ignored: the caller logs it as a warning. */
  warning?: string;
}

/**
 * Who the init and the role run as. As root: PULP_RUN_AS, resolved from /etc/passwd (an
 * unknown user is an InputError). Not root: the agent cannot switch, so it runs them as
 * itself and says so (OpenShift-style arbitrary uids land here).
 */
export function planUser(runAs: string, euid: number = process.geteuid?.() ?? 0, paths: { passwd?: string; group?: string } = {}): UserPlan {
  if (euid !== 0) {
    return {
      user: null,
      drop: false,
      warning: `not running as root (uid ${euid}): PULP_RUN_AS=${runAs} is ignored, the init and the role run as uid ${euid}`,
    };
  }
  return { user: resolveUser(runAs, paths), drop: true };
}

/** HOME, USER and LOGNAME from passwd, as runuser/su set them; everything else is kept. */
export function envForUser(env: NodeJS.ProcessEnv, user: ResolvedUser | null): NodeJS.ProcessEnv {
  if (user === null) return { ...env };
  return { ...env, HOME: user.home, USER: user.name, LOGNAME: user.name };
}

export interface Launch {
  file: string;
  args: string[];
  /** For child_process.spawn's uid/gid options; undefined when setpriv switches or no switch. */
  uid?: number;
  gid?: number;
}

/**
 * How a spawned child (the init, or the role in supervise mode) gets the target's
 * credentials. child_process.spawn can set uid and gid, but libuv then calls
 * setgroups(0, NULL): the supplementary groups are lost. So when the user has any, the
 * child is started through util-linux's setpriv, which sets groups, gid and uid (real,
 * effective and saved) and then exec()s the program: no process stays behind, the role
 * gets signals straight from the agent. runuser would fork and stay as the parent (for
 * PAM), which puts one more process between the agent and the role; a forked helper is
 * not something Node can do. Without supplementary groups spawn's own options give the
 * same result with one exec fewer, and no dependency on setpriv.
 */
export function planLaunch(file: string, args: string[], user: ResolvedUser | null, setprivPath: string | undefined): Launch {
  if (user === null) return { file, args };
  const supplementary = user.groups.filter((g) => g !== user.gid);
  if (supplementary.length === 0) return { file, args, uid: user.uid, gid: user.gid };
  if (setprivPath === undefined) {
    throw new EntrypointError(
      `setpriv (util-linux) not found on PATH: it is needed to give ${user.name} its supplementary groups (${supplementary.join(',')}); install util-linux in the image`,
      ExitCode.software,
    );
  }
  return {
    file: setprivPath,
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, `--groups=${user.groups.join(',')}`, '--', file, ...args],
  };
}

/**
 * Switches this process to `user`. Only right before process.execve: the order is groups
 * (needs root), then gid, then uid (after which nothing else can be changed). glibc applies
 * set*id to every thread of the process, and execve then replaces them all, so libuv's
 * worker threads keep no root credentials into the role. Until execve, the process keeps
 * no root file descriptors the role could use except the inherited stdio: libuv opens
 * everything else close-on-exec.
 */
export function dropPrivilegesInProcess(user: ResolvedUser): void {
  if (!process.setgroups || !process.setgid || !process.setuid) throw new Error('this platform cannot switch users');
  process.setgroups(user.groups);
  process.setgid(user.gid);
  process.setuid(user.uid);
}
