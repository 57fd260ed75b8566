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
 *
 * A move writes the buckets, waits for their replicas (REDIS_MIN_REPLICAS_ACK), then deletes the
 * old keys, each step pipelined per node: on Redis Cluster the old keys (one slot with the
 * default `{ses}` prefix) and the buckets are served by different nodes. Every move can be made
 * again, so a pass that stopped between a copy and its delete is simply run again. An entry is
 * merged and deleted by one script on a single server; on a cluster, where the old hash is
 * another slot, it is merged under a marker (a second merge changes nothing), then deleted if
 * unchanged.
 */
import type { ChainableCommander } from 'ioredis';
import {
  isCluster,
  masterNodes,
  waitForReplicas,
  type RedisClient,
  type ReplicasAck,
} from './connection';
import type { EmailAddress } from '../../domain/address';
import { fnv1a64 } from '../../domain/hash';
import type { SuppressionEntry, SuppressionScope } from '../../domain/suppression';
import { luaScript } from './luaScript';
import { pipelinePerNode, type KeyedCommand } from './pipelinePerNode';
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

type RedisWithFieldDelete = RedisClient & {
  sesWorkerDeleteUnchangedFields(key: string, ...fieldsAndValues: string[]): Promise<number>;
};
type PipelineWithAppend = ChainableCommander & {
  sesWorkerAppendMissingRecords(key: string, cap: number, ...records: string[]): unknown;
};

const ADDRESSES_PER_COMMAND = 1_000;
const FIELDS_PER_SCAN = 250;
const KEYS_PER_SCAN = 1_000;
/**
 * How long an entry merged on a cluster stays marked: longer than any pause between a pass's
 * merge and the next pass (a minute apart, or the next start).
 */
const ADOPT_MARKER_SECONDS = 86_400;

/** The per-address keys of the old layout, by the word after `suppression:`. */
type PerAddressKind = 'transient' | 'lifted' | 'history' | 'applied';
const PER_ADDRESS_KINDS: ReadonlySet<string> = new Set<PerAddressKind>([
  'transient',
  'lifted',
  'history',
  'applied',
]);

/** One old per-address key's move: what to read, then what to write from the replies. */
interface PerAddressMove {
  readonly kind: PerAddressKind;
  readonly key: string;
  readonly target: string;
  readonly reads: readonly KeyedCommand[];
  writes(replies: readonly unknown[]): KeyedCommand[];
}

export function makeLegacySuppressionReader(redis: RedisClient, keyPrefix: string) {
  const p = `${keyPrefix}:suppression`;
  const index = `${p}:index`;
  const scopeKey = (scope: SuppressionScope) => `${p}:scope:${scope}`;
  redis.defineCommand('sesWorkerDeleteUnchangedFields', {
    numberOfKeys: 1,
    lua: luaScript('deleteUnchangedFields'),
  });
  redis.defineCommand('sesWorkerAppendMissingRecords', {
    numberOfKeys: 1,
    lua: luaScript('appendMissingRecords'),
  });
  const withFieldDelete = redis as RedisWithFieldDelete;

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
    /** Whether old entries exist: the index does whenever one does. */
    async present(): Promise<boolean> {
      return (await redis.exists(index)) === 1;
    },

    async check(
      addresses: readonly EmailAddress[],
      scopes: readonly SuppressionScope[],
    ): Promise<SuppressionEntry[]> {
      const commands: KeyedCommand[] = [];
      for (const scope of scopes)
        for (let i = 0; i < addresses.length; i += ADDRESSES_PER_COMMAND) {
          const some = addresses.slice(i, i + ADDRESSES_PER_COMMAND);
          commands.push({
            key: scopeKey(scope),
            queue: (pipeline) => pipeline.hmget(scopeKey(scope), ...some),
          });
        }
      const found: SuppressionEntry[] = [];
      for (const values of (await pipelinePerNode(redis, commands)) as (string | null)[][])
        for (const raw of values) if (raw !== null) found.push(toEntry(raw));
      return found;
    },

    async get(address: EmailAddress): Promise<{ entries: SuppressionEntry[]; history: string[] }> {
      const scopes = (await redis.smembers(`${p}:address:${address}`)) as SuppressionScope[];
      const historyKey = `${p}:history:${address}`;
      const values = await pipelinePerNode(redis, [
        ...scopes.map((scope) => ({
          key: scopeKey(scope),
          queue: (pipeline: ChainableCommander) => pipeline.hget(scopeKey(scope), address),
        })),
        { key: historyKey, queue: (pipeline) => pipeline.lrange(historyKey, 0, -1) },
      ]);
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
      const counted: Record<PerAddressKind, keyof typeof moved> = {
        transient: 'transientHistories',
        lifted: 'optIns',
        history: 'histories',
        applied: 'markers',
      };
      const ack = options.replicasAck ?? { replicas: 0, timeoutMs: 0 };
      const scopeHashes = new Set<string>();
      const derived = new Set<string>();
      // The old keys share one slot under a `{…}` prefix, but not under a plain one: every
      // master is scanned.
      for (const node of await masterNodes(redis)) {
        let cursor = '0';
        do {
          if (stopping()) return { ...moved, remaining: true };
          const [next, found] = await node.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', KEYS_PER_SCAN);
          cursor = next;
          const moves: PerAddressMove[] = [];
          for (const key of new Set(found)) {
            const rest = key.slice(p.length + 1);
            // The new layout shares the base when the prefix has no braces: its keys start `{`.
            if (rest.startsWith('{') || rest === 'audit') continue;
            const kind = rest.split(':', 1)[0] ?? '';
            const tail = rest.slice(kind.length + 1);
            if (kind === 'scope') scopeHashes.add(key);
            else if (kind === 'index' || kind === 'address') derived.add(key);
            else if (PER_ADDRESS_KINDS.has(kind)) {
              const move = perAddressMove(store, options, kind as PerAddressKind, key, tail);
              if (move !== null) moves.push(move);
            }
          }
          await movePerAddress(moves, ack);
          for (const move of moves) moved[counted[move.kind]]++;
        } while (cursor !== '0');
      }

      for (const key of scopeHashes) {
        if (stopping()) return { ...moved, remaining: true };
        moved.entries += await moveScope(store, key);
      }
      const left = await Promise.all([...scopeHashes].map((key) => redis.exists(key)));
      const remaining = left.some((n) => n > 0);
      // The indexes and address sets only describe the hashes: gone once the hashes are.
      if (!remaining && derived.size > 0)
        await pipelinePerNode(
          redis,
          [...derived].map((key) => ({ key, queue: (pipeline) => pipeline.unlink(key) })),
        );
      return { ...moved, remaining };
    },
  };

  /**
   * Moves old per-address keys: reads them (and what they merge into), writes the buckets, waits
   * for the buckets' replicas, then deletes the old keys; each step pipelined per node.
   */
  async function movePerAddress(moves: readonly PerAddressMove[], ack: ReplicasAck) {
    if (moves.length === 0) return;
    const replies = await pipelinePerNode(
      redis,
      moves.flatMap((move) => move.reads),
    );
    let at = 0;
    const writes = moves.flatMap((move) => {
      const own = replies.slice(at, at + move.reads.length);
      at += move.reads.length;
      return move.writes(own);
    });
    await pipelinePerNode(redis, writes);
    await waitForReplicas(
      redis,
      moves.map((move) => move.target),
      ack,
    );
    await pipelinePerNode(
      redis,
      moves.map(({ key }) => ({ key, queue: (pipeline) => pipeline.del(key) })),
    );
  }

  /** Null for a marker that names no address: it stays, and expires as it would have. */
  function perAddressMove(
    store: RedisSuppressionStore,
    options: SuppressionStoreOptions,
    kind: PerAddressKind,
    key: string,
    tail: string,
  ): PerAddressMove | null {
    const read = (on: string, queue: KeyedCommand['queue']): KeyedCommand => ({ key: on, queue });
    const write = read;
    switch (kind) {
      case 'transient': {
        const target = store.keys.transient(tail as EmailAddress);
        return {
          kind,
          key,
          target,
          reads: [
            read(key, (pipeline) => pipeline.zrange(key, '0', '-1', 'WITHSCORES')),
            read(key, (pipeline) => pipeline.pttl(key)),
            read(target, (pipeline) => pipeline.pttl(target)),
          ],
          writes([scored, ttl, targetTtl]) {
            const members = scored as string[];
            const commands: KeyedCommand[] = [];
            for (let i = 0; i < members.length; i += 2) {
              const [member, score] = [members[i]!, members[i + 1]!];
              // The latest delivery's time only moves forward; a bounce is counted once.
              commands.push(
                write(target, (pipeline) =>
                  member === '~reset'
                    ? pipeline.zadd(target, 'GT', score, member)
                    : pipeline.zadd(target, 'NX', score, member),
                ),
              );
            }
            if ((ttl as number) > 0)
              commands.push(
                write(target, (pipeline) =>
                  pipeline.pexpire(target, Math.max(ttl as number, targetTtl as number)),
                ),
              );
            return commands;
          },
        };
      }
      case 'lifted': {
        const target = store.keys.lifted(tail as EmailAddress);
        return {
          kind,
          key,
          target,
          reads: [
            read(key, (pipeline) => pipeline.hgetall(key)),
            read(target, (pipeline) => pipeline.hgetall(target)),
          ],
          writes([old, current]) {
            const now = current as Record<string, string>;
            return Object.entries(old as Record<string, string>)
              .filter(([scope, at]) => now[scope] === undefined || Number(at) > Number(now[scope]))
              .map(([scope, at]) => write(target, (pipeline) => pipeline.hset(target, scope, at)));
          },
        };
      }
      case 'history': {
        const target = store.keys.history(tail as EmailAddress);
        return {
          kind,
          key,
          target,
          reads: [read(key, (pipeline) => pipeline.lrange(key, 0, -1))],
          writes([records]) {
            // Older than anything written here since the upgrade: after it.
            return [
              write(target, (pipeline) =>
                (pipeline as PipelineWithAppend).sesWorkerAppendMissingRecords(
                  target,
                  options.historyPerAddress,
                  ...(records as string[]),
                ),
              ),
            ];
          },
        };
      }
      case 'applied': {
        const address = markedAddress(tail);
        if (address === null) return null;
        const target = store.keys.marker(address, tail);
        return {
          kind,
          key,
          target,
          reads: [read(key, (pipeline) => pipeline.pttl(key))],
          writes([ttl]) {
            return (ttl as number) > 0
              ? [write(target, (pipeline) => pipeline.set(target, '1', 'PX', ttl as number, 'NX'))]
              : [];
          },
        };
      }
    }
  }

  /**
   * Merges an old scope hash's entries into the buckets, a scan batch at a time. On one server
   * each entry is merged and deleted in one script; on a cluster (the hash in another slot) it
   * is merged under a marker, then deleted unless an old replica changed it meanwhile.
   */
  async function moveScope(store: RedisSuppressionStore, key: string): Promise<number> {
    const scope = key.slice(`${p}:scope:`.length) as SuppressionScope;
    const together = !isCluster(redis);
    let count = 0;
    let fieldCursor = '0';
    do {
      const [next, flat] = await redis.hscan(key, fieldCursor, 'COUNT', FIELDS_PER_SCAN);
      fieldCursor = next;
      const notifications: ScriptNotification[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const [address, raw] = [flat[i] as EmailAddress, flat[i + 1]!];
        const entry = JSON.parse(raw) as LegacyEntry;
        notifications.push(
          together
            ? {
                address,
                changes: [{ type: 'adopt', scope, entry, raw, legacy: 0 }],
                eventKey: null,
                extraKeys: [key],
              }
            : {
                address,
                changes: [{ type: 'adopt', scope, entry, raw }],
                eventKey: `legacy-adopt/${fnv1a64([scope, raw])}`,
                markerSeconds: ADOPT_MARKER_SECONDS,
              },
        );
      }
      if (notifications.length === 0) continue;
      await store.applyScripted(notifications);
      if (!together) await withFieldDelete.sesWorkerDeleteUnchangedFields(key, ...flat);
      count += notifications.length;
    } while (fieldCursor !== '0');
    return count;
  }
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
