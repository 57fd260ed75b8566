--[[
Deletes the fields of one hash that still hold the values they were read with: a field changed
since (an old replica wrote it again) stays, for the next pass to move.

KEYS[1]  the hash
ARGV     field, value, field, value, ...

Returns how many fields were deleted.
]]
local deleted = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    deleted = deleted + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return deleted
