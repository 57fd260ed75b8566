/**
 * A whole SES payload: what SNS carries in `Message`, or the SQS body itself with raw message
 * delivery on. Event publishing records are told apart by `eventType`, identity and receiving
 * notifications by `notificationType`; an unknown value of either is `unsupported`.
 */
import * as t from 'io-ts';
import { optional, optionalOrNull, struct, tagged } from '../codec/combinators';
import { ReceivedMail, SentMail } from './mail';
import { Receipt } from './receiving';
import {
  Bounce,
  Click,
  Complaint,
  Delivery,
  DeliveryDelay,
  Open,
  Reject,
  RenderingFailure,
  Send,
  Subscription,
} from './sending';

export const EventPublishingRecord = tagged('eventType', {
  Send: struct({ eventType: t.literal('Send'), mail: SentMail, send: optionalOrNull(Send) }),
  Reject: struct({ eventType: t.literal('Reject'), mail: SentMail, reject: Reject }),
  Bounce: struct({ eventType: t.literal('Bounce'), mail: SentMail, bounce: Bounce }),
  Complaint: struct({ eventType: t.literal('Complaint'), mail: SentMail, complaint: Complaint }),
  Delivery: struct({ eventType: t.literal('Delivery'), mail: SentMail, delivery: Delivery }),
  Open: struct({ eventType: t.literal('Open'), mail: SentMail, open: Open }),
  Click: struct({ eventType: t.literal('Click'), mail: SentMail, click: Click }),
  'Rendering Failure': struct({
    eventType: t.literal('Rendering Failure'),
    mail: SentMail,
    failure: RenderingFailure,
  }),
  DeliveryDelay: struct({
    eventType: t.literal('DeliveryDelay'),
    mail: SentMail,
    deliveryDelay: DeliveryDelay,
  }),
  Subscription: struct({
    eventType: t.literal('Subscription'),
    mail: SentMail,
    subscription: Subscription,
  }),
});
export type EventPublishingRecord = t.TypeOf<typeof EventPublishingRecord>;

export const Notification = tagged('notificationType', {
  Bounce: struct({ notificationType: t.literal('Bounce'), mail: SentMail, bounce: Bounce }),
  Complaint: struct({
    notificationType: t.literal('Complaint'),
    mail: SentMail,
    complaint: Complaint,
  }),
  Delivery: struct({
    notificationType: t.literal('Delivery'),
    mail: SentMail,
    delivery: Delivery,
  }),
  Received: struct({
    notificationType: t.literal('Received'),
    mail: ReceivedMail,
    receipt: Receipt,
    /** The raw message, only for the SNS action; encoded as `receipt.action.encoding` says. */
    content: optional(t.string),
  }),
  /** The test message SES sends when a topic is first attached to an identity. */
  AmazonSnsSubscriptionSucceeded: struct({
    notificationType: t.literal('AmazonSnsSubscriptionSucceeded'),
    message: optionalOrNull(t.string),
  }),
});
export type Notification = t.TypeOf<typeof Notification>;

export type SesRecord = EventPublishingRecord | Notification;
