/**
 * Retrying the jobs in a BullMQ queue's failed set (`job.retry`), page by page. A retried job
 * leaves the set, and jobs that fail meanwhile join it, so the pages shift under the reader:
 * each job is decided once per run by its id, and passes repeat until one finds nothing new.
 * Failed jobs of a queue in the previous key layout (layout.ts) are moved into the current queue
 * instead, where they run again with their attempts afresh.
 */
import type { Job, Queue } from 'bullmq';

export interface FailedJob {
  readonly id: string;
  readonly name: string;
  readonly failedReason: string;
  readonly attemptsMade: number;
  /** When it failed for good, ms since the epoch; null when BullMQ did not record it. */
  readonly finishedOn: number | null;
}

export type RetryOutcome = 'retried' | 'wouldRetry' | 'failed';

export interface RetryFailedOptions {
  readonly queue: Queue;
  /**
   * Where a job goes to run again: its own queue (null), or, for a queue in the previous key
   * layout, the current one: added there under the same id, then removed here.
   */
  readonly into?: Queue | null;
  /** List what would be retried; change nothing. */
  readonly dryRun: boolean;
  /** At most this many retried (or listed); null: all. */
  readonly max: number | null;
  readonly pageSize?: number;
  /** Aborted: finish the job in hand, then stop. */
  readonly signal: AbortSignal;
  readonly onJob: (job: FailedJob, outcome: RetryOutcome, detail?: string) => void;
}

export interface RetryReport {
  readonly end: 'done' | 'max' | 'stopped';
}

export async function retryFailedJobs(options: RetryFailedOptions): Promise<RetryReport> {
  const pageSize = options.pageSize ?? 100;
  const seen = new Set<string>();
  let decided = 0;
  for (;;) {
    let fresh = 0;
    let offset = 0;
    for (;;) {
      if (options.signal.aborted) return { end: 'stopped' };
      const page = (await options.queue.getFailed(offset, offset + pageSize - 1)) as Job[];
      if (page.length === 0) break;
      let retried = 0;
      for (const job of page) {
        const id = job.id ?? '';
        if (seen.has(id)) continue;
        if (options.max !== null && decided >= options.max) return { end: 'max' };
        if (options.signal.aborted) return { end: 'stopped' };
        seen.add(id);
        decided++;
        fresh++;
        const failed = describeJob(job);
        if (options.dryRun) {
          options.onJob(failed, 'wouldRetry');
          continue;
        }
        try {
          if (options.into) await moveJob(job, options.into);
          // Its full attempts again: a job retried with none left would fail at its first error.
          else await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          retried++;
          options.onJob(failed, 'retried');
        } catch (error) {
          options.onJob(failed, 'failed', error instanceof Error ? error.message : String(error));
        }
      }
      // Retried jobs left the set: the next page starts that many places earlier.
      offset += page.length - retried;
    }
    if (fresh === 0) return { end: 'done' };
  }
}

/**
 * Adds the job to `into` under its id (with `into`'s default options: attempts afresh), then
 * removes it here. Stopped between the two, a second run finds the id still held in `into` (until
 * BullMQ removes it as completed): the add does nothing, the removal completes, the job runs
 * once. An id BullMQ gave (a number) cannot be given again: such a job gets a new one.
 */
async function moveJob(job: Job, into: Queue): Promise<void> {
  const id = job.id ?? '';
  await into.add(job.name, job.data, /^\d+$/.test(id) ? {} : { jobId: id });
  await job.remove();
}

function describeJob(job: Job): FailedJob {
  return {
    id: job.id ?? '',
    name: job.name,
    failedReason: job.failedReason ?? '',
    attemptsMade: job.attemptsMade,
    finishedOn: job.finishedOn ?? null,
  };
}
