/**
 * The metrics processor and the reputation windows on a real Redis: every kind moves its own
 * counters and no other; label sets stay bounded under hostile input; two replicas count each
 * event once between them; rates from a synthetic stream match a hand count; a stream crossing
 * 5 % bounces flips the state and calls a real webhook once.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { isRight } from 'fp-ts/Either';
import type { Cluster } from 'ioredis';
import pino from 'pino';
import { keyBase, type RedisClient } from '../../adapters/redis/connection';
import { makeMetrics, type Metrics } from '../../adapters/metrics/registry';
import { makeReputationStore, type ReputationStore } from '../../adapters/redis/reputationStore';
import { makeWebhookNotifier } from '../../adapters/webhook/notifier';
import { decodeSqsBody } from '../../domain/decode';
import type { DomainEvent } from '../../domain/events';
import type { MetricsJob } from '../../domain/jobs';
import { OTHER_LABEL } from '../../domain/labels';
import {
  HOUR_MS,
  REPUTATION_BUCKETS,
  SES_THRESHOLDS,
  type DimensionReport,
  type ReputationPolicy,
} from '../../domain/reputation';
import { eventId, metricsJob } from '../../domain/routing';
import { makeMetricsProcessor } from '../../worker/processors/metrics';
import { makeReputationMonitor, type ReputationChange } from '../../worker/reputation';
import { fixtureJson, fixtureNames, fixtureText } from '../support/fixtures';
import { sesEventJson, type SyntheticEvent } from '../support/sesEvents';
import { REDIS_MODES, startRedisUnderTest, type RedisUnderTest } from '../support/redisModes';

/** The Redis of the suite running now (each mode's suite starts its own). */
let redis: RedisClient;

let prefixes = 0;
const newPrefix = () => `{metrics-test-${++prefixes}}`;
// Fixed for the processors and monitors, and close to the real time: Redis expires buckets by
// its own clock. Mid-minute, so no event sits on a minute's edge.
const NOW = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;

interface Replica {
  readonly metrics: Metrics;
  readonly store: ReputationStore;
  readonly process: (job: MetricsJob) => Promise<{ counted: number }>;
}

function replica(prefix: string, caps = { sets: 100, identities: 100, templates: 100 }): Replica {
  const metrics = makeMetrics();
  const store = makeReputationStore(redis, {
    keyPrefix: prefix,
    markerTtlSeconds: 3600,
    maxConfigurationSets: caps.sets,
    maxIdentities: caps.identities,
  });
  const process = makeMetricsProcessor(metrics, store, {
    maxConfigurationSets: caps.sets,
    maxTemplates: caps.templates,
    now: () => NOW,
  });
  return { metrics, store, process };
}

const decoded = (body: string): DomainEvent => {
  const result = decodeSqsBody(body);
  if (!isRight(result)) throw new Error(result.left.message);
  return result.right;
};

/** Through the real path: SES JSON → DomainEvent → the batch's metrics job → the processor. */
async function processAll(r: Replica, bodies: readonly string[], batchSize = 10): Promise<number> {
  let counted = 0;
  for (let i = 0; i < bodies.length; i += batchSize) {
    const job = metricsJob(bodies.slice(i, i + batchSize).map(decoded));
    counted += (await r.process(job!.data as MetricsJob)).counted;
  }
  return counted;
}

/** Every non-zero SES series (not the pipeline's, not the gauges), as exposition lines. */
async function sesSeries(metrics: Metrics): Promise<string[]> {
  const lines: string[] = [];
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (
      !/^ses_(?!worker_|reputation_|suppression_|inbound_received|inbound_forwarded)/.test(
        metric.name,
      )
    )
      continue;
    for (const v of metric.values) {
      const name = (v as { metricName?: string }).metricName ?? metric.name;
      if (v.value === 0 || name.endsWith('_bucket')) continue;
      const labels = Object.entries(v.labels)
        .map(([k, l]) => `${k}="${String(l)}"`)
        .join(',');
      lines.push(`${name}${labels ? `{${labels}}` : ''} ${v.value}`);
    }
  }
  return lines.sort();
}

const total = async (metrics: Metrics) =>
  (await metrics.sesEvents.get()).values.reduce((sum, v) => sum + v.value, 0);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const configurationSetOf = (json: Json): string =>
  (json.mail?.tags?.['ses:configuration-set']?.[0] as string | undefined) ?? 'none';
const events = (kind: string, json: Json) =>
  `ses_events_total{kind="${kind}",configuration_set="${configurationSetOf(json)}"} 1`;

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  let redisUnderTest: RedisUnderTest;
  beforeAll(async () => {
    redisUnderTest = await startRedisUnderTest(mode);
    redis = redisUnderTest.connect({ maxRetriesPerRequest: null });
  }, 90_000);
  afterAll(async () => {
    redis?.disconnect();
    await redisUnderTest?.stop();
  });

  describe('every event kind moves its own counters, and no other', () => {
    const received = fixtureJson<Json>('receiving/received-spam-fail.json');
    const receipt = received.receipt as Json;
    const delivery = fixtureJson<Json>('event-publishing/delivery.json');
    const cases: [string, string, (json: Json) => string[]][] = [
      ['event-publishing/send.json', 'send', () => []],
      ['event-publishing/reject.json', 'reject', () => []],
      ['event-publishing/open.json', 'open', () => []],
      ['event-publishing/click.json', 'click', () => []],
      ['event-publishing/subscription.json', 'subscription', () => []],
      [
        'event-publishing/bounce.json',
        'bounce',
        () => ['ses_bounces_total{bounce_type="Permanent",bounce_subtype="General"} 1'],
      ],
      [
        'notifications/bounce-transient-mailboxfull.json',
        'bounce',
        () => ['ses_bounces_total{bounce_type="Transient",bounce_subtype="MailboxFull"} 1'],
      ],
      [
        'notifications/bounce-undetermined.json',
        'bounce',
        () => ['ses_bounces_total{bounce_type="Undetermined",bounce_subtype="Undetermined"} 1'],
      ],
      [
        'event-publishing/complaint.json',
        'complaint',
        () => ['ses_complaints_total{feedback_type="abuse"} 1'],
      ],
      [
        'notifications/complaint-no-feedback-type.json',
        'complaint',
        () => ['ses_complaints_total{feedback_type="none"} 1'],
      ],
      [
        'event-publishing/delivery.json',
        'delivery',
        () => [
          'ses_delivery_processing_seconds_count 1',
          `ses_delivery_processing_seconds_sum ${Number(delivery.delivery.processingTimeMillis) / 1000}`,
        ],
      ],
      [
        'event-publishing/delivery-delay.json',
        'deliveryDelay',
        (json) => [`ses_delivery_delays_total{delay_type="${json.deliveryDelay.delayType}"} 1`],
      ],
      [
        'event-publishing/rendering-failure.json',
        'renderingFailure',
        () => ['ses_rendering_failures_total{template="MyTemplate"} 1'],
      ],
      [
        'receiving/received-spam-fail.json',
        'received',
        () => [
          `ses_inbound_actions_total{action="${receipt.action.type}"} 1`,
          ...['spam', 'virus', 'spf', 'dkim', 'dmarc'].map(
            (verdict) =>
              `ses_inbound_verdicts_total{verdict="${verdict}",status="${receipt[`${verdict}Verdict`]?.status ?? 'none'}"} 1`,
          ),
        ],
      ],
      ['notifications/ses-subscription-succeeded.json', 'sesSubscriptionTest', () => []],
      ['sns/subscription-confirmation.json', 'snsSubscriptionConfirmation', () => []],
      ['sns/unsubscribe-confirmation.json', 'snsUnsubscribeConfirmation', () => []],
      ['captured/ses/laravel-ses-setup-notice.json', 'sesEventDestinationTest', () => []],
    ];

    it.each(cases)('%s', async (name, kind, own) => {
      const r = replica(newPrefix());
      const json = fixtureJson<Json>(name);
      expect(await processAll(r, [fixtureText(name)])).toBe(1);
      const ses = name.startsWith('sns/') ? {} : json;
      expect(await sesSeries(r.metrics)).toEqual([events(kind, ses), ...own(json)].sort());
    });

    it('covers every kind of event', () => {
      const kinds = new Set(cases.map(([, kind]) => kind));
      expect(kinds.size).toBe(15);
    });

    it('every sample, all in one replica: one count per distinct event, redelivered or not', async () => {
      const r = replica(newPrefix());
      const names = [
        ...fixtureNames('event-publishing'),
        ...fixtureNames('notifications'),
        ...fixtureNames('receiving'),
      ];
      const bodies = names.map(fixtureText);
      const distinct = new Set(bodies.map((b) => eventId(decoded(b)))).size;
      expect(await processAll(r, bodies)).toBe(distinct);
      // The same messages again, in other batches: nothing more.
      expect(await processAll(r, [...bodies].reverse(), 7)).toBe(0);
      expect(await total(r.metrics)).toBe(distinct);
    });
  });

  describe('jobs queued by the version before reputation', () => {
    it('({id, kind, configurationSet} only) are counted, not failed', async () => {
      const prefix = newPrefix();
      const r = replica(prefix);
      const legacy = {
        events: [
          { id: 'send/legacy-1', kind: 'send', configurationSet: 'old' },
          { id: 'bounce/legacy-2', kind: 'bounce', configurationSet: null },
        ],
      } as unknown as MetricsJob;
      expect(await r.process(legacy)).toEqual({ counted: 2 });
      expect(await sesSeries(r.metrics)).toEqual([
        'ses_events_total{kind="bounce",configuration_set="none"} 1',
        'ses_events_total{kind="send",configuration_set="old"} 1',
      ]);
      // Counted as now, one recipient; a bounce without its type counts toward no rate.
      const counts = (await r.store.windowCounts(NOW)).get('24h')!;
      expect(counts.get('account')).toMatchObject({ send: 1, hardBounce: 0 });
      expect([...counts.keys()].sort()).toEqual(['account', 'configurationSet=old']);
    });
  });

  describe('label sets stay bounded on hostile input', () => {
    it('10,000 distinct configuration sets, identities and templates: capped, the rest counted as other', async () => {
      const prefix = newPrefix();
      const r = replica(prefix);
      const bodies = Array.from({ length: 10_000 }, (_, n) =>
        sesEventJson({
          kind: n % 4 === 0 ? 'renderingFailure' : n % 4 === 1 ? 'hardBounce' : 'send',
          n,
          at: new Date(NOW - 60_000),
          // Every fifth is not a possible SES name (forged): other before it can take a place.
          configurationSet: n % 5 === 0 ? `forged name ${n} <b>` : `set-${n}`,
          identity: `d${n}.example.org`,
          template: `template-${n}`,
        }),
      );
      expect(await processAll(r, bodies)).toBe(10_000);

      const byConfigurationSet = new Map<string, number>();
      for (const v of (await r.metrics.sesEvents.get()).values) {
        const label = String(v.labels.configuration_set);
        byConfigurationSet.set(label, (byConfigurationSet.get(label) ?? 0) + v.value);
      }
      expect(byConfigurationSet.size).toBeLessThanOrEqual(101);
      expect([...byConfigurationSet.values()].reduce((a, b) => a + b, 0)).toBe(10_000);
      expect(byConfigurationSet.get(OTHER_LABEL)).toBe(10_000 - (byConfigurationSet.size - 1));
      expect(
        [...byConfigurationSet.keys()].every((l) => l === OTHER_LABEL || /^set-\d+$/.test(l)),
      ).toBe(true);

      const templates = (await r.metrics.renderingFailures.get()).values;
      expect(templates.length).toBeLessThanOrEqual(101);
      expect(templates.reduce((a, v) => a + v.value, 0)).toBe(2500);

      // Redis: the name sets hold at most the cap; a bucket's fields stay bounded.
      expect(await redis.zcard(`${prefix}:reputation:names:configurationSet`)).toBe(100);
      expect(await redis.zcard(`${prefix}:reputation:names:identity`)).toBe(100);
      const minuteOf = Math.floor((NOW - 60_000) / 60_000);
      const buckets = await Promise.all(
        Array.from({ length: REPUTATION_BUCKETS }, (_, b) =>
          redis.hgetall(`${keyBase(prefix)}:{reputation:${b}}:m:${minuteOf}`),
        ),
      );
      const minute: Record<string, number> = {};
      for (const bucket of buckets) {
        // Each bucket's fields stay bounded too: the labels are capped before they reach it.
        const fields = new Set(Object.keys(bucket).map((f) => f.slice(0, f.lastIndexOf('|'))));
        expect(fields.size).toBeLessThanOrEqual(1 + 101 + 101 + 1);
        for (const [field, value] of Object.entries(bucket))
          minute[field] = (minute[field] ?? 0) + Number(value);
      }
      const dimensions = new Set(Object.keys(minute).map((f) => f.slice(0, f.lastIndexOf('|'))));
      expect(dimensions.size).toBeLessThanOrEqual(1 + 101 + 101 + 1);
      expect(Number(minute['configurationSet=other|send'])).toBeGreaterThan(0);
      expect(Number(minute['identity=other|hardBounce'])).toBeGreaterThan(0);
      expect(Number(minute['account|send'])).toBe(5000);
      expect(Number(minute['account|hardBounce'])).toBe(2500);
      expect(Number(minute['kind|renderingFailure'])).toBe(2500);
    });
  });

  describe('keys spread over buckets', () => {
    it('windows written before buckets count until they expire: in every window, the hourly series and the events per minute', async () => {
      const prefix = newPrefix();
      const r = replica(prefix);
      const at = (ms: number) => ({
        minute: Math.floor(ms / 60_000),
        hour: Math.floor(ms / HOUR_MS),
      });
      const recent = at(NOW - 2 * HOUR_MS);
      const older = at(NOW - 30 * HOUR_MS);
      // As the version before buckets left them: each event in its minute's and its hour's hash.
      const counts = {
        'account|send': 100,
        'account|hardBounce': 4,
        'configurationSet=old|send': 100,
        'configurationSet=old|hardBounce': 4,
      };
      await redis.hset(`${prefix}:reputation:m:${recent.minute}`, {
        ...counts,
        'kind|send': 100,
        'kind|bounce': 4,
      });
      await redis.hset(`${prefix}:reputation:h:${recent.hour}`, counts);
      await redis.hset(`${prefix}:reputation:m:${older.minute}`, {
        'account|send': 50,
        'kind|send': 50,
      });
      await redis.hset(`${prefix}:reputation:h:${older.hour}`, { 'account|send': 50 });
      await processAll(
        r,
        Array.from({ length: 20 }, (_, n) =>
          sesEventJson({
            kind: 'send',
            n,
            at: new Date(NOW - 2 * HOUR_MS),
            configurationSet: 'old',
          }),
        ),
      );

      const windows = await r.store.windowCounts(NOW);
      expect(windows.get('24h')!.get('account')).toMatchObject({ send: 120, hardBounce: 4 });
      expect(windows.get('24h')!.get('configurationSet=old')).toMatchObject({ send: 120 });
      expect(windows.get('7d')!.get('account')).toMatchObject({ send: 170 });
      const hourly = await r.store.accountHourly(NOW, 48);
      expect(hourly.reduce((sum, h) => sum + h.send, 0)).toBe(170);
      expect(hourly.at(-3)).toMatchObject({ send: 120, hardBounce: 4 });
      const perMinute = await r.store.eventsPerMinute(NOW, 180);
      expect(perMinute.kinds.get('send')![recent.minute - perMinute.startMinute]).toBe(120);
      expect(perMinute.kinds.get('bounce')![recent.minute - perMinute.startMinute]).toBe(4);
    });

    if (mode === 'single') {
      it('an event counted before the upgrade (its marker under the old key) is not counted again', async () => {
        const prefix = newPrefix();
        const r = replica(prefix);
        const bodies = [0, 1].map((n) =>
          sesEventJson({ kind: 'hardBounce', n, at: new Date(NOW - HOUR_MS) }),
        );
        await redis.set(`${prefix}:metrics:seen:${eventId(decoded(bodies[0]!))}`, '1', 'EX', 60);
        expect(await processAll(r, bodies)).toBe(1);
        expect(await processAll(r, bodies)).toBe(0);
      });
    }

    if (mode === 'cluster') {
      it('after a few hundred events, the reputation keys are on every master', async () => {
        const prefix = newPrefix();
        const r = replica(prefix);
        expect(
          await processAll(
            r,
            Array.from({ length: 300 }, (_, n) =>
              sesEventJson({ kind: n % 2 ? 'send' : 'delivery', n, at: new Date(NOW) }),
            ),
          ),
        ).toBe(300);
        const perMaster = await Promise.all(
          (redis as Cluster).nodes('master').map(async (node) => {
            const keys: string[] = [];
            let cursor = '0';
            do {
              const [next, found] = await node.scan(
                cursor,
                'MATCH',
                `${keyBase(prefix)}:{reputation:*`,
                'COUNT',
                1000,
              );
              keys.push(...found);
              cursor = next;
            } while (cursor !== '0');
            return keys;
          }),
        );
        expect(perMaster).toHaveLength(3);
        for (const keys of perMaster) {
          expect(keys.some((k) => k.includes(':seen:'))).toBe(true);
          expect(keys.some((k) => /:m:\d+$/.test(k))).toBe(true);
        }
        expect(perMaster.flat().filter((k) => k.includes(':seen:'))).toHaveLength(300);
      });
    }
  });

  describe('two replicas', () => {
    it('counters summed across them equal the events processed; the windows count each once', async () => {
      const prefix = newPrefix();
      const [a, b] = [replica(prefix), replica(prefix)];
      const kinds = ['send', 'delivery', 'hardBounce', 'complaint', 'open'] as const;
      const bodies = Array.from({ length: 500 }, (_, n) =>
        sesEventJson({ kind: kinds[n % kinds.length]!, n, at: new Date(NOW - HOUR_MS) }),
      );
      // Both get every message, in different batches and orders, at once: as replicas do with
      // redeliveries and visibility timeouts.
      const shuffled = [...bodies].reverse();
      const [countedA, countedB] = await Promise.all([
        processAll(a, bodies, 10),
        processAll(b, shuffled, 7),
      ]);
      expect(countedA + countedB).toBe(500);
      expect((await total(a.metrics)) + (await total(b.metrics))).toBe(500);
      expect(await total(a.metrics)).toBeGreaterThan(0);
      expect(await total(b.metrics)).toBeGreaterThan(0);

      const counts = (await a.store.windowCounts(NOW)).get('24h')!.get('account');
      expect(counts).toEqual({
        send: 100,
        delivery: 100,
        hardBounce: 100,
        softBounce: 0,
        complaint: 100,
      });
    });
  });

  describe('rates from a synthetic stream', () => {
    it('match a hand count, per account, configuration set and identity, over 24 h and 7 d', async () => {
      const prefix = newPrefix();
      const r = replica(prefix);
      const ago = (hours: number) => new Date(NOW - hours * HOUR_MS);
      let n = 0;
      const some = (
        count: number,
        spec: Omit<SyntheticEvent, 'n' | 'at'>,
        hours: (i: number) => number,
      ) => Array.from({ length: count }, (_, i) => ({ ...spec, n: n++, at: ago(hours(i)) }));
      const stream: SyntheticEvent[] = [
        // Within 24 h, set "a" on example.com: 200 sends × 2 recipients, 380 delivered, 16 hard
        // and 4 soft bounces, 1 complaint, and 5 bounces of the account's suppression list.
        ...some(200, { kind: 'send', configurationSet: 'a', recipients: 2 }, (i) => 1 + (i % 20)),
        ...some(380, { kind: 'delivery', configurationSet: 'a' }, (i) => 1 + (i % 20)),
        ...some(16, { kind: 'hardBounce', configurationSet: 'a' }, (i) => 2 + i),
        ...some(4, { kind: 'softBounce', configurationSet: 'a' }, () => 3),
        ...some(1, { kind: 'complaint', configurationSet: 'a' }, () => 4),
        ...some(5, { kind: 'suppressedBounce', configurationSet: 'a' }, () => 5),
        // Two to six days ago, no Send events published, set "b" on news.example.org.
        ...some(
          570,
          { kind: 'delivery', configurationSet: 'b', identity: 'news.example.org' },
          (i) => 48 + (i % 96),
        ),
        ...some(
          30,
          { kind: 'hardBounce', configurationSet: 'b', identity: 'news.example.org' },
          (i) => 50 + i,
        ),
        ...some(
          3,
          { kind: 'complaint', configurationSet: 'b', identity: 'news.example.org' },
          () => 60,
        ),
        // Ten days ago: outside every window.
        ...some(100, { kind: 'hardBounce', configurationSet: 'a' }, () => 240),
        // Stamped an hour in the future (a clock ahead): counted as now.
        ...some(10, { kind: 'send', configurationSet: 'a' }, () => -1),
        // Opens count toward no rate.
        ...some(50, { kind: 'open', configurationSet: 'a' }, () => 1),
      ];
      expect(await processAll(r, stream.map(sesEventJson))).toBe(stream.length);

      const policy: ReputationPolicy = { thresholds: SES_THRESHOLDS, minVolume: 100 };
      const monitor = makeReputationMonitor({
        store: r.store,
        metrics: r.metrics,
        policy,
        notify: null,
        log: pino({ level: 'silent' }),
        now: () => NOW,
      });
      const report = await monitor.report();
      const find = (type: string, name: string) =>
        report.dimensions.find((d) => d.dimension.type === type && d.dimension.name === name);
      const window = (d: DimensionReport | undefined, w: '24h' | '7d') =>
        d?.windows.find((x) => x.window === w);

      // By hand. Account, 24 h: sends 200×2 + 10 = 410 recipients; outcomes 380 + 16 + 4 = 400.
      expect(window(find('account', 'all'), '24h')).toMatchObject({
        counts: { send: 410, delivery: 380, hardBounce: 16, softBounce: 4, complaint: 1 },
        volume: 410,
        volumeFrom: 'sends',
        bounceRate: 16 / 410,
        complaintRate: 1 / 410,
        state: 'warn', // 0.24 % complaints
      });
      // Account, 7 d: sends 410; outcomes 400 + 570 + 30 = 1000, the larger.
      expect(window(find('account', 'all'), '7d')).toMatchObject({
        counts: { send: 410, delivery: 950, hardBounce: 46, softBounce: 4, complaint: 4 },
        volume: 1000,
        volumeFrom: 'deliveriesAndBounces',
        bounceRate: 46 / 1000,
        complaintRate: 4 / 1000,
      });
      // Set "b": nothing in 24 h; 7 d: 30 / 600 = 5 % bounces, 0.5 % complaints: critical.
      expect(window(find('configurationSet', 'b'), '24h')).toMatchObject({
        volume: 0,
        bounceRate: null,
      });
      expect(window(find('configurationSet', 'b'), '7d')).toMatchObject({
        volume: 600,
        bounceRate: 0.05,
        complaintRate: 0.005,
        state: 'critical',
      });
      expect(find('configurationSet', 'b')?.state).toBe('critical');
      expect(window(find('identity', 'news.example.org'), '7d')).toMatchObject({ volume: 600 });
      expect(window(find('identity', 'example.com'), '24h')).toMatchObject({ volume: 410 });
      expect(report.dimensions.map((d) => `${d.dimension.type}=${d.dimension.name}`)).toEqual([
        'account=all',
        'configurationSet=a',
        'configurationSet=b',
        'identity=example.com',
        'identity=news.example.org',
      ]);

      // The same by brute force over the stream, for every dimension and window.
      const recipients = (e: SyntheticEvent) => e.recipients ?? 1;
      for (const d of report.dimensions) {
        for (const w of d.windows) {
          const hours = w.window === '24h' ? 24 : 168;
          const inWindow = stream.filter((e) => {
            const age = NOW - Math.min(e.at.getTime(), NOW);
            const set = e.configurationSet === undefined ? 'marketing' : e.configurationSet;
            const identity = e.identity ?? 'example.com';
            return (
              age < hours * HOUR_MS &&
              (d.dimension.type === 'account' ||
                (d.dimension.type === 'configurationSet' && set === d.dimension.name) ||
                (d.dimension.type === 'identity' && identity === d.dimension.name))
            );
          });
          const sum = (kind: SyntheticEvent['kind']) =>
            inWindow.filter((e) => e.kind === kind).reduce((a, e) => a + recipients(e), 0);
          expect(w.counts).toEqual({
            send: sum('send'),
            delivery: sum('delivery'),
            hardBounce: sum('hardBounce'),
            softBounce: sum('softBounce'),
            complaint: sum('complaint'),
          });
        }
      }

      // And the gauges say the same after an evaluation.
      await monitor.evaluate();
      const gauge = await r.metrics.reputationBounceRate.get();
      expect(
        gauge.values.find(
          (v) =>
            v.labels.dimension === 'configurationSet' &&
            v.labels.name === 'b' &&
            v.labels.window === '7d',
        )?.value,
      ).toBe(0.05);
      const state = await r.metrics.reputationState.get();
      expect(state.values.find((v) => v.labels.name === 'b')?.value).toBe(2);
    });

    it('the events-per-minute series counts events by kind, by the minute SES gives them', async () => {
      const prefix = newPrefix();
      const r = replica(prefix);
      const minute = 60_000;
      const bodies = [
        ...Array.from({ length: 3 }, (_, i) =>
          sesEventJson({ kind: 'send', n: i, at: new Date(NOW - 2 * minute) }),
        ),
        ...Array.from({ length: 2 }, (_, i) =>
          sesEventJson({ kind: 'open', n: 10 + i, at: new Date(NOW) }),
        ),
      ];
      await processAll(r, bodies);
      const perMinute = await r.store.eventsPerMinute(NOW, 5);
      expect(perMinute.startMinute).toBe(Math.floor(NOW / minute) - 4);
      expect(Object.fromEntries(perMinute.kinds)).toEqual({
        send: [0, 0, 3, 0, 0],
        open: [0, 0, 0, 0, 2],
      });
    });
  });

  describe('state changes and the webhook', () => {
    let server: Server;
    let url: string;
    const posts: { body: ReputationChange; contentType: string | undefined }[] = [];
    let failNext = 0;
    beforeAll(async () => {
      server = createServer((request: IncomingMessage, response) => {
        let body = '';
        request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        request.on('end', () => {
          if (failNext > 0) {
            failNext--;
            response.writeHead(503).end();
            return;
          }
          posts.push({
            body: JSON.parse(body) as ReputationChange,
            contentType: request.headers['content-type'],
          });
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/ses?secret=s3cret`;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));
    beforeEach(() => {
      posts.splice(0);
      failNext = 0;
    });

    function logSink() {
      const lines: { level: number; msg: string }[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
          done();
        },
      });
      return { log: pino({ level: 'info' }, stream), lines };
    }

    it('a stream crossing 5 % bounces flips the state and calls the webhook once, whichever replica evaluates', async () => {
      const prefix = newPrefix();
      const replicas = [replica(prefix), replica(prefix)];
      const logs = [logSink(), logSink()];
      const monitors = replicas.map((r, i) =>
        makeReputationMonitor({
          store: r.store,
          metrics: r.metrics,
          policy: { thresholds: SES_THRESHOLDS, minVolume: 100 },
          notify: makeWebhookNotifier({ url, backoffMs: 10 }),
          log: logs[i]!.log,
          now: () => NOW,
        }),
      );
      const evaluateBoth = () => Promise.all(monitors.map((m) => m.evaluate()));
      let n = 0;
      // One configuration set and identity: every dimension sees the same stream.
      const feed = (kind: SyntheticEvent['kind'], count: number) =>
        processAll(
          replicas[n % 2]!,
          Array.from({ length: count }, () =>
            sesEventJson({ kind, n: n++, at: new Date(NOW - HOUR_MS), configurationSet: 'news' }),
          ),
        );

      await feed('send', 1000);
      await feed('hardBounce', 49); // 4.9 %
      await evaluateBoth();
      await evaluateBoth();
      expect(posts).toEqual([]);

      await feed('hardBounce', 1); // 5.0 %: over the line
      await evaluateBoth();
      await evaluateBoth();
      await evaluateBoth();
      const byDimension = (state: string) =>
        posts
          .filter((p) => p.body.state === state)
          .map((p) => `${p.body.dimension.type}=${p.body.dimension.name}`)
          .sort();
      expect(byDimension('warn')).toEqual([
        'account=all',
        'configurationSet=news',
        'identity=example.com',
      ]);
      expect(posts).toHaveLength(3);
      const account = posts.find((p) => p.body.dimension.type === 'account')!;
      expect(account.contentType).toBe('application/json');
      expect(account.body).toMatchObject({
        type: 'ses-worker.reputation.state-changed',
        previousState: 'ok',
        state: 'warn',
        thresholds: SES_THRESHOLDS,
      });
      expect(account.body.windows.find((w) => w.window === '24h')).toMatchObject({
        bounceRate: 0.05,
        volume: 1000,
      });
      // One warn line per dimension, from whichever replica made the change.
      const warnLines = logs.flatMap((l) => l.lines).filter((l) => l.level === 40);
      expect(warnLines.map((l) => l.msg).sort()).toEqual([
        'reputation warn: account all',
        'reputation warn: configurationSet news',
        'reputation warn: identity example.com',
      ]);
      for (const r of replicas) {
        const states = (await r.metrics.reputationState.get()).values;
        expect(states.map((v) => v.value)).toEqual([1, 1, 1]);
      }

      // Down to 4.8 %: still warn (a state is left 10 % below its threshold): no call.
      await feed('send', 40);
      await evaluateBoth();
      expect(posts).toHaveLength(3);
      // Down to 3 %: ok again, announced once per dimension.
      await feed('send', 627);
      await evaluateBoth();
      await evaluateBoth();
      expect(byDimension('ok')).toEqual([
        'account=all',
        'configurationSet=news',
        'identity=example.com',
      ]);
      expect(posts).toHaveLength(6);

      // Critical: 10 % and over, straight from ok.
      await feed('hardBounce', 150); // 200 / 1667 = 12 %
      await evaluateBoth();
      expect(byDimension('critical')).toHaveLength(3);
      const errorLines = logs.flatMap((l) => l.lines).filter((l) => l.level === 50);
      expect(errorLines).toHaveLength(3);
    });

    it('a webhook that fails is retried; one that keeps failing is counted and logged, not repeated', async () => {
      const prefix = newPrefix();
      const r = replica(prefix);
      const { log, lines } = logSink();
      const monitor = makeReputationMonitor({
        store: r.store,
        metrics: r.metrics,
        policy: { thresholds: SES_THRESHOLDS, minVolume: 0 },
        notify: makeWebhookNotifier({ url, backoffMs: 10, attempts: 3 }),
        log,
        now: () => NOW,
      });
      await processAll(r, [
        sesEventJson({ kind: 'send', n: 1, at: new Date(NOW - HOUR_MS), configurationSet: null }),
        sesEventJson({
          kind: 'hardBounce',
          n: 2,
          at: new Date(NOW - HOUR_MS),
          configurationSet: null,
        }),
      ]);
      failNext = 2; // the first two attempts of the first call
      await monitor.evaluate();
      expect(posts.length).toBeGreaterThan(0);
      expect((await r.metrics.reputationNotifications.get()).values).toEqual([
        expect.objectContaining({ labels: { outcome: 'sent' }, value: posts.length }),
      ]);

      await processAll(r, [
        sesEventJson({ kind: 'send', n: 3, at: new Date(NOW - HOUR_MS), configurationSet: null }),
        ...Array.from({ length: 30 }, (_, i) =>
          sesEventJson({
            kind: 'send',
            n: 10 + i,
            at: new Date(NOW - HOUR_MS),
            configurationSet: null,
          }),
        ),
      ]);
      posts.splice(0);
      failNext = 1000;
      await monitor.evaluate(); // 1 / 32 = 3 %: back to ok, but the webhook is down
      expect(posts).toEqual([]);
      const failed = (await r.metrics.reputationNotifications.get()).values.find(
        (v) => v.labels.outcome === 'failed',
      );
      expect(failed?.value).toBeGreaterThan(0);
      const error = lines.find((l) => l.msg === 'reputation webhook not delivered') as
        { err: { message: string } } | undefined;
      expect(error?.err.message).toMatch(/HTTP 503/);
      // The secret in the URL's path and query never reaches the log.
      expect(JSON.stringify(lines)).not.toContain('s3cret');
      expect(JSON.stringify(lines)).not.toContain('/hooks/ses');
      // The change was recorded: the next evaluation does not try again.
      failNext = 0;
      await monitor.evaluate();
      expect(posts).toEqual([]);
    });
  });
});
