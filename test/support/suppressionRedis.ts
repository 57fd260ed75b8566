/**
 * Reads of the suppression list's Redis keys that tests make behind the store's back: every
 * bucket at once (adapters/redis/suppressionStore.ts describes the layout), on one server or a
 * cluster.
 */
import { masterNodes, type RedisClient } from '../../adapters/redis/connection';
import { pipelinePerNode } from '../../adapters/redis/pipelinePerNode';
import { suppressionKeys } from '../../adapters/redis/suppressionStore';
import { SUPPRESSION_BUCKETS } from '../../domain/suppression';

const BUCKETS = Array.from({ length: SUPPRESSION_BUCKETS }, (_, b) => b);

/** Records in the audit streams, all buckets together. */
export async function auditLength(redis: RedisClient, prefix: string): Promise<number> {
  const keys = suppressionKeys(prefix);
  const lengths = await pipelinePerNode(
    redis,
    BUCKETS.map((b) => ({ key: keys.audit(b), queue: (p) => p.xlen(keys.audit(b)) })),
  );
  return (lengths as number[]).reduce((sum, n) => sum + n, 0);
}

/** Scope → address → reason and count, read from every bucket's entries. */
export async function storedEntries(
  redis: RedisClient,
  prefix: string,
): Promise<Map<string, Map<string, { reason: string; count: number }>>> {
  const keys = suppressionKeys(prefix);
  const hashes = await pipelinePerNode(
    redis,
    BUCKETS.map((b) => ({ key: keys.entries(b), queue: (p) => p.hgetall(keys.entries(b)) })),
  );
  const found = new Map<string, Map<string, { reason: string; count: number }>>();
  for (const fields of hashes as Record<string, string>[]) {
    for (const [address, json] of Object.entries(fields)) {
      const record = JSON.parse(json) as Record<string, { r: string; n: number }>;
      for (const [scope, entry] of Object.entries(record)) {
        if (!found.has(scope)) found.set(scope, new Map());
        found.get(scope)!.set(address, { reason: entry.r, count: entry.n });
      }
    }
  }
  return found;
}

/** Every key matching the pattern, from every master of a cluster; sorted. */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes = await masterNodes(redis);
  const found = await Promise.all(nodes.map((node) => node.keys(pattern)));
  return found.flat().sort();
}
