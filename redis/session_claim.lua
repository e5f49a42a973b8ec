-- A warm supervisor claims a session from its create entry (docs/sessions.md,
-- "Create" 3): only a record still `starting` and claimed by nobody is
-- taken, so a sandbox is never handed to two sessions and an abandoned
-- create (session_abandon.lua: ended, no_sandbox) is dropped.
-- KEYS: the record (sr:{SID}:ses)
-- ARGV: runner name, now (ms)
-- Returns "ok" (the record's runner is now ARGV[1]) or "gone" (drop the entry).
local f = redis.call('HMGET', KEYS[1], 'status', 'runner')
if f[1] ~= 'starting' or (f[2] and f[2] ~= '') then
  return 'gone'
end
redis.call('HSET', KEYS[1], 'runner', ARGV[1], 'claimed_at', ARGV[2])
return 'ok'
