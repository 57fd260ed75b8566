/**
 * The composition root: builds every adapter from the configuration, wires the ingest and the
 * processors, serves HTTP, and stops it all in order. Nothing else constructs adapters.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Queue, Worker } from 'bullmq';
import {
  byNode,
  connectRedis,
  keyBase,
  waitForReplicas,
  type RedisClient,
} from '../adapters/redis/connection';
import type { Logger } from 'pino';
import { makeJobQueues, type JobQueues } from '../adapters/bullmq/queues';
import type { QueueLayout } from '../adapters/bullmq/layout';
import { startQueueWorker } from '../adapters/bullmq/workers';
import { makeSmtpSender } from '../adapters/mail/smtp';
import { makeS3Client, makeStoredMessages } from '../adapters/s3/messages';
import {
  startHttpServer,
  type HttpRoutes,
  type HttpServer,
  type ReadinessReport,
} from '../adapters/http/server';
import { makeMetrics, type Metrics } from '../adapters/metrics/registry';
import { makeReputationStore } from '../adapters/redis/reputationStore';
import { makeSentCopies } from '../adapters/redis/sentCopies';
import { makeSuppressionStore } from '../adapters/redis/suppressionStore';
import { suppressionRoutes } from '../adapters/http/suppressionRoutes';
import {
  makeSnsSignatureVerifier,
  type SnsSignatureOptions,
} from '../adapters/sns-signature/verifier';
import { makeSqsClient, SDK_DEFAULT_MAX_SOCKETS } from '../adapters/sqs/client';
import {
  deleteMessages,
  queueMessageSizeLimit,
  sendToDeadLetterQueue,
} from '../adapters/sqs/messages';
import { startPollers, type Pollers } from '../adapters/sqs/pollers';
import type { DomainEvent } from '../domain/events';
import type { SuppressionStore } from '../domain/ports';
import {
  QUEUE_NAMES,
  type ForwardJob,
  type InboundJob,
  type MetricsJob,
  type QueueName,
  type SuppressionBatchJob,
  type SuppressionJob,
} from '../domain/jobs';
import { withTimeout } from '../adapters/withTimeout';
import { loggableError } from '../domain/redact';
import { redactJobId } from '../domain/routing';
import type { WorkerConfig } from './config';
import { makeEnqueueGate } from './enqueueGate';
import { ingestBatch } from './ingest';
import { startLegacyMigration } from './legacyMigration';
import { startPreviousLayoutDrain, type DrainableQueue } from './previousLayoutDrain';
import type { ForwardingConfig } from './forwardingConfig';
import type { Forwarder } from './processors/forward';
import { makeInboundProcessor } from './processors/inbound';
import { makeMetricsProcessor } from './processors/metrics';
import { makeSuppressionProcessor } from './processors/suppression';
import { startReputationEvaluator } from './reputation';
import { redisConnectionErrors, type RedisConnectionErrors } from './redisConnectionErrors';
import { makeStatusFeature } from './status';
import { wireQueueGauges } from './queueGauges';
import { startSesSyncFeature, type SesSyncFeature } from './sesSyncFeature';
import { SES_SYNC_QUEUE } from './sesSync';
import { confirmSubscription } from '../adapters/sns/subscriptions';
import { MAX_MESSAGE_BYTES } from '../domain/sqsSize';

export interface WorkerOptions {
  readonly config: WorkerConfig;
  readonly log: Logger;
  /** For tests only: a local HTTPS server standing in for SNS's certificate host. */
  readonly snsSignature?: Pick<SnsSignatureOptions, 'certHost' | 'ca'>;
  /** For the embedded emulator: an explicit endpoint and static credentials (SQS, and S3). */
  readonly sqsEndpoint?: {
    readonly endpoint: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
}

export interface RunningWorker {
  readonly httpPort: number;
  readonly metrics: Metrics;
  readiness(): Promise<ReadinessReport>;
  /** Stops polling, finishes the batch in hand and the active jobs, closes connections. */
  stop(): Promise<void>;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { config, log } = options;
  const metrics = makeMetrics();
  const ingests = config.role !== 'process';
  const processes = config.role !== 'ingest';
  if (ingests && config.sqs.queueUrl === null) {
    throw new Error(
      'SQS_QUEUE_URL is required to ingest (or run with --embedded, or ROLE=process)',
    );
  }
  let stopping = false;

  // Producers must fail fast while Redis is down (nothing is deleted then); workers wait it out.
  // Both connect at once (no lazyConnect): BullMQ initialises a queue or worker once, waiting for
  // a connecting client to be ready, but failing for good on a client that was never connected.
  const producerRedis = connectRedis(config.redis, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  const workerRedis = connectRedis(config.redis, { maxRetriesPerRequest: null });
  const redisErrors = redisConnectionErrors(log);
  for (const [name, redis] of [
    ['producer', producerRedis],
    ['worker', workerRedis],
  ] as const) {
    redis.on('error', (error: Error) => redisErrors.error(name, error));
    // A cluster reports a node's failure (a failover in progress) as 'node error'.
    redis.on('node error', (error: Error) => redisErrors.error(name, error));
    redis.on('ready', () => redisErrors.ready(name));
  }

  const jobQueues: JobQueues = makeJobQueues(
    producerRedis,
    config.bullmqPrefix,
    config.jobs,
    config.replicasAck,
  );
  const sqs: SQSClient | null = ingests
    ? makeSqsClient({
        region: config.sqs.region,
        customEndpoint: config.sqs.customEndpoint,
        // Each poller has a receive or its batch's delete in flight, and may extend the batch's
        // visibility beside it; dead letters and readiness checks need a few more.
        maxSockets: Math.max(SDK_DEFAULT_MAX_SOCKETS, 2 * config.sqs.pollers + 8),
        ...(options.sqsEndpoint ?? {}),
      })
    : null;

  // SES's account-level suppression list (SES_SUPPRESSION_SYNC): off unless configured.
  const workerStore = makeSuppressionStore(
    workerRedis,
    config.bullmqPrefix,
    config.suppression.store,
  );
  const sesSync: SesSyncFeature | null =
    config.sesSync.mode === 'off'
      ? null
      : startSesSyncFeature({
          config,
          log,
          metrics,
          producerRedis,
          workerRedis,
          processes,
          workerStore,
        });

  const processors: Processors | null = processes
    ? startProcessors(
        options,
        workerRedis,
        redisErrors,
        metrics,
        sesSync?.wrap(workerStore, 'worker') ?? workerStore,
      )
    : null;
  const workers: Worker[] = processors?.workers ?? [];
  // Jobs an upgrade left in the previous key layout's queues, run by the same processors.
  const previousLayoutDrain =
    processors === null
      ? null
      : startPreviousLayoutDrain({
          connection: workerRedis,
          bullmqPrefix: config.bullmqPrefix,
          queues: [...processors.drainable, ...(sesSync?.drainable ?? [])],
          policy: config.jobs,
          log,
        });

  const pollers: Pollers | null =
    sqs === null ? null : startIngest(options, sqs, jobQueues, metrics, () => stopping);

  // The producer connection fails fast while Redis is down: an API call errors, not hangs.
  const ownSuppressionList = makeSuppressionStore(
    producerRedis,
    config.bullmqPrefix,
    config.suppression.store,
  );
  const suppressionList = sesSync?.wrap(ownSuppressionList, 'producer') ?? ownSuppressionList;
  // On the failing-fast connection: a pass while Redis is down fails and is retried, and
  // shutdown never waits on it.
  const legacyMigration = startLegacyMigration({
    redis: producerRedis,
    store: ownSuppressionList,
    keyPrefix: config.bullmqPrefix,
    log,
  });
  // Each feature adds its routes here (suppression API, reputation, status page).
  const httpRoutes: HttpRoutes[] = [
    suppressionRoutes({ store: suppressionList, apiToken: config.apiToken }),
  ];
  const status = makeStatusFeature({
    config,
    log,
    metrics,
    redis: producerRedis,
    workerRedis,
    queues: jobQueues.queues,
    sqs,
    suppressionCounts: () => suppressionList.counts(),
    sesSync: sesSync === null ? null : () => sesSync.view(),
  });
  httpRoutes.push(...status.routes);
  wireQueueGauges({
    config,
    log,
    gauges: metrics.queueGauges,
    sqs,
    redis: producerRedis,
    queues: new Map<string, Pick<Queue, 'getJobCounts'>>([
      ...jobQueues.queues,
      ...(sesSync === null ? [] : [[SES_SYNC_QUEUE, sesSync.queue] as const]),
    ]),
  });
  // Every process replica evaluates; the store lets one of them announce each change.
  const evaluator = processes
    ? startReputationEvaluator(status.monitor, config.reputation.evaluateMs, log)
    : null;

  const readiness = makeReadiness({
    config,
    sqs,
    producerRedis,
    isStopping: () => stopping,
    metrics,
  });
  /** Stops what is running, in dependency order: no new work, then finish, then disconnect. */
  const shutdown = async (http: HttpServer | null) => {
    stopping = true;
    await waitingFor('the batches in hand', log, pollers?.stop());
    await waitingFor(
      'the active jobs',
      log,
      // The drain first: its inbound jobs may fan out through the forwarder, which closes with
      // the current inbound worker.
      (async () => {
        await previousLayoutDrain?.stop();
        await Promise.all(workers.map((w) => w.close()));
      })(),
    );
    await waitingFor('SES sync', log, sesSync?.stop());
    await waitingFor('the reputation evaluator', log, evaluator?.stop());
    await waitingFor('the suppression list move', log, legacyMigration.stop());
    await waitingFor('the job queues', log, jobQueues.close());
    await waitingFor('Redis', log, Promise.all([quit(producerRedis), quit(workerRedis)]));
    sqs?.destroy();
    await waitingFor('the HTTP server', log, http?.close());
  };
  let http: HttpServer;
  try {
    http = await startHttpServer({
      port: config.httpPort,
      registry: metrics.registry,
      readiness,
      routes: httpRoutes,
    });
  } catch (error) {
    await shutdown(null);
    throw error;
  }
  log.info(
    { port: http.port, role: config.role, queueUrl: config.sqs.queueUrl, node: process.version },
    'ses-worker running',
  );

  return {
    httpPort: http.port,
    metrics,
    readiness,
    async stop() {
      log.info(
        { inFlightBatches: pollers?.inFlightBatches ?? 0 },
        'stopping: no new receives; finishing the batches in hand and active jobs',
      );
      await shutdown(http);
      log.info('stopped');
    },
  };
}

function startIngest(
  options: WorkerOptions,
  sqs: SQSClient,
  sink: JobQueues,
  metrics: Metrics,
  isStopping: () => boolean,
): Pollers {
  const { config, log } = options;
  const queueUrl = config.sqs.queueUrl!;
  const dlqUrl = config.sqs.dlqUrl;
  if (dlqUrl === null)
    log.warn('SQS_DLQ_URL not set: undecodable messages are left for the queue’s redrive policy');
  const verifier = config.snsVerifySignatures
    ? makeSnsSignatureVerifier({
        topicArns: config.snsTopicArns,
        certDir: config.snsCertificates.dir,
        fetchCertificates: config.snsCertificates.fetch,
        ...options.snsSignature,
      })
    : null;
  if (verifier === null)
    log.warn(
      'SNS signature verification is off (SNS_VERIFY_SIGNATURES=false): forged notifications would be accepted',
    );

  const onEvent = (event: DomainEvent) => {
    if (event.kind === 'sesEventDestinationTest') {
      log.info(
        { topicArn: event.sns?.topicArn },
        'SES validated this SNS topic as an event destination (setup notice); nothing to do',
      );
      return;
    }
    if (event.kind !== 'snsSubscriptionConfirmation') return;
    log.warn(
      { topicArn: event.sns.topicArn, subscribeUrl: event.subscribeUrl },
      config.sqs.confirmSubscriptions
        ? 'SNS subscription confirmation received; confirming'
        : 'SNS subscription confirmation received; visit SubscribeURL to confirm (SNS_CONFIRM_SUBSCRIPTIONS=true confirms automatically)',
    );
    if (config.sqs.confirmSubscriptions) {
      void confirmSubscription(event.subscribeUrl).then(
        () => log.info({ topicArn: event.sns.topicArn }, 'SNS subscription confirmed'),
        (error: Error) =>
          log.error(
            { topicArn: event.sns.topicArn, err: loggableError(error) },
            'SNS subscription not confirmed',
          ),
      );
    }
  };

  // The DLQ's MaximumMessageSize, read once it is first needed (again after a failed read):
  // a dead letter keeps every error attribute that fits beside its body under it.
  let dlqLimit: Promise<number> | null = null;
  const dlqMessageBytes = (url: string) =>
    (dlqLimit ??= queueMessageSizeLimit(sqs, url).catch((error: unknown) => {
      dlqLimit = null;
      log.warn(
        { err: loggableError(error) },
        'could not read the DLQ’s MaximumMessageSize; assuming 256 KiB',
      );
      return MAX_MESSAGE_BYTES;
    }));

  const gate = makeEnqueueGate(() => sink.isConnected(), isStopping, log);
  return startPollers({
    sqs,
    queueUrl,
    pollers: config.sqs.pollers,
    batchSize: config.sqs.batchSize,
    waitTimeSeconds: config.sqs.waitTimeSeconds,
    visibilityTimeoutSeconds: config.sqs.visibilityTimeoutSeconds,
    heartbeatIntervalSeconds: config.sqs.heartbeatIntervalSeconds,
    handleBatch: async (messages) => {
      log.debug({ messages: messages.length }, 'batch received');
      const outcomes = await ingestBatch(messages, {
        sink,
        deleteMessages: (batch) => deleteMessages(sqs, queueUrl, batch),
        deadLetter:
          dlqUrl === null
            ? null
            : async (poison) =>
                sendToDeadLetterQueue(sqs, dlqUrl, poison, await dlqMessageBytes(dlqUrl)),
        onEvent,
        keepInboundContent: config.forwarding !== null,
        ...(verifier === null ? {} : { verifySignature: (body: string) => verifier.verify(body) }),
        metrics,
        log,
      });
      gate.enqueued(!outcomes.some((o) => o.type === 'retryLater' && o.cause === 'enqueue'));
      log.debug({ outcomes }, 'batch done');
    },
    beforeReceive: () => gate.beforeReceive(),
    onError: (error, context) => {
      if (isStopping() && error.name === 'AbortError') return;
      if (isStopping() && /abort/i.test(error.message)) return;
      log.error({ context, err: loggableError(error) }, 'sqs consumer error');
    },
  });
}

interface Processors {
  readonly workers: Worker[];
  /** The same processors, for the queues of the previous key layout (previousLayoutDrain.ts). */
  readonly drainable: DrainableQueue[];
}

function startProcessors(
  options: WorkerOptions,
  workerRedis: RedisClient,
  redisErrors: RedisConnectionErrors,
  metrics: Metrics,
  store: SuppressionStore,
): Processors {
  const { config, log } = options;
  const common = {
    connection: workerRedis,
    prefix: config.bullmqPrefix,
    concurrency: config.jobs.concurrency,
    lockMs: config.jobs.lockMs,
    // A job in hand when its process dies comes back as often as it may fail: a kill or two
    // (a deploy, an OOM elsewhere) must not fail it for good; one that keeps killing stops.
    maxStalledCount: config.jobs.attempts,
    onOutcome: (
      queue: QueueName,
      outcome: 'completed' | 'retrying' | 'failed',
      job: { id?: string } | undefined,
      error?: Error,
    ) => {
      metrics.jobs.inc({ queue, outcome });
      if (outcome !== 'completed')
        log.warn(
          {
            queue,
            jobId: job?.id === undefined ? undefined : redactJobId(job.id),
            err: error === undefined ? undefined : loggableError(error),
          },
          `job ${outcome}`,
        );
    },
    // BullMQ's own connections (copies of the worker connection) retry as it does: while it is
    // not ready, their errors are the same outage, told once with its own.
    onError: (error: Error) => {
      if (workerRedis.status !== 'ready') redisErrors.error('worker', error);
      else log.warn({ err: loggableError(error) }, 'bullmq worker error');
    },
  };
  const forwarder =
    config.forwarding === null ? null : makeForwarder(options, workerRedis, config.forwarding);
  const processInbound = makeInboundProcessor({ metrics, log, forwarder });
  const processSuppression = makeSuppressionProcessor(store, config.suppression.policy, metrics);
  const processMetrics = makeMetricsProcessor(
    metrics,
    makeReputationStore(workerRedis, {
      keyPrefix: config.bullmqPrefix,
      markerTtlSeconds: config.metricsDedupeSeconds,
      maxConfigurationSets: config.metricsMaxConfigurationSets,
      maxIdentities: config.metricsMaxIdentities,
    }),
    {
      maxConfigurationSets: config.metricsMaxConfigurationSets,
      maxTemplates: config.metricsMaxTemplates,
    },
  );
  const starters: Record<QueueName, (layout: QueueLayout) => Worker> = {
    suppression: (layout) =>
      startQueueWorker<SuppressionBatchJob | SuppressionJob>({
        ...common,
        layout,
        queue: 'suppression',
        process: processSuppression,
      }),
    inbound: (layout) =>
      startQueueWorker<InboundJob | ForwardJob>({
        ...common,
        layout,
        queue: 'inbound',
        process: processInbound,
      }),
    metrics: (layout) =>
      startQueueWorker<MetricsJob>({
        ...common,
        layout,
        queue: 'metrics',
        process: processMetrics,
      }),
  };
  const inbound = starters.inbound('current');
  // The forwarder's clients (fan-out queue, SMTP, S3) close once its worker has finished (a
  // drain of the previous layout's inbound queue is stopped before: see the shutdown).
  inbound.on('closed', () => {
    forwarder
      ?.close()
      .catch((error: Error) => log.warn({ err: loggableError(error) }, 'forwarder close'));
  });
  return {
    workers: [starters.suppression('current'), inbound, starters.metrics('current')],
    drainable: QUEUE_NAMES.map((queue) => ({
      queue,
      startPreviousLayoutWorker: () => starters[queue]('previous'),
    })),
  };
}

/**
 * Inbound forwarding's adapters. The fan-out adds `forward` jobs on the worker connection, not
 * the producer's: a `received` job in progress should wait out a Redis outage, not fail at once.
 */
function makeForwarder(
  options: WorkerOptions,
  workerRedis: RedisClient,
  forwarding: ForwardingConfig,
): Forwarder & { close(): Promise<void> } {
  const { config } = options;
  // No REDIS_MIN_REPLICAS_ACK wait here: `forward` jobs go to the `received` job's own queue, so
  // to the same master; a failover that lost them lost that job's completion too, and it reruns.
  const fanOut = makeJobQueues(workerRedis, config.bullmqPrefix, config.jobs);
  const s3 = makeS3Client({
    region: config.sqs.region,
    customEndpoint: forwarding.s3CustomEndpoint,
    // The embedded emulator serves S3 on its SQS endpoint.
    ...(options.sqsEndpoint ?? {}),
  });
  const sender = makeSmtpSender(forwarding.smtpUrl, forwarding.smtpTimeouts);
  return {
    config: forwarding,
    fanOut,
    storedMessages: makeStoredMessages(s3),
    sender,
    // As long as a forward job's id deduplicates: a redelivery after that is a new copy anyway.
    sentCopies: makeSentCopies(
      workerRedis,
      config.bullmqPrefix,
      Math.max(config.jobs.keepCompletedSeconds, 86_400),
    ),
    async close() {
      sender.close();
      s3.destroy();
      await fanOut.close();
    },
  };
}

function makeReadiness(deps: {
  config: WorkerConfig;
  sqs: SQSClient | null;
  producerRedis: RedisClient;
  isStopping: () => boolean;
  metrics: Metrics;
}): () => Promise<ReadinessReport> {
  const SQS_CHECK_TTL_MS = 5000;
  let sqsChecked: { at: number; result: string } | null = null;
  const checkSqs = async (): Promise<string> => {
    if (deps.sqs === null || deps.config.sqs.queueUrl === null) return 'not used';
    if (sqsChecked && Date.now() - sqsChecked.at < SQS_CHECK_TTL_MS) return sqsChecked.result;
    const result = await withTimeout(
      deps.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: deps.config.sqs.queueUrl,
          AttributeNames: ['QueueArn'],
        }),
      ),
      2000,
    ).then(
      () => 'ok',
      (error: Error) => `unreachable: ${error.message}`,
    );
    sqsChecked = { at: Date.now(), result };
    return result;
  };
  // A write, not a PING: Redis at maxmemory (noeviction) or a read-only replica answers PING
  // while refusing every job. Small keys with a TTL, so probes never accumulate; on a cluster
  // one per master (any shard refusing writes stalls the jobs whose keys it serves).
  const checkRedis = async (): Promise<string> => {
    if (deps.producerRedis.status !== 'ready')
      return `unreachable: connection ${deps.producerRedis.status}`;
    const probes = readinessProbeKeys(deps.producerRedis, keyBase(deps.config.bullmqPrefix));
    try {
      await withTimeout(
        Promise.all(probes.map((key) => deps.producerRedis.set(key, '1', 'PX', 10_000))),
        1000,
      );
    } catch (error) {
      const message = loggableError(error).message;
      return /^(OOM|READONLY|MISCONF)/.test((error as Error).message)
        ? `refusing writes: ${message}`
        : `unreachable: ${message}`;
    }
    // With REDIS_MIN_REPLICAS_ACK, a shard short of replicas stalls every batch it serves.
    const { replicas } = deps.config.replicasAck;
    if (replicas === 0) return 'ok';
    try {
      await waitForReplicas(deps.producerRedis, probes, { replicas, timeoutMs: 500 });
      return 'ok';
    } catch (error) {
      return `replicas short: ${loggableError(error).message}`;
    }
  };
  return async () => {
    const [redis, sqs] = await Promise.all([checkRedis(), checkSqs()]);
    const checks = { redis, sqs, shutdown: deps.isStopping() ? 'in progress' : 'no' };
    const ready = !deps.isStopping() && redis === 'ok' && (sqs === 'ok' || sqs === 'not used');
    deps.metrics.ready.set(ready ? 1 : 0);
    return { ready, checks };
  };
}

/** Awaits one step of the shutdown, saying every few seconds that it still waits, and on what. */
async function waitingFor(step: string, log: Logger, done: Promise<unknown> | undefined) {
  const started = Date.now();
  const timer = setInterval(
    () => log.warn({ waitedMs: Date.now() - started }, `stopping: still waiting for ${step}`),
    SHUTDOWN_STEP_WARN_MS,
  );
  try {
    await done;
  } finally {
    clearInterval(timer);
  }
}

const SHUTDOWN_STEP_WARN_MS = 5_000;

async function quit(redis: RedisClient): Promise<void> {
  try {
    await withTimeout(redis.quit(), 1000);
  } catch {
    redis.disconnect();
  }
}

/** One key per node that serves slots (the hash tags `{0}`…`{255}` cover every master). */
function readinessProbeKeys(redis: RedisClient, base: string): string[] {
  const candidates = Array.from({ length: 256 }, (_, tag) => `${base}:readyz-probe:{${tag}}`);
  return byNode(redis, candidates, (key) => key).map((group) => group[0]!);
}
