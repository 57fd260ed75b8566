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
 * BENCH_MESSAGES overrides N, BENCH_POLLERS the counts (comma-separated), BENCH_SQS_DELAY_MS the
 * delay.
 */
import { performance } from 'node:perf_hooks';
import { SNSClient } from '@aws-sdk/client-sns';
import { Redis } from 'ioredis';
import { createSesTopology } from '../adapters/emulator/topology';
import { startRedis } from '../test/support/servers';
import { loadConfig } from '../worker/config';
import {
  deletedByWorker,
  expectDrained,
  expectedJobs,
  expectJobs,
  preload,
  sqsClient,
  startBenchWorker,
  timeDrain,
  untilAllDeleted,
} from './sqsDrain';
import { startSqsEmulator } from './sqsEmulator';
import { meanBytes, median, record, snsWrappedSesBodies } from './support';

const MESSAGES = Number(process.env.BENCH_MESSAGES || 20_000);
const POLLER_COUNTS = (process.env.BENCH_POLLERS || '4,16,64').split(',').map(Number);
const DELAY_MS = Number(process.env.BENCH_SQS_DELAY_MS || 15);
const ROUNDS = 3;
/** The worker's default: a drain ends on a long poll as it would in production. */
const WAIT_TIME_SECONDS = 20;
const BASELINE_POLLERS = 4;

interface DrainFigures {
  readonly perSec: number;
  /** Worker CPU seconds over wall seconds: 1 is one core kept busy. */
  readonly cpuShare: number;
  /** SQS calls per 1,000 messages, by action. */
  readonly callsPer1000: Readonly<Record<string, number>>;
}

async function main(): Promise<void> {
  if (!Number.isInteger(MESSAGES) || MESSAGES < 1)
    throw new Error(`BENCH_MESSAGES must be a positive integer, not ${process.env.BENCH_MESSAGES}`);
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
  const setupSqs = sqsClient(emulator.direct);
  const setupSns = new SNSClient(emulator.direct);
  const runs = new Map<number, DrainFigures[]>(POLLER_COUNTS.map((n) => [n, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const pollers of POLLER_COUNTS) {
        const what = `round ${round}, ${pollers} pollers`;
        const topology = await createSesTopology(setupSqs, setupSns, {
          name: `bench-pollers-${round}-${pollers}`,
        });
        await preload(setupSqs, topology.queueUrl, bodies);
        const prefix = `{bench-pollers-${round}-${pollers}}`;
        await emulator.usage(true);
        const cpuFrom = process.cpuUsage();
        const wallFrom = performance.now();
        const seconds = await timeDrain(what, async () => {
          const worker = await startBenchWorker({
            sdk: emulator.sdk,
            topology,
            env: { REDIS_URL: redis.url },
            prefix,
            role: 'ingest',
            pollers,
            waitTimeSeconds: WAIT_TIME_SECONDS,
          });
          return untilAllDeleted(
            MESSAGES,
            () => deletedByWorker(worker),
            () => worker.stop(),
          );
        });
        // Up to the worker's stop, which waits out the long polls it aborts.
        const cpu = process.cpuUsage(cpuFrom);
        const wall = (performance.now() - wallFrom) / 1000;
        const { calls } = await emulator.usage(true);
        await expectDrained(what, setupSqs, topology);
        const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
        try {
          await expectJobs(connection, prefix, expected, 'waiting');
          await connection.flushall();
        } finally {
          connection.disconnect();
        }
        const figures: DrainFigures = {
          perSec: MESSAGES / seconds,
          cpuShare: (cpu.user + cpu.system) / 1e6 / wall,
          callsPer1000: Object.fromEntries(
            Object.entries(calls).map(([action, n]) => [action, round1((n * 1000) / MESSAGES)]),
          ),
        };
        runs.get(pollers)!.push(figures);
        console.log(
          `${what}: ${Math.round(figures.perSec)}/s (${seconds.toFixed(2)} s), worker CPU ${figures.cpuShare.toFixed(2)} of a core, ` +
            `SQS calls per 1,000 messages ${JSON.stringify(figures.callsPer1000)}`,
        );
      }
    }
  } finally {
    setupSqs.destroy();
    setupSns.destroy();
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
