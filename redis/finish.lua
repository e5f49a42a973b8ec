#!lua flags=allow-oom
-- Records the end of one run of a job, in one step. What happens depends on
-- what the job record says now:
--   running on this runner: the result is recorded, the upload and the
--     manifest deleted, the retention TTL set on what is left ("recorded");
--   ended without this run (cancelled, failed by redis/reclaim.lua) or gone
--     (expired, deleted, Redis restarted empty): the result is dropped
--     ("dropped");
--   taken over (queued again, or running on another runner, after this
--     runner's lease lapsed): the result is dropped and the queue entry, the
--     log and the in-flight slot are left to the run that holds the job now
--     ("lost").
-- Unless lost, the queue entry is acknowledged here (no extra round trip,
-- no window where an ended job is still pending), the job leaves its
-- client's in-flight zset and running set, its manifest goes (no run of it
-- starts again) and the end marker (s = "x") is appended to the log stream,
-- so readers waiting on it wake up. In every case the run's CPU is charged
-- to the client: the member "DIGEST:seconds" (store-lib.lua's store_digest,
-- not the id: responders read the charges, and must learn no job id from
-- them) names the run's own figure, so a call retried after a lost reply
-- charges nothing twice; the client's running CPU sum (sr:cpusum:{C}, named
-- from KEYS[6]: quota-lib.lua) takes it in the same step.
-- The storage ledger (store-lib.lua) gets the job's real figures (the
-- runner sends store_upload 0 and the log's cost with the record), and one
-- of the client's parked jobs, if any, goes back to its queue (fair-lib.lua).
-- allow-oom: a result must always be recorded; submits stop well before
-- Redis's maxmemory, and what a running job may write was reserved.
-- The end itself is job-lib.lua's job_end, as for a cancel or a failure.
-- KEYS: job hash, upload string, log stream, queue stream, client's in-flight zset, client's cpu zset,
--       outputs hash (stored by the runner before this call, with a provisional TTL),
--       client's parked list, client's storage ledger, manifest string, client's running set,
--       the queues' numbers (sr:queue-seq), the counters (sr:metrics: metrics-lib.lua)
-- ARGV: runner name, ttl (s), queue entry id ("" for none), job id,
--       cpu seconds ("0" for none), now (ms), quota idle (ms), the client (from the claim),
--       then field, value pairs for the job record
--#include store-lib.lua
--#include metrics-lib.lua
--#include job-lib.lua
--#include fair-lib.lua
--#include quota-lib.lua
local status = redis.call('HGET', KEYS[1], 'status')
local mine = job_client_is(KEYS[1], ARGV[8])
local ours = status == 'running' and redis.call('HGET', KEYS[1], 'runner') == ARGV[1]

local cpu = tonumber(ARGV[5])
if cpu and cpu > 0 then
  quota_charge_add(KEYS[6], ARGV[6], store_digest(ARGV[4]) .. ':' .. ARGV[5], ARGV[7])
end
if not ours and (status == 'queued' or status == 'running') then
  return 'lost'
end

job_entry_drop(KEYS[4], ARGV[3])
if redis.call('ZREM', KEYS[5], store_digest(ARGV[4])) == 1 then
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
end
fair_stopped(KEYS[11], ARGV[4])

if ours then
  local fields = {}
  for i = 9, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  job_end({job = KEYS[1], upload = KEYS[2], manifest = KEYS[10], log = KEYS[3], inflight = KEYS[5],
           store = KEYS[9], metrics = KEYS[13]},
          ARGV[4], mine, tonumber(ARGV[6]), ARGV[2], fields)
  redis.call('EXPIRE', KEYS[7], ARGV[2])
  if mine then
    fair_unpark(KEYS[8], KEYS[12])
  end
  return 'recorded'
end

redis.call('DEL', KEYS[7])    -- this run's outputs: nobody's now
redis.call('DEL', KEYS[10])   -- its manifest: no run of the job starts again
if mine then
  fair_unpark(KEYS[8], KEYS[12])
end
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
  job_log_mark(KEYS[3])
elseif not job_log_ended(KEYS[3]) then
  job_log_mark(KEYS[3])
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('PEXPIRE', KEYS[3], pttl)
else
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
redis.call('HSET', KEYS[1], 'store_out', 0)
if mine then
  store_job_update(KEYS[1], KEYS[9], ARGV[4], tonumber(ARGV[6]))
end
return 'dropped'
