/**
 * Moving messages out of a dead-letter queue, safely: a message is sent to the target first and
 * deleted from the DLQ only once the target has accepted it, so at every instant it is in the
 * DLQ or the target (possibly both, never neither) — whatever kills the process.
 *
 * One pass reads the DLQ with `ReceiveMessage`. Every message it does not move stays hidden
 * (its visibility timeout) until the pass ends, then is released at once (visibility 0): were
 * it released straight away, the next receive would hand it back and a DLQ of mostly
 * non-matching messages would be read over and over instead of through. A pass that is killed
 * leaves them hidden until that timeout — still in the DLQ. A message that reappears anyway
 * (the pass outlasted the timeout) is recognised by its id and hidden again, not counted twice.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { fitAttributes, MAX_MESSAGE_BYTES } from '../../domain/sqsSize';
import {
  ERROR_ATTRIBUTES,
  queueMessageSizeLimit,
  REPLAY_ATTRIBUTE,
  sendMessageBatches,
} from './messages';
import { queueDepth } from './queueDepth';

export { REPLAY_ATTRIBUTE };

const OUR_ATTRIBUTE_PREFIX = 'ses-worker.';
const MAX_MESSAGE_ATTRIBUTES = 10;

/** What the pass knows about one message, read off its attributes. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  /** `ses-worker.error` / `-reason` / `-message`, null when absent. */
  readonly error: string | null;
  readonly reason: string | null;
  readonly errorMessage: string | null;
  /** The replay run that last moved it back, null if none. */
  readonly replayRun: string | null;
  readonly sentAtMs: number | null;
  readonly receiveCount: number | null;
}

export function readDeadLetter(message: Message): DeadLetter {
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue ?? null;
  const system = (name: 'SentTimestamp' | 'ApproximateReceiveCount') => {
    const value = Number(message.Attributes?.[name]);
    return Number.isFinite(value) && message.Attributes?.[name] !== undefined ? value : null;
  };
  return {
    messageId: message.MessageId ?? '',
    body: message.Body ?? '',
    error: attribute(ERROR_ATTRIBUTES.error),
    reason: attribute(ERROR_ATTRIBUTES.reason),
    errorMessage: attribute(ERROR_ATTRIBUTES.message),
    replayRun: attribute(REPLAY_ATTRIBUTE),
    sentAtMs: system('SentTimestamp'),
    receiveCount: system('ApproximateReceiveCount'),
  };
}

/**
 * The attributes a replayed message carries: its own, without the `ses-worker.*` ones the
 * worker added (a message that fails again gets fresh ones; one the redrive policy moves later
 * must not arrive with a stale error), plus the run's mark.
 */
export function replayAttributes(
  message: Message,
  runId: string,
  maxMessageBytes = MAX_MESSAGE_BYTES,
): Record<string, MessageAttributeValue> {
  const own = Object.entries(message.MessageAttributes ?? {}).filter(
    ([name]) => !name.startsWith(OUR_ATTRIBUTE_PREFIX),
  );
  // SQS allows ten; a message the redrive policy moved may have them all: it goes unmarked. A
  // body near the size limit keeps only the attributes that still fit beside it.
  const mark = [REPLAY_ATTRIBUTE, { DataType: 'String', StringValue: runId }] as const;
  return fitAttributes(
    message.Body ?? '',
    own.length >= MAX_MESSAGE_ATTRIBUTES ? own : [...own, mark],
    maxMessageBytes,
  );
}

/** What became of one message, as the pass reports it (see REPLAY_OUTCOMES in the domain). */
export type MoveOutcome = 'moved' | 'wouldMove' | 'kept' | 'returned' | 'failed' | 'copied';

export interface MoveOptions {
  readonly sqs: SQSClient;
  /** The DLQ. */
  readonly from: string;
  /** Where selected messages go; null moves nothing (a dry run, or counting). */
  readonly to: string | null;
  /** Marks what this pass moves (REPLAY_ATTRIBUTE); unique per run. */
  readonly runId: string;
  /** Decides, once per message, whether it is to be moved. */
  readonly select: (letter: DeadLetter) => boolean;
  /** At most this many selected (moved, or attempted); null: no limit. */
  readonly maxSelected: number | null;
  /** Messages per receive, 1–10 (a low --rate receives fewer). */
  readonly batchSize: number;
  /** How long received messages stay hidden; must outlast the pass to avoid re-reading. */
  readonly visibilityTimeoutSeconds: number;
  /** Long-poll wait of each receive; an empty answer ends the pass. */
  readonly waitTimeSeconds: number;
  /** Aborted: finish the batch in hand (unless it is still waiting to be sent), then stop. */
  readonly signal: AbortSignal;
  /**
   * Awaited before sending a batch of `count` (pacing for --rate). Resolves false if the pass
   * was stopped while waiting: the batch is then kept in the DLQ.
   */
  readonly beforeSend?: (count: number) => Promise<boolean>;
  readonly onOutcome: (letter: DeadLetter, outcome: MoveOutcome, detail?: string) => void;
}

export interface MoveReport {
  /** `empty`: the DLQ had nothing more to show; `max`: --max reached; `stopped`: signal. */
  readonly end: 'empty' | 'max' | 'stopped' | 'error';
  /** Why receiving failed, when `end` is `error`. */
  readonly error: string | null;
  /** Messages made visible again at the end. */
  readonly released: number;
  /** Messages that could not be released: they reappear after the visibility timeout. */
  readonly releaseFailures: number;
}

const RELEASE_CONCURRENCY = 8;

export async function moveDeadLetters(options: MoveOptions): Promise<MoveReport> {
  /** Receipt handle of every message held hidden until the end, by message id. */
  const held = new Map<string, string>();
  // Whatever ends the pass (even a bug that throws), nothing it hid stays hidden longer than it must.
  const ended = await pass(options, held).catch(async (error: unknown) => {
    await releaseAll(options.sqs, options.from, held);
    throw error;
  });
  const release = await releaseAll(options.sqs, options.from, held);
  return { ...ended, released: release.released, releaseFailures: release.failures };
}

async function pass(
  options: MoveOptions,
  held: Map<string, string>,
): Promise<Pick<MoveReport, 'end' | 'error'>> {
  /** Every message id this pass has decided about. */
  const seen = new Set<string>();
  /** The target's MaximumMessageSize, read before the first send. */
  let targetLimit: number | undefined;
  let selected = 0;
  for (;;) {
    if (options.signal.aborted) return { end: 'stopped', error: null };
    const remaining = options.maxSelected === null ? null : options.maxSelected - selected;
    if (remaining !== null && remaining <= 0) return { end: 'max', error: null };
    let messages: Message[];
    try {
      messages = await receive(options, Math.min(options.batchSize, remaining ?? 10));
    } catch (error) {
      return { end: 'error', error: describe(error) };
    }
    if (messages.length === 0) return { end: 'empty', error: null };

    const toMove: { message: Message; letter: DeadLetter }[] = [];
    for (const message of messages) {
      const letter = readDeadLetter(message);
      const handle = message.ReceiptHandle ?? '';
      if (seen.has(letter.messageId)) {
        // Back after its visibility lapsed (or delivered twice): decided already; keep it hidden.
        held.set(letter.messageId, handle);
        continue;
      }
      seen.add(letter.messageId);
      if (letter.replayRun === options.runId) {
        held.set(letter.messageId, handle);
        options.onOutcome(letter, 'returned');
      } else if (options.select(letter)) {
        selected++;
        toMove.push({ message, letter });
      } else {
        held.set(letter.messageId, handle);
        options.onOutcome(letter, 'kept');
      }
    }
    if (toMove.length === 0) continue;

    const to = options.to;
    const sendNow = to !== null && (await (options.beforeSend?.(toMove.length) ?? true));
    if (to === null || !sendNow) {
      for (const { message, letter } of toMove) {
        held.set(letter.messageId, message.ReceiptHandle ?? '');
        if (to === null) options.onOutcome(letter, 'wouldMove');
        else options.onOutcome(letter, 'kept', 'stopped before it was sent');
      }
      continue;
    }
    targetLimit ??= await queueMessageSizeLimit(options.sqs, to).catch(() => MAX_MESSAGE_BYTES);
    await moveBatch(options, to, toMove, held, targetLimit);
  }
}

async function receive(options: MoveOptions, count: number): Promise<Message[]> {
  const { Messages = [] } = await options.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: options.from,
      MaxNumberOfMessages: count,
      VisibilityTimeout: options.visibilityTimeoutSeconds,
      WaitTimeSeconds: options.waitTimeSeconds,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
    }),
  );
  return Messages;
}

/** Send, then delete what the target accepted. Nothing is deleted that was not sent. */
async function moveBatch(
  options: MoveOptions,
  to: string,
  batch: readonly { message: Message; letter: DeadLetter }[],
  held: Map<string, string>,
  maxMessageBytes: number,
): Promise<void> {
  const sendFailures = await sendBatch(options.sqs, to, batch, options.runId, maxMessageBytes);
  const sent = batch.filter(({ letter }) => !sendFailures.has(letter.messageId));
  for (const { message, letter } of batch) {
    const failure = sendFailures.get(letter.messageId);
    if (failure === undefined) continue;
    held.set(letter.messageId, message.ReceiptHandle ?? '');
    options.onOutcome(letter, 'failed', failure);
  }
  if (sent.length === 0) return;
  const deleteFailures = await deleteBatch(options.sqs, options.from, sent);
  for (const { message, letter } of sent) {
    const failure = deleteFailures.get(letter.messageId);
    if (failure === undefined) {
      options.onOutcome(letter, 'moved');
    } else {
      // In both queues now; releasing it keeps the DLQ's copy where an operator can see it.
      held.set(letter.messageId, message.ReceiptHandle ?? '');
      options.onOutcome(letter, 'copied', failure);
    }
  }
}

/** Sends in requests split by total size as well as count: SQS refuses one over 1 MiB whole. */
async function sendBatch(
  sqs: SQSClient,
  to: string,
  batch: readonly { message: Message; letter: DeadLetter }[],
  runId: string,
  maxMessageBytes: number,
): Promise<Map<string, string>> {
  const failures = await sendMessageBatches(
    sqs,
    to,
    batch,
    (item) => ({
      body: item.message.Body ?? '',
      attributes: replayAttributes(item.message, runId, maxMessageBytes),
    }),
    describe,
  );
  return new Map([...failures].map(([{ letter }, reason]) => [letter.messageId, reason]));
}

async function deleteBatch(
  sqs: SQSClient,
  from: string,
  batch: readonly { message: Message; letter: DeadLetter }[],
): Promise<Map<string, string>> {
  try {
    const result = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: from,
        Entries: batch.map(({ message }, i) => ({
          Id: String(i),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
    return byMessageId(batch, result.Failed);
  } catch (deleteError) {
    return new Map(batch.map(({ letter }) => [letter.messageId, describe(deleteError)]));
  }
}

function byMessageId(
  batch: readonly { letter: DeadLetter }[],
  failed: readonly { Id?: string; Message?: string; Code?: string }[] | undefined,
): Map<string, string> {
  const failures = new Map<string, string>();
  for (const entry of failed ?? []) {
    const item = batch[Number(entry.Id)];
    if (item) failures.set(item.letter.messageId, entry.Message ?? entry.Code ?? 'failed');
  }
  return failures;
}

/** Makes every held message visible again, ten per call, a few calls at a time. */
async function releaseAll(
  sqs: SQSClient,
  queueUrl: string,
  held: ReadonlyMap<string, string>,
): Promise<{ released: number; failures: number }> {
  const handles = [...held.values()];
  const chunks: string[][] = [];
  for (let i = 0; i < handles.length; i += 10) chunks.push(handles.slice(i, i + 10));
  let released = 0;
  let failures = 0;
  const next = async (): Promise<void> => {
    for (let chunk = chunks.shift(); chunk !== undefined; chunk = chunks.shift()) {
      try {
        const result = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((ReceiptHandle, i) => ({
              Id: String(i),
              ReceiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        );
        const failed = result.Failed?.length ?? 0;
        failures += failed;
        released += chunk.length - failed;
      } catch {
        failures += chunk.length;
      }
    }
  };
  await Promise.all(Array.from({ length: RELEASE_CONCURRENCY }, next));
  return { released, failures };
}

/** Visible and in-flight counts: the size a pass can expect, for progress. */
export const deadLetterDepth = (sqs: SQSClient, queueUrl: string) => queueDepth(sqs, queueUrl);

function describe(error: unknown): string {
  if (error instanceof Error)
    return error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}
