/**
 * The suppression list in Redis. Notifications are applied by one Lua script
 * (`lua/applySuppressionChanges.lua`, by EVALSHA), a whole batch of them per call, each
 * atomically: replicas applying notifications for one address at once end as one would, and a
 * notification's marker is written with its changes: applying it again changes nothing.
 *
 * Keys: the list is spread over SUPPRESSION_BUCKETS buckets by address, bucket b's keys sharing
 * the hash tag `{b}` (one Redis Cluster slot). <base> is the BullMQ prefix without its braces,
 * then `:suppression` (`{ses}` → `ses:suppression`), so that the bucket's tag is the key's first.
 *   <base>:{b}:entries               hash   address → its entries, all scopes (compact JSON)
 *   <base>:{b}:counts                hash   reason → entries in the bucket
 *   <base>:{b}:audit                 stream the bucket's changes, capped
 *   <base>:{b}:history:<address>     list   the address's latest audit records
 *   <base>:{b}:transient:<address>   zset   transient bounces by time, "~reset" = last delivery
 *   <base>:{b}:lifted:<address>      hash   scope → time of the latest opt-in
 *   <base>:{b}:applied:<eventKey>    string, expiring: the notification was applied
 * The layout before buckets (`<prefix>:suppression:scope:<scope>` hashes and their indexes) is
 * read beside this one until `migrateLegacy` has moved it (legacySuppression.ts).
 *
 * On Redis Cluster a script may only touch one slot and a pipeline only one node's keys: the
 * script runs once per bucket there (all buckets in one call on a single server), and reads over
 * many buckets are pipelined per node (pipelinePerNode.ts). With `replicasAck`, every write
 * returns only once that many replicas of each written master hold it (REDIS_MIN_REPLICAS_ACK).
 */
import {
  isCluster,
  keyBase,
  waitForReplicas,
  type RedisClient,
  type ReplicasAck,
} from './connection';
import type { EmailAddress } from '../../domain/address';
import type {
  SuppressionCounts,
  SuppressionPage,
  SuppressionRecord,
  SuppressionNotification,
  SuppressionStore,
} from '../../domain/ports';
import {
  SUPPRESSION_BUCKETS,
  SUPPRESSION_REASONS,
  suppressionBucket,
  type AppliedSuppressionChange,
  type SuppressionAuditRecord,
  type SuppressionChange,
  type SuppressionEntry,
  type SuppressionEvidence,
  type SuppressionOutcome,
  type SuppressionReason,
  type SuppressionScope,
} from '../../domain/suppression';
import { makeLegacySuppressionReader, type LegacyMigration } from './legacySuppression';
import { luaScript } from './luaScript';
import { pipelinePerNode } from './pipelinePerNode';
import { replyValues } from './pipelineReplies';

export interface SuppressionStoreOptions {
  /** How long a notification's marker lives: longer than any redelivery or DLQ replay. */
  readonly dedupeSeconds: number;
  /** Audit records kept per address, newest first. */
  readonly historyPerAddress: number;
  /** Audit records kept in the streams, all buckets together (approximately: Redis trims whole nodes). */
  readonly auditMax: number;
  /**
   * REDIS_MIN_REPLICAS_ACK: a write returns (a job completes, the API answers) only once this
   * many replicas of each master it wrote to hold it, else it throws a `ReplicationError`.
   * Absent or 0: no wait.
   */
  readonly replicasAck?: ReplicasAck;
}

export const DEFAULT_SUPPRESSION_STORE_OPTIONS: SuppressionStoreOptions = {
  dedupeSeconds: 30 * 86_400,
  historyPerAddress: 50,
  auditMax: 100_000,
};

const NO_REPLICAS_ACK: ReplicasAck = { replicas: 0, timeoutMs: 0 };

/** A page cursor that this store did not hand out. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

type ScriptedRedis = RedisClient & {
  sesWorkerApplySuppressionChanges(
    numberOfKeys: number,
    ...keysThenArgs: string[]
  ): Promise<string[][][]>;
};

/**
 * Notifications per script call: a batch of ten SQS messages is one call (one per bucket on a
 * cluster) unless its bounces name hundreds of recipients; bounded so that no call blocks Redis
 * for long.
 */
const NOTIFICATIONS_PER_CALL = 250;

/** Buckets whose first scan batch a page reads per round trip, at most; rounds double from 1. */
const MAX_PAGE_ROUND = 64;
/** HSCAN's COUNT: about this many addresses per scan batch (small hashes come whole). */
const SCAN_COUNT = 500;

/**
 * Entries a filtered page may read before it answers with what it found and a cursor: a
 * rare reason in a long list costs several short calls, not one long one.
 */
const MAX_ENTRIES_READ_PER_PAGE = 20_000;

/** An entry as the script keeps it (see the script's header): times in ms. */
interface CompactEntry {
  readonly r: SuppressionReason;
  readonly f: number;
  readonly l?: number;
  readonly n: number;
  readonly e: SuppressionEvidence;
  readonly t?: number;
  readonly x?: SuppressionEvidence;
}

/** An address's entries, one field of its bucket's hash. */
type StoredRecord = Partial<Record<SuppressionScope, CompactEntry>>;

/** An entry as the script takes it for `restore` and `adopt`: times in ms. */
export interface ScriptEntry {
  readonly reason: SuppressionReason;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly count: number;
  readonly evidence: SuppressionEvidence;
  /** When `evidence` happened: ties between notifications are decided by it. */
  readonly evidenceAt?: number;
  readonly latest?: SuppressionEvidence;
}

interface StoredAuditRecord {
  readonly action: SuppressionOutcome;
  readonly scope?: SuppressionScope;
  readonly reason?: SuppressionReason;
  readonly recordedAt: number;
  readonly evidence: SuppressionEvidence;
}

/** A change as the script takes it: its time in ms; `legacy` a KEYS position (adopt). */
export type ScriptChange = Record<string, unknown> & {
  readonly type: string;
  readonly scope?: SuppressionScope;
};

export interface ScriptNotification {
  readonly address: EmailAddress;
  readonly changes: readonly ScriptChange[];
  readonly eventKey: string | null;
  /** Its marker is written only if the address has transient history afterwards. */
  readonly markWithHistory?: boolean;
  /** How long its marker lives, when not the store's `dedupeSeconds`. */
  readonly markerSeconds?: number;
  /**
   * KEYS outside the address's bucket that its changes name (adopt: the old hash). Only on a
   * single server: on a cluster they are another slot than the bucket's.
   */
  readonly extraKeys?: readonly string[];
}

/** Where an address's keys live. */
export interface SuppressionKeys {
  /** What every key starts with: the prefix without braces, then `:suppression`. */
  readonly base: string;
  readonly entries: (b: number) => string;
  readonly counts: (b: number) => string;
  readonly audit: (b: number) => string;
  readonly history: (address: EmailAddress) => string;
  readonly transient: (address: EmailAddress) => string;
  readonly lifted: (address: EmailAddress) => string;
  readonly marker: (address: EmailAddress, eventKey: string) => string;
}

export function suppressionKeys(keyPrefix: string): SuppressionKeys {
  const base = `${keyBase(keyPrefix)}:suppression`;
  const bucket = (b: number) => `${base}:{${b}}`;
  const of = (address: EmailAddress) => bucket(suppressionBucket(address));
  return {
    base,
    entries: (b) => `${bucket(b)}:entries`,
    counts: (b) => `${bucket(b)}:counts`,
    audit: (b) => `${bucket(b)}:audit`,
    history: (address) => `${of(address)}:history:${address}`,
    transient: (address) => `${of(address)}:transient:${address}`,
    lifted: (address) => `${of(address)}:lifted:${address}`,
    marker: (address, eventKey) => `${of(address)}:applied:${eventKey}`,
  };
}

export type RedisSuppressionStore = SuppressionStore & {
  readonly keys: SuppressionKeys;
  /**
   * Applies changes as the script takes them (the legacy migration's `adopt`), then waits for
   * the replicas (`replicasAck`).
   */
  applyScripted(
    notifications: readonly ScriptNotification[],
  ): Promise<AppliedSuppressionChange[][]>;
  /**
   * Moves what the layout before buckets left into this one (legacySuppression.ts); stops
   * between commands once `stopping` says so (the pass is safe to resume).
   */
  migrateLegacy(stopping?: () => boolean): Promise<LegacyMigration>;
};

export function makeSuppressionStore(
  redis: RedisClient,
  keyPrefix: string,
  options: SuppressionStoreOptions = DEFAULT_SUPPRESSION_STORE_OPTIONS,
): RedisSuppressionStore {
  // A defined command runs by EVALSHA: the script travels once per connection, not per call.
  redis.defineCommand('sesWorkerApplySuppressionChanges', {
    lua: luaScript('applySuppressionChanges'),
  });
  const scripted = redis as ScriptedRedis;
  const keys = suppressionKeys(keyPrefix);
  const reasonsJson = JSON.stringify(SUPPRESSION_REASONS);
  const auditPerBucket = Math.max(100, Math.ceil(options.auditMax / SUPPRESSION_BUCKETS));
  const replicasAck = options.replicasAck ?? NO_REPLICAS_ACK;
  /**
   * Which notifications may share a script call: those of one bucket on a cluster (a script may
   * touch one slot only), all of them on a single server (one round trip for a whole batch).
   */
  const callGroup: (bucket: number) => number = isCluster(redis) ? (b) => b : () => 0;

  /** One script call for the notifications; every key it touches is named in KEYS. */
  const run = async (
    notifications: readonly ScriptNotification[],
  ): Promise<AppliedSuppressionChange[][]> => {
    const scriptKeys: string[] = [];
    const positions = new Map<string, number>();
    // KEYS positions are 1-based, as Lua counts.
    const position = (key: string): number => {
      let at = positions.get(key);
      if (at === undefined) {
        scriptKeys.push(key);
        at = scriptKeys.length;
        positions.set(key, at);
      }
      return at;
    };
    const payload = notifications.map(
      ({ address, changes, eventKey, markWithHistory, markerSeconds, extraKeys }) => {
        const b = suppressionBucket(address);
        const extra = (extraKeys ?? []).map(position);
        return {
          address,
          ...(eventKey === null ? {} : { marker: position(keys.marker(address, eventKey)) }),
          ...(markWithHistory ? { markWithHistory } : {}),
          ...(markerSeconds === undefined ? {} : { markerSeconds }),
          entries: position(keys.entries(b)),
          counts: position(keys.counts(b)),
          audit: position(keys.audit(b)),
          history: position(keys.history(address)),
          transient: position(keys.transient(address)),
          lifted: position(keys.lifted(address)),
          changes: changes.map((change) =>
            typeof change.legacy === 'number'
              ? { ...change, legacy: extra[change.legacy]! }
              : change,
          ),
        };
      },
    );
    const replies = await scripted.sesWorkerApplySuppressionChanges(
      scriptKeys.length,
      ...scriptKeys,
      String(Date.now()),
      String(options.dedupeSeconds),
      String(options.historyPerAddress),
      String(auditPerBucket),
      reasonsJson,
      JSON.stringify(payload),
    );
    return replies.map((changes) => changes.map(toApplied));
  };

  /**
   * The notifications in script calls, one group at a time in order (a later notification may
   * depend on an earlier one's marker or entry: they share an address, so a group), the groups
   * at once. A group that fails leaves the others applied; each notification's marker makes a
   * retry of the whole list apply only what is missing. Returns once every call has ended, and
   * the replicas hold the writes.
   */
  const applyScripted = async (
    notifications: readonly ScriptNotification[],
  ): Promise<AppliedSuppressionChange[][]> => {
    const results = new Array<AppliedSuppressionChange[]>(notifications.length);
    const groups = new Map<number, number[]>();
    const written = new Map<number, string>();
    notifications.forEach(({ address }, at) => {
      const b = suppressionBucket(address);
      written.set(b, keys.entries(b));
      const group = groups.get(callGroup(b));
      if (group === undefined) groups.set(callGroup(b), [at]);
      else group.push(at);
    });
    const calls = await Promise.allSettled(
      [...groups.values()].map(async (group) => {
        for (let i = 0; i < group.length; i += NOTIFICATIONS_PER_CALL) {
          const call = group.slice(i, i + NOTIFICATIONS_PER_CALL);
          const replies = await run(call.map((at) => notifications[at]!));
          call.forEach((at, j) => (results[at] = replies[j]!));
        }
      }),
    );
    const failed = calls.find((call) => call.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await waitForReplicas(redis, [...written.values()], replicasAck);
    return results;
  };

  const applyNotifications = (notifications: readonly SuppressionNotification[]) =>
    applyScripted(
      notifications.map(({ address, changes, eventKey }) => {
        const resetsOnly = changes.every((c) => c.type === 'resetTransient');
        const liftsOnly = changes.every((c) => c.type === 'lift');
        return {
          address,
          changes: changes.map(toScriptChange),
          // Lifts are idempotent by their times alone: no marker. Deliveries (the most common
          // notification) are marked only where the address has transient history.
          eventKey: liftsOnly ? null : eventKey,
          markWithHistory: resetsOnly,
        };
      }),
    );

  const restoreAll = async (entries: readonly SuppressionEntry[]) => {
    const restoredAt = new Date().toISOString();
    const applied = await applyScripted(
      entries.map((entry) => {
        const stored: ScriptEntry = {
          reason: entry.reason,
          firstAt: Date.parse(entry.firstAt),
          lastAt: Date.parse(entry.lastAt),
          count: entry.count,
          evidence: entry.evidence,
          evidenceAt: Date.parse(entry.evidence.at),
          latest: entry.latest,
        };
        return {
          address: entry.address,
          changes: [
            {
              type: 'restore',
              scope: entry.scope,
              entry: stored,
              evidence: { at: restoredAt, kind: 'import' },
            },
          ],
          eventKey: null,
        };
      }),
    );
    return applied.map((changes) => changes[0]!.outcome);
  };

  const legacy = makeLegacySuppressionReader(redis, keyPrefix);

  const store: RedisSuppressionStore = {
    keys,
    applyScripted,

    applyAll: applyNotifications,

    async apply(address, changes, eventKey) {
      const [applied] = await applyNotifications([{ address, changes, eventKey }]);
      return (applied ?? []).map((change) => change.outcome);
    },

    restoreAll,

    async restore(entry) {
      const [outcome] = await restoreAll([entry]);
      return outcome!;
    },

    async get(address): Promise<SuppressionRecord> {
      // The address's keys share its bucket's slot: one pipeline. The old layout's own slot
      // may be another node's: asked beside it.
      const [replies, legacyPresent] = await Promise.all([
        redis
          .pipeline()
          .hget(keys.entries(suppressionBucket(address)), address)
          .lrange(keys.history(address), 0, -1)
          .exec(),
        legacy.present(),
      ]);
      const [raw, records] = replyValues(replies);
      const entries = entriesOf(address, raw as string | null);
      const history = (records as string[]).map((text) => auditRecord(address, text));
      if (legacyPresent) {
        const old = await legacy.get(address);
        const scopes = new Set(entries.map((e) => e.scope));
        entries.push(...old.entries.filter((e) => !scopes.has(e.scope)));
        history.push(...old.history.map((text) => auditRecord(address, text)));
      }
      return { address, entries: entries.sort(byStrength), history };
    },

    async check(addresses, scopes) {
      const found = new Map<EmailAddress, SuppressionEntry>();
      if (addresses.length === 0 || scopes.length === 0) return found;
      const byBucket = new Map<number, EmailAddress[]>();
      for (const address of addresses) {
        const b = suppressionBucket(address);
        const inBucket = byBucket.get(b);
        if (inBucket === undefined) byBucket.set(b, [address]);
        else inBucket.push(address);
      }
      const asked = [...byBucket];
      const [replies, legacyPresent] = await Promise.all([
        pipelinePerNode(
          redis,
          asked.map(([b, inBucket]) => ({
            key: keys.entries(b),
            queue: (pipeline) => pipeline.hmget(keys.entries(b), ...inBucket),
          })),
        ),
        legacy.present(),
      ]);
      const keep = (entry: SuppressionEntry) => {
        const known = found.get(entry.address);
        if (known === undefined || byStrength(entry, known) < 0) found.set(entry.address, entry);
      };
      asked.forEach(([, inBucket], i) => {
        (replies[i] as (string | null)[]).forEach((raw, j) => {
          if (raw === null) return;
          const record = JSON.parse(raw) as StoredRecord;
          for (const scope of scopes) {
            const stored = record[scope];
            if (stored !== undefined) keep(toEntry(inBucket[j]!, scope, stored));
          }
        });
      });
      if (legacyPresent) for (const entry of await legacy.check(addresses, scopes)) keep(entry);
      return found;
    },

    async list({ scope, reason, cursor, limit }): Promise<SuppressionPage> {
      let position: PagePosition =
        cursor === undefined ? { bucket: 0, scan: '0', after: null } : decodeCursor(cursor);
      const entries: SuppressionEntry[] = [];
      let read = 0;
      // Buckets' first scan batches, fetched a round ahead: a sparse list is not one round
      // trip per bucket. Rounds double while the page is short.
      const ahead = new Map<number, [string, string[]]>();
      let round = 1;
      while (position.bucket < SUPPRESSION_BUCKETS) {
        const { bucket, scan, after } = position;
        let batch = scan === '0' ? ahead.get(bucket) : undefined;
        if (batch === undefined && scan === '0') {
          const buckets = Array.from(
            { length: Math.min(round, SUPPRESSION_BUCKETS - bucket) },
            (_, i) => bucket + i,
          );
          const replies = await pipelinePerNode(
            redis,
            buckets.map((b) => ({
              key: keys.entries(b),
              queue: (pipeline) => pipeline.hscan(keys.entries(b), '0', 'COUNT', SCAN_COUNT),
            })),
          );
          replies.forEach((reply, i) => ahead.set(bucket + i, reply as [string, string[]]));
          round = Math.min(round * 2, MAX_PAGE_ROUND);
          batch = ahead.get(bucket)!;
        }
        batch ??= await redis.hscan(keys.entries(bucket), scan, 'COUNT', SCAN_COUNT);
        ahead.delete(bucket);
        const [next, flat] = batch;
        const fields: [EmailAddress, string][] = [];
        for (let i = 0; i < flat.length; i += 2)
          fields.push([flat[i] as EmailAddress, flat[i + 1]!]);
        fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        for (const [address, raw] of fields) {
          if (after !== null && address < after.address) continue;
          read++;
          const record = JSON.parse(raw) as StoredRecord;
          for (const entryScope of (Object.keys(record) as SuppressionScope[]).sort()) {
            if (after !== null && address === after.address && entryScope <= after.scope) continue;
            if (scope !== undefined && entryScope !== scope) continue;
            const entry = toEntry(address, entryScope, record[entryScope]!);
            if (reason !== undefined && entry.reason !== reason) continue;
            entries.push(entry);
            // Cut inside the batch: the next page scans it again from the same cursor.
            if (entries.length === limit)
              return {
                entries,
                nextCursor: encodeCursor({ bucket, scan, after: { address, scope: entryScope } }),
              };
          }
        }
        position =
          next === '0'
            ? { bucket: bucket + 1, scan: '0', after: null }
            : { bucket, scan: next, after: null };
        if (read >= MAX_ENTRIES_READ_PER_PAGE) break;
      }
      return {
        entries,
        nextCursor: position.bucket < SUPPRESSION_BUCKETS ? encodeCursor(position) : null,
      };
    },

    async counts(): Promise<SuppressionCounts> {
      const replies = await pipelinePerNode(
        redis,
        Array.from({ length: SUPPRESSION_BUCKETS }, (_, b) => ({
          key: keys.counts(b),
          queue: (pipeline) => pipeline.hgetall(keys.counts(b)),
        })),
      );
      const byReason = Object.fromEntries(SUPPRESSION_REASONS.map((r) => [r, 0])) as Record<
        SuppressionReason,
        number
      >;
      for (const counts of replies as Record<string, string>[]) {
        for (const reason of SUPPRESSION_REASONS) byReason[reason] += Number(counts[reason] ?? 0);
      }
      const total = SUPPRESSION_REASONS.reduce((sum, reason) => sum + byReason[reason], 0);
      return { total, byReason };
    },

    migrateLegacy: (stopping = () => false) => legacy.migrate(store, options, stopping),
  };
  return store;
}

function toEntry(
  address: EmailAddress,
  scope: SuppressionScope,
  s: CompactEntry,
): SuppressionEntry {
  return {
    address,
    scope,
    reason: s.r,
    firstAt: new Date(s.f).toISOString(),
    lastAt: new Date(s.l ?? s.f).toISOString(),
    count: s.n,
    evidence: s.e,
    latest: s.x ?? s.e,
  };
}

function entriesOf(address: EmailAddress, raw: string | null): SuppressionEntry[] {
  if (raw === null) return [];
  const record = JSON.parse(raw) as StoredRecord;
  return (Object.keys(record) as SuppressionScope[]).map((scope) =>
    toEntry(address, scope, record[scope]!),
  );
}

function auditRecord(address: EmailAddress, text: string): SuppressionAuditRecord {
  const stored = JSON.parse(text) as StoredAuditRecord;
  return {
    action: stored.action,
    address,
    scope: stored.scope ?? null,
    reason: stored.reason ?? null,
    recordedAt: new Date(stored.recordedAt).toISOString(),
    evidence: stored.evidence,
  };
}

function toApplied([outcome, scope, reason, previousReason]: string[]): AppliedSuppressionChange {
  return {
    outcome: outcome as SuppressionOutcome,
    scope: scope ? (scope as SuppressionScope) : null,
    reason: reason ? (reason as SuppressionReason) : null,
    previousReason: previousReason ? (previousReason as SuppressionReason) : null,
  };
}

function toScriptChange(change: SuppressionChange): ScriptChange {
  const at = Date.parse(change.evidence.at);
  switch (change.type) {
    case 'suppress':
    case 'lift':
    case 'remove':
      return { ...change, at };
    case 'countTransient':
      // A bounce is counted once, whichever recipient job or redelivery brings it.
      return {
        ...change,
        at,
        member: change.evidence.feedbackId ?? change.evidence.sesMessageId ?? String(at),
      };
    case 'resetTransient':
      return { ...change, at };
    case 'record':
      return { ...change };
  }
}

/** Strongest reason first; then the earliest. */
function byStrength(a: SuppressionEntry, b: SuppressionEntry): number {
  const rank = SUPPRESSION_REASONS.indexOf(a.reason) - SUPPRESSION_REASONS.indexOf(b.reason);
  return rank !== 0 ? rank : a.firstAt.localeCompare(b.firstAt);
}

/**
 * Where a page stopped: a bucket, a position in its hash scan (Redis's cursor), and, for a page
 * cut inside a scan batch, the last address and scope given (the batch is sorted by address).
 */
interface PagePosition {
  readonly bucket: number;
  readonly scan: string;
  readonly after: { readonly address: EmailAddress; readonly scope: SuppressionScope } | null;
}

function encodeCursor({ bucket, scan, after }: PagePosition): string {
  const parts = [String(bucket), scan, ...(after === null ? [] : [after.address, after.scope])];
  return Buffer.from(parts.join('\n')).toString('base64url');
}

function decodeCursor(cursor: string): PagePosition {
  const invalid = () =>
    new InvalidCursorError(`cursor ${JSON.stringify(cursor)} is not one this API returned`);
  const decoded = Buffer.from(cursor, 'base64url');
  if (decoded.length === 0 || decoded.toString('base64url') !== cursor) throw invalid();
  const parts = decoded.toString().split('\n');
  const [bucketText = '', scan = '', address, scope] = parts;
  if (
    !/^\d{1,6}$/.test(bucketText) ||
    Number(bucketText) >= SUPPRESSION_BUCKETS ||
    !/^\d{1,20}$/.test(scan) ||
    (parts.length !== 2 && parts.length !== 4)
  )
    throw invalid();
  return {
    bucket: Number(bucketText),
    scan,
    after:
      address === undefined
        ? null
        : { address: address as EmailAddress, scope: scope as SuppressionScope },
  };
}
