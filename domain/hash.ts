/**
 * FNV-1a, 64 bits, as 16 hex digits: a short, stable, dependency-free fingerprint for job ids.
 * Not for security: ids only need to tell apart the events of one SES message.
 */
const OFFSET_BASIS = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/** FNV-1a 64 of the text's UTF-8 bytes. */
export function fnv1a64Text(text: string): string {
  let hash = OFFSET_BASIS;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * PRIME) & MASK;
  }
  return hash.toString(16).padStart(16, '0');
}

/** Hashes the parts length-prefixed, so `["ab","c"]` and `["a","bc"]` differ. */
export function fnv1a64(parts: readonly string[]): string {
  return fnv1a64Text(parts.map((p) => `${p.length}:${p}`).join(''));
}
