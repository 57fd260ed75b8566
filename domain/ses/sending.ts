/**
 * The per-event objects of sending events (ses-formats.md §2), shared by event publishing
 * records (`eventType`) and identity feedback notifications (`notificationType`).
 */
import * as t from 'io-ts';
import {
  array,
  enumOf,
  nullable,
  openEnum,
  optional,
  optionalOrNull,
  record,
  struct,
} from '../codec/combinators';
import { EmailAddressFromString, IsoDateTime, NumberFromNumberOrString } from '../codec/scalars';

/** Closed: the suppression policy turns on it, and only `Permanent` means "never again". */
export const BounceType = enumOf(['Permanent', 'Transient', 'Undetermined']);
export type BounceType = t.TypeOf<typeof BounceType>;

export const BounceSubType = openEnum([
  'Undetermined',
  'General',
  'NoEmail',
  'Suppressed',
  'OnAccountSuppressionList',
  'MailboxFull',
  'MessageTooLarge',
  'ContentRejected',
  'AttachmentRejected',
]);
export type BounceSubType = t.TypeOf<typeof BounceSubType>;

export const BouncedRecipient = struct({
  emailAddress: EmailAddressFromString,
  action: optionalOrNull(t.string),
  status: optionalOrNull(t.string),
  diagnosticCode: optionalOrNull(t.string),
});
export type BouncedRecipient = t.TypeOf<typeof BouncedRecipient>;

export const Bounce = struct({
  bounceType: BounceType,
  bounceSubType: BounceSubType,
  bouncedRecipients: array(BouncedRecipient),
  timestamp: IsoDateTime,
  feedbackId: t.string,
  reportingMTA: optionalOrNull(t.string),
  remoteMtaIp: optionalOrNull(t.string),
});
export type Bounce = t.TypeOf<typeof Bounce>;

export const ComplaintFeedbackType = openEnum([
  'abuse',
  'auth-failure',
  'fraud',
  'not-spam',
  'other',
  'virus',
]);
export type ComplaintFeedbackType = t.TypeOf<typeof ComplaintFeedbackType>;

export const Complaint = struct({
  complainedRecipients: array(struct({ emailAddress: EmailAddressFromString })),
  timestamp: IsoDateTime,
  feedbackId: t.string,
  complaintSubType: optional(nullable(openEnum(['OnAccountSuppressionList']))),
  userAgent: optionalOrNull(t.string),
  complaintFeedbackType: optionalOrNull(ComplaintFeedbackType),
  arrivalDate: optionalOrNull(IsoDateTime),
});
export type Complaint = t.TypeOf<typeof Complaint>;

export const Delivery = struct({
  timestamp: IsoDateTime,
  recipients: array(EmailAddressFromString),
  processingTimeMillis: optionalOrNull(NumberFromNumberOrString),
  smtpResponse: optionalOrNull(t.string),
  reportingMTA: optionalOrNull(t.string),
  remoteMtaIp: optionalOrNull(t.string),
});
export type Delivery = t.TypeOf<typeof Delivery>;

/** `send` is an empty object today; fields SES may add are ignored. */
export const Send = struct({});
export type Send = t.TypeOf<typeof Send>;

export const Reject = struct({ reason: t.string });
export type Reject = t.TypeOf<typeof Reject>;

export const Open = struct({
  timestamp: IsoDateTime,
  ipAddress: optionalOrNull(t.string),
  userAgent: optionalOrNull(t.string),
});
export type Open = t.TypeOf<typeof Open>;

export const Click = struct({
  timestamp: IsoDateTime,
  link: t.string,
  ipAddress: optionalOrNull(t.string),
  userAgent: optionalOrNull(t.string),
  linkTags: optionalOrNull(record(array(t.string))),
});
export type Click = t.TypeOf<typeof Click>;

export const RenderingFailure = struct({ templateName: t.string, errorMessage: t.string });
export type RenderingFailure = t.TypeOf<typeof RenderingFailure>;

export const DelayType = openEnum([
  'InternalFailure',
  'General',
  'MailboxFull',
  'SpamDetected',
  'RecipientServerError',
  'IPFailure',
  'TransientCommunicationFailure',
  'BYOIPHostNameLookupUnavailable',
  'Undetermined',
  'SendingDeferral',
]);
export type DelayType = t.TypeOf<typeof DelayType>;

export const DeliveryDelay = struct({
  timestamp: IsoDateTime,
  delayType: DelayType,
  delayedRecipients: array(
    struct({
      emailAddress: EmailAddressFromString,
      status: optionalOrNull(t.string),
      diagnosticCode: optionalOrNull(t.string),
    }),
  ),
  expirationTime: optionalOrNull(IsoDateTime),
  reportingMTA: optionalOrNull(t.string),
});
export type DeliveryDelay = t.TypeOf<typeof DeliveryDelay>;

/** Closed: the suppression policy lifts or adds a topic entry on it. */
export const SubscriptionStatus = enumOf(['OptIn', 'OptOut']);
export type SubscriptionStatus = t.TypeOf<typeof SubscriptionStatus>;

export const TopicPreferences = struct({
  unsubscribeAll: t.boolean,
  topicSubscriptionStatus: optionalOrNull(
    array(struct({ topicName: t.string, subscriptionStatus: SubscriptionStatus })),
  ),
});
export type TopicPreferences = t.TypeOf<typeof TopicPreferences>;

export const Subscription = struct({
  contactList: t.string,
  timestamp: IsoDateTime,
  source: optionalOrNull(t.string),
  newTopicPreferences: TopicPreferences,
  oldTopicPreferences: optionalOrNull(TopicPreferences),
});
export type Subscription = t.TypeOf<typeof Subscription>;
