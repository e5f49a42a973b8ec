#!lua flags=allow-oom
-- Pushes a reply frame that carries bytes (a file read, a directory's
-- archive) to a session request's reply list, if the client's storage quota
-- and Redis's memory allow (store-lib.lua): the bytes sit in Redis until the
-- responder pops them, so they are reserved in the client's ledger
-- sr:store:{C} first, as a write's payload is (session_request.lua), under
-- the digest of "SID:rep:RID" for the reply list's lifetime.
-- allow-oom: the script checks memory itself, against the results mark.
-- KEYS: the reply list (sr:{SID}:rep:RID), the client's storage ledger, the session's record
-- ARGV: frame (JSON), bytes, now (ms), lifetime (ms), storage quota (bytes),
--       results mark (percent of maxmemory), the client (the create entry's),
--       cost per stored value (bytes), ledger name ("SID:rep:RID")
-- Returns {"ok", 0}, {"quota", retry ms (-1: never)}, {"full", 0} or {"gone", 0}
-- (no live record of that client: nobody to pay for it).
--#include store-lib.lua
local f = redis.call('HMGET', KEYS[3], 'client', 'status')
if not f[1] or f[1] ~= ARGV[7] or f[2] == 'ended' then
  return {'gone', 0}
end
local now, life, quota = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local need = #ARGV[1] + #ARGV[2] + tonumber(ARGV[8])
local used = store_used(KEYS[2], now)
if used + need > quota then
  return {'quota', store_retry(KEYS[2], used, need, quota, now)}
end
if store_memory_over(need, tonumber(ARGV[6])) then
  return {'full', 0}
end
redis.call('RPUSH', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], life)
store_entry_set(KEYS[2], store_digest(ARGV[9]), need, now + life, now)
return {'ok', 0}
