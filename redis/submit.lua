-- Admits a job and queues it in one atomic step, whatever the number of
-- responders: the client's quota is checked and reserved, and the job is
-- either wholly accepted (record, upload, queue entry, active slot) or not
-- at all.
-- KEYS: job hash, upload string, queue stream (sr:queue, or a GPU runner's), client's active set,
--       client's cpu zset
-- ARGV: id, canonical manifest, client, submitted_at (ms), upload bytes, ttl (s),
--       jobs max, cpu limit (s), window (ms), quota idle (ms)
-- Returns {"ok", used, active} or {"cpu", used, retry ms} or {"jobs", active, 0}
--#include quota-lib.lua
local now, limit, window = tonumber(ARGV[4]), tonumber(ARGV[8]), tonumber(ARGV[9])
local used, _, retry = quota_cpu(KEYS[5], now, window, limit)
if used >= limit then
  return {'cpu', tostring(used), retry}
end
local active = quota_active(KEYS[4])
if active >= tonumber(ARGV[7]) then
  return {'jobs', tostring(active), 0}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR job id collision')
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'manifest', ARGV[2],
           'client', ARGV[3], 'submitted_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
local entry = redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'queue', KEYS[3], 'queue_entry', entry)
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[10])
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('PEXPIRE', KEYS[5], ARGV[10])
end
return {'ok', tostring(used), active + 1}
