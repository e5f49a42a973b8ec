-- Shared by the runner's session scripts (inlined at build time by
-- build-aux/embed-lua.sh): a session's name in what a responder reads per
-- client (sr:sessions:{C}, sr:cpu:{C}, sr:store:{C}) is the SHA1 of its id,
-- never the id, which is the only key to the session (docs/sessions.md).
local function session_digest(sid)
  return redis.sha1hex(sid)
end

-- How long an ended record stays (routes answer 410 with its reason meanwhile).
local SESSION_ENDED_TTL = 300
