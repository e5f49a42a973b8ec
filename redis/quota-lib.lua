-- Shared by submit.lua and quota.lua (inlined at build time by
-- build-aux/embed-lua.sh, after job-lib.lua: the records of the active
-- set's ids are job-lib's key_job): the client's usage, computed the same
-- way by the check that admits a job and by the figures shown to the client.

-- CPU-seconds charged in the window ending at `now`. Drops older charges.
-- Returns used, the ms until the oldest charge leaves the window (0: none),
-- and the ms until used would fall below `limit` (0: it already is).
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

-- The client's jobs still queued or running. Ids whose record is gone or
-- ended without release (an expired job) are dropped, so a lost job can
-- never hold a client's slot for ever. (Reads job records by id: fine on
-- one Redis; a Redis Cluster would need the active set per job slot.)
local function quota_active(active_key)
  local ids = redis.call('SMEMBERS', active_key)
  local n = 0
  for _, id in ipairs(ids) do
    local st = redis.call('HGET', key_job(id), 'status')
    if st == 'queued' or st == 'running' then
      n = n + 1
    else
      redis.call('SREM', active_key, id)
    end
  end
  return n
end
