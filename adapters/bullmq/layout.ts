/**
 * Where each BullMQ queue keeps its keys: the one place that turns our queue names (`suppression`,
 * `inbound`, `metrics`, `ses-sync`: what metrics, logs, the CLI and the status page show) into
 * BullMQ's prefix and queue name.
 *
 * BullMQ names a queue's keys `<prefix>:<queue name>:<type>`. The prefix is BULLMQ_PREFIX without
 * braces and the queue name is its own hash tag, so that on Redis Cluster all of a queue's keys
 * share one slot (its scripts need that) while the queues spread over the shards:
 *   ses:{suppression}:wait   ses:{inbound}:wait   ses:{metrics}:wait   ses:{ses-sync}:wait
 * The previous layout put every queue under the prefix as written (`{ses}`) with its plain name,
 * `{ses}:suppression:wait`, so that everything hashed to the slot of `ses`. A worker of this
 * version drains what that layout still holds (worker/previousLayoutDrain.ts), and
 * `replay-failed` moves its failed jobs over.
 */
import { Queue, type QueueOptions } from 'bullmq';
import { keyBase, type RedisClient } from '../redis/connection';

export interface QueueLocation {
  /** BullMQ's `prefix` option. */
  readonly prefix: string;
  /** The name to give BullMQ's Queue and Worker. */
  readonly name: string;
}

export type QueueLayout = 'current' | 'previous';

/** Where the queue named `queue` lives under BULLMQ_PREFIX `bullmqPrefix`. */
export function queueLocation(
  bullmqPrefix: string,
  queue: string,
  layout: QueueLayout = 'current',
): QueueLocation {
  return layout === 'current'
    ? { prefix: keyBase(bullmqPrefix), name: `{${queue}}` }
    : { prefix: bullmqPrefix, name: queue };
}

/** A BullMQ Queue for `queue` at its location: every `new Queue` of the worker goes through here. */
export function openQueue<T = unknown>(
  queue: string,
  connection: RedisClient,
  bullmqPrefix: string,
  options: Omit<QueueOptions, 'connection' | 'prefix'> = {},
  layout: QueueLayout = 'current',
): Queue<T, unknown, string> {
  const at = queueLocation(bullmqPrefix, queue, layout);
  return new Queue<T, unknown, string>(at.name, { ...options, connection, prefix: at.prefix });
}
