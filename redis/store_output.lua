#!lua flags=allow-oom
-- Keeps one output file of a job, if its client's storage quota and Redis's
-- memory allow (store-lib.lua): reserved and written in one step, so what
-- is stored is always paid for. An output refused here is listed as not
-- kept, and the job fails with reason output_limit (runner/job.c).
-- allow-oom: the script checks memory itself, against the results mark,
-- which is below maxmemory so that logs, records and heartbeats always fit.
-- KEYS: job hash, outputs hash, client's storage ledger
-- ARGV: job id, path, bytes, now (ms), ttl (s), storage quota (bytes),
--       results mark (percent of maxmemory), "1" for the job's first output
--       (what an earlier run stored goes), cost per output (bytes),
--       the client (from the claim)
-- Returns "ok", "quota" (the client's storage quota; also when the record
-- names another client than the ledger given: nothing can pay for it),
-- "full" (Redis's memory) or "gone" (no record: nothing to keep it for).
--#include store-lib.lua
local client = redis.call('HGET', KEYS[1], 'client')
if not client then
  return 'gone'
end
if client ~= ARGV[10] then
  return 'quota'
end
if ARGV[8] == '1' then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'store_out', 0)
  store_job_update(KEYS[1], KEYS[3], ARGV[1], tonumber(ARGV[4]))
end
local now, need = tonumber(ARGV[4]), #ARGV[2] + #ARGV[3] + tonumber(ARGV[9])
local used = store_used(KEYS[3], now)
if used + need > tonumber(ARGV[6]) then
  return 'quota'
end
if store_memory_over(need, tonumber(ARGV[7])) then
  return 'full'
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[1], 'store_out', need)
store_job_update(KEYS[1], KEYS[3], ARGV[1], now)
return 'ok'
