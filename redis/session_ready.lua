-- The claimed session's sandbox is ready (docs/sessions.md, "Create" 3):
-- status ready, its times set, its client's live-session entry scored with
-- when it expires, the record's TTL its ttl plus 600 s. A record that is no
-- longer `starting` on this runner (the create timed out meanwhile:
-- session_abandon.lua ended it) is left alone: the supervisor ends the
-- sandbox.
-- KEYS: the record, the client's live sessions (sr:sessions:{C})
-- ARGV: session id, runner name, now (ms), ttl (s), quota idle (ms)
-- Returns {"ok", expires_at} or {"gone", 0}.
--#include session-lib.lua
local f = redis.call('HMGET', KEYS[1], 'status', 'runner')
if f[1] ~= 'starting' or f[2] ~= ARGV[2] then
  return {'gone', 0}
end
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local expires = now + ttl * 1000
redis.call('HSET', KEYS[1], 'status', 'ready', 'created_at', ARGV[3], 'last_used_at', ARGV[3],
           'expires_at', string.format('%.0f', expires), 'cpu_seconds', '0')
redis.call('PEXPIRE', KEYS[1], ttl * 1000 + 600000)
redis.call('ZADD', KEYS[2], string.format('%.0f', expires), session_digest(ARGV[1]))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {'ok', string.format('%.0f', expires)}
