/**
 * The `mail` object of SES records (ses-formats.md §2–§4). Everything not always present is
 * optional: SES includes headers only when "include original headers" is on, tags only with
 * configuration sets, and Open/Click records carry a shorter `mail`.
 */
import * as t from 'io-ts';
import { array, optional, record, struct } from '../codec/combinators';
import {
  BooleanFromBooleanOrString,
  EmailAddressFromString,
  IsoDateTime,
  MailFromAddress,
} from '../codec/scalars';

export const MailHeader = struct({ name: t.string, value: t.string });
export type MailHeader = t.TypeOf<typeof MailHeader>;

/** Header values as the message had them (display names, encoded words): text, not addresses. */
export const CommonHeaders = struct({
  from: optional(array(t.string)),
  to: optional(array(t.string)),
  cc: optional(array(t.string)),
  bcc: optional(array(t.string)),
  sender: optional(array(t.string)),
  replyTo: optional(array(t.string)),
  returnPath: optional(t.string),
  messageId: optional(t.string),
  date: optional(t.string),
  subject: optional(t.string),
});
export type CommonHeaders = t.TypeOf<typeof CommonHeaders>;

/** `ses:configuration-set`, `ses:from-domain`, … and the sender's own tags. */
export const MessageTags = record(array(t.string));
export type MessageTags = t.TypeOf<typeof MessageTags>;

const mailBase = {
  timestamp: IsoDateTime,
  messageId: t.string,
  headersTruncated: optional(BooleanFromBooleanOrString),
  headers: optional(array(MailHeader)),
  commonHeaders: optional(CommonHeaders),
} as const;

/**
 * `mail` of a message this account sent. `destination` is what the sending application asked
 * SES to deliver to, so every entry is an address.
 */
export const SentMail = struct({
  ...mailBase,
  source: t.string,
  sourceArn: optional(t.string),
  sourceIp: optional(t.string),
  callerIdentity: optional(t.string),
  sendingAccountId: optional(t.string),
  destination: array(EmailAddressFromString),
  tags: optional(MessageTags),
});
export type SentMail = t.TypeOf<typeof SentMail>;

/**
 * `mail` of a message SES received. `source` is the envelope MAIL FROM (null for DSNs), and
 * `destination` is copied from the To and Cc headers of mail from strangers: kept as text, so a
 * malformed header can never stop the message from being forwarded.
 */
export const ReceivedMail = struct({
  ...mailBase,
  source: MailFromAddress,
  destination: array(t.string),
});
export type ReceivedMail = t.TypeOf<typeof ReceivedMail>;
