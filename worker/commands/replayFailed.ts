/**
 * `ses-worker replay-failed --queue Q`: retries the jobs that used up their attempts and sit in
 * BullMQ's failed set (after an SMTP outage, a fixed bug). Each job goes back to waiting with its
 * attempts reset, under the same id, so a job is never duplicated by a retry.
 *
 * The queue's failed jobs from before the upgrade, in the previous key layout
 * (adapters/bullmq/layout.ts), come first: each is moved into the current queue under its id, so
 * that it runs where every worker looks, and the previous layout empties. (Retried in place, it
 * would depend on a worker still draining that layout.)
 */
import { describeRedis } from '../config';
import { connectRedis } from '../../adapters/redis/connection';
import { openQueue } from '../../adapters/bullmq/layout';
import {
  retryFailedJobs,
  type FailedJob,
  type RetryOutcome,
} from '../../adapters/bullmq/failedJobs';
import { HOW_TO_START_REDIS, redisUnreachable } from '../../adapters/redis/probe';
import { makeTally, type Tally } from '../../domain/deadLetters';
import { formatDuration } from '../../domain/duration';
import { QUEUE_NAMES } from '../../domain/jobs';
import { SES_SYNC_QUEUE } from '../sesSync';

/** The ingest's queues, and `ses-sync` (pushes to SES that failed for good). */
export const REPLAYABLE_QUEUES = [...QUEUE_NAMES, SES_SYNC_QUEUE] as const;
export type ReplayableQueue = (typeof REPLAYABLE_QUEUES)[number];
import { EXIT, type ExitCode } from '../io';
import { makeProgress } from './progress';
import { configOrExit, describeError, type ReplayContext } from './replayContext';
import { count, jsonLine, noun, shortReason, tallyTable, type TallyColumn } from './replayOutput';

export interface ReplayFailedOptions {
  readonly queue: ReplayableQueue;
  readonly max: number | null;
  readonly dryRun: boolean;
  readonly json: boolean;
}

const LABEL = 'ses-worker replay-failed';
const OUTCOMES = ['retried', 'wouldRetry', 'failed'] as const satisfies readonly RetryOutcome[];
const COLUMNS: readonly TallyColumn<RetryOutcome>[] = [
  { outcome: 'retried', label: 'retried', always: false },
  { outcome: 'wouldRetry', label: 'would retry', always: false },
  { outcome: 'failed', label: 'not retried', always: false },
];

export async function replayFailedCommand(
  env: NodeJS.ProcessEnv,
  options: ReplayFailedOptions,
  ctx: ReplayContext,
): Promise<ExitCode> {
  const { io } = ctx;
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  const unreachable = await redisUnreachable(config.redis);
  if (unreachable !== null) {
    io.stderr.write(
      `${LABEL}: Redis is not reachable at ${describeRedis(config.redis)} (${unreachable}): ${HOW_TO_START_REDIS}\n`,
    );
    return EXIT.unavailable;
  }
  const now = ctx.now ?? Date.now;
  const startedAt = now();
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // each command reports its own failure
  const queue = openQueue(options.queue, redis, config.bullmqPrefix);
  const previous = openQueue(options.queue, redis, config.bullmqPrefix, {}, 'previous');
  for (const q of [queue, previous]) q.on('error', () => undefined);
  const out = (text: string) => io.stdout.write(text);
  try {
    const total = (await previous.getFailedCount()) + (await queue.getFailedCount());
    const tally = makeTally(OUTCOMES);
    const progress = makeProgress(LABEL, ctx.progress, io, options.dryRun || options.json, now);
    const onJob =
      (layout: 'current' | 'previous') =>
      (job: FailedJob, outcome: RetryOutcome, detail?: string) => {
        const ageMs = job.finishedOn === null ? null : Math.max(0, now() - job.finishedOn);
        tally.add(job.name, shortReason(job.failedReason), outcome, ageMs);
        if (options.json) out(jsonLine(jobLine(options.queue, layout, job, outcome, detail)));
        else if (outcome === 'wouldRetry') {
          out(
            `would retry  ${job.id}  ${job.name}  attempts ${job.attemptsMade}  ${shortReason(job.failedReason, 120)}\n`,
          );
        } else if (outcome === 'failed') {
          io.stderr.write(`${LABEL}: ${job.id}: not retried: ${detail ?? ''}\n`);
        }
        progress.update(tally.count(), total, status(tally, options.dryRun));
      };
    let report: Awaited<ReturnType<typeof retryFailedJobs>>;
    try {
      const common = { dryRun: options.dryRun, signal: ctx.signal };
      report = await retryFailedJobs({
        ...common,
        queue: previous,
        into: queue,
        max: options.max,
        onJob: onJob('previous'),
      });
      const left = options.max === null ? null : options.max - tally.count();
      if (report.end === 'done' && (left === null || left > 0))
        report = await retryFailedJobs({ ...common, queue, max: left, onJob: onJob('current') });
    } finally {
      progress.stop();
    }
    const elapsedMs = now() - startedAt;
    if (options.json) {
      out(
        jsonLine({
          type: 'summary',
          queue: options.queue,
          dryRun: options.dryRun,
          end: report.end,
          seconds: elapsedMs / 1000,
          totals: Object.fromEntries(OUTCOMES.map((o) => [o, tally.total(o)])),
          rows: tally.rows().map((row) => ({ name: row.group, reason: row.detail, ...row.counts })),
        }),
      );
    } else {
      out(
        options.dryRun
          ? `Dry run: ${count(tally.total('wouldRetry'))} failed ${noun(tally.total('wouldRetry'), 'job')} in ${options.queue} would be retried; nothing was changed.\n`
          : `Retried ${count(tally.total('retried'))} failed ${noun(tally.total('retried'), 'job')} in ${options.queue} in ${formatDuration(elapsedMs)}.\n`,
      );
      if (tally.count() > 0) out(tallyTable(tally, ['job', 'failed because'], COLUMNS));
      if (report.end === 'max') out(`Stopped at --max ${options.max}.\n`);
      if (report.end === 'stopped') out('Stopped by a signal: the jobs not reached stay failed.\n');
    }
    if (report.end === 'stopped') return EXIT.interrupted;
    return tally.total('failed') > 0 ? EXIT.unavailable : EXIT.ok;
  } catch (error) {
    io.stderr.write(`${LABEL}: ${options.queue}: ${describeError(error)}\n`);
    return EXIT.unavailable;
  } finally {
    await Promise.all([queue, previous].map((q) => q.close().catch(() => undefined)));
    await redis.quit().catch(() => redis.disconnect());
  }
}

function status(tally: Tally<RetryOutcome>, dryRun: boolean): string {
  const done = dryRun ? tally.total('wouldRetry') : tally.total('retried');
  const failed = tally.total('failed');
  return `${dryRun ? 'would retry' : 'retried'} ${count(done)}${failed > 0 ? `, not retried ${count(failed)}` : ''}`;
}

function jobLine(
  queue: ReplayableQueue,
  layout: 'current' | 'previous',
  job: FailedJob,
  outcome: RetryOutcome,
  detail?: string,
) {
  return {
    type: 'job',
    outcome,
    queue,
    // `previous`: failed before the upgrade; retried means moved into the current queue.
    ...(layout === 'previous' ? { layout } : {}),
    id: job.id,
    name: job.name,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
    failedAt: job.finishedOn === null ? null : new Date(job.finishedOn).toISOString(),
    ...(detail === undefined ? {} : { detail }),
  };
}
