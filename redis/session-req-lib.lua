-- Shared by the responder's session scripts (inlined at build time by
-- build-aux/embed-lua.sh into session_abandon.lua and session_lost.lua):
-- ending a session record from the responder's side, the same way the
-- runner's session_end.lua does from its side (docs/sessions.md): status
-- ended with a reason and a sentence, the client's live-session slot
-- freed, the request list deleted, the record kept 300 s so the routes
-- answer 410 with the reason meanwhile. The sandbox itself is the
-- runner's: its supervisor sees "ended" at its next charge and kills it.
local SESSION_ENDED_TTL = 300

-- A session's name in the client's zset: the SHA1 of its id (store-lib's
-- store_digest), as a job's: what a responder reads per client names none.
-- The end is counted in `metrics` (sr:metrics: metrics-lib.lua).
local function session_end_record(record, sessions_zset, req_list, sid, reason, sentence, now, metrics)
  redis.call('HSET', record, 'status', 'ended', 'reason', reason, 'error', sentence, 'ended_at', now)
  metrics_count(metrics, 'sessions_ended|' .. metrics_label(reason))
  redis.call('EXPIRE', record, SESSION_ENDED_TTL)
  redis.call('ZREM', sessions_zset, redis.sha1hex(sid))
  redis.call('DEL', req_list)
end
