/**
 * Suppression per SQS batch, on a real Redis, one server and a three-master cluster: applying
 * notifications in batches — with repeats, a notification in two batches, and batches retried
 * after part of their work — leaves the store exactly as applying each once, one at a time,
 * does; a batch whose script calls half failed applies only what is missing when retried; with
 * REDIS_MIN_REPLICAS_ACK a batch fails while a written master's replica is down; and per-address
 * jobs an older version left in the queue are still processed, once each, beside the batches.
 */
import { openQueue } from '../../adapters/bullmq/layout';
import calculateSlot from 'cluster-key-slot';
import fc from 'fast-check';
import { makeJobQueues } from '../../adapters/bullmq/queues';
import { startQueueWorker } from '../../adapters/bullmq/workers';
import { makeMetrics } from '../../adapters/metrics/registry';
import { ReplicationError, type RedisClient } from '../../adapters/redis/connection';
import { makeSuppressionStore, suppressionKeys } from '../../adapters/redis/suppressionStore';
import type { EmailAddress } from '../../domain/address';
import type {
  JobSpec,
  SuppressionBatchJob,
  SuppressionJob,
  SuppressionNotificationData,
} from '../../domain/jobs';
import { suppressionBatchJob } from '../../domain/routing';
import {
  DEFAULT_SUPPRESSION_POLICY,
  suppressionBucket,
  suppressionChanges,
} from '../../domain/suppression';
import { makeSuppressionProcessor } from '../../worker/processors/suppression';
import { eventually } from '../support/await';
import { REDIS_MODES, startRedisUnderTest, type RedisUnderTest } from '../support/redisModes';
import { keysMatching } from '../support/suppressionRedis';

let under: RedisUnderTest;
let redis: RedisClient;
let prefixes = 0;

const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const ADDRESSES = ['a', 'b', 'c'].map((local) => `${local}@example.com` as EmailAddress);

type Kind = 'permanent' | 'transient' | 'abuse' | 'not-spam' | 'delivery' | 'optOut' | 'optIn';

/** The n-th notification of a kind, to an address, at a time (seconds after T0: ties happen). */
function notification(n: number, kind: Kind, to: EmailAddress, second: number) {
  const base = {
    address: to,
    sesMessageId: `msg-${n}`,
    timestamp: iso(T0 + second * 1000),
    configurationSet: null,
    source: 'sender@example.org',
  };
  let data: SuppressionJob;
  switch (kind) {
    case 'permanent':
    case 'transient':
      data = {
        ...base,
        kind: 'bounce',
        feedbackId: `feedback-${n}`,
        bounceType: kind === 'permanent' ? 'Permanent' : 'Transient',
        bounceSubType: kind === 'permanent' ? 'General' : 'MailboxFull',
        status: null,
        diagnosticCode: null,
      };
      break;
    case 'abuse':
    case 'not-spam':
      data = {
        ...base,
        kind: 'complaint',
        feedbackId: `feedback-${n}`,
        complaintFeedbackType: kind,
        complaintSubType: null,
      };
      break;
    case 'delivery':
      data = { ...base, kind: 'delivery' };
      break;
    case 'optOut':
    case 'optIn':
      data = {
        ...base,
        kind: 'subscription',
        contactList: 'Newsletter',
        unsubscribeAll: kind === 'optOut' && n % 2 === 0,
        topics: [
          { topicName: 'Weekly', subscriptionStatus: kind === 'optOut' ? 'OptOut' : 'OptIn' },
        ],
      };
      break;
  }
  // The id routing gives the per-address job: the notification's marker.
  return { ...data, eventKey: `suppression/${kind}/${n}/${to}` } as SuppressionNotificationData;
}

/**
 * Every key of the store but the audit stream, as comparable values (entries parsed). Deliveries'
 * markers are left out: one is written when its address has transient history at the end of its
 * script call, so a delivery applied alone before a bounce has none, and in one batch with it has.
 */
async function storeState(prefix: string): Promise<Record<string, unknown>> {
  const { base } = suppressionKeys(prefix);
  const keys = (await keysMatching(redis, `${base}:*`)).filter(
    (key) => !key.includes(':applied:suppression/delivery/'),
  );
  const state: Record<string, unknown> = {};
  for (const key of keys) {
    const name = key.slice(base.length);
    switch (await redis.type(key)) {
      case 'hash': {
        const fields = await redis.hgetall(key);
        state[name] = Object.fromEntries(
          Object.entries(fields).map(([field, value]) => [field, parsed(value)]),
        );
        break;
      }
      case 'zset':
        state[name] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
        break;
      case 'set':
        state[name] = (await redis.smembers(key)).sort();
        break;
      case 'list':
        // The history: what happened, in order; when it was recorded differs between runs.
        state[name] = (await redis.lrange(key, 0, -1)).map((raw) => ({
          ...(JSON.parse(raw) as Record<string, unknown>),
          recordedAt: 'any',
        }));
        break;
      case 'string':
        state[name] = await redis.get(key);
        break;
      default: // the audit stream: its ids are times
        break;
    }
  }
  return state;
}

const parsed = (value: string): unknown => {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

/** A processor on a store of its own; `outcomes` gives each notification's first outcome. */
function freshProcessor() {
  const prefix = `{prop-${++prefixes}}`;
  const process = makeSuppressionProcessor(
    makeSuppressionStore(redis, prefix),
    DEFAULT_SUPPRESSION_POLICY,
    makeMetrics(),
  );
  const outcomes = async (notifications: SuppressionNotificationData[]) =>
    (await process({ notifications }, {})).applied.map((n) => n.changes[0]?.outcome);
  return { prefix, process, outcomes };
}

const kinds: Kind[] = [
  'permanent',
  'transient',
  'abuse',
  'not-spam',
  'delivery',
  'optOut',
  'optIn',
];

const notificationsArbitrary = fc
  .array(
    fc.record({
      kind: fc.constantFrom(...kinds),
      to: fc.constantFrom(...ADDRESSES),
      second: fc.integer({ min: 0, max: 12 }),
    }),
    { minLength: 1, maxLength: 30 },
  )
  .map((items) => items.map((item, n) => notification(n, item.kind, item.to, item.second)));

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  beforeAll(async () => {
    under = await startRedisUnderTest(mode);
    redis = under.connect({ maxRetriesPerRequest: null });
  }, 90_000);
  afterAll(async () => {
    redis?.disconnect();
    await under?.stop();
  });

  describe('batches, repeats and retries', () => {
    it('leave the store as applying each notification once, one at a time, does', async () => {
      let compared = 0;
      await fc.assert(
        fc.asyncProperty(
          notificationsArbitrary,
          // Repeats: which notification, and how far after its first sight it comes again.
          fc.array(fc.record({ pick: fc.nat(), after: fc.nat() }), { maxLength: 12 }),
          fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 30 }),
          fc.array(fc.option(fc.nat(), { freq: 2 }), { maxLength: 30 }),
          async (sequence, repeats, batchSizes, retries) => {
            const reference = `{prop-${++prefixes}}`;
            const referenceStore = makeSuppressionStore(redis, reference);
            for (const n of sequence)
              await referenceStore.apply(
                n.address,
                suppressionChanges(n, DEFAULT_SUPPRESSION_POLICY),
                n.eventKey,
              );

            // The stream: each notification, then repeats after its first sight. Deliveries are not
            // repeated across batches: one that found no history left no marker (see below).
            const stream = [...sequence];
            for (const { pick, after } of repeats) {
              const original = sequence[pick % sequence.length]!;
              if (original.kind === 'delivery') continue;
              const first = stream.indexOf(original);
              const at = first + 1 + (after % (stream.length - first));
              stream.splice(at, 0, { ...original });
            }

            const batched = `{prop-${++prefixes}}`;
            const process = makeSuppressionProcessor(
              makeSuppressionStore(redis, batched),
              DEFAULT_SUPPRESSION_POLICY,
              makeMetrics(),
            );
            let start = 0;
            for (let b = 0; start < stream.length; b++) {
              const batch = stream.slice(start, start + batchSizes[b % batchSizes.length]!);
              start += batch.length;
              const retry = retries[b];
              // A retry after part of the work: the first attempt got through a prefix of it.
              if (retry !== undefined && retry !== null)
                await process({ notifications: batch.slice(0, retry % (batch.length + 1)) }, {});
              await process({ notifications: batch }, {});
            }

            const expected = await storeState(reference);
            expect(await storeState(batched)).toEqual(expected);
            if (Object.keys(expected).length > 0) compared++;
          },
        ),
        { numRuns: 100 },
      );
      // Comparing empty states proves nothing: most runs must have written something.
      expect(compared).toBeGreaterThan(50);
    });

    it('a batch retried after a bounce older than its delivery was counted keeps the bounce', async () => {
      const to = ADDRESSES[0]!;
      const delivery = notification(1, 'delivery', to, 10);
      const bounce = notification(2, 'transient', to, 5);
      const { prefix, outcomes } = freshProcessor();
      // No history yet: the delivery changes nothing; then the bounce is counted.
      expect(await outcomes([delivery, bounce])).toEqual(['unchanged', 'counted']);
      expect(await outcomes([delivery, bounce])).toEqual(['unchanged', 'unchanged']);
      const transient = suppressionKeys(prefix).transient(to);
      expect(await redis.zrange(transient, '0', '-1')).toEqual(['feedback-2']);
      // Seen twice in one batch, around a bounce: applied once there too.
      const again = notification(4, 'delivery', to, 20);
      const older = notification(5, 'transient', to, 15);
      expect(await outcomes([again, older, again])).toEqual(['reset', 'unchanged', 'unchanged']);
      expect(await redis.zrange(transient, '0', '-1')).toEqual(['~reset']);
      // A delivery to an address with no history leaves no key at all.
      const other = notification(3, 'delivery', ADDRESSES[1]!, 10);
      expect(await outcomes([other])).toEqual(['unchanged']);
      expect(
        await keysMatching(redis, `${suppressionKeys(prefix).base}:*${ADDRESSES[1]!}*`),
      ).toEqual([]);
    });

    it('a delivery seen again in a later batch, after an older bounce, resets it as if it came last', async () => {
      const to = ADDRESSES[0]!;
      const delivery = notification(1, 'delivery', to, 10);
      const { outcomes } = freshProcessor();
      expect(await outcomes([delivery])).toEqual(['unchanged']);
      expect(await outcomes([notification(2, 'transient', to, 5)])).toEqual(['counted']);
      // Nothing marked the first sight (the address had no history): the one exception to
      // "applied once", and the state it reaches is the one the delivery arriving last gives.
      expect(await outcomes([delivery])).toEqual(['reset']);
    });
  });

  describe('the apply result', () => {
    it('tells, per notification and change, which entry gained which reason', async () => {
      const { process } = freshProcessor();
      const [a, b] = ADDRESSES as [EmailAddress, EmailAddress];
      const { applied } = await process(
        {
          notifications: [
            notification(1, 'permanent', a, 1),
            notification(2, 'abuse', a, 2),
            notification(3, 'permanent', a, 3),
            notification(4, 'optOut', b, 4),
            notification(2, 'abuse', a, 2), // seen again: its marker says so
          ],
        },
        {},
      );
      const global = (reason: string | null, previousReason: string | null, outcome: string) => ({
        outcome,
        scope: 'global',
        reason,
        previousReason,
      });
      expect(applied).toEqual([
        { address: a, changes: [global('bounce', null, 'added')] },
        { address: a, changes: [global('complaint', 'bounce', 'updated')] },
        { address: a, changes: [global('complaint', 'complaint', 'updated')] },
        {
          address: b,
          changes: [
            {
              outcome: 'added',
              scope: 'list:Newsletter',
              reason: 'unsubscribe',
              previousReason: null,
            },
            {
              outcome: 'added',
              scope: 'topic:Newsletter:Weekly',
              reason: 'unsubscribe',
              previousReason: null,
            },
          ],
        },
        {
          address: a,
          changes: [{ outcome: 'unchanged', scope: null, reason: null, previousReason: null }],
        },
      ]);
    });
  });

  describe('a batch across buckets', () => {
    /** Addresses in eight different buckets, and a permanent bounce for each. */
    function spreadBatch() {
      const addresses: EmailAddress[] = [];
      const buckets = new Set<number>();
      for (let n = 0; addresses.length < 8; n++) {
        const to = `spread-${n}@example.com` as EmailAddress;
        if (buckets.has(suppressionBucket(to))) continue;
        buckets.add(suppressionBucket(to));
        addresses.push(to);
      }
      return {
        addresses,
        notifications: addresses.map((to, n) => notification(200 + n, 'permanent', to, n)),
      };
    }

    it('retried after some buckets were applied, applies only what is missing', async () => {
      const { prefix, process } = freshProcessor();
      const store = makeSuppressionStore(redis, prefix);
      const keys = suppressionKeys(prefix);
      const { addresses, notifications } = spreadBatch();
      // The fourth address's bucket is broken: its script call fails with WRONGTYPE.
      const broken = keys.entries(suppressionBucket(addresses[3]!));
      await redis.set(broken, 'not a hash');
      await expect(process({ notifications }, {})).rejects.toThrow(/WRONGTYPE/);

      const appliedBefore: boolean[] = [];
      for (const [i, to] of addresses.entries())
        appliedBefore.push(i !== 3 && (await store.get(to)).entries.length > 0);
      // A cluster runs a script per bucket: every other bucket's call went through. One server
      // runs one script for all, which stopped at the broken bucket with what came before done.
      expect(appliedBefore).toEqual(
        addresses.map((_, i) => (mode === 'cluster' ? i !== 3 : i < 3)),
      );

      await redis.del(broken);
      const retried = await process({ notifications }, {});
      expect(retried.applied.map((n) => n.changes[0]?.outcome)).toEqual(
        appliedBefore.map((applied) => (applied ? 'unchanged' : 'added')),
      );
      for (const to of addresses) {
        const record = await store.get(to);
        expect([record.entries[0]?.count, record.history.length]).toEqual([1, 1]);
      }
    });

    if (mode === 'cluster')
      it('with REDIS_MIN_REPLICAS_ACK=1, fails while a written master has no replica, and is retried once it is back', async () => {
        const cluster = under.cluster!;
        const prefix = `{replicas-${++prefixes}}`;
        const keys = suppressionKeys(prefix);
        const store = makeSuppressionStore(redis, prefix, {
          dedupeSeconds: 3600,
          historyPerAddress: 50,
          auditMax: 1000,
          replicasAck: { replicas: 1, timeoutMs: 300 },
        });
        const process = makeSuppressionProcessor(store, DEFAULT_SUPPRESSION_POLICY, makeMetrics());
        const masterOf = (to: EmailAddress) =>
          cluster.masterOf(calculateSlot(keys.entries(suppressionBucket(to))));
        const { addresses, notifications } = spreadBatch();
        const victim = await masterOf(addresses[0]!);
        const elsewhere: number[] = [];
        for (const [i, to] of addresses.entries())
          if ((await masterOf(to)).port !== victim.port) elsewhere.push(i);
        expect(elsewhere.length).toBeGreaterThan(0);

        const replica = (await cluster.replicaOf(victim))!;
        await replica.kill();
        try {
          // Written only to masters whose replicas are up: done.
          const other = elsewhere.map((i) => notifications[i]!);
          expect((await process({ notifications: other }, {})).applied).toHaveLength(other.length);
          // Written to the master without its replica too: the job fails (BullMQ retries it).
          await expect(process({ notifications }, {})).rejects.toThrow(ReplicationError);
          await expect(process({ notifications }, {})).rejects.toThrow(
            /0 of 1 replicas confirmed the writes within 300 ms/,
          );
          // The master holds the writes all the same.
          expect((await store.get(addresses[0]!)).entries).toHaveLength(1);
        } finally {
          await replica.restart();
          await cluster.waitUntilHealthy();
        }
        // The retry after the replica is back: nothing left to apply, and it completes.
        const retried = await process({ notifications }, {});
        expect(retried.applied.map((n) => n.changes[0]?.outcome)).toEqual(
          addresses.map(() => 'unchanged'),
        );
        for (const to of addresses) expect((await store.get(to)).entries[0]?.count).toBe(1);
      }, 60_000);
  });

  describe('a rolling deploy', () => {
    it('per-address jobs an older version left are processed beside the batches, each once', async () => {
      const prefix = `{deploy-${++prefixes}}`;
      const notifications = ADDRESSES.flatMap((to, i) => [
        notification(10 * i + 1, 'permanent', to, i),
        notification(10 * i + 2, 'transient', to, i + 1),
        notification(10 * i + 4, 'optOut', to, i + 2),
      ]);
      // The old version's jobs, as it enqueued them: one per address, its name the kind.
      const old: JobSpec[] = notifications.map(({ eventKey, ...data }) => ({
        queue: 'suppression',
        name: data.kind,
        id: eventKey,
        data,
      }));
      // The new version ingested redeliveries of half of them, and new ones, as one batch.
      const fresh = ADDRESSES.map((to, i) => notification(100 + i, 'abuse', to, 20));
      const batch = suppressionBatchJob(
        [...notifications.filter((_, i) => i % 2 === 0), ...fresh].map(({ eventKey, ...data }) => ({
          queue: 'suppression',
          name: data.kind,
          id: eventKey,
          data,
        })),
      )!;
      expect(batch.id).toMatch(/^suppression\/batch\/[0-9a-f]{16}$/);
      expect((batch.data as SuppressionBatchJob).notifications).toHaveLength(5 + fresh.length);

      const producer = under.connect({ maxRetriesPerRequest: null });
      const queues = makeJobQueues(producer, prefix, {
        attempts: 3,
        backoffMs: 10,
        keepCompletedSeconds: 3600,
        keepFailedSeconds: 3600,
      });
      const connection = under.connect({ maxRetriesPerRequest: null });
      const failures: Error[] = [];
      const worker = startQueueWorker<SuppressionBatchJob | SuppressionJob>({
        queue: 'suppression',
        connection,
        prefix,
        concurrency: 4,
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
      });
      const queue = openQueue('suppression', producer, prefix);
      try {
        expect((await queues.enqueue(old)).failed.size).toBe(0);
        expect((await queues.enqueue([batch])).failed.size).toBe(0);
        await eventually(
          async () => (await queue.getJobCountByTypes('completed')) === old.length + 1,
          'every job completed',
        );
        expect(failures).toEqual([]);
        const store = makeSuppressionStore(redis, prefix);
        for (const to of ADDRESSES) {
          const { entries } = await store.get(to);
          // Each notification counted once, whichever job (or both) carried it.
          expect(entries.map((e) => [e.scope, e.reason, e.count]).sort()).toEqual([
            ['global', 'complaint', 2],
            ['list:Newsletter', 'unsubscribe', 1],
            ['topic:Newsletter:Weekly', 'unsubscribe', 1],
          ]);
        }
      } finally {
        await worker.close();
        await queue.close();
        await queues.close();
        producer.disconnect();
        connection.disconnect();
      }
    });
  });
});
