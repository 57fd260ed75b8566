--[[
The labels of configuration-set or identity names, capped globally by a set ordered by last use:
a name in the set keeps its label and its use is noted; before a new name takes a place, names
unused for the retention are forgotten; past the cap a new name is labelled `other`.

KEYS[1]  the names (zset, by last use)

ARGV[1] cap   ARGV[2] now (ms)   ARGV[3] name retention (ms)   ARGV[4] the label of "no
configuration set"   ARGV[5] the label of names past a cap (both from domain/labels.ts, never
stored as a name)   ARGV[6..] the names

Returns each name's label, in order.
]]
local key, cap, now = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local forgetBefore = now - tonumber(ARGV[3])
local NONE, OTHER = ARGV[4], ARGV[5]
local pruned = false

local out = {}
for i = 6, #ARGV do
  local name = ARGV[i]
  local label = OTHER
  if name == '' or name == NONE or name == OTHER then
    label = name
  elseif redis.call('ZSCORE', key, name) then
    redis.call('ZADD', key, now, name)
    label = name
  else
    if not pruned then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. forgetBefore)
      pruned = true
    end
    if redis.call('ZCARD', key) < cap then
      redis.call('ZADD', key, now, name)
      label = name
    end
  end
  out[#out + 1] = label
end
return out
