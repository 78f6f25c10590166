// Where the lease and the completion records live. The logic in once.ts talks to this
// interface only, so it is tested fast against memory; mongo-store.ts is the real one.
import type { DoneDoc, Holder, LeaseDoc } from './lease.ts';

export type AcquireResult = { acquired: true; tookOver: LeaseDoc | null } | { acquired: false; current: LeaseDoc | null };

export interface InitStore {
  findDone(key: string): Promise<DoneDoc | null>;
  readLease(): Promise<LeaseDoc | null>;
  /** Takes the lease if it is free, expired or ours. */
  tryAcquire(holder: Holder, key: string, now: Date, ttlMs: number): Promise<AcquireResult>;
  /** False when the lease is no longer ours. */
  renew(holder: Holder, now: Date, ttlMs: number): Promise<boolean>;
  release(holder: Holder, now: Date): Promise<void>;
  markDone(doc: DoneDoc): Promise<void>;
}
