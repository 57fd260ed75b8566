/**
 * SES event-publishing records made to order — kind, time, configuration set, sending identity,
 * recipients — from the documentation's samples, each its own event (own message id, feedback
 * id, recipients). For the metrics and reputation tests, which need streams with known counts.
 */
import { fixtureJson } from './fixtures';

// Fixture JSON, reshaped freely: the decoder, not this type, checks the result.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

export type SyntheticKind =
  | 'send'
  | 'delivery'
  | 'hardBounce'
  | 'softBounce'
  | 'suppressedBounce'
  | 'complaint'
  | 'open'
  | 'click'
  | 'renderingFailure';

export interface SyntheticEvent {
  readonly kind: SyntheticKind;
  /** Unique per event: message and feedback ids and recipients derive from it. */
  readonly n: number;
  readonly at: Date;
  /** Null: no configuration set (the tag is left out). Default `marketing`. */
  readonly configurationSet?: string | null;
  /** The identity's domain, as in `sourceArn`. Default `example.com`. */
  readonly identity?: string;
  readonly recipients?: number;
  /** For `renderingFailure`. Default `MyTemplate`. */
  readonly template?: string;
}

const FIXTURE: Record<SyntheticKind, string> = {
  send: 'event-publishing/send.json',
  delivery: 'event-publishing/delivery.json',
  hardBounce: 'event-publishing/bounce.json',
  softBounce: 'event-publishing/bounce.json',
  suppressedBounce: 'event-publishing/bounce.json',
  complaint: 'event-publishing/complaint.json',
  open: 'event-publishing/open.json',
  click: 'event-publishing/click.json',
  renderingFailure: 'event-publishing/rendering-failure.json',
};

/** The record as SNS would publish it (JSON text). */
export function sesEventJson(spec: SyntheticEvent): string {
  const json = fixtureJson<Json>(FIXTURE[spec.kind]);
  const at = spec.at.toISOString();
  const addresses = Array.from(
    { length: spec.recipients ?? 1 },
    (_, i) => `r${spec.n}-${i}@example.net`,
  );
  const tags: Json = { ...json.mail.tags };
  const configurationSet =
    spec.configurationSet === undefined ? 'marketing' : spec.configurationSet;
  if (configurationSet === null) delete tags['ses:configuration-set'];
  else tags['ses:configuration-set'] = [configurationSet];
  const mail: Json = {
    ...json.mail,
    timestamp: at,
    messageId: `synthetic-${spec.n}`,
    source: `sender@${spec.identity ?? 'example.com'}`,
    sourceArn: `arn:aws:ses:us-east-1:123456789012:identity/${spec.identity ?? 'example.com'}`,
    destination: addresses,
    tags,
  };
  delete mail.headers;
  delete mail.commonHeaders;
  const record: Json = { ...json, mail };
  switch (spec.kind) {
    case 'send':
    case 'open':
    case 'click':
      if (spec.kind !== 'send') record[spec.kind] = { ...json[spec.kind], timestamp: at };
      break;
    case 'delivery':
      record.delivery = { ...json.delivery, timestamp: at, recipients: addresses };
      break;
    case 'hardBounce':
    case 'softBounce':
    case 'suppressedBounce':
      record.bounce = {
        ...json.bounce,
        timestamp: at,
        feedbackId: `fb-${spec.n}`,
        bounceType: spec.kind === 'softBounce' ? 'Transient' : 'Permanent',
        bounceSubType:
          spec.kind === 'softBounce'
            ? 'MailboxFull'
            : spec.kind === 'suppressedBounce'
              ? 'OnAccountSuppressionList'
              : 'General',
        bouncedRecipients: addresses.map((emailAddress): Json => ({
          ...(json.bounce.bouncedRecipients[0] as Json),
          emailAddress,
        })),
      };
      break;
    case 'renderingFailure':
      record.failure = { ...json.failure, templateName: spec.template ?? 'MyTemplate' };
      break;
    case 'complaint':
      record.complaint = {
        ...json.complaint,
        timestamp: at,
        feedbackId: `fb-${spec.n}`,
        complainedRecipients: addresses.map((emailAddress) => ({ emailAddress })),
      };
      break;
  }
  return JSON.stringify(record);
}
