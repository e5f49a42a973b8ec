-- A client's usage, for GET /stats and the RateLimit headers.
-- KEYS: active set, cpu zset
-- ARGV: now (ms), window (ms), cpu limit (s)
-- Returns {used (string), active, reset ms, retry ms}
--#include quota-lib.lua
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used, reset, retry = quota_cpu(KEYS[2], now, window, limit)
return {tostring(used), quota_active(KEYS[1]), reset, retry}
