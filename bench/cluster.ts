/**
 * npm run bench:cluster — bench:ingest's load ingested and processed end to end, on one Redis
 * server and on a three-master Redis Cluster (three replicas), in one run.
 *
 * Each drain: a fresh queue of the emulator (fauxqs in a child process, so this process's CPU
 * is the worker's) preloaded with N SQS bodies as SNS delivers SES notifications; then the
 * worker with ROLE=all (the ingest and the queue workers in one process, the default
 * deployment) drains it. The time runs from starting the worker until the N-th deletion and
 * the completion of every job the messages made; the rate is N over it. Three modes per round,
 * in turn so that machine noise hits all: the single server, the cluster, and the cluster with
 * REDIS_MIN_REPLICAS_ACK=1 (each batch's writes and each suppression job's wait for a replica).
 *
 * Around each drain every master's INFO (commandstats, cpu, errorstats) is read, and the
 * difference gives its commands and CPU seconds: a master's share is its commands over all
 * masters' (target: none above 50 %). Each master is labelled with the queues it holds (the
 * slot of their keys), and a queue's jobs over its master's CPU seconds say what one shard
 * carries of that queue. Redis memory is read after the drain and again once the completed
 * jobs are cleaned: what a completed job holds while JOB_KEEP_COMPLETED_SECONDS keeps it. `ratio` is the cluster's rate over the single server's,
 * the median of the per-round ratios. After each drain the queue and DLQ must be empty, every
 * job completed and none failed, the suppression jobs must have carried every notification and
 * the metrics jobs named every event once each, the metrics counted N events, and the
 * suppression list must hold the same counts in every mode. BENCH_MESSAGES overrides N.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createSesTopology, type SesTopology } from '../adapters/emulator/topology';
import { connectRedis, type RedisClient, type RedisTarget } from '../adapters/redis/connection';
import { makeSuppressionStore } from '../adapters/redis/suppressionStore';
import { startRedisCluster } from '../test/support/redisCluster';
import { startRedis } from '../test/support/servers';
import type { QueueName } from '../domain/jobs';
import type { RunningWorker } from '../worker/main';
import {
  benchMessages,
  counterTotal,
  deletedByWorker,
  expectDrained,
  expectedJobs,
  expectJobs,
  INGEST_LOAD,
  preload,
  sqsClient,
  startBenchWorker,
  timeDrain,
  withQueues,
  type Drain,
} from './sqsDrain';
import { startSqsEmulator } from './sqsEmulator';
import { meanBytes, median, record, snsWrappedSesBodies } from './support';

const MESSAGES = benchMessages();
const ROUNDS = 3;
const { pollers: POLLERS, waitTimeSeconds: WAIT_TIME_SECONDS } = INGEST_LOAD;
const MODES = ['single', 'cluster', 'clusterAck'] as const;
type Mode = (typeof MODES)[number];

/** One master's counters, read from INFO. */
interface NodeStats {
  readonly calls: ReadonlyMap<string, number>;
  readonly cpuSeconds: number;
  readonly usedMemory: number;
  readonly errors: ReadonlyMap<string, number>;
}

/** A Redis under test: what the worker is told, and a direct connection to each master. */
interface Deployment {
  readonly target: RedisTarget;
  readonly env: Readonly<Record<string, string>>;
  readonly masters: readonly Redis[];
  /** Which of `masters` serves `key`. */
  homeOf(key: string): Promise<number>;
}

interface DrainFigures {
  readonly perSec: number;
  readonly jobs: number;
  /** Per master: its commands over all masters', its CPU seconds, the queues it holds. */
  readonly shares: readonly number[];
  readonly masterCpuSeconds: readonly number[];
  readonly masterQueues: readonly string[];
  /** Per queue that had jobs: its jobs over the CPU seconds of the master holding it. */
  readonly queueShardJobsPerCpuSecond: ReadonlyMap<QueueName, number>;
  readonly commands: number;
  readonly redisCpuSeconds: number;
  readonly busiestMasterCpuSeconds: number;
  readonly workerCpuSeconds: number;
  /** The busiest master's five most called commands. */
  readonly busiestTop: string;
  readonly errors: string;
  readonly suppressionCounts: string;
  /** Redis memory a completed job holds while it is kept (JOB_KEEP_COMPLETED_SECONDS). */
  readonly bytesPerCompletedJob: number;
  /** What stays once they are gone: suppression entries, markers, reputation windows. */
  readonly bytesKeptPerMessage: number;
}

async function nodeStats(master: Redis): Promise<NodeStats> {
  const info = await master.info('commandstats', 'cpu', 'errorstats', 'memory');
  const calls = new Map<string, number>();
  for (const [, name, n] of info.matchAll(/^cmdstat_(\S+):calls=(\d+)/gm))
    calls.set(name!, Number(n));
  const errors = new Map<string, number>();
  for (const [, name, n] of info.matchAll(/^errorstat_(\S+):count=(\d+)/gm))
    errors.set(name!, Number(n));
  const cpu = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return {
    calls,
    cpuSeconds: cpu('used_cpu_user') + cpu('used_cpu_sys'),
    usedMemory: cpu('used_memory'),
    errors,
  };
}

/** `after` minus `before`, per name. */
function grown(after: ReadonlyMap<string, number>, before: ReadonlyMap<string, number>) {
  return new Map([...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const));
}

const sum = (values: Iterable<number>) => [...values].reduce((total, n) => total + n, 0);

/**
 * The worker on the queue until every message is deleted and every job it made has completed;
 * the first failed attempt stops the drain with the worker's own warning.
 */
function untilProcessed(
  worker: RunningWorker,
  redis: RedisClient,
  prefix: string,
  warnings: readonly string[],
): Drain & { jobs(): number; eventsCounted(): number } {
  let jobs: number | null = null;
  let events = 0;
  return {
    jobs: () => jobs ?? 0,
    eventsCounted: () => events,
    async poll() {
      const deleted = await deletedByWorker(worker);
      const outcomes = (outcome: string) =>
        counterTotal(worker.metrics.jobs, (labels) => labels.outcome === outcome);
      const unsuccessful = (await outcomes('retrying')) + (await outcomes('failed'));
      if (unsuccessful > 0)
        throw new Error(`${unsuccessful} job attempts failed; first: ${warnings[0] ?? '?'}`);
      if (deleted < MESSAGES)
        return { done: false, progress: deleted, state: `${deleted} of ${MESSAGES} deleted` };
      // Every job is added before its messages are deleted: now they are all there to count.
      jobs ??= sum((await jobsPerQueue(redis, prefix)).values());
      const completed = await outcomes('completed');
      events = await counterTotal(worker.metrics.sesEvents);
      return {
        done: completed >= jobs,
        progress: deleted + completed,
        state: `all deleted, ${completed} of ${jobs} jobs completed`,
      };
    },
    stop: () => worker.stop(),
  };
}

/** Every job in each queue, whatever its state. */
const jobsPerQueue = (redis: RedisClient, prefix: string) =>
  withQueues(redis, prefix, async (queues) => {
    const counts = new Map<QueueName, number>();
    for (const [name, queue] of queues)
      counts.set(name, sum(Object.values(await queue.getJobCounts())));
    return counts;
  });

const cleanCompletedJobs = (redis: RedisClient, prefix: string) =>
  withQueues(redis, prefix, (queues) =>
    Promise.all([...queues.values()].map((q) => q.clean(0, 0, 'completed'))),
  );

/** The master (index) holding each queue: all of a queue's keys share its slot. */
const queueHomes = (redis: RedisClient, prefix: string, deployment: Deployment) =>
  withQueues(redis, prefix, async (queues) => {
    const homes = new Map<QueueName, number>();
    for (const [name, queue] of queues)
      homes.set(name, await deployment.homeOf(queue.toKey('wait')));
    return homes;
  });

async function main(): Promise<void> {
  const bodies = snsWrappedSesBodies(MESSAGES);
  const expected = expectedJobs(bodies);
  console.log(
    `${MESSAGES} SQS bodies, ${meanBytes(bodies)} bytes on average, ingested and processed (ROLE=all); ` +
      `${POLLERS} pollers × 10 messages; one Redis server, and a cluster of 3 masters + 3 replicas; ${ROUNDS} rounds`,
  );

  const emulator = await startSqsEmulator({ delayMs: 0 });
  const sqs = sqsClient(emulator.sdk);
  const sns = new SNSClient(emulator.sdk);
  const server = await startRedis();
  const cluster = await startRedisCluster();
  const direct = (port: number) => new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  const single: Deployment = {
    target: { kind: 'single', url: server.url },
    env: { REDIS_URL: server.url },
    masters: [direct(server.port)],
    homeOf: () => Promise.resolve(0),
  };
  const masterNodes = await cluster.masters();
  const clustered: Deployment = {
    target: cluster.target,
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    masters: masterNodes.map((node) => direct(node.port)),
    async homeOf(key) {
      const node = await cluster.masterOf(calculateSlot(key));
      return masterNodes.findIndex((master) => master.port === node.port);
    },
  };
  const deployments: Record<Mode, Deployment> = {
    single,
    cluster: clustered,
    clusterAck: { ...clustered, env: { ...clustered.env, REDIS_MIN_REPLICAS_ACK: '1' } },
  };
  const runs = new Map<Mode, DrainFigures[]>(MODES.map((m) => [m, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of MODES) {
        const figures = await drainOnce(`round ${round}, ${mode}`, deployments[mode], {
          sqs,
          sns,
          emulatorSdk: emulator.sdk,
          bodies,
          prefix: `{bench-${mode}-${round}}`,
          expected,
        });
        runs.get(mode)!.push(figures);
        console.log(
          `round ${round}, ${mode}: ${Math.round(figures.perSec)}/s, ${figures.jobs} jobs, ` +
            `${(figures.commands / MESSAGES).toFixed(2)} commands per message, ` +
            `masters (queues held: commands, CPU) ${figures.shares
              .map(
                (share, i) =>
                  `[${figures.masterQueues[i] || '-'}: ${percent(share)}, ${figures.masterCpuSeconds[i]!.toFixed(2)} s]`,
              )
              .join(' ')}, ` +
            `Redis CPU ${figures.redisCpuSeconds.toFixed(2)} s (busiest master ${figures.busiestMasterCpuSeconds.toFixed(2)} s), ` +
            `worker CPU ${figures.workerCpuSeconds.toFixed(2)} s, ${Math.round(figures.bytesPerCompletedJob)} B per completed job; ` +
            `busiest master's top commands: ${figures.busiestTop}` +
            (figures.errors === '' ? '' : `; errors: ${figures.errors}`),
        );
      }
      const counts = new Set(MODES.map((m) => runs.get(m)![round - 1]!.suppressionCounts));
      if (counts.size !== 1)
        throw new Error(
          `round ${round}: the suppression list differs by mode: ${[...counts].join(' / ')}`,
        );
    }
  } finally {
    for (const master of [...single.masters, ...clustered.masters]) master.disconnect();
    sqs.destroy();
    sns.destroy();
    await cluster.stop();
    await server.stop();
    await emulator.stop();
  }
  recordFigures(runs, expected.events);
}

interface DrainContext {
  readonly sqs: ReturnType<typeof sqsClient>;
  readonly sns: SNSClient;
  readonly emulatorSdk: Parameters<typeof sqsClient>[0];
  readonly bodies: readonly string[];
  readonly prefix: string;
  readonly expected: ReturnType<typeof expectedJobs>;
}

async function drainOnce(
  what: string,
  deployment: Deployment,
  context: DrainContext,
): Promise<DrainFigures> {
  const { sqs, sns, bodies } = context;
  const topology = await createSesTopology(sqs, sns, { name: what.replace(/\W+/g, '-') });
  await preload(sqs, topology.queueUrl, bodies);
  const redis = connectRedis(deployment.target, { maxRetriesPerRequest: null });
  try {
    return await drainAndCheck(what, deployment, context, topology, redis);
  } finally {
    redis.disconnect();
    // Every drain starts from an empty Redis.
    for (const master of deployment.masters) await master.flushall();
  }
}

async function drainAndCheck(
  what: string,
  deployment: Deployment,
  context: DrainContext,
  topology: SesTopology,
  redis: RedisClient,
): Promise<DrainFigures> {
  const { sqs, prefix, expected } = context;
  // What a failed job attempt said, for the error that stops the drain.
  const failures: string[] = [];
  const log = pino(
    { level: 'warn' },
    { write: (line: string) => void (/"msg":"job /.test(line) && failures.push(line)) },
  );
  let drain: ReturnType<typeof untilProcessed> | null = null;
  const homes = await queueHomes(redis, prefix, deployment);
  const before = await Promise.all(deployment.masters.map(nodeStats));
  const cpuFrom = process.cpuUsage();
  const seconds = await timeDrain(what, async () => {
    const worker = await startBenchWorker({
      sdk: context.emulatorSdk,
      topology,
      env: deployment.env,
      prefix,
      role: 'all',
      pollers: POLLERS,
      waitTimeSeconds: WAIT_TIME_SECONDS,
      log,
    });
    return (drain = untilProcessed(worker, redis, prefix, failures));
  });
  const cpu = process.cpuUsage(cpuFrom);
  const after = await Promise.all(deployment.masters.map(nodeStats));
  await expectDrained(what, sqs, topology);
  await expectJobs(redis, prefix, expected, 'completed');
  const counts = await makeSuppressionStore(redis, prefix).counts();
  const jobs = await jobsPerQueue(redis, prefix);
  // What the completed jobs kept for the dedupe window take, apart from what stays for good.
  await cleanCompletedJobs(redis, prefix);
  const cleaned = await Promise.all(deployment.masters.map(nodeStats));
  const memory = (stats: readonly NodeStats[]) => sum(stats.map((s) => s.usedMemory));
  if (drain!.eventsCounted() !== expected.events)
    throw new Error(
      `${what}: metrics counted ${drain!.eventsCounted()} events, expected ${expected.events}`,
    );
  const calls = after.map((stats, i) => grown(stats.calls, before[i]!.calls));
  const perMaster = calls.map((c) => sum(c.values()));
  const commands = sum(perMaster);
  const cpuSeconds = after.map((stats, i) => stats.cpuSeconds - before[i]!.cpuSeconds);
  const busiest = perMaster.indexOf(Math.max(...perMaster));
  const errors = after
    .flatMap((stats, i) => [...grown(stats.errors, before[i]!.errors)].filter(([, n]) => n > 0))
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return {
    perSec: MESSAGES / seconds,
    jobs: drain!.jobs(),
    shares: perMaster.map((n) => n / commands),
    masterCpuSeconds: cpuSeconds,
    masterQueues: deployment.masters.map((_, i) =>
      [...homes]
        .filter(([, home]) => home === i)
        .map(([name]) => name)
        .join('+'),
    ),
    queueShardJobsPerCpuSecond: new Map(
      [...jobs]
        .filter(([, n]) => n > 0)
        .map(([name, n]) => [name, n / cpuSeconds[homes.get(name)!]!] as const),
    ),
    commands,
    redisCpuSeconds: sum(cpuSeconds),
    busiestMasterCpuSeconds: cpuSeconds[busiest]!,
    workerCpuSeconds: (cpu.user + cpu.system) / 1e6,
    busiestTop: [...calls[busiest]!]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([name, n]) => `${name} ${percent(n / perMaster[busiest]!)}`)
      .join(', '),
    errors,
    suppressionCounts: JSON.stringify(counts.byReason),
    bytesPerCompletedJob: (memory(after) - memory(cleaned)) / drain!.jobs(),
    bytesKeptPerMessage: (memory(cleaned) - memory(before)) / MESSAGES,
  };
}

function recordFigures(runs: ReadonlyMap<Mode, DrainFigures[]>, events: number): void {
  const of = (mode: Mode) => runs.get(mode)!;
  const med = (mode: Mode, figure: (f: DrainFigures) => number) => median(of(mode).map(figure));
  const perRound = (mode: Mode, over: Mode) =>
    of(mode).map((f, i) => round3(f.perSec / of(over)[i]!.perSec));
  const roundRatios = perRound('cluster', 'single');
  const maxShares = of('cluster').map((f) => round3(Math.max(...f.shares)));
  const medianRound = of('cluster').findIndex(
    (f) => round3(Math.max(...f.shares)) === median(maxShares),
  );
  const figures: Record<string, number | string | readonly number[]> = {
    singlePerSec: Math.round(med('single', (f) => f.perSec)),
    clusterPerSec: Math.round(med('cluster', (f) => f.perSec)),
    clusterAckPerSec: Math.round(med('clusterAck', (f) => f.perSec)),
    ratio: median(roundRatios),
    roundRatios,
    ackRatio: median(perRound('clusterAck', 'cluster')),
    maxMasterShare: median(maxShares),
    maxMasterShareByRound: maxShares,
    masterShares: of('cluster')[medianRound]!.shares.map(round3),
    ackMaxMasterShare: median(of('clusterAck').map((f) => round3(Math.max(...f.shares)))),
    busiestMasterTopCommands: of('cluster')[medianRound]!.busiestTop,
    masterQueues: of('cluster')
      [medianRound]!.masterQueues.map((queues) => queues || '-')
      .join(' | '),
  };
  for (const mode of MODES) {
    figures[`${mode}CommandsPerMessage`] = round3(med(mode, (f) => f.commands / MESSAGES));
    figures[`${mode}RedisCpuMsPer1000`] = round1(
      med(mode, (f) => (f.redisCpuSeconds * 1e6) / MESSAGES),
    );
    figures[`${mode}WorkerCpuMsPer1000`] = round1(
      med(mode, (f) => (f.workerCpuSeconds * 1e6) / MESSAGES),
    );
    figures[`${mode}JobsPerRedisCpuSecond`] = Math.round(
      med(mode, (f) => f.jobs / f.redisCpuSeconds),
    );
    figures[`${mode}BytesPerCompletedJob`] = Math.round(med(mode, (f) => f.bytesPerCompletedJob));
    figures[`${mode}BytesKeptPerMessage`] = Math.round(med(mode, (f) => f.bytesKeptPerMessage));
  }
  // What one shard's CPU second carries of a queue's jobs (BullMQ's work on them, plus the
  // share of the store's that shard also holds): on the cluster, where each queue has its own.
  for (const name of of('cluster')[0]!.queueShardJobsPerCpuSecond.keys())
    figures[`${name}ShardJobsPerCpuSecond`] = Math.round(
      med('cluster', (f) => f.queueShardJobsPerCpuSecond.get(name) ?? 0),
    );
  record('cluster', {
    ...figures,
    messages: MESSAGES,
    events,
    jobsPerMessage: round3(med('single', (f) => f.jobs / MESSAGES)),
    rounds: ROUNDS,
    pollers: POLLERS,
    masters: of('cluster')[0]!.shares.length,
  });
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
const round1 = (n: number) => Math.round(n * 10) / 10;
const round3 = (n: number) => Math.round(n * 1000) / 1000;

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
