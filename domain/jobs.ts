/**
 * The jobs the ingest dispatches: which BullMQ queue, under which id, with which data.
 * Payloads carry only what their processor needs (never the whole `mail` with its headers),
 * as plain JSON: times are ISO strings.
 */
import type { EmailAddress } from './address';
import type { DomainEventKind } from './events';
import type { ReceiptAction, VerdictStatus, DmarcPolicy } from './ses/receiving';
import type { BounceSubType, BounceType, SubscriptionStatus } from './ses/sending';

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

/** One event to count: its id makes the count exact under redelivery (see the processor). */
export interface CountedEvent {
  readonly id: string;
  readonly kind: DomainEventKind;
  readonly configurationSet: string | null;
}

/** The events of one SQS batch: one metrics job per batch, not per event. */
export interface MetricsJob {
  readonly events: readonly CountedEvent[];
}

export interface JobDataByQueue {
  readonly suppression: SuppressionJob;
  readonly inbound: InboundJob;
  readonly metrics: MetricsJob;
}

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
