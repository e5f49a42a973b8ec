-- Shared by submit.lua and quota.lua (inlined at build time by
-- build-aux/embed-lua.sh): the client's usage, computed the same way by
-- the check that admits a job and by the figures shown to the client.
-- Both keys are the caller's KEYS; a responder reads them, so they name
-- jobs by digest (store-lib.lua's store_digest), never by id.

-- CPU-seconds charged in the window ending at `now`. Drops older charges.
-- Returns used, the ms until the oldest charge leaves the window (0: none),
-- and the ms until used would fall below `limit` (0: it already is).
-- A charge is the member "DIGEST:seconds" (finish.lua).
-- The RateLimit headers compute the same figures in C over a ZRANGEBYSCORE
-- of the window (common/store_scripts.c, store_quota_cpu_reply): change both.
local function quota_cpu(cpu_key, now, window, limit)
  redis.call('ZREMRANGEBYSCORE', cpu_key, '-inf', now - window)
  local charges = redis.call('ZRANGE', cpu_key, 0, -1, 'WITHSCORES')
  local used = 0
  for i = 1, #charges, 2 do
    used = used + (tonumber(string.match(charges[i], ':([^:]*)$')) or 0)
  end
  local reset, retry = 0, 0
  if #charges > 0 then
    reset = tonumber(charges[2]) + window - now
  end
  if used >= limit then
    local left = used
    for i = 1, #charges, 2 do
      left = left - (tonumber(string.match(charges[i], ':([^:]*)$')) or 0)
      if left < limit then
        retry = tonumber(charges[i + 1]) + window - now
        break
      end
    end
  end
  return used, reset, retry
end

-- The client's jobs still queued or running: its in-flight zset
-- (sr:inflight:{C}), the digests of their ids, each scored with the time
-- its record expires. A job leaves it when it ends (job-lib.lua's job_end:
-- finish, cancel, reclaim, start.lua's expired upload); one whose end was
-- never recorded leaves it when its record expires, so a lost job never
-- holds a client's slot for ever. Reads no job record: nothing here needs
-- a key that is not in KEYS.
local function quota_active(inflight_key, now)
  redis.call('ZREMRANGEBYSCORE', inflight_key, '-inf', now)
  return redis.call('ZCARD', inflight_key)
end
