/**
 * `ses-worker demo` (`npm run demo`): the whole pipeline on this machine in one command. Starts
 * the embedded emulator and the worker, publishes every sample notification (the SES
 * documentation's examples in test/fixtures) through the SNS topic plus one undecodable
 * message, waits until every job has run, prints what happened and exits.
 *
 * It runs under its own BullMQ prefix and deletes its keys afterwards, so it neither sees nor
 * leaves data in the Redis it borrows.
 */
import {
  connectRedis,
  deleteMatching,
  keyBase,
  type RedisClient,
} from '../../adapters/redis/connection';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Queue } from 'bullmq';
import { openQueue } from '../../adapters/bullmq/layout';
import { isRight } from 'fp-ts/Either';
import { EMULATOR_CREDENTIALS } from '../../adapters/emulator/embedded';
import { makeSqsClient } from '../../adapters/sqs/client';
import { ERROR_ATTRIBUTES } from '../../adapters/sqs/messages';
import { decodeSqsBody } from '../../domain/decode';
import { QUEUE_NAMES, type QueueName, type SuppressionBatchJob } from '../../domain/jobs';
import { eventId, routeEvent } from '../../domain/routing';
import { makeSuppressionStore } from '../../adapters/redis/suppressionStore';
import { EXIT, type Io } from '../io';
import { start } from './run';

const SAMPLE_FOLDERS = ['event-publishing', 'notifications', 'receiving'];
const POISON_BODY = '{"notificationType":"Bounce","mail":"this is not a mail object"}';
const DEADLINE_MS = 60_000;

export async function demoCommand(env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const samples = loadSamples();
  const prefix = `{ses-demo-${Date.now().toString(36)}}`;
  const started = await start(
    {
      ...env,
      SQS_QUEUE_URL: '',
      BULLMQ_PREFIX: prefix,
      HTTP_PORT: env.HTTP_PORT ?? '0',
      // A free port: the demo must not collide with an `npm start` running on EMULATOR_PORT.
      EMULATOR_PORT: '0',
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
      SQS_WAIT_TIME_SECONDS: '1',
    },
    { embedded: true, role: 'all' },
    io,
  );
  if (typeof started === 'number') return started;
  const { emulator, topology, config } = started;
  const out = (line = '') => io.stdout.write(`${line}\n`);
  const clientOptions = {
    region: emulator!.region,
    endpoint: emulator!.endpoint,
    credentials: EMULATOR_CREDENTIALS,
  };
  const sns = new SNSClient(clientOptions);
  const sqs = makeSqsClient({ ...clientOptions, customEndpoint: true });
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1 });
  // Shown by our names (`suppression`), not BullMQ's (`{suppression}`: adapters/bullmq/layout.ts).
  const queues = QUEUE_NAMES.map((name) => ({ name, queue: openQueue(name, redis, prefix) }));

  try {
    out(`Embedded emulator at ${emulator!.endpoint}; topic ${topology!.topicArn}`);
    out(
      `Publishing ${samples.length} sample notifications through SNS, and 1 undecodable message…`,
    );
    for (const sample of samples) {
      await sns.send(new PublishCommand({ TopicArn: topology!.topicArn, Message: sample.text }));
    }
    await sqs.send(
      new SendMessageCommand({ QueueUrl: topology!.queueUrl, MessageBody: POISON_BODY }),
    );

    const expected = expectedWork(samples.map((s) => s.text));
    const countedEvents = async () =>
      (await started.worker.metrics.sesEvents.get()).values.reduce((sum, v) => sum + v.value, 0);
    const done = await waitForWork(queues, expected, countedEvents, DEADLINE_MS);
    const counts = await Promise.all(
      queues.map(async (q) => [q.name, await q.queue.getJobCounts()] as const),
    );

    out();
    out('Events by kind (ses_events_total):');
    const events = await started.worker.metrics.sesEvents.get();
    for (const value of events.values.sort((a, b) =>
      String(a.labels.kind).localeCompare(String(b.labels.kind)),
    )) {
      out(
        `  ${String(value.labels.kind).padEnd(28)} ${String(value.value).padStart(3)}  configuration set: ${value.labels.configuration_set}`,
      );
    }
    out();
    out('Jobs by queue:');
    for (const [name, c] of counts) {
      out(
        `  ${name.padEnd(12)} completed ${c.completed ?? 0}, failed ${c.failed ?? 0}, waiting ${(c.waiting ?? 0) + (c.delayed ?? 0) + (c.active ?? 0)}`,
      );
    }
    out();
    const { entries } = await makeSuppressionStore(redis, prefix).list({ limit: 1000 });
    out(`Suppression entries (${entries.length}):`);
    for (const entry of entries) {
      const why = entry.evidence;
      const detail = [why.bounceSubType, why.complaintFeedbackType, why.diagnosticCode, why.note]
        .filter((part) => part !== undefined)
        .join(' — ');
      const shown = detail.length > 72 ? `${detail.slice(0, 71)}…` : detail;
      out(`  ${entry.address}  ${entry.scope}  ${entry.reason}${shown ? ` (${shown})` : ''}`);
    }
    out();
    const deadLetters = await peekDeadLetters(sqs, topology!.dlqUrl);
    out(`Dead-letter queue (${deadLetters.length}):`);
    for (const line of deadLetters) out(`  ${line}`);
    out();
    if (!done) {
      out(`Not every job finished within ${DEADLINE_MS / 1000} s.`);
      return EXIT.software;
    }
    out('Demo complete.');
    return EXIT.ok;
  } finally {
    sns.destroy();
    sqs.destroy();
    await Promise.all(queues.map((q) => q.queue.close()));
    await started.stop();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

interface Sample {
  readonly name: string;
  readonly text: string;
}

function loadSamples(): Sample[] {
  const fixtures = resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
  return SAMPLE_FOLDERS.flatMap((folder) =>
    readdirSync(join(fixtures, folder))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({
        name: `${folder}/${f}`,
        text: readFileSync(join(fixtures, folder, f), 'utf8'),
      })),
  );
}

/**
 * What "done" means for the samples: their distinct per-event job ids per queue, and their
 * distinct events, which the metrics jobs (one per batch) must have counted.
 */
function expectedWork(bodies: readonly string[]): { jobs: Map<QueueName, number>; events: number } {
  const ids = new Map<QueueName, Set<string>>(QUEUE_NAMES.map((q) => [q, new Set()]));
  const events = new Set<string>();
  for (const body of bodies) {
    const decoded = decodeSqsBody(body);
    if (!isRight(decoded)) continue;
    events.add(eventId(decoded.right));
    for (const job of routeEvent(decoded.right)) ids.get(job.queue)!.add(job.id);
  }
  return { jobs: new Map([...ids].map(([q, set]) => [q, set.size])), events: events.size };
}

async function waitForWork(
  queues: readonly { readonly name: QueueName; readonly queue: Queue }[],
  expected: ReturnType<typeof expectedWork>,
  countedEvents: () => Promise<number>,
  deadlineMs: number,
): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const finished = await Promise.all(
      queues.map(
        async (q) => (await finishedWork(q.name, q.queue)) >= (expected.jobs.get(q.name) ?? 0),
      ),
    );
    if (finished.every(Boolean) && (await countedEvents()) >= expected.events) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * Finished work in a queue: its completed and failed jobs; for suppression, the distinct
 * notifications its batch jobs carried (one job holds a whole SQS batch's).
 */
async function finishedWork(name: QueueName, queue: Queue): Promise<number> {
  if (name !== 'suppression') {
    const c = await queue.getJobCounts('completed', 'failed');
    return (c.completed ?? 0) + (c.failed ?? 0);
  }
  const notifications = new Set<string>();
  for (const job of await queue.getJobs(['completed', 'failed'])) {
    const data = job.data as Partial<SuppressionBatchJob>;
    for (const n of data.notifications ?? []) notifications.add(n.eventKey);
  }
  return notifications.size;
}

/** Reads the DLQ without deleting: what the worker dead-lettered, and why. */
async function peekDeadLetters(sqs: SQSClient, dlqUrl: string): Promise<string[]> {
  const lines: string[] = [];
  for (let attempt = 0; attempt < 10 && lines.length === 0; attempt++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
        VisibilityTimeout: 0,
      }),
    );
    for (const m of Messages) {
      const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue ?? '?';
      lines.push(
        `${attr(ERROR_ATTRIBUTES.error)}/${attr(ERROR_ATTRIBUTES.reason)}: ${attr(ERROR_ATTRIBUTES.message)}  body: ${(m.Body ?? '').slice(0, 60)}`,
      );
    }
  }
  return lines;
}

/** The demo's keys: under its prefix's base (the current layout) and the prefix itself (older). */
async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  await deleteMatching(redis, `${keyBase(prefix)}:*`);
  if (keyBase(prefix) !== prefix) await deleteMatching(redis, `${prefix}:*`);
}
