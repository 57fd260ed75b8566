/**
 * The reputation arithmetic: which events count, how windows are split into buckets, the rates
 * of a synthetic stream against a hand count, the denominator, the minimum volume, thresholds
 * and hysteresis.
 */
import fc from 'fast-check';
import type { CountedEvent } from '../../../domain/jobs';
import {
  NO_COUNTS,
  SES_THRESHOLDS,
  dimensionKey,
  parseDimensionKey,
  rateLevel,
  reputationContribution,
  reputationReport,
  slidingRates,
  windowBuckets,
  windowReport,
  type ReputationCounts,
  type ReputationPolicy,
  type ReputationState,
  type WindowName,
} from '../../../domain/reputation';

const event = (kind: CountedEvent['kind'], extra: Partial<CountedEvent> = {}): CountedEvent => ({
  id: `${kind}/x`,
  kind,
  configurationSet: null,
  at: null,
  recipients: 1,
  identity: null,
  ...extra,
});

const policy: ReputationPolicy = { thresholds: SES_THRESHOLDS, minVolume: 100 };
const counts = (c: Partial<ReputationCounts>): ReputationCounts => ({ ...NO_COUNTS, ...c });

describe('reputationContribution', () => {
  it('sends, deliveries, hard and soft bounces and complaints count, per recipient', () => {
    expect(reputationContribution(event('send', { recipients: 3 }))).toEqual({
      metric: 'send',
      weight: 3,
    });
    expect(reputationContribution(event('delivery'))).toEqual({ metric: 'delivery', weight: 1 });
    const bounce = (
      bounceType: 'Permanent' | 'Transient' | 'Undetermined',
      bounceSubType = 'General',
    ) =>
      reputationContribution(
        event('bounce', {
          recipients: 2,
          bounce: { bounceType, bounceSubType } as CountedEvent['bounce'],
        }),
      );
    expect(bounce('Permanent')).toEqual({ metric: 'hardBounce', weight: 2 });
    expect(bounce('Permanent', 'Suppressed')).toEqual({ metric: 'hardBounce', weight: 2 });
    expect(bounce('Transient', 'MailboxFull')).toEqual({ metric: 'softBounce', weight: 2 });
    expect(bounce('Undetermined', 'Undetermined')).toEqual({ metric: 'softBounce', weight: 2 });
    expect(
      reputationContribution(
        event('complaint', {
          complaint: { complaintFeedbackType: 'abuse', complaintSubType: null },
        }),
      ),
    ).toEqual({ metric: 'complaint', weight: 1 });
  });

  it('the account-level suppression list counts against nothing, as at SES', () => {
    expect(
      reputationContribution(
        event('bounce', {
          bounce: { bounceType: 'Permanent', bounceSubType: 'OnAccountSuppressionList' },
        }),
      ),
    ).toBeNull();
    expect(
      reputationContribution(
        event('complaint', {
          complaint: { complaintFeedbackType: null, complaintSubType: 'OnAccountSuppressionList' },
        }),
      ),
    ).toBeNull();
  });

  it('other kinds count toward no rate', () => {
    for (const kind of [
      'open',
      'click',
      'reject',
      'deliveryDelay',
      'received',
      'subscription',
    ] as const)
      expect(reputationContribution(event(kind))).toBeNull();
  });

  it('a job without a usable recipient count weighs one (never NaN into Redis)', () => {
    for (const recipients of [0, -1, NaN, 1.5, undefined as unknown as number])
      expect(reputationContribution(event('send', { recipients }))?.weight).toBe(1);
  });
});

describe('dimension keys', () => {
  it('round-trip, and refuse what is not one', () => {
    for (const d of [
      { type: 'account', name: 'all' },
      { type: 'configurationSet', name: 'marketing' },
      { type: 'identity', name: 'example.com' },
    ] as const)
      expect(parseDimensionKey(dimensionKey(d))).toEqual(d);
    expect(parseDimensionKey('kind')).toBeNull();
    expect(parseDimensionKey('colour=red')).toBeNull();
    expect(parseDimensionKey('identity=')).toBeNull();
  });
});

describe('windowBuckets', () => {
  it('covers exactly the window, each minute once, with at most 118 minute buckets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30_000_000 }),
        fc.integer({ min: 1, max: 10_080 }),
        (end, minutes) => {
          const { minutes: ms, hours } = windowBuckets(end, minutes);
          const covered = [
            ...ms,
            ...hours.flatMap((h) => Array.from({ length: 60 }, (_, i) => h * 60 + i)),
          ];
          covered.sort((a, b) => a - b);
          expect(covered).toHaveLength(minutes);
          expect(covered[0]).toBe(end - minutes + 1);
          expect(covered[covered.length - 1]).toBe(end);
          expect(new Set(covered).size).toBe(minutes);
          expect(ms.length).toBeLessThanOrEqual(118);
        },
      ),
    );
  });

  it('24 h ending at 10:30 (minute 630 of day 1): 10:31 day 0 … 10:59, hours 11 … 9, 10:00 … 10:30', () => {
    const end = 1440 + 630;
    const { minutes, hours } = windowBuckets(end, 1440);
    expect(hours).toEqual(Array.from({ length: 23 }, (_, i) => 11 + i));
    expect(minutes).toEqual([
      ...Array.from({ length: 29 }, (_, i) => 631 + i),
      ...Array.from({ length: 31 }, (_, i) => 1440 + 600 + i),
    ]);
  });
});

describe('rates from a synthetic stream', () => {
  it('match a hand count', () => {
    // 2,000 recipients sent; 1,900 delivered; 80 hard and 20 soft bounces; 3 complaints.
    const c = counts({ send: 2000, delivery: 1900, hardBounce: 80, softBounce: 20, complaint: 3 });
    const report = windowReport('24h', c, policy, 'ok');
    expect(report.volume).toBe(2000);
    expect(report.volumeFrom).toBe('sends');
    expect(report.bounceRate).toBeCloseTo(80 / 2000, 12); // 4 %
    expect(report.complaintRate).toBeCloseTo(3 / 2000, 12); // 0.15 %: warn
    expect(report.state).toBe('warn');
  });

  it('without Send events, deliveries + bounces are the denominator', () => {
    const report = windowReport(
      '7d',
      counts({ delivery: 940, hardBounce: 50, softBounce: 10 }),
      policy,
      'ok',
    );
    expect(report.volume).toBe(1000);
    expect(report.volumeFrom).toBe('deliveriesAndBounces');
    expect(report.bounceRate).toBe(0.05);
    expect(report.state).toBe('warn');
  });

  it('with Send published for part of the mail only, the larger estimate is used', () => {
    const report = windowReport(
      '24h',
      counts({ send: 100, delivery: 900, hardBounce: 100 }),
      policy,
      'ok',
    );
    expect(report.volume).toBe(1000);
    expect(report.bounceRate).toBe(0.1);
  });

  it('at SES’s levels: 5 % bounces warn, 10 % critical; 0.1 % complaints warn, 0.5 % critical', () => {
    const state = (c: Partial<ReputationCounts>) =>
      windowReport('24h', counts(c), policy, 'ok').state;
    expect(state({ send: 10_000, hardBounce: 499 })).toBe('ok');
    expect(state({ send: 10_000, hardBounce: 500 })).toBe('warn');
    expect(state({ send: 10_000, hardBounce: 999 })).toBe('warn');
    expect(state({ send: 10_000, hardBounce: 1000 })).toBe('critical');
    expect(state({ send: 10_000, complaint: 9 })).toBe('ok');
    expect(state({ send: 10_000, complaint: 10 })).toBe('warn');
    expect(state({ send: 10_000, complaint: 50 })).toBe('critical');
    expect(state({ send: 10_000, hardBounce: 600, complaint: 60 })).toBe('critical');
  });

  it('below the minimum volume the rates show but decide nothing', () => {
    const report = windowReport('24h', counts({ send: 99, hardBounce: 50 }), policy, 'ok');
    expect(report.bounceRate).toBeCloseTo(50 / 99);
    expect(report.enoughVolume).toBe(false);
    expect(report.state).toBe('ok');
    const empty = windowReport('24h', NO_COUNTS, { ...policy, minVolume: 0 }, 'ok');
    expect(empty).toMatchObject({ volume: 0, bounceRate: null, complaintRate: null, state: 'ok' });
  });
});

describe('hysteresis', () => {
  const t = SES_THRESHOLDS.bounce;
  it('goes up at once, comes down only 10 % below the threshold', () => {
    expect(rateLevel(0.05, t, 'ok')).toBe('warn');
    expect(rateLevel(0.1, t, 'ok')).toBe('critical');
    expect(rateLevel(0.046, t, 'warn')).toBe('warn');
    expect(rateLevel(0.0449, t, 'warn')).toBe('ok');
    expect(rateLevel(0.095, t, 'critical')).toBe('critical');
    expect(rateLevel(0.089, t, 'critical')).toBe('warn');
    expect(rateLevel(0.01, t, 'critical')).toBe('ok');
    expect(rateLevel(null, t, 'critical')).toBe('ok');
  });
});

describe('reputationReport', () => {
  const at = new Date('2026-01-01T00:00:00Z');
  const byWindow = (entries: Record<string, Partial<ReputationCounts>>) =>
    new Map<WindowName, Map<string, ReputationCounts>>([
      ['24h', new Map(Object.entries(entries).map(([k, c]) => [k, counts(c)]))],
      ['7d', new Map(Object.entries(entries).map(([k, c]) => [k, counts(c)]))],
    ]);

  it('the account first, then configuration sets and identities by name; each the worst of its windows', () => {
    const report = reputationReport(
      byWindow({
        'identity=example.com': { send: 1000 },
        'configurationSet=b': { send: 1000, hardBounce: 120 },
        'configurationSet=a': { send: 1000, hardBounce: 60 },
        account: { send: 2000, hardBounce: 180 },
      }),
      new Map(),
      policy,
      at,
    );
    expect(report.dimensions.map((d) => [d.dimension.type, d.dimension.name, d.state])).toEqual([
      ['account', 'all', 'warn'],
      ['configurationSet', 'a', 'warn'],
      ['configurationSet', 'b', 'critical'],
      ['identity', 'example.com', 'ok'],
    ]);
    expect(report.at).toBe(at.toISOString());
  });

  it('a dimension recorded as warn but without mail any more comes back as ok', () => {
    const previous = new Map<string, ReputationState>([['configurationSet=gone', 'warn']]);
    const report = reputationReport(byWindow({}), previous, policy, at);
    const gone = report.dimensions.find((d) => d.dimension.name === 'gone');
    expect(gone).toMatchObject({ state: 'ok', previousState: 'warn' });
  });

  it('always reports the account, even with no data', () => {
    const report = reputationReport(new Map(), new Map(), policy, at);
    expect(report.dimensions).toHaveLength(1);
    expect(report.dimensions[0]).toMatchObject({ dimension: { type: 'account' }, state: 'ok' });
  });
});

describe('slidingRates', () => {
  it('equals summing each window from scratch', () => {
    const hour = fc.record({
      send: fc.nat(50),
      delivery: fc.nat(50),
      hardBounce: fc.nat(5),
      softBounce: fc.nat(5),
      complaint: fc.nat(2),
    });
    fc.assert(
      fc.property(
        fc.array(hour, { maxLength: 60 }),
        fc.integer({ min: 1, max: 30 }),
        (hourly, w) => {
          const sliding = slidingRates(hourly, w);
          hourly.forEach((_, i) => {
            const window = hourly.slice(Math.max(0, i - w + 1), i + 1);
            const sum = (k: keyof ReputationCounts) => window.reduce((a, c) => a + c[k], 0);
            const volume = Math.max(
              sum('send'),
              sum('delivery') + sum('hardBounce') + sum('softBounce'),
            );
            expect(sliding[i]).toEqual({
              bounceRate: volume > 0 ? sum('hardBounce') / volume : null,
              complaintRate: volume > 0 ? sum('complaint') / volume : null,
            });
          });
        },
      ),
    );
  });
});
