#!lua
-- Every session route after the create (docs/sessions.md, "Requests"):
-- hands one request to the session's supervisor, or says why not, in one
-- atomic step. No record, or one without a status: "gone" (404); ended:
-- "ended" and its reason (410 while the record lingers); starting: the
-- create has not finished (409); paused: exec and the file operations are
-- refused (409), pause/resume/snapshot/end always pass; exec (and pty, the
-- terminal's open: docs/sessions.md, "Terminal") over the client's CPU window (the one sr:cpu:{C} jobs use too): "cpu" with the ms
-- until it frees (429; the session lives on). A write's or an unpack's bytes
-- (a file, possibly empty; an archive) go to the data key the supervisor takes (GETDEL), reserved for
-- its lifetime in the client's storage ledger (store-lib.lua), under the
-- digest of "SID:RID": over the client's storage quota "storage" (429),
-- over Redis's high-water mark "memory" (503).
-- No allow-oom: client requests are refused whole while Redis is over its
-- maxmemory.
-- DELETE ("end") ends the record here and now (reason deleted, the client's
-- slot freed): a supervisor busy with a long exec sees "ended" at its next
-- charge, within a second, and kills the sandbox; an idle one takes the end
-- request and confirms. Either way nothing waits for the exec to finish.
-- KEYS: record, request list, data string, client's cpu zset, client's storage ledger,
--       client's sessions zset, the counters (sr:metrics: metrics-lib.lua)
-- ARGV: request id, request (JSON), now (ms), op, bytes ("" for none), cpu limit (s), window (ms),
--       storage quota (bytes), high-water percent, data lifetime (ms), per-payload cost (bytes),
--       session id
-- Returns {"ok"} or {"gone"} or {"ended", reason} or {"starting"} or {"paused"}
--   or {"cpu", used, retry ms} or {"storage", used, retry ms (-1: never)} or {"memory", used, max}
--#include store-lib.lua
--#include quota-lib.lua
--#include metrics-lib.lua
local now, op = tonumber(ARGV[3]), ARGV[4]
local rec = redis.call('HMGET', KEYS[1], 'status', 'reason')
local status = rec[1]
if not status then
  return {'gone'}
end
if status == 'ended' then
  return {'ended', rec[2] or 'internal'}
end
if status == 'starting' then
  return {'starting'}
end
local always = {pause = true, resume = true, snapshot = true, ['end'] = true}
if status == 'paused' and not always[op] then
  return {'paused'}
end
if op == 'exec' or op == 'pty' then   -- a terminal runs commands too
  local used, _, retry = quota_cpu(KEYS[4], now, tonumber(ARGV[7]), tonumber(ARGV[6]))
  if used >= tonumber(ARGV[6]) then
    return {'cpu', tostring(used), retry}
  end
end
if op == 'write' or op == 'unpack' then   -- the ops that carry bytes (an empty file too)
  local need = #ARGV[5] + tonumber(ARGV[11])
  local stored = store_used(KEYS[5], now)
  if stored + need > tonumber(ARGV[8]) then
    return {'storage', tostring(stored), store_retry(KEYS[5], stored, need, tonumber(ARGV[8]), now)}
  end
  local over, mem_used, mem_max = store_memory_over(need, tonumber(ARGV[9]))
  if over then
    return {'memory', tostring(mem_used), mem_max}
  end
  local life = tonumber(ARGV[10])
  redis.call('SET', KEYS[3], ARGV[5], 'PX', life)
  store_entry_set(KEYS[5], redis.sha1hex(ARGV[12] .. ':' .. ARGV[1]), need, now + life, now)
end
redis.call('HSET', KEYS[1], 'last_used_at', ARGV[3])
if op == 'end' then
  redis.call('HSET', KEYS[1], 'status', 'ended', 'reason', 'deleted',
             'error', 'ended by DELETE /sessions/{id}', 'ended_at', ARGV[3])
  redis.call('ZREM', KEYS[6], redis.sha1hex(ARGV[12]))
  metrics_count(KEYS[7], 'sessions_ended|deleted')
end
redis.call('RPUSH', KEYS[2], ARGV[2])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('PEXPIRE', KEYS[2], pttl)
end
return {'ok'}
