// Who the init and the role run as (PULP_RUN_AS), read from /etc/passwd and /etc/group
// directly: the agent is a static bundle without NSS bindings, and container images keep
// their users in these two files. Parsing is pure; only readUserDb() touches the disk.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.ts';
import { MAX_UID } from '../settings/validators.ts';
import { envName } from '../common/program.ts';

export interface ResolvedUser {
  name: string;
  uid: number;
  /** Primary group. */
  gid: number;
  /** Every group the user is in, primary first (what initgroups(3) would give). */
  groups: number[];
  home: string;
  shell: string;
}

/** How error lines name a user: "apache (uid 48, gid 48, groups 48,500)". */
export function describeUser(user: ResolvedUser): string {
  return `${user.name} (uid ${user.uid}, gid ${user.gid}, groups ${user.groups.join(',')})`;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function lines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('+') && !l.startsWith('-'))
    .map((l) => l.split(':'));
}

function id(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_UID ? n : undefined;
}

/** name:password:uid:gid:gecos:home:shell; malformed lines are skipped, as getpwent does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of lines(text)) {
    const uid = id(f[2]);
    const gid = id(f[3]);
    if (f.length < 7 || !f[0] || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** name:password:gid:member,member */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of lines(text)) {
    const gid = id(f[2]);
    if (f.length < 4 || !f[0] || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0], gid, members });
  }
  return out;
}

/**
 * Resolves a user name or numeric uid. The first passwd entry wins, as getpwnam does.
 * `varName` names the setting in the error, so a user knows what to fix.
 */
export function resolveUserFrom(spec: string, passwd: PasswdEntry[], groups: GroupEntry[], varName = envName('RUN_AS')): ResolvedUser {
  const wanted = spec.trim();
  if (wanted === '') throw new InputError(`${varName} is empty: set it to a user name or uid from /etc/passwd`);
  const uid = id(wanted);
  const entry = passwd.find((p) => p.name === wanted) ?? (uid !== undefined ? passwd.find((p) => p.uid === uid) : undefined);
  if (!entry) {
    throw new InputError(`${varName}=${wanted}: no such user in /etc/passwd (add the user to the image or set ${varName} to an existing one)`);
  }
  const supplementary = groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid);
  const all = [entry.gid, ...supplementary.filter((g) => g !== entry.gid)];
  return {
    name: entry.name,
    uid: entry.uid,
    gid: entry.gid,
    groups: [...new Set(all)],
    home: entry.home,
    shell: entry.shell,
  };
}

export interface UserDbPaths {
  passwd?: string;
  group?: string;
}

export function readUserDb(paths: UserDbPaths = {}): { passwd: PasswdEntry[]; groups: GroupEntry[] } {
  const passwdPath = paths.passwd ?? '/etc/passwd';
  const groupPath = paths.group ?? '/etc/group';
  let passwdText: string;
  try {
    passwdText = readFileSync(passwdPath, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${passwdPath} to resolve ${envName('RUN_AS')}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let groupText = '';
  try {
    groupText = readFileSync(groupPath, 'utf8');
  } catch {
    // Without /etc/group the user still has its primary gid; supplementary groups are optional.
  }
  return { passwd: parsePasswd(passwdText), groups: parseGroup(groupText) };
}

/** Reads /etc/passwd and /etc/group and resolves PULP_RUN_AS (a name or a uid). */
export function resolveUser(spec: string, paths: UserDbPaths = {}, varName = envName('RUN_AS')): ResolvedUser {
  const db = readUserDb(paths);
  return resolveUserFrom(spec, db.passwd, db.groups, varName);
}
