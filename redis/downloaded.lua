#!lua flags=allow-oom
-- GET /download/{id}/{path} or /download/{id} (the archive) was answered:
-- records the download and deletes the whole job, at once, once every
-- output was downloaded once (the paths in the downloads set cover every
-- field of the outputs hash) or the archive was (docs/api.md §4, retention).
-- Later requests for the job find nothing: 404.
-- The job's entry in its client's storage ledger goes with it.
-- allow-oom: it deletes; it must work when Redis is full.
-- KEYS: job hash, upload string, log stream, outputs hash, downloads set, client's storage ledger,
--       manifest string
-- ARGV: the downloaded path ("" for the archive), id, the client the caller read from the record, now (ms)
-- Returns 1 when the job was deleted, 0 when outputs are left, -1 when it was gone.
--#include store-lib.lua
--#include metrics-lib.lua
--#include job-lib.lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local function delete_all()
  if job_client_is(KEYS[1], ARGV[3]) then
    store_job_drop(KEYS[6], ARGV[2], tonumber(ARGV[4]))
  end
  -- The upload and the manifest went when the job ended (job_end): named
  -- for completeness, in a DEL of their own (job_inputs_drop says why).
  job_inputs_drop(KEYS[2], KEYS[7])
  redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
  return 1
end
if ARGV[1] == '' then
  return delete_all()
end
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
  return 0
end
redis.call('SADD', KEYS[5], ARGV[1])
if redis.call('SCARD', KEYS[5]) >= redis.call('HLEN', KEYS[4]) then
  return delete_all()
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('PEXPIRE', KEYS[5], pttl)
end
return 0
