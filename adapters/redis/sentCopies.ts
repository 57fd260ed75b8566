/**
 * Forwarded copies the SMTP server accepted, in Redis: one expiring key per copy, written right
 * after the 250. See `SentCopies` (domain/forwarding/ports.ts) for why.
 */
import type { RedisClient } from './connection';
import type { SentCopies } from '../../domain/forwarding/ports';

export function makeSentCopies(
  redis: RedisClient,
  keyPrefix: string,
  ttlSeconds: number,
): SentCopies {
  const key = (copyId: string) => `${keyPrefix}:forward:sent:${copyId}`;
  return {
    sentBefore: (copyId) => redis.get(key(copyId)),
    async record(copyId, response) {
      await redis.set(key(copyId), response === '' ? '250' : response, 'EX', ttlSeconds);
    },
  };
}
