import type * as t from 'io-ts';
import { isWellFormedText } from './unicode';

interface EmailAddressBrand {
  readonly EmailAddress: unique symbol;
}

/** A normalised address: no display name or angle brackets, trimmed, lower-cased. */
export type EmailAddress = t.Branded<string, EmailAddressBrand>;

/** RFC 5321 limits a path to 256 octets; anything longer is not an address SES delivered to. */
export const MAX_ADDRESS_LENGTH = 320;
const DOT_ATOM_LOCAL = /^[^\s<>()[\],;:@"\\]+$/;
const QUOTED_LOCAL = /^"(?:[^"\\\r\n]|\\.)*"$/;
const DOMAIN = /^(?:[^\s<>()[\],;:@"\\]+|\[[^\s[\]\\]+\])$/;
/**
 * The common spelling, `local@domain` in dot-atoms with nothing around it, in one test: a batch
 * check normalises 10,000 of these per request. Whatever it matches, the full rules accept too.
 */
const PLAIN_ADDRESS = /^[^\s<>()[\],;:@"\\]+@[^\s<>()[\],;:@"\\]+$/;

/**
 * `"Jane Doe" <Jane.Doe@Example.com>` → `jane.doe@example.com`; `null` for anything that is
 * not one address. Lower-casing the local part is what the product asks for: suppression lists
 * must match however an application spelled the address, and providers treat it
 * case-insensitively in practice. Text with a lone surrogate is never an address (see
 * `isWellFormedText`).
 */
export function normalizeEmailAddress(raw: string): EmailAddress | null {
  if (!isWellFormedText(raw)) return null;
  if (raw.length <= MAX_ADDRESS_LENGTH && PLAIN_ADDRESS.test(raw))
    return raw.toLowerCase() as EmailAddress;
  return normalizeByFullRules(raw);
}

/** Display names, angle brackets, quoted local parts, address literals. Exported for its test. */
export function normalizeByFullRules(raw: string): EmailAddress | null {
  if (!isWellFormedText(raw)) return null;
  let candidate = raw.trim();
  if (candidate.endsWith('>')) {
    const open = candidate.lastIndexOf('<');
    if (open === -1) return null;
    candidate = candidate.slice(open + 1, -1).trim();
  }
  if (candidate.length === 0 || candidate.length > MAX_ADDRESS_LENGTH) return null;
  const at = candidate.lastIndexOf('@');
  if (at <= 0 || at === candidate.length - 1) return null;
  const local = candidate.slice(0, at);
  const domain = candidate.slice(at + 1);
  if (!(DOT_ATOM_LOCAL.test(local) || QUOTED_LOCAL.test(local)) || !DOMAIN.test(domain)) {
    return null;
  }
  return candidate.toLowerCase() as EmailAddress;
}

/** Normalised addresses, each once, sorted: the `recipients` of a domain event. */
export function uniqueSortedAddresses(addresses: Iterable<EmailAddress>): EmailAddress[] {
  // Most events name one recipient: nothing to deduplicate or sort.
  if (Array.isArray(addresses) && addresses.length < 2) return [...(addresses as EmailAddress[])];
  return [...new Set(addresses)].sort();
}
