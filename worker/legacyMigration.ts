/**
 * Moves the suppression list's layout before buckets into the buckets, in the background: a
 * pass at start, then one a minute while passes find something — old replicas of a rolling
 * deploy keep writing the old layout until they stop — and after that a cheap look a minute for
 * old entries reappearing (a rollback). One replica at a time, under a Redis lock. Once a pass
 * has found nothing, a key says so and later starts skip the keyspace scan.
 * Meanwhile `check` and `get` read the old layout too (adapters/redis/legacySuppression.ts).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../adapters/redis/connection';
import type { Logger } from 'pino';
import type { LegacyMigration } from '../adapters/redis/legacySuppression';
import { suppressionKeys, type RedisSuppressionStore } from '../adapters/redis/suppressionStore';
import { loggableError } from '../domain/redact';

const PASS_INTERVAL_MS = 60_000;
/** How soon to look again when Redis was not connected yet. */
const NOT_READY_RETRY_MS = 1_000;
/** Longer than any pass: a replica that dies mid-pass holds the lock no longer than this. */
const LOCK_MS = 15 * 60_000;

export interface LegacyMigrationRunner {
  stop(): Promise<void>;
}

export function startLegacyMigration(options: {
  readonly redis: RedisClient;
  readonly store: RedisSuppressionStore;
  readonly keyPrefix: string;
  readonly log: Logger;
  readonly intervalMs?: number;
}): LegacyMigrationRunner {
  const { redis, store, log } = options;
  const { base } = suppressionKeys(options.keyPrefix);
  const lockKey = `${base}:migration-lock`;
  /** Set once a full pass found nothing: later starts skip the keyspace scan. */
  const doneKey = `${base}:layout-migrated`;
  const legacyIndex = `${options.keyPrefix}:suppression:index`;
  const intervalMs = options.intervalMs ?? PASS_INTERVAL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  /** Full passes until one finds nothing; after that only the presence look. */
  let passes: boolean | null = null;

  /** False when the connection is not up yet (at start): the next look comes soon, unlogged. */
  const tick = async (): Promise<boolean> => {
    if (redis.status !== 'ready') return false;
    passes ??= (await redis.exists(doneKey)) === 0;
    if (!passes && (await redis.exists(legacyIndex)) === 0) return true;
    const token = randomUUID();
    if ((await redis.set(lockKey, token, 'PX', LOCK_MS, 'NX')) === null) return true;
    try {
      const moved = await store.migrateLegacy(() => stopped);
      if (stopped) return true;
      passes = movedAnything(moved);
      if (passes)
        log.info({ ...moved }, 'suppression list: moved entries of the layout before buckets');
      else await redis.set(doneKey, new Date().toISOString());
    } finally {
      if ((await redis.get(lockKey)) === token) await redis.del(lockKey);
    }
    return true;
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      let next = intervalMs;
      running = tick()
        .then((ran) => {
          if (!ran) next = NOT_READY_RETRY_MS;
        })
        .catch((error: unknown) =>
          log.warn(
            { err: loggableError(error) },
            'suppression list migration pass failed; retrying',
          ),
        )
        .finally(() => schedule(next));
    }, delay);
    timer.unref();
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export function movedAnything(moved: LegacyMigration): boolean {
  return (
    moved.remaining ||
    moved.entries + moved.transientHistories + moved.optIns + moved.histories + moved.markers > 0
  );
}
