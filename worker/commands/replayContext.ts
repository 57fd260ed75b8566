/** What the replay commands share: how they are run, their configuration and their SQS client. */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { makeSqsClient } from '../../adapters/sqs/client';
import { configOrExit, type WorkerConfig } from '../config';
import type { Io } from '../io';
import type { ProgressOptions } from './progress';

export interface ReplayContext {
  readonly io: Io;
  /** Aborted on SIGINT/SIGTERM: finish what is in hand, then stop. */
  readonly signal: AbortSignal;
  readonly progress: ProgressOptions;
  /** An explicit endpoint and static credentials (tests, emulators); else the SDK's own chain. */
  readonly sqsEndpoint?: {
    readonly endpoint: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
  readonly now?: () => number;
  /** Long-poll wait of each DLQ receive, seconds (default 1): an empty receive ends a pass. */
  readonly waitTimeSeconds?: number;
  /** How often `--native` asks SQS for the task's progress, ms (default 2000). */
  readonly nativePollMs?: number;
}

export { configOrExit };

export function sqsClientFor(
  config: WorkerConfig,
  queueUrl: string,
  ctx: ReplayContext,
): SQSClient {
  return makeSqsClient({
    region: config.sqs.region ?? regionOfQueueUrl(queueUrl),
    customEndpoint: config.sqs.customEndpoint,
    ...(ctx.sqsEndpoint ?? {}),
  });
}

/**
 * `https://sqs.eu-west-1.amazonaws.com/…` → `eu-west-1`, so `--from` alone needs no AWS_REGION.
 * Emulators name hosts the same way (`sqs.us-east-1.localhost`).
 */
export function regionOfQueueUrl(queueUrl: string): string | null {
  if (!URL.canParse(queueUrl)) return null;
  const host = new URL(queueUrl).hostname;
  return (
    /^sqs\.([a-z]{2}(?:-[a-z]+)+-\d+)\./.exec(host)?.[1] ??
    /^([a-z]{2}(?:-[a-z]+)+-\d+)\.queue\.amazonaws\.com$/.exec(host)?.[1] ??
    null
  );
}

/** An SDK error in one line: its name when it says something (`QueueDoesNotExist: …`). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name === 'Error' || error.message.startsWith(error.name)
    ? error.message
    : `${error.name}: ${error.message}`;
}
