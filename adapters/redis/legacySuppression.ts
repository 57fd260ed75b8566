/**
 * The suppression list's layout before buckets (versions up to issue 16), kept readable until it
 * has been moved: one hash per scope (`<prefix>:suppression:scope:<scope>`, address → entry) with
 * lex indexes, and per-address keys outside any bucket.
 *
 * While `<prefix>:suppression:index` exists (it does whenever an old entry does), `check` and
 * `get` read these hashes beside the buckets, so an upgrade never lets mail through to a
 * suppressed address. `migrate` moves everything into the buckets: entries (merged with any
 * the new layout already holds for the address and scope), transient-bounce history, opt-in
 * times, per-address history and notification markers. A rolling deploy has old replicas
 * writing the old layout for a while; the worker repeats the move until a pass finds nothing
 * (worker/legacyMigration.ts). The old audit stream (`<prefix>:suppression:audit`) is left for
 * operators to read or delete.
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connection';
import type { EmailAddress } from '../../domain/address';
import type { SuppressionEntry, SuppressionScope } from '../../domain/suppression';
import { replyValues } from './pipelineReplies';
import type {
  RedisSuppressionStore,
  ScriptEntry,
  ScriptNotification,
  SuppressionStoreOptions,
} from './suppressionStore';

/**
 * What one pass moved; `remaining` when an old replica wrote during it or the pass was stopped
 * (another pass is due).
 */
export interface LegacyMigration {
  readonly entries: number;
  readonly transientHistories: number;
  readonly optIns: number;
  readonly histories: number;
  readonly markers: number;
  readonly remaining: boolean;
}

/** An old entry, as the old script stored it. */
interface LegacyEntry extends ScriptEntry {
  readonly address: EmailAddress;
  readonly scope: SuppressionScope;
}

const ADDRESSES_PER_COMMAND = 1_000;
const FIELDS_PER_SCAN = 250;

export function makeLegacySuppressionReader(redis: RedisClient, keyPrefix: string) {
  const p = `${keyPrefix}:suppression`;
  const index = `${p}:index`;
  const scopeKey = (scope: SuppressionScope) => `${p}:scope:${scope}`;

  const toEntry = (raw: string): SuppressionEntry => {
    const stored = JSON.parse(raw) as LegacyEntry;
    return {
      address: stored.address,
      scope: stored.scope,
      reason: stored.reason,
      firstAt: new Date(stored.firstAt).toISOString(),
      lastAt: new Date(stored.lastAt).toISOString(),
      count: stored.count,
      evidence: stored.evidence,
      latest: stored.latest ?? stored.evidence,
    };
  };

  return {
    /** Adds the presence test to a pipeline: its reply is 1 while old entries exist. */
    queuePresence(pipeline: ChainableCommander): void {
      pipeline.exists(index);
    },

    async check(
      addresses: readonly EmailAddress[],
      scopes: readonly SuppressionScope[],
    ): Promise<SuppressionEntry[]> {
      const pipeline = redis.pipeline();
      for (const scope of scopes)
        for (let i = 0; i < addresses.length; i += ADDRESSES_PER_COMMAND)
          pipeline.hmget(scopeKey(scope), ...addresses.slice(i, i + ADDRESSES_PER_COMMAND));
      const found: SuppressionEntry[] = [];
      for (const values of replyValues(await pipeline.exec()) as (string | null)[][])
        for (const raw of values) if (raw !== null) found.push(toEntry(raw));
      return found;
    },

    async get(address: EmailAddress): Promise<{ entries: SuppressionEntry[]; history: string[] }> {
      const scopes = (await redis.smembers(`${p}:address:${address}`)) as SuppressionScope[];
      const pipeline = redis.pipeline();
      for (const scope of scopes) pipeline.hget(scopeKey(scope), address);
      pipeline.lrange(`${p}:history:${address}`, 0, -1);
      const values = replyValues(await pipeline.exec());
      const history = values.pop() as string[];
      const entries = (values as (string | null)[])
        .filter((raw): raw is string => raw !== null)
        .map(toEntry);
      return { entries, history };
    },

    /** One pass over the old keys, moving each into the buckets. */
    async migrate(
      store: RedisSuppressionStore,
      options: SuppressionStoreOptions,
      stopping: () => boolean,
    ): Promise<LegacyMigration> {
      const moved = { entries: 0, transientHistories: 0, optIns: 0, histories: 0, markers: 0 };
      const scopeHashes: string[] = [];
      const derived: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
        cursor = next;
        for (const key of found) {
          if (stopping()) return { ...moved, remaining: true };
          const rest = key.slice(p.length + 1);
          // The new layout shares the base when the prefix has no braces: its keys start `{`.
          if (rest.startsWith('{') || rest === 'audit') continue;
          const kind = rest.split(':', 1)[0];
          const tail = rest.slice((kind?.length ?? 0) + 1) as EmailAddress;
          if (kind === 'scope') scopeHashes.push(key);
          else if (kind === 'index' || kind === 'address') derived.push(key);
          else if (kind === 'transient') moved.transientHistories += await moveTransient(key, tail);
          else if (kind === 'lifted') moved.optIns += await moveOptIns(key, tail);
          else if (kind === 'history') moved.histories += await moveHistory(key, tail);
          else if (kind === 'applied') moved.markers += await moveMarker(key, tail);
        }
      } while (cursor !== '0');

      for (const key of scopeHashes) {
        if (stopping()) return { ...moved, remaining: true };
        moved.entries += await moveScope(key);
      }
      const left = await Promise.all(scopeHashes.map((key) => redis.exists(key)));
      const remaining = left.some((n) => n > 0);
      // The indexes and address sets only describe the hashes: gone once the hashes are.
      if (!remaining && derived.length > 0) {
        for (let i = 0; i < derived.length; i += 500)
          await redis.unlink(...derived.slice(i, i + 500));
      }
      return { ...moved, remaining };

      async function moveScope(key: string): Promise<number> {
        const scope = key.slice(`${p}:scope:`.length) as SuppressionScope;
        let count = 0;
        let fieldCursor = '0';
        do {
          const [next, flat] = await redis.hscan(key, fieldCursor, 'COUNT', FIELDS_PER_SCAN);
          fieldCursor = next;
          const notifications: ScriptNotification[] = [];
          for (let i = 0; i < flat.length; i += 2) {
            const raw = flat[i + 1]!;
            notifications.push({
              address: flat[i] as EmailAddress,
              changes: [
                { type: 'adopt', scope, entry: JSON.parse(raw) as LegacyEntry, raw, legacy: 0 },
              ],
              eventKey: null,
              extraKeys: [key],
            });
          }
          if (notifications.length > 0) {
            await store.applyScripted(notifications);
            count += notifications.length;
          }
        } while (fieldCursor !== '0');
        return count;
      }

      async function moveTransient(key: string, address: EmailAddress): Promise<number> {
        const target = store.keys.transient(address);
        const [scored, ttl, targetTtl] = replyValues(
          await redis.pipeline().zrange(key, '0', '-1', 'WITHSCORES').pttl(key).pttl(target).exec(),
        ) as [string[], number, number];
        const pipeline = redis.pipeline();
        for (let i = 0; i < scored.length; i += 2) {
          const [member, score] = [scored[i]!, scored[i + 1]!];
          // The latest delivery's time only moves forward; a bounce is counted once.
          if (member === '~reset') pipeline.zadd(target, 'GT', score, member);
          else pipeline.zadd(target, 'NX', score, member);
        }
        if (ttl > 0) pipeline.pexpire(target, Math.max(ttl, targetTtl));
        pipeline.del(key);
        await pipeline.exec();
        return 1;
      }

      async function moveOptIns(key: string, address: EmailAddress): Promise<number> {
        const target = store.keys.lifted(address);
        const [old, current] = await Promise.all([redis.hgetall(key), redis.hgetall(target)]);
        const pipeline = redis.pipeline();
        for (const [scope, at] of Object.entries(old)) {
          if (current[scope] === undefined || Number(at) > Number(current[scope]))
            pipeline.hset(target, scope, at);
        }
        pipeline.del(key);
        await pipeline.exec();
        return 1;
      }

      async function moveHistory(key: string, address: EmailAddress): Promise<number> {
        const records = await redis.lrange(key, 0, -1);
        const target = store.keys.history(address);
        const pipeline = redis.pipeline();
        // Older than anything written here since the upgrade: after it.
        if (records.length > 0) pipeline.rpush(target, ...records);
        pipeline.ltrim(target, 0, options.historyPerAddress - 1);
        pipeline.del(key);
        await pipeline.exec();
        return 1;
      }

      async function moveMarker(key: string, eventKey: string): Promise<number> {
        const address = markedAddress(eventKey);
        // Not a per-address notification's: it stays and expires as it would have.
        if (address === null) return 0;
        const ttl = await redis.pttl(key);
        const pipeline = redis.pipeline();
        if (ttl > 0) pipeline.set(store.keys.marker(address, eventKey), '1', 'PX', ttl, 'NX');
        pipeline.del(key);
        await pipeline.exec();
        return 1;
      }
    },
  };
}

/**
 * The address a notification's marker names: its event key is its job id,
 * `suppression/<event id>/<address, ':' and '%' escaped>` (domain/routing.ts), and event ids
 * hold no `@`.
 */
export function markedAddress(eventKey: string): EmailAddress | null {
  const parts = eventKey.split('/');
  const at = parts.findIndex((part) => part.includes('@'));
  if (at < 0) return null;
  return parts.slice(at).join('/').replace(/%3A/g, ':').replace(/%25/g, '%') as EmailAddress;
}
