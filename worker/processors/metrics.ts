/** The metrics queue's processor: counts each event once (its job id deduplicates redeliveries). */
import type { Metrics } from '../../adapters/metrics/registry';
import type { MetricsJob } from '../../domain/jobs';
import { makeLabelCap } from '../../domain/labels';

export function makeMetricsProcessor(metrics: Metrics, maxConfigurationSets: number) {
  const configurationSetLabel = makeLabelCap(maxConfigurationSets);
  return (job: MetricsJob): Promise<void> => {
    metrics.sesEvents.inc({
      kind: job.kind,
      configuration_set: configurationSetLabel(job.configurationSet),
    });
    return Promise.resolve();
  };
}
