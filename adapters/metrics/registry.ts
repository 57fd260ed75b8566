/**
 * The Prometheus registry and every metric the worker exports. Labels take values from enums
 * and (capped) configuration-set names only, never addresses or free text.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    suppressed: new Counter({
      name: 'ses_suppression_applied_total',
      help: 'Suppression jobs that put an address on the list, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    ready: new Gauge({
      name: 'ses_worker_ready',
      help: '1 when Redis and SQS are reachable and the worker is not shutting down',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof makeMetrics>;
