import fc from 'fast-check';
import {
  normalizeByFullRules,
  normalizeEmailAddress,
  uniqueSortedAddresses,
  type EmailAddress,
} from '../../domain/address';

describe('normalizeEmailAddress', () => {
  it.each([
    ['recipient@example.com', 'recipient@example.com'],
    ['  Recipient@Example.COM \n', 'recipient@example.com'],
    ['Sender Name <sender@example.com>', 'sender@example.com'],
    ['"Doe, Jane" <Jane.Doe@Example.com>', 'jane.doe@example.com'],
    ['<bare@example.com>', 'bare@example.com'],
    ['=?UTF-8?B?SsO8cmdlbg==?= <juergen@example.de>', 'juergen@example.de'],
    ['user+tag@sub.example.co.uk', 'user+tag@sub.example.co.uk'],
    ['"john doe"@example.com', '"john doe"@example.com'],
    ['postmaster@[192.0.2.1]', 'postmaster@[192.0.2.1]'],
    ['user@xn--bcher-kva.example', 'user@xn--bcher-kva.example'],
  ])('%j → %j', (raw, normal) => {
    expect(normalizeEmailAddress(raw)).toBe(normal);
  });

  it.each([
    '',
    '   ',
    'no-at-sign',
    '@example.com',
    'user@',
    'two words@example.com',
    'user@exa mple.com',
    'Name <>',
    'Name <user@example.com',
    'user@example.com>',
    'a@b@',
    'a, b@example.com',
    `${'a'.repeat(320)}@example.com`,
  ])('rejects %j', (raw) => {
    expect(normalizeEmailAddress(raw)).toBeNull();
  });

  it('decides as the full rules do, plain addresses included (its fast path changes nothing)', () => {
    const plainish = fc.stringMatching(/^[a-zA-Z0-9.+\-_@<>" [\]()]{0,24}$/);
    fc.assert(
      fc.property(fc.oneof(fc.emailAddress(), plainish, fc.string()), (raw) => {
        expect(normalizeEmailAddress(raw)).toBe(normalizeByFullRules(raw));
      }),
      { numRuns: 2_000 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(
        fc.emailAddress(),
        fc.string({ maxLength: 10 }),
        fc.boolean(),
        (address, name, wrap) => {
          const raw = wrap ? `${name.replace(/[<>"]/g, '')} <${address}>` : address;
          const once = normalizeEmailAddress(raw);
          return once === null || normalizeEmailAddress(once) === once;
        },
      ),
    );
  });

  it('accepts what fast-check considers an email address, lower-cased', () => {
    fc.assert(
      fc.property(
        fc.emailAddress(),
        (address) => normalizeEmailAddress(address) === address.toLowerCase(),
      ),
    );
  });
});

describe('uniqueSortedAddresses', () => {
  it('keeps each address once, sorted', () => {
    const list = ['b@example.com', 'a@example.com', 'b@example.com'] as EmailAddress[];
    expect(uniqueSortedAddresses(list)).toEqual(['a@example.com', 'b@example.com']);
  });
});
