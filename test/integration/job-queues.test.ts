/**
 * The job sink on a real Redis, one server and a cluster: a queue given one job (a batch's
 * suppression or metrics job) and a queue given several take the same path to the caller — added
 * once, deduplicated by job id when the batch comes again, and refused per queue while Redis is
 * unreachable, or while the replicas REDIS_MIN_REPLICAS_ACK asks for do not confirm the adds.
 * On the cluster, each queue's keys share one slot and the queues' slots differ.
 */
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import { queueLocation } from '../../adapters/bullmq/layout';
import { makeJobQueues, type JobPolicy } from '../../adapters/bullmq/queues';
import { isCluster, type RedisClient } from '../../adapters/redis/connection';
import { QUEUE_NAMES, type JobSpec } from '../../domain/jobs';
import { REDIS_MODES, useRedisUnderTest, type RedisUnderTest } from '../support/redisModes';

const POLICY: JobPolicy = {
  attempts: 3,
  backoffMs: 1000,
  keepCompletedSeconds: 3600,
  keepFailedSeconds: 3600,
};

const job = (queue: JobSpec['queue'], id: string): JobSpec =>
  ({ queue, name: 'test', id, data: { id } }) as unknown as JobSpec;

const producer = (redis: RedisUnderTest) =>
  redis.connect({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });

/** Every key under `pattern` on every master (a cluster's SCAN sees one node at a time). */
async function keysOf(connection: RedisClient, pattern: string): Promise<string[]> {
  const nodes: Redis[] = isCluster(connection) ? connection.nodes('master') : [connection];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  const redis = useRedisUnderTest(mode);

  it('adds one job and several alike, each once however often the batch comes', async () => {
    const connection = producer(redis);
    const queues = makeJobQueues(connection, '{job-queues-a}', POLICY);
    try {
      const batch = [
        job('metrics', 'metrics/batch/1'),
        job('inbound', 'inbound/1'),
        job('inbound', 'inbound/2'),
      ];
      expect((await queues.enqueue(batch)).failed.size).toBe(0);
      expect((await queues.enqueue(batch)).failed.size).toBe(0);
      const waiting = async (name: JobSpec['queue']) =>
        (await queues.queues.get(name)!.getWaiting()).map((j) => j.id).sort();
      expect(await waiting('metrics')).toEqual(['metrics/batch/1']);
      expect(await waiting('inbound')).toEqual(['inbound/1', 'inbound/2']);
      // Under the prefix's base, each queue its own hash tag.
      expect((await keysOf(connection, 'job-queues-a:{inbound}:*')).length).toBeGreaterThan(0);
      expect(await keysOf(connection, '{job-queues-a}:*')).toEqual([]);
    } finally {
      await queues.close();
      connection.disconnect();
    }
  });

  it('reports each queue failed, one job or several, while Redis is unreachable', async () => {
    const connection = producer(redis);
    const queues = makeJobQueues(connection, '{job-queues-b}', POLICY);
    try {
      await queues.queues.get('metrics')!.waitUntilReady();
      connection.disconnect();
      const outcome = await queues.enqueue([
        job('metrics', 'metrics/batch/2'),
        job('inbound', 'inbound/3'),
        job('inbound', 'inbound/4'),
      ]);
      expect([...outcome.failed.keys()].sort()).toEqual(['inbound', 'metrics']);
    } finally {
      await queues.close().catch(() => undefined);
    }
  });

  if (mode === 'single') {
    it('reports each queue failed when asked for a replica the server does not have', async () => {
      const connection = producer(redis);
      const queues = makeJobQueues(connection, '{job-queues-c}', POLICY, {
        replicas: 1,
        timeoutMs: 100,
      });
      try {
        const outcome = await queues.enqueue([
          job('metrics', 'metrics/batch/3'),
          job('suppression', 'suppression/batch/3'),
        ]);
        expect([...outcome.failed.keys()].sort()).toEqual(['metrics', 'suppression']);
        expect(outcome.failed.get('metrics')?.name).toBe('ReplicationError');
        // The adds themselves went through: a redelivery finds them and adds nothing twice.
        expect(await queues.queues.get('metrics')!.getWaitingCount()).toBe(1);
      } finally {
        await queues.close();
        connection.disconnect();
      }
    });
  }

  if (mode === 'cluster') {
    it('refuses a queue whose master lost its replica, and only that one; accepts it again once the replica is back', async () => {
      const cluster = redis.cluster!;
      await cluster.waitUntilHealthy();
      const prefix = '{job-queues-d}';
      const slotOf = (name: string) => {
        const at = queueLocation(prefix, name);
        return calculateSlot(`${at.prefix}:${at.name}:id`);
      };
      const metricsMaster = await cluster.masterOf(slotOf('metrics'));
      // The queues' slots differ, but two may still share a master: compare with one that does not.
      const other = (
        await Promise.all(
          (['suppression', 'inbound'] as const).map(async (name) => ({
            name,
            master: await cluster.masterOf(slotOf(name)),
          })),
        )
      ).find((q) => q.master.address !== metricsMaster.address);
      const replica = (await cluster.replicaOf(metricsMaster))!;
      const connection = producer(redis);
      const queues = makeJobQueues(connection, prefix, POLICY, { replicas: 1, timeoutMs: 500 });
      try {
        const batch = (n: number) => [
          job('metrics', `metrics/batch/${n}`),
          ...(other === undefined ? [] : [job(other.name, `${other.name}/${n}`)]),
        ];
        expect((await queues.enqueue(batch(1))).failed.size).toBe(0);

        await replica.kill();
        const refused = await queues.enqueue(batch(2));
        expect([...refused.failed.keys()]).toEqual(['metrics']);
        expect(refused.failed.get('metrics')?.message).toMatch(/0 of 1 replicas confirmed/);

        await replica.restart();
        await cluster.waitUntilHealthy();
        // The same batch again (as SQS redelivers it), and a new one: both accepted now.
        expect((await queues.enqueue(batch(2))).failed.size).toBe(0);
        expect((await queues.enqueue(batch(3))).failed.size).toBe(0);
        expect((await queues.queues.get('metrics')!.getWaiting()).map((j) => j.id).sort()).toEqual([
          'metrics/batch/1',
          'metrics/batch/2',
          'metrics/batch/3',
        ]);
      } finally {
        if (!replica.isRunning()) await replica.restart();
        await queues.close();
        connection.disconnect();
      }
    });

    it('keeps each queue’s keys in one slot, a different slot per queue', async () => {
      const connection = producer(redis);
      const queues = makeJobQueues(connection, '{job-queues-e}', POLICY);
      try {
        const jobs = QUEUE_NAMES.flatMap((queue) => [
          job(queue, `${queue}/1`),
          job(queue, `${queue}/2`),
        ]);
        expect((await queues.enqueue(jobs)).failed.size).toBe(0);
        const slots = await Promise.all(
          QUEUE_NAMES.map(async (name) => {
            const keys = await keysOf(connection, `job-queues-e:{${name}}:*`);
            expect(keys.length).toBeGreaterThan(2); // the jobs, the wait list, meta, events…
            const slotsOfQueue = new Set(keys.map((key) => calculateSlot(key)));
            expect(slotsOfQueue.size).toBe(1);
            return [...slotsOfQueue][0];
          }),
        );
        expect(new Set(slots).size).toBe(QUEUE_NAMES.length);
      } finally {
        await queues.close();
        connection.disconnect();
      }
    });
  }
});
