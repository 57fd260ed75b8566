/**
 * The suppression list in Redis. Every change to an address runs as one Lua script (EVALSHA),
 * so replicas applying notifications for one address at once end as one would, and a
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
  SuppressionStore,
} from '../../domain/ports';
import {
  SUPPRESSION_REASONS,
  type SuppressionAuditRecord,
  type SuppressionChange,
  type SuppressionEntry,
  type SuppressionEvidence,
  type SuppressionOutcome,
  type SuppressionReason,
  type SuppressionScope,
} from '../../domain/suppression';

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

// KEYS, in this order; scope hashes other than global follow, and each change names its key.
const K = { marker: 1, scopes: 2, index: 3, history: 4, audit: 5, transient: 6, lifted: 7 };
const GLOBAL_SCOPE_KEY = 8;
const FIRST_REASON_KEY = 9;
const FIRST_SCOPE_KEY = FIRST_REASON_KEY + SUPPRESSION_REASONS.length;

// ARGV: address, now (ms), changes (JSON), marker TTL (s), history cap, audit cap, use marker.
// Returns one outcome per change.
const APPLY = `
local address = ARGV[1]
local now = tonumber(ARGV[2])
local changes = cjson.decode(ARGV[3])
local markerTtl = tonumber(ARGV[4])
local historyMax = tonumber(ARGV[5])
local auditMax = tonumber(ARGV[6])
local useMarker = ARGV[7] == '1'
local REASONS = cjson.decode('${JSON.stringify(SUPPRESSION_REASONS)}')
local RANK, REASON_KEY = {}, {}
for i, reason in ipairs(REASONS) do
  RANK[reason] = #REASONS - i + 1
  REASON_KEY[reason] = KEYS[${FIRST_REASON_KEY} + i - 1]
end

if useMarker and redis.call('EXISTS', KEYS[${K.marker}]) == 1 then
  local outcomes = {}
  for i = 1, #changes do outcomes[i] = 'unchanged' end
  return outcomes
end

local function member(scope) return scope .. '\\n' .. address end

local function audit(action, scope, reason, evidence)
  local record = cjson.encode({ action = action, scope = scope, reason = reason,
    recordedAt = now, evidence = evidence })
  if redis.call('LPUSH', KEYS[${K.history}], record) > historyMax then
    redis.call('LTRIM', KEYS[${K.history}], 0, historyMax - 1)
  end
  redis.call('XADD', KEYS[${K.audit}], 'MAXLEN', '~', auditMax, '*',
    'address', address, 'record', record)
end

local function readEntry(scopeKey)
  local raw = redis.call('HGET', scopeKey, address)
  if raw then return cjson.decode(raw) end
  return nil
end

local function writeEntry(scopeKey, entry, oldReason)
  redis.call('HSET', scopeKey, address, cjson.encode(entry))
  -- An entry updated under the same reason is already where the indexes say.
  if oldReason == entry.reason then return end
  redis.call('SADD', KEYS[${K.scopes}], entry.scope)
  redis.call('ZADD', KEYS[${K.index}], 0, member(entry.scope))
  if oldReason and oldReason ~= entry.reason then
    redis.call('ZREM', REASON_KEY[oldReason], member(entry.scope))
  end
  redis.call('ZADD', REASON_KEY[entry.reason], 0, member(entry.scope))
end

local function deleteEntry(scopeKey, entry)
  redis.call('HDEL', scopeKey, address)
  redis.call('SREM', KEYS[${K.scopes}], entry.scope)
  redis.call('ZREM', KEYS[${K.index}], member(entry.scope))
  redis.call('ZREM', REASON_KEY[entry.reason], member(entry.scope))
end

local function tiebreak(evidence)
  return (evidence.feedbackId or '') .. '/' .. (evidence.sesMessageId or '') .. '/' .. (evidence.note or '')
end

local function suppress(scopeKey, scope, reason, evidence, at)
  if reason == 'unsubscribe' then
    -- An opt-in later than this opt-out has already decided.
    local liftedAt = tonumber(redis.call('HGET', KEYS[${K.lifted}], scope))
    if liftedAt and at <= liftedAt then return 'unchanged' end
  end
  local entry = readEntry(scopeKey)
  if not entry then
    writeEntry(scopeKey, { address = address, scope = scope, reason = reason, firstAt = at,
      lastAt = at, count = 1, evidence = evidence, evidenceAt = at, latest = evidence }, nil)
    audit('added', scope, reason, evidence)
    return 'added'
  end
  -- Every field below is a function of the set of notifications applied, not of their order:
  -- replicas racing on one address end in the state one processor would reach.
  local oldReason = entry.reason
  entry.count = entry.count + 1
  if at < entry.firstAt then entry.firstAt = at end
  if at > entry.lastAt or (at == entry.lastAt and tiebreak(evidence) > tiebreak(entry.latest)) then
    entry.lastAt = at
    entry.latest = evidence
  end
  local evidenceAt = entry.evidenceAt or entry.firstAt
  if RANK[reason] > RANK[oldReason] or (RANK[reason] == RANK[oldReason] and (at < evidenceAt
      or (at == evidenceAt and tiebreak(evidence) < tiebreak(entry.evidence)))) then
    entry.reason = reason
    entry.evidence = evidence
    entry.evidenceAt = at
  end
  writeEntry(scopeKey, entry, oldReason)
  audit('updated', scope, reason, evidence)
  return 'updated'
end

local function countTransient(change, at)
  local key = KEYS[${K.transient}]
  local reset = tonumber(redis.call('ZSCORE', key, '~reset'))
  -- A delivery after this bounce has already shown the mailbox works.
  if reset and at <= reset then return 'unchanged' end
  local after = reset and ('(' .. reset) or '-inf'
  redis.call('ZADD', key, 'NX', at, change.member)
  redis.call('ZREMRANGEBYSCORE', key, after, '(' .. (at - change.windowMs))
  redis.call('PEXPIRE', key, 2 * change.windowMs)
  local scored = redis.call('ZRANGEBYSCORE', key, after, '+inf', 'WITHSCORES')
  local times = {}
  for i = 2, #scored, 2 do
    if scored[i - 1] ~= '~reset' then times[#times + 1] = tonumber(scored[i]) end
  end
  -- Any run of threshold bounces within the window, wherever this one falls in time.
  for i = 1, #times - change.threshold + 1 do
    if times[i + change.threshold - 1] - times[i] <= change.windowMs then
      return suppress(KEYS[${GLOBAL_SCOPE_KEY}], 'global', 'transient-bounces', change.evidence, at)
    end
  end
  audit('counted', 'global', nil, change.evidence)
  return 'counted'
end

local function resetTransient(change, at)
  local key = KEYS[${K.transient}]
  -- Most delivered addresses never bounced: nothing to reset, and nothing written for them.
  if redis.call('EXISTS', key) == 0 then return 'unchanged' end
  local previousReset = tonumber(redis.call('ZSCORE', key, '~reset'))
  local removed = redis.call('ZREMRANGEBYSCORE', key, '-inf', at)
  if previousReset and previousReset <= at then removed = removed - 1 end
  redis.call('ZADD', key, 'GT', at, '~reset')
  redis.call('PEXPIRE', key, 2 * change.windowMs)
  if removed == 0 then return 'unchanged' end
  audit('reset', 'global', nil, change.evidence)
  return 'reset'
end

local function lift(change, at)
  local key = KEYS[change.key]
  local liftedAt = tonumber(redis.call('HGET', KEYS[${K.lifted}], change.scope))
  if not liftedAt or at > liftedAt then redis.call('HSET', KEYS[${K.lifted}], change.scope, at) end
  local entry = readEntry(key)
  -- Only an unsubscribe is the subscriber's to take back, and only an older one.
  if not entry or entry.reason ~= 'unsubscribe' or entry.lastAt > at then return 'unchanged' end
  deleteEntry(key, entry)
  audit('lifted', change.scope, entry.reason, change.evidence)
  return 'lifted'
end

local function remove(change)
  local key = KEYS[change.key]
  local entry = readEntry(key)
  if change.scope == 'global' then redis.call('DEL', KEYS[${K.transient}]) end
  if not entry then return 'unchanged' end
  deleteEntry(key, entry)
  audit('removed', change.scope, entry.reason, change.evidence)
  return 'removed'
end

local function restore(change)
  local key = KEYS[change.key]
  if readEntry(key) then return 'unchanged' end
  writeEntry(key, change.entry, nil)
  audit('imported', change.entry.scope, change.entry.reason, change.evidence)
  return 'imported'
end

local outcomes = {}
for i, change in ipairs(changes) do
  local outcome
  if change.type == 'suppress' then
    outcome = suppress(KEYS[change.key], change.scope, change.reason, change.evidence, change.at)
  elseif change.type == 'countTransient' then outcome = countTransient(change, change.at)
  elseif change.type == 'resetTransient' then outcome = resetTransient(change, change.at)
  elseif change.type == 'lift' then outcome = lift(change, change.at)
  elseif change.type == 'remove' then outcome = remove(change)
  elseif change.type == 'restore' then outcome = restore(change)
  elseif change.type == 'record' then
    audit('recorded', nil, nil, change.evidence)
    outcome = 'recorded'
  else
    return redis.error_reply('unknown change type ' .. tostring(change.type))
  end
  outcomes[i] = outcome
end
if useMarker then redis.call('SET', KEYS[${K.marker}], '1', 'EX', markerTtl) end
return outcomes
`;

type ScriptedRedis = Redis & {
  sesWorkerSuppressionApply(
    numberOfKeys: number,
    ...keysThenArgs: string[]
  ): Promise<SuppressionOutcome[]>;
};

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

/** A change as the script takes it: its scope's key, and its time in ms. */
type ScriptChange = Record<string, unknown> & { readonly type: string };

export function makeSuppressionStore(
  redis: Redis,
  keyPrefix: string,
  options: SuppressionStoreOptions = DEFAULT_SUPPRESSION_STORE_OPTIONS,
): SuppressionStore & { readonly keyPrefix: string } {
  // A defined command runs by EVALSHA: the script travels once per connection, not per call.
  redis.defineCommand('sesWorkerSuppressionApply', { lua: APPLY });
  const scripted = redis as ScriptedRedis;
  const p = `${keyPrefix}:suppression`;
  const scopeKey = (scope: SuppressionScope) => `${p}:scope:${scope}`;
  const indexKey = (reason?: SuppressionReason) =>
    reason === undefined ? `${p}:index` : `${p}:index:${reason}`;

  /** Runs the script for one address; `scoped` are the changes with their scope, if any. */
  const run = (
    address: EmailAddress,
    changes: readonly (ScriptChange & { scope?: SuppressionScope })[],
    eventKey: string | null,
  ): Promise<SuppressionOutcome[]> => {
    const keys = [
      `${p}:applied:${eventKey ?? ''}`,
      `${p}:address:${address}`,
      indexKey(),
      `${p}:history:${address}`,
      `${p}:audit`,
      `${p}:transient:${address}`,
      `${p}:lifted:${address}`,
      scopeKey('global'),
      ...SUPPRESSION_REASONS.map(indexKey),
    ];
    const keyOf = new Map<string, number>([[scopeKey('global'), GLOBAL_SCOPE_KEY]]);
    const withKeys = changes.map((change) => {
      if (change.scope === undefined) return change;
      const key = scopeKey(change.scope);
      if (!keyOf.has(key)) {
        keys.push(key);
        keyOf.set(key, FIRST_SCOPE_KEY + keyOf.size - 1);
      }
      return { ...change, key: keyOf.get(key) };
    });
    // Resets and lifts are idempotent by their times alone: no marker for them (deliveries,
    // the most common notification, would otherwise leave a key each for the dedupe window).
    const needsMarker =
      eventKey !== null && changes.some((c) => c.type !== 'resetTransient' && c.type !== 'lift');
    return scripted.sesWorkerSuppressionApply(
      keys.length,
      ...keys,
      address,
      String(Date.now()),
      JSON.stringify(withKeys),
      String(options.dedupeSeconds),
      String(options.historyPerAddress),
      String(options.auditMax),
      needsMarker ? '1' : '0',
    );
  };

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

    apply(address, changes, eventKey) {
      return run(address, changes.map(toScriptChange), eventKey);
    },

    async restore(entry) {
      const stored: StoredEntry = {
        ...entry,
        firstAt: Date.parse(entry.firstAt),
        lastAt: Date.parse(entry.lastAt),
        evidenceAt: Date.parse(entry.evidence.at),
      };
      const [outcome] = await run(
        entry.address,
        [
          {
            type: 'restore',
            scope: entry.scope,
            entry: stored,
            evidence: { at: new Date().toISOString(), kind: 'import' },
          },
        ],
        null,
      );
      return outcome!;
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
      for (const scope of scopes) pipeline.hmget(scopeKey(scope), ...addresses);
      for (const [error, values] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        (values as (string | null)[]).forEach((raw, i) => {
          if (raw === null) return;
          const entry = parseEntry(raw)!;
          const known = found.get(addresses[i]!);
          if (known === undefined || byStrength(entry, known) < 0) found.set(addresses[i]!, entry);
        });
      }
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

function toScriptChange(change: SuppressionChange): ScriptChange & { scope?: SuppressionScope } {
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
