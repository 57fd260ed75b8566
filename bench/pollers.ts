/**
 * npm run bench:pollers — the ingest of one replica when every SQS call takes as long as it does
 * on AWS, at several SQS_POLLERS.
 *
 * Real SQS answers in 10–20 ms; the emulator in a fraction of one, which hides what a replica
 * waits for. Here fauxqs runs in a child process behind a proxy that holds every call 15 ms
 * (bench/sqsEmulator.ts), so this process holds only the worker and its CPU time is the
 * worker's. Each drain: a fresh queue preloaded (past the proxy) with N SQS bodies as SNS
 * delivers SES notifications (bench:ingest's load), then the worker with ROLE=ingest and the
 * default long poll (20 s) drains it into a Redis of its own; the rate is N over the seconds to
 * the N-th deletion. Rounds take every pollers count in turn so noise hits all; `ratio` is the
 * rate at the worker's default SQS_POLLERS over the rate at 4 (the median of per-round ratios).
 * Every drain must leave the queue and DLQ empty and exactly the jobs routing calls for.
 *
 * Then the same worker setup on an empty queue: once every poller waits in a long poll, 10
 * messages are sent and timed to their deletion, three times. More pollers than the SQS
 * client's sockets (the SDK's default is 50) would queue a batch's delete behind the waiting
 * long polls; this shows it.
 * BENCH_MESSAGES overrides N, BENCH_POLLERS the counts (comma-separated), BENCH_SQS_DELAY_MS the
 * delay.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { Redis } from 'ioredis';
import { createSesTopology, type SesTopology } from '../adapters/emulator/topology';
import { startRedis } from '../test/support/servers';
import { loadConfig } from '../worker/config';
import {
  BATCH_SIZE,
  benchMessages,
  deletedByWorker,
  expectDrained,
  expectedJobs,
  expectJobs,
  preload,
  sendBatch,
  sqsClient,
  startBenchWorker,
  timeDrain,
  untilAllDeleted,
  type Expected,
} from './sqsDrain';
import { startSqsEmulator, type SqsEmulator } from './sqsEmulator';
import { meanBytes, median, record, snsWrappedSesBodies } from './support';

const MESSAGES = benchMessages();
const POLLER_COUNTS = (process.env.BENCH_POLLERS || '4,16,64').split(',').map(Number);
const DELAY_MS = Number(process.env.BENCH_SQS_DELAY_MS || 15);
const ROUNDS = 3;
/** The worker's default: a drain ends on a long poll as it would in production. */
const WAIT_TIME_SECONDS = 20;
const BASELINE_POLLERS = 4;
/** Idle probes per pollers count and round, each after this long with an empty queue. */
const IDLE_PROBES = 3;
const IDLE_MS = 2_000;
/** Longer than a long poll (20 s): a delete queued behind the long polls shows, then fails. */
const IDLE_GIVE_UP_MS = 45_000;
const WATCH_MS = 5;

interface DrainFigures {
  readonly perSec: number;
  /** Worker CPU seconds over wall seconds: 1 is one core kept busy. */
  readonly cpuShare: number;
  /** SQS calls per 1,000 messages, by action. */
  readonly callsPer1000: Readonly<Record<string, number>>;
  /** From sending 10 messages to an idle worker to their deletion, per probe. */
  readonly idleLatencyMs: readonly number[];
  /** The most connections the worker had open to SQS while draining. */
  readonly maxConnections: number;
  /** The most SQS calls in flight at once while idle: the long polls that reach SQS. */
  readonly idleMaxInFlight: number;
}

interface Bench {
  readonly redisUrl: string;
  readonly emulator: SqsEmulator;
  /** Past the proxy: queues are made and preloaded at full speed. */
  readonly setup: { readonly sqs: SQSClient; readonly sns: SNSClient };
  readonly bodies: readonly string[];
  readonly expected: Expected;
}

/**
 * One drain of N messages at `pollers`, then the idle probes on the same worker setup: a queue
 * that stays empty until every poller waits in a long poll, then 10 messages, timed to their
 * deletion (a few times).
 */
async function drainAt(pollers: number, name: string, what: string, bench: Bench) {
  const { emulator, setup, bodies, expected } = bench;
  const topology = await createSesTopology(setup.sqs, setup.sns, { name: `bench-pollers-${name}` });
  await preload(setup.sqs, topology.queueUrl, bodies);
  const prefix = `{bench-pollers-${name}}`;
  const worker = (queue: SesTopology, keyPrefix: string) =>
    startBenchWorker({
      sdk: emulator.sdk,
      topology: queue,
      env: { REDIS_URL: bench.redisUrl },
      prefix: keyPrefix,
      role: 'ingest',
      pollers,
      waitTimeSeconds: WAIT_TIME_SECONDS,
    });
  await emulator.usage(true);
  const cpuFrom = process.cpuUsage();
  const wallFrom = performance.now();
  const seconds = await timeDrain(what, async () => {
    const running = await worker(topology, prefix);
    return untilAllDeleted(
      MESSAGES,
      () => deletedByWorker(running),
      () => running.stop(),
    );
  });
  // Up to the worker's stop, which waits out the long polls it aborts.
  const cpu = process.cpuUsage(cpuFrom);
  const wall = (performance.now() - wallFrom) / 1000;
  const { calls, maxConnections } = await emulator.usage(true);
  await expectDrained(what, setup.sqs, topology);
  await expectJobsThenFlush(bench.redisUrl, prefix, expected);

  const idleQueue = await createSesTopology(setup.sqs, setup.sns, { name: `bench-idle-${name}` });
  const idlePrefix = `{bench-idle-${name}}`;
  const probeBodies = snsWrappedSesBodies(MESSAGES + IDLE_PROBES * BATCH_SIZE).slice(MESSAGES);
  const running = await worker(idleQueue, idlePrefix);
  const idleLatencyMs: number[] = [];
  try {
    for (let probe = 0; probe < IDLE_PROBES; probe++) {
      await delay(IDLE_MS);
      const sent = performance.now();
      await sendBatch(
        setup.sqs,
        idleQueue.queueUrl,
        probeBodies.slice(probe * BATCH_SIZE, (probe + 1) * BATCH_SIZE),
      );
      while ((await deletedByWorker(running)) < (probe + 1) * BATCH_SIZE) {
        if (performance.now() - sent > IDLE_GIVE_UP_MS)
          throw new Error(
            `${what}: 10 messages sent to an idle worker not deleted within ${IDLE_GIVE_UP_MS} ms`,
          );
        await delay(WATCH_MS);
      }
      idleLatencyMs.push(performance.now() - sent);
    }
  } finally {
    await running.stop();
  }
  const idle = await emulator.usage(true);
  await expectDrained(`${what}, idle probes`, setup.sqs, idleQueue);
  await expectJobsThenFlush(bench.redisUrl, idlePrefix, expectedJobs(probeBodies));
  return {
    perSec: MESSAGES / seconds,
    cpuShare: (cpu.user + cpu.system) / 1e6 / wall,
    callsPer1000: Object.fromEntries(
      Object.entries(calls).map(([action, n]) => [action, round1((n * 1000) / MESSAGES)]),
    ),
    idleLatencyMs,
    maxConnections,
    idleMaxInFlight: idle.maxInFlight,
  };
}

async function expectJobsThenFlush(redisUrl: string, prefix: string, expected: Expected) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    await expectJobs(connection, prefix, expected, 'waiting');
    await connection.flushall();
  } finally {
    connection.disconnect();
  }
}

async function main(): Promise<void> {
  if (!POLLER_COUNTS.includes(BASELINE_POLLERS) || POLLER_COUNTS.some((n) => !(n >= 1 && n <= 64)))
    throw new Error(`BENCH_POLLERS must include ${BASELINE_POLLERS}, each 1 to 64`);
  const defaultPollers = loadConfig({}).sqs.pollers;
  const bodies = snsWrappedSesBodies(MESSAGES);
  const expected = expectedJobs(bodies);
  console.log(
    `${MESSAGES} SQS bodies, ${meanBytes(bodies)} bytes on average; every SQS call held ${DELAY_MS} ms; ` +
      `SQS_POLLERS ${POLLER_COUNTS.join(', ')} (default ${defaultPollers}); ${ROUNDS} rounds`,
  );

  const redis = await startRedis();
  const emulator = await startSqsEmulator({ delayMs: DELAY_MS });
  const setup = { sqs: sqsClient(emulator.direct), sns: new SNSClient(emulator.direct) };
  const bench: Bench = { redisUrl: redis.url, emulator, setup, bodies, expected };
  const runs = new Map<number, DrainFigures[]>(POLLER_COUNTS.map((n) => [n, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const pollers of POLLER_COUNTS) {
        const what = `round ${round}, ${pollers} pollers`;
        const figures = await drainAt(pollers, `${round}-${pollers}`, what, bench);
        runs.get(pollers)!.push(figures);
        console.log(
          `${what}: ${Math.round(figures.perSec)}/s, worker CPU ${figures.cpuShare.toFixed(2)} of a core, ` +
            `SQS calls per 1,000 messages ${JSON.stringify(figures.callsPer1000)}; ` +
            `${figures.maxConnections} connections; idle: ${figures.idleMaxInFlight} calls in flight, ` +
            `10 messages deleted in ${figures.idleLatencyMs.map((ms) => Math.round(ms)).join(', ')} ms`,
        );
      }
    }
  } finally {
    setup.sqs.destroy();
    setup.sns.destroy();
    // Redis first: its process is unreferenced, and the emulator's channel keeps us alive.
    await redis.stop();
    await emulator.stop();
  }

  const ratiosOver = (pollers: number) =>
    runs.get(pollers)!.map((r, i) => r.perSec / runs.get(BASELINE_POLLERS)![i]!.perSec);
  const figures: Record<string, number | string | readonly number[]> = {};
  for (const pollers of POLLER_COUNTS) {
    const of = runs.get(pollers)!;
    figures[`perSecAt${pollers}`] = Math.round(median(of.map((r) => r.perSec)));
    figures[`cpuShareAt${pollers}`] = round2(median(of.map((r) => r.cpuShare)));
    figures[`ratioAt${pollers}`] = round3(median(ratiosOver(pollers)));
    const latencies = of.flatMap((r) => r.idleLatencyMs);
    figures[`idleLatencyMedianMsAt${pollers}`] = Math.round(median(latencies));
    figures[`idleLatencyMaxMsAt${pollers}`] = Math.round(Math.max(...latencies));
    figures[`maxConnectionsAt${pollers}`] = Math.max(...of.map((r) => r.maxConnections));
    figures[`idleMaxInFlightAt${pollers}`] = Math.max(...of.map((r) => r.idleMaxInFlight));
    for (const action of ['ReceiveMessage', 'DeleteMessageBatch'])
      figures[`${action}Per1000At${pollers}`] = round1(
        median(of.map((r) => r.callsPer1000[action] ?? 0)),
      );
  }
  const ratioPollers = runs.has(defaultPollers) ? defaultPollers : Math.max(...POLLER_COUNTS);
  record('pollers', {
    ratio: round3(median(ratiosOver(ratioPollers))),
    ratioPollers,
    ...figures,
    messages: MESSAGES,
    rounds: ROUNDS,
    sqsDelayMs: DELAY_MS,
    waitTimeSeconds: WAIT_TIME_SECONDS,
    meanBodyBytes: meanBytes(bodies),
  });
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;
const round3 = (n: number) => Math.round(n * 1000) / 1000;

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
