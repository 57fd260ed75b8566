import { deadLetterAttributes, ERROR_ATTRIBUTES } from '../../../adapters/sqs/messages';
import { MAX_MESSAGE_BYTES, messageBytes, splitBatches } from '../../../domain/sqsSize';

const poison = (body: string) => ({
  message: {
    MessageId: 'm',
    Body: body,
    MessageAttributes: { custom: { DataType: 'String', StringValue: 'v'.repeat(500) } },
  },
  error: 'decode' as const,
  reason: 'invalid',
  path: 'bounce.feedbackId',
  text: 'e'.repeat(1024),
});

describe('splitBatches', () => {
  it('splits by count (10) and by total bytes (1 MiB), in order', () => {
    const sizes = [600_000, 400_000, 100_000, ...Array<number>(12).fill(1)];
    const batches = splitBatches(sizes, (s) => s);
    expect(batches.map((b) => b.length)).toEqual([2, 10, 3]);
    expect(batches.every((b) => b.reduce((a, s) => a + s, 0) <= 1_048_576)).toBe(true);
    expect(batches.flat()).toEqual(sizes);
  });
});

describe('deadLetterAttributes', () => {
  it('keeps every attribute when they fit', () => {
    const attributes = deadLetterAttributes(poison('x'.repeat(1000)));
    expect(Object.keys(attributes).sort()).toEqual(
      ['custom', ...Object.values(ERROR_ATTRIBUTES)].sort(),
    );
  });

  it('near the limit, cuts the error message and drops the rest, keeping the error', () => {
    const body = 'x'.repeat(MAX_MESSAGE_BYTES - 300);
    const attributes = deadLetterAttributes(poison(body));
    expect(messageBytes(body, attributes)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(attributes[ERROR_ATTRIBUTES.error]?.StringValue).toBe('decode');
    expect(attributes[ERROR_ATTRIBUTES.message]?.StringValue).toMatch(/^e+…$/);
    expect(attributes.custom).toBeUndefined();
  });

  it('at the limit itself, still says it is a dead letter', () => {
    const attributes = deadLetterAttributes(poison('x'.repeat(MAX_MESSAGE_BYTES - 1)));
    expect(Object.keys(attributes)).toEqual([ERROR_ATTRIBUTES.error]);
  });
});
