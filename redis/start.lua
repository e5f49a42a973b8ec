-- A runner claims a queued job: queued -> running, in one step, so two
-- runners can never both start it and a cancelled or expired job never
-- starts. Returns {manifest, upload}, or nil when the job is not queued.
-- KEYS: job hash, upload string
-- ARGV: runner name, started_at (ms)
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then
  return nil
end
local upload = redis.call('GET', KEYS[2])
if not upload then
  -- The record outlived its upload (TTL): nothing to run.
  redis.call('HSET', KEYS[1], 'status', 'failed', 'reason', 'internal',
             'error', 'the upload expired before a runner took the job',
             'finished_at', ARGV[2])
  return nil
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[2], 'runner', ARGV[1])
return {redis.call('HGET', KEYS[1], 'manifest'), upload}
