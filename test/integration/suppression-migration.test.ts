/**
 * Upgrading from the layout before buckets, on a real Redis (one server, and a cluster where the
 * old keys' slot and the buckets are on different masters): a list written by the previous
 * version's own script (test/support/legacySuppressionWriter.ts) is read beside the buckets
 * until it is moved, then moved whole — entries merged with what the new layout already holds,
 * transient-bounce history, opt-in times, per-address history and notification markers — and
 * what an old replica writes after that is moved by the next pass.
 */
import { pino } from 'pino';
import calculateSlot from 'cluster-key-slot';
import { ReplicationError, type RedisClient } from '../../adapters/redis/connection';
import { makeSuppressionStore } from '../../adapters/redis/suppressionStore';
import type { EmailAddress } from '../../domain/address';
import type { SuppressionNotification } from '../../domain/ports';
import {
  suppressionBucket,
  type SuppressionChange,
  type SuppressionScope,
} from '../../domain/suppression';
import { movedAnything, startLegacyMigration } from '../../worker/legacyMigration';
import { eventually } from '../support/await';
import { writeLegacyLayout } from '../support/legacySuppressionWriter';
import { REDIS_MODES, startRedisUnderTest, type RedisUnderTest } from '../support/redisModes';
import { keysMatching } from '../support/suppressionRedis';

let under: RedisUnderTest;
let redis: RedisClient;
let prefixes = 0;

const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const address = (local: string) => `${local}@example.com` as EmailAddress;
const [A, B, C, D, E, F] = ['a', 'b', 'c', 'd', 'e', 'f'].map(address) as [
  EmailAddress,
  EmailAddress,
  EmailAddress,
  EmailAddress,
  EmailAddress,
  EmailAddress,
];
const WINDOW_MS = 7 * 86_400_000;

function suppress(
  to: EmailAddress,
  reason: 'bounce' | 'complaint' | 'unsubscribe',
  scope: SuppressionScope,
  minutes: number,
  id: string,
): SuppressionNotification {
  const change: SuppressionChange = {
    type: 'suppress',
    scope,
    reason,
    evidence: {
      at: at(minutes),
      kind: reason === 'unsubscribe' ? 'subscription' : reason,
      feedbackId: id,
    },
  };
  return { address: to, changes: [change], eventKey: `suppression/${reason}/${id}/${to}` };
}

function transient(to: EmailAddress, minutes: number, id: string): SuppressionNotification {
  return {
    address: to,
    changes: [
      {
        type: 'countTransient',
        threshold: 3,
        windowMs: WINDOW_MS,
        evidence: { at: at(minutes), kind: 'bounce', feedbackId: id },
      },
    ],
    eventKey: `suppression/bounce/${id}/${to}`,
  };
}

const optIn = (to: EmailAddress, minutes: number): SuppressionNotification => ({
  address: to,
  changes: [
    { type: 'lift', scope: 'list:News', evidence: { at: at(minutes), kind: 'subscription' } },
  ],
  eventKey: null,
});

const PREVIOUS_VERSION: SuppressionNotification[] = [
  suppress(A, 'bounce', 'global', 1, 'a-1'),
  suppress(A, 'bounce', 'global', 2, 'a-2'),
  suppress(B, 'unsubscribe', 'list:News', 3, 'b-1'),
  suppress(B, 'unsubscribe', 'topic:News:Weekly', 4, 'b-2'),
  transient(C, 5, 'c-1'),
  transient(C, 6, 'c-2'),
  optIn(D, 60),
  suppress(E, 'complaint', 'global', 7, 'e-1'),
];

async function upgraded() {
  const prefix = `{migration-${++prefixes}}`;
  await writeLegacyLayout(redis, prefix, PREVIOUS_VERSION);
  return { prefix, store: makeSuppressionStore(redis, prefix) };
}

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  beforeAll(async () => {
    under = await startRedisUnderTest(mode);
    redis = under.connect({ maxRetriesPerRequest: 1 });
  }, 90_000);
  afterAll(async () => {
    redis?.disconnect();
    await under?.stop();
  });

  it('reads the old layout until it is moved, then moves all of it, merging with new writes', async () => {
    const { prefix, store } = await upgraded();

    // Before any pass: checks and lookups see the old entries.
    const before = await store.check([A, B, C, E], ['global', 'list:News']);
    expect([...before.keys()].sort()).toEqual([A, B, E]);
    expect(before.get(A)).toMatchObject({ reason: 'bounce', count: 2, firstAt: at(1) });
    expect((await store.get(B)).entries.map((e) => e.scope).sort()).toEqual([
      'list:News',
      'topic:News:Weekly',
    ]);
    expect((await store.get(A)).history).toHaveLength(2);

    // A new replica applies a complaint for A before the move.
    expect(await store.applyAll([suppress(A, 'complaint', 'global', 10, 'a-3')])).toMatchObject([
      [{ outcome: 'added', reason: 'complaint' }],
    ]);

    const moved = await store.migrateLegacy();
    expect(moved).toEqual({
      entries: 4,
      transientHistories: 1,
      optIns: 1,
      histories: 4,
      markers: 7,
      remaining: false,
    });
    // Only the old audit stream is left, for operators.
    expect(await keysMatching(redis, `${prefix}:suppression:*`)).toEqual([
      `${prefix}:suppression:audit`,
    ]);

    // A's entries merged as the three notifications would have made one.
    const a = await store.get(A);
    expect(a.entries).toEqual([
      expect.objectContaining({
        scope: 'global',
        reason: 'complaint',
        count: 3,
        firstAt: at(1),
        lastAt: at(10),
      }),
    ]);
    expect(a.history.map((h) => h.evidence.feedbackId)).toEqual(['a-3', 'a-2', 'a-1']);
    expect(await store.counts()).toEqual({
      total: 4,
      byReason: { complaint: 2, bounce: 0, 'transient-bounces': 0, unsubscribe: 2, manual: 0 },
    });
    const listed = (await store.list({ limit: 100 })).entries.map((e) => `${e.address} ${e.scope}`);
    expect(listed.sort()).toEqual([
      `${A} global`,
      `${B} list:News`,
      `${B} topic:News:Weekly`,
      `${E} global`,
    ]);

    // C's two transient bounces came along: a third within the window suppresses.
    expect(
      await store.apply(C, transient(C, 7, 'c-3').changes, transient(C, 7, 'c-3').eventKey),
    ).toEqual(['added']);
    // D's opt-in came along: an opt-out older than it changes nothing.
    const olderOptOut = suppress(D, 'unsubscribe', 'list:News', 30, 'd-1');
    expect(await store.apply(D, olderOptOut.changes, olderOptOut.eventKey)).toEqual(['unchanged']);
    // The markers came along: the previous version's notifications, redelivered, change nothing.
    const again = PREVIOUS_VERSION[0]!;
    expect(await store.apply(A, again.changes, again.eventKey)).toEqual(['unchanged']);

    // Nothing left: the next pass moves nothing.
    expect(await store.migrateLegacy()).toEqual({
      entries: 0,
      transientHistories: 0,
      optIns: 0,
      histories: 0,
      markers: 0,
      remaining: false,
    });
  });

  it('moves what an old replica writes after a pass, in the background', async () => {
    const { prefix, store } = await upgraded();
    const runner = startLegacyMigration({
      redis,
      store,
      keyPrefix: prefix,
      log: pino({ level: 'silent' }),
      intervalMs: 50,
    });
    try {
      await eventually(
        async () => (await redis.exists(`${prefix}:suppression:index`)) === 0,
        'the first pass',
      );
      // A replica of the previous version, still running, suppresses F the old way.
      await writeLegacyLayout(redis, prefix, [suppress(F, 'bounce', 'global', 20, 'f-1')]);
      expect((await store.check([F], ['global'])).get(F)).toMatchObject({ reason: 'bounce' });
      await eventually(
        async () => (await keysMatching(redis, `${prefix}:suppression:*`)).length === 1,
        'the old replica’s write moved',
      );
      expect((await store.get(F)).entries).toEqual([
        expect.objectContaining({ scope: 'global', reason: 'bounce', count: 1 }),
      ]);
      // A pass that found nothing is recorded: later starts skip the keyspace scan.
      await eventually(
        async () => (await redis.exists(`${store.keys.base}:layout-migrated`)) === 1,
        'the move recorded as done',
      );
    } finally {
      await runner.stop();
    }
  });

  if (mode === 'cluster')
    describe('on a cluster, where the old hash and the buckets are different slots', () => {
      it('an entry merged but not yet deleted (a pass interrupted between the two) is not merged again', async () => {
        const { prefix, store } = await upgraded();
        const globalHash = `${prefix}:suppression:scope:global`;
        const oldA = (await redis.hget(globalHash, A))!;
        await store.migrateLegacy();
        expect((await store.get(A)).entries[0]).toMatchObject({ count: 2 });
        // The state such an interruption leaves: the field still there, beside its merge.
        await redis.hset(globalHash, A, oldA);
        await redis.zadd(`${prefix}:suppression:index`, 0, `global\n${A}`);
        expect((await store.migrateLegacy()).entries).toBe(1);
        expect((await store.get(A)).entries[0]).toMatchObject({ count: 2 });
        expect(await redis.hexists(globalHash, A)).toBe(0);
      });

      it('with REDIS_MIN_REPLICAS_ACK=1, keeps the old keys while a written master has no replica', async () => {
        const cluster = under.cluster!;
        const { prefix } = await upgraded();
        const store = makeSuppressionStore(redis, prefix, {
          dedupeSeconds: 3600,
          historyPerAddress: 50,
          auditMax: 1000,
          replicasAck: { replicas: 1, timeoutMs: 300 },
        });
        const victim = await cluster.masterOf(
          calculateSlot(store.keys.entries(suppressionBucket(A))),
        );
        const replica = (await cluster.replicaOf(victim))!;
        const oldKeys = await keysMatching(redis, `${prefix}:suppression:*`);
        await replica.kill();
        try {
          await expect(store.migrateLegacy()).rejects.toThrow(ReplicationError);
          // A's old keys are all still there: nothing is deleted before the replicas hold it.
          const left = await keysMatching(redis, `${prefix}:suppression:*`);
          expect(oldKeys.filter((key) => key.includes(A))).toEqual(
            left.filter((key) => key.includes(A)),
          );
          expect((await store.check([A], ['global'])).get(A)).toMatchObject({ reason: 'bounce' });
        } finally {
          await replica.restart();
          await cluster.waitUntilHealthy();
        }
        expect(movedAnything(await store.migrateLegacy())).toBe(true);
        expect(await store.migrateLegacy()).toMatchObject({ entries: 0, remaining: false });
        expect(await keysMatching(redis, `${prefix}:suppression:*`)).toEqual([
          `${prefix}:suppression:audit`,
        ]);
        expect((await store.get(A)).entries[0]).toMatchObject({ reason: 'bounce', count: 2 });
        expect((await store.get(A)).history).toHaveLength(2);
      }, 60_000);
    });
});
