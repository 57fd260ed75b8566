/**
 * Forwarding rules (`FORWARD_RULES`): which addresses receive a copy of the mail sent to which.
 *
 * ```json
 * { "info@example.com": ["ops@example.net", "ceo@example.net"],
 *   "@example.com":     ["team@example.net"],
 *   "noreply@example.com": [],
 *   "@":                ["postmaster@example.net"] }
 * ```
 *
 * Keys are a recipient address, `@domain` (every address at that domain, not its subdomains)
 * or `@` (every address). For each envelope recipient the most specific key wins — address,
 * then domain, then `@` — so an empty list takes an address out of a domain or catch-all rule.
 * Keys and targets are normalised like every address in ses-worker (trimmed, lower-cased), so
 * they match `receipt.recipients` however either was spelled.
 */
import type { Either } from 'fp-ts/Either';
import { left, right } from 'fp-ts/Either';
import * as t from 'io-ts';
import { normalizeEmailAddress, type EmailAddress } from '../address';
import { array, isPlainObject, record } from '../codec/combinators';
import { decodeError, fromValidationErrors, type DecodeError } from '../codec/decodeError';
import { EmailAddressFromString } from '../codec/scalars';

export interface ForwardRules {
  readonly byAddress: ReadonlyMap<EmailAddress, readonly EmailAddress[]>;
  /** Keyed by domain, lower-cased, without the `@`. */
  readonly byDomain: ReadonlyMap<string, readonly EmailAddress[]>;
  readonly catchAll: readonly EmailAddress[] | null;
}

type RuleKey =
  | { readonly kind: 'address'; readonly address: EmailAddress }
  | { readonly kind: 'domain'; readonly domain: string }
  | { readonly kind: 'catchAll' };

const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function parseRuleKey(key: string): RuleKey | null {
  const trimmed = key.trim().toLowerCase();
  if (trimmed === '@') return { kind: 'catchAll' };
  if (trimmed.startsWith('@')) {
    const domain = trimmed.slice(1);
    return DOMAIN.test(domain) ? { kind: 'domain', domain } : null;
  }
  const address = normalizeEmailAddress(trimmed);
  return address === null ? null : { kind: 'address', address };
}

const ruleKeyName = (key: RuleKey): string =>
  key.kind === 'address' ? key.address : key.kind === 'domain' ? `@${key.domain}` : '@';

const Targets = array(EmailAddressFromString);

/** A rule key: what `parseRuleKey` accepts; the codec exists to name it in errors. */
const RuleKeyCodec = new t.Type<string, string, unknown>(
  'a recipient address, "@domain" or "@"',
  (u): u is string => typeof u === 'string' && parseRuleKey(u) !== null,
  (u, c) => (typeof u === 'string' && parseRuleKey(u) !== null ? t.success(u) : t.failure(u, c)),
  t.identity,
);

const TargetsByKey = record(Targets);

/** The rules as JSON: an object of key → list of target addresses. */
export const ForwardRulesCodec = new t.Type<ForwardRules, unknown, unknown>(
  'an object of recipient → list of target addresses',
  (u): u is ForwardRules =>
    isPlainObject(u) && u.byAddress instanceof Map && u.byDomain instanceof Map,
  (u, c) => {
    if (!isPlainObject(u)) return t.failure(u, c);
    const targets = TargetsByKey.validate(u, c);
    if (targets._tag === 'Left') return targets;
    const byAddress = new Map<EmailAddress, readonly EmailAddress[]>();
    const byDomain = new Map<string, readonly EmailAddress[]>();
    let catchAll: readonly EmailAddress[] | null = null;
    const seen = new Set<string>();
    for (const [rawKey, list] of Object.entries(targets.right)) {
      const key = parseRuleKey(rawKey);
      const name = key === null ? null : ruleKeyName(key);
      if (key === null || name === null || seen.has(name)) {
        // An invalid key, or one that normalises to a key already given: ambiguous either way.
        return t.failure(rawKey, t.appendContext(c, rawKey, RuleKeyCodec, rawKey));
      }
      seen.add(name);
      const unique = [...new Set(list)];
      if (key.kind === 'address') byAddress.set(key.address, unique);
      else if (key.kind === 'domain') byDomain.set(key.domain, unique);
      else catchAll = unique;
    }
    return t.success({ byAddress, byDomain, catchAll });
  },
  () => {
    throw new Error('ForwardRules are decoded, never encoded');
  },
);

/** Decodes parsed JSON into rules; the error names the key or target that is wrong. */
export function decodeForwardRules(json: unknown): Either<DecodeError, ForwardRules> {
  // Forwarding switched on with nothing to forward is a mistake; unset FORWARD_RULES instead.
  if (isPlainObject(json) && Object.keys(json).length === 0) {
    return left(decodeError('invalid', '', 'at least one rule', 'an empty object'));
  }
  const result = ForwardRulesCodec.decode(json);
  return result._tag === 'Right' ? right(result.right) : left(fromValidationErrors(result.left));
}

/** How many keys the rules hold (for the start-up log). */
export const ruleCount = (rules: ForwardRules): number =>
  rules.byAddress.size + rules.byDomain.size + (rules.catchAll === null ? 0 : 1);

/**
 * The targets the recipients call for, each with the recipients whose rule names it, sorted
 * both ways. A target named by several recipients appears once: one copy per target.
 */
export function targetsFor(
  rules: ForwardRules,
  recipients: readonly EmailAddress[],
): ReadonlyMap<EmailAddress, readonly EmailAddress[]> {
  const byTarget = new Map<EmailAddress, EmailAddress[]>();
  for (const recipient of [...new Set(recipients)].sort()) {
    const domain = recipient.slice(recipient.lastIndexOf('@') + 1);
    const targets =
      rules.byAddress.get(recipient) ?? rules.byDomain.get(domain) ?? rules.catchAll ?? [];
    for (const target of targets) {
      const via = byTarget.get(target);
      if (via) via.push(recipient);
      else byTarget.set(target, [recipient]);
    }
  }
  return new Map([...byTarget].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
