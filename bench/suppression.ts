/**
 * npm run bench:suppression — what the suppression processor costs over a no-op BullMQ worker,
 * and how long the batch check of 10,000 addresses takes.
 *
 * Throughput: N suppression jobs (permanent and transient bounces, complaints including
 * not-spam, deliveries, subscriptions; a few thousand addresses, so entries get updated as well
 * as added) are enqueued, then drained by one BullMQ Worker (concurrency as the worker's
 * default) on a Redis of the bench's own. The baseline drains the same jobs with a processor
 * that does nothing; the real run applies the policy through the store's Lua script. Rounds
 * alternate the two so that machine noise hits both; the ratio is the median of the per-round
 * ratios real/no-op. After each real drain, the store must hold the entries the policy calls for.
 *
 * Check latency: a list of 100,000 entries, then `POST /suppressions/check` with 10,000
 * addresses (1 in 10 suppressed, spread over global and a contact list) over real HTTP, timed
 * from request to parsed answer; p50 and p99 over the samples. BENCH_JOBS overrides N.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { makeJobQueues } from '../adapters/bullmq/queues';
import { startHttpServer } from '../adapters/http/server';
import { suppressionRoutes } from '../adapters/http/suppressionRoutes';
import { makeMetrics } from '../adapters/metrics/registry';
import { makeSuppressionStore } from '../adapters/redis/suppressionStore';
import type { EmailAddress } from '../domain/address';
import type { JobSpec, SuppressionJob } from '../domain/jobs';
import { DEFAULT_SUPPRESSION_POLICY } from '../domain/suppression';
import { makeSuppressionProcessor } from '../worker/processors/suppression';
import { startRedis } from '../test/support/servers';
import { median, record } from './support';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const ROUNDS = 3;
const CONCURRENCY = 16;
const CHECK_ADDRESSES = 10_000;
const LIST_SIZE = 100_000;
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

/** Enqueues the jobs under a fresh prefix, then times one Worker draining them. */
async function drain(
  url: string,
  prefix: string,
  specs: readonly JobSpec[],
  processorFor: (
    connection: Redis,
  ) => (data: SuppressionJob, job: { id?: string }) => Promise<unknown>,
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
  const worker = new Worker<SuppressionJob>(
    'suppression',
    (job) => processorFor(connection)(job.data, job),
    {
      connection,
      prefix,
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
  return specs.length / seconds;
}

async function checkLatencies(
  url: string,
): Promise<{ p50: number; p99: number; storeP99: number }> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const store = makeSuppressionStore(redis, '{bench-check}');
  const evidence = { at: '2026-11-01T00:00:00.000Z', kind: 'import' as const };
  for (let i = 0; i < LIST_SIZE; i += 1000) {
    await Promise.all(
      Array.from({ length: 1000 }, (_, j) =>
        store.apply(
          `listed${i + j}@example.com` as EmailAddress,
          [
            {
              type: 'suppress',
              scope: (i + j) % 3 === 0 ? 'list:Newsletter' : 'global',
              reason: 'bounce',
              evidence,
            },
          ],
          null,
        ),
      ),
    );
  }
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
  };
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
    const specs: JobSpec[] = jobs.map((data, i) => ({
      queue: 'suppression',
      name: data.kind,
      id: `bench/${i}`,
      data,
    }));
    const metrics = makeMetrics();
    const noop: number[] = [];
    const real: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      noop.push(
        await drain(redisServer.url, `{bench-noop-${round}}`, specs, () => () => Promise.resolve()),
      );
      const prefix = `{bench-real-${round}}`;
      real.push(
        await drain(redisServer.url, prefix, specs, (connection) =>
          makeSuppressionProcessor(
            makeSuppressionStore(connection, prefix),
            DEFAULT_SUPPRESSION_POLICY,
            metrics,
          ),
        ),
      );
      // The real drain did the work: the permanent bounces' and abuse complaints' addresses.
      const redis = new Redis(redisServer.url);
      const counts = await makeSuppressionStore(redis, prefix).counts();
      redis.disconnect();
      if (counts.byReason.complaint + counts.byReason.bounce < 400)
        throw new Error(`round ${round}: only ${JSON.stringify(counts)} suppressed`);
      console.log(
        `round ${round + 1}: no-op ${Math.round(noop[round]!)} jobs/s, suppression ${Math.round(real[round]!)} jobs/s (${JSON.stringify(counts.byReason)})`,
      );
    }
    const roundRatios = real.map((r, i) => Math.round((r / noop[i]!) * 1000) / 1000);
    const check = await checkLatencies(redisServer.url);
    console.log(
      `check of ${CHECK_ADDRESSES} addresses over HTTP against ${LIST_SIZE} entries: p50 ${check.p50} ms, p99 ${check.p99} ms (store alone p99 ${check.storeP99} ms)`,
    );
    record('suppression', {
      noopJobsPerSec: Math.round(median(noop)),
      suppressionJobsPerSec: Math.round(median(real)),
      ratio: median(roundRatios),
      roundRatios,
      jobs: JOBS,
      concurrency: CONCURRENCY,
      checkAddresses: CHECK_ADDRESSES,
      listEntries: LIST_SIZE,
      checkP50Ms: check.p50,
      checkP99Ms: check.p99,
      checkStoreP99Ms: check.storeP99,
    });
  } finally {
    await redisServer.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
