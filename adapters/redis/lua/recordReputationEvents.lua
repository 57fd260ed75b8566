--[[
Counts a metrics job's events in the reputation windows, each at most once: an event whose
first-sight marker already exists (a redelivery, a retried job, another replica) counts nothing.
A fresh event adds one to its kind in the minute bucket and, when it carries a reputation metric,
its weight to the account's, its configuration set's and its identity's series in the minute and
hour buckets. Configuration-set and identity names are capped globally by two sets ordered by last
use: before a new name takes a place, names unused for the retention are forgotten; past the cap
a new name counts under the `other` label.

KEYS[1]  configuration-set names (zset, by last use)
KEYS[2]  identity names (zset, by last use)
KEYS[3..] per event, three keys: its marker, its minute bucket (hash), its hour bucket (hash)

ARGV[1] marker TTL (s)   ARGV[2] configuration-set cap   ARGV[3] identity cap   ARGV[4] now (ms)
ARGV[5] name retention (ms)   ARGV[6] the label of "no configuration set"   ARGV[7] the label
of names past a cap (both from domain/labels.ts, never stored in a name set)
then per event, seven values: configuration set ('' = none), identity ('' = none), kind, metric
('' = none), weight, minute bucket EXPIREAT (s, 0 = too old to count), hour bucket EXPIREAT (s,
0 = same).

Returns per event, three values: fresh (0|1), configuration-set label, identity label ('' =
none).
]]
local markerTtl = ARGV[1]
local caps = { tonumber(ARGV[2]), tonumber(ARGV[3]) }
local now = tonumber(ARGV[4])
local forgetBefore = now - tonumber(ARGV[5])
local NONE, OTHER = ARGV[6], ARGV[7]
local pruned = {}
local function label(set, value)
  if value == '' or value == NONE or value == OTHER then return value end
  local key = KEYS[set]
  if redis.call('ZSCORE', key, value) then
    redis.call('ZADD', key, now, value)
    return value
  end
  if not pruned[set] then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. forgetBefore)
    pruned[set] = true
  end
  if redis.call('ZCARD', key) < caps[set] then
    redis.call('ZADD', key, now, value)
    return value
  end
  return OTHER
end

local out = {}
for i = 0, (#KEYS - 2) / 3 - 1 do
  local k, a = 2 + i * 3, 7 + i * 7
  if redis.call('SET', KEYS[k + 1], '1', 'EX', markerTtl, 'NX') then
    local set = label(1, ARGV[a + 1])
    if set == '' then set = NONE end
    local kind, metric, weight = ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5])
    local identity = ''
    if metric ~= '' then identity = label(2, ARGV[a + 2]) end
    for b = 1, 2 do
      local key, expireAt = KEYS[k + 1 + b], tonumber(ARGV[a + 5 + b])
      if expireAt > 0 then
        if b == 1 then redis.call('HINCRBY', key, 'kind|' .. kind, 1) end
        if metric ~= '' then
          redis.call('HINCRBY', key, 'account|' .. metric, weight)
          redis.call('HINCRBY', key, 'configurationSet=' .. set .. '|' .. metric, weight)
          if identity ~= '' then
            redis.call('HINCRBY', key, 'identity=' .. identity .. '|' .. metric, weight)
          end
        end
        redis.call('EXPIREAT', key, expireAt)
      end
    end
    out[#out + 1] = 1
    out[#out + 1] = set
    out[#out + 1] = identity
  else
    out[#out + 1] = 0
    out[#out + 1] = ''
    out[#out + 1] = ''
  end
end
return out
