/**
 * Header text as mail carries it. Header fields are handled as *octet strings*: one character
 * per byte (code points 0–255), which is how mailsplit hands them over. Text that may not be
 * ASCII (a display name, an internationalised address) is converted on the way in and out, so
 * a raw UTF-8 byte in a header we keep is passed on exactly as it came.
 */

const utf8Encoder = new TextEncoder();

/** Bytes as an octet string. */
export function bytesToOctets(bytes: Uint8Array): string {
  let out = '';
  // Chunks keep String.fromCharCode's argument list well below engine limits.
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** An octet string's bytes (code points above 255 cannot occur in one; they are masked). */
export function octetsToBytes(octets: string): Uint8Array {
  const bytes = new Uint8Array(octets.length);
  for (let i = 0; i < octets.length; i++) bytes[i] = octets.charCodeAt(i) & 0xff;
  return bytes;
}

/** Text as the octet string of its UTF-8 encoding. */
export const utf8Octets = (text: string): string => bytesToOctets(utf8Encoder.encode(text));

/**
 * An octet string read as text: UTF-8 when it is valid UTF-8 (raw 8-bit headers are almost
 * always UTF-8 today, RFC 6532), otherwise Latin-1, which keeps every byte visible.
 */
export function octetsToText(octets: string): string {
  if (isAscii(octets)) return octets;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(octetsToBytes(octets));
  } catch {
    return octets;
  }
}

// eslint-disable-next-line no-control-regex -- ASCII is exactly the range \x00-\x7f
const ASCII = /^[\x00-\x7f]*$/;
export const isAscii = (text: string): boolean => ASCII.test(text);

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = new Map([...BASE64_ALPHABET].map((c, i) => [c, i]));

export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += BASE64_ALPHABET[(n >> 18) & 63]! + BASE64_ALPHABET[(n >> 12) & 63]!;
    out += b === undefined ? '=' : BASE64_ALPHABET[(n >> 6) & 63]!;
    out += c === undefined ? '=' : BASE64_ALPHABET[n & 63]!;
  }
  return out;
}

/** Lenient, as mail readers are: characters outside the alphabet and missing padding are ignored. */
export function base64Decode(text: string): Uint8Array {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text) {
    const value = BASE64_VALUES.get(char);
    if (value === undefined) continue;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}
