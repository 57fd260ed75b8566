--[[
Releases a lock only if this holder still has it: one that lapsed and was taken by another
replica is not released from under it.

KEYS[1]  the lock   ARGV[1] the holder's token

Returns 1 if released, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
