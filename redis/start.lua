-- A runner claims a queued job: queued -> running, in one step, so two
-- runners can never both start it and a cancelled or expired job never
-- starts. Every start counts one attempt (the first run is attempt 1; a
-- run again after a lost runner, redis/reclaim.lua, is attempt 2).
-- Returns {manifest, upload, client, attempt}, or nil when the job is not
-- queued; then its queue entry is acknowledged here, as there is nothing
-- to run.
-- KEYS: job hash, upload string, queue stream, log stream
-- ARGV: runner name, started_at (ms), queue entry id, failed retention (s)
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
             'finished_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('XADD', KEYS[4], '*', 's', 'x')
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  drop_entry()
  return nil
end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[2], 'runner', ARGV[1])
return {redis.call('HGET', KEYS[1], 'manifest') or '', upload,
        redis.call('HGET', KEYS[1], 'client') or '', tostring(attempt)}
