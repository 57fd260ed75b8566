/** How many messages a queue holds (SQS's approximate counts): progress, the status page, tests. */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QueueDepth {
  /** Waiting to be received. */
  readonly visible: number;
  /** Received and not yet deleted or back. */
  readonly inFlight: number;
}

export async function queueDepth(
  sqs: SQSClient,
  queueUrl: string,
  timeoutMs?: number,
): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
    timeoutMs === undefined ? {} : { abortSignal: AbortSignal.timeout(timeoutMs) },
  );
  const visible = Number(Attributes.ApproximateNumberOfMessages);
  if (!Number.isFinite(visible)) throw new Error('SQS returned no ApproximateNumberOfMessages');
  return { visible, inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** The messages waiting in a queue, for the status page's DLQ panel. */
export async function approximateDepth(
  sqs: SQSClient,
  queueUrl: string,
  timeoutMs = 2000,
): Promise<number> {
  return (await queueDepth(sqs, queueUrl, timeoutMs)).visible;
}
