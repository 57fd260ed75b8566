/**
 * The suppression list in Redis: one hash per address, an index of addresses by the time they
 * were first suppressed, and the feedback ids already applied to each address (so a
 * redelivered or replayed notification changes nothing). One Lua script makes each change
 * atomic, so replicas applying notifications for one address end as one would.
 */
import type { Redis } from 'ioredis';
import type { EmailAddress } from '../../domain/address';
import type {
  SuppressionEntry,
  SuppressionEvidence,
  SuppressionReason,
  SuppressionStore,
} from '../../domain/ports';

// KEYS: entry hash, applied-feedback set, index zset. ARGV: feedbackId, at (ISO), at (ms),
// reason, sesMessageId, detail, source, address. Returns 1 when applied, 0 when already known.
const SUPPRESS = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'firstAt', ARGV[2])
local last = redis.call('HGET', KEYS[1], 'lastAtMs')
if not last or tonumber(last) <= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'lastAt', ARGV[2], 'lastAtMs', ARGV[3], 'reason', ARGV[4],
    'sesMessageId', ARGV[5], 'feedbackId', ARGV[1], 'detail', ARGV[6], 'source', ARGV[7])
end
redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[8])
return 1
`;

type WithSuppress = Redis & {
  sesWorkerSuppress(...keysThenArgs: string[]): Promise<number>;
};

export function makeSuppressionStore(redis: Redis, keyPrefix: string): SuppressionStore {
  // A defined command runs by EVALSHA: the script travels once per connection, not per call.
  redis.defineCommand('sesWorkerSuppress', { numberOfKeys: 3, lua: SUPPRESS });
  const scripted = redis as WithSuppress;
  const entryKey = (address: string) => `${keyPrefix}:suppression:entry:${address}`;
  const appliedKey = (address: string) => `${keyPrefix}:suppression:applied:${address}`;
  const indexKey = `${keyPrefix}:suppression:index`;

  return {
    async suppress(address: EmailAddress, evidence: SuppressionEvidence) {
      await scripted.sesWorkerSuppress(
        entryKey(address),
        appliedKey(address),
        indexKey,
        evidence.feedbackId,
        evidence.at,
        String(Date.parse(evidence.at)),
        evidence.reason,
        evidence.sesMessageId,
        evidence.detail ?? '',
        evidence.source,
        address,
      );
    },
    async get(address: EmailAddress): Promise<SuppressionEntry | null> {
      const fields = await redis.hgetall(entryKey(address));
      if (fields.firstAt === undefined) return null;
      return {
        address,
        reason: fields.reason as SuppressionReason,
        at: fields.lastAt ?? fields.firstAt,
        firstAt: fields.firstAt,
        lastAt: fields.lastAt ?? fields.firstAt,
        count: Number(fields.count ?? 0),
        sesMessageId: fields.sesMessageId ?? '',
        feedbackId: fields.feedbackId ?? '',
        detail: fields.detail === '' || fields.detail === undefined ? null : fields.detail,
        source: fields.source ?? '',
      };
    },
  };
}
