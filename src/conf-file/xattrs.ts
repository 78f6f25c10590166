// Extended attributes of server.conf (a POSIX ACL is one: system.posix_acl_access; so is an
// SELinux label), which a write by rename would drop with the old inode. Node has no xattr
// API, so they are read and copied with attr's getfattr/setfattr when the image has them, from
// fixed root-owned locations (they run as root: never from PATH). Without them the agent
// cannot see the attributes at all; docs/configuration.md says so.
import { spawnSync } from 'node:child_process';
import { findTrustedHelper } from '../common/trusted-helper.ts';

export type Xattrs =
  /** getfattr is not installed: nothing is known about the file's attributes. */
  | { known: false; why: string }
  /** `dump` is getfattr's text for the file (empty when it has none), `names` what it lists. */
  | { known: true; names: string[]; dump: string };

const GETFATTR = ['/usr/bin/getfattr', '/bin/getfattr'];
const SETFATTR = ['/usr/bin/setfattr', '/bin/setfattr'];

/** The attribute names in a `getfattr --dump --encoding=hex` text. Pure. */
export function xattrNames(dump: string): string[] {
  return dump
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.includes('='))
    .map((l) => l.slice(0, l.indexOf('=')));
}

/** Every extended attribute of `file` (all namespaces, values in hex). */
export function readXattrs(file: string): Xattrs {
  const tool = findTrustedHelper(GETFATTR);
  if (!('path' in tool)) return { known: false, why: `getfattr (attr) ${tool.refused}` };
  const r = spawnSync(tool.path, ['--absolute-names', '--dump', '--match=-', '--encoding=hex', '--', file], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return { known: false, why: `getfattr failed on ${file}: ${(r.stderr ?? '').trim() || `exit ${r.status}`}` };
  const names = xattrNames(r.stdout);
  return { known: true, names, dump: r.stdout };
}

/** Sets the attributes of `from` (read by readXattrs) on `to`; the reason when it cannot. */
export function copyXattrs(from: { names: string[]; dump: string }, to: string): string | undefined {
  if (from.names.length === 0) return undefined;
  const tool = findTrustedHelper(SETFATTR);
  if (!('path' in tool)) return `setfattr (attr) ${tool.refused}`;
  // setfattr --restore takes the file name from the dump's "# file:" line.
  const body = from.dump
    .split('\n')
    .filter((l) => !l.startsWith('# file:'))
    .join('\n');
  const input = `# file: ${to}\n${body}\n`;
  const r = spawnSync(tool.path, ['--restore=-'], { input, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return `setfattr failed: ${(r.stderr ?? '').trim() || `exit ${r.status}`}`;
  return undefined;
}
