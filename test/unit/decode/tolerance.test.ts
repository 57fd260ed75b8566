/**
 * The tolerance review (docs/decoding.md, "Choices where the formats are loose"): for an optional field
 * that only describes, SES's `null` means the same as the field being absent; a field whose
 * value decides what the worker does stays strict, so `null` there is a decode failure that
 * names the field.
 */
import { decodeSqsBody } from '../../../domain/decode';
import type { DomainEvent } from '../../../domain/events';
import { fixtureJson, snsBody } from '../../support/fixtures';

type Json = Record<string, unknown>;

/** The fixture with the value at `path` (dot-separated, numbers index arrays) set to null. */
function withNull(fixture: string, path: string): Json {
  const json = fixtureJson<Json>(fixture);
  const keys = path.split('.');
  let node: Json = json;
  for (const key of keys.slice(0, -1)) node = node[key] as Json;
  node[keys.at(-1)!] = null;
  return json;
}

function at(event: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Json | undefined)?.[key], event);
}

/** Where each path of a fixture lands in the DomainEvent. */
const RELAXED: readonly (readonly [fixture: string, path: string, inEvent: string])[] = [
  ['event-publishing/click.json', 'click.linkTags', 'click.linkTags'],
  ['event-publishing/click.json', 'click.ipAddress', 'click.ipAddress'],
  ['event-publishing/click.json', 'click.userAgent', 'click.userAgent'],
  ['event-publishing/open.json', 'open.userAgent', 'open.userAgent'],
  ['event-publishing/open.json', 'open.ipAddress', 'open.ipAddress'],
  ['event-publishing/send.json', 'send', 'send'],
  ['event-publishing/send.json', 'mail.tags', 'mail.tags'],
  ['event-publishing/send.json', 'mail.sourceArn', 'mail.sourceArn'],
  ['event-publishing/send.json', 'mail.sendingAccountId', 'mail.sendingAccountId'],
  ['event-publishing/send.json', 'mail.headers', 'mail.headers'],
  ['event-publishing/send.json', 'mail.headersTruncated', 'mail.headersTruncated'],
  ['event-publishing/send.json', 'mail.commonHeaders', 'mail.commonHeaders'],
  ['event-publishing/send.json', 'mail.commonHeaders.subject', 'mail.commonHeaders.subject'],
  ['event-publishing/bounce.json', 'bounce.reportingMTA', 'bounce.reportingMTA'],
  [
    'event-publishing/bounce.json',
    'bounce.bouncedRecipients.0.diagnosticCode',
    'bounce.bouncedRecipients.0.diagnosticCode',
  ],
  ['event-publishing/complaint.json', 'complaint.userAgent', 'complaint.userAgent'],
  [
    'event-publishing/complaint.json',
    'complaint.complaintFeedbackType',
    'complaint.complaintFeedbackType',
  ],
  ['event-publishing/complaint.json', 'complaint.arrivalDate', 'complaint.arrivalDate'],
  ['event-publishing/delivery.json', 'delivery.smtpResponse', 'delivery.smtpResponse'],
  [
    'event-publishing/delivery.json',
    'delivery.processingTimeMillis',
    'delivery.processingTimeMillis',
  ],
  [
    'event-publishing/delivery-delay.json',
    'deliveryDelay.expirationTime',
    'deliveryDelay.expirationTime',
  ],
  [
    'event-publishing/subscription.json',
    'subscription.oldTopicPreferences',
    'subscription.oldTopicPreferences',
  ],
  [
    'receiving/received-sns-utf8.json',
    'receipt.processingTimeMillis',
    'receipt.processingTimeMillis',
  ],
  ['receiving/received-sns-utf8.json', 'receipt.action.topicArn', 'receipt.action.topicArn'],
  [
    'receiving/received-s3.json',
    'receipt.action.objectKeyPrefix',
    'receipt.action.objectKeyPrefix',
  ],
];

describe.each(RELAXED)('%s: %s null', (fixture, path, inEvent) => {
  it.each([
    ['raw', (json: Json) => JSON.stringify(json)],
    ['enveloped', (json: Json) => snsBody(json)],
  ])('%s: decodes as if the field were absent', (_, body) => {
    const result = decodeSqsBody(body(withNull(fixture, path)));
    if (result._tag === 'Left') throw new Error(result.left.message);
    const event: DomainEvent = result.right;
    expect(at(event, inEvent)).toBeUndefined();
    const parent = inEvent.split('.').slice(0, -1).join('.');
    const holder = parent === '' ? event : at(event, parent);
    expect(holder).not.toHaveProperty(inEvent.split('.').at(-1)!);
  });
});

const STRICT: readonly (readonly [fixture: string, path: string])[] = [
  ['event-publishing/bounce.json', 'bounce.bounceType'],
  ['event-publishing/bounce.json', 'bounce.bouncedRecipients'],
  ['event-publishing/bounce.json', 'bounce.feedbackId'],
  ['event-publishing/bounce.json', 'eventType'],
  ['event-publishing/send.json', 'mail.messageId'],
  ['event-publishing/send.json', 'mail.destination'],
  ['event-publishing/subscription.json', 'subscription.newTopicPreferences'],
  ['receiving/received-sns-utf8.json', 'receipt.action.encoding'],
  ['receiving/received-sns-utf8.json', 'receipt.action.type'],
  ['receiving/received-sns-utf8.json', 'receipt.spamVerdict'],
  ['receiving/received-sns-utf8.json', 'receipt.virusVerdict'],
  ['receiving/received-dmarc-fail-reject.json', 'receipt.dmarcPolicy'],
  ['receiving/received-sns-utf8.json', 'content'],
  ['notifications/complaint-abuse.json', 'notificationType'],
];

it.each(STRICT)('%s: %s null is refused, naming the field', (fixture, path) => {
  const result = decodeSqsBody(JSON.stringify(withNull(fixture, path)));
  expect(result._tag).toBe('Left');
  expect(result._tag === 'Left' && result.left.path).toBe(path);
});

it('a subscription’s topicSubscriptionStatus subscriptionStatus stays strict', () => {
  const json = fixtureJson<Json>('event-publishing/subscription.json');
  const prefs = (json.subscription as Json).newTopicPreferences as Json;
  (prefs.topicSubscriptionStatus as Json[])[0]!.subscriptionStatus = null;
  const result = decodeSqsBody(JSON.stringify(json));
  expect(result._tag === 'Left' && result.left.path).toBe(
    'subscription.newTopicPreferences.topicSubscriptionStatus["0"].subscriptionStatus',
  );
});
