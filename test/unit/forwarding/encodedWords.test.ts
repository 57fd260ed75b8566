/** RFC 2047 encoded words, octet strings and reading the first mailbox of a From header. */
import { decodeEncodedWords, encodePhrase } from '../../../domain/forwarding/encodedWords';
import { firstMailbox } from '../../../domain/forwarding/mailbox';
import {
  base64Decode,
  base64Encode,
  octetsToText,
  utf8Octets,
} from '../../../domain/forwarding/octets';

describe('decodeEncodedWords', () => {
  it.each([
    ['=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=', 'Jürgen Müller'],
    ['=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=', 'Jürgen Müller'],
    ['=?ISO-8859-1?Q?Marie_Lef=E8vre?=', 'Marie Lefèvre'],
    ['=?windows-1252?Q?=80_5_=93ok=94?=', '€ 5 “ok”'],
    // Mail readers read ISO-8859-1 as windows-1252 (so does WHATWG).
    ['=?iso-8859-1?Q?=80?=', '€'],
    ['=?KOI8-R?B?8NLJ18XU?=', 'Привет'],
    ['=?UTF-8*en?Q?Hello?=', 'Hello'],
    // Whitespace between adjacent encoded words is dropped (RFC 2047 §6.2)...
    ['=?UTF-8?Q?a?= =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?a?=\r\n =?ISO-8859-1?Q?b?=', 'ab'],
    // ...but not between a word and plain text.
    ['Re: =?UTF-8?Q?caf=C3=A9?= time', 'Re: café time'],
    // A character split across two words comes out whole.
    ['=?UTF-8?B?w6k=?= =?UTF-8?B?4oKs?=', 'é€'],
    ['=?UTF-8?Q?=E2=82?= =?UTF-8?Q?=AC?=', '€'],
    // Unknown charsets are left as they are.
    ['=?x-klingon?Q?qapla?=', '=?x-klingon?Q?qapla?='],
    ['no words here', 'no words here'],
  ])('%j → %j', (input, expected) => {
    expect(decodeEncodedWords(input)).toBe(expected);
  });
});

describe('encodePhrase', () => {
  it('short printable ASCII becomes one quoted string, quotes and backslashes escaped', () => {
    expect(encodePhrase('Alice Example via info@example.com')).toEqual([
      '"Alice Example via info@example.com"',
    ]);
    expect(encodePhrase('Say "hi" \\ there')).toEqual(['"Say \\"hi\\" \\\\ there"']);
  });

  it('anything else becomes UTF-8 B words of at most 75 characters that decode back', () => {
    for (const text of [
      'Jürgen Müller via rechnungen@example.com',
      '中文名字 via info@example.com '.repeat(8),
      'x'.repeat(200),
      'emoji 👩‍👩‍👧 family',
      'tab\there',
    ]) {
      const words = encodePhrase(text);
      for (const word of words) {
        expect(word).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
        expect(word.length).toBeLessThanOrEqual(75);
      }
      expect(decodeEncodedWords(words.join('\r\n '))).toBe(text);
    }
  });

  it('never splits a character between words', () => {
    for (const word of encodePhrase('é'.repeat(100))) {
      expect(decodeEncodedWords(word)).toMatch(/^é+$/);
    }
  });
});

describe('octets', () => {
  it('base64 round-trips every byte value and length', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (let n = 0; n <= 5; n++) {
      const slice = bytes.subarray(0, 250 + n);
      expect(base64Encode(slice)).toBe(Buffer.from(slice).toString('base64'));
      expect(base64Decode(base64Encode(slice))).toEqual(slice);
    }
  });

  it('decodes base64 leniently: no padding, line breaks', () => {
    expect(Buffer.from(base64Decode('SGVs\r\nbG8')).toString()).toBe('Hello');
  });

  it('reads raw UTF-8 header bytes as text, and anything else as Latin-1', () => {
    expect(octetsToText(utf8Octets('Jürgen'))).toBe('Jürgen');
    expect(octetsToText('J\xfcrgen')).toBe('J\xfcrgen'); // an ISO-8859-1 byte: not UTF-8
  });
});

describe('firstMailbox', () => {
  it.each([
    ['Alice Example <alice@example.org>', 'Alice Example', 'alice@example.org'],
    [
      '"Example, Bank Security" <security@example.net>',
      'Example, Bank Security',
      'security@example.net',
    ],
    ['"Say \\"hi\\"" <a@example.org>', 'Say "hi"', 'a@example.org'],
    ['=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@example.org>', 'Jürgen Müller', 'j@example.org'],
    ['"=?UTF-8?Q?Caf=C3=A9?=" <cafe@example.org>', 'Café', 'cafe@example.org'],
    ['alice@example.org (Alice Example)', 'Alice Example', 'alice@example.org'],
    ['alice@example.org', null, 'alice@example.org'],
    ['<alice@example.org>', null, 'alice@example.org'],
    ['Alice (the boss) <alice@example.org>', 'Alice', 'alice@example.org'],
    [' Alice\r\n  Example\r\n <alice@example.org>', 'Alice Example', 'alice@example.org'],
    ['Alice <alice@example.org>, Bob <bob@example.org>', 'Alice', 'alice@example.org'],
    ['Team: Carol <carol@example.org>, dave@example.org;', 'Carol', 'carol@example.org'],
    ['undisclosed-recipients:;', null, null],
    ['Just A Name', 'Just A Name', null],
    ['', null, null],
    ['Broken <alice@example.org', 'Broken', 'alice@example.org'],
  ])('%j', (value, name, address) => {
    expect(firstMailbox(value)).toEqual({ name, address });
  });
});
