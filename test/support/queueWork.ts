/**
 * What a queue's jobs carry, as the ids the routing gives each piece of work: a job's own id, or,
 * for a suppression batch, the ids of the notifications it holds (each applied once by its
 * marker, even when two batches hold it). Tests compare these with `expectedJobIds`.
 */
import type { JobType } from 'bullmq';
import { openQueue } from '../../adapters/bullmq/layout';
import type { RedisClient } from '../../adapters/redis/connection';
import type { SuppressionBatchJob } from '../../domain/jobs';

export interface QueueWork {
  /** The work ids of completed jobs; a notification in two batches appears once. */
  readonly completed: ReadonlySet<string>;
  /** Jobs not completed: failed, waiting, active, delayed. */
  readonly pending: number;
}

export async function queueWork(
  connection: RedisClient,
  prefix: string,
  name: string,
): Promise<QueueWork> {
  const queue = openQueue(name, connection, prefix);
  try {
    const completed = new Set<string>();
    for (const job of await queue.getJobs(['completed'])) {
      for (const id of workIds(job.id!, job.data)) completed.add(id);
    }
    const pendingStates: JobType[] = ['failed', 'waiting', 'active', 'delayed'];
    const counts = await queue.getJobCounts(...pendingStates);
    const pending = pendingStates.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
    return { completed, pending };
  } finally {
    await queue.close();
  }
}

function workIds(id: string, data: unknown): string[] {
  if (typeof data === 'object' && data !== null && 'notifications' in data)
    return (data as SuppressionBatchJob).notifications.map((n) => n.eventKey);
  return [id];
}

/** True when both hold the same ids; else throws what differs (for `eventually` to report). */
export function sameWork(name: string, found: ReadonlySet<string>, expected: ReadonlySet<string>) {
  const missing = [...expected].filter((id) => !found.has(id));
  const extra = [...found].filter((id) => !expected.has(id));
  if (missing.length + extra.length > 0)
    throw new Error(
      `${name}: ${missing.length} of ${expected.size} missing, ${extra.length} unexpected`,
    );
  return true;
}
