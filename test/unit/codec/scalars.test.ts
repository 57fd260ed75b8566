import fc from 'fast-check';
import type * as t from 'io-ts';
import {
  BooleanFromBooleanOrString,
  IsoDateTime,
  MailFromAddress,
  NumberFromNumberOrString,
  parseIsoDateTime,
} from '../../../domain/codec/scalars';

const decode = <A>(codec: t.Type<A, unknown, unknown>, u: unknown) => codec.decode(u);

describe('parseIsoDateTime', () => {
  it.each([
    ['2017-08-05T00:41:02.669Z', Date.UTC(2017, 7, 5, 0, 41, 2, 669)],
    ['2017-08-05T00:41:02Z', Date.UTC(2017, 7, 5, 0, 41, 2)],
    ['2009-12-03T04:24:21.000-05:00', Date.UTC(2009, 11, 3, 9, 24, 21)],
    ['2018-10-08T14:05:45 +0000', Date.UTC(2018, 9, 8, 14, 5, 45)],
    ['2018-10-08T14:05:45+0530', Date.UTC(2018, 9, 8, 8, 35, 45)],
    ['2024-02-29T23:59:59.999Z', Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
    ['2017-08-05T00:41:02.669123456Z', Date.UTC(2017, 7, 5, 0, 41, 2, 669)],
  ])('%s', (text, instant) => {
    expect(parseIsoDateTime(text)).toBe(instant);
  });

  it.each([
    '',
    '2017-08-05',
    '2017-08-05 00:41:02Z',
    '2017-08-05T00:41:02.669',
    '2017-13-05T00:41:02.669Z',
    '2017-00-05T00:41:02.669Z',
    '2023-02-29T00:41:02.669Z',
    '2017-04-31T00:41:02.669Z',
    '2017-08-05T24:41:02.669Z',
    '2017-08-05T00:60:02.669Z',
    '2017-08-05T00:41:02.6a9Z',
    'Wed, 7 Oct 2015 12:34:56 -0700',
    '２０１７-08-05T00:41:02.669Z',
  ])('rejects %j', (text) => {
    expect(parseIsoDateTime(text)).toBeNaN();
  });

  it('agrees with Date for every instant written as SES writes it (the fast path)', () => {
    const instants = fc.date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(instants, (d) => parseIsoDateTime(d.toISOString()) === d.getTime()),
      { numRuns: 2_000 },
    );
  });

  it('agrees with Date for offsets and fractions (the general path)', () => {
    const instants = fc.date({
      min: new Date('1970-01-02T00:00:00Z'),
      max: new Date('9000-01-01T00:00:00Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(instants, fc.integer({ min: -14 * 60, max: 14 * 60 }), (d, offset) => {
        const local = new Date(d.getTime() + offset * 60_000).toISOString().slice(0, 19);
        const sign = offset < 0 ? '-' : '+';
        const abs = Math.abs(offset);
        const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        return parseIsoDateTime(text) === Math.floor(d.getTime() / 1000) * 1000;
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('IsoDateTime', () => {
  it('decodes to a Date and refuses other types', () => {
    expect(decode(IsoDateTime, '2017-08-05T00:41:02.669Z')).toEqual({
      _tag: 'Right',
      right: new Date('2017-08-05T00:41:02.669Z'),
    });
    expect(decode(IsoDateTime, 1501893662669)._tag).toBe('Left');
  });
});

describe('tolerant scalars (SES documents strings, sends numbers and booleans)', () => {
  it.each([
    [574, 574],
    ['574', 574],
    [' 12 ', 12],
  ])('NumberFromNumberOrString %j → %j', (input, out) => {
    expect(decode(NumberFromNumberOrString, input)).toEqual({ _tag: 'Right', right: out });
  });
  it.each(['', 'twelve', '1e3', null, true, Number.NaN])(
    'NumberFromNumberOrString refuses %j',
    (input) => {
      expect(decode(NumberFromNumberOrString, input)._tag).toBe('Left');
    },
  );
  it.each([
    [true, true],
    ['false', false],
  ])('BooleanFromBooleanOrString %j → %j', (input, out) => {
    expect(decode(BooleanFromBooleanOrString, input)).toEqual({ _tag: 'Right', right: out });
  });
  it.each(['yes', 0, null])('BooleanFromBooleanOrString refuses %j', (input) => {
    expect(decode(BooleanFromBooleanOrString, input)._tag).toBe('Left');
  });
});

describe('MailFromAddress', () => {
  it.each([
    ['', null],
    ['<>', null],
    ['Bounces <Bounce@Example.com>', 'bounce@example.com'],
  ])('%j → %j', (input, out) => {
    expect(decode(MailFromAddress, input)).toEqual({ _tag: 'Right', right: out });
  });
  it('refuses what is neither an address nor the null sender', () => {
    expect(decode(MailFromAddress, 'MAILER-DAEMON')._tag).toBe('Left');
  });
});
