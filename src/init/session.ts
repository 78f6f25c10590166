// What the one-time init is given (InitOnceOptions) and what it works with (a Session: the
// options with their defaults, and the database's clock when the store has one).
import type { Logger } from '../common/log.ts';
import type { Deadline } from '../common/retry.ts';
import type { Holder } from './lease.ts';
import type { InitStore } from './store.ts';
import { type Clock, DEFAULT_STORE_NAME, type StoreCallContext, realClock } from './store-call.ts';

export interface InitOnceOptions {
  store: InitStore;
  /** For log and error lines (default "the init database"). */
  storeName?: string;
  key: string;
  /** PULP_FORCE_INIT=1: run even when a completion record exists. */
  force: boolean;
  holder: Holder;
  /** For the record and the log lines. */
  argv: string[];
  /** Runs the init, returns its exit code; stops it (SIGTERM, then SIGKILL) when `stop` aborts. */
  run: (stop: AbortSignal) => Promise<number>;
  /** Give up waiting for the lease then (the init itself is not cut short); on `clock`. */
  deadline: Deadline;
  log: Logger;
  /** How long a lease lives without renewal (default 30 s); renewed every ttl/3. */
  ttlMs?: number;
  /** How often to look again while someone else holds the lease (default 500 ms). */
  pollMs?: number;
  clock?: Clock;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;

/** What runInitOnce works with: the options, defaults filled in. */
export interface Session extends StoreCallContext {
  store: InitStore;
  holder: Holder;
  force: boolean;
  argv: string[];
  run: (stop: AbortSignal) => Promise<number>;
  deadline: Deadline;
  ttlMs: number;
  /** The database's clock when the store has one (it judges expiry), else the agent's. */
  serverNow(): Promise<Date>;
}

export function sessionOf(opts: InitOnceOptions): Session {
  const { store, key, holder, log } = opts;
  const clock = opts.clock ?? realClock;
  return {
    store,
    key,
    holder,
    log,
    clock,
    force: opts.force,
    argv: opts.argv,
    run: opts.run,
    deadline: opts.deadline,
    ttlMs: opts.ttlMs ?? DEFAULT_LEASE_TTL_MS,
    pollMs: opts.pollMs ?? 500,
    storeName: opts.storeName ?? DEFAULT_STORE_NAME,
    serverNow: () => (store.serverNow ? store.serverNow() : Promise.resolve(clock.now())),
  };
}
