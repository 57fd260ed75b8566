/** The `receipt` of email receiving notifications (ses-formats.md §4). */
import * as t from 'io-ts';
import {
  array,
  enumOf,
  openEnum,
  optional,
  optionalOrNull,
  struct,
  tagged,
} from '../codec/combinators';
import { EmailAddressFromString, IsoDateTime, NumberFromNumberOrString } from '../codec/scalars';

/**
 * Open: besides the four documented statuses, SES reports `DISABLED` for spam and virus
 * verdicts when the receipt rule has scanning off. Forwarding policy tests for `FAIL`.
 */
export const VerdictStatus = openEnum(['PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED']);
export type VerdictStatus = t.TypeOf<typeof VerdictStatus>;

export const Verdict = struct({ status: VerdictStatus });
export type Verdict = t.TypeOf<typeof Verdict>;

export const DmarcPolicy = openEnum(['none', 'quarantine', 'reject']);
export type DmarcPolicy = t.TypeOf<typeof DmarcPolicy>;

/** Closed: how `content` is encoded decides how the raw message is read. */
export const ContentEncoding = enumOf(['UTF8', 'BASE64']);
export type ContentEncoding = t.TypeOf<typeof ContentEncoding>;

const topicArn = optionalOrNull(t.string);

export const ReceiptAction = tagged('type', {
  S3: struct({
    type: t.literal('S3'),
    topicArn,
    bucketName: t.string,
    objectKey: t.string,
    objectKeyPrefix: optionalOrNull(t.string),
  }),
  /** `encoding` is absent in AWS's own example; SES's default is UTF8. */
  SNS: struct({ type: t.literal('SNS'), topicArn, encoding: optional(ContentEncoding) }),
  Bounce: struct({
    type: t.literal('Bounce'),
    topicArn,
    smtpReplyCode: optionalOrNull(t.string),
    statusCode: optionalOrNull(t.string),
    message: optionalOrNull(t.string),
    sender: optionalOrNull(t.string),
  }),
  Lambda: struct({
    type: t.literal('Lambda'),
    topicArn,
    functionArn: t.string,
    invocationType: optionalOrNull(enumOf(['Event', 'RequestResponse'])),
  }),
  Stop: struct({ type: t.literal('Stop'), topicArn }),
  WorkMail: struct({
    type: t.literal('WorkMail'),
    topicArn,
    organizationArn: optionalOrNull(t.string),
  }),
});
export type ReceiptAction = t.TypeOf<typeof ReceiptAction>;

/**
 * Strict where the value decides what forwarding does: the verdicts and `dmarcPolicy` (policy),
 * `encoding` (how `content` is read). Descriptive fields read `null` as absent.
 */
export const Receipt = struct({
  timestamp: IsoDateTime,
  processingTimeMillis: optionalOrNull(NumberFromNumberOrString),
  /** The envelope RCPT TO addresses the receipt rule matched: what forwarding rules match on. */
  recipients: array(EmailAddressFromString),
  spamVerdict: optional(Verdict),
  virusVerdict: optional(Verdict),
  spfVerdict: optional(Verdict),
  dkimVerdict: optional(Verdict),
  dmarcVerdict: optional(Verdict),
  dmarcPolicy: optional(DmarcPolicy),
  action: ReceiptAction,
});
export type Receipt = t.TypeOf<typeof Receipt>;

/** The receipt's five verdicts by name; null where SES gave none. */
export function receiptVerdicts(
  receipt: Receipt,
): Readonly<Record<'spam' | 'virus' | 'spf' | 'dkim' | 'dmarc', VerdictStatus | null>> {
  return {
    spam: receipt.spamVerdict?.status ?? null,
    virus: receipt.virusVerdict?.status ?? null,
    spf: receipt.spfVerdict?.status ?? null,
    dkim: receipt.dkimVerdict?.status ?? null,
    dmarc: receipt.dmarcVerdict?.status ?? null,
  };
}
