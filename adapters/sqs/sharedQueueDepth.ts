/**
 * A queue's depth for the metrics, read from SQS by one replica at a time and shared through
 * Redis: however many replicas are scraped, SQS sees about one GetQueueAttributes per queue per
 * `maxAgeMs` (it bills per request).
 *
 * A replica first takes the reading Redis holds; when that is older than `maxAgeMs`, the replica
 * that wins a short lock (SET NX PX `maxAgeMs`) asks SQS and stores the answer, while the others
 * keep the older reading until it lands. With no reading in Redis at all, or Redis not
 * answering, a replica asks SQS itself: the gauges do not depend on Redis being up.
 */
import { createHash } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Reading } from '../metrics/cachedReading';
import { keyBase, type RedisClient } from '../redis/connection';
import { queueDepth, type QueueDepth } from './queueDepth';

export interface SharedQueueDepthOptions {
  readonly sqs: SQSClient;
  /** The producer connection (`enableOfflineQueue: false`): fails fast while Redis is down. */
  readonly redis: RedisClient;
  readonly bullmqPrefix: string;
  readonly queueUrl: string;
  /** A reading younger than this is taken from Redis instead of SQS. */
  readonly maxAgeMs: number;
  /** For SQS's answer; the SDK call is aborted then. */
  readonly sqsTimeoutMs: number;
}

/** How long a stored reading stays in Redis (an hour): tiny, and gone with the deployment. */
const KEEP_MS = 3_600_000;

/** The Redis key of a queue's shared reading (its lock is `<key>:reader`). */
export function sharedQueueDepthKey(bullmqPrefix: string, queueUrl: string): string {
  const url = createHash('sha256').update(queueUrl).digest('hex').slice(0, 16);
  return `${keyBase(bullmqPrefix)}:sqs-depth:${url}`;
}

function parsed(raw: string): Partial<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? value : {};
  } catch {
    return {}; // not ours: read SQS and overwrite it
  }
}

export function sharedQueueDepth(
  options: SharedQueueDepthOptions,
): () => Promise<Reading<QueueDepth>> {
  const { redis, queueUrl, maxAgeMs } = options;
  const key = sharedQueueDepthKey(options.bullmqPrefix, queueUrl);

  const stored = async (): Promise<Reading<QueueDepth> | null> => {
    const raw = await redis.get(key);
    if (raw === null) return null;
    const { at, visible, inFlight } = parsed(raw);
    if (typeof at !== 'number' || typeof visible !== 'number' || typeof inFlight !== 'number')
      return null;
    return { value: { visible, inFlight }, at };
  };

  return async () => {
    let sharing = true;
    try {
      const shared = await stored();
      if (shared !== null && Date.now() - shared.at < maxAgeMs) return shared;
      const won = await redis.set(`${key}:reader`, '1', 'PX', maxAgeMs, 'NX');
      if (won === null && shared !== null) return shared;
    } catch {
      sharing = false;
    }
    const reading = {
      value: await queueDepth(options.sqs, queueUrl, options.sqsTimeoutMs),
      at: Date.now(),
    };
    if (sharing) {
      const { visible, inFlight } = reading.value;
      // A reading Redis failed to keep is still this replica's: the next winner stores its own.
      await redis
        .set(key, JSON.stringify({ at: reading.at, visible, inFlight }), 'PX', KEEP_MS)
        .catch(() => undefined);
    }
    return reading;
  };
}
