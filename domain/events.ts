/**
 * What the worker acts on: one `DomainEvent` per SQS message, a union discriminated on `kind`
 * (DESIGN.md, "Message contract"). Each kind keeps SES's own object under SES's own name
 * (`bounce`, `complaint`, `receipt`, …), so the field names are the ones in the SES docs.
 */
import type { EmailAddress } from './address';
import type { ReceivedMail, SentMail } from './ses/mail';
import type { Receipt } from './ses/receiving';
import type {
  Bounce,
  Click,
  Complaint,
  Delivery,
  DeliveryDelay,
  Open,
  Reject,
  RenderingFailure,
  Subscription,
} from './ses/sending';
import type { SnsMessageAttribute } from './sns';
import { SES_EVENT_TYPES } from './sesTopology';

/** A configuration set's ten event types, then inbound mail and the setup and SNS messages. */
export const DOMAIN_EVENT_KINDS = [
  ...SES_EVENT_TYPES,
  'received',
  'sesSubscriptionTest',
  'sesEventDestinationTest',
  'snsSubscriptionConfirmation',
  'snsUnsubscribeConfirmation',
] as const;
export type DomainEventKind = (typeof DOMAIN_EVENT_KINDS)[number];

/** Which producer shaped the payload: a configuration set, an identity's notifications, or SNS itself. */
export type Origin = 'eventPublishing' | 'notification' | 'sns';

/** The SNS envelope the event came in, when raw message delivery was off. */
export interface SnsMetadata {
  readonly messageId: string;
  readonly topicArn: string;
  readonly timestamp: Date;
  readonly subject: string | null;
  readonly messageAttributes: Readonly<Record<string, SnsMessageAttribute>>;
  readonly signatureVersion: string | null;
  readonly signingCertUrl: string | null;
  readonly unsubscribeUrl: string | null;
}

interface EventBase<K extends DomainEventKind> {
  readonly kind: K;
  readonly origin: Origin;
  /** SES's id for the message (`mail.messageId`); null for SNS control messages. */
  readonly sesMessageId: string | null;
  /** When the event itself happened (the bounce, the open, …), not when SNS relayed it. */
  readonly timestamp: Date;
  /** The addresses the event is about: normalised, each once, sorted. */
  readonly recipients: readonly EmailAddress[];
  readonly sns: SnsMetadata | null;
}

interface SendingEventBase<K extends DomainEventKind> extends EventBase<K> {
  readonly origin: 'eventPublishing' | 'notification';
  readonly sesMessageId: string;
  /** The `ses:configuration-set` tag; null for identity notifications, which carry no tags. */
  readonly configurationSet: string | null;
  readonly mail: SentMail;
}

export type SendEvent = SendingEventBase<'send'>;
export interface RejectEvent extends SendingEventBase<'reject'> {
  readonly reject: Reject;
}
export interface BounceEvent extends SendingEventBase<'bounce'> {
  readonly bounce: Bounce;
}
export interface ComplaintEvent extends SendingEventBase<'complaint'> {
  readonly complaint: Complaint;
}
export interface DeliveryEvent extends SendingEventBase<'delivery'> {
  readonly delivery: Delivery;
}
export interface OpenEvent extends SendingEventBase<'open'> {
  readonly open: Open;
}
export interface ClickEvent extends SendingEventBase<'click'> {
  readonly click: Click;
}
export interface RenderingFailureEvent extends SendingEventBase<'renderingFailure'> {
  readonly failure: RenderingFailure;
}
export interface DeliveryDelayEvent extends SendingEventBase<'deliveryDelay'> {
  readonly deliveryDelay: DeliveryDelay;
}
export interface SubscriptionEvent extends SendingEventBase<'subscription'> {
  readonly subscription: Subscription;
}

export interface ReceivedEvent extends EventBase<'received'> {
  readonly origin: 'notification';
  readonly sesMessageId: string;
  readonly mail: ReceivedMail;
  readonly receipt: Receipt;
  /** The raw message as SES sent it (SNS action only), encoded per `receipt.action.encoding`. */
  readonly content: string | null;
}

/** SES's `AmazonSnsSubscriptionSucceeded` test message. */
export interface SesSubscriptionTestEvent extends Omit<
  EventBase<'sesSubscriptionTest'>,
  'timestamp'
> {
  readonly origin: 'notification';
  readonly sesMessageId: null;
  /** The SNS envelope's timestamp; null with raw delivery, where the message carries none. */
  readonly timestamp: Date | null;
  readonly message: string | null;
}

/**
 * SES's plain-text notice on a topic just added as an event destination
 * (`Successfully validated SNS topic for Amazon SES event publishing.`).
 */
export interface SesEventDestinationTestEvent extends Omit<
  EventBase<'sesEventDestinationTest'>,
  'timestamp'
> {
  readonly origin: 'sns';
  readonly sesMessageId: null;
  /** The SNS envelope's timestamp; null with raw delivery, where the body is the text alone. */
  readonly timestamp: Date | null;
  readonly message: string;
}

interface SnsControlEvent<K extends DomainEventKind> extends EventBase<K> {
  readonly origin: 'sns';
  readonly sesMessageId: null;
  readonly sns: SnsMetadata;
  readonly message: string;
  readonly subscribeUrl: string;
  readonly token: string;
}
export type SnsSubscriptionConfirmationEvent = SnsControlEvent<'snsSubscriptionConfirmation'>;
export type SnsUnsubscribeConfirmationEvent = SnsControlEvent<'snsUnsubscribeConfirmation'>;

export type DomainEvent =
  | SendEvent
  | RejectEvent
  | BounceEvent
  | ComplaintEvent
  | DeliveryEvent
  | OpenEvent
  | ClickEvent
  | RenderingFailureEvent
  | DeliveryDelayEvent
  | SubscriptionEvent
  | ReceivedEvent
  | SesSubscriptionTestEvent
  | SesEventDestinationTestEvent
  | SnsSubscriptionConfirmationEvent
  | SnsUnsubscribeConfirmationEvent;

export type { EmailAddress };
