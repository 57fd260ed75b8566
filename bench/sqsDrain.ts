/**
 * Shared by the benches that drain an SQS queue of SES notifications: preloading a queue,
 * starting the worker on it, timing a drain until it is done, and checking afterwards that the
 * queue is empty and the jobs are the ones routing calls for.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Queue } from 'bullmq';
import { isLeft } from 'fp-ts/Either';
import { pino, type Logger } from 'pino';
import type { SesTopology } from '../adapters/emulator/topology';
import { makeSqsClient } from '../adapters/sqs/client';
import { decodeSqsBody } from '../domain/decode';
import { makeJobQueues } from '../adapters/bullmq/queues';
import type { RedisClient } from '../adapters/redis/connection';
import type { MetricsJob, QueueName, SuppressionBatchJob } from '../domain/jobs';
import { eventId, routeEvent } from '../domain/routing';
import type { SdkClientConfig } from '../test/support/servers';
import { loadConfig } from '../worker/config';
import { startWorker, type RunningWorker } from '../worker/main';

/** N, the messages a drain takes: BENCH_MESSAGES, 20,000 by default. */
export function benchMessages(): number {
  const messages = Number(process.env.BENCH_MESSAGES || 20_000);
  if (!Number.isInteger(messages) || messages < 1)
    throw new Error(`BENCH_MESSAGES must be a positive integer, not ${process.env.BENCH_MESSAGES}`);
  return messages;
}

/**
 * bench:ingest's load, which bench:cluster repeats: consumers per process (SQS_POLLERS for the
 * worker) and a short long poll, so that a drain's end waits on nothing.
 */
export const INGEST_LOAD = { pollers: 4, waitTimeSeconds: 1 } as const;

/** Messages per receive and per preload send, as the worker's SQS_BATCH_SIZE. */
export const BATCH_SIZE = 10;
/** SendMessageBatch calls in flight while preloading. */
const SEND_CONCURRENCY = 8;
/** How often a drain is asked how far it has got. */
const WATCH_MS = 5;
/** A drain that makes no progress this long has lost work (visibility timeout: 60 s). */
const STALL_MS = 20_000;

export const sqsClient = (sdk: SdkClientConfig): SQSClient =>
  makeSqsClient({
    region: sdk.region,
    endpoint: sdk.endpoint,
    credentials: sdk.credentials,
    customEndpoint: true,
  });

/** A running consumer of the queue: how far it has got, and how to stop it. */
export interface Drain {
  /** `progress` is any count that grows while work gets done; `done` once all of it is. */
  poll(): Promise<{ done: boolean; progress: number; state: string }>;
  stop(): Promise<void>;
}

/** A drain done once `deleted` reaches `messages`. */
export function untilAllDeleted(
  messages: number,
  deleted: () => Promise<number>,
  stop: () => Promise<void>,
): Drain {
  return {
    async poll() {
      const count = await deleted();
      return { done: count >= messages, progress: count, state: `${count} of ${messages} deleted` };
    },
    stop,
  };
}

/** Seconds from starting the consumer to its being done; it is stopped either way. */
export async function timeDrain(
  what: string,
  start: () => Promise<Drain> | Drain,
): Promise<number> {
  const startedAt = performance.now();
  const drain = await start();
  try {
    let seen = -1;
    let seenAt = startedAt;
    for (;;) {
      const { done, progress, state } = await drain.poll();
      const now = performance.now();
      if (done) return (now - startedAt) / 1000;
      if (progress !== seen) [seen, seenAt] = [progress, now];
      if (now - seenAt > STALL_MS)
        throw new Error(`${what}: ${state}, no progress for ${STALL_MS} ms`);
      await delay(WATCH_MS);
    }
  } finally {
    await drain.stop();
  }
}

/** Sends `bodies` in batches of 10, several calls at a time, and checks the queue holds them. */
export async function preload(sqs: SQSClient, queueUrl: string, bodies: readonly string[]) {
  let next = 0;
  const sender = async () => {
    while (next < bodies.length)
      await sendBatch(sqs, queueUrl, bodies.slice(next, (next += BATCH_SIZE)));
  };
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sender));
  const held = await messagesIn(sqs, queueUrl);
  if (held !== bodies.length) throw new Error(`preload: ${held} of ${bodies.length} in queue`);
}

/** One SendMessageBatch of up to 10 bodies; fails unless all were sent. */
export async function sendBatch(sqs: SQSClient, queueUrl: string, bodies: readonly string[]) {
  const { Failed } = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
    }),
  );
  if (Failed?.length) throw new Error(`${Failed.length} of ${bodies.length} sends failed`);
}

/** Visible, in flight and delayed. */
export async function messagesIn(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return Object.values(Attributes).reduce((sum, n) => sum + Number(n), 0);
}

export async function expectDrained(what: string, sqs: SQSClient, topology: SesTopology) {
  const left = await messagesIn(sqs, topology.queueUrl);
  const deadLettered = await messagesIn(sqs, topology.dlqUrl);
  if (left + deadLettered > 0) {
    throw new Error(`${what}: ${left} messages left on the queue, ${deadLettered} in the DLQ`);
  }
}

export interface Expected {
  /** Per-event jobs (inbound). */
  readonly perQueue: ReadonlyMap<QueueName, number>;
  /** The notifications the suppression batch jobs must carry, once each. */
  readonly suppression: ReadonlySet<string>;
  readonly events: number;
}

/**
 * Per-event jobs per BullMQ queue that the bodies call for (suppression, inbound), and the event
 * ids the batch metrics jobs must name; fails if two bodies share an id.
 */
export function expectedJobs(bodies: readonly string[]): Expected {
  const ids = new Map<QueueName, Set<string>>([
    ['suppression', new Set()],
    ['inbound', new Set()],
  ]);
  let jobs = 0;
  const events = new Set<string>();
  for (const body of bodies) {
    const decoded = decodeSqsBody(body);
    if (isLeft(decoded)) throw new Error(`bench body did not decode: ${decoded.left.message}`);
    events.add(eventId(decoded.right));
    for (const job of routeEvent(decoded.right)) {
      ids.get(job.queue)!.add(job.id);
      jobs++;
    }
  }
  const distinct = [...ids.values()].reduce((sum, set) => sum + set.size, 0);
  if (distinct !== jobs) throw new Error(`bench bodies repeat job ids: ${distinct} of ${jobs}`);
  if (events.size !== bodies.length) throw new Error('bench bodies repeat events');
  const suppression = ids.get('suppression')!;
  ids.delete('suppression');
  const perQueue = new Map([...ids].map(([name, set]) => [name, set.size]));
  return { perQueue, suppression, events: events.size };
}

/**
 * Every job the bodies call for is in `state` (waiting after ROLE=ingest, completed once
 * processed), and no other job is anywhere; the suppression jobs carry every notification and
 * the metrics jobs (one per batch) name every event, exactly once each.
 */
export async function expectJobs(
  redis: RedisClient,
  prefix: string,
  expected: Expected,
  state: 'waiting' | 'completed',
): Promise<void> {
  await withQueues(redis, prefix, async (queues) => {
    const jobsIn = async (name: QueueName) => {
      const queue = queues.get(name)!;
      const counts = await queue.getJobCounts();
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      if (counts[state] !== total)
        throw new Error(`${name} holds ${JSON.stringify(counts)}, expected all ${state}`);
      return await queue.getJobs([state], 0, -1);
    };
    for (const [name, count] of expected.perQueue) {
      const held = (await jobsIn(name)).length;
      if (held !== count) throw new Error(`${name} holds ${held} jobs, expected ${count}`);
    }
    const carried = (await jobsIn('suppression')).flatMap((job) =>
      (job.data as SuppressionBatchJob).notifications.map((n) => n.eventKey),
    );
    if (
      carried.length !== expected.suppression.size ||
      !carried.every((key) => expected.suppression.has(key))
    ) {
      throw new Error(
        `suppression jobs carry ${carried.length} notifications, expected ${expected.suppression.size} once each`,
      );
    }
    const named = (await jobsIn('metrics')).flatMap((job) =>
      (job.data as MetricsJob).events.map((e) => e.id),
    );
    if (named.length !== expected.events || new Set(named).size !== expected.events) {
      throw new Error(
        `metrics jobs name ${named.length} events, expected ${expected.events} once each`,
      );
    }
  });
}

/** The worker's own queues under `prefix` (so their key layout, whatever it is), for `use`. */
export async function withQueues<T>(
  redis: RedisClient,
  prefix: string,
  use: (queues: ReadonlyMap<QueueName, Queue>) => Promise<T>,
): Promise<T> {
  const jobQueues = makeJobQueues(redis, prefix, {
    attempts: 1,
    backoffMs: 1000,
    keepCompletedSeconds: 3600,
    keepFailedSeconds: 3600,
  });
  try {
    return await use(jobQueues.queues);
  } finally {
    await jobQueues.close();
  }
}

/** Jobs the bodies make: per-event jobs, then a suppression and a metrics job per full batch. */
export function jobsFor(expected: Expected, messages: number): number {
  const perEventJobs = [...expected.perQueue.values()].reduce((sum, n) => sum + n, 0);
  return perEventJobs + 2 * Math.ceil(messages / BATCH_SIZE);
}

export interface WorkerDrainOptions {
  readonly sdk: SdkClientConfig;
  readonly topology: SesTopology;
  /** REDIS_URL or REDIS_CLUSTER_NODES, and any other variable the bench sets. */
  readonly env: Readonly<Record<string, string>>;
  readonly prefix: string;
  readonly role: 'ingest' | 'all';
  readonly pollers: number;
  readonly waitTimeSeconds: number;
  /** Warnings and errors go here (silent when absent). */
  readonly log?: Logger;
}

/**
 * The worker itself (startWorker, in this process), on the bench's queue: decode, route, add to
 * BullMQ, delete; with ROLE=all it processes the jobs too.
 */
export async function startBenchWorker(options: WorkerDrainOptions): Promise<RunningWorker> {
  const config = loadConfig({
    SQS_QUEUE_URL: options.topology.queueUrl,
    SQS_DLQ_URL: options.topology.dlqUrl,
    AWS_REGION: options.sdk.region,
    BULLMQ_PREFIX: options.prefix,
    ROLE: options.role,
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    SNS_VERIFY_SIGNATURES: 'false',
    SQS_POLLERS: String(options.pollers),
    SQS_BATCH_SIZE: String(BATCH_SIZE),
    SQS_WAIT_TIME_SECONDS: String(options.waitTimeSeconds),
    ...options.env,
  });
  return await startWorker({
    config,
    log: options.log ?? pino({ level: 'silent' }),
    sqsEndpoint: { endpoint: options.sdk.endpoint, credentials: options.sdk.credentials },
  });
}

type WorkerCounter = RunningWorker['metrics']['messagesDeleted'];

/** A counter's value summed over its labels (those `match` accepts, or all). */
export async function counterTotal(
  counter: WorkerCounter,
  match: (labels: Record<string, string | number | undefined>) => boolean = () => true,
): Promise<number> {
  return (await counter.get()).values
    .filter((v) => match(v.labels))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Messages the worker has deleted; fails once it has left or refused any. */
export async function deletedByWorker(worker: RunningWorker): Promise<number> {
  const { messagesDeleted, messagesRetried, decodeFailures } = worker.metrics;
  const problems = (await counterTotal(messagesRetried)) + (await counterTotal(decodeFailures));
  if (problems > 0) throw new Error(`ingest left or refused ${problems} messages`);
  return await counterTotal(messagesDeleted);
}
