-- Fair shares of the runner slots (inlined at build time into start.lua,
-- finish.lua and reclaim.lua, after job-lib.lua: it walks the client's
-- jobs and the live runners by job-lib's key_ names; the client's keys,
-- sr:runners and sr:queue-seq come from the caller's KEYS). One client's
-- jobs may run on at most `cap` slots at once: quota_running_max, or by
-- default half of the live fleet's slots (at least one), so that a client
-- with two hour-long sleeps cannot hold a two-slot runner for an hour
-- while others wait. A job over its client's share is parked
-- (sr:parked:{C}), not run; each time one of the client's jobs ends, one
-- parked job goes back to the end of its queue, with a new number in it
-- (sr:queue-seq, as submit.lua gives one).
-- A client's running jobs are counted from its running set
-- (sr:running:{C}), the ids of the jobs start.lua started. It and the
-- parked list hold job ids, so they are the runners' alone: no responder
-- may read them (responders count a client's jobs from its in-flight
-- zset, which names none).

-- The live fleet's slots: the heartbeats in `runners` (sr:runners) newer
-- than `lease_ms`.
local function fair_fleet_slots(runners, now, lease_ms)
  local names = redis.call('ZRANGEBYSCORE', runners, now - lease_ms, '+inf')
  local slots = 0
  for _, name in ipairs(names) do
    slots = slots + (tonumber(redis.call('HGET', key_runner(name), 'slots')) or 0)
  end
  return slots
end

-- How many of the client's jobs (its running set `running`) run now. Ids
-- of jobs that no longer run (ended, expired, taken back to the queue)
-- are dropped as they are met.
local function fair_running(running)
  local n = 0
  for _, id in ipairs(redis.call('SMEMBERS', running)) do
    if redis.call('HGET', key_job(id), 'status') == 'running' then
      n = n + 1
    else
      redis.call('SREM', running, id)
    end
  end
  return n
end

-- The client's job `id` starts running; its record lives `pttl` ms more,
-- and the set at least as long.
local function fair_started(running, id, pttl)
  redis.call('SADD', running, id)
  if pttl > 0 and pttl > redis.call('PTTL', running) then
    redis.call('PEXPIRE', running, pttl)
  end
end

-- The client's job `id` stops running (ended, or back to the queue).
local function fair_stopped(running, id)
  redis.call('SREM', running, id)
end

local function fair_cap(configured, runners, now, lease_ms)
  if configured > 0 then
    return configured
  end
  return math.max(1, math.floor(fair_fleet_slots(runners, now, lease_ms) / 2))
end

-- One of the client's jobs ended: its next parked job (its list `parked`),
-- if any, goes back to its queue, numbered anew there (`queue_seq`,
-- sr:queue-seq: the responders tell its queue_position from it). Parked ids
-- whose job is no longer queued (cancelled, expired) are skipped; bounded,
-- as a script must be.
local function fair_unpark(parked, queue_seq)
  for _ = 1, 32 do
    local id = redis.call('LPOP', parked)
    if not id then
      return
    end
    local job = key_job(id)
    local f = redis.call('HMGET', job, 'status', 'queue')
    if f[1] == 'queued' and f[2] and key_is_queue(f[2]) then
      redis.call('XADD', f[2], '*', 'id', id)
      redis.call('HSET', job, 'queue_seq', redis.call('HINCRBY', queue_seq, f[2], 1))
      local pttl = redis.call('PTTL', job)
      if pttl > 0 and redis.call('PTTL', queue_seq) < pttl then
        redis.call('PEXPIRE', queue_seq, pttl)
      end
      redis.call('HDEL', job, 'parked')
      return
    end
  end
end
