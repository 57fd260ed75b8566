/**
 * Messages SES and SNS really sent (test/fixtures/captured/, provenance in its README): each
 * decodes to the right kind, recipients and SES message id, inside its SNS envelope as captured
 * and raw (its `Message` alone, as SNS raw message delivery puts it on the queue).
 */
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import type { DomainEvent } from '../../../domain/events';
import { SES_SETUP_NOTICE } from '../../../domain/ses/setupNotice';
import { fixtureJson, fixtureNames, fixtureText } from '../../support/fixtures';

function decoded(body: string): DomainEvent {
  const result = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(`expected to decode, got: ${result.left.message}`);
  return result.right;
}

interface Expected {
  readonly kind: DomainEvent['kind'];
  readonly recipients: readonly string[];
  readonly sesMessageId: string | null;
}

const captured: Readonly<Record<string, Expected>> = {
  'captured/ses/laravel-ses-SesBounce.json': {
    kind: 'bounce',
    recipients: ['bounce@simulator.amazonses.com'],
    sesMessageId: '010101713ca0294f-c9ce9ef4-42c3-4b55-967b-7aed95804512-000000',
  },
  'captured/ses/laravel-ses-SesComplaint.json': {
    kind: 'complaint',
    recipients: ['complaint@simulator.amazonses.com'],
    sesMessageId: '010101713ca12600-91dcfd5a-f653-4c07-ae79-793021aed4b4-000000',
  },
  'captured/ses/laravel-ses-SesDelivery.json': {
    kind: 'delivery',
    recipients: ['juha.vehnia@sampleninja.io'],
    sesMessageId: '010101713c57681e-2f1bd797-f111-42b1-839c-a9119dcc7144-000000',
  },
  'captured/ses/laravel-ses-setup-notice.json': {
    kind: 'sesEventDestinationTest',
    recipients: [],
    sesMessageId: null,
  },
  'captured/ses/mass-email-click-linktags-null.json': {
    kind: 'click',
    recipients: ['sophiaff88@yahoo.com'],
    sesMessageId: '010101804d9f51b7-431d073a-fd21-4ae2-b252-c01d4adf9644-000000',
  },
};

it('lists every captured SES message', () => {
  expect(fixtureNames('captured/ses')).toEqual(Object.keys(captured).sort());
});

describe.each(Object.entries(captured))('%s', (name, expected) => {
  const envelope = fixtureJson<{ MessageId: string; Message: string; Timestamp: string }>(name);

  it('decodes in its SNS envelope, byte for byte as captured', () => {
    const event = decoded(fixtureText(name));
    expect({
      kind: event.kind,
      recipients: event.recipients,
      sesMessageId: event.sesMessageId,
    }).toEqual(expected);
    expect(event.sns?.messageId).toBe(envelope.MessageId);
  });

  it('decodes raw (its Message alone)', () => {
    const event = decoded(envelope.Message);
    expect({
      kind: event.kind,
      recipients: event.recipients,
      sesMessageId: event.sesMessageId,
    }).toEqual(expected);
    expect(event.sns).toBeNull();
  });
});

describe('the click on an untagged link ("linkTags": null)', () => {
  const name = 'captured/ses/mass-email-click-linktags-null.json';

  it('decodes with linkTags absent, as if SES had left the field out', () => {
    const event = decoded(fixtureText(name));
    if (event.kind !== 'click') throw new Error(event.kind);
    expect(event.click).not.toHaveProperty('linkTags');
    expect(event.click.link).toBe('http://localhost:3000/api/surveys/6261b2000468eb1f9c40f68a/yes');
    expect(event.configurationSet).toBe('Emailly');
  });

  it('still refuses linkTags of the wrong type', () => {
    const envelope = fixtureJson<{ Message: string }>(name);
    const message = JSON.parse(envelope.Message) as { click: Record<string, unknown> };
    message.click.linkTags = 'campaign';
    const result = decodeSqsBody(JSON.stringify(message));
    expect(result._tag === 'Left' && result.left.message).toBe(
      'at click.linkTags: expected object, got string "campaign"',
    );
  });
});

describe('the setup notice', () => {
  const name = 'captured/ses/laravel-ses-setup-notice.json';

  it('carries the SNS metadata and the envelope time', () => {
    const event = decoded(fixtureText(name));
    expect(event).toMatchObject({
      kind: 'sesEventDestinationTest',
      origin: 'sns',
      sesMessageId: null,
      recipients: [],
      timestamp: new Date('2021-02-07T01:46:17.368Z'),
      message: SES_SETUP_NOTICE,
      sns: {
        messageId: '6abf341d-f4e7-5d58-a5f6-6c84bc4e39f2',
        topicArn: 'arn:aws:sns:us-west-2:635608510762:staging-ses-bounce-us-west-2',
      },
    });
  });

  it.each([
    ['a prefix', 'Successfully validated SNS topic'],
    ['trailing text', `${SES_SETUP_NOTICE} And more.`],
    ['a trailing newline', `${SES_SETUP_NOTICE}\n`],
    ['another case', SES_SETUP_NOTICE.toUpperCase()],
    ['other text', 'Hello world'],
  ])('is the exact text only: %s is still poison, enveloped and raw', (_, text) => {
    const envelope = { ...fixtureJson(name), Message: text };
    const enveloped = decodeSqsBody(JSON.stringify(envelope));
    expect(enveloped._tag === 'Left' && enveloped.left.reason).toBe('notJson');
    const raw = decodeSqsBody(text);
    expect(raw._tag === 'Left' && raw.left.reason).toBe('notJson');
  });

  it('as a JSON string body is not the notice either', () => {
    const result = decodeSqsBody(JSON.stringify(SES_SETUP_NOTICE));
    expect(result._tag).toBe('Left');
  });
});
