/**
 * SQS body → `DomainEvent`. The shape is decided by the codecs (DESIGN.md, "Message contract"):
 * an SNS envelope around SES JSON or SES's setup notice, an SNS control message, or either of
 * those directly (raw message delivery). Decoding never throws; a failure is a `DecodeError`
 * naming path, expectation and what was found.
 */
import type { Either } from 'fp-ts/Either';
import { left, right } from 'fp-ts/Either';
import type * as t from 'io-ts';
import { uniqueSortedAddresses, type EmailAddress } from './address';
import { byDiscriminator } from './codec/combinators';
import {
  decodeError,
  describeKind,
  describeValue,
  fromValidationErrors,
  type DecodeError,
} from './codec/decodeError';
import { jsonFromString } from './codec/scalars';
import type { DomainEvent, SnsMetadata } from './events';
import type { SentMail } from './ses/mail';
import { EventPublishingRecord, Notification, type SesRecord } from './ses/records';
import { SES_SETUP_NOTICE, setupNoticeOr } from './ses/setupNotice';
import type { Bounce, Complaint, Delivery } from './ses/sending';
import { snsEnvelope } from './sns';

const SesRecordCodec = byDiscriminator([EventPublishingRecord, Notification]);
export const SqsBodyCodec = byDiscriminator([
  snsEnvelope(setupNoticeOr(jsonFromString(SesRecordCodec))),
  EventPublishingRecord,
  Notification,
]);
type SqsBody = t.TypeOf<typeof SqsBodyCodec>;

export function decodeSqsBody(body: string): Either<DecodeError, DomainEvent> {
  try {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      // Raw message delivery of the setup notice: the body is the text itself.
      if (body === SES_SETUP_NOTICE) return right(setupNoticeEvent(null));
      const empty = body.trim() === '';
      const found = empty ? 'empty input' : describeValue(body);
      return left(
        decodeError('notJson', '', 'JSON text', found, '', empty ? found : describeKind(body)),
      );
    }
    const result = SqsBodyCodec.validate(json, [{ key: '', type: SqsBodyCodec, actual: json }]);
    return result._tag === 'Left'
      ? left(fromValidationErrors(result.left))
      : right(toDomainEvent(result.right));
  } catch (error) {
    // Unreachable by design (the property tests assert it never happens); kept so that a bug
    // here poisons one message instead of failing its batch.
    const cause = error instanceof Error ? error.message : String(error);
    return left(decodeError('internal', '', 'a decodable body', `a decoder failure (${cause})`));
  }
}

function toDomainEvent(body: SqsBody): DomainEvent {
  if (!('Type' in body)) return fromSesRecord(body, null);
  const sns: SnsMetadata = {
    messageId: body.MessageId,
    topicArn: body.TopicArn,
    timestamp: body.Timestamp,
    subject: body.Type === 'Notification' ? (body.Subject ?? null) : null,
    messageAttributes: (body.Type === 'Notification' && body.MessageAttributes) || {},
    signatureVersion: body.SignatureVersion ?? null,
    signingCertUrl: body.SigningCertURL ?? null,
    unsubscribeUrl: (body.Type === 'Notification' && body.UnsubscribeURL) || null,
  };
  switch (body.Type) {
    case 'Notification':
      return body.Message === SES_SETUP_NOTICE
        ? setupNoticeEvent(sns)
        : fromSesRecord(body.Message, sns);
    case 'SubscriptionConfirmation':
    case 'UnsubscribeConfirmation':
      return {
        kind:
          body.Type === 'SubscriptionConfirmation'
            ? 'snsSubscriptionConfirmation'
            : 'snsUnsubscribeConfirmation',
        origin: 'sns',
        sesMessageId: null,
        timestamp: body.Timestamp,
        recipients: [],
        message: body.Message,
        subscribeUrl: body.SubscribeURL,
        token: body.Token,
        sns,
      };
  }
}

/** Nobody's mail: counted, logged, and otherwise left alone. */
function setupNoticeEvent(sns: SnsMetadata | null): DomainEvent {
  return {
    kind: 'sesEventDestinationTest',
    origin: 'sns',
    sesMessageId: null,
    timestamp: sns?.timestamp ?? null,
    recipients: [],
    message: SES_SETUP_NOTICE,
    sns,
  };
}

type Origin = 'eventPublishing' | 'notification';

function fromSesRecord(record: SesRecord, sns: SnsMetadata | null): DomainEvent {
  if ('eventType' in record) {
    const { mail } = record;
    const origin = 'eventPublishing';
    switch (record.eventType) {
      case 'Bounce':
        return bounceEvent(origin, mail, record.bounce, sns);
      case 'Complaint':
        return complaintEvent(origin, mail, record.complaint, sns);
      case 'Delivery':
        return deliveryEvent(origin, mail, record.delivery, sns);
      case 'Send':
        return { kind: 'send', ...sent(origin, mail, mail.timestamp, mail.destination), sns };
      case 'Reject':
        return {
          kind: 'reject',
          ...sent(origin, mail, mail.timestamp, mail.destination),
          reject: record.reject,
          sns,
        };
      case 'Open':
        return {
          kind: 'open',
          ...sent(origin, mail, record.open.timestamp, mail.destination),
          open: record.open,
          sns,
        };
      case 'Click':
        return {
          kind: 'click',
          ...sent(origin, mail, record.click.timestamp, mail.destination),
          click: record.click,
          sns,
        };
      case 'Rendering Failure':
        return {
          kind: 'renderingFailure',
          ...sent(origin, mail, mail.timestamp, mail.destination),
          failure: record.failure,
          sns,
        };
      case 'DeliveryDelay': {
        const { deliveryDelay } = record;
        const delayed = deliveryDelay.delayedRecipients.map((r) => r.emailAddress);
        return {
          kind: 'deliveryDelay',
          ...sent(origin, mail, deliveryDelay.timestamp, delayed),
          deliveryDelay,
          sns,
        };
      }
      case 'Subscription':
        return {
          kind: 'subscription',
          ...sent(origin, mail, record.subscription.timestamp, mail.destination),
          subscription: record.subscription,
          sns,
        };
    }
  }
  const origin = 'notification';
  switch (record.notificationType) {
    case 'Bounce':
      return bounceEvent(origin, record.mail, record.bounce, sns);
    case 'Complaint':
      return complaintEvent(origin, record.mail, record.complaint, sns);
    case 'Delivery':
      return deliveryEvent(origin, record.mail, record.delivery, sns);
    case 'Received':
      return {
        kind: 'received',
        origin,
        sesMessageId: record.mail.messageId,
        timestamp: record.mail.timestamp,
        recipients: uniqueSortedAddresses(record.receipt.recipients),
        receipt: record.receipt,
        mail: record.mail,
        content: record.content ?? null,
        sns,
      };
    case 'AmazonSnsSubscriptionSucceeded':
      return {
        kind: 'sesSubscriptionTest',
        origin,
        sesMessageId: null,
        timestamp: sns?.timestamp ?? null,
        recipients: [],
        message: record.message ?? null,
        sns,
      };
  }
}

/** The fields every sending event has, in the order the CLI prints them. */
function sent(
  origin: Origin,
  mail: SentMail,
  timestamp: Date,
  recipients: readonly EmailAddress[],
) {
  return {
    origin,
    sesMessageId: mail.messageId,
    timestamp,
    recipients: uniqueSortedAddresses(recipients),
    configurationSet: mail.tags?.['ses:configuration-set']?.[0] ?? null,
    mail,
  };
}

function bounceEvent(
  origin: Origin,
  mail: SentMail,
  bounce: Bounce,
  sns: SnsMetadata | null,
): DomainEvent {
  const bounced = bounce.bouncedRecipients.map((r) => r.emailAddress);
  return { kind: 'bounce', ...sent(origin, mail, bounce.timestamp, bounced), bounce, sns };
}

function complaintEvent(
  origin: Origin,
  mail: SentMail,
  complaint: Complaint,
  sns: SnsMetadata | null,
): DomainEvent {
  const complained = complaint.complainedRecipients.map((r) => r.emailAddress);
  return {
    kind: 'complaint',
    ...sent(origin, mail, complaint.timestamp, complained),
    complaint,
    sns,
  };
}

function deliveryEvent(
  origin: Origin,
  mail: SentMail,
  delivery: Delivery,
  sns: SnsMetadata | null,
): DomainEvent {
  return {
    kind: 'delivery',
    ...sent(origin, mail, delivery.timestamp, delivery.recipients),
    delivery,
    sns,
  };
}
