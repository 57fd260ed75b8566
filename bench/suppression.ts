/**
 * npm run bench:suppression — suppression per SQS batch against the cheapest per-event design,
 * the batch check against a 1,000,000-entry list, and Redis memory per entry.
 *
 * Throughput: N suppression notifications (permanent and transient bounces, complaints including
 * not-spam, deliveries, subscriptions; a few thousand addresses, so entries get updated as well
 * as added), drained by one BullMQ Worker (concurrency 16) on a Redis of the bench's own, three
 * ways per round: the no-op worker taking one job per notification (the cheapest per-event
 * design); the no-op worker taking the batched jobs as the ingest makes them (one per 10 SQS
 * messages); the real processor taking the batched jobs. `ratio` is notifications per second,
 * real batched over no-op per notification; `perJobRatio` real over no-op on the same batched
 * jobs. Rounds alternate the runs so machine noise hits all; each ratio is the median of the
 * per-round ratios. After each real drain the store must hold what the policy calls for.
 *
 * Check latency: a list of 1,000,000 entries, then `POST /suppressions/check` with 10,000
 * addresses (1 in 10 suppressed, spread over global and a contact list) over real HTTP, timed
 * from request to parsed answer; p50 and p99 over the samples. Memory: `used_memory` before and
 * after the list, the audit trail (stream and per-address history) deleted, per entry.
 * BENCH_JOBS overrides N, BENCH_LIST_ENTRIES the list's size.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { queueLocation } from '../adapters/bullmq/layout';
import { makeJobQueues } from '../adapters/bullmq/queues';
import { startHttpServer } from '../adapters/http/server';
import { suppressionRoutes } from '../adapters/http/suppressionRoutes';
import { makeMetrics } from '../adapters/metrics/registry';
import { makeSuppressionStore, suppressionKeys } from '../adapters/redis/suppressionStore';
import type { EmailAddress } from '../domain/address';
import type { EventJobSpec, JobSpec, SuppressionBatchJob, SuppressionJob } from '../domain/jobs';
import { suppressionBatchJob } from '../domain/routing';
import { DEFAULT_SUPPRESSION_POLICY, SUPPRESSION_BUCKETS } from '../domain/suppression';
import { makeSuppressionProcessor } from '../worker/processors/suppression';
import { startRedis } from '../test/support/servers';
import { median, record } from './support';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const ROUNDS = 3;
const CONCURRENCY = 16;
/** Notifications per batched job: one SQS receive of 10 messages, one recipient each. */
const BATCH = 10;
const CHECK_ADDRESSES = 10_000;
const LIST_SIZE = Number(process.env.BENCH_LIST_ENTRIES ?? 1_000_000);
const CHECK_SAMPLES = 200;

function suppressionJobs(count: number): SuppressionJob[] {
  const jobs: SuppressionJob[] = [];
  for (let i = 0; i < count; i++) {
    const base = {
      address: `user${i % 4000}@example.com` as EmailAddress,
      sesMessageId: `bench-message-${i}`,
      timestamp: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
      configurationSet: 'bench',
      source: 'sender@example.org',
    };
    const slot = i % 10;
    if (slot < 3)
      jobs.push({
        ...base,
        kind: 'bounce',
        feedbackId: `bench-feedback-${i}`,
        bounceType: slot === 0 ? 'Permanent' : 'Transient',
        bounceSubType: slot === 0 ? 'General' : 'MailboxFull',
        status: '5.1.1',
        diagnosticCode: 'smtp; 550 5.1.1 user unknown',
      });
    else if (slot < 5)
      jobs.push({
        ...base,
        kind: 'complaint',
        feedbackId: `bench-feedback-${i}`,
        complaintFeedbackType: slot === 3 ? 'abuse' : 'not-spam',
        complaintSubType: null,
      });
    else if (slot < 9) jobs.push({ ...base, kind: 'delivery' });
    else
      jobs.push({
        ...base,
        kind: 'subscription',
        contactList: 'Newsletter',
        unsubscribeAll: false,
        topics: [{ topicName: 'Weekly', subscriptionStatus: i % 20 === 9 ? 'OptOut' : 'OptIn' }],
      });
  }
  return jobs;
}

type SuppressionData = SuppressionBatchJob | SuppressionJob;

/** Enqueues the jobs under a fresh prefix, then times one Worker draining them: seconds. */
async function drain(
  url: string,
  prefix: string,
  specs: readonly JobSpec[],
  processorFor: (
    connection: Redis,
  ) => (data: SuppressionData, job: { id?: string }) => Promise<unknown>,
): Promise<number> {
  const producer = new Redis(url, { maxRetriesPerRequest: null });
  const queues = makeJobQueues(producer, prefix, {
    attempts: 1,
    backoffMs: 1000,
    keepCompletedSeconds: 3600,
    keepFailedSeconds: 3600,
  });
  for (let i = 0; i < specs.length; i += 1000) {
    const { failed } = await queues.enqueue(specs.slice(i, i + 1000));
    if (failed.size > 0) throw new Error(`enqueue failed: ${[...failed.values()].join(', ')}`);
  }
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  let done = 0;
  let failures = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const started = performance.now();
  const at = queueLocation(prefix, 'suppression');
  const worker = new Worker<SuppressionData>(
    at.name,
    (job) => processorFor(connection)(job.data, job),
    {
      connection,
      prefix: at.prefix,
      concurrency: CONCURRENCY,
    },
  );
  const settle = () => {
    if (++done === specs.length) finished();
  };
  worker.on('completed', settle);
  worker.on('failed', () => {
    failures++;
    settle();
  });
  await allDone;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queues.close();
  producer.disconnect();
  connection.disconnect();
  if (failures > 0) throw new Error(`${failures} jobs failed`);
  return seconds;
}

async function checkLatencies(
  url: string,
): Promise<{ p50: number; p99: number; storeP99: number; bytesPerEntry: number }> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const prefix = '{bench-check}';
  const store = makeSuppressionStore(redis, prefix);
  const evidence = { at: '2026-11-01T00:00:00.000Z', kind: 'import' as const };
  const usedBefore = await usedMemory(redis);
  const loadStarted = performance.now();
  for (let i = 0; i < LIST_SIZE; i += 10_000) {
    const calls: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(LIST_SIZE, i + 10_000); j += 250)
      calls.push(
        store.applyAll(
          Array.from({ length: Math.min(250, LIST_SIZE - j) }, (_, k) => ({
            address: `listed${j + k}@example.com` as EmailAddress,
            changes: [
              {
                type: 'suppress',
                scope: (j + k) % 3 === 0 ? 'list:Newsletter' : 'global',
                reason: 'bounce',
                evidence,
              },
            ],
            eventKey: null,
          })),
        ),
      );
    await Promise.all(calls);
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  // The audit trail is capped and kept apart; the list itself is what grows with it.
  const { base, audit } = suppressionKeys(prefix);
  for (let b = 0; b < SUPPRESSION_BUCKETS; b += 256)
    await redis.unlink(
      ...Array.from({ length: Math.min(256, SUPPRESSION_BUCKETS - b) }, (_, i) => audit(b + i)),
    );
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${base}:*:history:*`, 'COUNT', 10_000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  const bytesPerEntry = Math.round(((await usedMemory(redis)) - usedBefore) / LIST_SIZE);
  console.log(
    `list of ${LIST_SIZE} entries loaded in ${loadSeconds.toFixed(1)} s; ${bytesPerEntry} bytes per entry without the audit trail`,
  );
  // 1 in 10 of the checked addresses is on the list.
  const addresses = Array.from({ length: CHECK_ADDRESSES }, (_, i) =>
    i % 10 === 0 ? `Listed${i * 7}@Example.com` : `unknown${i}@example.com`,
  );
  const http = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    registry: new Registry(),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    routes: [suppressionRoutes({ store, apiToken: 'bench' })],
  });
  const body = JSON.stringify({ addresses, contactList: 'Newsletter' });
  const httpMs: number[] = [];
  const storeMs: number[] = [];
  const normalised = addresses.map((a) => a.toLowerCase() as EmailAddress);
  for (let i = 0; i < CHECK_SAMPLES + 20; i++) {
    const start = performance.now();
    const response = await fetch(`http://127.0.0.1:${http.port}/suppressions/check`, {
      method: 'POST',
      headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
      body,
    });
    const answer = (await response.json()) as { suppressed: unknown[] };
    const elapsed = performance.now() - start;
    if (answer.suppressed.length !== CHECK_ADDRESSES / 10)
      throw new Error(`check found ${answer.suppressed.length}, expected ${CHECK_ADDRESSES / 10}`);
    const storeStart = performance.now();
    await store.check(normalised, ['global', 'list:Newsletter']);
    const storeElapsed = performance.now() - storeStart;
    // The first 20 warm the JIT and the connection.
    if (i >= 20) {
      httpMs.push(elapsed);
      storeMs.push(storeElapsed);
    }
  }
  await http.close();
  redis.disconnect();
  return {
    p50: percentile(httpMs, 0.5),
    p99: percentile(httpMs, 0.99),
    storeP99: percentile(storeMs, 0.99),
    bytesPerEntry,
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 10) / 10
  );
}

async function main(): Promise<void> {
  const redisServer = await startRedis();
  try {
    const jobs = suppressionJobs(JOBS);
    const perNotification: EventJobSpec[] = jobs.map((data, i) => ({
      queue: 'suppression',
      name: data.kind,
      id: `bench/${i}/${data.address}`,
      data,
    }));
    // As the ingest makes them: one job per SQS batch of 10 messages.
    const batched: JobSpec[] = [];
    for (let i = 0; i < perNotification.length; i += BATCH) {
      batched.push(suppressionBatchJob(perNotification.slice(i, i + BATCH))!);
    }
    const metrics = makeMetrics();
    const noop = () => () => Promise.resolve();
    const rates = {
      noopPerNotification: [] as number[],
      noopBatched: [] as number[],
      real: [] as number[],
    };
    for (let round = 0; round < ROUNDS; round++) {
      rates.noopPerNotification.push(
        JOBS / (await drain(redisServer.url, `{bench-noop-${round}}`, perNotification, noop)),
      );
      rates.noopBatched.push(
        JOBS / (await drain(redisServer.url, `{bench-noop-batched-${round}}`, batched, noop)),
      );
      const prefix = `{bench-real-${round}}`;
      rates.real.push(
        JOBS /
          (await drain(redisServer.url, prefix, batched, (connection) =>
            makeSuppressionProcessor(
              makeSuppressionStore(connection, prefix),
              DEFAULT_SUPPRESSION_POLICY,
              metrics,
            ),
          )),
      );
      // The real drain did the work: the permanent bounces' and abuse complaints' addresses.
      const redis = new Redis(redisServer.url);
      const counts = await makeSuppressionStore(redis, prefix).counts();
      redis.disconnect();
      if (counts.byReason.complaint + counts.byReason.bounce < 400)
        throw new Error(`round ${round}: only ${JSON.stringify(counts)} suppressed`);
      console.log(
        `round ${round + 1}: notifications/s: no-op per notification ${Math.round(rates.noopPerNotification[round]!)}, no-op batched ${Math.round(rates.noopBatched[round]!)}, suppression batched ${Math.round(rates.real[round]!)} (${JSON.stringify(counts.byReason)})`,
      );
    }
    const ratioOf = (over: number[]) =>
      rates.real.map((r, i) => Math.round((r / over[i]!) * 1000) / 1000);
    const roundRatios = ratioOf(rates.noopPerNotification);
    const perJobRoundRatios = ratioOf(rates.noopBatched);
    const check = await checkLatencies(redisServer.url);
    console.log(
      `check of ${CHECK_ADDRESSES} addresses over HTTP against ${LIST_SIZE} entries: p50 ${check.p50} ms, p99 ${check.p99} ms (store alone p99 ${check.storeP99} ms)`,
    );
    record('suppression', {
      noopNotificationsPerSec: Math.round(median(rates.noopPerNotification)),
      noopBatchedNotificationsPerSec: Math.round(median(rates.noopBatched)),
      suppressionNotificationsPerSec: Math.round(median(rates.real)),
      ratio: median(roundRatios),
      roundRatios,
      perJobRatio: median(perJobRoundRatios),
      perJobRoundRatios,
      notifications: JOBS,
      notificationsPerJob: BATCH,
      concurrency: CONCURRENCY,
      checkAddresses: CHECK_ADDRESSES,
      listEntries: LIST_SIZE,
      checkP50Ms: check.p50,
      checkP99Ms: check.p99,
      checkStoreP99Ms: check.storeP99,
      bytesPerEntry: check.bytesPerEntry,
    });
  } finally {
    await redisServer.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
