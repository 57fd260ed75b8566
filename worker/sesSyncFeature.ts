/**
 * Wires the SES suppression sync from the worker's connections (worker/main.ts calls it once):
 * the hook that queues pushes and lifts after each apply, the `ses-sync` worker (process role,
 * push modes), the periodic pull (process role, pull modes), metrics and the status view.
 *
 * Nothing here is part of readiness: SES being down delays pushes (they wait in the queue) and
 * pulls (the next round resumes), but the worker keeps draining SQS and answering `check`.
 */
import type { Worker } from 'bullmq';
import type { QueueLayout } from '../adapters/bullmq/layout';
import type { RedisClient } from '../adapters/redis/connection';
import type { Logger } from 'pino';
import type { SesSyncPanelView } from '../adapters/http/sesSyncPanel';
import type { Metrics } from '../adapters/metrics/registry';
import { makeSesSyncMetrics } from '../adapters/metrics/sesSync';
import { makeSesSyncState, type SesSyncState } from '../adapters/redis/sesSyncState';
import { makeSesClient, makeSesSuppressionList } from '../adapters/ses/suppressionList';
import type { EmailAddress } from '../domain/address';
import type { SuppressionRecord, SuppressionStore } from '../domain/ports';
import { pulls, pushes, type SesSyncRecord } from '../domain/sesSync';
import type { WorkerConfig } from './config';
import {
  makeSesSyncHook,
  makeSesSyncProcessor,
  makeSesSyncQueue,
  SES_SYNC_QUEUE,
  sesRequestSpacingMs,
  startSesSyncWorker,
  withSesSync,
  type SesSyncQueue,
} from './sesSync';
import { startPeriodicPull } from './sesSyncPull';
import type { DrainableQueue } from './previousLayoutDrain';

/** What the status page shows. */
export type SesSyncView = SesSyncPanelView;

export interface SesSyncFeature {
  /** The store that reports its applies to the sync (on the connection it was built on). */
  wrap(store: SuppressionStore, connection: 'producer' | 'worker'): SuppressionStore;
  /** `get` with what the sync knows of the address (pushed when, origin). */
  readonly view: () => Promise<SesSyncView>;
  /** The `ses-sync` queue's processor for its previous key layout; [] when no worker runs it. */
  readonly drainable: DrainableQueue[];
  /** The `ses-sync` queue on the producer connection (fails fast): for its job counts. */
  readonly queue: SesSyncQueue;
  stop(): Promise<void>;
}

/** The sync record shown beside an address's entries (`GET /suppressions/{address}`, CLI). */
export interface SesSyncDetail {
  readonly inSes: SesSyncRecord['sesReason'];
  readonly pushedAt: string | null;
  readonly origin: 'ses' | 'worker' | null;
  readonly sesLastUpdateTime: string | null;
}

export function sesSyncDetail(record: SesSyncRecord | null): SesSyncDetail | null {
  if (record === null) return null;
  return {
    inSes: record.sesReason,
    pushedAt: record.pushedAt === null ? null : new Date(record.pushedAt).toISOString(),
    origin: record.sesHadIt ? 'ses' : record.pushedAt !== null ? 'worker' : null,
    sesLastUpdateTime:
      record.pulledLastUpdateTime === null
        ? null
        : new Date(record.pulledLastUpdateTime).toISOString(),
  };
}

/** The store whose `get` also reads the sync record (a key of its own, beside the entry). */
export function withSesSyncDetail(store: SuppressionStore, state: SesSyncState): SuppressionStore {
  return {
    ...store,
    async get(address: EmailAddress): Promise<SuppressionRecord> {
      const [record, sync] = await Promise.all([store.get(address), state.get(address)]);
      return { ...record, sesSync: sesSyncDetail(sync) } as SuppressionRecord;
    },
  };
}

export function startSesSyncFeature(deps: {
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly producerRedis: RedisClient;
  readonly workerRedis: RedisClient;
  /** The process role: run the `ses-sync` worker and the periodic pull here. */
  readonly processes: boolean;
  /** The store on the worker connection, for the processor and the pull. */
  readonly workerStore: SuppressionStore;
}): SesSyncFeature {
  const { config, log } = deps;
  const settings = config.sesSync;
  const prefix = config.bullmqPrefix;
  const producerState = makeSesSyncState(deps.producerRedis, prefix);
  const workerState = makeSesSyncState(deps.workerRedis, prefix);
  // Producers (the API) fail fast while Redis is down; the processor's adds wait it out.
  const producerQueue = makeSesSyncQueue(deps.producerRedis, prefix, config.jobs);
  const workerQueue = makeSesSyncQueue(deps.workerRedis, prefix, config.jobs);
  const sesMetrics = makeSesSyncMetrics(deps.metrics.registry, {
    pending: async () => {
      const counts = await producerQueue.getJobCounts('waiting', 'delayed', 'active');
      return (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0);
    },
    watermark: () => producerState.watermark(),
  });
  const client = settings.mode === 'off' ? null : makeSesClient({ region: settings.region });
  const spacingMs = sesRequestSpacingMs(settings.ratePerSecond);
  const list =
    client === null
      ? null
      : makeSesSuppressionList(client, () => workerState.waitForRequestSlot(spacingMs));

  const workers: Worker[] = [];
  const drainable: DrainableQueue[] = [];
  if (deps.processes && list !== null && pushes(settings.mode)) {
    const startWorker = (layout: QueueLayout) =>
      startSesSyncWorker({
        connection: deps.workerRedis,
        prefix,
        layout,
        ratePerSecond: settings.ratePerSecond,
        backoffMs: config.jobs.backoffMs,
        lockMs: config.jobs.lockMs,
        maxStalledCount: config.jobs.attempts,
        process: makeSesSyncProcessor({
          store: deps.workerStore,
          state: workerState,
          list,
          queue: workerQueue,
          metrics: sesMetrics,
        }),
        log,
        onOutcome: (outcome) => deps.metrics.jobs.inc({ queue: 'ses-sync', outcome }),
      });
    workers.push(startWorker('current'));
    // Each request still waits its turn in Redis (waitForRequestSlot): a second worker while
    // the previous layout drains does not raise the rate SES sees.
    drainable.push({
      queue: SES_SYNC_QUEUE,
      startPreviousLayoutWorker: () => startWorker('previous'),
    });
  }
  const pull =
    deps.processes && list !== null && pulls(settings.mode)
      ? startPeriodicPull({
          list,
          state: workerState,
          store: deps.workerStore,
          spacingMs,
          intervalMs: settings.pullIntervalMs,
          metrics: sesMetrics,
          log,
        })
      : null;

  const hookOn = (connection: 'producer' | 'worker', store: SuppressionStore) =>
    makeSesSyncHook({
      mode: settings.mode,
      store,
      state: connection === 'producer' ? producerState : workerState,
      queue: connection === 'producer' ? producerQueue : workerQueue,
    });

  return {
    drainable,
    queue: producerQueue,
    wrap(store, connection) {
      const state = connection === 'producer' ? producerState : workerState;
      return withSesSyncDetail(withSesSync(store, hookOn(connection, store)), state);
    },
    async view() {
      const [counts, watermark, lastPull, progress] = await Promise.all([
        producerQueue.getJobCounts('waiting', 'delayed', 'active', 'failed'),
        producerState.watermark(),
        producerState.lastPull(),
        producerState.progress(),
      ]);
      return {
        mode: settings.mode,
        ratePerSecond: settings.ratePerSecond,
        queue: {
          waiting: counts.waiting ?? 0,
          delayed: counts.delayed ?? 0,
          active: counts.active ?? 0,
          failed: counts.failed ?? 0,
        },
        watermark: watermark === null ? null : new Date(watermark).toISOString(),
        lastPull,
        pullInProgress: progress === null ? null : { pages: progress.pages, seen: progress.seen },
      };
    },
    async stop() {
      await pull?.stop();
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all([producerQueue.close(), workerQueue.close()]);
      client?.destroy();
    },
  };
}

export type { SesSyncQueue };

/** For the CLI's suppression commands: the store reports applies to the sync, and shows it. */
export function cliSesSync(
  redis: RedisClient,
  config: WorkerConfig,
): { wrap(store: SuppressionStore): SuppressionStore; close(): Promise<void> } {
  const state = makeSesSyncState(redis, config.bullmqPrefix);
  if (!pushes(config.sesSync.mode))
    return { wrap: (store) => withSesSyncDetail(store, state), close: () => Promise.resolve() };
  const queue = makeSesSyncQueue(redis, config.bullmqPrefix, config.jobs);
  return {
    wrap: (store) =>
      withSesSyncDetail(
        withSesSync(store, makeSesSyncHook({ mode: config.sesSync.mode, store, state, queue })),
        state,
      ),
    close: () => queue.close(),
  };
}
