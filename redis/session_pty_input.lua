#!lua
-- A terminal's input (docs/sessions.md "Terminal"; the gateway's
-- ws/pty.c): one entry for the session's input list, which the runner's
-- supervisor BLPOPs and feeds to the terminal. Only this script pushes
-- there. Typing is use: last_used_at moves, so the idle timeout holds as it
-- does for exec. The list lives as long as the record (PEXPIRE with its
-- TTL) and holds at most ARGV[3] entries: a terminal that does not read
-- its input makes the gateway wait ("full"), never Redis grow.
-- The entry's shape ("d" + 1..4096 bytes, "r" + "COLS ROWS") is the
-- gateway's to make and the runner's to check; this script does not read it.
-- KEYS: record (sr:{SID}:ses), input list (sr:{SID}:pty:in)
-- ARGV: now (ms), entry, max entries
-- Returns {"ok"} or {"gone"} or {"ended", reason} or {"starting"} or {"paused"} or {"full"}
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
if status == 'paused' then
  return {'paused'}
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[3]) then
  return {'full'}
end
redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('PEXPIRE', KEYS[2], pttl)
end
return {'ok'}
