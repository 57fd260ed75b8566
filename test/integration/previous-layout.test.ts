/**
 * Upgrading from the layout where every queue sat under BULLMQ_PREFIX as written (`{p}:metrics:*`):
 * jobs written there by a BullMQ Queue with that prefix — as the previous version wrote them — are
 * run by a process-role worker of this version with the same processors, until none is left, and
 * the drain says so once when it starts and once when it is done, with counts only. Failed jobs
 * stay for `replay-failed` (replay.test.ts). On one server and on the cluster.
 */
import { Writable } from 'node:stream';
import { Queue, UnrecoverableError, type JobType } from 'bullmq';
import { isRight } from 'fp-ts/Either';
import pino from 'pino';
import { openQueue } from '../../adapters/bullmq/layout';
import { startQueueWorker } from '../../adapters/bullmq/workers';
import { makeSuppressionStore } from '../../adapters/redis/suppressionStore';
import { decodeSqsBody } from '../../domain/decode';
import type { DomainEvent } from '../../domain/events';
import { metricsJob, routeEvent } from '../../domain/routing';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { startPreviousLayoutDrain } from '../../worker/previousLayoutDrain';
import { eventually } from '../support/await';
import { syntheticNotification } from '../support/notifications';
import { REDIS_MODES, useRedisUnderTest } from '../support/redisModes';

const decoded = (body: string): DomainEvent => {
  const result = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(result.left.message);
  return result.right;
};

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const PENDING: JobType[] = ['waiting', 'delayed', 'active', 'prioritized'];

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  const redis = useRedisUnderTest(mode);
  let runs = 0;

  it('a process-role worker runs the jobs the previous layout holds, with the same processors, then stops; failed ones stay', async () => {
    const prefix = `{upgrade-${++runs}}`;
    const connection = redis.connect({ maxRetriesPerRequest: null });
    const previous = (name: string) => new Queue(name, { connection, prefix });
    const [suppression, inbound, metrics] = ['suppression', 'inbound', 'metrics'].map(previous);
    // A job that failed for good before the upgrade: replay-failed's, not the drain's.
    const failing = startQueueWorker({
      queue: 'metrics',
      connection,
      prefix,
      layout: 'previous',
      concurrency: 1,
      lockMs: 5000,
      process: () => Promise.reject(new UnrecoverableError('failed before the upgrade')),
      onOutcome: () => undefined,
      onError: () => undefined,
    });
    await metrics!.add('batch', { events: [] }, { jobId: 'metrics/batch/failed-before' });
    await eventually(async () => (await metrics!.getFailedCount()) === 1, 'the failed job');
    await failing.close();
    // Bounces (each address one job, as versions before batching left them), received mail,
    // and each batch's metrics job; one metrics job delayed, as a retry in backoff is.
    const events = Array.from({ length: 20 }, (_, i) => decoded(syntheticNotification(300 + i)));
    const perEvent = events.flatMap((event) => routeEvent(event));
    const suppressionJobs = perEvent.filter((job) => job.queue === 'suppression');
    const inboundJobs = perEvent.filter((job) => job.queue === 'inbound');
    expect(suppressionJobs.length).toBeGreaterThan(3);
    expect(inboundJobs.length).toBeGreaterThan(3);
    for (const job of suppressionJobs)
      await suppression!.add(job.name, job.data, { jobId: job.id });
    for (const job of inboundJobs) await inbound!.add(job.name, job.data, { jobId: job.id });
    const batches = [events.slice(0, 10), events.slice(10)].map((batch) => metricsJob(batch)!);
    await metrics!.add(batches[0]!.name, batches[0]!.data, { jobId: batches[0]!.id });
    await metrics!.add(batches[1]!.name, batches[1]!.data, { jobId: batches[1]!.id, delay: 1500 });

    const { log, lines } = logSink();
    const worker: RunningWorker = await startWorker({
      config: loadConfig({ ...redis.env, BULLMQ_PREFIX: prefix, ROLE: 'process', HTTP_PORT: '0' }),
      log,
    });
    try {
      await eventually(async () => {
        for (const queue of [suppression!, inbound!, metrics!])
          if ((await queue.getJobCountByTypes(...PENDING)) > 0) return false;
        return lines.some((l) => l.msg === 'the previous key layout is drained');
      }, 'the previous layout drained');

      // Their effects: every event counted once, every bounced address suppressed.
      const counted = (await worker.metrics.sesEvents.get()).values.reduce(
        (a, v) => a + v.value,
        0,
      );
      expect(counted).toBe(events.length);
      const suppressed = [
        ...new Set(
          suppressionJobs
            .filter((job) => job.name === 'bounce' || job.name === 'complaint')
            .map((job) => job.data.address),
        ),
      ].sort();
      const added = (await worker.metrics.suppressionChanges.get()).values
        .filter((v) => v.labels.outcome === 'added')
        .reduce((a, v) => a + v.value, 0);
      expect(added).toBe(suppressed.length);
      const found = await makeSuppressionStore(connection, prefix).check(suppressed, ['global']);
      expect([...found.keys()].sort()).toEqual(suppressed);
      expect(await metrics!.getFailedCount()).toBe(1);
      // Nothing went to the current layout's queues: the jobs ran where they were.
      for (const name of ['suppression', 'inbound', 'metrics']) {
        const current = openQueue(name, connection, prefix);
        expect(await current.getJobCountByTypes('completed', ...PENDING)).toBe(0);
        await current.close();
      }

      const told = lines.filter((l) => /previous key layout/.test(String(l.msg)));
      expect(told.map((l) => l.msg)).toEqual([
        'draining the jobs left in the previous key layout',
        'the previous key layout is drained',
      ]);
      expect(told[0]!.queues).toEqual({
        suppression: { waiting: suppressionJobs.length, delayed: 0, active: 0, prioritized: 0 },
        inbound: { waiting: inboundJobs.length, delayed: 0, active: 0, prioritized: 0 },
        metrics: { waiting: 1, delayed: 1, active: 0, prioritized: 0 },
      });
      expect(told[1]!.queues).toEqual({
        suppression: { completed: suppressionJobs.length, failed: 0 },
        inbound: { completed: inboundJobs.length, failed: 0 },
        metrics: { completed: 2, failed: 0 },
      });
      // Counts only: no address reaches the log.
      for (const address of suppressed) expect(JSON.stringify(told)).not.toContain(address);
    } finally {
      await worker.stop();
      await Promise.all([suppression, inbound, metrics].map((q) => q!.close()));
      connection.disconnect();
    }
  });

  it('keeps looking: jobs an ingest of the previous version adds later are run too; finished jobs past their age are removed', async () => {
    const prefix = `{upgrade-${++runs}}`;
    const connection = redis.connect({ maxRetriesPerRequest: null });
    const previous = new Queue('metrics', { connection, prefix });
    const ran: string[] = [];
    const { log, lines } = logSink();
    const drain = startPreviousLayoutDrain({
      connection,
      bullmqPrefix: prefix,
      queues: [
        {
          queue: 'metrics',
          startPreviousLayoutWorker: () =>
            startQueueWorker({
              queue: 'metrics',
              connection,
              prefix,
              layout: 'previous',
              concurrency: 1,
              lockMs: 5000,
              process: (_data, job) => {
                ran.push(job.id!);
                return Promise.resolve();
              },
              onOutcome: () => undefined,
              onError: () => undefined,
            }),
        },
      ],
      policy: { keepCompletedSeconds: 0, keepFailedSeconds: 3600, attempts: 1 },
      log,
      lookEveryMs: 200,
      checkEveryMs: 100,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(lines).toEqual([]); // nothing there: nothing said
      await previous.add('batch', { events: [] }, { jobId: 'late-1' });
      await eventually(() => Promise.resolve(ran.includes('late-1')), 'the late job run');
      await eventually(
        () => Promise.resolve(lines.some((l) => l.msg === 'the previous key layout is drained')),
        'the drain done',
      );
      await previous.add('batch', { events: [] }, { jobId: 'late-2' });
      await eventually(() => Promise.resolve(ran.includes('late-2')), 'the second late job run');
      // Completed jobs there dedupe nothing any more once past JOB_KEEP_COMPLETED_SECONDS (0).
      await eventually(
        async () => (await previous.getCompletedCount()) === 0,
        'the completed jobs removed',
      );
      await eventually(
        () =>
          Promise.resolve(
            lines.filter((l) => l.msg === 'the previous key layout is drained').length === 2,
          ),
        'the second drain done',
      );
      expect(ran).toEqual(['late-1', 'late-2']);
      expect(lines.map((l) => l.msg)).toEqual([
        'draining the jobs left in the previous key layout',
        'the previous key layout is drained',
        'draining the jobs left in the previous key layout',
        'the previous key layout is drained',
      ]);
    } finally {
      await drain.stop();
      await previous.close();
      connection.disconnect();
    }
  });
});
