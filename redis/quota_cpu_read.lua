#!lua flags=no-writes
-- The RateLimit headers' read of the client's CPU window (fcgi/quota.c
-- sends it ahead of the route's first command, one round trip for both):
-- quota-lib.lua's quota_cpu figures without a write, O(1) in the number of
-- charges: the running sum and the oldest charge (quota_cpu_peek). Only
-- when the sum does not describe the zset (expired, never written) or a
-- charge has left the window and no write script has pruned it yet does
-- it sum the window's charges. no-writes: it runs as a read (EVALSHA_RO
-- too), also while Redis is over its maxmemory, and prunes nothing.
-- The sum sr:cpusum:{C} is named from KEYS[1] (quota-lib.lua's key_cpusum).
-- KEYS: the client's cpu zset
-- ARGV: now (ms), window (ms)
-- Returns {micro-seconds used (string), reset ms}
--#include quota-lib.lua
local us, reset = quota_cpu_peek(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
return {string.format('%.0f', us), reset}
