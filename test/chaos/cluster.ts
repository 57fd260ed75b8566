/**
 * npm run test:chaos:cluster — the chaos suite's ledger against a real Redis Cluster (three
 * masters, a replica each, cluster-node-timeout 1.5 s) while the suite SIGKILLs masters (their
 * replica takes over; the killed node is restarted and rejoins as a replica), kills a replica
 * and restarts it, and moves slots holding the queues and suppression buckets to another master
 * (`redis-cli --cluster reshard`), all during traffic. Every notification must be accounted for
 * exactly once: the suppression list, the mail the SMTP server accepted, the DLQ.
 *
 * The workers run with REDIS_MIN_REPLICAS_ACK=1 (a batch's SQS messages are deleted, and a job
 * completes, only once a replica holds the writes), where nothing may be lost or done twice.
 * `--replicas-ack 0` runs them without the wait, to see what a failover loses then (a run that
 * loses something exits 1, as any other).
 *
 * `--short` (what `npm test` runs): fewer notifications, one failover and one reshard.
 * CHAOS_MESSAGES, CHAOS_SEED and CHAOS_RATE as for `npm run test:chaos`. The last line printed
 * is one JSON object (also in bench/results/chaos-cluster*.json).
 */
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import type { Queue } from 'bullmq';
import { connectRedis, isCluster, type RedisClient } from '../../adapters/redis/connection';
import { suppressionKeys } from '../../adapters/redis/suppressionStore';
import { SUPPRESSION_BUCKETS } from '../../domain/suppression';
import {
  startRedisCluster,
  type ClusterNode,
  type RedisClusterServer,
} from '../support/redisCluster';
import { buildLedger, type Ledger } from './ledger';
import { workerQueueSlot } from './outcomes';
import { Publisher, runSchedule, type ScheduledFault } from './publisher';
import { explainDuplicateForwards, makeSay, runSuite, secondsSinceStart } from './report';
import { flag, positiveInteger, seedFromEnv } from './settings';
import { conclude, judge, startProgress, startStage, untilAtRest, type Stage } from './stage';

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    'replicas-ack': { type: 'string', default: '1' },
  },
});
const SHORT = args.short;
const REPLICAS_ACK = Number(args['replicas-ack']);
if (REPLICAS_ACK !== 0 && REPLICAS_ACK !== 1)
  throw new Error(`--replicas-ack must be 0 or 1, not ${args['replicas-ack']}`);
const MESSAGES = positiveInteger('CHAOS_MESSAGES', SHORT ? 1500 : 6000);
const SEED = seedFromEnv();
const RATE = positiveInteger('CHAOS_RATE', SHORT ? 150 : 200);
const DUPLICATE_SHARE = 0.1;
const WORKERS = 2;
/** cluster-node-timeout: a silent master is failed over after about this long. */
const NODE_TIMEOUT_MS = 1500;
/** How long the promoted replica serves alone before the killed master is restarted. */
const ALONE_MS = positiveInteger('CHAOS_ALONE_MS', 2000);
const REPLICA_DOWN_MS = 3000;
const SMTP_HOLD = flag('CHAOS_SMTP_HOLD', true);
/** How long a hold waits for every forward already accepted to have its job completed. */
const SETTLE_MS = 20_000;
const PREFIX = '{chaos}';
/**
 * A reshard moves a master's lowest slots: up to the suppression queue's slot (its own hash tag,
 * `{suppression}`, about 1,200 slots into its master's range) and this many more. About 8 % of
 * the slots, and the suppression buckets among them.
 */
const EXTRA_SLOTS = 100;
const FAILOVER_TIMEOUT_MS = 30_000;
const SUITE = 'chaos-cluster';

type Fault = 'failover' | 'replicaKill' | 'reshard' | 'reshardBack';
const SCHEDULE: readonly [number, Fault][] = SHORT
  ? [
      [0.2, 'failover'],
      [0.55, 'reshard'],
    ]
  : [
      [0.1, 'failover'],
      [0.3, 'replicaKill'],
      [0.5, 'reshard'],
      [0.7, 'failover'],
      [0.85, 'reshardBack'],
    ];

const say = makeSay(SUITE);

interface FaultCounts {
  masterKills: number;
  /** Faults struck before every accepted forward had completed its job (SETTLE_MS ran out). */
  faultsUnsettled: number;
  replicaKills: number;
  reshards: number;
  /** From a master's SIGKILL to its replica serving its slots. */
  maxFailoverMs: number;
  /** From the killed master's restart to every node healthy, it a replica in sync. */
  maxRejoinMs: number;
  maxReshardMs: number;
  slotsMoved: number;
  /** Of those, slots holding a suppression bucket, or a queue. */
  bucketSlotsMoved: number;
  queueSlotsMoved: number;
  keysMoved: number;
}

async function main(): Promise<number> {
  const ledger = buildLedger(MESSAGES, DUPLICATE_SHARE, SEED);
  say(
    `seed ${SEED}: ${ledger.publications.length} notifications (${ledger.unique} distinct + ` +
      `${ledger.duplicates} published twice); REDIS_MIN_REPLICAS_ACK=${REPLICAS_ACK}` +
      `${SHORT ? '; short form' : ''}`,
  );
  const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
  const redis = connectRedis(cluster.target, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // it rides through the failovers by itself
  let stage: Stage | undefined;
  try {
    stage = await startStage({
      name: 'chaos-cluster',
      prefix: PREFIX,
      workers: WORKERS,
      redis,
      redisEnv: {
        REDIS_CLUSTER_NODES: cluster.seeds,
        REDIS_MIN_REPLICAS_ACK: String(REPLICAS_ACK),
      },
    });
    say(
      `servers up: redis cluster ${cluster.seeds} (3 masters, 3 replicas, node timeout ` +
        `${NODE_TIMEOUT_MS} ms), fauxqs ${stage.emulator.endpoint}, smtp ${stage.smtp.url}, ` +
        `${WORKERS} workers; publishing at up to ${RATE}/s`,
    );
    return await chaos(ledger, stage, cluster);
  } finally {
    await stage?.stop();
    redis.disconnect();
    await cluster.stop();
  }
}

async function chaos(ledger: Ledger, stage: Stage, cluster: RedisClusterServer): Promise<number> {
  const total = ledger.publications.length;
  const publisher = new Publisher(stage.sns, stage.topology.topicArn, RATE);
  const faults: FaultCounts = {
    masterKills: 0,
    faultsUnsettled: 0,
    replicaKills: 0,
    reshards: 0,
    maxFailoverMs: 0,
    maxRejoinMs: 0,
    maxReshardMs: 0,
    slotsMoved: 0,
    bucketSlotsMoved: 0,
    queueSlotsMoved: 0,
    keysMoved: 0,
  };
  /** The slot of a queue's keys, as the workers name them. */
  const slotOfQueue = (queue: Queue) => calculateSlot(queue.toKey('id'));
  const slotsOf = {
    queues: new Set([...stage.queues.values(), stage.sesSync].map(slotOfQueue)),
    buckets: new Set(
      Array.from({ length: SUPPRESSION_BUCKETS }, (_, b) =>
        calculateSlot(suppressionKeys(stage.prefix).entries(b)),
      ),
    ),
  };
  const queueSlot = suppressionQueueSlot(stage.prefix);
  /** When each master SIGKILL or reshard struck: a duplicate forward is told by its distance. */
  const faultTimes: number[] = [];
  /** The masters failed over so far: the next failover picks another. */
  const failedOver: number[] = [];

  /**
   * Runs `disruption` with the SMTP server answering 451, once every copy it accepted before has
   * its forward job completed: a fault that breaks Redis writes cannot then fall between an SMTP
   * 250 and the forward's record (forwarding's at-least-once window, as in `npm run test:chaos`).
   */
  const heldSmtp = async <T>(publishOn: () => void, disruption: () => Promise<T>): Promise<T> => {
    if (SMTP_HOLD) {
      stage.hold.hold();
      if (!(await stage.hold.settle(SETTLE_MS))) faults.faultsUnsettled++;
    }
    publishOn();
    try {
      return await disruption();
    } finally {
      stage.hold.release();
    }
  };

  const failover = async (publishOn: () => void) => {
    const masters = await cluster.masters();
    // First the master of the suppression queue (every batch writes there), then another.
    const home = await cluster.masterOf(queueSlot);
    const master =
      failedOver.length === 0 ? home : masters.find((m) => !failedOver.includes(m.port))!;
    const slot = (await cluster.slotsOf(master))[0]!;
    const replica = await cluster.replicaOf(master);
    // Held until the replica has taken over: until then, writes to the shard fail.
    const { killedAt, promoted } = await heldSmtp(publishOn, async () => {
      const at = Date.now();
      await master.kill();
      return { killedAt: at, promoted: await untilServedByAnother(cluster, slot, master) };
    });
    faultTimes.push(killedAt);
    faults.masterKills++;
    failedOver.push(master.port);
    const failoverMs = Date.now() - killedAt;
    faults.maxFailoverMs = Math.max(faults.maxFailoverMs, failoverMs);
    say(
      `fault: SIGKILL master ${master.address}; ${promoted.address} ` +
        `${promoted.port === replica?.port ? '(its replica) ' : ''}serves its slots after ${failoverMs} ms`,
    );
    await delay(ALONE_MS);
    const restartedAt = Date.now();
    await master.restart();
    await untilReplicaOf(cluster, promoted, master);
    await cluster.waitUntilHealthy();
    const rejoinMs = Date.now() - restartedAt;
    faults.maxRejoinMs = Math.max(faults.maxRejoinMs, rejoinMs);
    say(
      `${master.address} restarted: a replica of ${promoted.address}, in sync after ${rejoinMs} ms`,
    );
  };

  const replicaKill = async (publishOn: () => void) => {
    publishOn();
    const masters = await cluster.masters();
    const home = await cluster.masterOf(queueSlot);
    const master = masters.find((m) => m.port !== home.port) ?? home;
    const replica = await cluster.replicaOf(master);
    if (replica === null) throw new Error(`${master.address} has no replica to kill`);
    await replica.kill();
    faults.replicaKills++;
    say(
      `fault: SIGKILL replica ${replica.address} (of ${master.address}) for ${REPLICA_DOWN_MS} ms`,
    );
    await delay(REPLICA_DOWN_MS);
    const restartedAt = Date.now();
    await replica.restart();
    await cluster.waitUntilHealthy();
    say(`${replica.address} restarted, in sync after ${Date.now() - restartedAt} ms`);
  };

  /** The slots the first reshard moved: the second moves them back. */
  let moved: readonly number[] = [];
  const reshard = async (publishOn: () => void, back: boolean) => {
    let from: ClusterNode;
    let to: ClusterNode;
    let count: number;
    if (back && moved.length > 0) {
      // Their new master had no slot below them, so they are its lowest: back they go, to the
      // shard that serves the slot after them (whichever node is its master after the failovers).
      from = await cluster.masterOf(moved[0]!);
      to = await cluster.masterOf(moved.at(-1)! + 1);
      count = moved.length;
    } else {
      from = await cluster.masterOf(queueSlot);
      const lowest = await cluster.slotsOf(from);
      count = lowest.filter((s) => s <= queueSlot).length + EXTRA_SLOTS;
      const others = await Promise.all(
        (await cluster.masters())
          .filter((m) => m.port !== from.port)
          .map(async (m) => ({ master: m, first: (await cluster.slotsOf(m))[0]! })),
      );
      const above = others.find((o) => o.first > lowest[count - 1]!) ?? others[0]!;
      to = above.master;
      moved = lowest.slice(0, count);
    }
    const slots = (await cluster.slotsOf(from)).slice(0, count);
    const keys = await countKeys(stage.redis, from, slots);
    const reshardMs = await heldSmtp(publishOn, async () => {
      const startedAt = Date.now();
      faultTimes.push(startedAt);
      await cluster.reshard(from, to, count);
      return Date.now() - startedAt;
    });
    faults.reshards++;
    faults.maxReshardMs = Math.max(faults.maxReshardMs, reshardMs);
    faults.slotsMoved += slots.length;
    const buckets = slots.filter((s) => slotsOf.buckets.has(s)).length;
    const queues = slots.filter((s) => slotsOf.queues.has(s)).length;
    faults.bucketSlotsMoved += buckets;
    faults.queueSlotsMoved += queues;
    faults.keysMoved += keys;
    say(
      `fault: resharded ${slots.length} slots (${slots[0]}–${slots.at(-1)}: ${queues} of the ` +
        `queues', ${buckets} of the suppression buckets', ${keys} keys) from ${from.address} to ` +
        `${to.address} in ${reshardMs} ms`,
    );
  };

  const schedule: ScheduledFault[] = SCHEDULE.map(([share, fault]) => [
    share,
    (publishOn) => {
      switch (fault) {
        case 'failover':
          return failover(publishOn);
        case 'replicaKill':
          return replicaKill(publishOn);
        case 'reshard':
          return reshard(publishOn, false);
        case 'reshardBack':
          return reshard(publishOn, true);
      }
    },
  ]);

  const stopProgress = startProgress(stage, publisher, total, say);
  try {
    await Promise.all([
      publisher.publish(ledger.publications),
      runSchedule(publisher, total, schedule),
    ]);
    say(`all ${total} published; waiting for the queue and the jobs to come to rest`);
    await untilAtRest(stage, say);
  } finally {
    stopProgress();
  }

  const judgement = await judge(stage, ledger, say);
  const { lost, duplicated, ...found } = judgement.verdict.figures;
  const figures = {
    published: total,
    lost,
    duplicated,
    faults: faults.masterKills + faults.replicaKills + faults.reshards,
    replicasAck: REPLICAS_ACK,
    form: SHORT ? 'short' : 'full',
    distinct: ledger.unique,
    publishedTwice: ledger.duplicates,
    ...faults,
    ...found,
    ...judgement.observed,
    smtpHold: SMTP_HOLD ? 'on' : 'off',
    seed: SEED,
    durationSeconds: Number(secondsSinceStart().toFixed(1)),
  };
  say(
    `summary: ${total} notifications, ${figures.faults} faults (${faults.masterKills} master ` +
      `kills, ${faults.replicaKills} replica kills, ${faults.reshards} reshards), ${lost} lost, ` +
      `${duplicated} duplicated, REDIS_MIN_REPLICAS_ACK=${REPLICAS_ACK}`,
  );
  const explain = explainDuplicateForwards(
    stage.smtp.accepted,
    stage.hold,
    faultTimes,
    'master SIGKILL or reshard',
  );
  const file = `${SUITE}${SHORT ? '-short' : ''}${REPLICAS_ACK === 0 ? '-ack0' : ''}`;
  return conclude(stage, { suite: SUITE, file, figures }, judgement, say, explain);
}

/** The slot of the suppression queue's keys under BULLMQ_PREFIX `prefix`. */
const suppressionQueueSlot = (prefix: string): number => workerQueueSlot('suppression', prefix);

/** Until a running node other than `killed` is master of `slot`. */
async function untilServedByAnother(
  cluster: RedisClusterServer,
  slot: number,
  killed: ClusterNode,
): Promise<ClusterNode> {
  const deadline = Date.now() + FAILOVER_TIMEOUT_MS;
  for (;;) {
    const master = await cluster.masterOf(slot).catch(() => null);
    if (master !== null && master.port !== killed.port && master.isRunning()) return master;
    if (Date.now() > deadline) throw new Error(`slot ${slot} not failed over within 30 s`);
    await delay(50);
  }
}

/** Until the restarted `node` has rejoined as `master`'s replica. */
async function untilReplicaOf(
  cluster: RedisClusterServer,
  master: ClusterNode,
  node: ClusterNode,
): Promise<void> {
  const deadline = Date.now() + FAILOVER_TIMEOUT_MS;
  while ((await cluster.replicaOf(master).catch(() => null))?.port !== node.port) {
    if (Date.now() > deadline)
      throw new Error(`${node.address} did not rejoin as a replica of ${master.address}`);
    await delay(100);
  }
}

/** The keys in `slots` on `master`, counted with one pipeline of CLUSTER COUNTKEYSINSLOT. */
async function countKeys(
  redis: RedisClient,
  master: ClusterNode,
  slots: readonly number[],
): Promise<number> {
  if (!isCluster(redis)) return 0;
  const node = redis.nodes('master').find((n) => n.options.port === master.port);
  if (node === undefined) return 0;
  const pipeline = node.pipeline();
  for (const slot of slots) pipeline.cluster('COUNTKEYSINSLOT', slot);
  const replies = (await pipeline.exec()) ?? [];
  return replies.reduce((sum, [error, n]) => sum + (error ? 0 : Number(n)), 0);
}

runSuite(SUITE, SEED, main);
