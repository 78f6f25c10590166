// Where the lease and the completion records live. The logic in once.ts talks to this
// interface only, so it is tested fast against memory; mongo-store.ts is the real one.
import type { DoneDoc, Holder, LeaseDoc } from './lease.ts';

export type AcquireResult =
  | {
      acquired: true;
      tookOver: LeaseDoc | null;
      /** A record a previous holder committed in the lease but may not have published. */
      pending: DoneDoc | null;
    }
  | { acquired: false; current: LeaseDoc | null };

/** A replica's row (rollout.ts): the init key of its image and its last heartbeat, on the database's clock. */
export interface ReplicaRow {
  host: string;
  key: string;
  seenAt: Date;
  /** Its heartbeat is younger than its TTL (judged by the database's clock). */
  live: boolean;
}

/**
 * What a rolling upgrade reads and writes beside the lease (rollout.ts, phased.ts): the
 * replicas' rows, the records of one kind, and the schema's version table. MySQL only.
 */
export interface RolloutStore {
  /** Writes (or refreshes) this replica's row: its key, seen now, live for `ttlMs`. */
  heartbeat(host: string, key: string, ttlMs: number): Promise<void>;
  replicas(): Promise<ReplicaRow[]>;
  /** The completion records whose key starts with `prefix`. */
  doneRecords(prefix: string): Promise<DoneDoc[]>;
  /** The rows of the schema's version table (alembic_version), or null when it does not exist. */
  schemaVersions(table: string): Promise<string[] | null>;
}

export interface InitStore {
  /**
   * The database server's clock, which judges every lease expiry, so that agents with
   * skewed clocks agree. A store without one (the tests' memory store) uses the agent's.
   */
  serverNow?(): Promise<Date>;
  findDone(key: string): Promise<DoneDoc | null>;
  readLease(): Promise<LeaseDoc | null>;
  /** Takes the lease if it is free, expired or ours. */
  tryAcquire(holder: Holder, key: string, now: Date, ttlMs: number): Promise<AcquireResult>;
  /** False when the lease is no longer ours. */
  renew(holder: Holder, now: Date, ttlMs: number): Promise<boolean>;
  release(holder: Holder, now: Date): Promise<void>;
  /** Commits `doc` in the lease if `holder` still holds it; false when it does not. */
  commit(holder: Holder, doc: DoneDoc, now: Date, ttlMs: number): Promise<boolean>;
  /** Publishes a record (its own document, which the other roles read). */
  markDone(doc: DoneDoc): Promise<void>;
  /** Present on the stores that keep a rollout's rows (MySQL). */
  rollout?: RolloutStore;
}

/** The store's rollout rows; a store without them (MongoDB's) is a bug to reach here. */
export function rolloutOf(store: InitStore): RolloutStore {
  if (!store.rollout) throw new Error('this init store keeps no rollout rows');
  return store.rollout;
}
