--[[
Appends to a list the records it does not hold yet, then caps it: a history moved again (a pass
retried after its copy, before the old key's delete) gains nothing twice.

KEYS[1]   the list
ARGV[1]   the cap
ARGV[2..] the records, in list order (newest first)

Returns how many records were appended.
]]
local held = {}
for _, record in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do held[record] = true end
local appended = 0
for i = 2, #ARGV do
  if not held[ARGV[i]] then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    held[ARGV[i]] = true
    appended = appended + 1
  end
end
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
return appended
