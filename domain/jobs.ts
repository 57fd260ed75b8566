/**
 * The jobs the ingest dispatches: which BullMQ queue, under which id, with which data.
 * Payloads carry only what their processor needs (never the whole `mail` with its headers),
 * as plain JSON: times are ISO strings.
 */
import type { EmailAddress } from './address';
import type { DomainEventKind } from './events';
import type { ReceiptAction, VerdictStatus, DmarcPolicy } from './ses/receiving';
import type {
  BounceSubType,
  BounceType,
  ComplaintFeedbackType,
  DelayType,
  SubscriptionStatus,
} from './ses/sending';

export const QUEUE_NAMES = ['suppression', 'inbound', 'metrics'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

interface SuppressionJobBase<K extends string> {
  readonly kind: K;
  readonly address: EmailAddress;
  readonly sesMessageId: string;
  /** When SES saw the event, ISO 8601. */
  readonly timestamp: string;
  readonly configurationSet: string | null;
  /** The sending address of the mail the event is about. */
  readonly source: string;
}

export interface BounceSuppressionJob extends SuppressionJobBase<'bounce'> {
  readonly feedbackId: string;
  readonly bounceType: BounceType;
  readonly bounceSubType: BounceSubType;
  readonly status: string | null;
  readonly diagnosticCode: string | null;
}

export interface ComplaintSuppressionJob extends SuppressionJobBase<'complaint'> {
  readonly feedbackId: string;
  readonly complaintFeedbackType: string | null;
  readonly complaintSubType: string | null;
}

/** A delivery resets the transient-bounce count of its address. */
export type DeliverySuppressionJob = SuppressionJobBase<'delivery'>;

export interface SubscriptionSuppressionJob extends SuppressionJobBase<'subscription'> {
  readonly contactList: string;
  readonly unsubscribeAll: boolean;
  readonly topics: readonly {
    readonly topicName: string;
    readonly subscriptionStatus: SubscriptionStatus;
  }[];
}

export type SuppressionJob =
  | BounceSuppressionJob
  | ComplaintSuppressionJob
  | DeliverySuppressionJob
  | SubscriptionSuppressionJob;

/** A per-address suppression job's data in a batch, with its id: the notification's marker. */
export type SuppressionNotificationData = SuppressionJob & { readonly eventKey: string };

/**
 * The suppression notifications of one SQS batch (job name `batch`), applied by one script call.
 * Each keeps the id a per-address job would have had, so a notification applied by an older
 * worker's per-address job, or in another batch, is recognised by its marker.
 */
export interface SuppressionBatchJob {
  readonly notifications: readonly SuppressionNotificationData[];
}

export interface InboundJob {
  readonly sesMessageId: string;
  /** When SES received the message (`mail.timestamp`), ISO 8601. */
  readonly timestamp: string;
  /** The envelope recipients the receipt rule matched, normalised. */
  readonly recipients: readonly EmailAddress[];
  /** Envelope MAIL FROM; null for bounces (DSNs). */
  readonly mailFrom: string | null;
  readonly subject: string | null;
  readonly action: ReceiptAction;
  readonly verdicts: {
    readonly spam: VerdictStatus | null;
    readonly virus: VerdictStatus | null;
    readonly spf: VerdictStatus | null;
    readonly dkim: VerdictStatus | null;
    readonly dmarc: VerdictStatus | null;
    readonly dmarcPolicy: DmarcPolicy | null;
  };
  /** The raw message as SES sent it (SNS action), encoded per `action.encoding`; else null. */
  readonly content: string | null;
}

/** Where a forward job reads the raw message: the notification's content, or S3. */
export type RawMessageSource =
  | { readonly type: 'content'; readonly content: string; readonly encoding: 'UTF8' | 'BASE64' }
  | { readonly type: 's3'; readonly bucketName: string; readonly objectKey: string }
  // The content, dropped from a completed job once its copy was sent: the job stays for its id
  // (the dedupe window), the message does not.
  | { readonly type: 'released' };

/**
 * One received message to one forwarding target (`inbound` queue, job name `forward`), fanned
 * out by the message's `received` job. It carries its source so a retry or a replay weeks later
 * does not depend on the `received` job still being kept.
 */
export interface ForwardJob {
  readonly sesMessageId: string;
  readonly target: EmailAddress;
  /** The envelope recipients whose rules name `target`, sorted. */
  readonly recipients: readonly EmailAddress[];
  /** Envelope MAIL FROM; null for bounces (DSNs). */
  readonly mailFrom: string | null;
  readonly source: RawMessageSource;
  /** Subject tags the verdict policy asked for (`FORWARD_FAILED_VERDICTS=tag`), e.g. `SPAM`. */
  readonly subjectTags: readonly string[];
}

/**
 * One event to count: its id makes the count exact under redelivery (see the processor). It
 * carries bounded facts only (enums, names, numbers; never an address or free text), each
 * kind's under SES's own name. Built by `countedEvent` (domain/counting.ts).
 */
export interface CountedEvent {
  readonly id: string;
  readonly kind: DomainEventKind;
  readonly configurationSet: string | null;
  /** When the event happened, ISO 8601; null when the message carries no time. */
  readonly at: string | null;
  /** How many recipients it is about: SES's rates count recipients, not messages. */
  readonly recipients: number;
  /** The sending identity as a domain (see `sendingIdentity`); null for other events. */
  readonly identity: string | null;
  readonly bounce?: {
    readonly bounceType: BounceType;
    readonly bounceSubType: BounceSubType;
  };
  readonly complaint?: {
    readonly complaintFeedbackType: ComplaintFeedbackType | null;
    readonly complaintSubType: string | null;
  };
  readonly delivery?: { readonly processingTimeMillis: number | null };
  readonly deliveryDelay?: { readonly delayType: DelayType };
  readonly renderingFailure?: { readonly templateName: string };
  readonly received?: {
    readonly action: ReceiptAction['type'];
    readonly verdicts: Readonly<Record<Verdict, VerdictStatus | null>>;
  };
}

/** The receipt verdicts SES reports on inbound mail. */
export const VERDICTS = ['spam', 'virus', 'spf', 'dkim', 'dmarc'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The events of one SQS batch: one metrics job per batch, not per event. */
export interface MetricsJob {
  readonly events: readonly CountedEvent[];
}

export interface JobDataByQueue {
  /** A batch; per-address jobs are what versions before batching left in the queue. */
  readonly suppression: SuppressionBatchJob | SuppressionJob;
  /** `received` jobs (one per message) and the `forward` jobs they fan out to. */
  readonly inbound: InboundJob | ForwardJob;
  readonly metrics: MetricsJob;
}

/**
 * A job one event calls for on its own (`routeEvent`): suppression per address, which the ingest
 * then gathers into its batch's one suppression job (`suppressionBatchJob`).
 */
export type EventJobSpec =
  | Exclude<JobSpec, { readonly queue: 'suppression' }>
  | {
      readonly queue: 'suppression';
      readonly name: SuppressionJob['kind'];
      readonly id: string;
      readonly data: SuppressionJob;
    };

/** One job to enqueue. `id` is derived from what the job does, so a redelivery adds nothing. */
export type JobSpec = {
  readonly [Q in QueueName]: {
    readonly queue: Q;
    /** BullMQ's job name: what kind of work, for dashboards and logs. */
    readonly name: string;
    readonly id: string;
    readonly data: JobDataByQueue[Q];
  };
}[QueueName];
