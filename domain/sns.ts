/**
 * The SNS envelope around a message delivered to SQS with raw message delivery off
 * (ses-formats.md §1). The signature fields are kept as text for the signature verifier
 * (which also judges `SignatureVersion`); emulators send placeholders such as
 * `"Signature": "EXAMPLE"`.
 */
import * as t from 'io-ts';
import { nullable, optional, optionalOrNull, record, struct, tagged } from './codec/combinators';
import { IsoDateTime } from './codec/scalars';

export const SnsMessageAttribute = struct({ Type: t.string, Value: optionalOrNull(t.string) });
export type SnsMessageAttribute = t.TypeOf<typeof SnsMessageAttribute>;

const signed = {
  MessageId: t.string,
  TopicArn: t.string,
  Timestamp: IsoDateTime,
  SignatureVersion: optional(t.string),
  Signature: optional(t.string),
  SigningCertURL: optional(t.string),
} as const;

const confirmation = <T extends 'SubscriptionConfirmation' | 'UnsubscribeConfirmation'>(type: T) =>
  struct({
    ...signed,
    Type: t.literal(type),
    Message: t.string,
    SubscribeURL: t.string,
    Token: t.string,
  });

/**
 * The envelope, with `message` decoding the `Message` of a Notification: `t.string` keeps the
 * text (what a signature covers), `jsonFromString(SesRecord)` decodes what SES published.
 */
export const snsEnvelope = <M extends t.Mixed>(message: M) =>
  tagged('Type', {
    Notification: struct({
      ...signed,
      Type: t.literal('Notification'),
      Message: message,
      Subject: optional(nullable(t.string)),
      UnsubscribeURL: optionalOrNull(t.string),
      MessageAttributes: optionalOrNull(record(SnsMessageAttribute)),
    }),
    SubscriptionConfirmation: confirmation('SubscriptionConfirmation'),
    UnsubscribeConfirmation: confirmation('UnsubscribeConfirmation'),
  });

export const SnsEnvelope = snsEnvelope(t.string);
export type SnsEnvelope = t.TypeOf<typeof SnsEnvelope>;
