// Keeping key repositories equal to the Secrets they come from, for as long as the pod runs
// (Keystone's sync-keys sidecar). Each pass reads one version of each Secret (readKeySet) and
// installs it (installKeySet: temporary file and rename, so a repository is whole at any
// instant the process is killed). A pass that finds nothing new writes nothing. A Secret that
// turns bad (a malformed key, a missing staged key) leaves the repository as it was and is
// reported once, not at every pass. Memory: one pass's few small buffers, nothing kept
// between passes but the last message of each repository.
//
// A rotation is installed in two steps, because Keystone reads a repository with a listdir
// and then one open per file, not at one instant: the new primary N+1 is the old staged key
// 0, renumbered, and a load that listed the files before N+1 existed finds that key only
// under 0. So first every new key but 0 is written and nothing removed; only a grace period
// later, long past any load that listed before, is 0 replaced and the dropped keys removed.
// No token a replica may sign with is ever missing from what a load reads.
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Time, realTime } from '../common/retry.ts';
import { type InstallResult, installKeySet, readKeySet } from './key-repository.ts';
import { type KeySet, byNumber, describeKeySet, sameKeySet } from './key-set.ts';

/** A repository and the mounted Secret it follows. */
export interface KeyFollow {
  /** "fernet": how lines name the keys. */
  name: string;
  /** The mounted Secret, and the variable that names it. */
  source: string;
  variable: string;
  /** The repository the service reads. */
  dir: string;
}

export interface Owner {
  uid: number | undefined;
  gid: number | undefined;
}

/**
 * How long the first step stands before key 0 is replaced: far longer than one load of the
 * keys (well under a millisecond), even with the reading worker stalled by a CPU limit. The
 * staged key is not used before the next rotation, so waiting costs nothing.
 */
export const STAGED_GRACE_MS = 5000;

/** The repository's set now, or undefined when it holds none (new, incomplete, broken). */
function currentSet(dir: string): KeySet | undefined {
  try {
    return readKeySet(dir, dir);
  } catch {
    return undefined;
  }
}

/** The first step towards `next` from `now`: every key of both, with key 0 as it is now. */
export function firstStep(now: KeySet, next: KeySet): KeySet | undefined {
  const staged = now.files.find((f) => f.name === '0');
  const nextStaged = next.files.find((f) => f.name === '0');
  if (staged === undefined || nextStaged === undefined || staged.key === nextStaged.key) return undefined;
  const byName = new Map(now.files.map((f) => [f.name, f.key]));
  for (const f of next.files) if (f.name !== '0') byName.set(f.name, f.key);
  return { files: [...byName].map(([name, key]) => ({ name, key })).sort((a, b) => byNumber(a.name, b.name)) };
}

/**
 * One pass for one repository: the Secret's set, and what installing it did (both steps'
 * writes and removals). `skipWhenSame`: a repository that already holds the Secret's set is
 * left as it is (the passes after the first; the first installs always, which also sets each
 * file's mode and owner). Throws what readKeySet or installKeySet throw.
 */
export async function syncOnce(f: KeyFollow, owner: Owner, graceMs = STAGED_GRACE_MS, time: Time = realTime, skipWhenSame = false): Promise<{ keys: KeySet; result: InstallResult }> {
  const keys = readKeySet(f.source, f.variable);
  const now = currentSet(f.dir);
  // Most passes: the Secret as it was, the repository just read whole: nothing to install.
  if (skipWhenSame && now !== undefined && sameKeySet(now, keys)) return { keys, result: { dir: f.dir, changed: false, written: [], removed: [] } };
  const first = now === undefined ? undefined : firstStep(now, keys);
  if (first === undefined) return { keys, result: installKeySet(f.dir, keys, owner) };
  const a = installKeySet(f.dir, first, owner);
  await time.sleep(graceMs);
  const b = installKeySet(f.dir, keys, owner);
  return { keys, result: { dir: f.dir, changed: a.changed || b.changed, written: [...a.written, ...b.written], removed: [...a.removed, ...b.removed] } };
}

/** The line for a pass that changed a repository: the set now there, what was written and removed. */
export function changeLine(f: KeyFollow, keys: KeySet, r: InstallResult): string {
  const did = [r.written.length > 0 ? `wrote ${r.written.join(', ')}` : '', r.removed.length > 0 ? `removed ${r.removed.join(', ')}` : ''].filter(Boolean).join('; ');
  return `${f.name} keys in ${f.dir} now as in ${f.source} (${f.variable}): ${describeKeySet(keys)}${did ? ` (${did})` : ''}`;
}

export interface FollowOptions {
  owner: Owner;
  log: Logger;
  /** The pause between passes. */
  intervalMs: number;
  /** Ends the loop (a stop signal). */
  signal: AbortSignal;
  /** Between the two steps of a rotation (STAGED_GRACE_MS). */
  graceMs?: number;
  time?: Time;
}

/**
 * Passes over every repository every `intervalMs` until `signal` aborts. A failing pass is
 * logged when its message differs from the last one of that repository, and its recovery once.
 */
export async function followKeys(follows: readonly KeyFollow[], o: FollowOptions): Promise<void> {
  const time = o.time ?? realTime;
  const lastError = new Map<string, string>();
  while (!o.signal.aborted) {
    await time.sleep(o.intervalMs, o.signal);
    if (o.signal.aborted) break;
    for (const f of follows) {
      try {
        const { keys, result } = await syncOnce(f, o.owner, o.graceMs, time, true);
        if (lastError.delete(f.dir)) o.log.info(`${f.name} keys in ${f.dir}: ${f.source} (${f.variable}) is usable again`);
        if (result.changed) o.log.info(changeLine(f, keys, result));
      } catch (err) {
        const msg = errorMessage(err);
        if (lastError.get(f.dir) !== msg) o.log.error(`${msg}; ${f.dir} keeps the keys it has`);
        lastError.set(f.dir, msg);
      }
    }
  }
}
