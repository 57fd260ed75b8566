--[[
Records a dimension's reputation state and says whether this call changed it, in one step: of
replicas that see the same change at once, exactly one is told, so a change is announced (logged,
sent to the webhook) once. `ok` is stored as the field's absence.

KEYS[1]  the states (hash: dimension key → warn | critical)

ARGV[1] the dimension key   ARGV[2] its new state (ok | warn | critical)

Returns the previous state (`ok` when there was none) if this call changed it, else nil.
]]
local previous = redis.call('HGET', KEYS[1], ARGV[1]) or 'ok'
if previous == ARGV[2] then return false end
if ARGV[2] == 'ok' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return previous
