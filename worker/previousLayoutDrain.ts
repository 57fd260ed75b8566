/**
 * Jobs left in the previous key layout's queues (`{ses}:suppression:*`: adapters/bullmq/layout.ts)
 * when a deployment upgrades: a process-role worker finds the queues there that still hold work,
 * runs a BullMQ Worker on each with the processor of its current queue until it is empty, then
 * closes it. It keeps looking, once a minute: during a rolling upgrade, ingest replicas of the
 * previous version go on adding there until they are replaced.
 *
 * What it does not move: failed jobs (`replay-failed` moves them into the current queue, then
 * retries them) and completed ones, which only keep their ids for deduplication; both are removed
 * once older than JOB_KEEP_FAILED_SECONDS / JOB_KEEP_COMPLETED_SECONDS, as BullMQ would have on
 * its next job there.
 *
 * Logged: once when a drain starts (the jobs waiting per queue), once when it is done (the jobs
 * completed and failed per queue); counts only.
 */
import type { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { openQueue } from '../adapters/bullmq/layout';
import type { JobPolicy } from '../adapters/bullmq/queues';
import type { RedisClient } from '../adapters/redis/connection';
import { loggableError } from '../domain/redact';

export interface DrainableQueue {
  /** Our name for the queue: `suppression`, `inbound`, `metrics`, `ses-sync`. */
  readonly queue: string;
  /** A Worker on the queue's previous layout, with the processor its current queue has. */
  readonly startPreviousLayoutWorker: () => Worker;
}

export interface PreviousLayoutDrainOptions {
  /** The workers' connection: it waits out a Redis outage. */
  readonly connection: RedisClient;
  readonly bullmqPrefix: string;
  readonly queues: readonly DrainableQueue[];
  readonly policy: Pick<JobPolicy, 'keepCompletedSeconds' | 'keepFailedSeconds' | 'attempts'>;
  readonly log: Logger;
  /** How often to look for jobs there while none are being drained. */
  readonly lookEveryMs?: number;
  /** While draining, how often to see whether a queue is empty yet. */
  readonly checkEveryMs?: number;
}

export interface PreviousLayoutDrain {
  /** Stops looking and closes the drain's workers (their active jobs finish first). */
  stop(): Promise<void>;
}

/** Jobs a worker must still take or finish. */
const PENDING = ['waiting', 'delayed', 'active', 'prioritized'] as const;
/** Finished jobs removed per state and look, at most (a look with more comes back sooner). */
const CLEAN_LIMIT = 1000;

interface Draining {
  readonly worker: Worker;
  completed: number;
  failed: number;
}

export function startPreviousLayoutDrain(options: PreviousLayoutDrainOptions): PreviousLayoutDrain {
  const lookEveryMs = options.lookEveryMs ?? 60_000;
  const checkEveryMs = options.checkEveryMs ?? 2_000;
  const { log } = options;
  const previous = new Map<string, Queue>(
    options.queues.map((q) => [
      q.queue,
      openQueue(q.queue, options.connection, options.bullmqPrefix, {}, 'previous'),
    ]),
  );
  for (const queue of previous.values()) queue.on('error', () => undefined); // each call reports
  const draining = new Map<string, Draining>();
  /** Per queue, what this drain finished, until it is told. */
  let finished = new Map<string, { completed: number; failed: number }>();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let looking: Promise<void> = Promise.resolve();

  const start = (drainable: DrainableQueue): Draining => {
    const worker = drainable.startPreviousLayoutWorker();
    const entry: Draining = { worker, completed: 0, failed: 0 };
    worker.on('completed', () => entry.completed++);
    worker.on('failed', (job, error) => {
      const final =
        job === undefined ||
        job.attemptsMade >= (job.opts.attempts ?? options.policy.attempts) ||
        error.name === 'UnrecoverableError';
      if (final) entry.failed++;
    });
    return entry;
  };

  /** One look at every queue; true when another should follow soon. */
  const look = async (): Promise<boolean> => {
    const wasDraining = draining.size > 0;
    const started: Record<string, Record<string, number>> = {};
    let soon = false;
    for (const drainable of options.queues) {
      const queue = previous.get(drainable.queue)!;
      const counts = await queue.getJobCounts(...PENDING, 'completed', 'failed');
      const pending = PENDING.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
      const entry = draining.get(drainable.queue);
      if (entry !== undefined && pending === 0) {
        await entry.worker.close();
        draining.delete(drainable.queue);
        const sum = finished.get(drainable.queue) ?? { completed: 0, failed: 0 };
        finished.set(drainable.queue, {
          completed: sum.completed + entry.completed,
          failed: sum.failed + entry.failed,
        });
      } else if (entry === undefined && pending > 0 && !stopped) {
        draining.set(drainable.queue, start(drainable));
        started[drainable.queue] = Object.fromEntries(PENDING.map((s) => [s, counts[s] ?? 0]));
      }
      if (pending === 0) soon = (await cleanAged(queue, counts)) || soon;
    }
    if (!wasDraining && Object.keys(started).length > 0) {
      log.info({ queues: started }, 'draining the jobs left in the previous key layout');
    } else if (Object.keys(started).length > 0) {
      log.info({ queues: started }, 'draining more jobs left in the previous key layout');
    }
    if (draining.size === 0 && finished.size > 0) {
      log.info({ queues: Object.fromEntries(finished) }, 'the previous key layout is drained');
      finished = new Map();
    }
    return soon || draining.size > 0;
  };

  /** Finished jobs older than BullMQ would have kept them; true when the limit was reached. */
  const cleanAged = async (queue: Queue, counts: Record<string, number>): Promise<boolean> => {
    let more = false;
    for (const [state, keepSeconds] of [
      ['completed', options.policy.keepCompletedSeconds],
      ['failed', options.policy.keepFailedSeconds],
    ] as const) {
      if ((counts[state] ?? 0) === 0) continue;
      const removed = await queue.clean(keepSeconds * 1000, CLEAN_LIMIT, state);
      if (removed.length >= CLEAN_LIMIT) more = true;
    }
    return more;
  };

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      looking = look().then(
        (soon) => schedule(soon ? checkEveryMs : lookEveryMs),
        (error: Error) => {
          log.warn(
            { err: loggableError(error) },
            'could not look at the previous key layout’s queues; trying again later',
          );
          schedule(lookEveryMs);
        },
      );
    }, ms);
    timer.unref();
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await looking;
      await Promise.all([...draining.values()].map((entry) => entry.worker.close()));
      draining.clear();
      await Promise.all([...previous.values()].map((queue) => queue.close()));
    },
  };
}
