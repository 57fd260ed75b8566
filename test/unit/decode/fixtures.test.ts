/**
 * Every fixture decodes to the right kind, origin, recipients and event time, raw (SNS raw
 * message delivery) and inside an SNS envelope. Expected values are read off the fixtures.
 */
import { isRight, type Either } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import { SnsEnvelope } from '../../../domain/sns';
import type { DecodeError } from '../../../domain/codec/decodeError';
import type { DomainEvent } from '../../../domain/events';
import { fixtureJson, fixtureNames, fixtureText, snsBody } from '../../support/fixtures';

function decoded(body: string): DomainEvent {
  const result: Either<DecodeError, DomainEvent> = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(`expected to decode, got: ${result.left.message}`);
  return result.right;
}

interface Expected {
  kind: DomainEvent['kind'];
  origin: DomainEvent['origin'];
  recipients: string[];
  timestamp: string | null;
  configurationSet?: string | null;
}

const eventPublishing: Record<string, Expected> = {
  'bounce.json': {
    kind: 'bounce',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2017-08-05T00:41:02.669Z',
  },
  'complaint.json': {
    kind: 'complaint',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2017-08-05T00:41:02.669Z',
  },
  'delivery.json': {
    kind: 'delivery',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2016-10-19T23:21:04.133Z',
  },
  'send.json': {
    kind: 'send',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2016-10-14T05:02:16.645Z',
  },
  // The seed's Reject sample names the sender as its destination.
  'reject.json': {
    kind: 'reject',
    origin: 'eventPublishing',
    recipients: ['sender@example.com'],
    timestamp: '2016-10-14T17:38:15.211Z',
  },
  'open.json': {
    kind: 'open',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2017-08-09T22:00:19.652Z',
  },
  'click.json': {
    kind: 'click',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2017-08-09T23:51:25.570Z',
  },
  'rendering-failure.json': {
    kind: 'renderingFailure',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2018-01-22T18:43:06.197Z',
  },
  'delivery-delay.json': {
    kind: 'deliveryDelay',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2020-06-16T00:25:40.095Z',
  },
  'subscription.json': {
    kind: 'subscription',
    origin: 'eventPublishing',
    recipients: ['recipient@example.com'],
    timestamp: '2022-01-12T01:00:17.910Z',
  },
};

const notifications: Record<string, Expected> = {
  'bounce-permanent-general.json': {
    kind: 'bounce',
    origin: 'notification',
    recipients: ['jane@example.net'],
    timestamp: '2024-05-14T09:21:07.412Z',
    configurationSet: null,
  },
  'bounce-permanent-noemail-two-recipients.json': {
    kind: 'bounce',
    origin: 'notification',
    recipients: ['jane.doe@example.com', 'richard@example.org'],
    timestamp: '2024-05-14T09:30:44.118Z',
  },
  'bounce-permanent-onaccountsuppressionlist.json': {
    kind: 'bounce',
    origin: 'notification',
    recipients: ['suppressed.user@example.org'],
    timestamp: '2024-05-14T09:45:03.000Z',
  },
  'bounce-permanent-suppressed.json': {
    kind: 'bounce',
    origin: 'notification',
    recipients: ['gone@example.net'],
    timestamp: '2024-05-14T09:40:12.560Z',
  },
  'bounce-transient-mailboxfull.json': {
    kind: 'bounce',
    origin: 'notification',
    recipients: ['busy@example.net'],
    timestamp: '2024-05-14T11:02:19.775Z',
  },
  'bounce-undetermined.json': {
    kind: 'bounce',
    origin: 'notification',
    recipients: ['maybe@example.org'],
    timestamp: '2024-05-14T12:14:55.000Z',
  },
  'complaint-abuse.json': {
    kind: 'complaint',
    origin: 'notification',
    recipients: ['richard@example.org'],
    timestamp: '2024-05-14T10:02:11.532Z',
  },
  'complaint-no-feedback-type.json': {
    kind: 'complaint',
    origin: 'notification',
    recipients: ['mary@example.net'],
    timestamp: '2024-05-14T10:20:37.000Z',
  },
  'complaint-not-spam.json': {
    kind: 'complaint',
    origin: 'notification',
    recipients: ['pat@example.net'],
    timestamp: '2024-05-14T10:45:09.871Z',
  },
  'complaint-onaccountsuppressionlist.json': {
    kind: 'complaint',
    origin: 'notification',
    recipients: ['complainer@example.org'],
    timestamp: '2024-05-14T11:10:00.000Z',
  },
  'delivery.json': {
    kind: 'delivery',
    origin: 'notification',
    recipients: ['jane@example.net', 'john@example.net'],
    timestamp: '2024-05-14T13:05:42.433Z',
  },
  // Raw delivery of the topic test carries no time at all.
  'ses-subscription-succeeded.json': {
    kind: 'sesSubscriptionTest',
    origin: 'notification',
    recipients: [],
    timestamp: null,
  },
};

const received = (recipients: string[], timestamp: string): Expected => ({
  kind: 'received',
  origin: 'notification',
  recipients,
  timestamp,
});
const receiving: Record<string, Expected> = {
  'received-bounce-action.json': received(['nobody@example.com'], '2024-05-14T10:40:05.120Z'),
  'received-dmarc-fail-reject.json': received(['info@example.com'], '2024-05-14T11:12:07.731Z'),
  'received-lambda.json': received(['info@example.com'], '2024-05-14T10:41:33.508Z'),
  'received-null-sender.json': received(['info@example.com'], '2024-05-14T11:31:26.054Z'),
  'received-s3.json': received(['info@example.com'], '2024-05-14T10:15:02.417Z'),
  'received-sns-base64.json': received(['rechnungen@example.com'], '2024-05-14T10:31:17.644Z'),
  // receipt.recipients (the envelope), not mail.destination (the headers), and normalised.
  'received-sns-utf8.json': received(
    ['info@example.com', 'sales@example.com'],
    '2024-05-14T10:22:48.090Z',
  ),
  'received-spam-fail.json': received(['info@example.com'], '2024-05-14T10:50:04.913Z'),
  'received-stop.json': received(['info@example.com'], '2024-05-14T10:42:10.006Z'),
  'received-verdicts-gray-processing-failed.json': received(
    ['info@example.com'],
    '2024-05-14T11:20:03.118Z',
  ),
  'received-virus-fail.json': received(['info@example.com'], '2024-05-14T11:01:43.225Z'),
  'received-workmail.json': received(['info@example.com'], '2024-05-14T10:43:51.377Z'),
};

const cases = [
  ...Object.entries(eventPublishing).map(([f, e]) => [`event-publishing/${f}`, e] as const),
  ...Object.entries(notifications).map(([f, e]) => [`notifications/${f}`, e] as const),
  ...Object.entries(receiving).map(([f, e]) => [`receiving/${f}`, e] as const),
];

function expectMatches(event: DomainEvent, expected: Expected): void {
  expect(event.kind).toBe(expected.kind);
  expect(event.origin).toBe(expected.origin);
  expect(event.recipients).toEqual(expected.recipients);
  expect(event.timestamp?.toISOString() ?? null).toBe(expected.timestamp);
  if (expected.configurationSet !== undefined && 'configurationSet' in event) {
    expect(event.configurationSet).toBe(expected.configurationSet);
  }
}

describe('every SES fixture has an expectation', () => {
  it.each(['event-publishing', 'notifications', 'receiving'])('%s/', (folder) => {
    const covered = cases.map(([name]) => name).filter((name) => name.startsWith(`${folder}/`));
    expect(covered.sort()).toEqual(fixtureNames(folder));
  });
});

describe.each(cases)('%s', (name, expected) => {
  const ses = fixtureJson(name);

  it('decodes with raw message delivery (SES JSON as the body)', () => {
    const event = decoded(fixtureText(name));
    expectMatches(event, expected);
    expect(event.sns).toBeNull();
  });

  it('decodes inside an SNS envelope, keeping the envelope metadata', () => {
    const event = decoded(snsBody(ses));
    expectMatches(
      {
        ...event,
        timestamp: event.kind === 'sesSubscriptionTest' ? null : event.timestamp,
      } as DomainEvent,
      expected,
    );
    expect(event.sns).toMatchObject({
      messageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
      topicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events',
      subject: 'Amazon SES Email Event Notification',
      signatureVersion: '1',
    });
    expect(event.sns?.timestamp.toISOString()).toBe('2024-05-14T09:21:08.101Z');
  });

  it('names the SES message id', () => {
    const mail = ses.mail as { messageId?: string } | undefined;
    expect(decoded(fixtureText(name)).sesMessageId).toBe(mail?.messageId ?? null);
  });
});

describe('kind-specific fields', () => {
  it('keeps the bounce as SES described it, with normalised addresses', () => {
    const event = decoded(
      fixtureText('notifications/bounce-permanent-noemail-two-recipients.json'),
    );
    if (event.kind !== 'bounce') throw new Error(event.kind);
    expect(event.bounce.bounceType).toBe('Permanent');
    expect(event.bounce.bounceSubType).toBe('NoEmail');
    expect(event.bounce.bouncedRecipients.map((r) => [r.emailAddress, r.status])).toEqual([
      ['jane.doe@example.com', '5.1.1'],
      ['richard@example.org', '5.1.1'],
    ]);
    expect(event.bounce.feedbackId).toBe(
      '0100018fc442aa30-e13710c8-0abc-47c3-a4d4-da2e3e12d3e2-000000',
    );
    expect(event.mail.destination).toEqual(['jane.doe@example.com', 'richard@example.org']);
  });

  it.each([
    ['bounce-permanent-suppressed.json', 'Permanent', 'Suppressed'],
    ['bounce-permanent-onaccountsuppressionlist.json', 'Permanent', 'OnAccountSuppressionList'],
    ['bounce-transient-mailboxfull.json', 'Transient', 'MailboxFull'],
    ['bounce-undetermined.json', 'Undetermined', 'Undetermined'],
  ])('%s is %s/%s', (file, type, subType) => {
    const event = decoded(fixtureText(`notifications/${file}`));
    if (event.kind !== 'bounce') throw new Error(event.kind);
    expect([event.bounce.bounceType, event.bounce.bounceSubType]).toEqual([type, subType]);
  });

  it.each([
    ['complaint-abuse.json', 'abuse', null],
    ['complaint-not-spam.json', 'not-spam', null],
    ['complaint-no-feedback-type.json', undefined, undefined],
    ['complaint-onaccountsuppressionlist.json', undefined, 'OnAccountSuppressionList'],
  ])('%s has feedback type %s and subtype %s', (file, feedbackType, subType) => {
    const event = decoded(fixtureText(`notifications/${file}`));
    if (event.kind !== 'complaint') throw new Error(event.kind);
    expect(event.complaint.complaintFeedbackType).toBe(feedbackType);
    expect(event.complaint.complaintSubType).toBe(subType);
  });

  it('reads the event publishing extras: configuration set, tags, timestamps as dates', () => {
    const event = decoded(fixtureText('event-publishing/delivery-delay.json'));
    if (event.kind !== 'deliveryDelay') throw new Error(event.kind);
    expect(event.configurationSet).toBe('ConfigSet');
    expect(event.deliveryDelay.delayType).toBe('TransientCommunicationFailure');
    expect(event.deliveryDelay.expirationTime).toEqual(new Date('2020-06-16T00:25:40.914Z'));
    expect(event.mail.timestamp).toEqual(new Date('2020-06-16T00:15:40.641Z'));
  });

  it('reads subscription preferences', () => {
    const event = decoded(fixtureText('event-publishing/subscription.json'));
    if (event.kind !== 'subscription') throw new Error(event.kind);
    expect(event.subscription.contactList).toBe('ContactListName');
    expect(event.subscription.newTopicPreferences.unsubscribeAll).toBe(true);
    expect(event.subscription.newTopicPreferences.topicSubscriptionStatus).toEqual([
      { topicName: 'ExampleTopicName', subscriptionStatus: 'OptOut' },
    ]);
  });

  it('reads click link tags and the rendering failure template', () => {
    const click = decoded(fixtureText('event-publishing/click.json'));
    if (click.kind !== 'click') throw new Error(click.kind);
    expect(click.click.link).toBe(
      'http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html',
    );
    expect({ ...click.click.linkTags }).toEqual({
      samplekey0: ['samplevalue0'],
      samplekey1: ['samplevalue1'],
    });
    const failure = decoded(fixtureText('event-publishing/rendering-failure.json'));
    if (failure.kind !== 'renderingFailure') throw new Error(failure.kind);
    expect(failure.failure.templateName).toBe('MyTemplate');
  });

  it.each([
    ['received-s3.json', 'S3'],
    ['received-sns-utf8.json', 'SNS'],
    ['received-sns-base64.json', 'SNS'],
    ['received-bounce-action.json', 'Bounce'],
    ['received-lambda.json', 'Lambda'],
    ['received-stop.json', 'Stop'],
    ['received-workmail.json', 'WorkMail'],
  ])('%s carries a %s action', (file, actionType) => {
    const event = decoded(fixtureText(`receiving/${file}`));
    if (event.kind !== 'received') throw new Error(event.kind);
    expect(event.receipt.action.type).toBe(actionType);
    expect(event.content !== null).toBe(actionType === 'SNS');
  });

  it('gives the S3 action what is needed to fetch the message', () => {
    const event = decoded(fixtureText('receiving/received-s3.json'));
    if (event.kind !== 'received' || event.receipt.action.type !== 'S3') throw new Error('not S3');
    expect(event.receipt.action.bucketName).toBe('inbound-mail');
    expect(event.receipt.action.objectKey).toBe(`incoming/${event.sesMessageId}`);
  });

  it.each([
    ['received-sns-utf8.json', 'UTF8'],
    ['received-sns-base64.json', 'BASE64'],
  ])('%s keeps the raw message with its %s encoding', (file, encoding) => {
    const event = decoded(fixtureText(`receiving/${file}`));
    if (event.kind !== 'received' || event.receipt.action.type !== 'SNS')
      throw new Error('not SNS');
    expect(event.receipt.action.encoding).toBe(encoding);
    const raw =
      encoding === 'BASE64'
        ? Buffer.from(event.content ?? '', 'base64').toString('utf8')
        : event.content;
    expect(raw).toMatch(/^Return-Path: /);
    expect(raw).toContain('\r\nMIME-Version: 1.0\r\n');
  });

  it.each([
    ['received-spam-fail.json', { spam: 'FAIL', virus: 'PASS' }],
    ['received-virus-fail.json', { spam: 'PASS', virus: 'FAIL' }],
    ['received-verdicts-gray-processing-failed.json', { spam: 'GRAY', virus: 'PROCESSING_FAILED' }],
  ])('%s reports its verdicts', (file, verdicts) => {
    const event = decoded(fixtureText(`receiving/${file}`));
    if (event.kind !== 'received') throw new Error(event.kind);
    expect({
      spam: event.receipt.spamVerdict?.status,
      virus: event.receipt.virusVerdict?.status,
    }).toEqual(verdicts);
  });

  it('reads a DMARC failure with its policy', () => {
    const event = decoded(fixtureText('receiving/received-dmarc-fail-reject.json'));
    if (event.kind !== 'received') throw new Error(event.kind);
    expect([event.receipt.dmarcVerdict?.status, event.receipt.dmarcPolicy]).toEqual([
      'FAIL',
      'reject',
    ]);
  });

  it('reads the null envelope sender of a DSN as null', () => {
    const event = decoded(fixtureText('receiving/received-null-sender.json'));
    if (event.kind !== 'received') throw new Error(event.kind);
    expect(event.mail.source).toBeNull();
    expect(event.mail.headersTruncated).toBe(true);
  });

  it('uses the SNS timestamp for the SES topic test message when there is one', () => {
    const event = decoded(snsBody(fixtureJson('notifications/ses-subscription-succeeded.json')));
    expect(event.kind).toBe('sesSubscriptionTest');
    expect(event.timestamp?.toISOString()).toBe('2024-05-14T09:21:08.101Z');
  });
});

describe('SNS envelopes as SNS sends them', () => {
  it.each([
    ['sns/subscription-confirmation.json', 'snsSubscriptionConfirmation'],
    ['sns/unsubscribe-confirmation.json', 'snsUnsubscribeConfirmation'],
  ])('%s is a %s with the URL and token to act on', (name, kind) => {
    const envelope = fixtureJson<{ SubscribeURL: string; Token: string; Timestamp: string }>(name);
    const event = decoded(fixtureText(name));
    if (
      event.kind !== 'snsSubscriptionConfirmation' &&
      event.kind !== 'snsUnsubscribeConfirmation'
    ) {
      throw new Error(event.kind);
    }
    expect(event.kind).toBe(kind);
    expect(event.origin).toBe('sns');
    expect(event.sesMessageId).toBeNull();
    expect(event.recipients).toEqual([]);
    expect(event.subscribeUrl).toBe(envelope.SubscribeURL);
    expect(event.token).toBe(envelope.Token);
    expect(event.timestamp.toISOString()).toBe(envelope.Timestamp);
  });

  it('reads Subject and MessageAttributes', () => {
    const event = decoded(fixtureText('sns/notification-with-subject-and-attributes.json'));
    expect(event.kind).toBe('received');
    expect(event.sns?.subject).toBe('Amazon SES Email Receipt Notification');
    expect({ ...event.sns?.messageAttributes }).toEqual({
      source: { Type: 'String', Value: 'ses' },
    });
  });

  it('accepts the emulator style: Subject null, placeholder signature, no MessageAttributes', () => {
    const event = decoded(fixtureText('sns/notification-fauxqs-style.json'));
    expect(event.kind).toBe('bounce');
    expect(event.sns?.subject).toBeNull();
    expect(event.sns?.messageAttributes).toEqual({});
  });

  it.each([
    ['absent', { Subject: undefined }],
    ['null', { Subject: null }],
    ['MessageAttributes {}', { MessageAttributes: {} }],
    [
      'no signature fields',
      { SignatureVersion: undefined, Signature: undefined, SigningCertURL: undefined },
    ],
  ])('accepts an envelope with Subject/attributes %s', (_label, overrides) => {
    const event = decoded(snsBody(fixtureJson('event-publishing/bounce.json'), overrides));
    expect(event.kind).toBe('bounce');
  });
});

describe('SnsEnvelope keeps Message as text (what a signature covers)', () => {
  it.each([
    'sns/notification-with-subject-and-attributes.json',
    'sns/subscription-confirmation.json',
  ])('%s', (name) => {
    const raw = fixtureJson<{ Message: string }>(name);
    const result = SnsEnvelope.decode(raw);
    if (result._tag === 'Left') throw new Error('did not decode');
    expect(result.right.Message).toBe(raw.Message);
  });
});
