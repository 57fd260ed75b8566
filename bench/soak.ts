/**
 * npm run bench:soak — does the worker's memory stay flat over 500,000 messages?
 *
 * One process runs the emulator (fauxqs, in-process, as in bench:ingest) and the worker with
 * ROLE=all (startWorker: pollers, decode, routing, BullMQ adds, and the suppression, inbound and
 * metrics processors), on a Redis of its own. A feeder sends the messages in chunks while the
 * worker drains them, keeping at most MAX_BACKLOG on the queue, so the queue never holds them
 * all. The mix: SNS-wrapped event-publishing samples (bench/support.ts: each a distinct event,
 * sends, deliveries, opens, clicks, bounces, complaints…), 2 % inbound (Received) notifications,
 * and 0.4 % poison messages (non-JSON Message, unknown eventType, missing field) for the DLQ.
 *
 * Every 10 s a line gives progress, RSS, V8 heap and Redis's memory (Redis is another process:
 * its memory is not in our RSS). Warm-up is the later of the first 10 % of the messages and the
 * first minute. RSS and heap are read after a full GC at the end of warm-up and at the end (all
 * messages handled and all jobs done); `rssGrowth` = (RSS at end − RSS at end of warm-up) / RSS
 * at end of warm-up, target < 0.10. Completed jobs are trimmed as in production
 * (removeOnComplete by age, JOB_KEEP_COMPLETED_SECONDS), with a short age here so Redis holds a
 * few seconds of them rather than a day's.
 *
 * At the end the run must account for every message: the queue empty, the DLQ holding exactly
 * the poison messages, every message deleted once, no retries, every suppression and inbound job
 * the routing calls for completed, every event counted once by the metrics processor, and no
 * job left waiting, active, delayed or failed. A run that fails these records nothing.
 * SOAK_MESSAGES overrides the count.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as delay } from 'node:timers/promises';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { openQueue } from '../adapters/bullmq/layout';
import { isLeft } from 'fp-ts/Either';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Counter } from 'prom-client';
import { createSesTopology, type SesTopology } from '../adapters/emulator/topology';
import { makeSqsClient } from '../adapters/sqs/client';
import { decodeSqsBody } from '../domain/decode';
import { QUEUE_NAMES, type QueueName } from '../domain/jobs';
import { routeEvent } from '../domain/routing';
import { sdkClientConfig, startEmulator, startRedis } from '../test/support/servers';
import { loadConfig } from '../worker/config';
import { startWorker, type RunningWorker } from '../worker/main';
import { messagesIn } from './sqsDrain';
import { REPO_ROOT, record, snsWrappedSesBodyMaker } from './support';

const MESSAGES = Number(process.env.SOAK_MESSAGES || 500_000);
const SAMPLE_MS = 10_000;
const WARMUP_FRACTION = 0.1;
const WARMUP_MIN_MS = 60_000;
const RSS_GROWTH_TARGET = 0.1;
/** Messages on the queue (sent, not yet deleted) at most; the feeder waits below this. */
const MAX_BACKLOG = 10_000;
const SEND_CONCURRENCY = 4;
const BATCH_SIZE = 10;
const POLLERS = 4;
/** How long completed jobs stay (production: a day, the window of id-based dedupe). */
const KEEP_COMPLETED_SECONDS = 30;
/** Nothing handled, no job completed, for this long: the run has lost something. */
const STALL_MS = 120_000;

// ---------------------------------------------------------------------------------------------
// The messages

/** Of every 1,000 messages: 4 poison, 20 inbound, the rest event publishing. */
const POISON_PER_MILLE = 4;
const RECEIVED_PER_MILLE = 20;

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', name), 'utf8')) as Record<
    string,
    unknown
  >;

function envelope(i: number, message: string): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: `soak-${i}`,
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events',
    Subject: null,
    Message: message,
    Timestamp: '2024-05-01T12:00:00.000Z',
    SignatureVersion: '1',
    Signature: 'EXAMPLE',
    SigningCertURL:
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem',
  });
}

/** Body i of the run, made when sent: 500,000 bodies of ~2 KB are not held at once. */
function messageMaker(): (i: number) => string {
  const sending = snsWrappedSesBodyMaker();
  const received = ['receiving/received-s3.json', 'receiving/received-sns-utf8.json'].map(fixture);
  const bounce = fixture('event-publishing/bounce.json');
  const withMessageId = (record: Record<string, unknown>, id: string) =>
    JSON.stringify({ ...record, mail: { ...(record.mail as object), messageId: id } });
  return (i) => {
    const slot = i % 1000;
    if (slot < POISON_PER_MILLE) {
      switch (slot) {
        case 0:
          return envelope(i, `not JSON ${i}`);
        case 1:
          return envelope(i, JSON.stringify({ ...bounce, eventType: 'Bounced' }));
        case 2:
          return JSON.stringify({ ...bounce, bounce: undefined, mail: { messageId: `m${i}` } });
        default:
          return `{"eventType":"Bounce","truncated":${i}`;
      }
    }
    if (slot < POISON_PER_MILLE + RECEIVED_PER_MILLE) {
      return envelope(i, withMessageId(received[i % received.length]!, `soak-received-${i}`));
    }
    return sending(i);
  };
}

/** What the run must come to, tallied as the feeder sends. */
interface Expected {
  poison: number;
  events: number;
  jobs: Record<QueueName, number>;
}

function tally(expected: Expected, body: string): void {
  const decoded = decodeSqsBody(body);
  if (isLeft(decoded)) {
    expected.poison++;
    return;
  }
  expected.events++;
  for (const job of routeEvent(decoded.right)) expected.jobs[job.queue]++;
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Memory {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

function memoryNow(): Memory {
  const m = process.memoryUsage();
  return {
    rssMb: mb(m.rss),
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
  };
}

/** Memory after a full collection: what is still held, not what awaits collection. */
function settledMemory(): Memory {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  return memoryNow();
}

async function redisUsedMb(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const used = /^used_memory:(\d+)/m.exec(info)?.[1];
  return used === undefined ? NaN : mb(Number(used));
}

const total = async (counter: Counter<string>, labels: Record<string, string> = {}) =>
  (await counter.get()).values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);

const thousands = (n: number) => n.toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// Feeding

interface Feeder {
  /** Messages sent so far. */
  sent: number;
  error: Error | null;
}

/** Sends body 0…MESSAGES-1, in batches of 10, never more than MAX_BACKLOG ahead of `handled`. */
async function feed(
  sqs: SQSClient,
  queueUrl: string,
  handled: () => Promise<number>,
  expected: Expected,
  feeder: Feeder,
): Promise<void> {
  const body = messageMaker();
  let next = 0;
  const sender = async () => {
    while (next < MESSAGES) {
      if (next - (await handled()) >= MAX_BACKLOG) {
        await delay(50);
        continue;
      }
      const first = next;
      next = Math.min(next + BATCH_SIZE, MESSAGES);
      const bodies = Array.from({ length: next - first }, (_, k) => body(first + k));
      for (const text of bodies) tally(expected, text);
      const { Failed } = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies.map((text, k) => ({ Id: String(k), MessageBody: text })),
        }),
      );
      if (Failed?.length) throw new Error(`feed: ${Failed.length} sends failed`);
      feeder.sent += bodies.length;
    }
  };
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sender));
}

// ---------------------------------------------------------------------------------------------
// The run

async function startSoakWorker(
  topology: SesTopology,
  sdk: ReturnType<typeof sdkClientConfig>,
  redisUrl: string,
): Promise<RunningWorker> {
  const config = loadConfig({
    SQS_QUEUE_URL: topology.queueUrl,
    SQS_DLQ_URL: topology.dlqUrl,
    AWS_REGION: sdk.region,
    REDIS_URL: redisUrl,
    BULLMQ_PREFIX: '{soak}',
    ROLE: 'all',
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    // The emulator signs nothing (its envelopes carry "Signature": "EXAMPLE").
    SNS_VERIFY_SIGNATURES: 'false',
    SQS_POLLERS: String(POLLERS),
    SQS_BATCH_SIZE: String(BATCH_SIZE),
    SQS_WAIT_TIME_SECONDS: '1',
    JOB_KEEP_COMPLETED_SECONDS: String(KEEP_COMPLETED_SECONDS),
    // Markers that outlive the run would only grow Redis, not us; keep them short too.
    METRICS_DEDUPE_SECONDS: '60',
    SUPPRESSION_DEDUPE_SECONDS: '60',
  });
  return await startWorker({
    config,
    log: pino({ level: 'silent' }),
    sqsEndpoint: { endpoint: sdk.endpoint, credentials: sdk.credentials },
  });
}

/** A measurement at a moment of the run: memory after a full GC, and Redis's. */
interface Point {
  readonly seconds: number;
  readonly handled: number;
  readonly memory: Memory;
  readonly redisMb: number;
}

async function main(): Promise<void> {
  if (!Number.isInteger(MESSAGES) || MESSAGES < 1) {
    throw new Error(`SOAK_MESSAGES must be a positive integer, not ${process.env.SOAK_MESSAGES}`);
  }
  const warmupMessages = Math.ceil(MESSAGES * WARMUP_FRACTION);
  console.log(
    `soak: ${thousands(MESSAGES)} messages (${POISON_PER_MILLE / 10} % poison, ` +
      `${RECEIVED_PER_MILLE / 10} % inbound), backlog ≤ ${thousands(MAX_BACKLOG)}, ` +
      `${POLLERS} pollers × ${BATCH_SIZE}, ROLE=all, completed jobs kept ${KEEP_COMPLETED_SECONDS} s; ` +
      `warm-up: ${thousands(warmupMessages)} messages and ${WARMUP_MIN_MS / 1000} s`,
  );

  const redis = await startRedis();
  const emulator = await startEmulator();
  const sdk = sdkClientConfig(emulator);
  const sqs = makeSqsClient({
    region: sdk.region,
    endpoint: sdk.endpoint,
    credentials: sdk.credentials,
    customEndpoint: true,
  });
  const sns = new SNSClient(sdk);
  const redisClient = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queues = QUEUE_NAMES.map((name) => openQueue(name, redisClient, '{soak}'));
  const expected: Expected = {
    poison: 0,
    events: 0,
    jobs: { suppression: 0, inbound: 0, metrics: 0 },
  };
  const problems: string[] = [];
  let worker: RunningWorker | null = null;
  try {
    const topology = await createSesTopology(sqs, sns, { name: 'soak' });
    worker = await startSoakWorker(topology, sdk, redis.url);
    const { metrics } = worker;
    const handled = () => total(metrics.messagesDeleted);
    const completed = (queue: QueueName) => total(metrics.jobs, { queue, outcome: 'completed' });

    const started = performance.now();
    const elapsedMs = () => performance.now() - started;
    const point = async (done: number): Promise<Point> => ({
      seconds: Math.round(elapsedMs() / 1000),
      handled: done,
      memory: settledMemory(),
      redisMb: await redisUsedMb(redisClient),
    });
    const describe = (p: Point) =>
      `RSS ${p.memory.rssMb} MB, heap ${p.memory.heapUsedMb} MB after GC; redis ${p.redisMb} MB`;

    // Every 10 s: progress and memory as they are (no GC forced).
    const feeder: Feeder = { sent: 0, error: null };
    const rssSamples: number[] = [];
    const heapSamples: number[] = [];
    let peakRss = 0;
    let last = { seconds: 0, handled: 0 };
    const takeSample = async () => {
      const memory = memoryNow();
      const seconds = elapsedMs() / 1000;
      const done = await handled();
      const redisMb = await redisUsedMb(redisClient);
      peakRss = Math.max(peakRss, memory.rssMb);
      rssSamples.push(memory.rssMb);
      heapSamples.push(memory.heapUsedMb);
      const rate = (done - last.handled) / Math.max(seconds - last.seconds, 0.001);
      last = { seconds, handled: done };
      console.log(
        `[${seconds.toFixed(0).padStart(5)} s] handled ${thousands(done)}/${thousands(MESSAGES)} ` +
          `(${thousands(Math.round(rate))}/s), on the queue ${thousands(feeder.sent - done)} | ` +
          `RSS ${memory.rssMb} MB, heap ${memory.heapUsedMb}/${memory.heapTotalMb} MB, ` +
          `external ${memory.externalMb} MB | redis ${redisMb} MB`,
      );
    };
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sampling.then(takeSample).catch((error: Error) => {
        problems.push(`sampling: ${error.message}`);
      });
    }, SAMPLE_MS);

    const feeding = feed(sqs, topology.queueUrl, handled, expected, feeder).catch(
      (error: Error) => {
        feeder.error = error;
      },
    );

    // Until every message is handled and every job it called for is done.
    let warmup: Point | null = null;
    /** When the last message is sent: still under full load, as at the end of warm-up. */
    let steadyEnd: Point | null = null;
    let sentAll = false;
    let finishedMs: number | null = null;
    let progress = -1;
    let progressAt = performance.now();
    for (;;) {
      if (feeder.error !== null) throw feeder.error;
      const done = await handled();
      const jobsDone = (await completed('suppression')) + (await completed('inbound'));
      const counted = await total(metrics.sesEvents);
      if (warmup === null && done >= warmupMessages && elapsedMs() >= WARMUP_MIN_MS) {
        warmup = await point(done);
        console.log(
          `warm-up ends at ${warmup.seconds} s, ${thousands(done)} handled: ${describe(warmup)}`,
        );
      }
      if (!sentAll && feeder.sent >= MESSAGES) {
        sentAll = true;
        if (warmup !== null) {
          steadyEnd = await point(done);
          console.log(
            `last message sent at ${steadyEnd.seconds} s, ${thousands(done)} handled: ${describe(steadyEnd)}`,
          );
        }
      }
      const finished =
        done >= MESSAGES &&
        jobsDone >= expected.jobs.suppression + expected.jobs.inbound &&
        counted >= expected.events;
      if (finished) finishedMs ??= elapsedMs();
      // A run shorter than the warm-up minute waits it out.
      if (finished && warmup !== null) break;
      const now = performance.now();
      const moved = done + jobsDone + counted;
      if (moved !== progress) [progress, progressAt] = [moved, now];
      else if (!finished && now - progressAt > STALL_MS) {
        throw new Error(
          `stalled: ${done} of ${MESSAGES} handled, ${jobsDone} jobs, ${counted} events counted; ` +
            `nothing for ${STALL_MS / 1000} s`,
        );
      }
      await delay(200);
    }
    const seconds = (finishedMs ?? elapsedMs()) / 1000;
    await feeding;
    clearInterval(sampler);
    await sampling;
    const drained = await point(await handled());
    peakRss = Math.max(peakRss, drained.memory.rssMb);
    console.log(`all handled and done in ${seconds.toFixed(0)} s; drained: ${describe(drained)}`);

    // Every message accounted for.
    const check = (what: string, actual: number, want: number) => {
      if (actual !== want) problems.push(`${what}: ${actual}, expected ${want}`);
    };
    check('messages deleted from the queue', await handled(), MESSAGES);
    check('messages left on the queue', await messagesIn(sqs, topology.queueUrl), 0);
    check('messages in the DLQ', await messagesIn(sqs, topology.dlqUrl), expected.poison);
    check('decode failures', await total(metrics.decodeFailures), expected.poison);
    check('messages left for a retry', await total(metrics.messagesRetried), 0);
    check(
      'events counted by the metrics processor',
      await total(metrics.sesEvents),
      expected.events,
    );
    for (const queue of ['suppression', 'inbound'] as const) {
      check(`${queue} jobs completed`, await completed(queue), expected.jobs[queue]);
    }
    const metricsJobs = await completed('metrics');
    for (const queue of QUEUE_NAMES) {
      for (const outcome of ['retrying', 'failed']) {
        check(`${queue} jobs ${outcome}`, await total(metrics.jobs, { queue, outcome }), 0);
      }
    }
    const retained: Record<string, number> = {};
    for (const [i, queue] of queues.entries()) {
      const name = QUEUE_NAMES[i]!; // ours, not BullMQ's `{name}`
      const counts = await queue.getJobCounts();
      retained[name] = counts.completed ?? 0;
      const pending = Object.entries(counts).filter(([state, n]) => state !== 'completed' && n > 0);
      if (pending.length > 0) problems.push(`${name} still holds ${JSON.stringify(counts)}`);
    }
    if (problems.length > 0) {
      throw new Error(`the soak lost track of messages:\n  ${problems.join('\n  ')}`);
    }
    console.log(
      `verified: ${thousands(MESSAGES)} deleted, ${expected.poison} in the DLQ, ` +
        `${thousands(expected.jobs.suppression)} suppression + ${thousands(expected.jobs.inbound)} inbound + ` +
        `${thousands(metricsJobs)} metrics jobs completed, ${thousands(expected.events)} events counted once; ` +
        `completed jobs still in Redis: ${JSON.stringify(retained)}`,
    );

    if (warmup === null) throw new Error('unreachable: no warm-up measurement');
    // Like for like, under load at both ends; a run fed in full before its warm-up ended has no
    // such end and compares with the drained process.
    const end = steadyEnd ?? drained;
    const rssGrowth = (end.memory.rssMb - warmup.memory.rssMb) / warmup.memory.rssMb;
    const heapGrowth =
      (end.memory.heapUsedMb - warmup.memory.heapUsedMb) / warmup.memory.heapUsedMb;
    const met = rssGrowth < RSS_GROWTH_TARGET;
    console.log(
      `rssGrowth ${(rssGrowth * 100).toFixed(1)} %: ${warmup.memory.rssMb} MB at ` +
        `${thousands(warmup.handled)} handled → ${end.memory.rssMb} MB at ${thousands(end.handled)}` +
        `${steadyEnd === null ? ' (drained)' : ''}; target < ${RSS_GROWTH_TARGET * 100} %: ` +
        (met ? 'met' : 'MISSED'),
    );
    if (!met) process.exitCode = 1;
    record('soak', {
      messages: MESSAGES,
      rssGrowth: Number(rssGrowth.toFixed(4)),
      peakRssMb: peakRss,
      rssWarmupMb: warmup.memory.rssMb,
      rssEndMb: end.memory.rssMb,
      rssDrainedMb: drained.memory.rssMb,
      heapGrowth: Number(heapGrowth.toFixed(4)),
      heapWarmupMb: warmup.memory.heapUsedMb,
      heapEndMb: end.memory.heapUsedMb,
      heapDrainedMb: drained.memory.heapUsedMb,
      redisWarmupMb: warmup.redisMb,
      redisEndMb: end.redisMb,
      redisDrainedMb: drained.redisMb,
      warmupMessages: warmup.handled,
      warmupSeconds: warmup.seconds,
      endMessages: end.handled,
      endSeconds: end.seconds,
      seconds: Math.round(seconds),
      messagesPerSec: Math.round(MESSAGES / seconds),
      deadLettered: expected.poison,
      events: expected.events,
      suppressionJobs: expected.jobs.suppression,
      inboundJobs: expected.jobs.inbound,
      metricsJobs,
      keepCompletedSeconds: KEEP_COMPLETED_SECONDS,
      rssSamplesMb: rssSamples,
      heapSamplesMb: heapSamples,
    });
  } finally {
    await worker?.stop();
    for (const queue of queues) await queue.close();
    redisClient.disconnect();
    sqs.destroy();
    sns.destroy();
    // Redis first: waiting for its process to end needs the emulator's server to keep us alive.
    await redis.stop();
    await emulator.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
