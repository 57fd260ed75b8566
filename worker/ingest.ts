/**
 * The ingest step: one SQS batch in, one explicit outcome per message out (STYLE.md §4), in
 * named steps: decode, verify, route, enqueue, dead-letter, delete, outcomes.
 *
 * Order matters (DESIGN.md, "Guarantees"): jobs are added first, and a message is deleted only
 * when every one of its jobs was accepted; a poison message is sent to the DLQ first and
 * deleted only once the DLQ has it. Anything else is left on the queue to come back after its
 * visibility timeout. Nothing here throws: a failure is an outcome.
 */
import type { Message } from '@aws-sdk/client-sqs';
import { isLeft } from 'fp-ts/Either';
import type { Logger } from 'pino';
import type { FailedIds, PoisonMessage } from '../adapters/sqs/messages';
import type { Metrics } from '../adapters/metrics/registry';
import type { SignatureCheck } from '../adapters/sns-signature/verifier';
import { decodeSqsBody } from '../domain/decode';
import type { DomainEvent } from '../domain/events';
import type { EventJobSpec, JobSpec, QueueName } from '../domain/jobs';
import type { EnqueueOutcome, JobSink } from '../domain/ports';
import { loggableError, redactText } from '../domain/redact';
import {
  metricsJob,
  routeEvent,
  suppressionBatchJob,
  withoutInboundContent,
} from '../domain/routing';

export type MessageOutcome =
  | {
      readonly type: 'enqueued';
      readonly messageId: string;
      readonly jobs: number;
      readonly deleted: boolean;
    }
  | {
      readonly type: 'deadLettered';
      readonly messageId: string;
      readonly reason: string;
      readonly deleted: boolean;
    }
  /** Poison, but no DLQ is configured: left for the queue's redrive policy. */
  | { readonly type: 'leftForRedrive'; readonly messageId: string; readonly reason: string }
  | {
      readonly type: 'retryLater';
      readonly messageId: string;
      /** What stopped it; also the `cause` label of ses_worker_sqs_messages_left_total. */
      readonly cause: RetryCause;
      readonly detail: string;
    };

export type RetryCause = 'enqueue' | 'deadLetter' | 'signature' | 'internal';

export interface IngestDeps {
  readonly sink: JobSink;
  readonly deleteMessages: (messages: readonly Message[]) => Promise<FailedIds>;
  /** Null when no DLQ is configured. */
  readonly deadLetter: ((poison: readonly PoisonMessage[]) => Promise<FailedIds>) | null;
  /**
   * Checks the SNS signature of an enveloped body; absent when verification is off. Only
   * verified events reach `onEvent` and routing.
   */
  readonly verifySignature?: (body: string) => Promise<SignatureCheck>;
  readonly onEvent?: (event: DomainEvent, message: Message) => void;
  /** False when forwarding is off: `received` jobs then carry no message content. */
  readonly keepInboundContent?: boolean;
  readonly metrics: Metrics;
  readonly log: Logger;
}

interface Decoded {
  readonly message: Message;
  readonly event: DomainEvent;
}

interface Routed {
  readonly message: Message;
  readonly event: DomainEvent;
  /** The event's own jobs; every message also depends on its batch's metrics job. */
  readonly jobs: readonly EventJobSpec[];
}

export async function ingestBatch(
  messages: readonly Message[],
  deps: IngestDeps,
): Promise<MessageOutcome[]> {
  try {
    return await ingest(messages, deps);
  } catch (error) {
    // A bug, not an input problem: leave the whole batch so nothing is lost.
    const detail = error instanceof Error ? error.message : String(error);
    deps.log.error(
      { err: loggableError(error), messages: messages.length },
      'ingest failed; batch left on the queue',
    );
    deps.metrics.messagesRetried.inc({ cause: 'internal' }, messages.length);
    return messages.map((m) => ({
      type: 'retryLater',
      messageId: idOf(m),
      cause: 'internal',
      detail,
    }));
  }
}

async function ingest(messages: readonly Message[], deps: IngestDeps): Promise<MessageOutcome[]> {
  deps.metrics.messagesReceived.inc(messages.length);
  deps.metrics.batchSize.observe(messages.length);
  const { decoded, undecodable } = decodeAll(messages, deps);
  const { verified, forged, unverifiable } = await verifyAll(decoded, deps);
  const poison = [...undecodable, ...forged];
  const enqueued = await enqueueJobs(routeAll(verified, deps), deps);
  const deadLetterFailures = await deadLetter(poison, deps);
  const deadLettered =
    deadLetterFailures === null
      ? []
      : poison.filter((p) => !deadLetterFailures.has(idOf(p.message)));
  const deleteFailures = await deleteDone(
    [...enqueued.accepted.map((r) => r.message), ...deadLettered.map((p) => p.message)],
    deps,
  );
  return outcomesOf(
    messages,
    { enqueued, unverifiable, poison, deadLetterFailures, deleteFailures },
    deps,
  );
}

/** Step 1: every body through the codecs; what does not decode is poison. */
function decodeAll(
  messages: readonly Message[],
  { metrics, log }: IngestDeps,
): { decoded: Decoded[]; undecodable: PoisonMessage[] } {
  const decoded: Decoded[] = [];
  const undecodable: PoisonMessage[] = [];
  for (const message of messages) {
    const result = decodeSqsBody(message.Body ?? '');
    if (isLeft(result)) {
      const error = result.left;
      metrics.decodeFailures.inc({ reason: error.reason });
      log.warn(
        { messageId: idOf(message), reason: error.reason, path: error.path },
        // Map keys in the path are the sender's: redacted like any text.
        `undecodable message: ${redactText(error.contentFree)}`,
      );
      undecodable.push({
        message,
        error: 'decode',
        reason: error.reason,
        path: error.path,
        text: error.message,
      });
    } else decoded.push({ message, event: result.right });
  }
  return { decoded, undecodable };
}

/**
 * Step 2: SNS signatures, where there are any to check. A forged one is poison; one that
 * cannot be checked now (certificate unreachable) comes back later.
 */
async function verifyAll(
  decoded: readonly Decoded[],
  { verifySignature, metrics, log }: IngestDeps,
): Promise<{
  verified: Decoded[];
  forged: PoisonMessage[];
  unverifiable: { message: Message; detail: string }[];
}> {
  const checks = await Promise.all(
    decoded.map(({ message, event }) =>
      // Raw message delivery carries no signature: only envelopes can be checked.
      verifySignature === undefined || event.sns === null
        ? Promise.resolve<SignatureCheck>({ type: 'valid' })
        : verifySignature(message.Body ?? ''),
    ),
  );
  const verified: Decoded[] = [];
  const forged: PoisonMessage[] = [];
  const unverifiable: { message: Message; detail: string }[] = [];
  decoded.forEach((item, i) => {
    const { message, event } = item;
    const check = checks[i]!;
    if (check.type === 'invalid') {
      metrics.signatureFailures.inc({ reason: check.reason });
      log.warn(
        { messageId: idOf(message), reason: check.reason, topicArn: event.sns?.topicArn },
        `SNS signature check failed: ${check.message}`,
      );
      forged.push({
        message,
        error: 'signature',
        reason: check.reason,
        path: '',
        text: check.message,
      });
    } else if (check.type === 'unavailable') {
      log.warn(
        { messageId: idOf(message) },
        `SNS signature not checked (${check.message}); the message will come back`,
      );
      unverifiable.push({ message, detail: check.message });
    } else verified.push(item);
  });
  return { verified, forged, unverifiable };
}

/** Step 3: each verified event's own jobs. */
function routeAll(verified: readonly Decoded[], deps: IngestDeps): Routed[] {
  return verified.map(({ message, event }) => {
    deps.onEvent?.(event, message);
    const jobs = routeEvent(event);
    return {
      message,
      event,
      jobs: deps.keepInboundContent === false ? withoutInboundContent(jobs) : jobs,
    };
  });
}

interface Enqueued {
  /** Messages all of whose jobs were accepted: safe to delete. */
  readonly accepted: readonly Routed[];
  readonly refused: readonly Routed[];
  readonly failed: EnqueueOutcome['failed'];
  readonly queuesOf: (r: Routed) => QueueName[];
}

/**
 * Step 4: the batch's jobs, one add per queue. Suppression and metrics are one job per batch
 * each, so a message depends on its batch's too.
 */
async function enqueueJobs(routed: readonly Routed[], deps: IngestDeps): Promise<Enqueued> {
  const eventJobs = routed.flatMap((r) => r.jobs);
  const suppression = suppressionBatchJob(eventJobs);
  const metrics = metricsJob(routed.map((r) => r.event));
  const jobs: JobSpec[] = eventJobs.filter((job) => job.queue !== 'suppression');
  if (suppression !== null) jobs.push(suppression);
  if (metrics !== null) jobs.push(metrics);
  const { failed } = await enqueueAll(jobs, deps);
  for (const [queue, error] of failed) {
    deps.log.error(
      { queue, err: loggableError(error) },
      `could not add jobs to ${queue}; their messages stay on the queue`,
    );
  }
  const queuesOf = (r: Routed): QueueName[] => [
    ...r.jobs.map((job) => job.queue),
    ...(metrics ? [metrics.queue] : []),
  ];
  const accepted = routed.filter((r) => queuesOf(r).every((queue) => !failed.has(queue)));
  const refused = routed.filter((r) => !accepted.includes(r)); // ≤ 10 each: no Set needed
  return { accepted, refused, failed, queuesOf };
}

/** Step 5: poison to the DLQ; null when there is none configured (the redrive policy's). */
async function deadLetter(
  poison: readonly PoisonMessage[],
  deps: IngestDeps,
): Promise<FailedIds | null> {
  if (deps.deadLetter === null) return null;
  return poison.length === 0 ? new Map() : await deps.deadLetter(poison);
}

/** Step 6: delete what was enqueued or dead-lettered. */
async function deleteDone(done: readonly Message[], deps: IngestDeps): Promise<FailedIds> {
  const failures = done.length === 0 ? new Map<string, string>() : await deps.deleteMessages(done);
  deps.metrics.messagesDeleted.inc(done.length - failures.size);
  for (const [messageId, reason] of failures) {
    // Its jobs are in; a redelivery adds nothing (job ids), so this costs only a duplicate receive.
    deps.log.warn({ messageId }, `delete failed: ${reason}`);
  }
  return failures;
}

/** Step 7: one outcome per message, in the batch's order, and the metrics that count them. */
function outcomesOf(
  messages: readonly Message[],
  batch: {
    readonly enqueued: Enqueued;
    readonly unverifiable: readonly { message: Message; detail: string }[];
    readonly poison: readonly PoisonMessage[];
    readonly deadLetterFailures: FailedIds | null;
    readonly deleteFailures: FailedIds;
  },
  { metrics, log }: IngestDeps,
): MessageOutcome[] {
  const { enqueued, unverifiable, poison, deadLetterFailures, deleteFailures } = batch;
  const deleted = (m: Message) => !deleteFailures.has(idOf(m));
  const outcomes = new Map<string, MessageOutcome>();
  for (const r of enqueued.accepted) {
    outcomes.set(idOf(r.message), {
      type: 'enqueued',
      messageId: idOf(r.message),
      jobs: r.jobs.length,
      deleted: deleted(r.message),
    });
  }
  for (const r of enqueued.refused) {
    const detail = `enqueue failed: ${[...new Set(enqueued.queuesOf(r))].filter((q) => enqueued.failed.has(q)).join(', ')}`;
    outcomes.set(idOf(r.message), {
      type: 'retryLater',
      messageId: idOf(r.message),
      cause: 'enqueue',
      detail,
    });
    metrics.messagesRetried.inc({ cause: 'enqueue' });
  }
  for (const { message, detail } of unverifiable) {
    outcomes.set(idOf(message), {
      type: 'retryLater',
      messageId: idOf(message),
      cause: 'signature',
      detail,
    });
    metrics.messagesRetried.inc({ cause: 'signature' });
  }
  for (const p of poison) {
    const messageId = idOf(p.message);
    if (deadLetterFailures === null) {
      metrics.messagesPoisoned.inc({ reason: p.reason, destination: 'redrive' });
      outcomes.set(messageId, { type: 'leftForRedrive', messageId, reason: p.reason });
    } else if (deadLetterFailures.has(messageId)) {
      log.error(
        { messageId },
        `could not send to the DLQ: ${deadLetterFailures.get(messageId)}; left on the queue`,
      );
      metrics.messagesRetried.inc({ cause: 'deadLetter' });
      outcomes.set(messageId, {
        type: 'retryLater',
        messageId,
        cause: 'deadLetter',
        detail: 'DLQ send failed',
      });
    } else {
      metrics.messagesPoisoned.inc({ reason: p.reason, destination: 'dlq' });
      outcomes.set(messageId, {
        type: 'deadLettered',
        messageId,
        reason: p.reason,
        deleted: deleted(p.message),
      });
    }
  }
  return messages.map((m) => outcomes.get(idOf(m))!);
}

async function enqueueAll(jobs: readonly JobSpec[], deps: IngestDeps): Promise<EnqueueOutcome> {
  if (jobs.length === 0) return { failed: new Map() };
  const stopTimer = deps.metrics.enqueueSeconds.startTimer();
  try {
    return await deps.sink.enqueue(jobs);
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return { failed: new Map(jobs.map((j) => [j.queue, failure])) };
  } finally {
    stopTimer();
  }
}

const idOf = (message: Message): string => message.MessageId ?? '';
