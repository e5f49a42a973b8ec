#!lua flags=allow-oom
-- A runner took over a queue entry left idle for LEASE_MS (XAUTOCLAIM): the
-- runner that held it is dead or cut off from Redis, and has killed its
-- sandbox by then (it stops a job it can no longer renew the lease of a
-- margin before the lease ends). Decides, in one step, what becomes of
-- the job:
--   queued (its runner died before starting it): "run", as it is;
--   running, fewer than ARGV[4] attempts started: back to queued, its
--     upload kept and the lost run's output dropped, "run": the caller
--     starts it through redis/start.lua like any queued job, which counts
--     the new attempt;
--   running, every attempt used: failed with reason internal, "failed";
--   anything else (ended, cancelled, gone): nothing to run, "gone".
-- The entry is acknowledged here unless the answer is "run".
-- A failed job's client gets its next parked job back in the queue
-- (fair-lib.lua), and the ledger loses the upload (store-lib.lua).
-- allow-oom: what becomes of a lost runner's job must always be recorded.
-- KEYS: job hash, queue stream, log stream, upload string, in-flight zset
-- ARGV: job id, now (ms), queue entry id, attempts max, failed retention (s),
--       the client the caller read from the record (for the in-flight zset)
--#include store-lib.lua
--#include fair-lib.lua
local function drop_entry()
  redis.call('XACK', KEYS[2], 'runners', ARGV[3])
  redis.call('XDEL', KEYS[2], ARGV[3])
end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
  return 'run'
end
if status ~= 'running' then
  drop_entry()
  return 'gone'
end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts')) or 1
fair_stopped(redis.call('HGET', KEYS[1], 'client'), ARGV[1])
if attempts < tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'queued')
  redis.call('HDEL', KEYS[1], 'runner', 'started_at')
  redis.call('DEL', KEYS[3])
  return 'run'
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'reason', 'internal', 'finished_at', ARGV[2],
           'error', 'the runner running this job was lost (attempted ' .. attempts .. ' times)')
redis.call('DEL', KEYS[4], 'sr:{' .. ARGV[1] .. '}:manifest')
redis.call('HSET', KEYS[1], 'store_upload', 0)
redis.call('EXPIRE', KEYS[1], ARGV[5])
store_job_update(KEYS[1], ARGV[1], tonumber(ARGV[2]))
fair_unpark(redis.call('HGET', KEYS[1], 'client'))
redis.call('XADD', KEYS[3], '*', 's', 'x')
redis.call('EXPIRE', KEYS[3], ARGV[5])
if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'client') == ARGV[6] then
  redis.call('ZREM', KEYS[5], redis.sha1hex(ARGV[1]))
end
drop_entry()
return 'failed'
