/** The suppression queue's processor: applies the policy and records the address. */
import type { Metrics } from '../../adapters/metrics/registry';
import type { SuppressionJob } from '../../domain/jobs';
import type { SuppressionStore } from '../../domain/ports';
import { suppressionEvidence } from '../../domain/suppression';

export function makeSuppressionProcessor(store: SuppressionStore, metrics: Metrics) {
  return async (job: SuppressionJob): Promise<{ suppressed: boolean }> => {
    const evidence = suppressionEvidence(job);
    if (evidence === null) return { suppressed: false };
    await store.suppress(job.address, evidence);
    metrics.suppressed.inc({ reason: evidence.reason });
    return { suppressed: true };
  };
}
