-- The session ended (docs/sessions.md, "The supervisor"): its sandbox is
-- gone (the supervisor killed and removed its cgroup first). Status ended
-- with the reason (a record already ended keeps its own: a DELETE or a
-- runner_lost came first), the client's live-session entry and the request
-- list go, the record stays SESSION_ENDED_TTL seconds for the 410s.
-- The terminal (docs/sessions.md, "Terminal"): its input list goes; its
-- output stream, when there is one, gets a last entry t=e d=REASON (the
-- reason the record holds) and expires with the ended record.
-- KEYS: the record, the client's live sessions (sr:sessions:{C}), the request list,
--       the terminal's output stream (sr:{SID}:pty), its input list (sr:{SID}:pty:in),
--       the counters (sr:metrics: metrics-lib.lua)
-- ARGV: session id, reason, now (ms), error ("" for none)
-- Returns the reason the record holds, or "gone" when there was no record.
--#include session-lib.lua
--#include metrics-lib.lua
redis.call('ZREM', KEYS[2], session_digest(ARGV[1]))
redis.call('DEL', KEYS[3], KEYS[5])
local function pty_end(reason)
  if redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1024, '*', 't', 'e', 'd', reason)
    redis.call('EXPIRE', KEYS[4], SESSION_ENDED_TTL)
  end
end
local f = redis.call('HMGET', KEYS[1], 'status', 'reason')
if not f[1] then
  pty_end(ARGV[2])
  return 'gone'
end
if f[1] == 'ended' then
  pty_end(f[2] or ARGV[2])
  return f[2] or ''
end
redis.call('HSET', KEYS[1], 'status', 'ended', 'reason', ARGV[2], 'ended_at', ARGV[3])
metrics_count(KEYS[6], 'sessions_ended|' .. metrics_label(ARGV[2]))
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[4])
end
redis.call('EXPIRE', KEYS[1], SESSION_ENDED_TTL)
pty_end(ARGV[2])
return ARGV[2]
