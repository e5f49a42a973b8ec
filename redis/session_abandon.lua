#!lua flags=allow-oom
-- A create that got no sandbox within session_create_wait (docs/sessions.md,
-- "Create", 4): a record still starting is ended with reason no_sandbox
-- (its pool entry stays, and the runner drops it: the record is not
-- starting). One that became ready meanwhile is left alone: the responder
-- answers 201 after all. allow-oom: it only ends things.
-- KEYS: record, client's sessions zset, request list, the counters (sr:metrics: metrics-lib.lua)
-- ARGV: now (ms), session id, the sentence for the record's error
-- Returns "abandoned", or the record's status, or "gone" without one
--#include metrics-lib.lua
--#include session-req-lib.lua
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 'gone'
end
if status ~= 'starting' then
  return status
end
session_end_record(KEYS[1], KEYS[2], KEYS[3], ARGV[2], 'no_sandbox', ARGV[3], ARGV[1], KEYS[4])
return 'abandoned'
