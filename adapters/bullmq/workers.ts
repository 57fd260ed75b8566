/** BullMQ Workers: one per queue, each with its processor and outcome reporting. */
import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '../redis/connection';
import type { QueueName } from '../../domain/jobs';
import { queueLocation, type QueueLayout } from './layout';

export type JobOutcome = 'completed' | 'retrying' | 'failed';

export interface QueueWorkerOptions<D> {
  readonly queue: QueueName;
  /** Needs `maxRetriesPerRequest: null`: a worker waits out Redis outages instead of failing. */
  readonly connection: RedisClient;
  /** BULLMQ_PREFIX, as configured. */
  readonly prefix: string;
  /** Which key layout's queue to work on (layout.ts): the previous one only to drain it. */
  readonly layout?: QueueLayout;
  readonly concurrency: number;
  /** Lock on an active job; a worker that dies holding it loses the job to others after this. */
  readonly lockMs: number;
  /**
   * How many times a job may come back from a process that died holding it before it is failed
   * for good (BullMQ's default, 1, fails a job whose processes were killed twice).
   */
  readonly maxStalledCount?: number;
  readonly process: (data: D, job: Job<D>) => Promise<unknown>;
  readonly onOutcome: (
    queue: QueueName,
    outcome: JobOutcome,
    job: Job<D> | undefined,
    error?: Error,
  ) => void;
  readonly onError: (error: Error) => void;
}

export function startQueueWorker<D>(options: QueueWorkerOptions<D>): Worker<D> {
  const at = queueLocation(options.prefix, options.queue, options.layout);
  const worker = new Worker<D>(at.name, (job) => options.process(job.data, job), {
    connection: options.connection,
    prefix: at.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    // Look for stalled jobs as often as a lock can lapse.
    stalledInterval: options.lockMs,
    maxStalledCount: options.maxStalledCount ?? 1,
  });
  worker.on('completed', (job) => options.onOutcome(options.queue, 'completed', job));
  worker.on('failed', (job, error) => {
    const attempts = job?.opts.attempts ?? 1;
    const final =
      job === undefined || job.attemptsMade >= attempts || error.name === 'UnrecoverableError';
    options.onOutcome(options.queue, final ? 'failed' : 'retrying', job, error);
  });
  worker.on('error', options.onError);
  return worker;
}
