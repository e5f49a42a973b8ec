#!lua flags=allow-oom
-- Keeps a session's workspace (a .tar.gz of /work) as a snapshot, if its
-- client's storage quota and Redis's memory allow (store-lib.lua): reserved
-- in the client's ledger sr:store:{C} and written in one step, like an
-- output (store_output.lua). The ledger's entry is the snapshot's digest,
-- for its TTL; it frees itself when the snapshot expires.
-- allow-oom: the script checks memory itself, against the results mark.
-- KEYS: the snapshot (sr:{WID}:wsp), the client's storage ledger, the session's record
-- ARGV: workspace id, the bytes, now (ms), ttl (s), storage quota (bytes),
--       results mark (percent of maxmemory), the client (the create entry's),
--       cost per stored value (bytes)
-- Returns {"ok", expires_at}, {"quota", 0}, {"full", 0} or {"gone", 0} (no
-- live record of that client: nobody to pay for it).
--#include store-lib.lua
local f = redis.call('HMGET', KEYS[3], 'client', 'status')
if not f[1] or f[1] ~= ARGV[7] or f[2] == 'ended' then
  return {'gone', 0}
end
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local need = #ARGV[2] + tonumber(ARGV[8])
local used = store_used(KEYS[2], now)
if used + need > tonumber(ARGV[5]) then
  return {'quota', 0}
end
if store_memory_over(need, tonumber(ARGV[6])) then
  return {'full', 0}
end
local expires = now + ttl * 1000
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
store_entry_set(KEYS[2], store_digest(ARGV[1]), need, expires, now)
return {'ok', string.format('%.0f', expires)}
