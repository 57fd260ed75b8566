/**
 * A value read from another system for a gauge at scrape time, made cheap to scrape however
 * often: read at most once per `ttlMs` (a failed read waits its turn too, so a broken system is
 * not asked at every scrape), one read in flight at a time, each read bounded by `timeoutMs`, and
 * on failure the last good reading stays. `current()` never rejects: a broken source must not
 * break `/metrics`.
 */
import { withTimeout } from '../withTimeout';

export interface Reading<T> {
  readonly value: T;
  /** When the value was read (ms since the epoch): by this process, or the replica it shares. */
  readonly at: number;
}

export interface CachedReadingOptions {
  /** How long a reading, or a failed attempt, stands before a scrape reads again. */
  readonly ttlMs: number;
  /** A read that has not answered by then counts as failed; its late answer is dropped. */
  readonly timeoutMs: number;
  /** Once when reads start failing (not at every failed read), and once when one succeeds again. */
  readonly onFailing?: (error: unknown) => void;
  readonly onRecovered?: () => void;
  readonly now?: () => number;
}

export interface CachedReading<T> {
  /** The latest good reading, read again first when the last attempt is older than `ttlMs`. */
  current(): Promise<Reading<T> | null>;
}

export function cachedReading<T>(
  read: () => Promise<Reading<T>>,
  options: CachedReadingOptions,
): CachedReading<T> {
  const now = options.now ?? Date.now;
  let last: Reading<T> | null = null;
  let attemptedAt = -Infinity;
  let inFlight: Promise<void> | null = null;
  let failing = false;

  const attempt = async () => {
    try {
      const reading = await withTimeout(read(), options.timeoutMs);
      // A reading shared by another replica may be older than the one in hand.
      if (last === null || reading.at >= last.at) last = reading;
      if (failing) {
        failing = false;
        options.onRecovered?.();
      }
    } catch (error) {
      if (!failing) {
        failing = true;
        options.onFailing?.(error);
      }
    } finally {
      inFlight = null;
    }
  };

  return {
    async current() {
      if (inFlight === null && now() - attemptedAt >= options.ttlMs) {
        attemptedAt = now();
        inFlight = attempt();
      }
      // Scrapes arriving while a read is in flight wait for that read (itself bounded).
      if (inFlight !== null) await inFlight;
      return last;
    },
  };
}
