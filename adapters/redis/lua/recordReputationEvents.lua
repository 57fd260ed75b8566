--[[
Counts the events of one reputation bucket in its windows, each at most once: an event whose
first-sight marker already exists (a redelivery, a retried job, another replica) counts nothing.
A fresh event adds one to its kind in the minute bucket and, when it carries a reputation metric,
its weight to the account's, its configuration set's and its identity's series in the minute and
hour buckets. Every key is in the bucket's slot, except a marker of the previous layout (below).
The labels come already capped (lua/labelReputationNames.lua).

KEYS per event, ARGV[2] keys each: its marker, its minute bucket (hash), its hour bucket (hash),
and, where ARGV[2] is 4, its marker under the previous key layout (one server only: an event
counted there before the upgrade is not counted again)

ARGV[1] marker TTL (s)   ARGV[2] keys per event (3 or 4)
then per event, seven values: configuration-set label, identity label ('' = none), kind, metric
('' = none), weight, minute bucket EXPIREAT (s, 0 = too old to count), hour bucket EXPIREAT (s,
0 = same).

Returns per event: 1 when it was counted now, 0 when it had been before.
]]
local markerTtl = ARGV[1]
local perEvent = tonumber(ARGV[2])

local out = {}
for i = 0, #KEYS / perEvent - 1 do
  local k, a = i * perEvent, 2 + i * 7
  local counted = perEvent == 4 and redis.call('EXISTS', KEYS[k + 4]) == 1
  if not counted and redis.call('SET', KEYS[k + 1], '1', 'EX', markerTtl, 'NX') then
    local set, identity = ARGV[a + 1], ARGV[a + 2]
    local kind, metric, weight = ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5])
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
  else
    out[#out + 1] = 0
  end
end
return out
