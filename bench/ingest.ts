/**
 * npm run bench:ingest — what the ingest costs over a consumer that only receives and deletes.
 *
 * Every drain starts from a fresh queue of the emulator (fauxqs, in this process) preloaded with
 * N SQS bodies as SNS delivers SES notifications (bench/support.ts: each a distinct event, so
 * every one calls for jobs of its own). The baseline is a no-op sqs-consumer: as many consumers,
 * batch size, long poll and receive options as the worker's pollers, and a handler that returns
 * the batch so that sqs-consumer deletes it. The ingest is the worker itself (startWorker with
 * ROLE=ingest: decode, route, addBulk to BullMQ in a Redis of its own, then delete), in the same
 * process, with the same SQS client settings. A rate is N over the seconds from starting the
 * consumers to the N-th deletion, both watched by the same poll of a deletion counter.
 *
 * Rounds alternate no-op and ingest so that machine noise hits both; the ratio is the median of
 * the per-round ratios ingest/no-op. After every drain the queue (and the DLQ) must be empty, and
 * after an ingest each BullMQ queue must hold exactly the jobs routing calls for, all waiting: a
 * drain that lost or doubled anything reports no rate. BENCH_MESSAGES overrides N.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { openQueue } from '../adapters/bullmq/layout';
import { isLeft } from 'fp-ts/Either';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Consumer } from 'sqs-consumer';
import { createSesTopology, type SesTopology } from '../adapters/emulator/topology';
import { makeSqsClient } from '../adapters/sqs/client';
import { decodeSqsBody } from '../domain/decode';
import type { MetricsJob, QueueName, SuppressionBatchJob } from '../domain/jobs';
import { eventId, routeEvent } from '../domain/routing';
import {
  sdkClientConfig,
  startEmulator,
  startRedis,
  type SdkClientConfig,
} from '../test/support/servers';
import { loadConfig } from '../worker/config';
import { startWorker } from '../worker/main';
import { meanBytes, median, record, snsWrappedSesBodies } from './support';

const MESSAGES = Number(process.env.BENCH_MESSAGES || 20_000);
const ROUNDS = 3;
/** Consumers per process, on both sides (SQS_POLLERS for the worker). */
const POLLERS = 4;
const BATCH_SIZE = 10;
const WAIT_TIME_SECONDS = 1;
/** SendMessageBatch calls in flight while preloading. */
const SEND_CONCURRENCY = 8;
/** How often a drain's deletion counter is read. */
const WATCH_MS = 5;
/** A drain whose count stands still this long has lost messages (visibility timeout: 60 s). */
const STALL_MS = 20_000;

/** A running consumer: how many messages it has deleted so far, and how to stop it. */
interface Drain {
  deleted(): Promise<number>;
  stop(): Promise<void>;
}

const sqsClient = (sdk: SdkClientConfig): SQSClient =>
  makeSqsClient({
    region: sdk.region,
    endpoint: sdk.endpoint,
    credentials: sdk.credentials,
    customEndpoint: true,
  });

function startNoopConsumers(sdk: SdkClientConfig, queueUrl: string): Drain {
  const sqs = sqsClient(sdk);
  let deleted = 0;
  let failure: Error | undefined;
  const consumers = Array.from({ length: POLLERS }, () => {
    const consumer = Consumer.create({
      sqs,
      queueUrl,
      batchSize: BATCH_SIZE,
      waitTimeSeconds: WAIT_TIME_SECONDS,
      // What the worker's pollers ask for (adapters/sqs/pollers.ts), so that receives match.
      messageAttributeNames: ['All'],
      messageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      handleMessageBatch: (messages) => Promise.resolve(messages),
    });
    // Emitted per message once its DeleteMessageBatch has answered.
    consumer.on('message_processed', () => deleted++);
    consumer.on('error', (error) => (failure ??= error));
    consumer.on('processing_error', (error) => (failure ??= error));
    consumer.start();
    return consumer;
  });
  return {
    deleted() {
      return failure === undefined ? Promise.resolve(deleted) : Promise.reject(failure);
    },
    async stop() {
      const stopped = consumers.map((consumer) => once(consumer, 'stopped'));
      for (const consumer of consumers) consumer.stop({ abort: true });
      await Promise.all(stopped);
      sqs.destroy();
    },
  };
}

async function startIngest(
  sdk: SdkClientConfig,
  topology: SesTopology,
  redisUrl: string,
  prefix: string,
): Promise<Drain> {
  const config = loadConfig({
    SQS_QUEUE_URL: topology.queueUrl,
    SQS_DLQ_URL: topology.dlqUrl,
    AWS_REGION: sdk.region,
    REDIS_URL: redisUrl,
    BULLMQ_PREFIX: prefix,
    ROLE: 'ingest',
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    SNS_VERIFY_SIGNATURES: 'false',
    SQS_POLLERS: String(POLLERS),
    SQS_BATCH_SIZE: String(BATCH_SIZE),
    SQS_WAIT_TIME_SECONDS: String(WAIT_TIME_SECONDS),
  });
  const worker = await startWorker({
    config,
    log: pino({ level: 'silent' }),
    sqsEndpoint: { endpoint: sdk.endpoint, credentials: sdk.credentials },
  });
  const { messagesDeleted, messagesRetried, decodeFailures } = worker.metrics;
  const total = async (counter: typeof messagesDeleted) =>
    (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
  return {
    async deleted() {
      const problems = (await total(messagesRetried)) + (await total(decodeFailures));
      if (problems > 0) throw new Error(`ingest left or refused ${problems} messages`);
      return await total(messagesDeleted);
    },
    stop: () => worker.stop(),
  };
}

/** Seconds from starting the consumers to the N-th deletion. */
async function timeDrain(what: string, start: () => Promise<Drain> | Drain): Promise<number> {
  const startedAt = performance.now();
  const drain = await start();
  try {
    let seen = 0;
    let seenAt = startedAt;
    for (;;) {
      const deleted = await drain.deleted();
      const now = performance.now();
      if (deleted >= MESSAGES) return (now - startedAt) / 1000;
      if (deleted !== seen) [seen, seenAt] = [deleted, now];
      if (now - seenAt > STALL_MS) {
        throw new Error(`${what}: ${deleted} of ${MESSAGES} deleted, none for ${STALL_MS} ms`);
      }
      await delay(WATCH_MS);
    }
  } finally {
    await drain.stop();
  }
}

async function preload(sqs: SQSClient, queueUrl: string, bodies: readonly string[]) {
  let next = 0;
  const sender = async () => {
    while (next < bodies.length) {
      const batch = bodies.slice(next, (next += BATCH_SIZE));
      const { Failed } = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })),
        }),
      );
      if (Failed?.length) throw new Error(`preload: ${Failed.length} sends failed`);
    }
  };
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sender));
  const held = await messagesIn(sqs, queueUrl);
  if (held !== bodies.length) throw new Error(`preload: ${held} of ${bodies.length} in queue`);
}

/** Visible, in flight and delayed. */
async function messagesIn(sqs: SQSClient, queueUrl: string): Promise<number> {
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

async function expectDrained(what: string, sqs: SQSClient, topology: SesTopology) {
  const left = await messagesIn(sqs, topology.queueUrl);
  const deadLettered = await messagesIn(sqs, topology.dlqUrl);
  if (left + deadLettered > 0) {
    throw new Error(`${what}: ${left} messages left on the queue, ${deadLettered} in the DLQ`);
  }
}

/**
 * Per-event jobs per BullMQ queue that the bodies call for (suppression, inbound), and the event
 * ids the batch metrics jobs must name; fails if two bodies share an id.
 */
function expectedJobs(bodies: readonly string[]): Expected {
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

interface Expected {
  /** Per-event jobs (inbound). */
  readonly perQueue: ReadonlyMap<QueueName, number>;
  /** The notifications the suppression batch jobs must carry, once each. */
  readonly suppression: ReadonlySet<string>;
  readonly events: number;
}

/**
 * Every job the ingest was to add is waiting (ROLE=ingest processes none), and no other; the
 * metrics jobs (one per batch) name every event exactly once.
 */
async function expectJobs(redisUrl: string, prefix: string, expected: Expected) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = (name: QueueName) => openQueue(name, connection, prefix);
  try {
    for (const [name, count] of expected.perQueue) {
      const q = queue(name);
      const counts = await q.getJobCounts();
      await q.close();
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      if (counts.waiting !== count || total !== count) {
        throw new Error(`ingest: ${name} holds ${JSON.stringify(counts)}, expected ${count}`);
      }
    }
    const suppression = queue('suppression');
    const suppressionBatches = await suppression.getWaiting(0, -1);
    await suppression.close();
    const carried = suppressionBatches.flatMap((job) =>
      (job.data as SuppressionBatchJob).notifications.map((n) => n.eventKey),
    );
    if (
      carried.length !== expected.suppression.size ||
      !carried.every((key) => expected.suppression.has(key))
    ) {
      throw new Error(
        `ingest: suppression jobs carry ${carried.length} notifications, expected ${expected.suppression.size} once each`,
      );
    }
    const metrics = queue('metrics');
    const batches = await metrics.getWaiting(0, -1);
    await metrics.close();
    const named = batches.flatMap((job) => (job.data as MetricsJob).events.map((e) => e.id));
    if (named.length !== expected.events || new Set(named).size !== expected.events) {
      throw new Error(
        `ingest: metrics jobs name ${named.length} events, expected ${expected.events} once each`,
      );
    }
    // Every round starts from an empty Redis.
    await connection.flushall();
  } finally {
    connection.disconnect();
  }
}

const perSec = (seconds: number) => MESSAGES / seconds;

async function main(): Promise<void> {
  if (!Number.isInteger(MESSAGES) || MESSAGES < 1) {
    throw new Error(`BENCH_MESSAGES must be a positive integer, not ${process.env.BENCH_MESSAGES}`);
  }
  const bodies = snsWrappedSesBodies(MESSAGES);
  const expected = expectedJobs(bodies);
  const perEventJobs = [...expected.perQueue.values()].reduce((sum, n) => sum + n, 0);
  // Suppression and metrics jobs: one each per batch, at least MESSAGES / BATCH_SIZE.
  const jobs = perEventJobs + 2 * Math.ceil(MESSAGES / BATCH_SIZE);
  const meanBodyBytes = meanBytes(bodies);
  console.log(
    `${MESSAGES} SQS bodies, ${meanBodyBytes} bytes on average, ${jobs} jobs ` +
      `(${[...expected.perQueue].map(([name, n]) => `${name} ${n}`).join(', ')}, suppression (${expected.suppression.size} notifications) and metrics one per batch); ` +
      `${POLLERS} pollers × ${BATCH_SIZE} messages, ${ROUNDS} rounds`,
  );

  const redis = await startRedis();
  const emulator = await startEmulator();
  const sdk = sdkClientConfig(emulator);
  const sqs = sqsClient(sdk);
  const sns = new SNSClient(sdk);
  const noopRates: number[] = [];
  const ingestRates: number[] = [];
  const ratios: number[] = [];
  try {
    const loadedQueue = async (name: string) => {
      const topology = await createSesTopology(sqs, sns, { name });
      await preload(sqs, topology.queueUrl, bodies);
      return topology;
    };
    for (let round = 1; round <= ROUNDS; round++) {
      const noopQueue = await loadedQueue(`bench-noop-${round}`);
      const noop = await timeDrain(`no-op round ${round}`, () =>
        startNoopConsumers(sdk, noopQueue.queueUrl),
      );
      await expectDrained(`no-op round ${round}`, sqs, noopQueue);

      const ingestQueue = await loadedQueue(`bench-ingest-${round}`);
      const prefix = `{bench-${round}}`;
      const ingest = await timeDrain(`ingest round ${round}`, () =>
        startIngest(sdk, ingestQueue, redis.url, prefix),
      );
      await expectDrained(`ingest round ${round}`, sqs, ingestQueue);
      await expectJobs(redis.url, prefix, expected);

      noopRates.push(perSec(noop));
      ingestRates.push(perSec(ingest));
      ratios.push(noop / ingest);
      console.log(
        `round ${round}: no-op ${Math.round(perSec(noop))}/s (${noop.toFixed(2)} s), ` +
          `ingest ${Math.round(perSec(ingest))}/s (${ingest.toFixed(2)} s), ` +
          `ratio ${(noop / ingest).toFixed(3)}`,
      );
    }
  } finally {
    sqs.destroy();
    sns.destroy();
    // Redis first: waiting for its process to end needs the emulator's server to keep us alive.
    await redis.stop();
    await emulator.stop();
  }
  record('ingest', {
    noopPerSec: Math.round(median(noopRates)),
    ingestPerSec: Math.round(median(ingestRates)),
    ratio: Number(median(ratios).toFixed(3)),
    messages: MESSAGES,
    rounds: ROUNDS,
    pollers: POLLERS,
    batchSize: BATCH_SIZE,
    meanBodyBytes,
    jobsPerMessage: Number((jobs / MESSAGES).toFixed(3)),
    roundRatios: ratios.map((r) => Number(r.toFixed(3))),
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
