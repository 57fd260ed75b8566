/**
 * The `mail` object of SES records (ses-formats.md §2–§4). Everything not always present is
 * optional: SES includes headers only when "include original headers" is on, tags only with
 * configuration sets, and Open/Click records carry a shorter `mail`. All of it is descriptive,
 * so `null` reads as absent throughout (docs/decoding.md, "Choices where the formats are loose").
 */
import * as t from 'io-ts';
import { array, optionalOrNull, record, struct } from '../codec/combinators';
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
  from: optionalOrNull(array(t.string)),
  to: optionalOrNull(array(t.string)),
  cc: optionalOrNull(array(t.string)),
  bcc: optionalOrNull(array(t.string)),
  sender: optionalOrNull(array(t.string)),
  replyTo: optionalOrNull(array(t.string)),
  returnPath: optionalOrNull(t.string),
  messageId: optionalOrNull(t.string),
  date: optionalOrNull(t.string),
  subject: optionalOrNull(t.string),
});
export type CommonHeaders = t.TypeOf<typeof CommonHeaders>;

/** `ses:configuration-set`, `ses:from-domain`, … and the sender's own tags. */
export const MessageTags = record(array(t.string));
export type MessageTags = t.TypeOf<typeof MessageTags>;

const mailBase = {
  timestamp: IsoDateTime,
  messageId: t.string,
  headersTruncated: optionalOrNull(BooleanFromBooleanOrString),
  headers: optionalOrNull(array(MailHeader)),
  commonHeaders: optionalOrNull(CommonHeaders),
} as const;

/**
 * `mail` of a message this account sent. `destination` is what the sending application asked
 * SES to deliver to, so every entry is an address.
 */
export const SentMail = struct({
  ...mailBase,
  source: t.string,
  sourceArn: optionalOrNull(t.string),
  sourceIp: optionalOrNull(t.string),
  callerIdentity: optionalOrNull(t.string),
  sendingAccountId: optionalOrNull(t.string),
  destination: array(EmailAddressFromString),
  tags: optionalOrNull(MessageTags),
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
