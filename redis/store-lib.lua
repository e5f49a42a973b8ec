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
--
-- Reading the ledger is O(1) in its entries (issue 14: a submit read every
-- entry twice, and a client with a raised quota made each submit O(jobs)):
-- beside it sit its running sum sr:storesum:{C}, a hash {n = entries,
-- bytes = their sum}, and its expiry index sr:storeexp:{C}, a zset of the
-- entries' fields scored with their expiry. Every write and delete of an
-- entry goes through store_entry_set / store_entry_del, which keep all
-- three in the same step; the expired entries are found in the index and
-- taken off the sum one by one. The sum counts only while n equals the
-- ledger's HLEN and the index's ZCARD: a ledger that expired, or was
-- changed by hand, or a sum or index missing (older data), is seen as
-- such and all of it is rebuilt from the entries (once, O(n)). All three
-- share the ledger's TTL. Their names come from the ledger's (same {C},
-- same hash slot), so the callers pass the ledger only.

-- A job's name in what a responder reads per client (this ledger,
-- sr:uploading, the in-flight zset, the CPU charges): the SHA1 of its id,
-- never the id. Ids are the only key to a job's data (SECURITY.md), so
-- reading a client's figures must name none of its jobs.
local function store_digest(id)
  return redis.sha1hex(id)
end

local function key_storesum(key) return 'sr:storesum:' .. string.sub(key, 10) end
local function key_storeexp(key) return 'sr:storeexp:' .. string.sub(key, 10) end

-- An entry's bytes and expiry (numbers), or nil for none or a malformed one.
local function store_entry_parse(v)
  if not v then return nil end
  local b, e = string.match(v, '^(%d+) (%d+)$')
  b, e = tonumber(b), tonumber(e)
  if not b or not e then return nil end
  return b, e
end

-- The bytes of a hash "field = BYTES EXPIRY_MS" whose entries have not
-- expired, reading every entry and dropping those that have: for the
-- uploads in flight (submit.lua's: a few at a time), and to
-- rebuild a ledger's sum. Returns used, and the live entries as
-- {expiry, bytes, field}.
local function store_used_scan(key, now)
  local all = redis.call('HGETALL', key)
  local used, live = 0, {}
  for i = 1, #all, 2 do
    local b, e = store_entry_parse(all[i + 1])
    if not b or e <= now then
      redis.call('HDEL', key, all[i])
    else
      used = used + b
      live[#live + 1] = {e, b, all[i]}
    end
  end
  return used, live
end

-- Writes the sum and the index anew from the ledger's live entries, with
-- the ledger's TTL; the bytes held and the entries.
local function store_sum_rebuild(key, now)
  local sum_key, exp_key = key_storesum(key), key_storeexp(key)
  local used, live = store_used_scan(key, now)
  redis.call('DEL', sum_key, exp_key)
  if #live == 0 then
    redis.call('DEL', key)
    return 0, 0
  end
  for _, en in ipairs(live) do
    redis.call('ZADD', exp_key, en[1], en[3])
  end
  redis.call('HSET', sum_key, 'n', #live, 'bytes', string.format('%.0f', used))
  local pttl = redis.call('PTTL', key)
  if pttl > 0 then
    redis.call('PEXPIRE', sum_key, pttl)
    redis.call('PEXPIRE', exp_key, pttl)
  end
  return used, #live
end

-- The ledger's bytes held now, and its entries, its expired entries
-- dropped. O(1) but for the entries that expired since the last look (each
-- dropped once).
local function store_used(key, now)
  local sum_key, exp_key = key_storesum(key), key_storeexp(key)
  local f = redis.call('HMGET', sum_key, 'n', 'bytes')
  local n, used = tonumber(f[1]), tonumber(f[2])
  if not (n and used and n == redis.call('HLEN', key) and n == redis.call('ZCARD', exp_key)) then
    return store_sum_rebuild(key, now)
  end
  local gone = redis.call('ZRANGEBYSCORE', exp_key, '-inf', now)
  if #gone == 0 then
    return used, n
  end
  for _, field in ipairs(gone) do
    local b = store_entry_parse(redis.call('HGET', key, field))
    used = used - (b or 0)
    redis.call('HDEL', key, field)
  end
  redis.call('ZREMRANGEBYSCORE', exp_key, '-inf', now)
  n = n - #gone
  if n <= 0 then
    redis.call('DEL', key, sum_key, exp_key)
    return 0, 0
  end
  redis.call('HSET', sum_key, 'n', n, 'bytes', string.format('%.0f', used))
  return used, n
end

-- Deletes the entries `...` from the ledger `key`, its sum and its index.
local function store_entry_del(key, now, ...)
  local sum_key, exp_key = key_storesum(key), key_storeexp(key)
  local used, n = store_used(key, now)
  for _, field in ipairs({...}) do
    local v = redis.call('HGET', key, field)
    if v then
      used = used - (store_entry_parse(v) or 0)
      n = n - 1
      redis.call('HDEL', key, field)
      redis.call('ZREM', exp_key, field)
    end
  end
  if n <= 0 then
    redis.call('DEL', key, sum_key, exp_key)
  else
    redis.call('HSET', sum_key, 'n', n, 'bytes', string.format('%.0f', used))
  end
end

-- Writes the entry `field` = `bytes` until `expiry` (ms) in the ledger
-- `key`, its sum and its index, and keeps the ledger (and them) at least
-- until then.
local function store_entry_set(key, field, bytes, expiry, now)
  if expiry <= now then
    store_entry_del(key, now, field)
    return
  end
  local sum_key, exp_key = key_storesum(key), key_storeexp(key)
  local used, n = store_used(key, now)
  local v = redis.call('HGET', key, field)
  if v then
    used = used - (store_entry_parse(v) or 0)
  else
    n = n + 1
  end
  redis.call('HSET', key, field, string.format('%.0f %.0f', bytes, expiry))
  redis.call('HSET', sum_key, 'n', n, 'bytes', string.format('%.0f', used + bytes))
  redis.call('ZADD', exp_key, expiry, field)
  local life = expiry - now
  for _, k in ipairs({key, sum_key, exp_key}) do
    if redis.call('PTTL', k) < life then
      redis.call('PEXPIRE', k, life)
    end
  end
end

-- Milliseconds until `need` more bytes fit under `limit` in the ledger
-- `key` as entries expire (the first expiry that makes room); -1 when even
-- that never does. Reads every entry: only for an answer that refuses.
local function store_retry(key, used, need, limit, now)
  local _, live = store_used_scan(key, now)
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
  local pttl = f[1] and redis.call('PTTL', job_key) or -2
  if pttl < 0 then
    -- (the id itself: an entry written before the ledger was keyed by digests)
    store_entry_del(key, now, field, id)
    return
  end
  if redis.call('HGET', key, id) then
    store_entry_del(key, now, id)
  end
  local bytes = (tonumber(f[2]) or 0) + (tonumber(f[3]) or 0) + (tonumber(f[4]) or 0) + (tonumber(f[5]) or 0)
  store_entry_set(key, field, bytes, now + pttl, now)
end

-- The job's keys are being deleted whole: its entry in the client's
-- ledger `key` goes (and one keyed by the id, from before the digests).
local function store_job_drop(key, id, now)
  store_entry_del(key, now, store_digest(id), id)
end
