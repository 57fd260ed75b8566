/** The small pure parts of the pipeline: label caps, dead-letter attributes, SubscribeURL checks. */
import {
  deadLetterAttributes,
  ERROR_ATTRIBUTES,
  REPLAY_ATTRIBUTE,
} from '../../../adapters/sqs/messages';
import { makeLabelCap, NO_CONFIGURATION_SET, OTHER_LABEL } from '../../../domain/labels';
import { isSnsUrl } from '../../../adapters/sns/subscriptions';
import { redactJobId } from '../../../domain/routing';

describe('makeLabelCap', () => {
  it('keeps the first N distinct values and counts the rest as other', () => {
    const label = makeLabelCap(2);
    expect(['a', 'b', 'c', 'a', null, 'd'].map(label)).toEqual([
      'a',
      'b',
      OTHER_LABEL,
      'a',
      OTHER_LABEL,
      OTHER_LABEL,
    ]);
  });
  it('names events without a configuration set', () => {
    expect(makeLabelCap(5)(null)).toBe(NO_CONFIGURATION_SET);
  });
  it('stays bounded under 10,000 hostile names', () => {
    const label = makeLabelCap(100);
    const labels = new Set(Array.from({ length: 10_000 }, (_, i) => label(`set-${i}`)));
    expect(labels.size).toBe(101);
  });
});

describe('deadLetterAttributes', () => {
  const poison = (attributes: number) => ({
    message: {
      MessageId: 'm',
      Body: 'x',
      MessageAttributes: Object.fromEntries(
        Array.from({ length: attributes }, (_, i) => [
          `attr${i}`,
          { DataType: 'String', StringValue: String(i) },
        ]),
      ),
    },
    error: 'decode' as const,
    reason: 'invalid',
    path: '',
    text: 'at the top level: expected object, got "x"'.repeat(100),
  });

  it('carries the error and keeps the original attributes', () => {
    const attributes = deadLetterAttributes(poison(2));
    expect(attributes[ERROR_ATTRIBUTES.error]?.StringValue).toBe('decode');
    expect(attributes[ERROR_ATTRIBUTES.reason]?.StringValue).toBe('invalid');
    // SQS refuses empty values: the top-level path is written as "-".
    expect(attributes[ERROR_ATTRIBUTES.path]?.StringValue).toBe('-');
    expect(attributes[ERROR_ATTRIBUTES.message]?.StringValue).toHaveLength(1024);
    expect(attributes.attr0?.StringValue).toBe('0');
    expect(attributes.attr1?.StringValue).toBe('1');
  });

  it('never exceeds SQS’s ten attributes; the error always fits', () => {
    const attributes = deadLetterAttributes(poison(12));
    expect(Object.keys(attributes)).toHaveLength(10);
    expect(attributes[ERROR_ATTRIBUTES.reason]?.StringValue).toBe('invalid');
  });

  it('keeps a replay run’s mark before the message’s other attributes', () => {
    const crowded = poison(12);
    crowded.message.MessageAttributes[REPLAY_ATTRIBUTE] = {
      DataType: 'String',
      StringValue: 'run-1',
    };
    const attributes = deadLetterAttributes(crowded);
    expect(Object.keys(attributes)).toHaveLength(10);
    expect(attributes[REPLAY_ATTRIBUTE]?.StringValue).toBe('run-1');
  });
});

describe('isSnsUrl', () => {
  it.each([
    ['https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x', true],
    ['https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription', true],
    ['http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription', false],
    ['https://sns.us-east-1.amazonaws.com.evil.example/', false],
    ['https://evil.example/sns.us-east-1.amazonaws.com', false],
    ['https://sns.us-east-1.amazonaws.com:8443/', false],
    ['https://169.254.169.254/latest/meta-data', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(isSnsUrl(url)).toBe(expected);
  });
});

describe('redactJobId', () => {
  it.each([
    [
      'suppression/bounce/0100-feedback/jane@example.com',
      'suppression/bounce/0100-feedback/<address>',
    ],
    ['inbound/forward/msg-1/ops@example.org', 'inbound/forward/msg-1/<address>'],
    ['inbound/received/msg-1', 'inbound/received/msg-1'],
    ['metrics/batch/9f0c2a1b', 'metrics/batch/9f0c2a1b'],
  ])('%s → %s', (id, expected) => {
    expect(redactJobId(id)).toBe(expected);
  });
});
