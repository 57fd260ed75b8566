/**
 * The status page's HTML from given data: every panel present, a failing source costs only its
 * own panel, nothing is left unescaped, and nothing outside the page is referenced. And the
 * short-lived cache that keeps an open page from costing a Redis read per request.
 */
import { shortLived } from '../../../adapters/http/shortLived';
import { renderStatusPage, type StatusPageDeps } from '../../../adapters/http/statusPage';
import { DOMAIN_EVENT_KINDS } from '../../../domain/events';
import {
  NO_COUNTS,
  SES_THRESHOLDS,
  reputationReport,
  type ReputationCounts,
} from '../../../domain/reputation';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 30);

const deps = (overrides: Partial<StatusPageDeps> = {}): StatusPageDeps => ({
  now: () => NOW,
  reputation: () =>
    Promise.resolve(
      reputationReport(
        new Map([
          [
            '24h',
            new Map<string, ReputationCounts>([
              ['account', { ...NO_COUNTS, send: 1000, hardBounce: 120 }],
              ['configurationSet=<script>', { ...NO_COUNTS, send: 10 }],
            ]),
          ],
        ]),
        new Map(),
        { thresholds: SES_THRESHOLDS, minVolume: 100 },
        new Date(NOW),
      ),
    ),
  eventsPerMinute: (minutes) =>
    Promise.resolve({
      startMinute: Math.floor(NOW / 60_000) - minutes + 1,
      kinds: new Map([['send', Array.from({ length: minutes }, (_, i) => i % 3)]]),
    }),
  accountHourly: (hours) =>
    Promise.resolve(
      Array.from({ length: hours }, (_, i) => ({ ...NO_COUNTS, send: 100, hardBounce: i % 10 })),
    ),
  dlqDepth: () => Promise.resolve(3),
  jobCounts: () =>
    Promise.resolve({
      suppression: { failed: 2, waiting: 0, active: 0, delayed: 1 },
      metrics: { failed: 0, waiting: 5, active: 1, delayed: 0 },
    }),
  suppressionCounts: () => Promise.resolve({ total: 7, byReason: { bounce: 5, complaint: 2 } }),
  ...overrides,
});

describe('renderStatusPage', () => {
  it('renders every panel from its data', async () => {
    const html = await renderStatusPage(deps(), 3);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('data-state="critical"'); // 12 % bounces
    expect(html.match(/<polyline[^>]*data-series="send"/g)).toHaveLength(1);
    expect(html).toContain('data-series="bounce rate"');
    expect(html).toContain('data-series="complaint rate"');
    expect(html).toContain('data-bar="messages" data-value="3"');
    expect(html).toContain('data-bar="suppression" data-value="2"');
    expect(html).toContain('data-bar="total" data-value="7"');
    expect(html).toContain('data-bar="complaint" data-value="2"');
    expect(html).toContain('Events per minute, last 3 h');
  });

  it('names each kind in the events legend as people say it; the marks keep the kind', async () => {
    const minutes = 60;
    const html = await renderStatusPage(
      deps({
        eventsPerMinute: () =>
          Promise.resolve({
            startMinute: Math.floor(NOW / 60_000) - minutes + 1,
            kinds: new Map(DOMAIN_EVENT_KINDS.map((kind) => [kind, Array(minutes).fill(1)])),
          }),
      }),
      1,
    );
    const figure = html.split('<figure>').find((f) => f.includes('Events per minute by kind'));
    const legend = [...(figure ?? '').matchAll(/<span class="key">.*?<\/svg>([^<]*)<\/span>/g)];
    expect(legend.map((m) => m[1])).toEqual([
      'Send',
      'Reject',
      'Bounce',
      'Complaint',
      'Delivery',
      'Open',
      'Click',
      'Rendering failure',
      'Delivery delay',
      'Subscription preferences change',
      'Received mail',
      'SES notification test',
      'SES event destination test',
      'SNS subscription confirmation',
      'SNS unsubscribe confirmation',
    ]);
    for (const kind of DOMAIN_EVENT_KINDS) expect(figure).toContain(`data-series="${kind}"`);
  });

  it('a source that fails costs its own panel, with why, and nothing else', async () => {
    const html = await renderStatusPage(
      deps({
        dlqDepth: () => Promise.reject(new Error('SQS said <no>')),
        suppressionCounts: () => Promise.reject(new Error('NOSCRIPT')),
      }),
      3,
    );
    expect(html).toContain('DLQ depth unavailable: SQS said &#60;no&#62;');
    expect(html).toContain('Suppression counts unavailable: NOSCRIPT');
    expect(html).toContain('data-series="send"');
    expect(html).toContain('data-bar="suppression"');
  });

  it('says so where a source is not wired, and when there are no events', async () => {
    const html = await renderStatusPage(
      deps({
        dlqDepth: null,
        suppressionCounts: null,
        eventsPerMinute: () => Promise.resolve({ startMinute: 0, kinds: new Map() }),
      }),
      1,
    );
    expect(html).toContain('SQS_DLQ_URL is not set');
    expect(html).toContain('data-empty="events"');
  });

  it('escapes names, and references nothing outside the page', async () => {
    const html = await renderStatusPage(deps(), 3);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script|<link rel="stylesheet"/);
  });
});

describe('shortLived', () => {
  it('shares one computation among callers within the period, per key; computes again after it', async () => {
    let clock = 0;
    const calls: number[] = [];
    const get = shortLived(
      2000,
      (key: number) => {
        calls.push(key);
        return Promise.resolve(`${key}@${clock}`);
      },
      () => clock,
    );
    expect(await Promise.all([get(1), get(1), get(3)])).toEqual(['1@0', '1@0', '3@0']);
    clock = 1999;
    expect(await get(1)).toBe('1@0');
    clock = 2000;
    expect(await get(1)).toBe('1@2000');
    expect(calls).toEqual([1, 3, 1]);
  });

  it('keeps no failure', async () => {
    let fail = true;
    const get = shortLived(
      60_000,
      () => (fail ? Promise.reject(new Error('down')) : Promise.resolve('up')),
      () => 0,
    );
    await expect(get(null)).rejects.toThrow('down');
    fail = false;
    expect(await get(null)).toBe('up');
  });
});
