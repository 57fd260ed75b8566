/** SQS/SNS helpers for integration tests, on the real SDK against the emulator. */
import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { makeSqsClient } from '../../adapters/sqs/client';
import type { EmulatorServer } from './servers';
import { sdkClientConfig } from './servers';

export function clientsFor(emulator: EmulatorServer): { sqs: SQSClient; sns: SNSClient } {
  const config = sdkClientConfig(emulator);
  return {
    sqs: makeSqsClient({
      region: config.region,
      endpoint: config.endpoint,
      credentials: config.credentials,
      customEndpoint: true,
    }),
    sns: new SNSClient(config),
  };
}

/** Publishes through the topic, ten per call (SNS's batch limit). */
export async function publishAll(
  sns: SNSClient,
  topicArn: string,
  messages: readonly string[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages.slice(i, i + 10).map((Message, j) => ({ Id: String(j), Message }));
    const result = await sns.send(
      new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }),
    );
    if ((result.Failed ?? []).length > 0)
      throw new Error(`publish failed: ${JSON.stringify(result.Failed)}`);
  }
}

/** Sends bodies straight to a queue (as raw delivery or a misbehaving producer would). */
export async function sendAll(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    const entries = bodies
      .slice(i, i + 10)
      .map((MessageBody, j) => ({ Id: String(j), MessageBody }));
    const result = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );
    if ((result.Failed ?? []).length > 0)
      throw new Error(`send failed: ${JSON.stringify(result.Failed)}`);
  }
}

/** Visible and in-flight message counts. */
export { queueDepth } from '../../adapters/sqs/queueDepth';

/**
 * Receives everything currently visible on a queue, deleting nothing. With a visibility timeout
 * of 0 the same messages come straight back: each is kept once, and a receive that brings
 * nothing new ends the read.
 */
export async function drainVisible(
  sqs: SQSClient,
  queueUrl: string,
  visibilitySeconds = 60,
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: visibilitySeconds,
        WaitTimeSeconds: 0,
      }),
    );
    const fresh = Messages.filter((m) => !seen.has(m.MessageId ?? ''));
    if (fresh.length === 0) return [...seen.values()];
    for (const m of fresh) seen.set(m.MessageId ?? '', m);
  }
}
