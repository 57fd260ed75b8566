/**
 * Pushing our list to SES's account-level suppression list through the `ses-sync` queue.
 *
 * Order of effects for an address whose global entry gains a reason:
 *   1. the store applies the change (the suppression job, the API, the CLI);
 *   2. `afterApply` reads the entry and, unless SES is known to hold its reason, adds a `check`
 *      job (id: reason and the entry's first time, so a redelivery adds nothing);
 *   3. `check` asks SES (GetSuppressedDestination). Held already: recorded as SES's own, done.
 *      Not held: a `put` job follows;
 *   4. `put` puts it (PutSuppressedDestination) and records when.
 * A removed entry that the worker itself put gets a `delete` job; nothing else is deleted.
 *
 * Each job makes at most one SES request, so the queue's rate limit is the request rate. Every
 * step reads the entry as it is when the job runs, so a job that arrives late does what is right
 * now (an entry lifted meanwhile is not put; one suppressed again is not deleted).
 */
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { RedisClient } from '../adapters/redis/connection';
import type { Logger } from 'pino';
import { openQueue, queueLocation, type QueueLayout } from '../adapters/bullmq/layout';
import { jobOptions, type JobPolicy } from '../adapters/bullmq/queues';
import type { SesSyncMetrics } from '../adapters/metrics/sesSync';
import type { SesSyncState } from '../adapters/redis/sesSyncState';
import { SesRequestError, type SesSuppressionList } from '../adapters/ses/suppressionList';
import type { EmailAddress } from '../domain/address';
import type { SuppressionStore } from '../domain/ports';
import { loggableError } from '../domain/redact';
import { redactJobId } from '../domain/routing';
import {
  deletesFromSes,
  pushes,
  sesHolds,
  sesSyncJobId,
  sesTarget,
  type SesSyncJob,
  type SesSyncMode,
} from '../domain/sesSync';
import type { SuppressionChange } from '../domain/suppression';

export const SES_SYNC_QUEUE = 'ses-sync';

export type SesSyncQueue = Queue<SesSyncJob, unknown, string>;

/**
 * Retries back off exponentially, with ±50 % jitter, up to 64 times the first delay and never
 * more than a minute: an SES outage of a few minutes must not leave a put waiting for hours,
 * as uncapped doubling would after a dozen attempts.
 */
const SES_SYNC_BACKOFF = 'ses-sync-capped';
export function sesSyncBackoff(firstDelayMs: number) {
  return (attemptsMade: number, type?: string): number => {
    if (type !== SES_SYNC_BACKOFF) return firstDelayMs;
    const base = Math.min(firstDelayMs * 2 ** Math.min(attemptsMade - 1, 6), 60_000);
    return Math.round(base * (0.5 + Math.random()));
  };
}

export function makeSesSyncQueue(
  connection: RedisClient,
  prefix: string,
  policy: JobPolicy,
): SesSyncQueue {
  const queue: SesSyncQueue = openQueue<SesSyncJob>(SES_SYNC_QUEUE, connection, prefix, {
    defaultJobOptions: {
      ...jobOptions(policy),
      backoff: { type: SES_SYNC_BACKOFF, delay: policy.backoffMs },
    },
  });
  queue.on('error', () => undefined); // each add reports its own failure
  return queue;
}

export interface SesSyncJobSpec {
  readonly job: SesSyncJob;
  /** The entry's generation (first time, or when pushed), ms: part of the job id. */
  readonly generation: number;
}

export async function addSesSyncJobs(
  queue: SesSyncQueue,
  specs: readonly SesSyncJobSpec[],
): Promise<void> {
  if (specs.length === 0) return;
  await queue.addBulk(
    specs.map(({ job, generation }) => ({
      name: job.step,
      data: job,
      opts: { jobId: sesSyncJobId(job, generation) },
    })),
  );
}

/** What the store's callers report after each apply. */
export interface SesSyncHook {
  afterApply(address: EmailAddress, changes: readonly SuppressionChange[]): Promise<void>;
}

/**
 * The jobs an apply calls for. A change to the global entry is looked at whatever its outcome: a suppression job retried after this step failed finds its notification
 * already applied, and must still get its push queued.
 */
export function makeSesSyncHook(deps: {
  readonly mode: SesSyncMode;
  readonly store: SuppressionStore;
  readonly state: SesSyncState;
  readonly queue: SesSyncQueue;
}): SesSyncHook {
  return {
    async afterApply(address, changes) {
      if (!pushes(deps.mode)) return;
      const suppressesGlobally = changes.some(
        (c) => (c.type === 'suppress' && c.scope === 'global') || c.type === 'countTransient',
      );
      // Whatever the remove's outcome: a DELETE retried after the replicas did not confirm the
      // first (503) finds nothing left to remove, and must still get its SES delete queued.
      const removedGlobally = changes.some((c) => c.type === 'remove' && c.scope === 'global');
      if (!suppressesGlobally && !removedGlobally) return;
      const [entry, record] = await Promise.all([
        deps.store.check([address], ['global']).then((found) => found.get(address) ?? null),
        deps.state.get(address),
      ]);
      if (entry !== null) {
        const reason = sesTarget(entry);
        if (reason !== null && !sesHolds(record, reason))
          await addSesSyncJobs(deps.queue, [
            { job: { step: 'check', address, reason }, generation: Date.parse(entry.firstAt) },
          ]);
      } else if (removedGlobally && deletesFromSes(record)) {
        await addSesSyncJobs(deps.queue, [
          { job: { step: 'delete', address }, generation: record!.pushedAt! },
        ]);
      }
    },
  };
}

/** The store, reporting every apply to the hook (the API's, the CLI's and the processor's). */
export function withSesSync(store: SuppressionStore, hook: SesSyncHook): SuppressionStore {
  return {
    ...store,
    async apply(address, changes, eventKey) {
      const outcomes = await store.apply(address, changes, eventKey);
      await hook.afterApply(address, changes);
      return outcomes;
    },
    // The suppression processor applies a whole batch at once: each notification is reported.
    async applyAll(notifications) {
      const results = await store.applyAll(notifications);
      await Promise.all(notifications.map((n) => hook.afterApply(n.address, n.changes)));
      return results;
    },
  };
}

export type SesSyncResult =
  'put' | 'queuedPut' | 'alreadyInSes' | 'deleted' | 'notInSes' | 'notSuppressed' | 'notOurs';

export function makeSesSyncProcessor(deps: {
  readonly store: SuppressionStore;
  readonly state: SesSyncState;
  readonly list: SesSuppressionList;
  readonly queue: SesSyncQueue;
  readonly metrics: SesSyncMetrics;
  readonly now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const globalEntry = async (address: EmailAddress) =>
    (await deps.store.check([address], ['global'])).get(address) ?? null;

  const steps = {
    async check(address: EmailAddress): Promise<SesSyncResult> {
      const entry = await globalEntry(address);
      const reason = entry === null ? null : sesTarget(entry);
      if (entry === null || reason === null) return 'notSuppressed';
      const record = await deps.state.get(address);
      if (sesHolds(record, reason)) return 'alreadyInSes';
      const held = await deps.list.get(address);
      // SES's own entry (or another tool's) stays SES's, even if the worker later raises it.
      const sesHadIt =
        held !== null && (record?.pushedAt ?? null) === null ? true : (record?.sesHadIt ?? false);
      if (held !== null) await deps.state.update(address, { sesReason: held.reason, sesHadIt });
      if (held !== null && (held.reason === reason || held.reason === 'COMPLAINT')) {
        deps.metrics.alreadyInSes.inc();
        return 'alreadyInSes';
      }
      await addSesSyncJobs(deps.queue, [
        { job: { step: 'put', address, reason }, generation: Date.parse(entry.firstAt) },
      ]);
      return 'queuedPut';
    },
    async put(address: EmailAddress): Promise<SesSyncResult> {
      const entry = await globalEntry(address);
      const reason = entry === null ? null : sesTarget(entry);
      if (entry === null || reason === null) return 'notSuppressed';
      const record = await deps.state.get(address);
      if (sesHolds(record, reason)) return 'alreadyInSes';
      await deps.list.put(address, reason);
      await deps.state.update(address, { sesReason: reason, pushedAt: now() });
      deps.metrics.pushed.inc({ reason });
      return 'put';
    },
    async delete(address: EmailAddress): Promise<SesSyncResult> {
      // Suppressed again since: SES must keep it.
      if ((await globalEntry(address)) !== null) return 'notSuppressed';
      const record = await deps.state.get(address);
      if (!deletesFromSes(record)) return 'notOurs';
      const held = await deps.list.delete(address);
      await deps.state.forget(address);
      if (held) deps.metrics.deleted.inc();
      return held ? 'deleted' : 'notInSes';
    },
  };

  return async (data: SesSyncJob, job: Pick<Job, 'attemptsMade' | 'opts'>) => {
    try {
      return { result: await steps[data.step](data.address) };
    } catch (error) {
      const final =
        !(error instanceof SesRequestError && error.retryable) ||
        job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      deps.metrics.failed.inc({ step: data.step, retry: final ? 'no' : 'yes' });
      // Retrying cannot cure it (bad request, access denied): fail now, with SES's reason.
      if (error instanceof SesRequestError && !error.retryable)
        throw new UnrecoverableError(error.message);
      throw error;
    }
  };
}

/**
 * Time between two SES requests at `ratePerSecond`, with 25 % to spare: requests are paced in
 * Redis just before they leave, but one held up on its way (a busy event loop, a new TCP
 * connection after an outage: 150 ms was seen in tests on a loaded machine) moves towards the
 * next; spaced exactly, `rate + 1` could then arrive within one second.
 */
export const sesRequestSpacingMs = (ratePerSecond: number): number =>
  Math.ceil(1250 / ratePerSecond);

/**
 * The `ses-sync` worker. BullMQ's limiter is global to the queue (kept in Redis), so all
 * replicas together start at most one job per `1000 / rate` ms: one request each, evenly spaced,
 * which no one-second window can fit more than `rate` of.
 */
export function startSesSyncWorker(options: {
  readonly connection: RedisClient;
  /** BULLMQ_PREFIX, as configured. */
  readonly prefix: string;
  /** The previous key layout only to drain it (adapters/bullmq/layout.ts). */
  readonly layout?: QueueLayout;
  readonly ratePerSecond: number;
  readonly backoffMs: number;
  readonly lockMs: number;
  readonly maxStalledCount: number;
  readonly process: ReturnType<typeof makeSesSyncProcessor>;
  readonly log: Logger;
  readonly onOutcome?: (outcome: 'completed' | 'retrying' | 'failed') => void;
}): Worker<SesSyncJob> {
  const at = queueLocation(options.prefix, SES_SYNC_QUEUE, options.layout);
  const worker = new Worker<SesSyncJob>(at.name, (job) => options.process(job.data, job), {
    connection: options.connection,
    prefix: at.prefix,
    // A request in flight while the next may start: a slow answer does not halve the rate.
    concurrency: Math.min(Math.max(2, options.ratePerSecond), 32),
    // Jobs start no faster than the rate; each request also waits its turn in Redis.
    limiter: { max: 1, duration: Math.ceil(1000 / options.ratePerSecond) },
    settings: { backoffStrategy: sesSyncBackoff(options.backoffMs) },
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    maxStalledCount: options.maxStalledCount,
  });
  worker.on('completed', () => options.onOutcome?.('completed'));
  worker.on('failed', (job, error) => {
    const final =
      job === undefined ||
      job.attemptsMade >= (job.opts.attempts ?? 1) ||
      error.name === 'UnrecoverableError';
    options.onOutcome?.(final ? 'failed' : 'retrying');
    options.log.warn(
      {
        queue: SES_SYNC_QUEUE,
        jobId: job?.id === undefined ? undefined : redactJobId(job.id),
        err: loggableError(error),
      },
      `job ${final ? 'failed' : 'retrying'}`,
    );
  });
  // BullMQ's own errors name job ids ("could not renew lock for job …"), which hold addresses.
  worker.on('error', (error) =>
    options.log.warn({ err: loggableError(error) }, 'ses-sync worker error'),
  );
  return worker;
}
