/**
 * Long-polling consumers on one queue (sqs-consumer). One consumer handles one batch at a time
 * (sqs-consumer #229), so a process runs several to overlap SQS round trips.
 */
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly pollers: number;
  readonly batchSize: number;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  readonly heartbeatIntervalSeconds: number;
  /**
   * Handles one batch and acknowledges nothing through its return value: it deletes what it
   * is done with itself, so a loose return can never delete a message by accident.
   */
  readonly handleBatch: (messages: readonly Message[]) => Promise<void>;
  /** Awaited before every receive: holds polling while the job store is down. */
  readonly beforeReceive: () => Promise<void>;
  readonly onError: (error: Error, context: string) => void;
}

export interface Pollers {
  /** Stops receiving (aborting long polls) and waits for the batches in hand to finish. */
  stop(): Promise<void>;
  readonly inFlightBatches: number;
}

export function startPollers(options: PollerOptions): Pollers {
  const inFlight = new Set<Promise<void>>();
  const consumers = Array.from({ length: options.pollers }, () => {
    const consumer = Consumer.create({
      sqs: options.sqs,
      queueUrl: options.queueUrl,
      batchSize: options.batchSize,
      waitTimeSeconds: options.waitTimeSeconds,
      visibilityTimeout: options.visibilityTimeoutSeconds,
      heartbeatInterval: options.heartbeatIntervalSeconds,
      messageAttributeNames: ['All'],
      messageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      shouldDeleteMessages: false,
      strictReturn: true,
      preReceiveMessageCallback: options.beforeReceive,
      handleMessageBatch: async (messages) => {
        const batch = options.handleBatch(messages);
        inFlight.add(batch);
        try {
          await batch;
        } finally {
          inFlight.delete(batch);
        }
        return [];
      },
    });
    consumer.on('error', (error) => options.onError(error, 'sqs'));
    consumer.on('processing_error', (error) => options.onError(error, 'batch'));
    consumer.start();
    return consumer;
  });

  return {
    get inFlightBatches() {
      return inFlight.size;
    },
    async stop() {
      for (const consumer of consumers) consumer.stop({ abort: true });
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
