--[[
Applies a list of notifications' suppression changes, each to its own address, in order, as one
script: one round trip for a whole SQS batch. Each notification is skipped if its marker exists
and marks itself once applied, so a batch retried after half its work, or a notification seen
again in another batch, changes nothing twice. Every key the script touches is in KEYS, and all
of a notification's keys are in its address's bucket (adopt's old hash aside): on Redis Cluster
the caller splits the list by bucket (a slot) and calls once per bucket.

An address's entries, all scopes together, are one field of its bucket's `entries` hash: a
check looks an address up once whatever the scopes, and an entry costs no key of its own.
Stored entry (times in ms; the optional fields are left out when they equal the default):
  { r = reason, f = firstAt, l = lastAt (f), n = count, e = evidence,
    t = when the evidence happened (f), x = latest evidence (e) }

KEYS     the notifications' keys, each named by its position in KEYS

ARGV[1] now (ms)   ARGV[2] marker TTL (s)   ARGV[3] history cap   ARGV[4] audit cap per bucket
ARGV[5] the reasons, strongest first (JSON)
ARGV[6] the notifications (JSON): { address, marker?, markWithHistory?, markerSeconds?, entries,
        counts, audit, history, transient, lifted, changes: [{ type, at, scope?, ... }] }, key
        fields being KEYS positions. markWithHistory: the marker is written only if the address
        has transient history once the whole list is applied (deliveries). markerSeconds: the
        marker's TTL when not ARGV[2].

Returns, per notification, per change: { outcome, scope, reason, previousReason } ('' = none),
reason being the entry's reason after the change and previousReason the one before.
]]
local now = tonumber(ARGV[1])
local markerTtl = tonumber(ARGV[2])
local historyMax = tonumber(ARGV[3])
local auditMax = tonumber(ARGV[4])
local REASONS = cjson.decode(ARGV[5])
local notifications = cjson.decode(ARGV[6])

local RANK = {}
for i, reason in ipairs(REASONS) do RANK[reason] = #REASONS - i + 1 end

-- The notification being applied: set before each one, read by the functions below.
local address, entriesKey, countsKey, auditKey, historyKey, transientKey, liftedKey

local function audit(action, scope, reason, evidence)
  local record = cjson.encode({ action = action, scope = scope, reason = reason,
    recordedAt = now, evidence = evidence })
  if redis.call('LPUSH', historyKey, record) > historyMax then
    redis.call('LTRIM', historyKey, 0, historyMax - 1)
  end
  redis.call('XADD', auditKey, 'MAXLEN', '~', auditMax, '*', 'address', address, 'record', record)
end

local function tiebreak(evidence)
  return (evidence.feedbackId or '') .. '/' .. (evidence.sesMessageId or '') .. '/' .. (evidence.note or '')
end

local function sameEvidence(a, b)
  return a.at == b.at and a.kind == b.kind and tiebreak(a) == tiebreak(b)
end

local function readRecord()
  local raw = redis.call('HGET', entriesKey, address)
  if raw then return cjson.decode(raw) end
  return {}
end

-- The scope's entry, and the address's whole record: a change writes back the record it read.
local function readEntry(scope)
  local record = readRecord()
  local s = record[scope]
  if not s then return nil, record end
  return { reason = s.r, firstAt = s.f, lastAt = s.l or s.f, count = s.n, evidence = s.e,
    evidenceAt = s.t or s.f, latest = s.x or s.e }, record
end

local function compact(entry)
  local s = { r = entry.reason, f = entry.firstAt, n = entry.count, e = entry.evidence }
  if entry.lastAt ~= entry.firstAt then s.l = entry.lastAt end
  if (entry.evidenceAt or entry.firstAt) ~= entry.firstAt then s.t = entry.evidenceAt end
  if not sameEvidence(entry.latest, entry.evidence) then s.x = entry.latest end
  return s
end

local function writeEntry(record, scope, entry, oldReason)
  record[scope] = compact(entry)
  redis.call('HSET', entriesKey, address, cjson.encode(record))
  if oldReason == entry.reason then return end
  redis.call('HINCRBY', countsKey, entry.reason, 1)
  if oldReason then redis.call('HINCRBY', countsKey, oldReason, -1) end
end

local function deleteEntry(record, scope, entry)
  record[scope] = nil
  if next(record) == nil then
    redis.call('HDEL', entriesKey, address)
  else
    redis.call('HSET', entriesKey, address, cjson.encode(record))
  end
  redis.call('HINCRBY', countsKey, entry.reason, -1)
end

-- Every field merged below is a function of the set of notifications applied, not of their
-- order: replicas racing on one address end in the state one processor would reach.

-- Whether (at, evidence) is later than the entry's latest notification.
local function isLater(entry, at, evidence)
  return at > entry.lastAt or (at == entry.lastAt and tiebreak(evidence) > tiebreak(entry.latest))
end

-- Whether (reason, at, evidence) should establish the entry's reason.
local function isStronger(entry, reason, at, evidence)
  local evidenceAt = entry.evidenceAt or entry.firstAt
  return RANK[reason] > RANK[entry.reason] or (RANK[reason] == RANK[entry.reason] and (at < evidenceAt
      or (at == evidenceAt and tiebreak(evidence) < tiebreak(entry.evidence))))
end

-- Each change function returns outcome, scope, reason after, reason before.

local function suppress(scope, reason, evidence, at)
  if reason == 'unsubscribe' then
    -- An opt-in later than this opt-out has already decided.
    local liftedAt = tonumber(redis.call('HGET', liftedKey, scope))
    if liftedAt and at <= liftedAt then return 'unchanged', scope end
  end
  local entry, record = readEntry(scope)
  if not entry then
    writeEntry(record, scope, { reason = reason, firstAt = at, lastAt = at, count = 1, evidence = evidence,
      evidenceAt = at, latest = evidence }, nil)
    audit('added', scope, reason, evidence)
    return 'added', scope, reason
  end
  local oldReason = entry.reason
  entry.count = entry.count + 1
  if at < entry.firstAt then entry.firstAt = at end
  if isLater(entry, at, evidence) then
    entry.lastAt = at
    entry.latest = evidence
  end
  if isStronger(entry, reason, at, evidence) then
    entry.reason = reason
    entry.evidence = evidence
    entry.evidenceAt = at
  end
  writeEntry(record, scope, entry, oldReason)
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
      return suppress('global', 'transient-bounces', change.evidence, at)
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
  local liftedAt = tonumber(redis.call('HGET', liftedKey, change.scope))
  if not liftedAt or at > liftedAt then redis.call('HSET', liftedKey, change.scope, at) end
  local entry, record = readEntry(change.scope)
  -- Only an unsubscribe is the subscriber's to take back, and only an older one.
  if not entry or entry.reason ~= 'unsubscribe' or entry.lastAt > at then
    return 'unchanged', change.scope, entry and entry.reason, entry and entry.reason
  end
  deleteEntry(record, change.scope, entry)
  audit('lifted', change.scope, entry.reason, change.evidence)
  return 'lifted', change.scope, nil, entry.reason
end

local function remove(change)
  local entry, record = readEntry(change.scope)
  if change.scope == 'global' then redis.call('DEL', transientKey) end
  if not entry then return 'unchanged', change.scope end
  deleteEntry(record, change.scope, entry)
  audit('removed', change.scope, entry.reason, change.evidence)
  return 'removed', change.scope, nil, entry.reason
end

local function restore(change)
  local existing, record = readEntry(change.scope)
  if existing then return 'unchanged', change.scope, existing.reason, existing.reason end
  writeEntry(record, change.scope, change.entry, nil)
  audit('imported', change.scope, change.entry.reason, change.evidence)
  return 'imported', change.scope, change.entry.reason
end

-- An entry of the layout before buckets, moved here: merged with one already written here (a
-- notification applied by a new replica while old ones still ran) as the notifications behind
-- both would have been. The old field is deleted only if it still holds what was read, so an
-- old replica's later write to it is moved by the next pass. Its history moves separately.
-- Without `legacy` (a cluster: the old hash is in another slot) the caller deletes the field
-- afterwards, and the notification's marker keeps a retry from merging it twice.
local function adopt(change)
  local old = change.entry
  old.evidenceAt = old.evidenceAt or old.firstAt
  old.latest = old.latest or old.evidence
  local entry, record = readEntry(change.scope)
  local outcome, oldReason = 'imported', nil
  if not entry then
    entry = old
  else
    outcome, oldReason = 'updated', entry.reason
    entry.count = entry.count + old.count
    if old.firstAt < entry.firstAt then entry.firstAt = old.firstAt end
    if isLater(entry, old.lastAt, old.latest) then
      entry.lastAt = old.lastAt
      entry.latest = old.latest
    end
    if isStronger(entry, old.reason, old.evidenceAt, old.evidence) then
      entry.reason = old.reason
      entry.evidence = old.evidence
      entry.evidenceAt = old.evidenceAt
    end
  end
  writeEntry(record, change.scope, entry, oldReason)
  local legacyKey = change.legacy and KEYS[change.legacy]
  if legacyKey and redis.call('HGET', legacyKey, address) == change.raw then
    redis.call('HDEL', legacyKey, address)
  end
  return outcome, change.scope, entry.reason, oldReason
end

local function applyChange(change)
  local at = change.at
  if change.type == 'suppress' then return suppress(change.scope, change.reason, change.evidence, at)
  elseif change.type == 'countTransient' then return countTransient(change, at)
  elseif change.type == 'resetTransient' then return resetTransient(change, at)
  elseif change.type == 'lift' then return lift(change, at)
  elseif change.type == 'remove' then return remove(change)
  elseif change.type == 'restore' then return restore(change)
  elseif change.type == 'adopt' then return adopt(change)
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
  entriesKey = KEYS[notification.entries]
  countsKey = KEYS[notification.counts]
  auditKey = KEYS[notification.audit]
  historyKey = KEYS[notification.history]
  transientKey = KEYS[notification.transient]
  liftedKey = KEYS[notification.lifted]
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
      redis.call('SET', markerKey, '1', 'EX', notification.markerSeconds or markerTtl)
    end
  end
  results[n] = applied
end
for markerKey, transient in pairs(deliveryMarkers) do
  if redis.call('EXISTS', transient) == 1 then redis.call('SET', markerKey, '1', 'EX', markerTtl) end
end
return results
