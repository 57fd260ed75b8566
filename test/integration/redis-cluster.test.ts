/** The harness's cluster is a real one: three masters, a replica each, keys spread by slot. */
import { setTimeout as delay } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import { Cluster, type ChainableCommander } from 'ioredis';
import {
  byNode,
  connectRedis,
  deleteMatching,
  waitForReplicas,
  type RedisClient,
} from '../../adapters/redis/connection';
import { pipelinePerNode } from '../../adapters/redis/pipelinePerNode';
import { startRedisCluster, type RedisClusterServer } from '../support/redisCluster';

let cluster: RedisClusterServer;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster();
  redis = connectRedis(cluster.target, { maxRetriesPerRequest: null });
}, 90_000);

afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

it('forms three masters with a replica each, and the worker connects as a cluster client', async () => {
  expect(redis).toBeInstanceOf(Cluster);
  const masters = await cluster.masters();
  expect(masters).toHaveLength(3);
  for (const master of masters) expect(await cluster.replicaOf(master)).not.toBeNull();
  await redis.set('{a}:x', '1');
  expect(await redis.get('{a}:x')).toBe('1');
});

it('groups keys by the node that serves them, one pipeline each', async () => {
  const keys = Array.from({ length: 64 }, (_, i) => `k:{${i}}`);
  const groups = byNode(redis, keys, (k) => k);
  expect(groups).toHaveLength(3);
  expect(groups.flat().sort()).toEqual([...keys].sort());
  for (const group of groups) {
    const pipeline = redis.pipeline();
    for (const key of group) pipeline.set(key, key);
    const replies = await pipeline.exec();
    expect(replies?.every(([error]) => error === null)).toBe(true);
  }
  expect(await Promise.all(keys.map((k) => redis.get(k)))).toEqual(keys);
});

it('waits for a replica of each written master, and fails when fewer confirm than asked', async () => {
  const keys = ['w:{1}', 'w:{2}', 'w:{3}', 'w:{4}'];
  await Promise.all(keys.map((k) => redis.set(k, 'v')));
  await expect(waitForReplicas(redis, keys, { replicas: 1, timeoutMs: 2000 })).resolves.toBe(
    undefined,
  );
  await expect(waitForReplicas(redis, keys, { replicas: 2, timeoutMs: 200 })).rejects.toThrow(
    /1 of 2 replicas confirmed/,
  );
});

it('deletes matching keys on every master, leaving the others', async () => {
  const keys = Array.from({ length: 40 }, (_, i) => `gone:{${i}}`);
  await Promise.all([...keys, 'kept:{1}'].map((k) => redis.set(k, '1')));
  expect(await deleteMatching(redis, 'gone:*')).toBe(40);
  expect(await Promise.all(keys.map((k) => redis.exists(k)))).toEqual(keys.map(() => 0));
  expect(await redis.get('kept:{1}')).toBe('1');
});

it('a master SIGKILLed for good: its slots’ commands go to the promoted replica, none left hanging', async () => {
  // As the worker's BullMQ connection: it waits out outages instead of failing at once.
  const waiting = connectRedis(cluster.target, { maxRetriesPerRequest: null });
  const master = (await cluster.masters())[0]!;
  const served = new Set(await cluster.slotsOf(master));
  const key = Array.from({ length: 1000 }, (_, i) => `failover:{${i}}`).find((k) =>
    served.has(calculateSlot(k)),
  )!;
  await waiting.set(key, 'before');
  const killedAt = Date.now();
  await master.kill();
  try {
    // One write every 250 ms for 8 s (a failover here takes about 3 s), each given 10 s to settle.
    const attempts: Promise<{ sentMs: number; outcome: 'ok' | 'error' | 'hung' }>[] = [];
    for (let sent = 0; sent < 8000; sent += 250) {
      const sentMs = Date.now() - killedAt;
      const timeout = delay(10_000, undefined, { ref: false }).then(() => 'hung' as const);
      const write = waiting.set(key, String(sentMs)).then(
        () => 'ok' as const,
        () => 'error' as const,
      );
      attempts.push(Promise.race([write, timeout]).then((outcome) => ({ sentMs, outcome })));
      await delay(250);
    }
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o.outcome === 'hung')).toEqual([]);
    expect(outcomes.filter((o) => o.outcome === 'ok').length).toBeGreaterThan(outcomes.length / 2);
    expect(master.isRunning()).toBe(false);
    const promoted = await cluster.masterOf(calculateSlot(key));
    expect(promoted.port).not.toBe(master.port);
    expect(Number(await waiting.get(key))).toBe(outcomes.at(-1)!.sentMs);
  } finally {
    waiting.disconnect();
    await master.restart();
    await cluster.waitUntilHealthy();
  }
}, 60_000);

/** `n` keys named `<name>:{<i>}` that hash to `slot` (one in about 16,384 does). */
function keysInSlot(slot: number, name: string, n: number): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < n; i++) {
    const key = `${name}:{${i}}`;
    if (calculateSlot(key) === slot) found.push(key);
  }
  return found;
}

it('pipelined reads right after a reshard are redirected, not failed, though the client’s slot map is stale', async () => {
  const reader = connectRedis(cluster.target, { maxRetriesPerRequest: 1 });
  try {
    const [from, to] = await cluster.masters();
    const moving = (await cluster.slotsOf(from!)).slice(0, 50);
    // A key in each of the 50 slots about to move, and one that stays.
    const keys = moving.map((slot) => keysInSlot(slot, 'moving', 1)[0]!);
    await Promise.all([...keys, 'staying:{x}'].map((k) => reader.set(k, k)));
    await cluster.reshard(from!, to!, moving.length);

    const read = (k: string) => ({ key: k, queue: (p: ChainableCommander) => p.get(k) });
    const values = await pipelinePerNode(reader, [...keys, 'staying:{x}'].map(read));
    expect(values).toEqual([...keys, 'staying:{x}']);
  } finally {
    reader.disconnect();
  }
}, 60_000);

it('a pipeline whose moved keys share one slot is regrouped too (ioredis would refuse to resend it)', async () => {
  const reader = connectRedis(cluster.target, { maxRetriesPerRequest: 1 });
  try {
    const [from, to] = await cluster.masters();
    const [moving, staying] = await cluster.slotsOf(from!);
    const keys = [...keysInSlot(moving!, 'one', 2), ...keysInSlot(staying!, 'one', 1)];
    await Promise.all(keys.map((k) => reader.set(k, k)));
    await cluster.reshard(from!, to!, 1);

    const read = (k: string) => ({ key: k, queue: (p: ChainableCommander) => p.get(k) });
    expect(await pipelinePerNode(reader, keys.map(read))).toEqual(keys);
  } finally {
    reader.disconnect();
  }
}, 60_000);
