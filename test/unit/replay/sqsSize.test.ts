import fc from 'fast-check';
import { deadLetterAttributes, ERROR_ATTRIBUTES } from '../../../adapters/sqs/messages';
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_MESSAGE_BYTES,
  messageBytes,
  splitBatches,
} from '../../../domain/sqsSize';

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

  it('any input: every request within 10 entries and 1 MiB, in order, nothing lost, none closed early; an entry over 1 MiB alone', () => {
    const bytes = fc.oneof(
      fc.integer({ min: 0, max: 2_000 }),
      fc.integer({ min: 0, max: MAX_MESSAGE_BYTES }),
      fc.integer({ min: MAX_BATCH_BYTES - 2, max: MAX_BATCH_BYTES + 2 }),
    );
    fc.assert(
      fc.property(fc.array(bytes.map((size) => ({ size }))), (items) => {
        const batches = splitBatches(items, (item) => item.size);
        const total = (batch: readonly { size: number }[]) =>
          batch.reduce((sum, item) => sum + item.size, 0);
        // The same objects, in the same order: nothing dropped, repeated or reordered.
        expect(batches.flat()).toStrictEqual(items);
        batches.flat().forEach((item, i) => expect(item).toBe(items[i]));
        batches.forEach((batch, i) => {
          expect(batch.length).toBeGreaterThanOrEqual(1);
          expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_ENTRIES);
          // Over the limit on its own: a request of its own, which SQS refuses alone.
          if (batch.some((item) => item.size > MAX_BATCH_BYTES)) expect(batch).toHaveLength(1);
          else expect(total(batch)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
          // As few requests as the order allows: the next entry did not fit in this one.
          const next = batches[i + 1]?.[0];
          if (next !== undefined)
            expect(
              batch.length === MAX_BATCH_ENTRIES || total(batch) + next.size > MAX_BATCH_BYTES,
            ).toBe(true);
        });
      }),
    );
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
