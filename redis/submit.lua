#!lua
-- Admits a job and queues it in one atomic step, whatever the number of
-- responders: the client's quota is checked and reserved, and the job is
-- either wholly accepted (record, manifest, upload, queue entry and number,
-- in-flight slot, storage reserved) or not at all.
-- The manifest (env values included) goes in a key of its own, which a
-- responder may write but not read (redis/users.acl.in): only the runner
-- reads it (start.lua). The record gets the timeout, which the responders
-- need (fcgi/stream.c), as a field.
-- The shebang line matters: a script with flags is refused whole, before
-- it runs, while Redis is over its maxmemory (a legacy script is checked
-- only at its first write that may grow memory, and this one starts with a
-- ZREMRANGEBYSCORE, which never counts as one). No allow-oom: clients'
-- submits are the first thing refused under memory pressure.
-- KEYS: job hash, upload string, queue stream (sr:queue, or a GPU runner's), client's in-flight zset,
--       client's cpu zset, client's storage ledger, the uploads in flight (sr:uploading),
--       manifest string, the queues' numbers (sr:queue-seq), the counters (sr:metrics: metrics-lib.lua)
-- ARGV: id, canonical manifest, client, submitted_at (ms), upload bytes, ttl (s),
--       jobs max, cpu limit (s), window (ms), quota idle (ms),
--       log reservation (bytes), record reservation (bytes), storage quota (bytes),
--       high-water mark (percent of maxmemory), the upload's size, "check" or "record",
--       the timeout (s)
-- With "check", nothing is recorded: the same verdict for an upload of that
-- size, sent without the upload (ARGV[5] empty). The responder asks first,
-- so that an upload that would be refused never passes through Redis's
-- memory (a script's arguments sit there twice while it runs, and a
-- connection's buffer keeps their room for a while after).
-- Each queue has a counter (sr:queue-seq, field = the queue's key): the
-- job's number in its queue is kept in its record (queue_seq), from which
-- the responders tell its queue_position without reading the queue.
-- What a responder reads per client names jobs by digest (store-lib.lua's
-- store_digest): the in-flight zset, the ledger, the uploads in flight.
-- Returns {"ok", used, active} or {"cpu", used, retry ms} or {"jobs", active, 0}
--   or {"storage", bytes used, retry ms (-1: never)} or {"memory", used_memory, maxmemory}
--#include store-lib.lua
--#include quota-lib.lua
--#include metrics-lib.lua
local now, limit, window = tonumber(ARGV[4]), tonumber(ARGV[8]), tonumber(ARGV[9])
local check = ARGV[16] == 'check'
local digest = store_digest(ARGV[1])
if not check then
  redis.call('HDEL', KEYS[7], digest)   -- its check's entry: the upload is here now
end
local used, _, retry = quota_cpu(KEYS[5], now, window, limit)
if used >= limit then
  return {'cpu', tostring(used), retry}
end
local active = quota_active(KEYS[4], now)
if active >= tonumber(ARGV[7]) then
  return {'jobs', tostring(active), 0}
end
local upload_bytes, log_bytes, base_bytes = tonumber(ARGV[15]), tonumber(ARGV[11]), tonumber(ARGV[12])
local need = upload_bytes + log_bytes + base_bytes
local stored = store_used(KEYS[6], now)
if stored + need > tonumber(ARGV[13]) then
  return {'storage', tostring(stored), store_retry(KEYS[6], stored, need, tonumber(ARGV[13]), now)}
end
-- Redis's memory, at the submit's peak: asked before the upload is sent
-- (check), three copies of it, and those of the uploads admitted but not
-- yet recorded (KEYS[7], the same "BYTES EXPIRY_MS" form as a ledger, and
-- like it keyed by digest: reading it names no job; a responder that dies
-- in between frees its entry in 30 s); when it is recorded, the upload's
-- first two copies are in used_memory already.
local inflight = store_used_scan(KEYS[7], now)
local peak = check and (3 * upload_bytes + log_bytes + base_bytes + inflight) or need
local over, mem_used, mem_max = store_memory_over(peak, tonumber(ARGV[14]))
if over then
  return {'memory', tostring(mem_used), mem_max}
end
if check then
  if upload_bytes > 65536 then
    redis.call('HSET', KEYS[7], digest, string.format('%.0f %.0f', 3 * upload_bytes, now + 30000))
    redis.call('PEXPIRE', KEYS[7], 30000)
  end
  return {'ok', tostring(used), active}
end
if #ARGV[5] ~= upload_bytes then
  return redis.error_reply('ERR the upload is not the size checked')
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR job id collision')
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'timeout', ARGV[17],
           'client', ARGV[3], 'submitted_at', ARGV[4],
           'store_upload', upload_bytes, 'store_log', log_bytes, 'store_out', 0, 'store_base', base_bytes)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
redis.call('SET', KEYS[8], ARGV[2], 'EX', ARGV[6])
local seq = redis.call('HINCRBY', KEYS[9], KEYS[3], 1)
if redis.call('PTTL', KEYS[9]) < tonumber(ARGV[6]) * 1000 then
  redis.call('EXPIRE', KEYS[9], ARGV[6])   -- it outlives every job it numbered
end
-- the entry names the client too: the runner's claim (start.lua) needs no read of the record first
redis.call('XADD', KEYS[3], '*', 'id', ARGV[1], 'client', ARGV[3])
redis.call('HSET', KEYS[1], 'queue', KEYS[3], 'queue_seq', seq)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]) * 1000, digest)
redis.call('PEXPIRE', KEYS[4], ARGV[10])
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('PEXPIRE', KEYS[5], ARGV[10])
  redis.call('PEXPIRE', key_cpusum(KEYS[5]), ARGV[10])   -- its running sum (quota-lib.lua) with it
end
store_job_update(KEYS[1], KEYS[6], ARGV[1], now)
metrics_count(KEYS[10], 'jobs_submitted')
return {'ok', tostring(used), active + 1}
