/**
 * The chaos suite's ledger (test/chaos/ledger.ts): what it publishes must be what it says, or
 * the suite's zero losses would be measured against the wrong expectations.
 */
import { isLeft } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import { buildLedger, forwardKey, POISON_MARKER } from '../../chaos/ledger';
import { snsEnvelope } from '../../support/fixtures';

const ledger = buildLedger(2000, 0.1, 7);
const decode = (message: string) => decodeSqsBody(JSON.stringify(snsEnvelope(message)));

it('publishes the number asked for, a tenth of them twice', () => {
  expect(ledger.publications).toHaveLength(2000);
  expect(ledger.duplicates).toBe(200);
  expect(new Set(ledger.publications).size).toBe(ledger.unique);
  expect(ledger.unique).toBe(1800);
});

it('is the same for the same seed, and shuffled differently for another', () => {
  expect(buildLedger(2000, 0.1, 7).publications).toEqual(ledger.publications);
  expect(buildLedger(2000, 0.1, 8).publications).not.toEqual(ledger.publications);
});

it('every notification decodes, and no poison message does', () => {
  const kinds = new Set<string>();
  for (const message of new Set(ledger.publications)) {
    const decoded = decode(message);
    if (POISON_MARKER.test(message)) {
      expect(isLeft(decoded)).toBe(true);
    } else {
      if (isLeft(decoded)) throw new Error(`${decoded.left.message}: ${message.slice(0, 200)}`);
      kinds.add(decoded.right.kind);
    }
  }
  expect([...kinds].sort()).toEqual([
    'bounce',
    'click',
    'complaint',
    'delivery',
    'deliveryDelay',
    'open',
    'received',
    'reject',
    'renderingFailure',
    'send',
    'sesSubscriptionTest',
    'subscription',
  ]);
});

it('counts each poison publication, duplicates included', () => {
  const published = new Map<string, number>();
  for (const message of ledger.publications) {
    const marker = POISON_MARKER.exec(message)?.[0];
    if (marker !== undefined) published.set(marker, (published.get(marker) ?? 0) + 1);
  }
  expect(published).toEqual(
    new Map([...ledger.poison].map(([marker, poison]) => [marker, poison.published])),
  );
  for (const [marker, { text }] of ledger.poison) expect(text).toContain(marker);
  expect([...published.values()].some((n) => n === 2)).toBe(true);
});

it('expects suppression only for addresses its notifications name, and forwards per message', () => {
  const text = ledger.publications.join('\n').toLowerCase();
  for (const entries of ledger.suppressed.values()) {
    for (const address of entries.keys()) expect(text).toContain(address);
  }
  const global = ledger.suppressed.get('global')!;
  expect([...global.values()].some((e) => e.reason === 'transient-bounces')).toBe(true);
  expect([...global.values()].some((e) => e.count === 2)).toBe(true);
  for (const key of ledger.forwards) {
    const [messageId] = key.split(' ');
    expect(text).toContain(`"messageid":"${messageId}"`);
  }
  expect(ledger.forwards.has(forwardKey('no-such-message', 'team@example.net'))).toBe(false);
});
