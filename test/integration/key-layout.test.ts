/**
 * The small stores' keys on one server and on the cluster: forwarded copies spread by copy id and
 * are still found under the key the previous version wrote (an upgrade never forwards twice); the
 * SES-sync state stays in one slot of its own and every operation works on the cluster, with a
 * braced prefix and without braces.
 */
import { keyBase } from '../../adapters/redis/connection';
import { makeSentCopies } from '../../adapters/redis/sentCopies';
import { makeSesSyncState } from '../../adapters/redis/sesSyncState';
import type { EmailAddress } from '../../domain/address';
import { REDIS_MODES, useRedisUnderTest } from '../support/redisModes';

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  const redis = useRedisUnderTest(mode);

  it('forwarded copies: recorded under the prefix’s base, and found under the previous key too', async () => {
    const connection = redis.connect({ maxRetriesPerRequest: null });
    try {
      const prefix = '{copies}';
      const copies = makeSentCopies(connection, prefix, 60);
      await copies.record('msg-1/a@example.org', '250 2.0.0 Ok: queued as 1');
      expect(await connection.get(`${keyBase(prefix)}:forward:sent:msg-1/a@example.org`)).toBe(
        '250 2.0.0 Ok: queued as 1',
      );
      expect(await copies.sentBefore('msg-1/a@example.org')).toBe('250 2.0.0 Ok: queued as 1');
      // Sent by the version before the upgrade, moments ago: not to be sent again.
      await connection.set(`${prefix}:forward:sent:msg-2/b@example.org`, '250 old', 'EX', 60);
      expect(await copies.sentBefore('msg-2/b@example.org')).toBe('250 old');
      expect(await copies.sentBefore('msg-3/c@example.org')).toBeNull();
      // A prefix without braces had these very keys already.
      const plain = makeSentCopies(connection, 'plain', 60);
      await connection.set('plain:forward:sent:msg-4/d@example.org', '250 plain', 'EX', 60);
      expect(await plain.sentBefore('msg-4/d@example.org')).toBe('250 plain');
    } finally {
      connection.disconnect();
    }
  });

  it.each(['{ses-sync-test}', 'ses-sync-plain'])(
    'the SES-sync state works with the prefix %s: records, pulls, the lock, the request pacing',
    async (prefix) => {
      const connection = redis.connect({ maxRetriesPerRequest: null });
      try {
        const state = makeSesSyncState(connection, prefix);
        const a = 'a@example.org' as EmailAddress;
        const b = 'b@example.org' as EmailAddress;
        await state.update(a, { sesReason: 'BOUNCE', pushedAt: 1000 });
        await state.updateMany([
          [a, { sesHadIt: true }],
          [b, { sesReason: 'COMPLAINT' }],
        ]);
        expect(await state.get(a)).toMatchObject({
          sesReason: 'BOUNCE',
          pushedAt: 1000,
          sesHadIt: true,
        });
        expect([...(await state.getMany([a, b])).keys()]).toEqual([a, b]);
        await state.forget(b);
        expect(await state.get(b)).toBeNull();

        const progress = {
          since: null,
          until: 5000,
          nextToken: 't',
          pages: 1,
          seen: 2,
          imported: 1,
        };
        await state.saveProgress(progress);
        expect(await state.progress()).toEqual(progress);
        await state.finishPull({ finishedAt: 6000, until: 5000, seen: 2, imported: 1 });
        expect(await state.watermark()).toBe(5000);
        expect(await state.progress()).toBeNull();
        expect(await state.lastPull()).toMatchObject({ until: 5000, imported: 1 });

        const lock = await state.lock(10_000);
        expect(lock).not.toBeNull();
        expect(await state.lock(10_000)).toBeNull();
        expect(await lock!.renew()).toBe(true);
        await lock!.release();
        expect(await state.lock(10_000)).not.toBeNull();

        const started = Date.now();
        await state.waitForRequestSlot(200);
        await state.waitForRequestSlot(200);
        expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      } finally {
        connection.disconnect();
      }
    },
  );
});
