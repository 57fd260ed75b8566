--[[
Merges a patch into an address's SES sync record in one step, so two replicas updating different
fields of one record at once keep both.

KEYS[1]  the records (hash: address → JSON record)

ARGV[1] the address   ARGV[2] the patch (JSON object)   ARGV[3] the record to start from when
there is none (JSON object)
]]
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local record = raw and cjson.decode(raw) or cjson.decode(ARGV[3])
for key, value in pairs(cjson.decode(ARGV[2])) do record[key] = value end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
