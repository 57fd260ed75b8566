/** The harness's cluster is a real one: three masters, a replica each, keys spread by slot. */
import { Cluster } from 'ioredis';
import {
  byNode,
  connectRedis,
  deleteMatching,
  waitForReplicas,
  type RedisClient,
} from '../../adapters/redis/connection';
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
