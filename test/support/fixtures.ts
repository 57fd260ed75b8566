/** The JSON fixtures of test/fixtures/ and the SNS envelope SQS delivers them in. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** test/fixtures, from test/support or from its compiled copy in dist/test/support (chaos suite). */
export const FIXTURES_DIR =
  [
    resolve(__dirname, '..', 'fixtures'),
    resolve(__dirname, '..', '..', '..', 'test', 'fixtures'),
  ].find((dir) => existsSync(join(dir, 'event-publishing'))) ??
  resolve(__dirname, '..', 'fixtures');

/** `event-publishing/bounce.json` → its text. */
export const fixtureText = (name: string): string => readFileSync(join(FIXTURES_DIR, name), 'utf8');

export const fixtureJson = <T = Record<string, unknown>>(name: string): T =>
  JSON.parse(fixtureText(name)) as T;

/** Every `*.json` under a fixture folder, as `folder/file.json`. */
export const fixtureNames = (folder: string): string[] =>
  readdirSync(join(FIXTURES_DIR, folder))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => `${folder}/${f}`);

/** What SNS puts on the queue with raw message delivery off. */
export function snsEnvelope(
  message: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    Type: 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events',
    Subject: 'Amazon SES Email Event Notification',
    Message: message,
    Timestamp: '2024-05-14T09:21:08.101Z',
    SignatureVersion: '1',
    Signature:
      'EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=',
    SigningCertURL:
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem',
    UnsubscribeURL:
      'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:ses-events:2c2a5a5e',
    ...overrides,
  };
}

/** The SQS body SNS would deliver for an SES payload, as text. */
export const snsBody = (sesJson: unknown, overrides: Record<string, unknown> = {}): string =>
  JSON.stringify(snsEnvelope(JSON.stringify(sesJson), overrides));
