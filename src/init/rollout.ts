// A rolling upgrade of a service whose schema changes in two phases (Keystone's expand and
// contract): which replica may start, and when the contract may run. Pure: the rows and
// records in, a verdict out; phased.ts reads them from the store and acts.
//
// Every replica keeps a row (`replica:<host>`) with its image's init key, refreshed at start
// and by every readiness probe; a row older than its TTL (the database's clock) is a replica
// gone, whether it stopped cleanly or died without a word. The expand runs with the init of a
// new key; the contract of key K (recorded as the init of `contract:K`) runs only when no
// live row of another key is left. A replica whose image is older than the database (another
// key's contract ran after its own init, or is running) is refused before anything runs.
import type { DoneDoc, LeaseDoc } from './lease.ts';
import type { ReplicaRow } from './store.ts';

export const REPLICA_PREFIX = 'replica:';
export const CONTRACT_PREFIX = 'contract:';

/**
 * How long a replica's row counts without a heartbeat: three readiness probes (30 s apart in
 * the shipped manifests). A replica that died without a word stops holding the contract back
 * this long after its last probe.
 */
export const REPLICA_TTL_MS = 90_000;

/**
 * How long a row stays once it stopped counting: every heartbeat removes the rows expired
 * longer ago, so the table holds the replicas of about the last hour, not of every rollout.
 */
export const REPLICA_KEPT_MS = 3_600_000;

/** The init key of the contract of `key`. */
export function contractKey(key: string): string {
  return `${CONTRACT_PREFIX}${key}`;
}

/** The image's key whose contract `contractKeyText` is, or undefined when it is no contract key. */
function contractedKey(contractKeyText: string): string | undefined {
  return contractKeyText.startsWith(CONTRACT_PREFIX) ? contractKeyText.slice(CONTRACT_PREFIX.length) : undefined;
}

export interface StartFacts {
  key: string;
  /** The init record of `key`, or null (a new image: its init runs). */
  mine: DoneDoc | null;
  /** Every contract record. */
  contracts: readonly DoneDoc[];
  /** The lease as read after this replica's heartbeat. */
  lease: LeaseDoc | null;
  /** The database's time. */
  now: Date;
}

/**
 * Whether a replica may go on with its start: refused when a newer image finished the
 * rollout after this image's own init (its contract is recorded later), or is finishing it
 * now (its contract holds the lease). The contract removes what older code may still use.
 */
export function startVerdict(f: StartFacts): { ok: true } | { ok: false; why: string } {
  if (f.mine !== null) {
    const mine = f.mine;
    const later = f.contracts.find((c) => contractedKey(c.key) !== f.key && c.doneAt.getTime() > mine.doneAt.getTime());
    if (later) {
      return {
        ok: false,
        why: `the database was contracted by a newer image (init key ${contractedKey(later.key)}, on ${later.host} at ${later.doneAt.toISOString()}) after this image's init (${mine.doneAt.toISOString()})`,
      };
    }
  }
  const l = f.lease;
  if (l !== null && l.holder !== null && l.key !== null && l.expiresAt.getTime() > f.now.getTime()) {
    const other = contractedKey(l.key);
    if (other !== undefined && other !== f.key) return { ok: false, why: `a newer image (init key ${other}) is contracting the database now (on ${l.host ?? '?'})` };
  }
  return { ok: true };
}

export interface ContractFacts {
  key: string;
  /** The init record of `key` (its expand); null: not run yet, no contract either. */
  mine: DoneDoc | null;
  /** The contract of `key` is recorded. */
  contracted: boolean;
  replicas: readonly ReplicaRow[];
  /** The other images' init records (previousImage picks the one this image followed). */
  inits: readonly DoneDoc[];
}

/**
 * The image whose init ran last before `mine`: the one this image replaces. Its replicas keep
 * rows only if its agent has them; none at all (live or expired within the last hour) means
 * an agent from before rollouts were tracked, whose replicas no row can vouch for.
 */
export function previousImage(key: string, mine: DoneDoc, inits: readonly DoneDoc[]): DoneDoc | undefined {
  return inits
    .filter((d) => d.key !== key && !d.key.startsWith(CONTRACT_PREFIX) && d.doneAt.getTime() <= mine.doneAt.getTime())
    .sort((a, b) => b.doneAt.getTime() - a.doneAt.getTime())[0];
}

/** Whether the contract of `key` is due now, and if not why (for the log). */
export function contractVerdict(f: ContractFacts): { run: true } | { run: false; why: string } {
  if (f.contracted) return { run: false, why: 'already done' };
  if (f.mine === null) return { run: false, why: `the init of ${f.key} is not recorded yet` };
  const prev = previousImage(f.key, f.mine, f.inits);
  if (prev !== undefined && !f.replicas.some((r) => r.key === prev.key)) {
    return {
      run: false,
      why: `the image before this one (init key ${prev.key}) left no replica rows (an agent that does not keep them, or gone for over an hour): whether its replicas still serve cannot be known here; the contract is left to the next upgrade's, or run keystone-manage db_sync --contract by hand once they are gone`,
    };
  }
  const older = f.replicas.filter((r) => r.live && r.key !== f.key);
  if (older.length > 0) {
    const names = older.map((r) => `${r.host} (init key ${r.key}, seen ${r.seenAt.toISOString()})`);
    return { run: false, why: `${older.length} replica${older.length === 1 ? '' : 's'} of another image still serve${older.length === 1 ? 's' : ''}: ${names.join(', ')}` };
  }
  return { run: true };
}
