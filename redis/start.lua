#!lua flags=allow-oom
-- A runner claims a queued job: queued -> running, in one step, so two
-- runners can never both start it and a cancelled or expired job never
-- starts. Every start counts one attempt (the first run is attempt 1; a
-- run again after a lost runner, redis/reclaim.lua, is attempt 2).
-- A job whose client already runs its share of the slots (fair-lib.lua)
-- is parked instead, to go back to the queue when one of its client's
-- jobs ends.
-- allow-oom: what a runner records of a job it holds must always get
-- through; it writes a few fields, and submits stop well before maxmemory.
-- The manifest is read from its own key (submit.lua), which only runners
-- may read. Every entry this takes off the queue moves the queue's "taken"
-- mark (sr:queue-seq, field "QUEUE taken") to the job's number, if higher:
-- the responders count a queued job's position from it (fcgi/jobs.c).
-- Returns {manifest, upload, client, attempt}, or nil when the job is not
-- to run now (not queued, or parked); then its queue entry is acknowledged
-- here, as there is nothing to run.
-- KEYS: job hash, upload string, queue stream, log stream
-- ARGV: runner name, started_at (ms), queue entry id, failed retention (s),
--       running max per client (0: half the fleet's slots), lease (ms)
--#include store-lib.lua
--#include fair-lib.lua
local now = tonumber(ARGV[2])
local id = string.match(KEYS[1], '^sr:{(.*)}:job$')
local manifest_key = 'sr:{' .. id .. '}:manifest'
local seq = tonumber(redis.call('HGET', KEYS[1], 'queue_seq'))
if seq and seq > (tonumber(redis.call('HGET', 'sr:queue-seq', KEYS[3] .. ' taken')) or 0) then
  redis.call('HSET', 'sr:queue-seq', KEYS[3] .. ' taken', seq)
  if redis.call('PTTL', 'sr:queue-seq') < 0 then
    redis.call('PEXPIRE', 'sr:queue-seq', math.max(redis.call('PTTL', KEYS[1]), 1000))
  end
end
local function drop_entry()
  redis.call('XACK', KEYS[3], 'runners', ARGV[3])
  redis.call('XDEL', KEYS[3], ARGV[3])
end
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then
  drop_entry()
  return nil
end
local upload = redis.call('GET', KEYS[2])
if not upload then
  -- The record outlived its upload (TTL): nothing to run. Readers waiting
  -- on the log stream learn of the end like of any other.
  redis.call('HSET', KEYS[1], 'status', 'failed', 'reason', 'internal',
             'error', 'the upload expired before a runner took the job',
             'finished_at', ARGV[2], 'store_upload', 0, 'store_log', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('DEL', manifest_key)
  local owner = redis.call('HGET', KEYS[1], 'client')
  if owner then
    redis.call('ZREM', 'sr:inflight:{' .. owner .. '}', redis.sha1hex(id))
  end
  redis.call('XADD', KEYS[4], '*', 's', 'x')
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  store_job_update(KEYS[1], id, now)
  drop_entry()
  return nil
end
local client = redis.call('HGET', KEYS[1], 'client') or ''
if client ~= '' and fair_running(client) >= fair_cap(tonumber(ARGV[5]) or 0, now, tonumber(ARGV[6]) or 15000) then
  local parked = 'sr:parked:{' .. client .. '}'
  redis.call('RPUSH', parked, id)
  redis.call('HSET', KEYS[1], 'parked', ARGV[2])
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > redis.call('PTTL', parked) then
    redis.call('PEXPIRE', parked, pttl)
  end
  drop_entry()
  return nil
end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[2], 'runner', ARGV[1])
if client ~= '' then
  fair_started(client, id, redis.call('PTTL', KEYS[1]))
end
-- (A record from before the manifest had a key of its own holds it.)
return {redis.call('GET', manifest_key) or redis.call('HGET', KEYS[1], 'manifest') or '', upload,
        client, tostring(attempt)}
