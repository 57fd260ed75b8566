/**
 * RFC 2047 encoded words (`=?UTF-8?B?SsO8cmdlbg==?=`): decoding the display names mail
 * arrives with, and encoding the one the forwarder writes.
 */
import { base64Decode, base64Encode, isAscii } from './octets';

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
/** RFC 2047 §2: an encoded word is at most 75 characters. */
const MAX_ENCODED_WORD = 75;
const UTF8_WORD_OVERHEAD = '=?UTF-8?B??='.length;
/** Bytes whose base64 fits one word: 4 characters per 3 bytes. */
const MAX_BYTES_PER_WORD = Math.floor((MAX_ENCODED_WORD - UTF8_WORD_OVERHEAD) / 4) * 3;

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\x00-\x1f\x7f]/;

interface Word {
  readonly start: number;
  readonly end: number;
  readonly charset: string;
  readonly bytes: Uint8Array;
}

/**
 * Replaces the encoded words in `text` with what they say. Whitespace between two adjacent
 * encoded words is dropped (RFC 2047 §6.2), and adjacent words in one charset are decoded
 * together, so a character split across two words (as some encoders do) comes out whole. A
 * word in a charset this runtime does not know is left as it is.
 */
export function decodeEncodedWords(text: string): string {
  const words: Word[] = [];
  for (const match of text.matchAll(ENCODED_WORD)) {
    const [whole, rawCharset, encoding, encoded] = match as unknown as [
      string,
      string,
      string,
      string,
    ];
    // RFC 2231 lets a language follow the charset: `UTF-8*en`.
    const charset = rawCharset.split('*')[0]!.toLowerCase();
    const bytes = encoding.toUpperCase() === 'B' ? base64Decode(encoded) : qDecode(encoded);
    words.push({ start: match.index, end: match.index + whole.length, charset, bytes });
  }
  if (words.length === 0) return text;

  let out = '';
  let position = 0;
  for (let i = 0; i < words.length;) {
    // A run: words separated by whitespace only, in one charset.
    let j = i + 1;
    while (
      j < words.length &&
      words[j]!.charset === words[i]!.charset &&
      /^[ \t\r\n]*$/.test(text.slice(words[j - 1]!.end, words[j]!.start))
    ) {
      j++;
    }
    const run = words.slice(i, j);
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const between = text.slice(position, first.start);
    // Whitespace between this run and the previous one (another charset) is dropped too.
    out += i > 0 && /^[ \t\r\n]*$/.test(between) ? '' : between;
    out +=
      decodeBytes(first.charset, concat(run.map((w) => w.bytes))) ??
      text.slice(first.start, last.end);
    position = last.end;
    i = j;
  }
  return out + text.slice(position);
}

/**
 * A display name as phrase tokens to write into a header: one quoted string when it is short
 * printable ASCII, otherwise UTF-8 "B" encoded words of at most 75 characters, split between
 * characters (never inside one), each a token the header can be folded between.
 */
export function encodePhrase(text: string): string[] {
  if (isAscii(text) && !CONTROL.test(text)) {
    const quoted = `"${text.replace(/(["\\])/g, '\\$1')}"`;
    if (quoted.length <= MAX_ENCODED_WORD) return [quoted];
  }
  const encoder = new TextEncoder();
  const tokens: string[] = [];
  let chunk: number[] = [];
  for (const char of text) {
    const bytes = encoder.encode(char);
    if (chunk.length + bytes.length > MAX_BYTES_PER_WORD) {
      tokens.push(utf8Word(chunk));
      chunk = [];
    }
    chunk.push(...bytes);
  }
  if (chunk.length > 0 || tokens.length === 0) tokens.push(utf8Word(chunk));
  return tokens;
}

const utf8Word = (bytes: readonly number[]): string =>
  `=?UTF-8?B?${base64Encode(Uint8Array.from(bytes))}?=`;

function qDecode(encoded: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const char = encoded[i]!;
    const hex = encoded.slice(i + 1, i + 3);
    if (char === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (char === '_') {
      out.push(0x20);
    } else {
      out.push(char.charCodeAt(0) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function decodeBytes(charset: string, bytes: Uint8Array): string | null {
  const decoder = textDecoder(charset);
  if (decoder === null) return null;
  // WHATWG reads ISO-8859-1 as windows-1252, but Node 20's decoder for it maps 0x80–0x9F to
  // C1 controls, not to € “ ” … as windows-1252 (and every mail reader) does.
  return decoder.encoding === 'windows-1252'
    ? String.fromCharCode(...[...bytes].map((b) => WINDOWS_1252_HIGH[b - 0x80] ?? b))
    : decoder.decode(bytes);
}

function textDecoder(charset: string) {
  try {
    return new TextDecoder(charset);
  } catch {
    return null; // RangeError: a charset this runtime does not know
  }
}

/** windows-1252's 0x80–0x9F; the five bytes it leaves undefined stay as they are. */
const WINDOWS_1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
  0x0152, 0x8d, 0x017d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc,
  0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
];

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
