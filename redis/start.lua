#!lua flags=allow-oom
-- A runner claims a queued job: queued -> running, in one step, so two
-- runners can never both start it and a cancelled or expired job never
-- starts. Every start counts one attempt (the first run is attempt 1; a
-- run again after a lost runner, redis/reclaim.lua, is attempt 2).
-- A job whose client already runs its share of the slots (fair-lib.lua)
-- is parked instead, to go back to the queue when one of its client's
-- jobs ends; a job that starts joins its client's running set.
-- allow-oom: what a runner records of a job it holds must always get
-- through; it writes a few fields, and submits stop well before maxmemory.
-- The manifest is read from its own key (submit.lua), which only runners
-- may read. Every entry this takes off the queue moves the queue's "taken"
-- mark (sr:queue-seq, field "QUEUE taken") to the job's number, if higher:
-- the responders count a queued job's position from it (fcgi/jobs.c).
-- Returns {manifest, upload, client, attempt}, or nil when the job is not
-- to run now (not queued, or parked, or failed here because its upload
-- expired: job-lib.lua's job_end); then its queue entry is acknowledged
-- here, as there is nothing to run.
-- KEYS: job hash, upload string, queue stream, log stream, client's in-flight zset,
--       client's parked list, client's storage ledger, the runners' heartbeats (sr:runners),
--       manifest string, client's running set, the queues' numbers (sr:queue-seq), the counters (sr:metrics: metrics-lib.lua)
-- ARGV: runner name, started_at (ms), queue entry id, failed retention (s),
--       running max per client (0: half the fleet's slots), lease (ms), job id,
--       the client: the one its queue entry named (submit.lua writes it
--       there, so a claim needs no read of the record first), or the one
--       the caller read from the record ("" for none, or one that names no
--       quota key)
-- The client is checked against the record before anything depends on it:
-- when a non-empty one is not the record's (the entry named another, or
-- none and the caller guessed), the reply is {"client"} and nothing has
-- changed but the "taken" mark; the caller reads the record's client and
-- calls again with it.
--#include store-lib.lua
--#include metrics-lib.lua
--#include job-lib.lua
--#include fair-lib.lua
local now, id = tonumber(ARGV[2]), ARGV[7]
-- one read of the record for what the claim needs of it
local rec = redis.call('HMGET', KEYS[1], 'queue_seq', 'status', 'client')
local seq = tonumber(rec[1])
if seq and seq > (tonumber(redis.call('HGET', KEYS[11], KEYS[3] .. ' taken')) or 0) then
  redis.call('HSET', KEYS[11], KEYS[3] .. ' taken', seq)
  if redis.call('PTTL', KEYS[11]) < 0 then
    redis.call('PEXPIRE', KEYS[11], math.max(redis.call('PTTL', KEYS[1]), 1000))
  end
end
if rec[2] ~= 'queued' then
  job_entry_drop(KEYS[3], ARGV[3])
  return nil
end
-- (the upload first: a caller that may not read it, a responder, is refused here whatever it says)
local upload = redis.call('GET', KEYS[2])
local client = rec[3] or ''
if ARGV[8] ~= '' and client ~= ARGV[8] then
  return {'client'}
end
-- the record is the client's whose keys KEYS holds (job-lib.lua's job_client_is)
local mine = ARGV[8] ~= ''
if not upload then
  -- The record outlived its upload (TTL): nothing to run. Readers waiting
  -- on the log stream learn of the end like of any other.
  job_end({job = KEYS[1], upload = KEYS[2], manifest = KEYS[9], log = KEYS[4], inflight = KEYS[5],
           store = KEYS[7], metrics = KEYS[12]},
          id, mine, now, ARGV[4],
          {'status', 'failed', 'reason', 'internal',
           'error', 'the upload expired before a runner took the job',
           'finished_at', ARGV[2], 'store_upload', 0, 'store_log', 0})
  job_entry_drop(KEYS[3], ARGV[3])
  return nil
end
if mine and fair_running(KEYS[10]) >= fair_cap(tonumber(ARGV[5]) or 0, KEYS[8], now, tonumber(ARGV[6]) or 15000) then
  redis.call('RPUSH', KEYS[6], id)
  redis.call('HSET', KEYS[1], 'parked', ARGV[2])
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > redis.call('PTTL', KEYS[6]) then
    redis.call('PEXPIRE', KEYS[6], pttl)
  end
  job_entry_drop(KEYS[3], ARGV[3])
  return nil
end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[2], 'runner', ARGV[1])
metrics_count(KEYS[12], 'jobs_started')
if mine then
  fair_started(KEYS[10], id, redis.call('PTTL', KEYS[1]))
end
-- (A record from before the manifest had a key of its own holds it.)
return {redis.call('GET', KEYS[9]) or redis.call('HGET', KEYS[1], 'manifest') or '', upload,
        client, tostring(attempt)}
