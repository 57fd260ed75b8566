/**
 * SQS's own redrive: a message move task (StartMessageMoveTask) moves every message of a DLQ
 * inside SQS, attributes and all, with no filter. SQS runs at most one task per source queue,
 * so the newest task ListMessageMoveTasks reports for the DLQ is the one this process started.
 * Emulators may not implement it: that is a `MoveTaskUnsupported`.
 */
import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  StartMessageMoveTaskCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MoveTaskReport } from '../../domain/deadLetters';

/** The endpoint does not know the action (fauxqs 1.x, older emulators). */
export class MoveTaskUnsupported extends Error {
  override readonly name = 'MoveTaskUnsupported';
}

export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`${queueUrl} reports no QueueArn`);
  return arn;
}

export interface StartMoveTask {
  readonly sourceArn: string;
  /** Null: back to the queues the messages were dead-lettered from (SQS's default). */
  readonly destinationArn: string | null;
  /** SQS accepts 1–500; null lets SQS choose (it speeds up as it goes). */
  readonly maxPerSecond: number | null;
}

/** Starts the task; resolves with its handle (for cancelling). */
export async function startMoveTask(sqs: SQSClient, task: StartMoveTask): Promise<string> {
  try {
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: task.sourceArn,
        ...(task.destinationArn === null ? {} : { DestinationArn: task.destinationArn }),
        ...(task.maxPerSecond === null
          ? {}
          : {
              MaxNumberOfMessagesPerSecond: Math.min(
                500,
                Math.max(1, Math.round(task.maxPerSecond)),
              ),
            }),
      }),
    );
    if (TaskHandle === undefined) throw new Error('StartMessageMoveTask returned no TaskHandle');
    return TaskHandle;
  } catch (error) {
    throw unsupportedOr(error, 'StartMessageMoveTask');
  }
}

/** The newest task on the source queue, or null when SQS lists none. */
export async function moveTaskReport(
  sqs: SQSClient,
  sourceArn: string,
): Promise<MoveTaskReport | null> {
  try {
    const { Results = [] } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }),
    );
    const task = Results[0];
    if (task === undefined) return null;
    return {
      status: task.Status ?? 'UNKNOWN',
      moved: task.ApproximateNumberOfMessagesMoved ?? 0,
      toMove: task.ApproximateNumberOfMessagesToMove ?? null,
      failureReason: task.FailureReason ?? null,
    };
  } catch (error) {
    throw unsupportedOr(error, 'ListMessageMoveTasks');
  }
}

/** Asks SQS to stop the task; what it moved stays moved, the rest stays in the DLQ. */
export async function cancelMoveTask(sqs: SQSClient, taskHandle: string): Promise<void> {
  await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: taskHandle }));
}

/** fauxqs answers `InvalidAction: Unknown action: …`; AWS-alikes say UnsupportedOperation. */
function unsupportedOr(error: unknown, action: string): unknown {
  if (!(error instanceof Error)) return error;
  const unsupported =
    [
      'InvalidAction',
      'UnsupportedOperation',
      'UnknownOperationException',
      'NotImplemented',
    ].includes(error.name) || /unknown action|not (?:supported|implemented)/i.test(error.message);
  return unsupported
    ? new MoveTaskUnsupported(`this SQS endpoint does not support ${action} (${error.message})`)
    : error;
}
