// Dropping from root to PULP_RUN_AS: the environment the user gets, how a spawned child gets
// its groups, whether it may enter its working directory and use the paths the role writes as
// it starts, and the in-process drop right before execve.
import { type Stats, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CannotExecuteError } from '../common/errors.ts';
import { type ResolvedUser, describeUser, resolveUser } from './users.ts';
import { envName } from '../common/program.ts';

export interface UserPlan {
  /** The user to switch to, or null to run as the agent's own user. */
  user: ResolvedUser | null;
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
      warning: `not running as root (uid ${euid}): ${envName('RUN_AS')}=${runAs} is ignored, the init and the role run as uid ${euid}`,
    };
  }
  return { user: resolveUser(runAs, paths) };
}

/** HOME, USER and LOGNAME from passwd, as runuser/su set them; everything else is kept. */
export function envForUser(env: NodeJS.ProcessEnv, user: ResolvedUser | null): NodeJS.ProcessEnv {
  if (user === null) return { ...env };
  return { ...env, HOME: user.home, USER: user.name, LOGNAME: user.name };
}

export interface Launch {
  file: string;
  args: string[];
}

/**
 * How a spawned child (the init, or the role in supervise mode) gets the target's
 * credentials: exactly those exec mode gives the role (dropPrivilegesInProcess), the user's
 * groups included. child_process.spawn can set uid and gid, but libuv then calls
 * setgroups(0, NULL): the child would have no supplementary groups at all, not even the
 * user's own group that exec mode lists. So the child is started through util-linux's
 * setpriv, which sets groups, gid and uid (real, effective and saved) and then exec()s the
 * program: no process stays behind, the role gets signals straight from the agent. runuser
 * would fork and stay as the parent (for PAM), which puts one more process between the agent
 * and the role; a forked helper is not something Node can do. setpriv runs as root, so it
 * comes from a fixed root-owned location (trusted-helper.ts), never from PATH.
 */
export function planLaunch(file: string, args: string[], user: ResolvedUser | null, setprivPath: string | undefined, setprivMissing = 'not found'): Launch {
  if (user === null) return { file, args };
  if (setprivPath === undefined) {
    throw new CannotExecuteError(
      `setpriv (util-linux) ${setprivMissing}: it is needed to start a program as ${user.name} with its groups (${user.groups.join(',')}); install util-linux in the image (it is never looked up on PATH, since it runs as root)`,
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

interface Identity {
  uid: number;
  gid: number;
  groups: number[];
  label: string;
}

function identityOf(user: ResolvedUser | null): Identity {
  if (user !== null) return { uid: user.uid, gid: user.gid, groups: user.groups, label: describeUser(user) };
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  return { uid, gid, groups: process.getgroups?.() ?? [gid], label: `uid ${uid} (the agent's own user)` };
}

/**
 * Whether the mode bits give `who` every permission of `rwx` (read 4, write 2, search 1) on a
 * file or directory, as the kernel picks the class: owner, else group, else other. Root may
 * read, write and search anything (CAP_DAC_OVERRIDE).
 */
export function modeAllows(st: Pick<Stats, 'uid' | 'gid' | 'mode'>, who: { uid: number; gid: number; groups: number[] }, rwx: number): boolean {
  if (who.uid === 0) return true;
  const shift = st.uid === who.uid ? 6 : st.gid === who.gid || who.groups.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & rwx) === rwx;
}

/** Search (x) permission on a directory by its mode bits, as the kernel picks the class: owner, else group, else other. */
export function maySearch(st: Pick<Stats, 'uid' | 'gid' | 'mode'>, who: { uid: number; gid: number; groups: number[] }): boolean {
  return modeAllows(st, who, 0o1);
}

/** "owner 0:0, mode 0755", for a message. */
function ownerAndMode(st: Stats): string {
  return `owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

/**
 * The first directory on the way to `abs` (as given, and as it resolves to: a symlink's own
 * parents need search permission too) that `who` may not search, or undefined.
 */
function unsearchable(who: Identity, abs: string, real: string): { dir: string; st: Stats } | undefined {
  if (who.uid === 0) return undefined;
  for (const dir of [...new Set([...prefixes(abs), ...prefixes(real)])]) {
    let st: Stats;
    try {
      st = statSync(dir);
    } catch {
      continue; // a lexical prefix that is only reachable through '..' or a dangling link: realpath covered it
    }
    if (st.isDirectory() && !maySearch(st, who)) return { dir, st };
  }
  return undefined;
}

/** Every directory from / down to `path`: "/", "/a", "/a/b". */
function prefixes(path: string): string[] {
  const out = ['/'];
  let at = '';
  for (const part of path.split('/').filter((p) => p !== '')) {
    at += `/${part}`;
    out.push(at);
  }
  return out;
}

/**
 * Why `user` (null: the agent itself) cannot make `cwd` its working directory, or undefined
 * when it can: missing, not a directory, or no search permission on a directory along the
 * path for the user's uid, gid and supplementary groups. Read as the agent (root), before
 * anything is written, so the answer comes before the switch instead of as a failed chdir
 * after it. Mode bits only: an ACL or a security module can still refuse, which the chdir in
 * exec mode then reports.
 */
export function checkWorkdirFor(user: ResolvedUser | null, cwd: string): string | undefined {
  const who = identityOf(user);
  const abs = resolve(cwd);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `working directory ${abs} does not exist`;
    if (code === 'ENOTDIR') return `working directory ${abs} is not a directory (a part of its path is a file)`;
    return `working directory ${abs} cannot be looked up by the agent: ${(err as Error).message}`;
  }
  if (!statSync(real).isDirectory()) return `working directory ${abs} is not a directory`;
  const denied = unsearchable(who, abs, real);
  return denied && `${who.label} cannot enter working directory ${abs}: no search (x) permission on ${denied.dir} (${ownerAndMode(denied.st)})`;
}

/** How a role uses a path as it starts (src/system/system.ts's RolePath). */
export type PathAccess = 'dir' | 'file' | 'read';

/** The path's status, following links: undefined when it does not exist. */
function lookUp(abs: string): { st: Stats; real: string } | undefined {
  try {
    return { st: statSync(abs), real: realpathSync(abs) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Why `user` (null: the agent itself) cannot use `path` as a role does as it starts, or
 * undefined when it can: `dir`, make entries in an existing directory (write and search);
 * `file`, append to a regular file, or create it in an existing directory (a device or FIFO is
 * opened as the service opens it, and not judged here); `read`, read a file. Every directory on
 * the way must be searchable. Mode bits only, as checkWorkdirFor: an ACL, a read-only mount or
 * a security module can still refuse.
 */
export function pathProblem(user: ResolvedUser | null, path: string, access: PathAccess): string | undefined {
  const who = identityOf(user);
  const abs = resolve(path);
  let found: { st: Stats; real: string } | undefined;
  try {
    found = lookUp(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTDIR' ? `${abs}: a part of its path is a file, not a directory` : `${abs} cannot be looked up by the agent: ${(err as Error).message}`;
  }
  const blocked = (where: string, real: string): string | undefined => {
    const denied = unsearchable(who, where, real);
    return denied && `${who.label} cannot reach ${abs}: no search (x) permission on ${denied.dir} (${ownerAndMode(denied.st)})`;
  };
  if (found === undefined) {
    if (access !== 'file') return `${abs} does not exist`;
    // Made where it is missing: its directory must exist and take new entries.
    const parent = dirname(abs);
    let dir: { st: Stats; real: string } | undefined;
    try {
      dir = lookUp(parent);
    } catch (err) {
      return `${parent} cannot be looked up by the agent: ${(err as Error).message}`;
    }
    if (dir === undefined) return `${abs} does not exist, nor its directory ${parent}`;
    if (!dir.st.isDirectory()) return `${parent} is not a directory`;
    return blocked(parent, dir.real) ?? (modeAllows(dir.st, who, 0o3) ? undefined : `${who.label} cannot create ${abs}: no write (w) permission on ${parent} (${ownerAndMode(dir.st)})`);
  }
  const { st, real } = found;
  if (access === 'dir') {
    if (!st.isDirectory()) return `${abs} is not a directory`;
    return blocked(abs, real) ?? (modeAllows(st, who, 0o3) ? undefined : `${who.label} cannot make entries in ${abs}: no write (w) permission (${ownerAndMode(st)})`);
  }
  if (st.isDirectory()) return `${abs} is a directory, not a file`;
  if (access === 'file' && !st.isFile()) return undefined;
  const rw = access === 'read' ? 0o4 : 0o2;
  return blocked(dirname(abs), dirname(real)) ?? (modeAllows(st, who, rw) ? undefined : `${who.label} cannot ${access === 'read' ? 'read' : 'write to'} ${abs}: no ${access === 'read' ? 'read (r)' : 'write (w)'} permission (${ownerAndMode(st)})`);
}
