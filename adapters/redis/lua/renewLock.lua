--[[
Extends a lock only if this holder still has it.

KEYS[1]  the lock   ARGV[1] the holder's token   ARGV[2] the new time to live (ms)

Returns 1 if renewed, else 0 (the lock lapsed and someone else may hold it: stop).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
