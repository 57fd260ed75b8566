/**
 * Wires the reputation monitor, `GET /reputation` and the status page `GET /` from the
 * worker's connections (worker/main.ts calls it once). The routes read Redis through the
 * producer connection, which fails fast while Redis is down: a request errors, never hangs.
 *
 * `/` and `/reputation` are open, like `/metrics`: they show counts, rates, configuration-set
 * names and sending domains, never an address. The suppression API, which lists addresses, is
 * the one behind API_TOKEN.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../adapters/redis/connection';
import type { Logger } from 'pino';
import { reputationRoutes } from '../adapters/http/reputationRoutes';
import type { HttpRoutes } from '../adapters/http/server';
import { statusPageRoutes, type SuppressionCountsView } from '../adapters/http/statusPage';
import type { Metrics } from '../adapters/metrics/registry';
import { makeReputationStore, type ReputationStore } from '../adapters/redis/reputationStore';
import { approximateDepth } from '../adapters/sqs/queueDepth';
import { makeWebhookNotifier } from '../adapters/webhook/notifier';
import type { QueueName } from '../domain/jobs';
import type { WorkerConfig } from './config';
import { makeReputationMonitor, type ReputationMonitor } from './reputation';
import type { SesSyncView } from './sesSyncFeature';

export interface StatusFeature {
  readonly routes: HttpRoutes[];
  /** For the periodic evaluator: on the workers' connection, it waits out a Redis outage. */
  readonly monitor: ReputationMonitor;
}

export function makeStatusFeature(deps: {
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The producer connection (`enableOfflineQueue: false`): requests fail fast. */
  readonly redis: RedisClient;
  /** The workers' connection (`maxRetriesPerRequest: null`), for the evaluator. */
  readonly workerRedis: RedisClient;
  readonly queues: ReadonlyMap<QueueName, Queue>;
  /** Null in the process role, which has no SQS client: the DLQ panel says so. */
  readonly sqs: SQSClient | null;
  readonly suppressionCounts: (() => Promise<SuppressionCountsView>) | null;
  /** The SES suppression sync panel; null while SES_SUPPRESSION_SYNC is off. */
  readonly sesSync?: (() => Promise<SesSyncView>) | null;
}): StatusFeature {
  const { config } = deps;
  const storeOn = (redis: RedisClient) =>
    makeReputationStore(redis, {
      keyPrefix: config.bullmqPrefix,
      markerTtlSeconds: config.metricsDedupeSeconds,
      maxConfigurationSets: config.metricsMaxConfigurationSets,
      maxIdentities: config.metricsMaxIdentities,
    });
  const monitorOn = (store: ReputationStore) =>
    makeReputationMonitor({
      store,
      metrics: deps.metrics,
      policy: config.reputation.policy,
      notify:
        config.reputation.webhookUrl === null
          ? null
          : makeWebhookNotifier({ url: config.reputation.webhookUrl }),
      log: deps.log,
    });
  const store = storeOn(deps.redis);
  const reader = monitorOn(store);
  const { sqs } = deps;
  const dlqUrl = config.sqs.dlqUrl;
  return {
    monitor: monitorOn(storeOn(deps.workerRedis)),
    routes: [
      reputationRoutes(() => reader.report()),
      statusPageRoutes({
        reputation: () => reader.report(),
        eventsPerMinute: (minutes) => store.eventsPerMinute(Date.now(), minutes),
        accountHourly: (hours) => store.accountHourly(Date.now(), hours),
        dlqDepth: sqs === null || dlqUrl === null ? null : () => approximateDepth(sqs, dlqUrl),
        jobCounts: async () => {
          const entries = await Promise.all(
            [...deps.queues].map(async ([name, queue]) => {
              const counts = await queue.getJobCounts('failed', 'waiting', 'active', 'delayed');
              return [
                name,
                {
                  failed: counts.failed ?? 0,
                  waiting: counts.waiting ?? 0,
                  active: counts.active ?? 0,
                  delayed: counts.delayed ?? 0,
                },
              ] as const;
            }),
          );
          return Object.fromEntries(entries);
        },
        suppressionCounts: deps.suppressionCounts,
        sesSync: deps.sesSync ?? null,
      }),
    ],
  };
}
