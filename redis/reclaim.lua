#!lua flags=allow-oom
-- A runner took over a queue entry left idle for LEASE_MS (XAUTOCLAIM): the
-- runner that held it is dead or cut off from Redis, and has killed its
-- sandbox by then (it stops a job it can no longer renew the lease of a
-- margin before the lease ends). Decides, in one step, what becomes of
-- the job:
--   queued (its runner died before starting it): "run", as it is;
--   running, fewer than ARGV[4] attempts started: back to queued, its
--     upload and manifest kept and the lost run's output dropped, "run":
--     the caller starts it through redis/start.lua like any queued job,
--     which counts the new attempt;
--   running, every attempt used: failed with reason internal, "failed"
--     (job-lib.lua's job_end: the upload and the manifest go);
--   anything else (ended, cancelled, gone): nothing to run, "gone".
-- A job that was running leaves its client's running set (fair-lib.lua).
-- The entry is acknowledged here unless the answer is "run".
-- A failed job's client gets its next parked job back in the queue
-- (fair-lib.lua), and the ledger loses the upload (store-lib.lua).
-- allow-oom: what becomes of a lost runner's job must always be recorded.
-- KEYS: job hash, queue stream, log stream, upload string, client's in-flight zset,
--       client's parked list, client's storage ledger, manifest string, client's running set,
--       the queues' numbers (sr:queue-seq), the counters (sr:metrics: metrics-lib.lua)
-- ARGV: job id, now (ms), queue entry id, attempts max, failed retention (s),
--       the client the caller read from the record
--#include store-lib.lua
--#include metrics-lib.lua
--#include job-lib.lua
--#include fair-lib.lua
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
  return 'run'
end
if status ~= 'running' then
  job_entry_drop(KEYS[2], ARGV[3])
  return 'gone'
end
fair_stopped(KEYS[9], ARGV[1])
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts')) or 1
if attempts < tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'queued')
  redis.call('HDEL', KEYS[1], 'runner', 'started_at')
  redis.call('DEL', KEYS[3])
  return 'run'
end
local mine = job_client_is(KEYS[1], ARGV[6])
job_end({job = KEYS[1], upload = KEYS[4], manifest = KEYS[8], log = KEYS[3], inflight = KEYS[5],
         store = KEYS[7], metrics = KEYS[11]},
        ARGV[1], mine, tonumber(ARGV[2]), ARGV[5],
        {'status', 'failed', 'reason', 'internal', 'finished_at', ARGV[2],
         'error', 'the runner running this job was lost (attempted ' .. attempts .. ' times)',
         'store_upload', 0})
if mine then
  fair_unpark(KEYS[6], KEYS[10])
end
job_entry_drop(KEYS[2], ARGV[3])
return 'failed'
