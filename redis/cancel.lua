#!lua flags=allow-oom
-- DELETE /jobs/{id}. A queued job is cancelled (it will never start: the
-- runner's claim needs "queued"); a running one too, and its runner, which
-- checks its job's status every 250 ms, kills the whole sandbox. Its
-- upload, manifest and logs are deleted at once, its in-flight slot
-- released; the record stays briefly, saying "cancelled". A job that
-- already ended is deleted whole. The end marker on the log stream wakes
-- anyone waiting on the job.
-- The storage ledger (store-lib.lua) keeps only the short-lived record.
-- The running job's place in its client's running set is left to the
-- runner's finish.lua: a responder may not touch that set.
-- allow-oom: a cancel frees memory; it must work when Redis is full.
-- KEYS: job hash, upload string, log stream, client's in-flight zset, outputs hash, downloads set,
--       client's storage ledger, manifest string, the counters (sr:metrics: metrics-lib.lua)
-- ARGV: id, now (ms), ttl of the cancelled record (s), the client the caller read from the record
-- Returns the status the job had, or nil when there is no such job.
--#include store-lib.lua
--#include metrics-lib.lua
--#include job-lib.lua
local st = redis.call('HGET', KEYS[1], 'status')
if not st then
  return nil
end
local mine = job_client_is(KEYS[1], ARGV[4])
-- Two DELs: the upload and the manifest fall under an ACL rule of their
-- own for a responder (job-lib.lua's job_inputs_drop says why).
job_inputs_drop(KEYS[2], KEYS[8])
redis.call('DEL', KEYS[3], KEYS[5], KEYS[6])
redis.call('ZREM', KEYS[4], store_digest(ARGV[1]))
if st == 'queued' or st == 'running' then
  job_end({job = KEYS[1], upload = KEYS[2], manifest = KEYS[8], log = KEYS[3], inflight = KEYS[4],
           store = KEYS[7], metrics = KEYS[9]},
          ARGV[1], mine, tonumber(ARGV[2]), ARGV[3],
          {'status', 'cancelled', 'reason', 'cancelled', 'finished_at', ARGV[2],
           'error', 'cancelled by its submitter (DELETE /jobs)',
           'store_upload', 0, 'store_log', 0, 'store_out', 0})
else
  if mine then
    store_job_drop(KEYS[7], ARGV[1], tonumber(ARGV[2]))
  end
  redis.call('DEL', KEYS[1])
end
return st
