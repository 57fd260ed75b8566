/**
 * The suppression queue's processor: the policy decides each notification's changes, the store
 * applies a whole batch of them in one script call, each once per notification (its marker is
 * its per-address job id: a redelivery, a replay or another batch holding it changes nothing).
 *
 * Two job shapes: `batch` (one per SQS batch), and the per-address jobs versions before batching
 * enqueued, which a rolling deploy leaves in the queue for this version to finish.
 */
import type { Job } from 'bullmq';
import type { Metrics } from '../../adapters/metrics/registry';
import type {
  SuppressionBatchJob,
  SuppressionJob,
  SuppressionNotificationData,
} from '../../domain/jobs';
import type { SuppressionNotification, SuppressionStore } from '../../domain/ports';
import {
  suppressionChanges,
  type AppliedSuppressionChange,
  type SuppressionPolicy,
} from '../../domain/suppression';

/** What a job did, per notification: for metrics, and for whoever follows the list's changes. */
export interface AppliedNotification {
  readonly address: SuppressionNotification['address'];
  readonly changes: readonly AppliedSuppressionChange[];
}

export function makeSuppressionProcessor(
  store: SuppressionStore,
  policy: SuppressionPolicy,
  metrics: Metrics,
) {
  return async (
    data: SuppressionBatchJob | SuppressionJob,
    job: Pick<Job, 'id'>,
  ): Promise<{ applied: AppliedNotification[] }> => {
    const notifications = notificationsOf(data, job).map((n): SuppressionNotification => ({
      address: n.address,
      changes: suppressionChanges(n, policy),
      eventKey: n.eventKey,
    }));
    const withChanges = notifications.filter((n) => n.changes.length > 0);
    if (withChanges.length === 0) return { applied: [] };
    const results = await store.applyAll(withChanges);
    const applied = withChanges.map((n, i): AppliedNotification => {
      const changes = results[i] ?? [];
      changes.forEach((result, j) => {
        const change = n.changes[j]!;
        const reason =
          change.type === 'suppress'
            ? change.reason
            : change.type === 'countTransient' &&
                (result.outcome === 'added' || result.outcome === 'updated')
              ? 'transient-bounces'
              : 'none';
        metrics.suppressionChanges.inc({ outcome: result.outcome, reason });
      });
      return { address: n.address, changes };
    });
    return { applied };
  };
}

function notificationsOf(
  data: SuppressionBatchJob | SuppressionJob,
  job: Pick<Job, 'id'>,
): readonly SuppressionNotificationData[] {
  if ('notifications' in data) return data.notifications;
  // An older version's per-address job: its id is the notification's marker.
  if (job.id === undefined) throw new Error('a suppression job needs its id (the dedupe key)');
  return [{ ...data, eventKey: job.id }];
}
