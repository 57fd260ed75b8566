/**
 * The metrics queue's processor: one job per SQS batch. The reputation store marks each event
 * and adds it to the shared reputation windows in one atomic step, and says which events are
 * seen for the first time; only those move this process's Prometheus counters. So the counters
 * summed across replicas, and the windows, count every event once, however often it is
 * redelivered (within METRICS_DEDUPE_SECONDS).
 */
import type { Metrics } from '../../adapters/metrics/registry';
import type { ReputationStore } from '../../adapters/redis/reputationStore';
import { VERDICTS, type CountedEvent, type MetricsJob } from '../../domain/jobs';
import { makeLabelCap } from '../../domain/labels';
import {
  BOUNCE_SUB_TYPE_LABELS,
  BOUNCE_TYPE_LABELS,
  COMPLAINT_FEEDBACK_TYPE_LABELS,
  DELAY_TYPE_LABELS,
  RECEIPT_ACTION_LABELS,
  VERDICT_STATUS_LABELS,
  knownOr,
  knownOrNone,
  sesName,
} from '../../domain/metricLabels';

export interface MetricsProcessorOptions {
  /** Configuration-set label values per process (the store caps them across replicas too). */
  readonly maxConfigurationSets: number;
  readonly maxTemplates: number;
  readonly now?: () => number;
}

export function makeMetricsProcessor(
  metrics: Metrics,
  store: ReputationStore,
  options: MetricsProcessorOptions,
) {
  // The store's labels are already capped across replicas; this bounds one process's series
  // even as the store forgets names unused for a week and admits new ones (+2: none, other).
  const configurationSetLabel = makeLabelCap(options.maxConfigurationSets + 2);
  const templateLabel = makeLabelCap(options.maxTemplates);
  const now = options.now ?? Date.now;
  const bounceType = knownOr(BOUNCE_TYPE_LABELS);
  const bounceSubType = knownOr(BOUNCE_SUB_TYPE_LABELS);
  const feedbackType = knownOrNone(COMPLAINT_FEEDBACK_TYPE_LABELS);
  const delayType = knownOr(DELAY_TYPE_LABELS);
  const action = knownOr(RECEIPT_ACTION_LABELS);
  const verdictStatus = knownOrNone(VERDICT_STATUS_LABELS);

  const count = (event: CountedEvent, configurationSet: string) => {
    metrics.sesEvents.inc({
      kind: event.kind,
      configuration_set: configurationSetLabel(configurationSet),
    });
    if (event.bounce) {
      metrics.bounces.inc({
        bounce_type: bounceType(event.bounce.bounceType),
        bounce_subtype: bounceSubType(event.bounce.bounceSubType),
      });
    }
    if (event.complaint) {
      metrics.complaints.inc({
        feedback_type: feedbackType(event.complaint.complaintFeedbackType),
      });
    }
    const millis = event.delivery?.processingTimeMillis;
    if (typeof millis === 'number' && Number.isFinite(millis) && millis >= 0) {
      metrics.deliverySeconds.observe(millis / 1000);
    }
    if (event.deliveryDelay) {
      metrics.deliveryDelays.inc({ delay_type: delayType(event.deliveryDelay.delayType) });
    }
    if (event.renderingFailure) {
      metrics.renderingFailures.inc({
        template: templateLabel(sesName(event.renderingFailure.templateName)),
      });
    }
    if (event.received) {
      metrics.inboundActions.inc({ action: action(event.received.action) });
      for (const verdict of VERDICTS) {
        metrics.inboundVerdicts.inc({
          verdict,
          status: verdictStatus(event.received.verdicts[verdict]),
        });
      }
    }
  };

  return async (job: MetricsJob): Promise<{ counted: number }> => {
    const recorded = await store.record(job.events, now());
    let counted = 0;
    job.events.forEach((event, i) => {
      const outcome = recorded[i];
      if (!outcome?.fresh) return;
      counted++;
      count(event, outcome.configurationSet);
    });
    return { counted };
  };
}
