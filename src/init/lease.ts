// The lease and the completion records, as documents in the Pulp database. Pure: filters,
// updates and how to read a lease. One lease (one init at a time across all pods, whatever
// the key); one completion record per key.
//
// Taking the lease is one findOneAndUpdate, chosen from the lease as read just before
// (acquireStep): with upsert, whose filter matches only a lease that is free or already ours;
// or, when another holder's lease was read, one that matches only that holder's lease once it
// expired. When another holder's lease exists the upsert's filter misses, it tries to insert
// a second document with the same _id, and the unique _id index refuses it (E11000): that
// error means "held by someone else". Two racers on a missing document are the same case: one
// insert wins, the other gets E11000 (MongoDB may retry it internally as an update, which
// then misses the filter: same answer).
// Times are the database server's clock (InitStore.serverNow: the `localTime` of its hello
// reply; FerretDB 1.24 has neither update pipelines with $$NOW nor $expr comparisons), so a
// pod whose clock is off cannot take over a live lease. The holder's id is unique per start
// and every write of the holder is conditioned on it: a takeover changes it, and it never
// comes back, so "holder is still me" means nobody else held the lease in between.
//
// The completion record is committed in the lease document first (`committing`), by an
// update conditioned on holding the lease, then copied to its own document `done:KEY`, then
// the lease is released. A holder that stalls between the two leaves the committed record in
// the lease; whoever takes the lease next publishes it before anything else.

export const INIT_COLLECTION = 'pulp_entrypoint_init';
export const LEASE_ID = 'lease';

export interface Holder {
  /** hostname:pid:random, unique per start (every container's PID may be 1). */
  id: string;
  host: string;
}

export interface LeaseDoc {
  _id: string;
  holder: string | null;
  host: string | null;
  key: string | null;
  acquiredAt: Date | null;
  renewedAt: Date | null;
  expiresAt: Date;
  /** A completion record committed by the holder and not yet known to be published. */
  committing?: DoneDoc | null;
}

export interface DoneDoc {
  _id: string;
  key: string;
  doneAt: Date;
  host: string;
  holder: string;
  argv: string[];
  durationMs: number;
}

export function doneId(key: string): string {
  return `done:${key}`;
}

/**
 * How a start tries for the lease, from the lease as it read it: `free` (or already its own)
 * takes it only while it is free or its own; `takeover` takes it only from that very holder,
 * and only once it expired. Each is one conditional update, so "took over X" is said only when
 * the update itself found X's lease expired: a holder that released it between the read and
 * the update makes the update miss (and the next try finds it free), never a false alarm.
 */
export function acquireStep(before: LeaseDoc | null, holder: Holder): { kind: 'free' } | { kind: 'takeover'; from: LeaseDoc & { holder: string } } {
  if (before === null || before.holder === null || before.holder === holder.id) return { kind: 'free' };
  return { kind: 'takeover', from: { ...before, holder: before.holder } };
}

/** The update of a `free` step matches only a free lease or the holder's own. */
export function freeFilter(holder: Holder): Record<string, unknown> {
  return { _id: LEASE_ID, $or: [{ holder: null }, { holder: holder.id }] };
}

/** The update of a `takeover` step matches only `previous`'s lease, expired at `now`. */
export function takeoverFilter(previous: string, now: Date): Record<string, unknown> {
  return { _id: LEASE_ID, holder: previous, expiresAt: { $lte: now } };
}

export function acquireUpdate(holder: Holder, key: string, now: Date, ttlMs: number): { $set: Omit<LeaseDoc, '_id'> } {
  return {
    $set: {
      holder: holder.id,
      host: holder.host,
      key,
      acquiredAt: now,
      renewedAt: now,
      expiresAt: new Date(now.getTime() + ttlMs),
    },
  };
}

export function renewFilter(holder: Holder): Record<string, unknown> {
  return { _id: LEASE_ID, holder: holder.id };
}

export function renewUpdate(now: Date, ttlMs: number): { $set: { renewedAt: Date; expiresAt: Date } } {
  return { $set: { renewedAt: now, expiresAt: new Date(now.getTime() + ttlMs) } };
}

export function releaseUpdate(now: Date): { $set: Omit<LeaseDoc, '_id'> } {
  return { $set: { holder: null, host: null, key: null, acquiredAt: null, renewedAt: now, expiresAt: now, committing: null } };
}

/** Commits `record` in the lease, only while `holder` holds it (filter: renewFilter). */
export function commitUpdate(record: DoneDoc, now: Date, ttlMs: number): { $set: { committing: DoneDoc; renewedAt: Date; expiresAt: Date } } {
  return { $set: { committing: record, ...renewUpdate(now, ttlMs).$set } };
}

export type LeaseState = { state: 'free' } | { state: 'held'; by: string; host: string; until: Date } | { state: 'expired'; by: string; host: string; since: Date };

export function leaseState(doc: LeaseDoc | null, now: Date): LeaseState {
  if (doc === null || doc.holder === null) return { state: 'free' };
  const host = doc.host ?? '?';
  if (doc.expiresAt.getTime() <= now.getTime()) return { state: 'expired', by: doc.holder, host, since: doc.expiresAt };
  return { state: 'held', by: doc.holder, host, until: doc.expiresAt };
}

/** MongoDB's and FerretDB's "duplicate key" (E11000), however the driver wraps it. */
export function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; codeName?: unknown; message?: unknown };
  return e.code === 11000 || e.code === 11001 || e.codeName === 'DuplicateKey' || (typeof e.message === 'string' && /E11000/.test(e.message));
}
