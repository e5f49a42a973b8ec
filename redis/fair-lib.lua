-- Fair shares of the runner slots (inlined at build time into start.lua,
-- finish.lua and reclaim.lua). A client's running jobs are counted from
-- sr:running:{C}, the ids of the jobs start.lua started; like the parked
-- list, it is the runners' alone (responders count a client's jobs from
-- sr:inflight:{C}, which names none). One client's jobs may run on at most
-- `cap` slots at once: quota_running_max, or by default half of the live
-- fleet's slots (at least one), so that a client with two hour-long
-- sleeps cannot hold a two-slot runner for an hour while others wait. A
-- job over its client's share is parked (sr:parked:{C}), not run; each
-- time one of the client's jobs ends, one parked job goes back to the end
-- of its queue, with a new number in it (sr:queue-seq, as submit.lua).
-- The parked list is the runners' alone: no responder may read it.

-- The live fleet's slots: the heartbeats newer than `lease_ms`.
local function fair_fleet_slots(now, lease_ms)
  local names = redis.call('ZRANGEBYSCORE', 'sr:runners', now - lease_ms, '+inf')
  local slots = 0
  for _, name in ipairs(names) do
    slots = slots + (tonumber(redis.call('HGET', 'sr:runner:' .. name, 'slots')) or 0)
  end
  return slots
end

-- How many of the client's jobs run now. Ids of jobs that no longer run
-- (ended, expired, taken back to the queue) are dropped as they are met.
local function fair_running(client)
  local key = 'sr:running:{' .. client .. '}'
  local n = 0
  for _, id in ipairs(redis.call('SMEMBERS', key)) do
    if redis.call('HGET', 'sr:{' .. id .. '}:job', 'status') == 'running' then
      n = n + 1
    else
      redis.call('SREM', key, id)
    end
  end
  return n
end

-- The client's job `id` stops running (ended, or back to the queue).
local function fair_stopped(client, id)
  if client and client ~= '' then
    redis.call('SREM', 'sr:running:{' .. client .. '}', id)
  end
end

-- The client's job `id` starts running; its record lives `pttl` ms more.
local function fair_started(client, id, pttl)
  local key = 'sr:running:{' .. client .. '}'
  redis.call('SADD', key, id)
  if pttl > 0 and pttl > redis.call('PTTL', key) then
    redis.call('PEXPIRE', key, pttl)
  end
end

local function fair_cap(configured, now, lease_ms)
  if configured > 0 then
    return configured
  end
  return math.max(1, math.floor(fair_fleet_slots(now, lease_ms) / 2))
end

-- One of the client's jobs ended: its next parked job, if any, goes back to
-- its queue. Parked ids whose job is no longer queued (cancelled, expired)
-- are skipped; bounded, as a script must be.
local function fair_unpark(client)
  if not client or client == '' then
    return
  end
  local key = 'sr:parked:{' .. client .. '}'
  for _ = 1, 32 do
    local id = redis.call('LPOP', key)
    if not id then
      return
    end
    local job = 'sr:{' .. id .. '}:job'
    local f = redis.call('HMGET', job, 'status', 'queue')
    if f[1] == 'queued' and f[2] then
      redis.call('XADD', f[2], '*', 'id', id)
      redis.call('HSET', job, 'queue_seq', redis.call('HINCRBY', 'sr:queue-seq', f[2], 1))
      local pttl = redis.call('PTTL', job)
      if pttl > 0 and redis.call('PTTL', 'sr:queue-seq') < pttl then
        redis.call('PEXPIRE', 'sr:queue-seq', pttl)
      end
      redis.call('HDEL', job, 'parked')
      return
    end
  end
end
