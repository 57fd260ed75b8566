/**
 * FNV-1a, 64 bits, as 16 hex digits: a short, stable, dependency-free fingerprint for job ids.
 * Not for security: ids only need to tell apart the events of one SES message.
 */
const OFFSET_BASIS = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/** Hashes the parts with a separator no part can forge, so `["ab","c"]` ≠ `["a","bc"]`. */
export function fnv1a64(parts: readonly string[]): string {
  let hash = OFFSET_BASIS;
  const bytes = new TextEncoder().encode(parts.map((p) => `${p.length}:${p}`).join('\u0000'));
  for (const byte of bytes) {
    hash ^= BigInt(byte);
    hash = (hash * PRIME) & MASK;
  }
  return hash.toString(16).padStart(16, '0');
}
