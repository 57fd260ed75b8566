/** How many messages wait in a queue (SQS's approximate count), for the status page's DLQ panel. */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

export async function approximateDepth(
  sqs: SQSClient,
  queueUrl: string,
  timeoutMs = 2000,
): Promise<number> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
    { abortSignal: AbortSignal.timeout(timeoutMs) },
  );
  const depth = Number(result.Attributes?.ApproximateNumberOfMessages);
  if (!Number.isFinite(depth)) throw new Error('SQS returned no ApproximateNumberOfMessages');
  return depth;
}
