/**
 * FNV-1a, 64 bits, as 16 hex digits: a short, stable, dependency-free fingerprint for job ids.
 * Not for security: ids only need to tell apart the events of one SES message.
 *
 * Computed on two 32-bit halves, not BigInt: it runs for most events on the ingest's hot path,
 * and BigInt arithmetic costs about ten times as much.
 */
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
/** The prime is 2^40 + 0x1b3: multiplying is `h * 0x1b3 + (h << 40)`. */
const PRIME_LOW_BITS = 0x1b3;
const TWO_32 = 0x1_0000_0000;

const encoder = new TextEncoder();

/** FNV-1a 64 of the text's UTF-8 bytes. */
export function fnv1a64Text(text: string): string {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  for (const byte of encoder.encode(text)) {
    lo = (lo ^ byte) >>> 0;
    const loProduct = lo * PRIME_LOW_BITS; // < 2^41: exact in a double
    const carry = Math.floor(loProduct / TWO_32);
    hi = (Math.imul(hi, PRIME_LOW_BITS) + ((lo << 8) >>> 0) + carry) >>> 0;
    lo = loProduct >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** Hashes the parts length-prefixed, so `["ab","c"]` and `["a","bc"]` differ. */
export function fnv1a64(parts: readonly string[]): string {
  return fnv1a64Text(parts.map((p) => `${p.length}:${p}`).join(''));
}

/**
 * FNV-1a, 32 bits, of the text's UTF-16 code units: for spreading keys over buckets, where it
 * runs once per event and only has to be stable and even.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}
