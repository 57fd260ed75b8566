/** Deleting and dead-lettering SQS messages, reporting each message's result. */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { fitAttributes, MAX_MESSAGE_BYTES, messageBytes, splitBatches } from '../../domain/sqsSize';

/** SQS allows ten message attributes; the error takes four, the original keeps the rest. */
const MAX_MESSAGE_ATTRIBUTES = 10;
/** SQS limits an attribute value and the whole message; keep the error text short. */
const MAX_ERROR_TEXT = 1024;

/** Ids (SQS MessageId) of the messages an operation failed for, with the reason. */
export type FailedIds = ReadonlyMap<string, string>;

export interface PoisonMessage {
  readonly message: Message;
  /** `decode` or, once verified, `signature`: what replay filters on (`--error`). */
  readonly error: 'decode' | 'signature';
  /** Stable reason name, e.g. `notJson`, `unsupported`, `invalid`. */
  readonly reason: string;
  readonly path: string;
  readonly text: string;
}

/**
 * Set on every message a replay moves: the id of that replay run. A message the worker
 * dead-letters again keeps it (the worker keeps a message's own attributes), so the run that
 * moved it recognises it and does not move it a second time — no ping-pong between a queue and
 * its DLQ while a still-undecodable message is replayed with the worker running.
 */
export const REPLAY_ATTRIBUTE = 'ses-worker.replay';

/** Names of the attributes a dead-lettered message carries; replay and `dlq stats` read them. */
export const ERROR_ATTRIBUTES = {
  error: 'ses-worker.error',
  reason: 'ses-worker.error-reason',
  path: 'ses-worker.error-path',
  message: 'ses-worker.error-message',
} as const;

export async function deleteMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Message[],
): Promise<FailedIds> {
  if (messages.length === 0) return new Map();
  const entries = messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }));
  try {
    const result = await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );
    return failedIds(messages, result.Failed);
  } catch (error) {
    return allFailed(messages, error);
  }
}

/**
 * Sends each poison message to the DLQ, body unchanged, the error in its attributes. Batches are
 * split by total size as well as by count (SQS refuses a request over 1 MiB whole).
 */
export async function sendToDeadLetterQueue(
  sqs: SQSClient,
  dlqUrl: string,
  poison: readonly PoisonMessage[],
  maxMessageBytes = MAX_MESSAGE_BYTES,
): Promise<FailedIds> {
  const failures = await sendMessageBatches(
    sqs,
    dlqUrl,
    poison,
    (p) => ({
      body: p.message.Body ?? '',
      attributes: deadLetterAttributes(p, maxMessageBytes),
    }),
    errorMessage,
  );
  return new Map([...failures].map(([p, reason]) => [p.message.MessageId ?? '', reason]));
}

/**
 * The queue's `MaximumMessageSize` (1 KiB to 1 MiB; 256 KiB unless set): what a message sent
 * there may weigh, attributes included. A dead letter or a replayed message keeps every
 * attribute that fits under it.
 */
export async function queueMessageSizeLimit(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['MaximumMessageSize'] }),
  );
  const limit = Number(Attributes.MaximumMessageSize);
  return Number.isInteger(limit) && limit > 0 ? limit : MAX_MESSAGE_BYTES;
}

/** A message to send: its body and attributes, already fitted to SQS's message size. */
export interface OutgoingMessage {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
}

/**
 * Sends the items' messages to `queueUrl` in as few SendMessageBatch requests as SQS takes (10
 * entries, 1 MiB: `splitBatches`), all at once. Returns each item SQS did not accept, with why:
 * its entry's failure, or `describeError` of the error that failed its whole request.
 */
export async function sendMessageBatches<T>(
  sqs: SQSClient,
  queueUrl: string,
  items: readonly T[],
  messageOf: (item: T) => OutgoingMessage,
  describeError: (error: unknown) => string,
): Promise<Map<T, string>> {
  const entries = items.map((item) => {
    const { body, attributes } = messageOf(item);
    return { item, body, attributes, bytes: messageBytes(body, attributes) };
  });
  const failures = await Promise.all(
    splitBatches(entries, (e) => e.bytes).map(async (batch): Promise<[T, string][]> => {
      try {
        const result = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((e, i) => ({
              Id: String(i),
              MessageBody: e.body,
              MessageAttributes: e.attributes,
            })),
          }),
        );
        return (result.Failed ?? []).flatMap((entry) => {
          const failed = batch[Number(entry.Id)];
          return failed ? [[failed.item, entry.Message ?? entry.Code ?? 'failed']] : [];
        });
      } catch (error) {
        const reason = describeError(error);
        return batch.map((e) => [e.item, reason]);
      }
    }),
  );
  return new Map(failures.flat());
}

/**
 * The error attributes, then the message's own (the replay mark first), as many as SQS allows
 * and as fit beside the body within `maxMessageBytes`: past that, the error message is cut and
 * the rest dropped, but `ses-worker.error` is always there.
 */
export function deadLetterAttributes(
  poison: PoisonMessage,
  maxMessageBytes = MAX_MESSAGE_BYTES,
): Record<string, MessageAttributeValue> {
  const text = (value: string): MessageAttributeValue => ({
    DataType: 'String',
    // SQS rejects an empty string value.
    StringValue: value === '' ? '-' : value.slice(0, MAX_ERROR_TEXT),
  });
  const ours: [string, MessageAttributeValue, { shortenable?: boolean }?][] = [
    [ERROR_ATTRIBUTES.error, text(poison.error)],
    [ERROR_ATTRIBUTES.reason, text(poison.reason)],
    [ERROR_ATTRIBUTES.path, text(poison.path)],
    [ERROR_ATTRIBUTES.message, text(poison.text), { shortenable: true }],
  ];
  const names = new Set(ours.map(([name]) => name));
  // The replay mark first: it keeps a replay run from moving its own message twice.
  const original = Object.entries(poison.message.MessageAttributes ?? {})
    .filter(([name]) => !names.has(name))
    .sort(([a], [b]) => Number(b === REPLAY_ATTRIBUTE) - Number(a === REPLAY_ATTRIBUTE))
    .slice(0, MAX_MESSAGE_ATTRIBUTES - ours.length);
  return fitAttributes(poison.message.Body ?? '', [...ours, ...original], maxMessageBytes, true);
}

function failedIds(
  messages: readonly Message[],
  failed: readonly { Id?: string; Message?: string; Code?: string }[] | undefined,
): FailedIds {
  const ids = new Map<string, string>();
  for (const entry of failed ?? []) {
    const message = messages[Number(entry.Id)];
    if (message) ids.set(message.MessageId ?? '', entry.Message ?? entry.Code ?? 'failed');
  }
  return ids;
}

function allFailed(messages: readonly Message[], error: unknown): FailedIds {
  const reason = errorMessage(error);
  return new Map(messages.map((m) => [m.MessageId ?? '', reason]));
}

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
