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
import { SNSClient } from '@aws-sdk/client-sns';
import { Redis } from 'ioredis';
import { Consumer } from 'sqs-consumer';
import { createSesTopology, type SesTopology } from '../adapters/emulator/topology';
import {
  sdkClientConfig,
  startEmulator,
  startRedis,
  type SdkClientConfig,
} from '../test/support/servers';
import {
  BATCH_SIZE,
  benchMessages,
  deletedByWorker,
  expectDrained,
  expectedJobs,
  expectJobs,
  INGEST_LOAD,
  jobsFor,
  preload,
  sqsClient,
  startBenchWorker,
  timeDrain,
  untilAllDeleted,
  type Drain,
} from './sqsDrain';
import { meanBytes, median, record, snsWrappedSesBodies } from './support';

const MESSAGES = benchMessages();
const ROUNDS = 3;
const { pollers: POLLERS, waitTimeSeconds: WAIT_TIME_SECONDS } = INGEST_LOAD;

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
  return untilAllDeleted(
    MESSAGES,
    () => (failure === undefined ? Promise.resolve(deleted) : Promise.reject(failure)),
    async () => {
      const stopped = consumers.map((consumer) => once(consumer, 'stopped'));
      for (const consumer of consumers) consumer.stop({ abort: true });
      await Promise.all(stopped);
      sqs.destroy();
    },
  );
}

async function startIngest(
  sdk: SdkClientConfig,
  topology: SesTopology,
  redisUrl: string,
  prefix: string,
): Promise<Drain> {
  const worker = await startBenchWorker({
    sdk,
    topology,
    env: { REDIS_URL: redisUrl },
    prefix,
    role: 'ingest',
    pollers: POLLERS,
    waitTimeSeconds: WAIT_TIME_SECONDS,
  });
  return untilAllDeleted(
    MESSAGES,
    () => deletedByWorker(worker),
    () => worker.stop(),
  );
}

const perSec = (seconds: number) => MESSAGES / seconds;

async function main(): Promise<void> {
  const bodies = snsWrappedSesBodies(MESSAGES);
  const expected = expectedJobs(bodies);
  // Suppression and metrics jobs: one each per batch, at least MESSAGES / BATCH_SIZE.
  const jobs = jobsFor(expected, MESSAGES);
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
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      try {
        await expectJobs(connection, prefix, expected, 'waiting');
        // Every round starts from an empty Redis.
        await connection.flushall();
      } finally {
        connection.disconnect();
      }

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
