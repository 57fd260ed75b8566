/**
 * The Prometheus registry and every metric the worker exports. Labels take values from enums
 * and (capped) configuration-set names only, never addresses or free text.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { makeQueueGauges } from './queueGauges';

export function makeMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  return {
    registry,
    sesEvents: new Counter({
      name: 'ses_events_total',
      help: 'SES events processed by the metrics queue, by kind and configuration set',
      labelNames: ['kind', 'configuration_set'] as const,
      registers,
    }),
    bounces: new Counter({
      name: 'ses_bounces_total',
      help: 'Bounce events by type and subtype (unknown subtypes as other)',
      labelNames: ['bounce_type', 'bounce_subtype'] as const,
      registers,
    }),
    complaints: new Counter({
      name: 'ses_complaints_total',
      help: 'Complaint events by feedback type (none when the report gives none)',
      labelNames: ['feedback_type'] as const,
      registers,
    }),
    deliverySeconds: new Histogram({
      name: 'ses_delivery_processing_seconds',
      help: 'Delivery events: time from SES accepting the mail to the receiving server accepting it (processingTimeMillis)',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400],
      registers,
    }),
    deliveryDelays: new Counter({
      name: 'ses_delivery_delays_total',
      help: 'DeliveryDelay events by delay type',
      labelNames: ['delay_type'] as const,
      registers,
    }),
    renderingFailures: new Counter({
      name: 'ses_rendering_failures_total',
      help: 'Rendering Failure events by template (capped: METRICS_MAX_TEMPLATES, then other)',
      labelNames: ['template'] as const,
      registers,
    }),
    inboundActions: new Counter({
      name: 'ses_inbound_actions_total',
      help: 'Received (inbound) notifications by receipt action',
      labelNames: ['action'] as const,
      registers,
    }),
    inboundVerdicts: new Counter({
      name: 'ses_inbound_verdicts_total',
      help: 'Received (inbound) notifications by verdict (spam, virus, spf, dkim, dmarc) and status',
      labelNames: ['verdict', 'status'] as const,
      registers,
    }),
    reputationBounceRate: new Gauge({
      name: 'ses_reputation_bounce_rate',
      help: 'Hard bounces per recipient sent over the window (0.05 = 5 %), from the reputation windows in Redis',
      labelNames: ['window', 'dimension', 'name'] as const,
      registers,
    }),
    reputationComplaintRate: new Gauge({
      name: 'ses_reputation_complaint_rate',
      help: 'Complaints per recipient sent over the window (0.001 = 0.1 %)',
      labelNames: ['window', 'dimension', 'name'] as const,
      registers,
    }),
    reputationVolume: new Gauge({
      name: 'ses_reputation_volume',
      help: 'Recipients the rates divide by over the window: sends, or deliveries + bounces when larger',
      labelNames: ['window', 'dimension', 'name'] as const,
      registers,
    }),
    reputationState: new Gauge({
      name: 'ses_reputation_state',
      help: 'Reputation state: 0 ok, 1 warn, 2 critical (the worse of the 24h and 7d windows)',
      labelNames: ['dimension', 'name'] as const,
      registers,
    }),
    reputationThreshold: new Gauge({
      name: 'ses_reputation_threshold',
      help: 'The configured thresholds, for dashboards: rate (bounce, complaint) and level (warn, critical)',
      labelNames: ['rate', 'level'] as const,
      registers,
    }),
    reputationNotifications: new Counter({
      name: 'ses_reputation_notifications_total',
      help: 'Reputation state changes announced to REPUTATION_WEBHOOK_URL, by outcome (sent, failed)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    messagesReceived: new Counter({
      name: 'ses_worker_sqs_messages_received_total',
      help: 'SQS messages received',
      registers,
    }),
    messagesDeleted: new Counter({
      name: 'ses_worker_sqs_messages_deleted_total',
      help: 'SQS messages deleted after their jobs were accepted (or they were dead-lettered)',
      registers,
    }),
    messagesPoisoned: new Counter({
      name: 'ses_worker_sqs_messages_poisoned_total',
      help: 'Messages moved to the DLQ, or left for the redrive policy, by error reason',
      labelNames: ['reason', 'destination'] as const,
      registers,
    }),
    decodeFailures: new Counter({
      name: 'ses_worker_decode_failures_total',
      help: 'SQS bodies that did not decode, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    signatureFailures: new Counter({
      name: 'ses_worker_signature_failures_total',
      help: 'SNS envelopes whose signature check failed (dead-lettered), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    messagesRetried: new Counter({
      name: 'ses_worker_sqs_messages_left_total',
      help: 'Messages left on the queue to come back after the visibility timeout, by cause',
      labelNames: ['cause'] as const,
      registers,
    }),
    enqueueSeconds: new Histogram({
      name: 'ses_worker_enqueue_duration_seconds',
      help: 'Time to add one batch’s jobs to BullMQ',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchSize: new Histogram({
      name: 'ses_worker_sqs_batch_size',
      help: 'Messages per received batch',
      buckets: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      registers,
    }),
    jobs: new Counter({
      name: 'ses_worker_jobs_total',
      help: 'Job outcomes by queue: completed, retrying (an attempt failed) or failed (no attempts left)',
      labelNames: ['queue', 'outcome'] as const,
      registers,
    }),
    inboundReceived: new Counter({
      name: 'ses_inbound_received_total',
      help: 'Received (inbound) notifications processed, by receipt action',
      labelNames: ['action'] as const,
      registers,
    }),
    inboundForwarded: new Counter({
      name: 'ses_inbound_forwarded_total',
      help: 'Inbound forwarding outcomes (FORWARD_OUTCOMES in domain/forwarding/policy.ts): per message when decided before fan-out, per copy after',
      labelNames: ['outcome'] as const,
      registers,
    }),
    suppressionChanges: new Counter({
      name: 'ses_suppression_changes_total',
      help: 'Changes to the suppression list by outcome (added, updated, counted, reset, lifted, removed, recorded, imported, unchanged) and reason',
      labelNames: ['outcome', 'reason'] as const,
      registers,
    }),
    ready: new Gauge({
      name: 'ses_worker_ready',
      help: '1 when Redis and SQS are reachable and the worker is not shutting down',
      registers,
    }),
    /** SQS and BullMQ queue depths, read at scrape time once the worker wires their sources. */
    queueGauges: makeQueueGauges(registers),
  };
}

export type Metrics = ReturnType<typeof makeMetrics>;
