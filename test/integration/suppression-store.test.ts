/**
 * The suppression store on a real Redis, one server and a three-master cluster, and the policy
 * applied through real BullMQ processors: evidence, idempotence under redelivery and replay, two
 * processors racing on one address, transient-bounce windows, subscriptions, paging, batch
 * checks and the audit trail.
 */
import { openQueue } from '../../adapters/bullmq/layout';
import { Redis } from 'ioredis';
import { makeJobQueues } from '../../adapters/bullmq/queues';
import { startQueueWorker } from '../../adapters/bullmq/workers';
import { makeMetrics } from '../../adapters/metrics/registry';
import type { RedisClient } from '../../adapters/redis/connection';
import { makeSuppressionStore, suppressionKeys } from '../../adapters/redis/suppressionStore';
import type { EmailAddress } from '../../domain/address';
import type { JobSpec, SuppressionJob } from '../../domain/jobs';
import type { SuppressionStore } from '../../domain/ports';
import {
  DEFAULT_SUPPRESSION_POLICY,
  suppressionBucket,
  suppressionChanges,
  type SuppressionChange,
  type SuppressionEntry,
  type SuppressionPolicy,
} from '../../domain/suppression';
import { makeSuppressionProcessor } from '../../worker/processors/suppression';
import { eventually } from '../support/await';
import { REDIS_MODES, startRedisUnderTest, type RedisUnderTest } from '../support/redisModes';

let under: RedisUnderTest;
let redis: RedisClient;
let prefixes = 0;

const freshStore = (options?: Parameters<typeof makeSuppressionStore>[2]) => {
  const prefix = `{sup-${++prefixes}}`;
  return { prefix, store: makeSuppressionStore(redis, prefix, options) };
};

const address = (local: string) => `${local}@example.com` as EmailAddress;
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A suppression job as routing makes them, for one address. */
function bounceJob(
  to: EmailAddress,
  n: number,
  options: { type?: 'Permanent' | 'Transient' | 'Undetermined'; at?: number } = {},
): SuppressionJob {
  const bounceType = options.type ?? 'Permanent';
  return {
    kind: 'bounce',
    address: to,
    sesMessageId: `msg-${n}`,
    timestamp: iso(options.at ?? T0 + n * 1000),
    configurationSet: 'marketing',
    source: 'sender@example.org',
    feedbackId: `feedback-${n}`,
    bounceType,
    bounceSubType: bounceType === 'Permanent' ? 'General' : 'MailboxFull',
    status: '5.1.1',
    diagnosticCode: 'smtp; 550 5.1.1 user unknown',
  };
}

function complaintJob(to: EmailAddress, n: number, feedbackType: string | null): SuppressionJob {
  return {
    kind: 'complaint',
    address: to,
    sesMessageId: `msg-${n}`,
    timestamp: iso(T0 + n * 1000),
    configurationSet: null,
    source: 'sender@example.org',
    feedbackId: `complaint-${n}`,
    complaintFeedbackType: feedbackType,
    complaintSubType: null,
  };
}

const deliveryJob = (to: EmailAddress, at: number): SuppressionJob => ({
  kind: 'delivery',
  address: to,
  sesMessageId: `delivered-${at}`,
  timestamp: iso(at),
  configurationSet: null,
  source: 'sender@example.org',
});

function subscriptionJob(
  to: EmailAddress,
  at: number,
  preferences: { unsubscribeAll: boolean; topics?: Record<string, 'OptIn' | 'OptOut'> },
): SuppressionJob {
  return {
    kind: 'subscription',
    address: to,
    sesMessageId: `subscription-${at}`,
    timestamp: iso(at),
    configurationSet: null,
    source: 'sender@example.org',
    contactList: 'Newsletter',
    unsubscribeAll: preferences.unsubscribeAll,
    topics: Object.entries(preferences.topics ?? {}).map(([topicName, subscriptionStatus]) => ({
      topicName,
      subscriptionStatus,
    })),
  };
}

const eventKeyOf = (job: SuppressionJob): string =>
  `${job.kind}/${'feedbackId' in job ? job.feedbackId : job.sesMessageId}/${job.address}`;

/** What the processor does, without BullMQ: the policy's changes under the job's key. */
const applyJob = (
  store: SuppressionStore,
  job: SuppressionJob,
  policy: SuppressionPolicy = DEFAULT_SUPPRESSION_POLICY,
) => store.apply(job.address, suppressionChanges(job, policy), eventKeyOf(job));

const globalEntry = async (store: SuppressionStore, to: EmailAddress) =>
  (await store.get(to)).entries.find((e) => e.scope === 'global');

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  beforeAll(async () => {
    under = await startRedisUnderTest(mode);
    redis = under.connect({ maxRetriesPerRequest: null });
  }, 90_000);
  afterAll(async () => {
    redis?.disconnect();
    await under?.stop();
  });

  describe('permanent bounces and complaints', () => {
    it('records the address with its evidence, and explains it', async () => {
      const { store } = freshStore();
      const to = address('gone');
      expect(await applyJob(store, bounceJob(to, 1))).toEqual(['added']);

      const record = await store.get(to);
      expect(record.entries).toEqual([
        {
          address: to,
          scope: 'global',
          reason: 'bounce',
          firstAt: iso(T0 + 1000),
          lastAt: iso(T0 + 1000),
          count: 1,
          evidence: expect.objectContaining({
            kind: 'bounce',
            sesMessageId: 'msg-1',
            feedbackId: 'feedback-1',
            bounceType: 'Permanent',
            bounceSubType: 'General',
            status: '5.1.1',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
            source: 'sender@example.org',
          }),
          latest: expect.objectContaining({ feedbackId: 'feedback-1' }),
        },
      ]);
      expect(record.history.map((h) => [h.action, h.scope, h.reason])).toEqual([
        ['added', 'global', 'bounce'],
      ]);
    });

    it('the same notification applied twice changes nothing; another one counts', async () => {
      const { store } = freshStore();
      const to = address('twice');
      expect(await applyJob(store, bounceJob(to, 1))).toEqual(['added']);
      expect(await applyJob(store, bounceJob(to, 1))).toEqual(['unchanged']);
      expect((await globalEntry(store, to))?.count).toBe(1);

      expect(await applyJob(store, bounceJob(to, 2))).toEqual(['updated']);
      const entry = await globalEntry(store, to);
      expect(entry).toMatchObject({ count: 2, firstAt: iso(T0 + 1000), lastAt: iso(T0 + 2000) });
      expect(entry?.evidence.feedbackId).toBe('feedback-1');
      expect(entry?.latest.feedbackId).toBe('feedback-2');
    });

    it('a complaint outranks a bounce and becomes the reason, with its own evidence', async () => {
      const { store } = freshStore();
      const to = address('both');
      await applyJob(store, bounceJob(to, 1));
      await applyJob(store, complaintJob(to, 2, 'abuse'));
      const entry = await globalEntry(store, to);
      expect(entry).toMatchObject({ reason: 'complaint', count: 2 });
      expect(entry?.evidence).toMatchObject({ kind: 'complaint', feedbackId: 'complaint-2' });
      expect(await store.list({ reason: 'bounce', limit: 10 })).toEqual({
        entries: [],
        nextCursor: null,
      });
      expect((await store.list({ reason: 'complaint', limit: 10 })).entries).toHaveLength(1);
    });

    it('a not-spam complaint is on record but suppresses nothing', async () => {
      const { store } = freshStore();
      const to = address('not-spam');
      expect(await applyJob(store, complaintJob(to, 1, 'not-spam'))).toEqual(['recorded']);
      const record = await store.get(to);
      expect(record.entries).toEqual([]);
      expect(record.history).toEqual([
        expect.objectContaining({
          action: 'recorded',
          evidence: expect.objectContaining({ complaintFeedbackType: 'not-spam' }),
        }),
      ]);
    });

    it('a manual removal sticks: replaying the old bounce does not bring the address back', async () => {
      const { store } = freshStore();
      const to = address('removed');
      await applyJob(store, bounceJob(to, 1));
      const manual = { at: new Date().toISOString(), kind: 'manual' as const, note: 'fixed' };
      expect(
        await store.apply(to, [{ type: 'remove', scope: 'global', evidence: manual }], null),
      ).toEqual(['removed']);
      expect(await applyJob(store, bounceJob(to, 1))).toEqual(['unchanged']);
      const record = await store.get(to);
      expect(record.entries).toEqual([]);
      expect(record.history.map((h) => h.action)).toEqual(['removed', 'added']);
      // A new bounce is new evidence.
      expect(await applyJob(store, bounceJob(to, 2))).toEqual(['added']);
    });
  });

  describe('transient bounces', () => {
    const transient = (to: EmailAddress, n: number, at: number) =>
      bounceJob(to, n, { type: 'Transient', at });

    it('suppress after 3 within 7 days, not before; undetermined counts as transient', async () => {
      const { store } = freshStore();
      const to = address('flaky');
      expect(await applyJob(store, transient(to, 1, T0))).toEqual(['counted']);
      expect(
        await applyJob(store, bounceJob(to, 2, { type: 'Undetermined', at: T0 + DAY })),
      ).toEqual(['counted']);
      expect(await globalEntry(store, to)).toBeUndefined();
      expect(await applyJob(store, transient(to, 3, T0 + 6 * DAY))).toEqual(['added']);
      expect(await globalEntry(store, to)).toMatchObject({ reason: 'transient-bounces' });
    });

    it('three spread over more than the window do not suppress', async () => {
      const { store } = freshStore();
      const to = address('spread');
      for (const [n, day] of [
        [1, 0],
        [2, 4],
        [3, 8],
        [4, 12],
      ] as const) {
        expect(await applyJob(store, transient(to, n, T0 + day * DAY))).toEqual(['counted']);
      }
      expect(await globalEntry(store, to)).toBeUndefined();
    });

    it('counts a redelivered bounce once', async () => {
      const { store } = freshStore();
      const to = address('redelivered');
      await applyJob(store, transient(to, 1, T0));
      await applyJob(store, transient(to, 1, T0));
      // Same feedback id under another key (say, after the marker expired): still one bounce.
      await store.apply(
        to,
        suppressionChanges(transient(to, 1, T0), DEFAULT_SUPPRESSION_POLICY),
        'other',
      );
      expect(await applyJob(store, transient(to, 2, T0 + 1000))).toEqual(['counted']);
      expect(await globalEntry(store, to)).toBeUndefined();
    });

    it('a delivery resets the count; an older delivery arriving late does not', async () => {
      const { store } = freshStore();
      const to = address('delivered');
      await applyJob(store, transient(to, 1, T0));
      await applyJob(store, transient(to, 2, T0 + DAY));
      expect(await applyJob(store, deliveryJob(to, T0 + 2 * DAY))).toEqual(['reset']);
      await applyJob(store, transient(to, 3, T0 + 3 * DAY));
      // Late: a delivery older than the count it would reset.
      expect(await applyJob(store, deliveryJob(to, T0 + DAY / 2))).toEqual(['unchanged']);
      // A bounce from before the reset arriving late does not count either.
      expect(await applyJob(store, transient(to, 4, T0 + DAY + 1))).toEqual(['unchanged']);
      expect(await applyJob(store, transient(to, 5, T0 + 4 * DAY))).toEqual(['counted']);
      expect(await globalEntry(store, to)).toBeUndefined();
      expect(await applyJob(store, transient(to, 6, T0 + 5 * DAY))).toEqual(['added']);
    });

    it('follows the configured threshold and window', async () => {
      const { store } = freshStore();
      const to = address('configured');
      const policy = { transientThreshold: 2, transientWindowMs: DAY };
      expect(await applyJob(store, transient(to, 1, T0), policy)).toEqual(['counted']);
      expect(await applyJob(store, transient(to, 2, T0 + 2 * DAY), policy)).toEqual(['counted']);
      expect(await applyJob(store, transient(to, 3, T0 + 2 * DAY + 1000), policy)).toEqual([
        'added',
      ]);
    });
  });

  describe('subscriptions', () => {
    it('unsubscribeAll suppresses the list; a topic OptOut the topic; OptIn lifts it', async () => {
      const { store } = freshStore();
      const to = address('subscriber');
      expect(
        await applyJob(
          store,
          subscriptionJob(to, T0, { unsubscribeAll: false, topics: { Weekly: 'OptOut' } }),
        ),
      ).toEqual(['unchanged', 'added']);
      expect((await store.get(to)).entries.map((e) => [e.scope, e.reason])).toEqual([
        ['topic:Newsletter:Weekly', 'unsubscribe'],
      ]);
      expect(await store.check([to], ['global'])).toEqual(new Map());
      expect((await store.check([to], ['global', 'topic:Newsletter:Weekly'])).get(to)?.scope).toBe(
        'topic:Newsletter:Weekly',
      );

      expect(
        await applyJob(
          store,
          subscriptionJob(to, T0 + 1000, { unsubscribeAll: true, topics: { Weekly: 'OptIn' } }),
        ),
      ).toEqual(['added', 'lifted']);
      expect((await store.get(to)).entries.map((e) => e.scope)).toEqual(['list:Newsletter']);
      expect((await store.get(to)).history.map((h) => h.action)).toEqual([
        'lifted',
        'added',
        'added',
      ]);
    });

    it('an older opt-in does not lift a newer opt-out, nor an older opt-out undo a newer opt-in', async () => {
      const { store } = freshStore();
      const to = address('reordered');
      await applyJob(
        store,
        subscriptionJob(to, T0 + 2000, { unsubscribeAll: false, topics: { A: 'OptOut' } }),
      );
      // Older opt-in, arriving late.
      expect(
        await applyJob(
          store,
          subscriptionJob(to, T0 + 1000, { unsubscribeAll: false, topics: { A: 'OptIn' } }),
        ),
      ).toEqual(['unchanged', 'unchanged']);
      expect((await store.get(to)).entries).toHaveLength(1);

      await applyJob(
        store,
        subscriptionJob(to, T0 + 5000, { unsubscribeAll: false, topics: { A: 'OptIn' } }),
      );
      expect((await store.get(to)).entries).toHaveLength(0);
      // Older opt-out, arriving late.
      expect(
        await applyJob(
          store,
          subscriptionJob(to, T0 + 4000, { unsubscribeAll: false, topics: { A: 'OptOut' } }),
        ),
      ).toEqual(['unchanged', 'unchanged']);
      expect((await store.get(to)).entries).toHaveLength(0);
    });

    it('an opt-in does not lift what is not an unsubscribe', async () => {
      const { store } = freshStore();
      const to = address('manual-topic');
      const manual = { at: iso(T0), kind: 'manual' as const };
      await store.apply(
        to,
        [{ type: 'suppress', scope: 'list:Newsletter', reason: 'manual', evidence: manual }],
        null,
      );
      await applyJob(store, subscriptionJob(to, T0 + 1000, { unsubscribeAll: false }));
      expect((await store.get(to)).entries.map((e) => e.reason)).toEqual(['manual']);
    });
  });

  describe('through BullMQ processors', () => {
    /** Runs `jobs` through `workers` processors on one queue and waits until all are done. */
    async function process(prefix: string, jobs: readonly SuppressionJob[], workers: number) {
      const producer = under.connect({ maxRetriesPerRequest: 1 });
      const queues = makeJobQueues(producer, prefix, {
        attempts: 3,
        backoffMs: 10,
        keepCompletedSeconds: 3600,
        keepFailedSeconds: 3600,
      });
      const specs: JobSpec[] = jobs.map((data) => ({
        queue: 'suppression',
        name: data.kind,
        id: eventKeyOf(data).replace(/:/g, '%3A'),
        data,
      }));
      const connections = Array.from({ length: workers }, () =>
        under.connect({ maxRetriesPerRequest: null }),
      );
      const failures: Error[] = [];
      const running = connections.map((connection) =>
        startQueueWorker<SuppressionJob>({
          queue: 'suppression',
          connection,
          prefix,
          concurrency: 16,
          lockMs: 30_000,
          process: makeSuppressionProcessor(
            makeSuppressionStore(connection, prefix),
            DEFAULT_SUPPRESSION_POLICY,
            makeMetrics(),
          ),
          onOutcome: (_queue, outcome, _job, error) => {
            if (outcome !== 'completed' && error) failures.push(error);
          },
          onError: (error) => failures.push(error),
        }),
      );
      const queue = openQueue('suppression', producer, prefix);
      try {
        for (let i = 0; i < specs.length; i += 500) {
          const { failed } = await queues.enqueue(specs.slice(i, i + 500));
          expect(failed.size).toBe(0);
        }
        await eventually(
          async () =>
            (await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized')) === 0,
          'the suppression queue drained',
        );
        expect(failures).toEqual([]);
      } finally {
        await Promise.all(running.map((w) => w.close()));
        await queue.close();
        await queues.close();
        producer.disconnect();
        connections.forEach((c) => c.disconnect());
      }
    }

    /** Many notifications for a few addresses, duplicates included, in a shuffled order. */
    function notifications(): SuppressionJob[] {
      const targets = [address('race-a'), address('race-b'), address('race-c')];
      const jobs: SuppressionJob[] = [];
      let n = 0;
      for (const to of targets) {
        for (let i = 0; i < 40; i++)
          jobs.push(
            bounceJob(to, ++n, {
              type: i % 3 === 0 ? 'Permanent' : 'Transient',
              at: T0 + n * 60_000,
            }),
          );
        for (let i = 0; i < 10; i++)
          jobs.push(complaintJob(to, ++n, i % 4 === 0 ? 'not-spam' : 'abuse'));
      }
      // No deliveries: a delivery resets the bounces older than itself that were counted so far,
      // which depends on the order — as it must: one processor taking them in another order would
      // differ as well.
      const withDuplicates = [...jobs, ...jobs.filter((_, i) => i % 3 === 0)];
      // A fixed shuffle: the order differs from the sequential run's.
      return withDuplicates
        .map((job, i) => ({ job, key: (i * 7919) % withDuplicates.length }))
        .sort((a, b) => a.key - b.key)
        .map(({ job }) => job);
    }

    it('two processors racing on the same addresses end in the state one reaches', async () => {
      const jobs = notifications();
      const sequential = freshStore();
      for (const job of [...jobs].reverse()) await applyJob(sequential.store, job);

      const raced = freshStore();
      await process(raced.prefix, jobs, 2);

      const state = async (store: SuppressionStore) => {
        const entries: SuppressionEntry[] = [];
        for (const local of ['race-a', 'race-b', 'race-c'])
          entries.push(...(await store.get(address(local))).entries);
        return entries;
      };
      const expected = await state(sequential.store);
      expect(expected.map((e) => e.reason)).toEqual(['complaint', 'complaint', 'complaint']);
      expect(await state(raced.store)).toEqual(expected);
      // Each distinct notification counted once: every permanent bounce and complaint (not
      // not-spam), and every transient bounce from the third on (all within one window).
      const distinct = [...new Map(jobs.map((j) => [eventKeyOf(j), j])).values()].filter(
        (j) => j.address === address('race-a'),
      );
      const changeTypes = distinct.map(
        (j) => suppressionChanges(j, DEFAULT_SUPPRESSION_POLICY)[0]?.type,
      );
      const count = (type: SuppressionChange['type']) =>
        changeTypes.filter((t) => t === type).length;
      expect(expected[0]?.count).toBe(count('suppress') + count('countTransient') - 2);
    });

    it('a replay after the jobs are gone (new job, same id) changes nothing', async () => {
      const { prefix, store } = freshStore();
      const to = address('replayed');
      const jobs = [
        bounceJob(to, 1),
        bounceJob(to, 2, { type: 'Transient' }),
        complaintJob(to, 3, 'abuse'),
      ];
      await process(prefix, jobs, 1);
      const before = await store.get(to);
      expect(before.entries[0]).toMatchObject({ reason: 'complaint', count: 2 });

      const reopened = openQueue('suppression', redis, prefix);
      await reopened.obliterate({ force: true });
      await reopened.close();
      await process(prefix, jobs, 1);
      expect(await store.get(to)).toEqual(before);
    });
  });

  describe('reading the list', () => {
    it('pages through every entry once, filtered by scope and reason', async () => {
      const { store } = freshStore();
      const evidence = { at: iso(T0), kind: 'manual' as const };
      const expected = new Set<string>();
      for (let i = 0; i < 130; i++) {
        const to = address(`page-${String(i).padStart(3, '0')}`);
        const scope = i % 3 === 0 ? 'global' : i % 3 === 1 ? 'list:News' : 'topic:News:Weekly';
        const reason = i % 2 === 0 ? 'manual' : 'unsubscribe';
        await store.apply(to, [{ type: 'suppress', scope, reason, evidence }], null);
        expected.add(`${scope} ${to} ${reason}`);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 50, ...(cursor ? { cursor } : {}) });
        seen.push(...page.entries.map((e) => `${e.scope} ${e.address} ${e.reason}`));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor !== undefined);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual([...expected].sort());

      const inList = await store.list({ scope: 'list:News', reason: 'unsubscribe', limit: 1000 });
      expect(inList.entries.map((e) => `${e.scope} ${e.address} ${e.reason}`).sort()).toEqual(
        [...expected]
          .filter((line) => line.startsWith('list:News ') && line.endsWith(' unsubscribe'))
          .sort(),
      );

      // A cursor is a position in the whole list: taken with a scope, it goes on from there
      // with that scope's entries only.
      const first = await store.list({ limit: 1 });
      const scoped = await store.list({
        scope: 'topic:News:Weekly',
        cursor: first.nextCursor!,
        limit: 1000,
      });
      expect(scoped.entries.every((e) => e.scope === 'topic:News:Weekly')).toBe(true);
      const firstWasScoped = first.entries[0]!.scope === 'topic:News:Weekly';
      expect(scoped.entries).toHaveLength(firstWasScoped ? 42 : 43);

      expect(await store.counts()).toEqual({
        total: 130,
        byReason: { complaint: 0, bounce: 0, 'transient-bounces': 0, unsubscribe: 65, manual: 65 },
      });
      await expect(store.list({ cursor: 'not-a-cursor', limit: 10 })).rejects.toThrow(/cursor/);
    });

    it('checks 10,000 addresses in one call, returning the strongest entry of each', async () => {
      const { store } = freshStore();
      const addresses = Array.from({ length: 10_000 }, (_, i) => address(`check-${i}`));
      const evidence = { at: iso(T0), kind: 'manual' as const };
      for (let i = 0; i < 10_000; i += 97) {
        await applyJob(store, bounceJob(addresses[i]!, i));
        if (i % 2 === 0)
          await store.apply(
            addresses[i]!,
            [{ type: 'suppress', scope: 'list:News', reason: 'unsubscribe', evidence }],
            null,
          );
      }
      await store.apply(
        addresses[1]!,
        [{ type: 'suppress', scope: 'list:News', reason: 'unsubscribe', evidence }],
        null,
      );
      await store.apply(
        addresses[2]!,
        [{ type: 'suppress', scope: 'list:Other', reason: 'unsubscribe', evidence }],
        null,
      );

      const globalOnly = await store.check(addresses, ['global']);
      expect([...globalOnly.keys()].sort()).toEqual(
        addresses.filter((_, i) => i % 97 === 0).sort(),
      );
      expect([...globalOnly.values()].every((e) => e.reason === 'bounce')).toBe(true);

      const withList = await store.check(addresses, ['global', 'list:News']);
      expect(withList.size).toBe(globalOnly.size + 1);
      expect(withList.get(addresses[1]!)?.scope).toBe('list:News');
      expect(withList.get(addresses[0]!)?.reason).toBe('bounce');
      expect(withList.has(addresses[2]!)).toBe(false);
    });

    it('restores exported entries, leaving existing ones alone', async () => {
      const source = freshStore();
      const to = address('exported');
      await applyJob(source.store, bounceJob(to, 1));
      await applyJob(source.store, bounceJob(to, 2));
      const [entry] = (await source.store.get(to)).entries;

      const target = freshStore();
      expect(await target.store.restore(entry!)).toBe('imported');
      expect(await target.store.restore(entry!)).toBe('unchanged');
      expect((await target.store.get(to)).entries).toEqual([entry]);
      expect((await target.store.get(to)).history.map((h) => h.action)).toEqual(['imported']);
    });

    it('caps the audit trail, per address and overall', async () => {
      const { prefix, store } = freshStore({
        dedupeSeconds: 3600,
        historyPerAddress: 5,
        auditMax: 100,
      });
      const to = address('busy');
      for (let n = 1; n <= 400; n++) await applyJob(store, bounceJob(to, n));
      const record = await store.get(to);
      expect(record.history).toHaveLength(5);
      expect(record.history[0]?.evidence.feedbackId).toBe('feedback-400');
      expect(record.entries[0]?.count).toBe(400);
      // MAXLEN ~ trims whole stream nodes: bounded, not exact.
      // The address's bucket's stream: the cap is per bucket, at least 100.
      const length = await redis.xlen(suppressionKeys(prefix).audit(suppressionBucket(to)));
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(400);
    });
  });

  // Paging inside one large bucket is the same on a cluster (one HSCAN at a time); 40,000
  // entries there would add seconds and show nothing more.
  if (mode === 'single')
    describe('paging a list whose buckets are large hashes', () => {
      it('returns every entry present throughout at least once, pages no longer than asked, while entries are added', async () => {
        const { store } = freshStore();
        const evidence = { at: iso(T0), kind: 'import' as const };
        const load = async (from: number, count: number) => {
          for (let i = from; i < from + count; i += 250)
            await store.applyAll(
              Array.from({ length: Math.min(250, from + count - i) }, (_, k) => ({
                address: address(`large-${i + k}`),
                changes: [
                  {
                    type: 'suppress' as const,
                    scope: 'global' as const,
                    reason: 'bounce' as const,
                    evidence,
                  },
                ],
                eventKey: null,
              })),
            );
        };
        // More than 128 entries a bucket: Redis keeps the hashes as hash tables, not listpacks.
        await load(0, 40_000);
        const seen = new Set<string>();
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({ limit: 997, ...(cursor ? { cursor } : {}) });
          expect(page.entries.length).toBeLessThanOrEqual(997);
          for (const entry of page.entries) seen.add(entry.address);
          cursor = page.nextCursor ?? undefined;
          // Entries added while paging may or may not be listed; those present throughout must be.
          if (++pages % 5 === 0) await load(40_000 + pages * 100, 100);
        } while (cursor !== undefined);
        const missing = Array.from({ length: 40_000 }, (_, i) => `large-${i}@example.com`).filter(
          (a) => !seen.has(a),
        );
        expect(missing).toEqual([]);
      });
    });

  if (mode === 'cluster')
    describe('on a cluster', () => {
      it('spreads the list over all three masters', async () => {
        await under.flush();
        const { prefix, store } = freshStore();
        const evidence = { at: iso(T0), kind: 'manual' as const };
        const addresses = Array.from({ length: 600 }, (_, i) => address(`spread-${i}`));
        await store.applyAll(
          addresses.map((to) => ({
            address: to,
            changes: [
              {
                type: 'suppress' as const,
                scope: 'global' as const,
                reason: 'bounce' as const,
                evidence,
              },
            ],
            eventKey: null,
          })),
        );
        const keys = suppressionKeys(prefix);
        const masters = await under.cluster!.masters();
        expect(masters).toHaveLength(3);
        const perMaster = await Promise.all(
          masters.map(async (master) => {
            const dbsize = Number(await under.cluster!.cli(['dbsize'], master));
            // A plain connection to the one node: it reads only what that node holds.
            const node = new Redis(master.port, '127.0.0.1');
            try {
              const hashes = await node.keys(`${keys.base}:*:entries`);
              const lengths = await Promise.all(hashes.map((key) => node.hlen(key)));
              return { dbsize, held: lengths.reduce((sum, n) => sum + n, 0) };
            } finally {
              node.disconnect();
            }
          }),
        );
        expect(perMaster.reduce((sum, m) => sum + m.held, 0)).toBe(600);
        // About a third each: no master holds less than a fifth of the addresses or keys.
        const totalKeys = perMaster.reduce((sum, m) => sum + m.dbsize, 0);
        for (const { dbsize, held } of perMaster) {
          expect(held).toBeGreaterThan(600 / 5);
          expect(dbsize).toBeGreaterThan(totalKeys / 5);
        }
        expect((await store.counts()).total).toBe(600);
      });
    });
});
