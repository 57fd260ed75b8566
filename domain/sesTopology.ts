/**
 * The SES → SNS → SQS plumbing's settings, described once: the embedded emulator
 * (adapters/emulator/topology.ts), docker-compose's `init` (checked by test/unit/compose.test.ts)
 * and the AWS CDK construct (deploy/aws/) all take them from here, so the local default and
 * production cannot drift apart. Pure: names, numbers and the SQS attribute strings they make.
 */

/** What the worker asks for on each receive unless `SQS_VISIBILITY_TIMEOUT` says otherwise. */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 60;
/** SQS's longest long poll; the worker's `SQS_WAIT_TIME_SECONDS` default. */
export const DEFAULT_RECEIVE_WAIT_SECONDS = 20;

const DAY_SECONDS = 86_400;

export interface SesQueueSettings {
  /** How long a received message stays hidden before another receive may take it. */
  readonly visibilityTimeoutSeconds: number;
  /** How long the queue keeps a message nobody deleted. */
  readonly retentionSeconds: number;
  /**
   * How long the DLQ keeps one. SQS keeps a dead letter's original enqueue time, so a DLQ
   * retention no longer than the queue's can expire a message the moment it arrives.
   */
  readonly dlqRetentionSeconds: number;
  /** Receives before SQS moves a message to the DLQ by itself. */
  readonly maxReceiveCount: number;
  /** The queue's own long-poll wait, for receives that do not name one. */
  readonly receiveWaitTimeSeconds: number;
  /**
   * SNS raw message delivery. Off: the SQS body is SNS's signed envelope, so the worker can
   * verify the signature (SNS_VERIFY_SIGNATURES); raw delivery drops the envelope and with it
   * any proof that SNS sent the message.
   */
  readonly rawMessageDelivery: boolean;
}

export const SES_QUEUE_SETTINGS: SesQueueSettings = {
  visibilityTimeoutSeconds: DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  retentionSeconds: 4 * DAY_SECONDS,
  dlqRetentionSeconds: 14 * DAY_SECONDS,
  maxReceiveCount: 5,
  receiveWaitTimeSeconds: DEFAULT_RECEIVE_WAIT_SECONDS,
  rawMessageDelivery: false,
};

/**
 * Every event a configuration set can publish (SES's EventType names, as CloudFormation and the
 * SESv2 API spell them). The worker decodes all ten.
 */
export const SES_EVENT_TYPES = [
  'send',
  'reject',
  'bounce',
  'complaint',
  'delivery',
  'open',
  'click',
  'renderingFailure',
  'deliveryDelay',
  'subscription',
] as const;
export type SesEventType = (typeof SES_EVENT_TYPES)[number];

/** The notification types an identity can send to a topic (SES's SetIdentityNotificationTopic). */
export const SES_IDENTITY_NOTIFICATION_TYPES = ['Bounce', 'Complaint', 'Delivery'] as const;

/** The base name the embedded mode, docker-compose and the CDK app use unless told otherwise. */
export const DEFAULT_TOPOLOGY_NAME = 'ses-events';

export interface SesTopologyNames {
  readonly topic: string;
  readonly queue: string;
  readonly dlq: string;
}

export const sesTopologyNames = (base: string): SesTopologyNames => ({
  topic: base,
  queue: `${base}-queue`,
  dlq: `${base}-dlq`,
});

/** What is wrong with a set of settings (SQS's own limits, and the DLQ outliving the queue). */
export function queueSettingsProblems(settings: SesQueueSettings): string[] {
  const problems: string[] = [];
  const within = (name: keyof SesQueueSettings, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      problems.push(`${name}: expected an integer from ${min} to ${max}, got ${value}`);
  };
  within('visibilityTimeoutSeconds', settings.visibilityTimeoutSeconds, 0, 43_200);
  within('retentionSeconds', settings.retentionSeconds, 60, 14 * DAY_SECONDS);
  within('dlqRetentionSeconds', settings.dlqRetentionSeconds, 60, 14 * DAY_SECONDS);
  within('maxReceiveCount', settings.maxReceiveCount, 1, 1000);
  within('receiveWaitTimeSeconds', settings.receiveWaitTimeSeconds, 0, 20);
  if (settings.dlqRetentionSeconds <= settings.retentionSeconds)
    problems.push(
      `dlqRetentionSeconds: expected more than retentionSeconds (${settings.retentionSeconds}), got ${settings.dlqRetentionSeconds}`,
    );
  return problems;
}

/** The main queue's attributes as SQS's CreateQueue takes them (strings, the redrive as JSON). */
export function queueAttributes(
  settings: SesQueueSettings,
  dlqArn: string,
): Record<string, string> {
  return {
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(settings.retentionSeconds),
    ReceiveMessageWaitTimeSeconds: String(settings.receiveWaitTimeSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: String(settings.maxReceiveCount),
    }),
  };
}

/** The DLQ's attributes for CreateQueue. Its receivers (replay) name their own wait. */
export function dlqAttributes(settings: SesQueueSettings): Record<string, string> {
  return { MessageRetentionPeriod: String(settings.dlqRetentionSeconds) };
}

/** The SQS subscription's attributes for SNS's Subscribe: raw delivery stated either way. */
export function subscriptionAttributes(settings: SesQueueSettings): Record<string, string> {
  return { RawMessageDelivery: String(settings.rawMessageDelivery) };
}
