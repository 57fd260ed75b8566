/**
 * "Seen" markers for events, so an effect that must happen once per event (a metric count)
 * happens once however often the event is redelivered, and across replicas: `SET NX EX` per
 * event id, all in one round trip.
 */
import type { Redis } from 'ioredis';

export interface EventMarkers {
  /** Marks the ids; returns those not marked before, in order. */
  claimFirstSight(ids: readonly string[]): Promise<Set<string>>;
}

export function makeEventMarkers(
  redis: Redis,
  keyPrefix: string,
  ttlSeconds: number,
): EventMarkers {
  return {
    async claimFirstSight(ids) {
      if (ids.length === 0) return new Set();
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.set(`${keyPrefix}:seen:${id}`, '1', 'EX', ttlSeconds, 'NX');
      const replies = (await pipeline.exec()) ?? [];
      const fresh = new Set<string>();
      replies.forEach(([error, reply], i) => {
        if (error) throw error;
        if (reply === 'OK') fresh.add(ids[i]!);
      });
      return fresh;
    },
  };
}
