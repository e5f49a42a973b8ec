#!lua flags=allow-oom
-- Records the end of one run of a job, in one step. What happens depends on
-- what the job record says now:
--   running on this runner: the result is recorded, the upload deleted, the
--     retention TTL set on what is left ("recorded");
--   ended without this run (cancelled, failed by redis/reclaim.lua) or gone
--     (expired, deleted, Redis restarted empty): the result is dropped
--     ("dropped");
--   taken over (queued again, or running on another runner, after this
--     runner's lease lapsed): the result is dropped and the queue entry, the
--     log and the active slot are left to the run that holds the job now
--     ("lost").
-- Unless lost, the queue entry is acknowledged here (no extra round trip,
-- no window where an ended job is still pending), the client's active slot
-- released and the end marker (s = "x") appended to the log stream, so
-- readers waiting on it wake up. In every case the run's CPU is charged to
-- the client: the member "SHA1(ID):seconds" (a digest: responders read the
-- charges, and must learn no job id from them) names the run's own figure,
-- so a call retried after a lost reply charges nothing twice.
-- The storage ledger (store-lib.lua) gets the job's real figures (the
-- runner sends store_upload 0 and the log's cost with the record), and one
-- of the client's parked jobs, if any, goes back to its queue (fair-lib.lua).
-- allow-oom: a result must always be recorded; submits stop well before
-- Redis's maxmemory, and what a running job may write was reserved.
-- KEYS: job hash, upload string, log stream, queue stream, in-flight zset, cpu zset,
--       outputs hash (stored by the runner before this call, with a provisional TTL)
-- ARGV: runner name, ttl (s), queue entry id ("" for none), job id,
--       cpu seconds ("0" for none), now (ms), quota idle (ms),
--       then field, value pairs for the job record
--#include store-lib.lua
--#include fair-lib.lua
local status = redis.call('HGET', KEYS[1], 'status')
local client = redis.call('HGET', KEYS[1], 'client')
local ours = status == 'running' and redis.call('HGET', KEYS[1], 'runner') == ARGV[1]

local cpu = tonumber(ARGV[5])
if cpu and cpu > 0 then
  redis.call('ZADD', KEYS[6], 'NX', ARGV[6], redis.sha1hex(ARGV[4]) .. ':' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[6], ARGV[7])
end
if not ours and (status == 'queued' or status == 'running') then
  return 'lost'
end
-- No run of the job starts again: its manifest goes (submit.lua), and it
-- no longer counts among its client's running jobs (fair-lib.lua).
redis.call('DEL', 'sr:{' .. ARGV[4] .. '}:manifest')
fair_stopped(client, ARGV[4])

if ARGV[3] ~= '' then
  redis.call('XACK', KEYS[4], 'runners', ARGV[3])
  redis.call('XDEL', KEYS[4], ARGV[3])
end
if redis.call('ZREM', KEYS[5], redis.sha1hex(ARGV[4])) == 1 then
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
end

if ours then
  local fields = {}
  for i = 8, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  if #fields > 0 then
    redis.call('HSET', KEYS[1], unpack(fields))
  end
  redis.call('DEL', KEYS[2])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('XADD', KEYS[3], '*', 's', 'x')
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  if KEYS[7] then
    redis.call('EXPIRE', KEYS[7], ARGV[2])
  end
  store_job_update(KEYS[1], ARGV[4], tonumber(ARGV[6]))
  fair_unpark(client)
  return 'recorded'
end

if KEYS[7] then
  redis.call('DEL', KEYS[7])    -- this run's outputs: nobody's now
end
fair_unpark(client)
if not status then
  -- Nobody can read the log of a job without a record: what this run
  -- wrote (its last flushes may have made the stream anew) goes.
  redis.call('DEL', KEYS[3])
  return 'dropped'
end
if status == 'cancelled' then
  -- The cancel deleted the log and left only its end marker: what this run
  -- wrote between the cancel and its kill goes the same way.
  redis.call('DEL', KEYS[3])
  redis.call('XADD', KEYS[3], '*', 's', 'x')
else
  local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  local f = last[1] and last[1][2]
  if not (f and f[1] == 's' and f[2] == 'x') then
    redis.call('XADD', KEYS[3], '*', 's', 'x')
  end
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('PEXPIRE', KEYS[3], pttl)
else
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
redis.call('HSET', KEYS[1], 'store_out', 0)
store_job_update(KEYS[1], ARGV[4], tonumber(ARGV[6]))
return 'dropped'
