/**
 * Forwarded copies the SMTP server accepted, in Redis: one expiring key per copy, written right
 * after the 250. See `SentCopies` (domain/forwarding/ports.ts) for why.
 *
 * Key: `<base>:forward:sent:<copyId>`, <base> being BULLMQ_PREFIX without braces. No hash tag:
 * each copy is read and written alone, so the keys spread over a cluster's slots by themselves.
 * The layout before (`<prefix>:forward:sent:<copyId>`, all in the prefix's one slot) is read too,
 * so that a copy sent by the previous version just before an upgrade is not sent again; it
 * expires with the copies' lifetime.
 */
import { keyBase, type RedisClient } from './connection';
import type { SentCopies } from '../../domain/forwarding/ports';

export function makeSentCopies(
  redis: RedisClient,
  keyPrefix: string,
  ttlSeconds: number,
): SentCopies {
  const key = (copyId: string) => `${keyBase(keyPrefix)}:forward:sent:${copyId}`;
  const previousKey = (copyId: string) => `${keyPrefix}:forward:sent:${copyId}`;
  return {
    async sentBefore(copyId) {
      if (previousKey(copyId) === key(copyId)) return redis.get(key(copyId));
      // Both at once: one round trip's time, on one server or two nodes.
      const [current, previous] = await Promise.all([
        redis.get(key(copyId)),
        redis.get(previousKey(copyId)),
      ]);
      return current ?? previous;
    },
    async record(copyId, response) {
      await redis.set(key(copyId), response === '' ? '250' : response, 'EX', ttlSeconds);
    },
  };
}
