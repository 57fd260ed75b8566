--[[
Reserves the next request slot of a rate shared by every replica: each caller gets a distinct
time at least `spacing` after the previous one. Redis's clock decides, so replicas with skewed
clocks still take distinct turns.

KEYS[1]  the next free slot (ms, Redis time)   ARGV[1] the spacing (ms)

Returns how long the caller waits for its slot (ms).
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local spacing = tonumber(ARGV[1])
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, next)
redis.call('SET', KEYS[1], slot + spacing, 'PX', spacing * 2 + 1000)
return slot - now
