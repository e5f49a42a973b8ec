#!lua flags=allow-oom
-- A client's usage, for GET /stats and the RateLimit headers.
-- allow-oom: it only drops what has expired, and must answer when Redis is full.
-- KEYS: client's in-flight zset, cpu zset, storage ledger
-- ARGV: now (ms), window (ms), cpu limit (s)
-- Returns {used (string), active, reset ms, retry ms, storage bytes held}
--#include store-lib.lua
--#include quota-lib.lua
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used, reset, retry = quota_cpu(KEYS[2], now, window, limit)
local stored = store_used(KEYS[3], now)
return {tostring(used), quota_active(KEYS[1], now), reset, retry, stored}
