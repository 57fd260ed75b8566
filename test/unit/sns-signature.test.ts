/** What an SNS signature covers, and which envelopes are refused before any cryptography. */
import { isLeft, isRight } from 'fp-ts/Either';
import { SNS_CERT_HOST, signingInput, type SigningPolicy } from '../../domain/snsSignature';
import { loadConfig } from '../../worker/config';
import { fixtureJson, fixtureNames } from '../support/fixtures';
import { snsStringToSign } from '../support/tls';

const production: SigningPolicy = { certHost: SNS_CERT_HOST, topicArns: null };

describe('signingInput', () => {
  it.each(fixtureNames('sns'))('%s: the fields in SNS’s order, as sent', (name) => {
    const envelope = fixtureJson<Record<string, string>>(name);
    const input = signingInput(envelope, production);
    if (!isRight(input)) throw new Error(input.left.message);
    expect(input.right.stringToSign).toBe(snsStringToSign(envelope));
    expect(input.right.algorithm).toBe('RSA-SHA1');
    // The time is signed as text: a re-serialised date would not verify.
    expect(input.right.stringToSign).toContain(`Timestamp\n${envelope.Timestamp}\n`);
  });

  it('signs SubscribeURL and Token for confirmations, Subject only when present', () => {
    const confirmation = fixtureJson<Record<string, string>>('sns/subscription-confirmation.json');
    const c = confirmation;
    const input = signingInput(c, production);
    expect(isRight(input) && input.right.stringToSign).toBe(
      `Message\n${c.Message}\nMessageId\n${c.MessageId}\nSubscribeURL\n${c.SubscribeURL}\n` +
        `Timestamp\n${c.Timestamp}\nToken\n${c.Token}\nTopicArn\n${c.TopicArn}\nType\n${c.Type}\n`,
    );
    const notification = fixtureJson<Record<string, string | null>>(
      'sns/notification-not-json-message.json',
    );
    const withoutSubject = signingInput({ ...notification, Subject: null }, production);
    expect(isRight(withoutSubject) && withoutSubject.right.stringToSign).not.toContain('Subject');
  });

  it.each([
    ['sns.us-east-1.amazonaws.com', true],
    ['sns.eu-central-2.amazonaws.com', true],
    ['sns.cn-north-1.amazonaws.com.cn', true],
    ['sns.us-east-1.amazonaws.com:443', true], // URL drops the default port
    ['sns.us-east-1.amazonaws.com:8443', false],
    ['sns.us-east-1.amazonaws.com.evil.example', false],
    ['evil-sns.us-east-1.amazonaws.com', false],
    ['sns.amazonaws.com', false],
    ['s3.amazonaws.com', false],
  ])('certificate host %s accepted: %s', (certHost, accepted) => {
    const envelope = {
      ...fixtureJson<Record<string, string>>('sns/notification-with-subject-and-attributes.json'),
      SigningCertURL: `https://${certHost}/SimpleNotificationService-1.pem`,
    };
    const input = signingInput(envelope, production);
    expect(isRight(input)).toBe(accepted);
    if (isLeft(input)) expect(input.left.reason).toBe('certUrl');
  });
});

describe('SNS_TOPIC_ARNS', () => {
  it('reads a comma-separated list; unset means any topic', () => {
    expect(loadConfig({}).snsTopicArns).toBeNull();
    expect(
      loadConfig({
        SNS_TOPIC_ARNS:
          'arn:aws:sns:eu-west-1:123456789012:ses-events, arn:aws-cn:sns:cn-north-1:123456789012:other',
      }).snsTopicArns,
    ).toEqual([
      'arn:aws:sns:eu-west-1:123456789012:ses-events',
      'arn:aws-cn:sns:cn-north-1:123456789012:other',
    ]);
  });

  it('names the variable when an entry is not a topic ARN', () => {
    expect(() => loadConfig({ SNS_TOPIC_ARNS: 'ses-events' })).toThrow(
      'SNS_TOPIC_ARNS: expected comma-separated SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>), got "ses-events"',
    );
  });
});
