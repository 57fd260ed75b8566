/**
 * The suppression queue's processor: the policy decides the changes, the store applies them
 * once per job id (ids come from the notification: a redelivery or replay changes nothing).
 */
import type { Job } from 'bullmq';
import type { Metrics } from '../../adapters/metrics/registry';
import type { SuppressionJob } from '../../domain/jobs';
import type { SuppressionStore } from '../../domain/ports';
import {
  suppressionChanges,
  type SuppressionOutcome,
  type SuppressionPolicy,
} from '../../domain/suppression';

export function makeSuppressionProcessor(
  store: SuppressionStore,
  policy: SuppressionPolicy,
  metrics: Metrics,
) {
  return async (
    data: SuppressionJob,
    job: Pick<Job, 'id'>,
  ): Promise<{ outcomes: SuppressionOutcome[] }> => {
    const changes = suppressionChanges(data, policy);
    if (changes.length === 0) return { outcomes: [] };
    if (job.id === undefined) throw new Error('a suppression job needs its id (the dedupe key)');
    const outcomes = await store.apply(data.address, changes, job.id);
    outcomes.forEach((outcome, i) => {
      const change = changes[i]!;
      const reason =
        change.type === 'suppress'
          ? change.reason
          : change.type === 'countTransient' && (outcome === 'added' || outcome === 'updated')
            ? 'transient-bounces'
            : 'none';
      metrics.suppressionChanges.inc({ outcome, reason });
    });
    return { outcomes };
  };
}
