// A key rotation as `keystone-manage fernet_rotate` and `credential_rotate` do it (pure): the
// staged key 0 becomes the primary, numbered one above the highest; a fresh key is staged as 0;
// the oldest keys beyond max_active_keys go (keystone/common/fernet_utils.py, rotate_keys).
// And what keeps a rotation from cutting tokens short: Keystone's formula for max_active_keys
// against the rotation schedule, and the Secret's own record of when each key stopped signing.
import { type KeySet, byNumber, freshKey, primaryOf } from '../conf-file/key-set.ts';
import { type CronSchedule, shortestSpan } from '../kube-api/cron-schedule.ts';

export interface Rotation {
  before: KeySet;
  after: KeySet;
  /** The new primary's number: the old staged key 0, renumbered. */
  promoted: string;
  /** The numbers dropped beyond max_active_keys, lowest first. */
  removed: string[];
}

/**
 * Rotates `keys` (which holds 0) as Keystone's rotate_keys does: new primary = highest + 1
 * holding the old 0's key, a fresh 0, then while more than max_active_keys - 1 keys besides
 * the new 0 remain, the lowest is removed (with max_active_keys 1 that is every key but 0,
 * exactly as Keystone does).
 */
export function rotateKeySet(keys: KeySet, maxActiveKeys: number, fresh: () => string = freshKey): Rotation {
  const staged = keys.files.find((f) => f.name === '0');
  if (staged === undefined) throw new Error('rotateKeySet: no staged key 0');
  const promoted = (BigInt(primaryOf(keys) ?? '0') + 1n).toString();
  // key_files without 0, with the new primary: the candidates for the purge, highest first.
  const kept = [...keys.files.filter((f) => f.name !== '0'), { name: promoted, key: staged.key }].sort((a, b) => byNumber(b.name, a.name));
  const removed: string[] = [];
  while (kept.length > maxActiveKeys - 1) removed.push(kept.pop()?.name ?? '');
  const after: KeySet = { files: [{ name: '0', key: fresh() }, ...kept.reverse()] };
  return { before: keys, after, promoted, removed };
}

/** How long a token lives: [token] expiration + allow_expired_window, in seconds. */
export interface TokenLife {
  expirationSec: number;
  allowExpiredWindowSec: number;
}

const lifeOf = (l: TokenLife): number => l.expirationSec + l.allowExpiredWindowSec;

/** A duration for a person: "49 h", "90 min", "45 s". */
export function humanDuration(sec: number): string {
  if (sec >= 2 * 3600) return `${(sec / 3600).toFixed(1).replace(/\.0$/, '')} h`;
  if (sec >= 120) return `${Math.round(sec / 60)} min`;
  return `${Math.round(sec)} s`;
}

/** Keystone's formula (Fernet FAQ): max_active_keys = (expiration + allow_expired_window) / rotation interval + 2, rounded up. */
export function neededMaxActiveKeys(life: TokenLife, intervalSec: number): number {
  return Math.ceil(lifeOf(life) / intervalSec) + 2;
}

/**
 * The refusal, or undefined: a key stops signing at one rotation and is dropped max_active_keys
 * - 2 rotations later, so those rotations must together span at least a token's life. The
 * schedule's shortest span of that many intervals is what counts (a schedule of weekdays
 * only has 24 h intervals, not 33.6 h on average).
 */
export function scheduleRefusal(maxActiveKeys: number, life: TokenLife, schedule: CronSchedule, scheduleFrom: string): string | undefined {
  const intervals = maxActiveKeys - 2;
  const span = shortestSpan(schedule, Math.max(intervals, 0));
  if (span === undefined || span / 1000 >= lifeOf(life)) return undefined;
  // The interval the formula speaks of: the shortest gap between two runs.
  const gap = (shortestSpan(schedule, 1) ?? 0) / 1000;
  const needed = gap > 0 ? neededMaxActiveKeys(life, gap) : undefined;
  return (
    `[fernet_tokens] max_active_keys = ${maxActiveKeys} drops a key ${intervals <= 0 ? 'at the very rotation it stops signing' : `${intervals} rotation${intervals === 1 ? '' : 's'} after it stops signing (${humanDuration(span / 1000)} at the quickest)`}, ` +
    `but tokens live ${humanDuration(lifeOf(life))} ([token] expiration ${life.expirationSec} s + allow_expired_window ${life.allowExpiredWindowSec} s) ` +
    `and keys rotate as often as every ${humanDuration(gap)} (${scheduleFrom} ${JSON.stringify(schedule.text)}): ` +
    (needed !== undefined ? `Keystone's formula (${lifeOf(life)} / ${gap} + 2, rounded up) needs max_active_keys = ${needed}` : 'raise max_active_keys')
  );
}

/** A rotation in the Secret's record: the primary it made and when. */
export interface RotationRecord {
  primary: string;
  at: Date;
}

/** How many rotations the record keeps: more than any max_active_keys the check looks back over. */
const HISTORY_LENGTH = 32;

/** The record from the Secret's annotation, newest first; what cannot be read is left out. */
export function parseHistory(text: string | undefined): RotationRecord[] {
  const out: RotationRecord[] = [];
  for (const item of (text ?? '').split(/\s+/)) {
    const m = /^(0|[1-9][0-9]*)@(\S+)$/.exec(item);
    const at = m ? new Date(m[2] ?? '') : undefined;
    if (m && at && !Number.isNaN(at.getTime())) out.push({ primary: m[1] ?? '', at });
  }
  return out;
}

/** The record with this rotation first, cut to its length. */
export function withRotation(history: readonly RotationRecord[], r: RotationRecord): string {
  return [r, ...history]
    .slice(0, HISTORY_LENGTH)
    .map((h) => `${h.primary}@${h.at.toISOString()}`)
    .join(' ');
}

/** What makes a dropped key still needed for a while after it stopped being the primary. */
export interface KeyLife {
  /** For how long after it stopped being primary, in seconds. */
  seconds: number;
  /** Why, for the message: "tokens live 49 h ([token] expiration + allow_expired_window)". */
  why: string;
}

/**
 * The refusal, or undefined: a key this rotation drops stopped being the primary when the next
 * number became primary, and is still needed for `life` after that (tokens it signed; a
 * replica's cached credentials it encrypted). Keys with no record (older than the record, or
 * the first set) are not judged.
 */
export function historyRefusal(rotation: Rotation, history: readonly RotationRecord[], life: KeyLife, now: Date): string | undefined {
  for (const key of rotation.removed) {
    const next = (BigInt(key) + 1n).toString();
    const demoted = history.find((h) => h.primary === next);
    if (demoted === undefined) continue;
    const until = demoted.at.getTime() + life.seconds * 1000;
    if (until <= now.getTime()) continue;
    const ago = (now.getTime() - demoted.at.getTime()) / 1000;
    return `rotating now drops key ${key}, the primary until ${demoted.at.toISOString()} (${humanDuration(ago)} ago), and ${life.why}: the next rotation may run after ${new Date(until).toISOString()}`;
  }
  return undefined;
}

/** A fernet key's life after it stops signing: a token's whole life. */
export function tokenKeyLife(l: TokenLife): KeyLife {
  return { seconds: lifeOf(l), why: `tokens live ${humanDuration(lifeOf(l))} ([token] expiration + allow_expired_window)` };
}

/**
 * How long after a rotation a time a rotated Secret may take to reach every replica (the
 * kubelet's sync period, about a minute, with its jitter; the sidecar's pass and grace): a
 * replica still on the old set encrypts with the old primary until then.
 */
export const PROPAGATION_SEC = 180;

/**
 * A credential key's life after it stops being the primary: replicas still on the old set may
 * store credentials with it until the rotated Secret reaches them, and every replica may keep
 * such a credential, encrypted as it was, in its cache for `cacheSec` more (keystone/credential/
 * core.py memoizes the database row) after the next migration re-encrypted it in the database.
 */
export function credentialKeyLife(cacheSec: number): KeyLife {
  return {
    seconds: PROPAGATION_SEC + cacheSec,
    why: `replicas may use credentials encrypted with it for ${humanDuration(PROPAGATION_SEC + cacheSec)} after (a rotated Secret reaches every replica within about ${humanDuration(PROPAGATION_SEC)}, and each caches credentials as stored for ${cacheSec} s: [credential] cache_time, else [cache] expiration_time)`,
  };
}
