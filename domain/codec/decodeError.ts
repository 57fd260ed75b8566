import * as t from 'io-ts';
import { ArrayOfType, UNSUPPORTED } from './combinators';
import { NOT_JSON } from './scalars';

/**
 * Why a body did not decode. The names are stable: they travel as SQS message attributes to
 * the DLQ and label the decode-failure metric.
 * - `notJson`: the body, or the SNS `Message` in it, is not JSON text;
 * - `unsupported`: a well-formed message of a type this version does not know (an unknown
 *   `eventType`, `notificationType` or SNS `Type`): replay it once supported;
 * - `invalid`: a known type with a missing or mistyped field;
 * - `internal`: the decoder itself failed — a bug, reported rather than thrown.
 */
export type DecodeFailureReason = 'notJson' | 'unsupported' | 'invalid' | 'internal';

export interface DecodeError {
  readonly reason: DecodeFailureReason;
  /** JSON path of the offending value, `bounce.bouncedRecipients[0].emailAddress`; `""` for the whole body. */
  readonly path: string;
  readonly expected: string;
  readonly found: string;
  /** One line: `at bounce.bouncedRecipients: expected array, got undefined`. */
  readonly message: string;
  /**
   * The same line with the found value described by its kind only (`got a string of 8
   * characters`): for logs, which must not carry message content. `message` quotes the value's
   * start and goes only where the message itself goes (the DLQ, the operator's `decode`).
   */
  readonly contentFree: string;
}

export function decodeError(
  reason: DecodeFailureReason,
  path: string,
  expected: string,
  found: string,
  extra = '',
  foundKind = found,
): DecodeError {
  const where = path === '' ? 'at the top level' : `at ${path}`;
  return {
    reason,
    path,
    expected,
    found,
    message: `${where}: expected ${expected}, got ${found}${extra}`,
    contentFree: `${where}: expected ${expected}, got ${foundKind}${extra}`,
  };
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const MAX_SHOWN_STRING = 60;

/**
 * JSON-quoted, and one line whatever it holds: JSON.stringify leaves U+2028 and U+2029 (line
 * separators) raw, and U+FFFE and U+FFFF, which SQS refuses in message text, so the error could
 * not travel to the DLQ in the message's attributes.
 */
function quote(text: string): string {
  return JSON.stringify(text).replace(
    /[\u2028\u2029\uFFFE\uFFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

/** A short excerpt: a message is one line, read by people, and kept whole in the DLQ. */
const shorten = (text: string): string =>
  text.length > MAX_SHOWN_STRING ? `${text.slice(0, MAX_SHOWN_STRING)}…` : text;

function pathOf(context: t.Context): string {
  let path = '';
  for (let i = 1; i < context.length; i++) {
    const entry = context[i] as t.ContextEntry;
    const parent = (context[i - 1] as t.ContextEntry).type;
    const short = entry.key.length <= MAX_SHOWN_STRING;
    if (parent instanceof ArrayOfType || parent instanceof t.ArrayType) path += `[${entry.key}]`;
    else if (short && IDENTIFIER.test(entry.key)) path += path === '' ? entry.key : `.${entry.key}`;
    // Keys of maps (tags, MessageAttributes) are the sender's: any length, any characters.
    else path += `[${quote(shorten(entry.key))}]`;
  }
  return path;
}

/** What was found, in a few words; never the whole (possibly huge or hostile) value. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value.length === 0) return 'empty string';
    return `string ${quote(shorten(value))}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean')
    return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return value.length === 0 ? 'empty array' : `array of ${value.length}`;
  return typeof value;
}

/** What was found, by kind and size only: nothing of the value itself. */
export function describeKind(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string')
    return value.length === 0 ? 'empty string' : `a string of ${value.length} characters`;
  if (Array.isArray(value)) return value.length === 0 ? 'empty array' : `array of ${value.length}`;
  return typeof value;
}

/**
 * The first of io-ts's errors as one line. Codecs report in field order and our unions never
 * try alternatives, so the first error is the first thing wrong in the message.
 */
export function fromValidationErrors(errors: t.Errors): DecodeError {
  const first = errors[0];
  if (first === undefined) return decodeError('internal', '', 'a decode error', 'none');
  const last = first.context[first.context.length - 1];
  const expected = last?.type.name ?? 'a value';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const reason: DecodeFailureReason =
    first.message === UNSUPPORTED
      ? 'unsupported'
      : first.message === NOT_JSON
        ? 'notJson'
        : 'invalid';
  return decodeError(
    reason,
    pathOf(first.context),
    expected,
    describeValue(first.value),
    more,
    describeKind(first.value),
  );
}
