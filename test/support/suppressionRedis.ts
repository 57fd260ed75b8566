/**
 * Reads of the suppression list's Redis keys that tests make behind the store's back: every
 * bucket at once (adapters/redis/suppressionStore.ts describes the layout).
 */
import type { Redis } from 'ioredis';
import { byNode, type RedisClient } from '../../adapters/redis/connection';
import { replyValues } from '../../adapters/redis/pipelineReplies';
import { suppressionKeys } from '../../adapters/redis/suppressionStore';
import { SUPPRESSION_BUCKETS } from '../../domain/suppression';

const BUCKETS = Array.from({ length: SUPPRESSION_BUCKETS }, (_, b) => b);

/** Records in the audit streams, all buckets together. */
export async function auditLength(redis: Redis, prefix: string): Promise<number> {
  const keys = suppressionKeys(prefix);
  const pipeline = redis.pipeline();
  for (const b of BUCKETS) pipeline.xlen(keys.audit(b));
  const replies = (await pipeline.exec()) ?? [];
  return replies.reduce((sum, [error, n]) => {
    if (error) throw error;
    return sum + (n as number);
  }, 0);
}

/**
 * Scope → address → reason and count, read from every bucket's entries (one pipeline per node
 * on a cluster).
 */
export async function storedEntries(
  redis: RedisClient,
  prefix: string,
): Promise<Map<string, Map<string, { reason: string; count: number }>>> {
  const keys = suppressionKeys(prefix);
  const replies: unknown[] = [];
  for (const group of byNode(redis, BUCKETS, keys.entries)) {
    const pipeline = redis.pipeline();
    for (const b of group) pipeline.hgetall(keys.entries(b));
    replies.push(...replyValues(await pipeline.exec()));
  }
  const found = new Map<string, Map<string, { reason: string; count: number }>>();
  for (const fields of replies) {
    for (const [address, json] of Object.entries(fields as Record<string, string>)) {
      const record = JSON.parse(json) as Record<string, { r: string; n: number }>;
      for (const [scope, entry] of Object.entries(record)) {
        if (!found.has(scope)) found.set(scope, new Map());
        found.get(scope)!.set(address, { reason: entry.r, count: entry.n });
      }
    }
  }
  return found;
}
