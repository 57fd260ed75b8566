/**
 * The metrics queue's processor: one job per SQS batch. Each event is counted once across
 * replicas and redeliveries: only events this call is first to mark are counted.
 */
import type { EventMarkers } from '../../adapters/redis/eventMarkers';
import type { Metrics } from '../../adapters/metrics/registry';
import type { MetricsJob } from '../../domain/jobs';
import { makeLabelCap } from '../../domain/labels';

export function makeMetricsProcessor(
  metrics: Metrics,
  markers: EventMarkers,
  maxConfigurationSets: number,
) {
  const configurationSetLabel = makeLabelCap(maxConfigurationSets);
  return async (job: MetricsJob): Promise<{ counted: number }> => {
    const fresh = await markers.claimFirstSight(job.events.map((e) => e.id));
    const counted = fresh.size;
    for (const event of job.events) {
      // A batch can hold one event several times (a redelivery beside the original).
      if (!fresh.delete(event.id)) continue;
      metrics.sesEvents.inc({
        kind: event.kind,
        configuration_set: configurationSetLabel(event.configurationSet),
      });
    }
    return { counted };
  };
}
