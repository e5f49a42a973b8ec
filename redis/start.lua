-- A runner claims a queued job: queued -> running, in one step, so two
-- runners can never both start it and a cancelled or expired job never
-- starts. Returns {manifest, upload}, or nil when the job is not queued;
-- then its queue entry is acknowledged here, as there is nothing to run.
-- KEYS: job hash, upload string, queue stream
-- ARGV: runner name, started_at (ms), queue entry id
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
  -- The record outlived its upload (TTL): nothing to run.
  redis.call('HSET', KEYS[1], 'status', 'failed', 'reason', 'internal',
             'error', 'the upload expired before a runner took the job',
             'finished_at', ARGV[2])
  drop_entry()
  return nil
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[2], 'runner', ARGV[1])
return {redis.call('HGET', KEYS[1], 'manifest'), upload}
