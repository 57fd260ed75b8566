/**
 * The BullMQ queues the ingest adds to: `suppression`, `inbound`, `metrics`, each its own hash
 * tag (layout.ts), so that on Redis Cluster each queue lives in one slot and the three spread
 * over the shards.
 */
import type { DefaultJobOptions, Queue } from 'bullmq';
import { waitForReplicas, type RedisClient, type ReplicasAck } from '../redis/connection';
import { openQueue } from './layout';
import { QUEUE_NAMES, type JobSpec, type QueueName } from '../../domain/jobs';
import type { EnqueueOutcome, JobSink } from '../../domain/ports';

export interface JobPolicy {
  readonly attempts: number;
  /** First retry delay; each later one doubles, with jitter so retries do not arrive in step. */
  readonly backoffMs: number;
  /**
   * How long completed jobs are kept. Their ids keep deduplicating adds until then, so this is
   * the window in which a redelivered notification is recognised (BullMQ #1318).
   */
  readonly keepCompletedSeconds: number;
  /** Failed jobs stay this long for `replay-failed`. */
  readonly keepFailedSeconds: number;
}

export function jobOptions(policy: JobPolicy): DefaultJobOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: policy.keepCompletedSeconds },
    removeOnFail: { age: policy.keepFailedSeconds },
  };
}

export interface JobQueues extends JobSink {
  readonly queues: ReadonlyMap<QueueName, Queue>;
  close(): Promise<void>;
}

const NO_REPLICAS_ACK: ReplicasAck = { replicas: 0, timeoutMs: 0 };

/**
 * `connection` should have `enableOfflineQueue: false`: while Redis is down an add must fail at
 * once (so nothing is deleted from SQS) instead of waiting in ioredis's memory.
 *
 * With `replicasAck` (REDIS_MIN_REPLICAS_ACK), a queue's adds count only once that many replicas
 * of its master hold them: a master that dies right after answering cannot take them along
 * while the SQS messages are already deleted. A queue whose replicas do not confirm in time is
 * reported failed, exactly as one whose add failed.
 */
export function makeJobQueues(
  connection: RedisClient,
  bullmqPrefix: string,
  policy: JobPolicy,
  replicasAck: ReplicasAck = NO_REPLICAS_ACK,
): JobQueues {
  const defaultJobOptions = jobOptions(policy);
  const queues = new Map<QueueName, Queue>(
    QUEUE_NAMES.map((name) => [
      name,
      // Not skipWaitingForReady: a queue created while Redis is down would fail its one-time
      // initialisation (INFO, with no offline queue) and stay broken after Redis came back.
      openQueue(name, connection, bullmqPrefix, { defaultJobOptions }),
    ]),
  );
  for (const queue of queues.values()) {
    // Errors also reach the caller of add; without a listener Node would treat them as fatal.
    queue.on('error', () => undefined);
  }

  return {
    queues,
    async enqueue(jobs) {
      const byQueue = new Map<QueueName, JobSpec[]>();
      for (const job of jobs) {
        const list = byQueue.get(job.queue);
        if (list) list.push(job);
        else byQueue.set(job.queue, [job]);
      }
      const failed = new Map<QueueName, Error>();
      await Promise.all(
        [...byQueue].map(async ([name, specs]) => {
          try {
            const queue = queues.get(name)!;
            // A batch's suppression and metrics jobs are one each: `add` sends the script
            // directly, where `addBulk` builds an ioredis pipeline, which copies every script
            // BullMQ defines onto itself (about 30 µs per pipeline, the ingest's largest cost).
            if (specs.length === 1)
              await queue.add(specs[0]!.name, specs[0]!.data, { jobId: specs[0]!.id });
            else
              await queue.addBulk(
                specs.map((s) => ({ name: s.name, data: s.data, opts: { jobId: s.id } })),
              );
            // Every key of a queue is in one slot, so one key names the master to ask.
            await waitForReplicas(connection, [queue.toKey('id')], replicasAck);
          } catch (error) {
            failed.set(name, error instanceof Error ? error : new Error(String(error)));
          }
        }),
      );
      return { failed } satisfies EnqueueOutcome;
    },
    isConnected: () => connection.status === 'ready',
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
