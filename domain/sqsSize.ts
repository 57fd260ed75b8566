/**
 * SQS's size limits, as SQS counts them: a message is its body's UTF-8 bytes plus, for each
 * message attribute, its name, data type and value; a batch request may carry at most 10
 * entries and 1 MiB in total. A request past either is refused whole, so senders split first.
 */

/** `MaximumMessageSize`'s default (and, before 2025, its largest value): 256 KiB. */
export const MAX_MESSAGE_BYTES = 262_144;
/** The largest total of one SendMessageBatch request. */
export const MAX_BATCH_BYTES = 1_048_576;
export const MAX_BATCH_ENTRIES = 10;

export interface AttributeValue {
  readonly DataType?: string | undefined;
  readonly StringValue?: string | undefined;
  readonly BinaryValue?: Uint8Array | undefined;
}

const utf8 = (text: string | undefined): number =>
  text === undefined ? 0 : Buffer.byteLength(text, 'utf8');

/** One attribute's share of a message's size. */
export const attributeBytes = (name: string, value: AttributeValue): number =>
  utf8(name) + utf8(value.DataType) + utf8(value.StringValue) + (value.BinaryValue?.length ?? 0);

/** A message's size as SQS counts it against `MaximumMessageSize`. */
export function messageBytes(
  body: string,
  attributes: Readonly<Record<string, AttributeValue>> = {},
): number {
  let total = utf8(body);
  for (const [name, value] of Object.entries(attributes)) total += attributeBytes(name, value);
  return total;
}

/**
 * Consecutive groups of at most `maxEntries` items and `maxBytes` in total, in order. An item
 * larger than `maxBytes` on its own gets a group of its own (SQS then refuses that one only).
 */
export function splitBatches<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  maxBytes = MAX_BATCH_BYTES,
  maxEntries = MAX_BATCH_ENTRIES,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const item of items) {
    const bytes = bytesOf(item);
    if (current.length > 0 && (current.length >= maxEntries || currentBytes + bytes > maxBytes)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The attributes, in order of importance, that fit beside `body` within `maxBytes`: each is
 * kept whole while it fits; one marked `shortenable` is cut to the room left. With `keepFirst`
 * the first is kept whatever the room: a dead letter must at least say it is one.
 */
export function fitAttributes<V extends AttributeValue>(
  body: string,
  ordered: readonly (readonly [string, V, { shortenable?: boolean }?])[],
  maxBytes = MAX_MESSAGE_BYTES,
  keepFirst = false,
): Record<string, V> {
  let room = maxBytes - utf8(body);
  const kept: Record<string, V> = {};
  ordered.forEach(([name, value, options], i) => {
    const bytes = attributeBytes(name, value);
    if ((keepFirst && i === 0) || bytes <= room) {
      kept[name] = value;
      room -= bytes;
      return;
    }
    const text = value.StringValue;
    const fixed = utf8(name) + utf8(value.DataType);
    if (options?.shortenable === true && text !== undefined && room - fixed >= 16) {
      kept[name] = { ...value, StringValue: truncateUtf8(text, room - fixed - 3) + '…' };
      room = 0;
    }
  });
  return kept;
}

/** The longest prefix of `text` within `bytes` UTF-8 bytes, never splitting a character. */
function truncateUtf8(text: string, bytes: number): string {
  let used = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8(char);
    if (used + size > bytes) break;
    used += size;
    end += char.length;
  }
  return text.slice(0, end);
}
