#!lua flags=allow-oom
-- A session whose runner is gone (docs/sessions.md, "The supervisor"): the
-- record names its runner, and that runner's heartbeat in sr:runners is
-- older than the lease (or absent): the session is ended with reason
-- runner_lost. A restarted runner has a new name and kills what its
-- predecessor left, so nothing serves the session any more. The responder
-- calls it on any route when its own look at the heartbeat says so; the
-- script looks again, atomically. allow-oom: it only ends things.
-- KEYS: record, the runners' heartbeats (sr:runners), client's sessions zset, request list,
--       the counters (sr:metrics: metrics-lib.lua)
-- ARGV: now (ms), lease (ms), session id, the sentence for the record's error
-- Returns "lost" (ended now), "alive", or "gone" (no record, or ended already)
--#include metrics-lib.lua
--#include session-req-lib.lua
local rec = redis.call('HMGET', KEYS[1], 'status', 'runner')
if not rec[1] or rec[1] == 'ended' then
  return 'gone'
end
if not rec[2] or rec[2] == '' then
  return 'alive'
end
local beat = redis.call('ZSCORE', KEYS[2], rec[2])
if beat and tonumber(beat) >= tonumber(ARGV[1]) - tonumber(ARGV[2]) then
  return 'alive'
end
session_end_record(KEYS[1], KEYS[3], KEYS[4], ARGV[3], 'runner_lost', ARGV[4], ARGV[1], KEYS[5])
return 'lost'
