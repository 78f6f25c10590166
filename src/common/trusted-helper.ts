// Programs the agent runs while still root (setpriv) are never looked up through PATH: a
// directory early in PATH that someone else can write to would let them plant a program that
// runs as uid 0. They come from fixed locations instead, and only when nobody but root can
// have changed them: the file and every directory above it owned by root and not writable by
// group or others. The path exec'd is the resolved one, so a symlink swapped later changes
// nothing.
import { type Stats, realpathSync, statSync } from 'node:fs';

/** Where util-linux installs setpriv (EL7: /usr/bin, with /bin a link to it; Debian: /usr/bin). */
export const SETPRIV_LOCATIONS: readonly string[] = ['/usr/bin/setpriv', '/bin/setpriv'];

export type TrustedHelper = { path: string } | { refused: string };

/** Every directory from / down to the parent of `file`. */
function parents(file: string): string[] {
  const parts = file.split('/').filter((p) => p !== '');
  const out = ['/'];
  for (let i = 1; i < parts.length; i++) out.push(`/${parts.slice(0, i).join('/')}`);
  return out;
}

/** Why `st` could have been changed by someone other than root, or undefined. Pure. */
export function untrustedBecause(what: string, st: Pick<Stats, 'uid' | 'mode'>): string | undefined {
  if (st.uid !== 0) return `${what} is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) === 0) return undefined;
  const by = [st.mode & 0o020 ? 'its group' : '', st.mode & 0o002 ? 'others' : ''].filter((w) => w !== '').join(' and ');
  return `${what} is writable by ${by} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
}

/** The first of `locations` that is an executable regular file only root can have changed. */
export function findTrustedHelper(locations: readonly string[]): TrustedHelper {
  const refusals: string[] = [];
  for (const loc of locations) {
    let real: string;
    try {
      real = realpathSync(loc);
    } catch {
      continue;
    }
    let st: Stats;
    try {
      st = statSync(real);
    } catch {
      continue;
    }
    if (!st.isFile() || (st.mode & 0o111) === 0) continue;
    const why = [untrustedBecause(real, st), ...parents(real).map((d) => untrustedBecause(d, statSync(d)))].find((w) => w !== undefined);
    if (why === undefined) return { path: real };
    refusals.push(`${loc}: ${why}`);
  }
  return { refused: refusals.length > 0 ? `refused ${refusals.join('; ')}` : `not found at ${locations.join(' or ')}` };
}
