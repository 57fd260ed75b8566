/**
 * The suppression list in Redis. Notifications are applied by one Lua script
 * (`lua/applySuppressionChanges.lua`, by EVALSHA), a whole batch of them per call, each
 * atomically: replicas applying notifications for one address at once end as one would, and a
 * notification's marker is written with its changes: applying it again changes nothing.
 *
 * Keys (all under the BullMQ prefix, whose `{hash tag}` keeps them in one Redis Cluster slot):
 *   <p>:scope:<scope>        hash  address → entry (JSON, times in ms)   — `check` reads these
 *   <p>:address:<address>    set   the scopes holding the address          — `get`
 *   <p>:index[:<reason>]     zset  "<scope>\n<address>", by lex           — paging, counts
 *   <p>:transient:<address>  zset  transient bounces by time, "~reset" = last delivery
 *   <p>:lifted:<address>     hash  scope → time of the latest opt-in
 *   <p>:applied:<eventKey>   string, expiring: the notification was applied
 *   <p>:history:<address>    list  the address's latest audit records
 *   <p>:audit                stream every change, capped
 */
import type { Redis } from 'ioredis';
import type { EmailAddress } from '../../domain/address';
import type {
  SuppressionCounts,
  SuppressionPage,
  SuppressionRecord,
  SuppressionNotification,
  SuppressionStore,
} from '../../domain/ports';
import {
  SUPPRESSION_REASONS,
  type AppliedSuppressionChange,
  type SuppressionAuditRecord,
  type SuppressionChange,
  type SuppressionEntry,
  type SuppressionEvidence,
  type SuppressionOutcome,
  type SuppressionReason,
  type SuppressionScope,
} from '../../domain/suppression';
import { luaScript } from './luaScript';

export interface SuppressionStoreOptions {
  /** How long a notification's marker lives: longer than any redelivery or DLQ replay. */
  readonly dedupeSeconds: number;
  /** Audit records kept per address, newest first. */
  readonly historyPerAddress: number;
  /** Audit records kept in the stream (approximately: Redis trims whole nodes). */
  readonly auditMax: number;
}

export const DEFAULT_SUPPRESSION_STORE_OPTIONS: SuppressionStoreOptions = {
  dedupeSeconds: 30 * 86_400,
  historyPerAddress: 50,
  auditMax: 100_000,
};

/** A page cursor that this store did not hand out. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

type ScriptedRedis = Redis & {
  sesWorkerApplySuppressionChanges(
    numberOfKeys: number,
    ...keysThenArgs: string[]
  ): Promise<string[][][]>;
};

/**
 * Notifications per script call: a batch of ten SQS messages is one call unless its bounces
 * name hundreds of recipients; bounded so that no call blocks Redis for long.
 */
const NOTIFICATIONS_PER_CALL = 250;

/**
 * Addresses per HMGET of a check: pipelined slices let the client decode the first answers while
 * Redis works on the next, and keep each command short for the clients queued behind it.
 */
const ADDRESSES_PER_CHECK_COMMAND = 1_000;

/** An entry as stored: times in ms (Lua has no dates). */
interface StoredEntry extends Omit<SuppressionEntry, 'firstAt' | 'lastAt'> {
  readonly firstAt: number;
  readonly lastAt: number;
  /** When `evidence` happened: ties between notifications are decided by it. */
  readonly evidenceAt: number;
}

interface StoredAuditRecord {
  readonly action: SuppressionOutcome;
  readonly scope?: SuppressionScope;
  readonly reason?: SuppressionReason;
  readonly recordedAt: number;
  readonly evidence: SuppressionEvidence;
}

/** A change as the script takes it: its time in ms; its scope's key is added per call. */
type ScriptChange = Record<string, unknown> & {
  readonly type: string;
  readonly scope?: SuppressionScope;
};

interface ScriptNotification {
  readonly address: EmailAddress;
  readonly changes: readonly ScriptChange[];
  readonly eventKey: string | null;
  /** Its marker is written only if the address has transient history afterwards. */
  readonly markWithHistory?: boolean;
}

export function makeSuppressionStore(
  redis: Redis,
  keyPrefix: string,
  options: SuppressionStoreOptions = DEFAULT_SUPPRESSION_STORE_OPTIONS,
): SuppressionStore & { readonly keyPrefix: string } {
  // A defined command runs by EVALSHA: the script travels once per connection, not per call.
  redis.defineCommand('sesWorkerApplySuppressionChanges', {
    lua: luaScript('applySuppressionChanges'),
  });
  const scripted = redis as ScriptedRedis;
  const p = `${keyPrefix}:suppression`;
  const scopeKey = (scope: SuppressionScope) => `${p}:scope:${scope}`;
  const indexKey = (reason?: SuppressionReason) =>
    reason === undefined ? `${p}:index` : `${p}:index:${reason}`;
  const reasonsJson = JSON.stringify(SUPPRESSION_REASONS);

  /** One script call for the notifications; every key it touches is named in KEYS. */
  const run = async (
    notifications: readonly ScriptNotification[],
  ): Promise<AppliedSuppressionChange[][]> => {
    const keys = [`${p}:index`, `${p}:audit`, ...SUPPRESSION_REASONS.map(indexKey)];
    const positions = new Map<string, number>();
    // KEYS positions are 1-based, as Lua counts.
    const position = (key: string): number => {
      let at = positions.get(key);
      if (at === undefined) {
        keys.push(key);
        at = keys.length;
        positions.set(key, at);
      }
      return at;
    };
    const payload = notifications.map(({ address, changes, eventKey, markWithHistory }) => ({
      address,
      ...(eventKey === null ? {} : { marker: position(`${p}:applied:${eventKey}`) }),
      ...(markWithHistory ? { markWithHistory } : {}),
      scopes: position(`${p}:address:${address}`),
      history: position(`${p}:history:${address}`),
      transient: position(`${p}:transient:${address}`),
      lifted: position(`${p}:lifted:${address}`),
      global: position(scopeKey('global')),
      changes: changes.map((change) =>
        change.scope === undefined ? change : { ...change, key: position(scopeKey(change.scope)) },
      ),
    }));
    const replies = await scripted.sesWorkerApplySuppressionChanges(
      keys.length,
      ...keys,
      String(Date.now()),
      String(options.dedupeSeconds),
      String(options.historyPerAddress),
      String(options.auditMax),
      reasonsJson,
      JSON.stringify(payload),
    );
    return replies.map((changes) => changes.map(toApplied));
  };

  const applyAll = async (
    notifications: readonly ScriptNotification[],
  ): Promise<AppliedSuppressionChange[][]> => {
    const results: AppliedSuppressionChange[][] = [];
    for (let i = 0; i < notifications.length; i += NOTIFICATIONS_PER_CALL) {
      // In order: a later notification may depend on an earlier one's marker or entry.
      results.push(...(await run(notifications.slice(i, i + NOTIFICATIONS_PER_CALL))));
    }
    return results;
  };

  const applyNotifications = (notifications: readonly SuppressionNotification[]) =>
    applyAll(
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

  const parseEntry = (raw: string | null): SuppressionEntry | null => {
    if (raw === null) return null;
    const stored = JSON.parse(raw) as StoredEntry;
    return {
      address: stored.address,
      scope: stored.scope,
      reason: stored.reason,
      firstAt: new Date(stored.firstAt).toISOString(),
      lastAt: new Date(stored.lastAt).toISOString(),
      count: stored.count,
      evidence: stored.evidence,
      latest: stored.latest,
    };
  };

  return {
    keyPrefix: p,

    applyAll: applyNotifications,

    async apply(address, changes, eventKey) {
      const [applied] = await applyNotifications([{ address, changes, eventKey }]);
      return (applied ?? []).map((change) => change.outcome);
    },

    async restore(entry) {
      const stored: StoredEntry = {
        ...entry,
        firstAt: Date.parse(entry.firstAt),
        lastAt: Date.parse(entry.lastAt),
        evidenceAt: Date.parse(entry.evidence.at),
      };
      const [applied] = await applyAll([
        {
          address: entry.address,
          changes: [
            {
              type: 'restore',
              scope: entry.scope,
              entry: stored,
              evidence: { at: new Date().toISOString(), kind: 'import' },
            },
          ],
          eventKey: null,
        },
      ]);
      return applied![0]!.outcome;
    },

    async get(address): Promise<SuppressionRecord> {
      const scopes = (await redis.smembers(`${p}:address:${address}`)) as SuppressionScope[];
      const pipeline = redis.pipeline();
      for (const scope of scopes) pipeline.hget(scopeKey(scope), address);
      pipeline.lrange(`${p}:history:${address}`, 0, -1);
      const replies = (await pipeline.exec()) ?? [];
      const values = replies.map(([error, value]) => {
        if (error) throw error;
        return value;
      });
      const history = (values.pop() as string[]).map((raw): SuppressionAuditRecord => {
        const stored = JSON.parse(raw) as StoredAuditRecord;
        return {
          action: stored.action,
          address,
          scope: stored.scope ?? null,
          reason: stored.reason ?? null,
          recordedAt: new Date(stored.recordedAt).toISOString(),
          evidence: stored.evidence,
        };
      });
      const entries = values
        .map((raw) => parseEntry(raw as string | null))
        .filter((entry): entry is SuppressionEntry => entry !== null)
        .sort(byStrength);
      return { address, entries, history };
    },

    async check(addresses, scopes) {
      const found = new Map<EmailAddress, SuppressionEntry>();
      if (addresses.length === 0) return found;
      const pipeline = redis.pipeline();
      const slices: { readonly from: number; readonly count: number }[] = [];
      for (const scope of scopes)
        for (let from = 0; from < addresses.length; from += ADDRESSES_PER_CHECK_COMMAND) {
          const slice = addresses.slice(from, from + ADDRESSES_PER_CHECK_COMMAND);
          pipeline.hmget(scopeKey(scope), ...slice);
          slices.push({ from, count: slice.length });
        }
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([error, values], command) => {
        if (error) throw error;
        const { from } = slices[command]!;
        (values as (string | null)[]).forEach((raw, i) => {
          if (raw === null) return;
          const address = addresses[from + i]!;
          const entry = parseEntry(raw)!;
          const known = found.get(address);
          if (known === undefined || byStrength(entry, known) < 0) found.set(address, entry);
        });
      });
      return found;
    },

    async list({ scope, reason, cursor, limit }): Promise<SuppressionPage> {
      const scopeStart = scope === undefined ? null : Buffer.from(`${scope}\n`);
      let min: Buffer | string = scopeStart === null ? '-' : Buffer.concat([b('['), scopeStart]);
      if (cursor !== undefined) {
        const after = decodeCursor(cursor);
        // A cursor from before the scope must not widen the range beyond it.
        if (scopeStart === null || Buffer.compare(after, scopeStart) >= 0)
          min = Buffer.concat([b('('), after]);
      }
      const max =
        scopeStart === null ? '+' : Buffer.concat([b('['), scopeStart, b('\xff', 'latin1')]);
      const members = await redis.zrangebylexBuffer(indexKey(reason), min, max, 'LIMIT', 0, limit);
      const pipeline = redis.pipeline();
      for (const raw of members) {
        const text = raw.toString();
        const split = text.indexOf('\n');
        pipeline.hget(scopeKey(text.slice(0, split) as SuppressionScope), text.slice(split + 1));
      }
      const entries: SuppressionEntry[] = [];
      for (const [error, raw] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        // Removed between the two reads: skipped, not an error.
        const entry = parseEntry(raw as string | null);
        if (entry !== null) entries.push(entry);
      }
      const last = members.at(-1);
      return {
        entries,
        nextCursor: members.length === limit && last !== undefined ? encodeCursor(last) : null,
      };
    },

    async counts(): Promise<SuppressionCounts> {
      const pipeline = redis.pipeline();
      pipeline.zcard(indexKey());
      for (const reason of SUPPRESSION_REASONS) pipeline.zcard(indexKey(reason));
      const [total, ...perReason] = ((await pipeline.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return value as number;
      });
      const byReason = Object.fromEntries(
        SUPPRESSION_REASONS.map((reason, i) => [reason, perReason[i] ?? 0]),
      ) as Record<SuppressionReason, number>;
      return { total: total ?? 0, byReason };
    },
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

const b = (text: string, encoding: BufferEncoding = 'utf8') => Buffer.from(text, encoding);

const encodeCursor = (member: Buffer): string => member.toString('base64url');

function decodeCursor(cursor: string): Buffer {
  const decoded = Buffer.from(cursor, 'base64url');
  if (decoded.length === 0 || decoded.toString('base64url') !== cursor || !decoded.includes(10))
    throw new InvalidCursorError(`cursor ${JSON.stringify(cursor)} is not one this API returned`);
  return decoded;
}
