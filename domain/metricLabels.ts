/**
 * Label values for the SES metrics. A label must never grow a series per value without limit:
 * values SES extends over time (open enums) are their known literals or `other`; names the
 * sending account chooses (configuration sets, templates) must look like SES names, and are
 * capped in number by the caller (`makeLabelCap`).
 */
import type { Unrecognised } from './codec/combinators';
import { OTHER_LABEL } from './labels';
import type { ReceiptAction, VerdictStatus } from './ses/receiving';
import type { BounceSubType, BounceType, ComplaintFeedbackType, DelayType } from './ses/sending';

/** Every known literal of an open enum, once: the compiler rejects a missing or unknown one. */
type Known<V extends string> = Readonly<Record<Exclude<V, Unrecognised>, true>>;

const keys = <V extends string>(known: Known<V>): readonly V[] => Object.keys(known) as V[];

export const BOUNCE_TYPE_LABELS = keys<BounceType>({
  Permanent: true,
  Transient: true,
  Undetermined: true,
});

export const BOUNCE_SUB_TYPE_LABELS = keys<BounceSubType>({
  Undetermined: true,
  General: true,
  NoEmail: true,
  Suppressed: true,
  OnAccountSuppressionList: true,
  MailboxFull: true,
  MessageTooLarge: true,
  ContentRejected: true,
  AttachmentRejected: true,
});

export const COMPLAINT_FEEDBACK_TYPE_LABELS = keys<ComplaintFeedbackType>({
  abuse: true,
  'auth-failure': true,
  fraud: true,
  'not-spam': true,
  other: true,
  virus: true,
});

export const DELAY_TYPE_LABELS = keys<DelayType>({
  InternalFailure: true,
  General: true,
  MailboxFull: true,
  SpamDetected: true,
  RecipientServerError: true,
  IPFailure: true,
  TransientCommunicationFailure: true,
  BYOIPHostNameLookupUnavailable: true,
  Undetermined: true,
  SendingDeferral: true,
});

export const VERDICT_STATUS_LABELS = keys<VerdictStatus>({
  PASS: true,
  FAIL: true,
  GRAY: true,
  PROCESSING_FAILED: true,
  DISABLED: true,
});

export const RECEIPT_ACTION_LABELS = keys<ReceiptAction['type']>({
  S3: true,
  SNS: true,
  Bounce: true,
  Lambda: true,
  Stop: true,
  WorkMail: true,
});

/** The label for a value of a closed set: the value itself if known, else `other`. */
export function knownOr(known: readonly string[]): (value: string | null | undefined) => string {
  const set = new Set(known);
  return (value) => (value !== null && value !== undefined && set.has(value) ? value : OTHER_LABEL);
}

/** The label of a missing value (no feedback type, no verdict). */
export const NONE_LABEL = 'none';

/** Like `knownOr`, with `none` for a missing value. */
export function knownOrNone(
  known: readonly string[],
): (value: string | null | undefined) => string {
  const label = knownOr(known);
  return (value) => (value === null || value === undefined ? NONE_LABEL : label(value));
}

/**
 * SES names configuration sets and templates with at most 64 of `[A-Za-z0-9_-]`; anything else
 * cannot be one (a forged message), and is `other` before it can take a label of its own.
 */
const SES_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function sesName(value: string | null): string | null {
  return value === null || SES_NAME.test(value) ? value : OTHER_LABEL;
}
