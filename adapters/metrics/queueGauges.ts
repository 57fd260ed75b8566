/**
 * Queue depths for alerting and autoscaling, read at scrape time (prom-client `collect`) from
 * cached readings (cachedReading.ts), so a scrape costs no more than a cache lookup most of the
 * time and waits at most a read's timeout otherwise:
 *
 *   ses_worker_sqs_queue_messages{queue="source"|"dlq", state="visible"|"in_flight"}
 *   ses_worker_jobs{queue="suppression"|"inbound"|"metrics"|"ses-sync", state="waiting"|"active"|"delayed"|"failed"}
 *
 * A failed read keeps the last value, and `..._last_success_timestamp_seconds{queue}` says when
 * it was read (0: never). Dropping the series instead would resolve a firing alert (a DLQ
 * filling up) exactly when SQS stops answering; the timestamp lets a rule alert on staleness.
 * A queue this replica does not read has no series at all (a process-only replica has no SQS
 * client), so rules should aggregate over replicas with `max by (queue, state)`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { QueueDepth } from '../sqs/queueDepth';
import type { CachedReading, Reading } from './cachedReading';

export const SQS_QUEUE_ROLES = ['source', 'dlq'] as const;
export type SqsQueueRole = (typeof SQS_QUEUE_ROLES)[number];

export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];
export type JobStateCounts = Readonly<Record<JobState, number>>;

export interface QueueGaugeSources {
  /** The SQS queues this replica reads; none where it has no SQS client. */
  readonly sqs: ReadonlyMap<SqsQueueRole, CachedReading<QueueDepth>>;
  /** The BullMQ queues, by the name metrics and logs use (not their hash-tagged key name). */
  readonly jobs: ReadonlyMap<string, CachedReading<JobStateCounts>>;
}

const NO_SOURCES: QueueGaugeSources = { sqs: new Map(), jobs: new Map() };

/** Every reading of `sources`, read (or taken from the cache) side by side. */
async function currentOf<K, T>(
  sources: ReadonlyMap<K, CachedReading<T>>,
): Promise<[K, Reading<T> | null][]> {
  return Promise.all(
    [...sources].map(
      async ([key, source]) => [key, await source.current()] as [K, Reading<T> | null],
    ),
  );
}

/**
 * The gauges, registered with the rest (registry.ts) so that every metric is declared in one
 * place; they report nothing until the worker gives them their sources with `readFrom`.
 */
export function makeQueueGauges(registers: Registry[]) {
  let sources = NO_SOURCES;
  const sqsReadings = () => currentOf(sources.sqs);
  const jobReadings = () => currentOf(sources.jobs);
  const seconds = (reading: Reading<unknown> | null) => (reading === null ? 0 : reading.at / 1000);

  return {
    sqsQueueMessages: new Gauge({
      name: 'ses_worker_sqs_queue_messages',
      help: 'Messages in the SQS source queue and DLQ (ApproximateNumberOfMessages: visible, …NotVisible: in_flight), read at most every 15 s; ingest replicas only',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        for (const [queue, reading] of await sqsReadings()) {
          if (reading === null) continue;
          this.set({ queue, state: 'visible' }, reading.value.visible);
          this.set({ queue, state: 'in_flight' }, reading.value.inFlight);
        }
      },
    }),
    sqsQueueMessagesLastSuccess: new Gauge({
      name: 'ses_worker_sqs_queue_messages_last_success_timestamp_seconds',
      help: 'When ses_worker_sqs_queue_messages was last read from SQS (0: never); the value stays while reads fail',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        for (const [queue, reading] of await sqsReadings()) this.set({ queue }, seconds(reading));
      },
    }),
    jobCounts: new Gauge({
      name: 'ses_worker_jobs',
      help: 'BullMQ jobs by queue and state (waiting, active, delayed, failed), read at most every 15 s',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        for (const [queue, reading] of await jobReadings()) {
          if (reading === null) continue;
          for (const state of JOB_STATES) this.set({ queue, state }, reading.value[state]);
        }
      },
    }),
    jobCountsLastSuccess: new Gauge({
      name: 'ses_worker_jobs_last_success_timestamp_seconds',
      help: 'When ses_worker_jobs was last read from Redis (0: never); the value stays while reads fail',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        for (const [queue, reading] of await jobReadings()) this.set({ queue }, seconds(reading));
      },
    }),
    /** Starts reporting: the worker calls it once, with the queues this replica reads. */
    readFrom(wired: QueueGaugeSources) {
      sources = wired;
    },
  };
}

export type QueueGauges = ReturnType<typeof makeQueueGauges>;
