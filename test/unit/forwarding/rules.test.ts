/** FORWARD_RULES: the codec (keys, targets, normalisation, errors) and matching recipients. */
import { isLeft, isRight } from 'fp-ts/Either';
import type { EmailAddress } from '../../../domain/address';
import { decodeForwardRules, ruleCount, targetsFor } from '../../../domain/forwarding/rules';

const rules = (json: unknown) => {
  const decoded = decodeForwardRules(json);
  if (!isRight(decoded)) throw new Error(decoded.left.message);
  return decoded.right;
};

const errorOf = (json: unknown): string => {
  const decoded = decodeForwardRules(json);
  if (!isLeft(decoded)) throw new Error('expected a decode error');
  return decoded.left.message;
};

const addresses = (...list: string[]) => list as EmailAddress[];

const matched = (json: unknown, ...recipients: string[]) =>
  Object.fromEntries(targetsFor(rules(json), addresses(...recipients)));

describe('decodeForwardRules', () => {
  it('reads address, @domain and "@" keys, normalising keys and targets', () => {
    const decoded = rules({
      ' Info@Example.COM ': ['Ops@Example.net', 'ceo@example.net', 'OPS@example.net'],
      '@Example.org': ['team@example.net'],
      '@': ['postmaster@example.net'],
      'noreply@example.com': [],
    });
    expect(decoded.byAddress).toEqual(
      new Map([
        ['info@example.com', ['ops@example.net', 'ceo@example.net']],
        ['noreply@example.com', []],
      ]),
    );
    expect(decoded.byDomain).toEqual(new Map([['example.org', ['team@example.net']]]));
    expect(decoded.catchAll).toEqual(['postmaster@example.net']);
    expect(ruleCount(decoded)).toBe(4);
  });

  it('names the key or target that is wrong', () => {
    expect(errorOf({ 'info@example.com': ['ops@example.net', 'not an address'] })).toBe(
      'at ["info@example.com"][1]: expected email address, got string "not an address"',
    );
    expect(errorOf({ 'info@example.com': 'ops@example.net' })).toBe(
      'at ["info@example.com"]: expected array, got string "ops@example.net"',
    );
    expect(errorOf({ 'not-an-address': ['ops@example.net'] })).toBe(
      'at ["not-an-address"]: expected a recipient address, "@domain" or "@", got string "not-an-address"',
    );
    expect(errorOf({ '@exa mple.com': ['ops@example.net'] })).toMatch(/^at \["@exa mple.com"\]/);
  });

  it('refuses two keys that normalise to one (which rule would win is not obvious)', () => {
    expect(
      errorOf({ 'info@example.com': ['a@example.net'], 'INFO@example.com': ['b@example.net'] }),
    ).toBe(
      'at ["INFO@example.com"]: expected a recipient address, "@domain" or "@", got string "INFO@example.com"',
    );
  });

  it('refuses what is not an object of lists, and an empty object', () => {
    expect(errorOf(['info@example.com'])).toBe(
      'at the top level: expected an object of recipient → list of target addresses, got array of 1',
    );
    expect(errorOf(null)).toMatch(/^at the top level: expected an object/);
    expect(errorOf({})).toBe('at the top level: expected at least one rule, got an empty object');
  });

  it('keeps a "__proto__" key an ordinary (invalid) key', () => {
    expect(errorOf(JSON.parse('{"__proto__": ["a@example.net"]}'))).toMatch(
      /^at __proto__: expected a recipient address/,
    );
  });
});

describe('targetsFor', () => {
  const table = {
    'info@example.com': ['ops@example.net'],
    'noreply@example.com': [],
    '@example.com': ['team@example.net'],
    '@': ['postmaster@example.net'],
  };

  it('the most specific rule wins: address, then domain, then "@"', () => {
    expect(matched(table, 'info@example.com')).toEqual({ 'ops@example.net': ['info@example.com'] });
    expect(matched(table, 'sales@example.com')).toEqual({
      'team@example.net': ['sales@example.com'],
    });
    expect(matched(table, 'someone@example.org')).toEqual({
      'postmaster@example.net': ['someone@example.org'],
    });
  });

  it('an empty list takes an address out of its domain and catch-all rules', () => {
    expect(matched(table, 'noreply@example.com')).toEqual({});
  });

  it('a domain rule does not cover subdomains (they fall to "@")', () => {
    expect(matched(table, 'info@mail.example.com')).toEqual({
      'postmaster@example.net': ['info@mail.example.com'],
    });
  });

  it('without a catch-all, an unmatched recipient gets nothing', () => {
    expect(matched({ 'info@example.com': ['ops@example.net'] }, 'other@example.com')).toEqual({});
  });

  it('one copy per target, listing every recipient that led to it', () => {
    const result = targetsFor(
      rules({
        'info@example.com': ['ops@example.net', 'shared@example.net'],
        'sales@example.com': ['shared@example.net'],
      }),
      addresses('sales@example.com', 'info@example.com', 'info@example.com'),
    );
    expect([...result]).toEqual([
      ['ops@example.net', ['info@example.com']],
      ['shared@example.net', ['info@example.com', 'sales@example.com']],
    ]);
  });

  it('matches recipients the way they are normalised in events (lower case)', () => {
    // receipt.recipients arrive normalised: Sales@Example.com is sales@example.com.
    expect(matched({ 'SALES@example.com': ['team@example.net'] }, 'sales@example.com')).toEqual({
      'team@example.net': ['sales@example.com'],
    });
  });
});
