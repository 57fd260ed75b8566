import * as t from 'io-ts';
import { normalizeEmailAddress, type EmailAddress } from '../address';
import { markContextFree } from './combinators';

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/;

/**
 * `2017-08-05T00:41:02.669Z` → its instant, or NaN for an impossible date (month 13, Feb 30).
 * Also accepts a space before the offset, as in AWS's own `mail` example
 * (`2018-10-08T14:05:45 +0000`): a bounce must not be lost over a stray space.
 * Built from the regex captures: `new Date(string)` was the decoder's single largest cost.
 */
export function parseIsoDateTime(text: string): number {
  if (text.length === 24) {
    const instant = parseSesTimestamp(text);
    if (!Number.isNaN(instant)) return instant;
  }
  const m = ISO_8601.exec(text);
  if (m === null) return NaN;
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offH, offM] = m;
  const year = Number(y);
  const month = Number(mo) - 1;
  const day = Number(d);
  const ms = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  const local = Date.UTC(year, month, day, Number(h), Number(mi), Number(s), ms);
  const check = new Date(Date.UTC(year, month, day));
  if (check.getUTCMonth() !== month || check.getUTCDate() !== day || Number(h) > 23) return NaN;
  if (Number(mi) > 59 || Number(s) > 60) return NaN;
  if (zulu !== undefined) return local;
  const offsetMinutes = (Number(offH) * 60 + Number(offM)) * (sign === '-' ? -1 : 1);
  return local - offsetMinutes * 60_000;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Digits of `text` from `start` to `end`, or NaN if any is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return value;
}

/** The form SES always uses, `2017-08-05T00:41:02.669Z`, read by position; NaN otherwise. */
function parseSesTimestamp(text: string): number {
  if (
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 /* T */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 /* . */ ||
    text.charCodeAt(23) !== 90 /* Z */
  ) {
    return NaN;
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const ms = digits(text, 20, 23);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0))) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms); // NaN propagates
}

/** An ISO 8601 date-time string (`2017-08-05T00:41:02.669Z`) decoded to a `Date`. */
export const IsoDateTime = markContextFree(
  new t.Type<Date, string, unknown>(
    'ISO 8601 date-time',
    (u): u is Date => u instanceof Date && !Number.isNaN(u.getTime()),
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c);
      const instant = parseIsoDateTime(u);
      return Number.isNaN(instant) ? t.failure(u, c) : t.success(new Date(instant));
    },
    (date) => date.toISOString(),
  ),
);

/** An address as SES gives it (`Name <User@Example.com>`) decoded to its normal form. */
export const EmailAddressFromString = markContextFree(
  new t.Type<EmailAddress, string, unknown>(
    'email address',
    (u): u is EmailAddress => typeof u === 'string' && normalizeEmailAddress(u) === u,
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c);
      const address = normalizeEmailAddress(u);
      return address === null ? t.failure(u, c) : t.success(address);
    },
    t.identity,
  ),
);

/**
 * An envelope sender: `""` or `"<>"` is the null reverse-path of bounces and other DSNs
 * (RFC 5321 §4.5.5) and decodes to `null`; anything else must be an address.
 */
export const MailFromAddress = markContextFree(
  new t.Type<EmailAddress | null, string, unknown>(
    'email address or ""',
    (u): u is EmailAddress | null => u === null || EmailAddressFromString.is(u),
    (u, c) => {
      if (typeof u === 'string' && (u.trim() === '' || u.trim() === '<>')) return t.success(null);
      return EmailAddressFromString.validate(u, c);
    },
    (a) => a ?? '',
  ),
);

/**
 * A JSON document carried in a string (the SNS `Message`), decoded by `inner`. Errors inside
 * keep the path of the string field, so they read `Message.bounce.feedbackId`.
 */
export const jsonFromString = <C extends t.Mixed>(inner: C): t.Type<t.TypeOf<C>, string, unknown> =>
  new t.Type<t.TypeOf<C>, string, unknown>(
    'JSON text',
    (u): u is t.TypeOf<C> => inner.is(u),
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c);
      let parsed: unknown;
      try {
        parsed = JSON.parse(u);
      } catch {
        return t.failure(u, c, NOT_JSON);
      }
      // The same path, now describing the parsed document: errors read "expected object".
      const last = c[c.length - 1];
      const context =
        last === undefined
          ? c
          : [...c.slice(0, -1), { key: last.key, type: inner, actual: parsed }];
      return inner.validate(parsed, context) as t.Validation<t.TypeOf<C>>;
    },
    (a) => JSON.stringify(a),
  );

/** Marks the failure of a string that should hold JSON (see `jsonFromString`). */
export const NOT_JSON = 'notJson';

/** A count SES documents as a string but sends as a number (`processingTimeMillis`). */
export const NumberFromNumberOrString = markContextFree(
  new t.Type<number, number, unknown>(
    'number',
    (u): u is number => typeof u === 'number' && Number.isFinite(u),
    (u, c) => {
      if (typeof u === 'number' && Number.isFinite(u)) return t.success(u);
      if (typeof u === 'string' && /^-?\d+(?:\.\d+)?$/.test(u.trim())) return t.success(Number(u));
      return t.failure(u, c);
    },
    t.identity,
  ),
);

/** A flag SES documents as the string `"true"`/`"false"` and sends as a boolean. */
export const BooleanFromBooleanOrString = markContextFree(
  new t.Type<boolean, boolean, unknown>(
    'boolean',
    (u): u is boolean => typeof u === 'boolean',
    (u, c) => {
      if (typeof u === 'boolean') return t.success(u);
      if (u === 'true' || u === 'false') return t.success(u === 'true');
      return t.failure(u, c);
    },
    t.identity,
  ),
);
