/**
 * What a metrics job carries per event: the bounded facts each kind needs, never an address or
 * free text; and the label rules that keep series bounded whatever the messages say.
 */
import { isRight } from 'fp-ts/Either';
import { countedEvent, sendingIdentity } from '../../../domain/counting';
import { decodeSqsBody } from '../../../domain/decode';
import type { DomainEvent } from '../../../domain/events';
import { makeLabelCap, OTHER_LABEL } from '../../../domain/labels';
import {
  BOUNCE_SUB_TYPE_LABELS,
  COMPLAINT_FEEDBACK_TYPE_LABELS,
  knownOr,
  knownOrNone,
  sesName,
} from '../../../domain/metricLabels';
import { eventId, metricsJob } from '../../../domain/routing';
import { fixtureJson, fixtureNames, fixtureText } from '../../support/fixtures';

const decoded = (body: string): DomainEvent => {
  const result = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(result.left.message);
  return result.right;
};
const counted = (name: string) => {
  const event = decoded(fixtureText(name));
  return countedEvent(event, eventId(event));
};

const samples = [
  ...fixtureNames('event-publishing'),
  ...fixtureNames('notifications'),
  ...fixtureNames('receiving'),
  ...fixtureNames('sns').filter((name) => isRight(decodeSqsBody(fixtureText(name)))),
];

describe('countedEvent', () => {
  it.each(samples)('%s: no address, header or free text in the job', (name) => {
    const text = JSON.stringify(counted(name));
    expect(text).not.toContain('@');
    const event = decoded(fixtureText(name));
    if ('mail' in event && event.mail.commonHeaders?.subject !== undefined)
      expect(text).not.toContain(event.mail.commonHeaders.subject);
  });

  it('each kind carries its own facts', () => {
    expect(counted('notifications/bounce-permanent-noemail-two-recipients.json')).toMatchObject({
      kind: 'bounce',
      recipients: 2,
      bounce: { bounceType: 'Permanent', bounceSubType: 'NoEmail' },
    });
    expect(counted('notifications/complaint-abuse.json').complaint).toEqual({
      complaintFeedbackType: 'abuse',
      complaintSubType: null,
    });
    expect(counted('notifications/complaint-onaccountsuppressionlist.json').complaint).toEqual({
      complaintFeedbackType: null,
      complaintSubType: 'OnAccountSuppressionList',
    });
    expect(counted('event-publishing/delivery.json').delivery?.processingTimeMillis).toEqual(
      expect.any(Number),
    );
    expect(counted('event-publishing/delivery-delay.json').deliveryDelay).toEqual({
      delayType: fixtureJson<{ deliveryDelay: { delayType: string } }>(
        'event-publishing/delivery-delay.json',
      ).deliveryDelay.delayType,
    });
    expect(counted('event-publishing/rendering-failure.json').renderingFailure).toEqual({
      templateName: 'MyTemplate',
    });
    expect(counted('receiving/received-spam-fail.json').received).toEqual({
      action: expect.any(String),
      verdicts: {
        spam: 'FAIL',
        virus: expect.any(String),
        spf: expect.any(String),
        dkim: expect.any(String),
        dmarc: expect.any(String),
      },
    });
    expect(counted('event-publishing/send.json')).toMatchObject({
      kind: 'send',
      configurationSet: 'ConfigSet',
      identity: 'example.com',
    });
  });

  it('the time is the event’s own; null only where the message has none', () => {
    const bounce = fixtureJson<{ bounce: { timestamp: string } }>(
      'notifications/bounce-permanent-general.json',
    );
    expect(counted('notifications/bounce-permanent-general.json').at).toBe(
      new Date(bounce.bounce.timestamp).toISOString(),
    );
    for (const name of samples.filter((n) => !n.includes('subscription-succeeded')))
      expect(counted(name).at).not.toBeNull();
  });

  it('metricsJob builds its events with countedEvent', () => {
    const events = samples.map((name) => decoded(fixtureText(name)));
    expect(metricsJob(events)?.data).toEqual({
      events: events.map((e) => countedEvent(e, eventId(e))),
    });
  });
});

describe('sendingIdentity', () => {
  it('is the domain of the identity SES authorised the mail under', () => {
    expect(sendingIdentity('arn:aws:ses:us-east-1:1:identity/Example.COM', 'a@other.org')).toBe(
      'example.com',
    );
  });
  it('reduces an email-address identity to its domain', () => {
    expect(sendingIdentity('arn:aws:ses:us-east-1:1:identity/sender@example.com', 'x')).toBe(
      'example.com',
    );
  });
  it('falls back to the domain of mail.source, display name and all', () => {
    expect(sendingIdentity(undefined, 'Sender Name <sender@Mail.Example.org>')).toBe(
      'mail.example.org',
    );
    expect(sendingIdentity('arn:aws:ses:us-east-1:1:something-else', 'news@example.net')).toBe(
      'example.net',
    );
  });
  it('is null when nothing names a plausible domain', () => {
    expect(sendingIdentity(undefined, 'UnsubscribeHeader')).toBeNull();
    expect(sendingIdentity(undefined, '')).toBeNull();
    expect(sendingIdentity('arn:aws:ses:x:identity/not a domain', 'x@"quoted"')).toBeNull();
    expect(sendingIdentity(undefined, `a@${'x'.repeat(300)}.com`)).toBeNull();
  });
});

describe('label rules', () => {
  it('open enums: their known literals, else other', () => {
    const subtype = knownOr(BOUNCE_SUB_TYPE_LABELS);
    expect(subtype('MailboxFull')).toBe('MailboxFull');
    expect(subtype('SomethingSesAddsNextYear')).toBe(OTHER_LABEL);
    expect(subtype('__proto__')).toBe(OTHER_LABEL);
    const feedback = knownOrNone(COMPLAINT_FEEDBACK_TYPE_LABELS);
    expect(feedback(null)).toBe('none');
    expect(feedback('abuse')).toBe('abuse');
    expect(feedback('<script>')).toBe(OTHER_LABEL);
  });

  it('names must look like SES names before they can be a label', () => {
    expect(sesName('Marketing_2026-q1')).toBe('Marketing_2026-q1');
    expect(sesName(null)).toBeNull();
    for (const hostile of ['', 'a'.repeat(65), 'has space', 'x|y', 'x=y', 'ünïcode', 'a@b.com'])
      expect(sesName(hostile)).toBe(OTHER_LABEL);
  });

  it('10,000 hostile configuration-set names make at most max + 1 label values', () => {
    const label = makeLabelCap(100);
    const values = new Set(
      Array.from({ length: 10_000 }, (_, i) =>
        label(sesName(i % 2 ? `set-${i}` : `bad name ${i}`)),
      ),
    );
    expect(values.size).toBe(101);
    expect(values.has(OTHER_LABEL)).toBe(true);
  });
});
