/**
 * The job sink on a real Redis: a queue given one job (a batch's suppression or metrics job) and
 * a queue given several take the same path to the caller — added once, deduplicated by job id
 * when the batch comes again, and refused per queue while Redis is unreachable.
 */
import { Redis } from 'ioredis';
import { makeJobQueues, type JobPolicy } from '../../adapters/bullmq/queues';
import type { JobSpec } from '../../domain/jobs';
import { startRedis, type RedisServer } from '../support/servers';

const POLICY: JobPolicy = {
  attempts: 3,
  backoffMs: 1000,
  keepCompletedSeconds: 3600,
  keepFailedSeconds: 3600,
};

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

const job = (queue: JobSpec['queue'], id: string): JobSpec =>
  ({ queue, name: 'test', id, data: { id } }) as unknown as JobSpec;

it('adds one job and several alike, each once however often the batch comes', async () => {
  const connection = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
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
  } finally {
    await queues.close();
    connection.disconnect();
  }
});

it('reports each queue failed, one job or several, while Redis is unreachable', async () => {
  const connection = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
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
