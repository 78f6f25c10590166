// The lease holder's watchdog while its init runs: renewals every TTL/3, at once after a stall,
// and the signal that stops the init when the lease can no longer be trusted to be ours.
import { errorMessage } from '../common/errors.ts';
import type { Session } from './session.ts';
import { StoreError } from './store-error.ts';

/** How often the holder's watchdog looks at its lease while the init runs (at most). */
const WATCH_TICK_MS = 250;

/**
 * How long after sending its last confirmed renewal the holder gives up: before the server can
 * call the lease expired (its expiry is the server's time at that renewal, later than the
 * send, plus the TTL), by a margin for a slow round trip and the time to stop the init.
 */
export function giveUpAfterMs(ttlMs: number): number {
  return ttlMs - Math.min(Math.floor(ttlMs / 3), Math.max(250, Math.floor(ttlMs / 10)));
}

/** The holder's watchdog over its lease while the init runs (see watchLease). */
export interface Watchdog {
  /** Aborts when the lease is lost: the init must stop. */
  lost: AbortSignal;
  /** Why it was lost (for the error line). */
  lostWhy(): string;
  /** Ends the watch; resolves when no timer or renewal of it is left. */
  stop(): Promise<void>;
}

/**
 * Renews every ttl/3; renews at once after a stall (the process, or the whole machine, stopped
 * for longer than that); aborts `lost` when the lease is no longer ours (a renewal finds
 * another holder), or when no renewal has been confirmed for nearly a TTL (the database
 * unreachable, or a stall), since by then the server may give it to another. Stopped before
 * the record is committed, so no timer keeps the process alive afterwards.
 */
export function watchLease(s: Session, takenAt: number): Watchdog {
  const { store, holder, ttlMs, clock, log, key } = s;
  let confirmedAt = takenAt;
  const stop = new AbortController();
  const lost = new AbortController();
  let lostWhy = '';
  const lose = (why: string): void => {
    if (lost.signal.aborted) return;
    lostWhy = why;
    log.warn(`the init lease is lost (${why}): stopping ${s.argv.join(' ')}`, { key });
    lost.abort();
  };
  const interval = Math.max(1, Math.floor(ttlMs / 3));
  const giveUp = giveUpAfterMs(ttlMs);
  let inFlight = false;
  const renewOnce = async (): Promise<void> => {
    inFlight = true;
    const sent = clock.mono();
    try {
      if (await store.renew(holder, await s.serverNow(), ttlMs)) {
        confirmedAt = Math.max(confirmedAt, sent);
        return;
      }
      const now = await store.readLease().catch(() => null);
      lose(now?.holder ? `${now.holder} on ${now.host ?? '?'} took it over after it expired` : 'it expired and was taken over');
    } catch (err) {
      // After the loss or the end, a renewal cut short by the closing connection says nothing new.
      if (lost.signal.aborted || stop.signal.aborted) return;
      const why = err instanceof StoreError ? err.reason : errorMessage(err);
      log.warn(`cannot renew the init lease in ${s.storeName}: ${why}; trying again in ${interval} ms`, { key });
    } finally {
      inFlight = false;
    }
  };
  const watch = async (): Promise<void> => {
    let lastTick = clock.mono();
    let lastWall = clock.now().getTime();
    let nextRenewal = lastTick + interval;
    while (!stop.signal.aborted && !lost.signal.aborted) {
      await clock.sleep(Math.min(WATCH_TICK_MS, interval), stop.signal);
      if (stop.signal.aborted) return;
      const now = clock.mono();
      const wall = clock.now().getTime();
      // A paused VM may resume with its monotonic clock where it stopped but its wall clock
      // corrected: a jump on either means "check now" (a needless check costs one renewal).
      const gap = Math.max(now - lastTick, wall - lastWall);
      if (gap > interval) {
        log.warn(`this agent was stalled for ${(gap / 1000).toFixed(1)} s: checking the init lease now`, { key });
        nextRenewal = now;
      }
      lastTick = now;
      lastWall = wall;
      if (now - confirmedAt >= giveUp) {
        lose(`no renewal confirmed by ${s.storeName} for ${((now - confirmedAt) / 1000).toFixed(1)} s, and it expires ${ttlMs / 1000} s after one`);
        return;
      }
      if (now >= nextRenewal && !inFlight) {
        nextRenewal = now + interval;
        void renewOnce();
      }
    }
  };
  const watching = watch();
  return {
    lost: lost.signal,
    lostWhy: () => lostWhy,
    stop: async () => {
      stop.abort();
      await watching;
    },
  };
}
