/**
 * Gives the queue gauges (adapters/metrics/queueGauges.ts) their sources on this replica: the
 * SQS source queue and the DLQ where the replica has an SQS client (ROLE=ingest or all; a
 * process-only replica reports no SQS series, whether or not SQS_QUEUE_URL is set, and needs no
 * SQS permission), and the BullMQ queues everywhere, since every replica has Redis.
 *
 * SQS readings are shared between replicas through Redis (sharedQueueDepth.ts): one
 * GetQueueAttributes per queue per TTL for the whole deployment. Job counts are one small script
 * per queue per TTL and replica, on the producer connection (fails fast while Redis is down).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import {
  cachedReading,
  type CachedReading,
  type CachedReadingOptions,
} from '../adapters/metrics/cachedReading';
import {
  JOB_STATES,
  type JobStateCounts,
  type QueueGauges,
  type SqsQueueRole,
} from '../adapters/metrics/queueGauges';
import type { RedisClient } from '../adapters/redis/connection';
import type { QueueDepth } from '../adapters/sqs/queueDepth';
import { sharedQueueDepth } from '../adapters/sqs/sharedQueueDepth';
import { loggableError } from '../domain/redact';
import type { WorkerConfig } from './config';

export interface QueueGaugeTiming {
  /** How long a reading stands: scrapes in between are answered from memory. */
  readonly ttlMs: number;
  /** The longest a scrape waits for one reading (they are read side by side). */
  readonly timeoutMs: number;
}

/**
 * 15 s: Prometheus's usual scrape interval, so each scrape sees a fresh reading while extra
 * scrapers (an HA pair, a dashboard's direct queries) add nothing. 3 s per read, well inside
 * Prometheus's default 10 s scrape timeout, with SQS's own call aborted at 2 s.
 */
export const QUEUE_GAUGE_TIMING: QueueGaugeTiming = { ttlMs: 15_000, timeoutMs: 3_000 };
const SQS_CALL_TIMEOUT_MS = 2_000;

export function wireQueueGauges(deps: {
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly gauges: QueueGauges;
  /** Null where this replica does not ingest: no SQS series then. */
  readonly sqs: SQSClient | null;
  /** The producer connection. */
  readonly redis: RedisClient;
  /** BullMQ queues by their user-facing name (`suppression`, …, `ses-sync`). */
  readonly queues: ReadonlyMap<string, Pick<Queue, 'getJobCounts'>>;
  readonly timing?: QueueGaugeTiming;
}): void {
  const { config, log, sqs } = deps;
  const timing = deps.timing ?? QUEUE_GAUGE_TIMING;
  const cached = <T>(
    source: string,
    read: () => Promise<{ value: T; at: number }>,
  ): CachedReading<T> => {
    const options: CachedReadingOptions = {
      ...timing,
      onFailing: (error) =>
        log.warn(
          { gauge: source, err: loggableError(error) },
          'queue gauge: read failed; /metrics keeps the last value until a read succeeds',
        ),
      onRecovered: () => log.info({ gauge: source }, 'queue gauge: read again'),
    };
    return cachedReading(read, options);
  };

  const sqsQueues: [SqsQueueRole, string | null][] = [
    ['source', config.sqs.queueUrl],
    ['dlq', config.sqs.dlqUrl],
  ];
  const sqsSources = new Map<SqsQueueRole, CachedReading<QueueDepth>>();
  if (sqs !== null) {
    for (const [role, queueUrl] of sqsQueues) {
      if (queueUrl === null) continue;
      const read = sharedQueueDepth({
        sqs,
        redis: deps.redis,
        bullmqPrefix: config.bullmqPrefix,
        queueUrl,
        maxAgeMs: timing.ttlMs,
        sqsTimeoutMs: Math.min(SQS_CALL_TIMEOUT_MS, timing.timeoutMs),
      });
      sqsSources.set(role, cached(`sqs:${role}`, read));
    }
  }

  const jobSources = new Map<string, CachedReading<JobStateCounts>>();
  for (const [name, queue] of deps.queues) {
    jobSources.set(
      name,
      cached(`jobs:${name}`, async () => {
        const counts = await queue.getJobCounts(...JOB_STATES);
        const value = Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0]));
        return { value: value as JobStateCounts, at: Date.now() };
      }),
    );
  }

  deps.gauges.readFrom({ sqs: sqsSources, jobs: jobSources });
}
