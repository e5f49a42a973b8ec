-- The storage ledger (inlined at build time by build-aux/embed-lua.sh into
-- the scripts that change what a job keeps in Redis). Every byte a client
-- makes Redis keep is reserved here before it is written, and released
-- when the job's keys are deleted or expire. The ledger (one per client,
-- its key from the caller's KEYS): a hash, field = SHA1 of the job id
-- (store_digest), value = "BYTES EXPIRY_MS".
-- BYTES is the sum of the job record's parts store_upload, store_log,
-- store_out and store_base (common/store.h); EXPIRY_MS is when the job's
-- keys expire. An entry past its expiry counts for nothing and is dropped
-- on the next look, so a job that simply expires releases its bytes
-- without anyone calling anything.

-- A job's name in what a responder reads per client (this ledger,
-- sr:uploading, the in-flight zset, the CPU charges): the SHA1 of its id,
-- never the id. Ids are the only key to a job's data (SECURITY.md), so
-- reading a client's figures must name none of its jobs.
local function store_digest(id)
  return redis.sha1hex(id)
end

-- The client's bytes held now. Returns used, and the live entries as
-- {expiry, bytes} (for store_retry).
local function store_used(key, now)
  local all = redis.call('HGETALL', key)
  local used, live = 0, {}
  for i = 1, #all, 2 do
    local b, e = string.match(all[i + 1], '^(%d+) (%d+)$')
    b, e = tonumber(b), tonumber(e)
    if not b or e <= now then
      redis.call('HDEL', key, all[i])
    else
      used = used + b
      live[#live + 1] = {e, b}
    end
  end
  return used, live
end

-- Milliseconds until `need` more bytes fit under `limit` as entries expire
-- (the first expiry that makes room); -1 when even that never does.
local function store_retry(live, used, need, limit, now)
  table.sort(live, function(a, b) return a[1] < b[1] end)
  for _, en in ipairs(live) do
    used = used - en[2]
    if used + need <= limit then
      return math.max(en[1] - now, 1000)
    end
  end
  return -1
end

-- Redis's own figures: used_memory and maxmemory (0: no limit set).
local function store_memory()
  local info = redis.call('INFO', 'memory')
  return tonumber(string.match(info, 'used_memory:(%d+)')) or 0,
         tonumber(string.match(info, 'maxmemory:(%d+)')) or 0
end

-- Would `need` more bytes take Redis past `percent` of its maxmemory?
-- A value written by a script is in Redis's memory three times at its
-- peak: the connection's buffer and the argument object while the script
-- runs (already in used_memory then), and the value stored (measured on
-- 7.0: an 8 MB argument adds 16.8 MB inside the script, 25.2 MB after the
-- HSET, 8.4 MB once it returns). So, called from the script that writes
-- it, `need` counts the value once; asked before it is sent, three times.
local function store_memory_over(need, percent)
  local used, max = store_memory()
  return max > 0 and used + need > max * percent / 100, used, max
end

-- Writes the job's entry in its client's ledger `key` from its record: the
-- sum of its parts, until its record's TTL ends. No record: the job is
-- gone, and so is its entry. (The caller checks the record is that
-- client's: job-lib.lua's job_client_is.)
local function store_job_update(job_key, key, id, now)
  local f = redis.call('HMGET', job_key, 'client', 'store_upload', 'store_log', 'store_out', 'store_base')
  local field = store_digest(id)
  -- (the id itself: an entry written before the ledger was keyed by digests)
  redis.call('HDEL', key, id)
  if not f[1] then
    redis.call('HDEL', key, field)
    return
  end
  local pttl = redis.call('PTTL', job_key)
  if pttl < 0 then
    redis.call('HDEL', key, field)
    return
  end
  local bytes = (tonumber(f[2]) or 0) + (tonumber(f[3]) or 0) + (tonumber(f[4]) or 0) + (tonumber(f[5]) or 0)
  redis.call('HSET', key, field, string.format('%.0f %.0f', bytes, now + pttl))
  if redis.call('PTTL', key) < pttl then
    redis.call('PEXPIRE', key, pttl)
  end
end

-- The job's keys are being deleted whole: its entry in the client's
-- ledger `key` goes (and one keyed by the id, from before the digests).
local function store_job_drop(key, id)
  redis.call('HDEL', key, store_digest(id), id)
end
