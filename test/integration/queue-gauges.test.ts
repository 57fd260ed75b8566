/**
 * The queue gauges on real servers (the SQS emulator; one Redis server, then a three-master
 * cluster): exact SQS depths of the source queue and the DLQ and exact job counts per queue and
 * state, scraped from the registry and from a running worker's `/metrics`; which replicas report
 * what (ROLE=ingest: both gauges; ROLE=process: job counts only); SQS asked once per queue per
 * TTL however many scrapes and replicas; a failing or hanging SQS still lets `/metrics` answer,
 * with the last value kept and its timestamp left behind.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Worker, type Queue } from 'bullmq';
import pino, { type Logger } from 'pino';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import { openQueue, queueLocation } from '../../adapters/bullmq/layout';
import { makeMetrics, type Metrics } from '../../adapters/metrics/registry';
import { connectRedis, type RedisClient } from '../../adapters/redis/connection';
import { makeSqsClient } from '../../adapters/sqs/client';
import { sharedQueueDepth, sharedQueueDepthKey } from '../../adapters/sqs/sharedQueueDepth';
import { QUEUE_NAMES } from '../../domain/jobs';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { wireQueueGauges, type QueueGaugeTiming } from '../../worker/queueGauges';
import { SES_SYNC_QUEUE } from '../../worker/sesSync';
import { eventually } from '../support/await';
import { REDIS_MODES, useRedisUnderTest } from '../support/redisModes';
import { freePort, sdkClientConfig } from '../support/servers';
import { queueDepth, sendAll } from '../support/sqs';
import { useEmulator } from '../support/emulatorUnderTest';

/** The emulator, shared by both kinds of Redis. */
const servers = useEmulator();

const SILENT = pino({ level: 'silent' });
const ALL_QUEUES = [...QUEUE_NAMES, SES_SYNC_QUEUE];
let suites = 0;

/** The exposition lines of one metric (`name{…} value`), sorted. */
const seriesOf = (text: string, name: string): string[] =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .sort();

const valueOf = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
};

/** `ses_worker_jobs` lines for `counts` (every state of every queue named; absent states 0). */
function jobLines(counts: Record<string, Partial<Record<string, number>>>): string[] {
  return Object.entries(counts)
    .flatMap(([queue, states]) =>
      ['waiting', 'active', 'delayed', 'failed'].map(
        (state) => `ses_worker_jobs{queue="${queue}",state="${state}"} ${states[state] ?? 0}`,
      ),
    )
    .sort();
}

const sqsLines = (depths: Record<string, { visible: number; inFlight: number }>): string[] =>
  Object.entries(depths)
    .flatMap(([queue, d]) => [
      `ses_worker_sqs_queue_messages{queue="${queue}",state="visible"} ${d.visible}`,
      `ses_worker_sqs_queue_messages{queue="${queue}",state="in_flight"} ${d.inFlight}`,
    ])
    .sort();

/** An SQS client on the emulator that counts the GetQueueAttributes it sends. */
function countingSqsClient(): { sqs: SQSClient; calls: () => number; fail: (how: Fault) => void } {
  const config = sdkClientConfig(servers.emulator);
  const sqs = makeSqsClient({ ...config, customEndpoint: true });
  let calls = 0;
  let fault: Fault = null;
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetQueueAttributesCommand') {
        calls += 1;
        if (fault === 'error')
          throw Object.assign(new Error('Access denied'), { name: 'AccessDenied' });
        if (fault === 'hang') return new Promise<never>(() => undefined);
      }
      return next(args);
    },
    { step: 'initialize', name: 'countGetQueueAttributes' },
  );
  return { sqs, calls: () => calls, fail: (how) => (fault = how) };
}
type Fault = 'error' | 'hang' | null;

/** Pino lines, for the tests that check what a failing read says. */
function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}

it('with Redis not answering, each replica reads SQS itself: the SQS gauge does not need Redis', async () => {
  const t = await createSesTopology(servers.sqs, servers.sns, {
    name: `gauges-${++suites}-no-redis`,
  });
  await sendAll(servers.sqs, t.dlqUrl, ['x', 'y', 'z']);
  const nobody = connectRedis(
    { kind: 'single', url: `redis://127.0.0.1:${await freePort()}` },
    { enableOfflineQueue: false, maxRetriesPerRequest: 1, noReconnect: true },
  );
  nobody.on('error', () => undefined);
  const client = countingSqsClient();
  try {
    const read = sharedQueueDepth({
      sqs: client.sqs,
      redis: nobody,
      bullmqPrefix: '{gauges-no-redis}',
      queueUrl: t.dlqUrl,
      maxAgeMs: 60_000,
      sqsTimeoutMs: 2_000,
    });
    expect((await read()).value).toEqual({ visible: 3, inFlight: 0 });
    expect((await read()).value).toEqual({ visible: 3, inFlight: 0 });
    expect(client.calls()).toBe(2); // nothing shared: each read asks SQS
  } finally {
    nobody.disconnect();
    client.sqs.destroy();
  }
});

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  const under = useRedisUnderTest(mode);
  /** For the test's own queue handles and jobs; the workers under test have their own. */
  let redis: RedisClient;
  const opened: { close(): Promise<unknown> }[] = [];
  const running: RunningWorker[] = [];
  const sqsClients: SQSClient[] = [];
  beforeAll(() => {
    redis = under.connect({ maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.stop()));
    await Promise.all(opened.splice(0).map((o) => o.close()));
    for (const client of sqsClients.splice(0)) client.destroy();
  }, 40_000);
  afterAll(() => redis?.disconnect());

  let topologies = 0;
  const topology = () =>
    createSesTopology(servers.sqs, servers.sns, {
      name: `gauges-${++suites}-${mode}-${++topologies}`,
    });
  const newPrefix = () => `{gauges-${mode}-${++topologies}}`;

  const queuesAt = (prefix: string): Map<string, Queue> => {
    const queues = new Map(ALL_QUEUES.map((name) => [name, openQueue(name, redis, prefix)]));
    for (const queue of queues.values()) opened.push(queue);
    return queues;
  };

  /** A BullMQ worker of the test's on `queue`, with its own connection (BullMQ needs null retries). */
  const testWorker = (prefix: string, queue: string, process: () => Promise<void>) => {
    const connection = under.connect({ maxRetriesPerRequest: null });
    const at = queueLocation(prefix, queue);
    const worker = new Worker(at.name, process, { connection, prefix: at.prefix });
    worker.on('error', () => undefined);
    return {
      worker,
      async close() {
        await worker.close();
        connection.disconnect();
      },
    };
  };

  /** `count` jobs on `queue` that failed for good (one attempt each). */
  const failedJobs = async (prefix: string, queue: Queue, name: string, count: number) => {
    const failing = testWorker(prefix, name, () => Promise.reject(new Error('planned failure')));
    for (let i = 0; i < count; i++) await queue.add('job', { i }, { attempts: 1 });
    await eventually(
      async () => (await queue.getJobCounts('failed')).failed === count,
      `${count} failed jobs on ${name}`,
    );
    await failing.close();
  };

  /** Messages that stay in flight: received by the test with a long visibility timeout. */
  const inFlight = async (queueUrl: string, count: number) => {
    await sendAll(
      servers.sqs,
      queueUrl,
      Array.from({ length: count }, (_, i) => `held ${i}`),
    );
    let held = 0;
    while (held < count) {
      const { Messages = [] } = await servers.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, count - held),
          VisibilityTimeout: 600,
          WaitTimeSeconds: 1,
        }),
      );
      held += Messages.length;
    }
  };

  const configFor = (t: SesTopology, prefix: string, env: Record<string, string> = {}) =>
    loadConfig({
      SQS_QUEUE_URL: t.queueUrl,
      SQS_DLQ_URL: t.dlqUrl,
      AWS_REGION: servers.emulator.region,
      ...under.env,
      BULLMQ_PREFIX: prefix,
      HTTP_PORT: '0',
      SQS_WAIT_TIME_SECONDS: '1',
      SNS_VERIFY_SIGNATURES: 'false',
      ...env,
    });

  /** One replica's gauges, wired as the worker wires them, on the test's clients. */
  const replica = (
    t: SesTopology,
    prefix: string,
    sqs: SQSClient | null,
    timing: QueueGaugeTiming,
    log: Logger = SILENT,
  ): Metrics => {
    const metrics = makeMetrics();
    wireQueueGauges({
      config: configFor(t, prefix),
      log,
      gauges: metrics.queueGauges,
      sqs,
      redis,
      queues: queuesAt(prefix),
      timing,
    });
    return metrics;
  };

  it('reports the exact depths of the source queue and the DLQ, and every queue’s jobs by state', async () => {
    const t = await topology();
    const prefix = newPrefix();
    // Source: 3 visible, 2 in flight. DLQ: 4 visible.
    await inFlight(t.queueUrl, 2);
    await sendAll(servers.sqs, t.queueUrl, ['a', 'b', 'c']);
    await sendAll(servers.sqs, t.dlqUrl, ['d', 'e', 'f', 'g']);
    expect(await queueDepth(servers.sqs, t.queueUrl)).toEqual({ visible: 3, inFlight: 2 });

    const queues = queuesAt(prefix);
    const suppression = queues.get('suppression')!;
    await failedJobs(prefix, suppression, 'suppression', 3);
    await suppression.add('job', {});
    await suppression.add('job', {});
    await suppression.add('job', {}, { delay: 600_000 });
    // One inbound job held active until the end of the test.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holding = testWorker(prefix, 'inbound', () => held);
    await queues.get('inbound')!.add('job', {});
    await eventually(
      async () => (await queues.get('inbound')!.getJobCounts('active')).active === 1,
      'the inbound job active',
    );
    await queues.get(SES_SYNC_QUEUE)!.add('job', {});

    const { sqs } = countingSqsClient();
    sqsClients.push(sqs);
    const before = Date.now();
    const metrics = replica(t, prefix, sqs, { ttlMs: 60_000, timeoutMs: 3_000 });
    const text = await metrics.registry.metrics();
    release();
    await holding.close();

    expect(seriesOf(text, 'ses_worker_sqs_queue_messages')).toEqual(
      sqsLines({ source: { visible: 3, inFlight: 2 }, dlq: { visible: 4, inFlight: 0 } }),
    );
    expect(seriesOf(text, 'ses_worker_jobs')).toEqual(
      jobLines({
        suppression: { waiting: 2, delayed: 1, failed: 3 },
        inbound: { active: 1 },
        metrics: {},
        'ses-sync': { waiting: 1 },
      }),
    );
    for (const [name, labels] of [
      ['ses_worker_sqs_queue_messages_last_success_timestamp_seconds', ['source', 'dlq']],
      ['ses_worker_jobs_last_success_timestamp_seconds', ALL_QUEUES],
    ] as const) {
      expect(seriesOf(text, name)).toHaveLength(labels.length);
      for (const queue of labels) {
        const at = valueOf(text, `${name}{queue="${queue}"}`);
        expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000));
        expect(at).toBeLessThanOrEqual(Date.now() / 1000);
      }
    }
  });

  it('asks SQS once per queue per TTL, however many scrapes on however many replicas', async () => {
    const t = await topology();
    const prefix = newPrefix();
    await sendAll(servers.sqs, t.dlqUrl, ['x']);
    // Long enough for ten scrapes on a loaded machine, short enough to wait out once.
    const ttlMs = 4_000;
    const timing = { ttlMs, timeoutMs: 2_000 };
    const clients = [countingSqsClient(), countingSqsClient()];
    sqsClients.push(...clients.map((c) => c.sqs));
    const sqsCalls = () => clients.reduce((sum, c) => sum + c.calls(), 0);
    const replicas = clients.map((c) => replica(t, prefix, c.sqs, timing));
    const scrapeAll = async (rounds: number) => {
      const texts: string[] = [];
      for (let i = 0; i < rounds; i++)
        for (const r of replicas) texts.push(await r.registry.metrics());
      return texts;
    };

    const first = await scrapeAll(5);
    expect(sqsCalls()).toBe(2); // the source queue and the DLQ, once each, for both replicas
    for (const text of first)
      expect(valueOf(text, 'ses_worker_sqs_queue_messages{queue="dlq",state="visible"}')).toBe(1);
    // The reading Redis shares is the one every replica reports.
    expect(await redis.get(sharedQueueDepthKey(prefix, t.dlqUrl))).toMatch(/"visible":1\b/);

    await sendAll(servers.sqs, t.dlqUrl, ['y']);
    expect(sqsCalls()).toBe(2); // sending is not reading: still cached
    await delay(ttlMs); // the TTL is what is under test: wait it out
    const second = await scrapeAll(5);
    expect(sqsCalls()).toBe(4);
    expect(
      valueOf(second.at(-1)!, 'ses_worker_sqs_queue_messages{queue="dlq",state="visible"}'),
    ).toBe(2);
  });

  it('reads each queue’s job counts once per TTL per replica', async () => {
    const t = await topology();
    const prefix = newPrefix();
    let reads = 0;
    const counting = new Map(
      [...queuesAt(prefix)].map(([name, queue]) => [
        name,
        {
          getJobCounts: (...types: Parameters<Queue['getJobCounts']>) => {
            reads += 1;
            return queue.getJobCounts(...types);
          },
        },
      ]),
    );
    const metrics = makeMetrics();
    wireQueueGauges({
      config: configFor(t, prefix),
      log: SILENT,
      gauges: metrics.queueGauges,
      sqs: null,
      redis,
      queues: counting,
      timing: { ttlMs: 60_000, timeoutMs: 3_000 },
    });
    for (let i = 0; i < 5; i++) await metrics.registry.metrics();
    expect(reads).toBe(ALL_QUEUES.length);
  });

  it.each(['error', 'hang'] as const)(
    'an SQS that starts to %s: /metrics answers in time, keeps the last depth and its timestamp, says so once',
    async (fault) => {
      const t = await topology();
      const prefix = newPrefix();
      await sendAll(servers.sqs, t.dlqUrl, ['x', 'y']);
      const client = countingSqsClient();
      sqsClients.push(client.sqs);
      const ttlMs = 500;
      const timeoutMs = 700;
      const { log, lines } = capturedLog();
      const metrics = replica(t, prefix, client.sqs, { ttlMs, timeoutMs }, log);
      const dlqVisible = 'ses_worker_sqs_queue_messages{queue="dlq",state="visible"}';
      const dlqAt = 'ses_worker_sqs_queue_messages_last_success_timestamp_seconds{queue="dlq"}';

      const good = await metrics.registry.metrics();
      expect(valueOf(good, dlqVisible)).toBe(2);
      client.fail(fault);
      for (let i = 0; i < 3; i++) {
        await delay(ttlMs); // past the TTL (and the shared reading's age): a new read each time
        const started = Date.now();
        const text = await metrics.registry.metrics();
        expect(Date.now() - started).toBeLessThan(timeoutMs + 1_000);
        expect(valueOf(text, dlqVisible)).toBe(2);
        expect(valueOf(text, dlqAt)).toBe(valueOf(good, dlqAt));
        // The rest of /metrics is still there.
        expect(seriesOf(text, 'ses_worker_jobs')).toHaveLength(4 * ALL_QUEUES.length);
      }
      expect(client.calls()).toBeGreaterThanOrEqual(2 + 3);
      const failures = lines.filter(
        (l) =>
          l.msg === 'queue gauge: read failed; /metrics keeps the last value until a read succeeds',
      );
      expect(failures.map((l) => l.gauge).sort()).toEqual(['sqs:dlq', 'sqs:source']);

      client.fail(null);
      await delay(ttlMs);
      const recovered = await metrics.registry.metrics();
      expect(valueOf(recovered, dlqAt)).toBeGreaterThan(valueOf(good, dlqAt));
      expect(lines.filter((l) => l.msg === 'queue gauge: read again')).toHaveLength(2);
    },
  );

  describe('a running worker’s /metrics', () => {
    const scrape = async (worker: RunningWorker) => {
      const response = await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`);
      expect(response.status).toBe(200);
      return response.text();
    };
    const start = async (config: ReturnType<typeof configFor>, endpoint?: string) => {
      const { credentials, endpoint: emulator } = sdkClientConfig(servers.emulator);
      const worker = await startWorker({
        config,
        log: SILENT,
        sqsEndpoint: { endpoint: endpoint ?? emulator, credentials },
      });
      running.push(worker);
      return worker;
    };

    it('ROLE=ingest: the SQS depths and the job counts', async () => {
      const t = await topology();
      const prefix = newPrefix();
      await inFlight(t.queueUrl, 2); // out of the worker's reach: its receives get nothing
      await sendAll(servers.sqs, t.dlqUrl, ['d', 'e', 'f']);
      const metricsQueue = queuesAt(prefix).get('metrics')!;
      await failedJobs(prefix, metricsQueue, 'metrics', 2);

      const text = await scrape(await start(configFor(t, prefix, { ROLE: 'ingest' })));
      expect(seriesOf(text, 'ses_worker_sqs_queue_messages')).toEqual(
        sqsLines({ source: { visible: 0, inFlight: 2 }, dlq: { visible: 3, inFlight: 0 } }),
      );
      expect(seriesOf(text, 'ses_worker_jobs')).toEqual(
        jobLines({ suppression: {}, inbound: {}, metrics: { failed: 2 } }),
      );
    });

    it('ROLE=process, with SQS_QUEUE_URL or without: job counts (ses-sync’s too when on), no SQS series', async () => {
      const t = await topology();
      const prefix = newPrefix();
      await failedJobs(prefix, queuesAt(prefix).get('inbound')!, 'inbound', 1);
      const withUrl = await start(
        configFor(t, prefix, { ROLE: 'process', SES_SUPPRESSION_SYNC: 'push' }),
      );
      const withoutUrl = await start(
        loadConfig({ ...under.env, BULLMQ_PREFIX: prefix, HTTP_PORT: '0', ROLE: 'process' }),
      );

      const [synced, plain] = [await scrape(withUrl), await scrape(withoutUrl)];
      expect(seriesOf(synced, 'ses_worker_jobs')).toEqual(
        jobLines({ suppression: {}, inbound: { failed: 1 }, metrics: {}, 'ses-sync': {} }),
      );
      expect(seriesOf(plain, 'ses_worker_jobs')).toEqual(
        jobLines({ suppression: {}, inbound: { failed: 1 }, metrics: {} }),
      );
      for (const text of [synced, plain]) {
        expect(text).not.toContain('ses_worker_sqs_queue_messages{');
        expect(text).not.toContain('ses_worker_sqs_queue_messages_last_success_timestamp_seconds{');
      }
    });

    it('ROLE=ingest with an SQS endpoint that never answers: /metrics still answers in time', async () => {
      const t = await topology();
      const prefix = newPrefix();
      const blackHole = await silentServer();
      try {
        const worker = await start(configFor(t, prefix, { ROLE: 'ingest' }), blackHole.endpoint);
        const started = Date.now();
        const text = await scrape(worker);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(text).not.toContain('ses_worker_sqs_queue_messages{');
        expect(
          seriesOf(text, 'ses_worker_sqs_queue_messages_last_success_timestamp_seconds'),
        ).toEqual([
          'ses_worker_sqs_queue_messages_last_success_timestamp_seconds{queue="dlq"} 0',
          'ses_worker_sqs_queue_messages_last_success_timestamp_seconds{queue="source"} 0',
        ]);
        expect(seriesOf(text, 'ses_worker_jobs')).toEqual(
          jobLines({ suppression: {}, inbound: {}, metrics: {} }),
        );
      } finally {
        await Promise.all(running.splice(0).map((w) => w.stop()));
        await blackHole.close();
      }
    });
  });
});

/** A TCP server that accepts connections and never answers: an SQS endpoint that hangs. */
async function silentServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
