-- Once a second (and after each request) the supervisor of a live session
-- charges the CPU its cgroup used since the last charge to the client's
-- CPU zset, so sessions and jobs share one CPU budget (quota-lib.lua:
-- member "DIGEST:N:seconds", N the session's counter, so each charge is a
-- member of its own and a retried call charges nothing twice; the running
-- sum sr:cpusum:{C}, named from KEYS[2], takes it too), writes the
-- usage into the record, and may set the status (pause/resume). It answers
-- what the supervisor needs to end the session: status, last_used_at,
-- expires_at, idle_timeout_seconds.
-- KEYS: the record, the client's CPU zset (sr:cpu:{C})
-- ARGV: session id, runner name, now (ms), cpu seconds to charge ("0": none),
--       N, quota idle (ms), cpu_seconds (the total), memory_bytes,
--       memory_peak_bytes, status to set ("", "ready" or "paused")
-- Returns {status, last_used_at, expires_at, idle_timeout_seconds}; status
-- "gone" (no record) or "lost" (another runner's) ends the session too.
--#include session-lib.lua
--#include quota-lib.lua
local cpu = tonumber(ARGV[4])
if cpu and cpu > 0 then
  quota_charge_add(KEYS[2], ARGV[3], session_digest(ARGV[1]) .. ':' .. ARGV[5] .. ':' .. ARGV[4], ARGV[6])
end
local f = redis.call('HMGET', KEYS[1], 'status', 'runner', 'last_used_at', 'expires_at', 'idle_timeout_seconds')
if not f[1] then
  return {'gone', '0', '0', '0'}
end
if f[1] == 'ended' then
  return {'ended', f[3] or '0', f[4] or '0', f[5] or '0'}
end
if f[2] ~= ARGV[2] then
  return {'lost', '0', '0', '0'}
end
redis.call('HSET', KEYS[1], 'cpu_seconds', ARGV[7], 'memory_bytes', ARGV[8], 'memory_peak_bytes', ARGV[9])
local status = f[1]
if ARGV[10] == 'ready' or ARGV[10] == 'paused' then
  redis.call('HSET', KEYS[1], 'status', ARGV[10])
  status = ARGV[10]
end
return {status, f[3] or '0', f[4] or '0', f[5] or '0'}
