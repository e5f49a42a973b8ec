#!lua
-- POST /sessions: admits a new session and asks the runners for a sandbox,
-- in one atomic step (docs/sessions.md, "Create"). The client may hold
-- sessions_per_client live sessions (its zset sr:sessions:{C}, members the
-- digests of their ids, scored with when each expires at the latest);
-- Redis must be under its high-water mark; a workspace to start from must
-- exist. Then the record (status starting) and the create entry in the
-- environment's pool list, which a warm supervisor pops (the responder may
-- write that list, never read it: the entry holds the env values).
-- No allow-oom: a client's new session is refused whole, before it runs,
-- while Redis is over its maxmemory (as submit.lua).
-- KEYS: record, pool list (sr:sespool:ENV), client's sessions zset, the counters (sr:metrics:
--       metrics-lib.lua), [workspace string]
-- ARGV: session id, client, now (ms), ttl (s), idle timeout (s), environment, memory (MB),
--       create entry (JSON), sessions per client, high-water percent, record cost (bytes),
--       quota idle (ms), pool entry lifetime (ms), workspace id ("" for none)
-- Returns {"ok", live sessions} or {"sessions", live sessions, ms until the first may end}
--   or {"memory", used_memory, maxmemory} or {"workspace", 0, 0}
--#include store-lib.lua
--#include metrics-lib.lua
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local live = redis.call('ZCARD', KEYS[3])
if live >= tonumber(ARGV[9]) then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  local retry = first[2] and math.max(tonumber(first[2]) - now, 1000) or 1000
  return {'sessions', live, retry}
end
local over, mem_used, mem_max = store_memory_over(tonumber(ARGV[11]), tonumber(ARGV[10]))
if over then
  return {'memory', tostring(mem_used), mem_max}
end
if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 0 then
  return {'workspace', 0, 0}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR session id collision')
end
local expires = now + ttl * 1000
metrics_count(KEYS[4], 'sessions_created')
redis.call('HSET', KEYS[1], 'status', 'starting', 'client', ARGV[2], 'environment', ARGV[6],
           'memory_mb', ARGV[7], 'ttl_seconds', ARGV[4], 'idle_timeout_seconds', ARGV[5],
           'created_at', ARGV[3], 'last_used_at', ARGV[3], 'expires_at', string.format('%.0f', expires),
           'workspace_id', ARGV[14], 'cpu_seconds', 0, 'memory_bytes', 0, 'memory_peak_bytes', 0)
redis.call('EXPIRE', KEYS[1], ttl + 600)
redis.call('ZADD', KEYS[3], expires, redis.sha1hex(ARGV[1]))
-- the zset outlives every session it counts, and an idle client's figures
local keep = math.max(tonumber(ARGV[12]), (ttl + 600) * 1000)
if redis.call('PTTL', KEYS[3]) < keep then
  redis.call('PEXPIRE', KEYS[3], keep)
end
redis.call('RPUSH', KEYS[2], ARGV[8])
-- entries older than a create's wait are for records no longer starting: the list may go with them
redis.call('PEXPIRE', KEYS[2], ARGV[13])
return {'ok', live + 1}
