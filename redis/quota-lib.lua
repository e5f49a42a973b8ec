-- Shared by submit.lua and quota.lua (inlined at build time by
-- build-aux/embed-lua.sh): the client's usage, computed the same way by
-- the check that admits a job and by the figures shown to the client.
-- Both keys are the caller's KEYS; a responder reads them, so they name
-- jobs by digest (store-lib.lua's store_digest), never by id.

-- The CPU window: the zset sr:cpu:{C} (a charge is the member
-- "DIGEST:seconds", finish.lua, or "DIGEST:N:seconds", session_charge.lua,
-- scored with the time it was charged) and beside it the running sum
-- sr:cpusum:{C}, a hash {n = members, us = their seconds in integer
-- micro-seconds}, so reading the window is O(1) in the number of charges:
-- integers, so adding and removing never drift. Every script that adds a
-- charge (quota_charge_add) or drops one (quota_cpu's prune) updates both
-- in the same atomic step. The sum counts only while n equals the zset's
-- ZCARD: a zset that expired, was deleted or changed by hand (tests), or a
-- sum that expired or was never written (a zset older than the sum), is
-- seen as such and the sum is rebuilt from the members (once, O(n)). The
-- sum's name is made from the zset's (same {C}, same hash slot), so the
-- callers pass the zset only.
local function key_cpusum(cpu_key) return 'sr:cpusum:' .. string.sub(cpu_key, 8) end

-- A charge's micro-seconds: tonumber(match(member, ':([^:]*)$')), rounded;
-- 0 for a member that holds no number of seconds in (0, 1e9).
local function quota_charge_us(member)
  local s = tonumber(string.match(member, ':([^:]*)$'))
  if not s or not (s > 0 and s < 1e9) then
    return 0
  end
  return math.floor(s * 1000000 + 0.5)
end

-- The sum's micro-seconds, or nil when it does not describe the zset.
local function quota_sum_get(cpu_key, sum_key)
  local f = redis.call('HMGET', sum_key, 'n', 'us')
  local n, us = tonumber(f[1]), tonumber(f[2])
  if n and us and n == redis.call('ZCARD', cpu_key) then
    return us
  end
  return nil
end

-- Sums the members of `charges` (as ZRANGEBYSCORE answers: member[, score]...; `step` 1 or 2).
local function quota_charges_us(charges, step)
  local us = 0
  for i = 1, #charges, step do
    us = us + quota_charge_us(charges[i])
  end
  return us
end

-- Writes the sum anew from every member (the zset's TTL too); its micro-seconds.
local function quota_sum_rebuild(cpu_key, sum_key)
  local members = redis.call('ZRANGEBYSCORE', cpu_key, '-inf', '+inf')
  if #members == 0 then
    redis.call('DEL', sum_key)
    return 0
  end
  local us = quota_charges_us(members, 1)
  redis.call('HSET', sum_key, 'n', #members, 'us', string.format('%.0f', us))
  local pttl = redis.call('PTTL', cpu_key)
  if pttl > 0 then
    redis.call('PEXPIRE', sum_key, pttl)
  end
  return us
end

-- Charges `member` at `now` to cpu_key (ZADD NX: a retried call charges
-- nothing twice) and keeps the sum; both live idle_ms from now.
local function quota_charge_add(cpu_key, now, member, idle_ms)
  local sum_key = key_cpusum(cpu_key)
  local us = quota_sum_get(cpu_key, sum_key)
  if redis.call('ZADD', cpu_key, 'NX', now, member) == 1 then
    if us then
      redis.call('HINCRBY', sum_key, 'n', 1)
      redis.call('HINCRBY', sum_key, 'us', string.format('%.0f', quota_charge_us(member)))
    else
      quota_sum_rebuild(cpu_key, sum_key)
    end
  elseif not us then
    quota_sum_rebuild(cpu_key, sum_key)
  end
  redis.call('PEXPIRE', cpu_key, idle_ms)
  redis.call('PEXPIRE', sum_key, idle_ms)
end

-- Over the limit: the ms until enough of the oldest charges in the window
-- (scored after `from`) have left it for the rest to be under `limit`.
local function quota_cpu_retry(cpu_key, us, from, now, window, limit)
  local charges = redis.call('ZRANGEBYSCORE', cpu_key, '(' .. string.format('%.0f', from), '+inf', 'WITHSCORES')
  local left = us
  for i = 1, #charges, 2 do
    left = left - quota_charge_us(charges[i])
    if left / 1000000 < limit then
      return tonumber(charges[i + 1]) + window - now
    end
  end
  return 0
end

-- CPU-seconds charged in the window ending at `now`. Drops older charges
-- (reading them first, to take them off the sum: each is dropped once).
-- Returns used, the ms until the oldest charge leaves the window (0: none),
-- and the ms until used would fall below `limit` (0: it already is).
-- The RateLimit headers read the same figures without a write
-- (quota_cpu_read.lua, quota_cpu_peek below).
local function quota_cpu(cpu_key, now, window, limit)
  local sum_key = key_cpusum(cpu_key)
  local from = now - window
  local us = quota_sum_get(cpu_key, sum_key)
  if us then
    local gone = redis.call('ZRANGEBYSCORE', cpu_key, '-inf', string.format('%.0f', from))
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', cpu_key, '-inf', string.format('%.0f', from))
      if redis.call('ZCARD', cpu_key) == 0 then
        redis.call('DEL', sum_key)
        us = 0
      else
        local minus = quota_charges_us(gone, 1)
        redis.call('HINCRBY', sum_key, 'n', -#gone)
        if minus > 0 then   -- (never "-0": HINCRBY takes no such integer)
          redis.call('HINCRBY', sum_key, 'us', string.format('%.0f', -minus))
        end
        us = us - minus
      end
    end
  else
    redis.call('ZREMRANGEBYSCORE', cpu_key, '-inf', string.format('%.0f', from))
    us = quota_sum_rebuild(cpu_key, sum_key)
  end
  local oldest = redis.call('ZRANGE', cpu_key, 0, 0, 'WITHSCORES')
  local used, reset, retry = us / 1000000, 0, 0
  if oldest[2] then
    reset = tonumber(oldest[2]) + window - now
  end
  if used >= limit then
    retry = quota_cpu_retry(cpu_key, us, from, now, window, limit)
  end
  return used, reset, retry
end

-- quota_cpu's micro-seconds and reset without a write (nothing pruned, no
-- sum rebuilt): the sum and the oldest charge when the sum holds and no
-- charge has left the window unpruned; else the window's charges, summed.
local function quota_cpu_peek(cpu_key, now, window)
  local from = now - window
  local us = quota_sum_get(cpu_key, key_cpusum(cpu_key))
  local oldest = redis.call('ZRANGE', cpu_key, 0, 0, 'WITHSCORES')
  if us and (not oldest[2] or tonumber(oldest[2]) > from) then
    return us, oldest[2] and tonumber(oldest[2]) + window - now or 0
  end
  local charges = redis.call('ZRANGEBYSCORE', cpu_key, '(' .. string.format('%.0f', from), '+inf', 'WITHSCORES')
  return quota_charges_us(charges, 2), charges[2] and tonumber(charges[2]) + window - now or 0
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
