--[[
Applies a list of notifications' suppression changes, each to its own address, in order, as one
script: one round trip for a whole SQS batch. Each notification is skipped if its marker exists
and marks itself once applied, so a batch retried after half its work, or a notification seen
again in another batch, changes nothing twice. Every key the script touches is in KEYS: a caller
may split the list by key group (a Redis Cluster slot) and call once per group.

KEYS[1]  index (zset "<scope>\n<address>", by lex)
KEYS[2]  audit (stream)
KEYS[3..] the per-reason indexes, in ARGV[5]'s order; then the notifications' keys, each
          named by its position in KEYS.

ARGV[1] now (ms)   ARGV[2] marker TTL (s)   ARGV[3] history cap   ARGV[4] audit cap
ARGV[5] the reasons, strongest first (JSON)
ARGV[6] the notifications (JSON): { address, marker?, markWithHistory?, scopes, history,
        transient, lifted, global, changes: [{ type, at, key?, scope?, ... }] }, key fields
        being KEYS positions. markWithHistory: the marker is written only if the address has
        transient history once the whole list is applied (deliveries).

Returns, per notification, per change: { outcome, scope, reason, previousReason } ('' = none),
reason being the entry's reason after the change and previousReason the one before.
]]
local now = tonumber(ARGV[1])
local markerTtl = tonumber(ARGV[2])
local historyMax = tonumber(ARGV[3])
local auditMax = tonumber(ARGV[4])
local REASONS = cjson.decode(ARGV[5])
local notifications = cjson.decode(ARGV[6])

local INDEX, AUDIT = KEYS[1], KEYS[2]
local RANK, REASON_KEY = {}, {}
for i, reason in ipairs(REASONS) do
  RANK[reason] = #REASONS - i + 1
  REASON_KEY[reason] = KEYS[2 + i]
end

-- The notification being applied: set before each one, read by the functions below.
local address, scopesKey, historyKey, transientKey, liftedKey, globalKey

local function member(scope) return scope .. '\n' .. address end

local function audit(action, scope, reason, evidence)
  local record = cjson.encode({ action = action, scope = scope, reason = reason,
    recordedAt = now, evidence = evidence })
  if redis.call('LPUSH', historyKey, record) > historyMax then
    redis.call('LTRIM', historyKey, 0, historyMax - 1)
  end
  redis.call('XADD', AUDIT, 'MAXLEN', '~', auditMax, '*', 'address', address, 'record', record)
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
  redis.call('SADD', scopesKey, entry.scope)
  redis.call('ZADD', INDEX, 0, member(entry.scope))
  if oldReason then redis.call('ZREM', REASON_KEY[oldReason], member(entry.scope)) end
  redis.call('ZADD', REASON_KEY[entry.reason], 0, member(entry.scope))
end

local function deleteEntry(scopeKey, entry)
  redis.call('HDEL', scopeKey, address)
  redis.call('SREM', scopesKey, entry.scope)
  redis.call('ZREM', INDEX, member(entry.scope))
  redis.call('ZREM', REASON_KEY[entry.reason], member(entry.scope))
end

local function tiebreak(evidence)
  return (evidence.feedbackId or '') .. '/' .. (evidence.sesMessageId or '') .. '/' .. (evidence.note or '')
end

-- Each change function returns outcome, scope, reason after, reason before.

local function suppress(scopeKey, scope, reason, evidence, at)
  if reason == 'unsubscribe' then
    -- An opt-in later than this opt-out has already decided.
    local liftedAt = tonumber(redis.call('HGET', liftedKey, scope))
    if liftedAt and at <= liftedAt then return 'unchanged', scope end
  end
  local entry = readEntry(scopeKey)
  if not entry then
    writeEntry(scopeKey, { address = address, scope = scope, reason = reason, firstAt = at,
      lastAt = at, count = 1, evidence = evidence, evidenceAt = at, latest = evidence }, nil)
    audit('added', scope, reason, evidence)
    return 'added', scope, reason
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
  return 'updated', scope, entry.reason, oldReason
end

local function countTransient(change, at)
  local reset = tonumber(redis.call('ZSCORE', transientKey, '~reset'))
  -- A delivery after this bounce has already shown the mailbox works.
  if reset and at <= reset then return 'unchanged' end
  local after = reset and ('(' .. reset) or '-inf'
  redis.call('ZADD', transientKey, 'NX', at, change.member)
  redis.call('ZREMRANGEBYSCORE', transientKey, after, '(' .. (at - change.windowMs))
  redis.call('PEXPIRE', transientKey, 2 * change.windowMs)
  local scored = redis.call('ZRANGEBYSCORE', transientKey, after, '+inf', 'WITHSCORES')
  local times = {}
  for i = 2, #scored, 2 do
    if scored[i - 1] ~= '~reset' then times[#times + 1] = tonumber(scored[i]) end
  end
  -- Any run of threshold bounces within the window, wherever this one falls in time.
  for i = 1, #times - change.threshold + 1 do
    if times[i + change.threshold - 1] - times[i] <= change.windowMs then
      return suppress(globalKey, 'global', 'transient-bounces', change.evidence, at)
    end
  end
  audit('counted', 'global', nil, change.evidence)
  return 'counted', 'global'
end

local function resetTransient(change, at)
  -- Most delivered addresses never bounced: nothing to reset, and nothing written for them.
  if redis.call('EXISTS', transientKey) == 0 then return 'unchanged' end
  local previousReset = tonumber(redis.call('ZSCORE', transientKey, '~reset'))
  local removed = redis.call('ZREMRANGEBYSCORE', transientKey, '-inf', at)
  if previousReset and previousReset <= at then removed = removed - 1 end
  redis.call('ZADD', transientKey, 'GT', at, '~reset')
  redis.call('PEXPIRE', transientKey, 2 * change.windowMs)
  if removed == 0 then return 'unchanged' end
  audit('reset', 'global', nil, change.evidence)
  return 'reset', 'global'
end

local function lift(change, at)
  local key = KEYS[change.key]
  local liftedAt = tonumber(redis.call('HGET', liftedKey, change.scope))
  if not liftedAt or at > liftedAt then redis.call('HSET', liftedKey, change.scope, at) end
  local entry = readEntry(key)
  -- Only an unsubscribe is the subscriber's to take back, and only an older one.
  if not entry or entry.reason ~= 'unsubscribe' or entry.lastAt > at then
    return 'unchanged', change.scope, entry and entry.reason, entry and entry.reason
  end
  deleteEntry(key, entry)
  audit('lifted', change.scope, entry.reason, change.evidence)
  return 'lifted', change.scope, nil, entry.reason
end

local function remove(change)
  local key = KEYS[change.key]
  local entry = readEntry(key)
  if change.scope == 'global' then redis.call('DEL', transientKey) end
  if not entry then return 'unchanged', change.scope end
  deleteEntry(key, entry)
  audit('removed', change.scope, entry.reason, change.evidence)
  return 'removed', change.scope, nil, entry.reason
end

local function restore(change)
  local key = KEYS[change.key]
  local existing = readEntry(key)
  if existing then return 'unchanged', change.scope, existing.reason, existing.reason end
  writeEntry(key, change.entry, nil)
  audit('imported', change.entry.scope, change.entry.reason, change.evidence)
  return 'imported', change.scope, change.entry.reason
end

local function applyChange(change)
  local at = change.at
  if change.type == 'suppress' then
    return suppress(KEYS[change.key], change.scope, change.reason, change.evidence, at)
  elseif change.type == 'countTransient' then return countTransient(change, at)
  elseif change.type == 'resetTransient' then return resetTransient(change, at)
  elseif change.type == 'lift' then return lift(change, at)
  elseif change.type == 'remove' then return remove(change)
  elseif change.type == 'restore' then return restore(change)
  elseif change.type == 'record' then
    audit('recorded', nil, nil, change.evidence)
    return 'recorded'
  end
  error('unknown change type ' .. tostring(change.type))
end

local results = {}
-- Deliveries' markers, written at the end and only where the address has transient history
-- (one key per delivered address would cost more than the list): a batch retried after a
-- bounce older than its delivery was counted must not reset that bounce on the second run.
local deliveryMarkers = {}
for n, notification in ipairs(notifications) do
  address = notification.address
  scopesKey = KEYS[notification.scopes]
  historyKey = KEYS[notification.history]
  transientKey = KEYS[notification.transient]
  liftedKey = KEYS[notification.lifted]
  globalKey = KEYS[notification.global]
  local markerKey = notification.marker and KEYS[notification.marker]
  local applied = {}
  if markerKey and (deliveryMarkers[markerKey] or redis.call('EXISTS', markerKey) == 1) then
    for i = 1, #notification.changes do applied[i] = { 'unchanged', '', '', '' } end
  else
    for i, change in ipairs(notification.changes) do
      local outcome, scope, reason, previous = applyChange(change)
      applied[i] = { outcome, scope or '', reason or '', previous or '' }
    end
    if markerKey and notification.markWithHistory then
      deliveryMarkers[markerKey] = transientKey
    elseif markerKey then
      redis.call('SET', markerKey, '1', 'EX', markerTtl)
    end
  end
  results[n] = applied
end
for markerKey, transient in pairs(deliveryMarkers) do
  if redis.call('EXISTS', transient) == 1 then redis.call('SET', markerKey, '1', 'EX', markerTtl) end
end
return results
