#!lua flags=allow-oom
-- DELETE /jobs/{id}. A queued job is cancelled (it will never start: the
-- runner's claim needs "queued"); a running one too, and its runner, which
-- checks its job's status every 250 ms, kills the whole sandbox. Its
-- upload and logs are deleted at once, its active slot released; the record
-- stays briefly, saying "cancelled". A job that already ended is deleted
-- whole. The end marker on the log stream wakes anyone waiting on the job.
-- The storage ledger (store-lib.lua) keeps only the short-lived record.
-- allow-oom: a cancel frees memory; it must work when Redis is full.
-- Its manifest (sr:{ID}:manifest, named here from the id) goes with the upload.
-- KEYS: job hash, upload string, log stream, client's in-flight zset, outputs hash, downloads set
-- ARGV: id, now (ms), ttl of the cancelled record (s)
-- Returns the status the job had, or nil when there is no such job.
--#include store-lib.lua
local st = redis.call('HGET', KEYS[1], 'status')
if not st then
  return nil
end
-- Two DELs: a responder may only write the upload and the manifest, under
-- an ACL selector of their own, and one command's keys must all fall
-- under one selector (redis/README.md, "The users").
redis.call('DEL', KEYS[2], 'sr:{' .. ARGV[1] .. '}:manifest')
redis.call('DEL', KEYS[3])
if KEYS[6] then
  redis.call('DEL', KEYS[5], KEYS[6])
end
redis.call('ZREM', KEYS[4], redis.sha1hex(ARGV[1]))
if st == 'queued' or st == 'running' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'reason', 'cancelled',
             'finished_at', ARGV[2], 'error', 'cancelled by its submitter (DELETE /jobs)')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('XADD', KEYS[3], '*', 's', 'x')
  redis.call('EXPIRE', KEYS[3], ARGV[3])
  redis.call('HSET', KEYS[1], 'store_upload', 0, 'store_log', 0, 'store_out', 0)
  store_job_update(KEYS[1], ARGV[1], tonumber(ARGV[2]))
else
  store_job_drop(KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[1])
end
return st
