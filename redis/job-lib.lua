-- A job's life in Redis, shared by the scripts (inlined at build time by
-- build-aux/embed-lua.sh; after store-lib.lua, whose ledger job_end
-- updates). The key schema is common/store.h's.
--
-- Every key a script touches comes in its KEYS, made by common/store_keys.c,
-- except those it finds by walking a set or a record: the records of the
-- ids in a client's running set or parked list, the announcements of the
-- runners in sr:runners, and the queue a parked job goes back to (its
-- record's field "queue"). Those are named by the key_ functions here and
-- nowhere else (tests/unit/test_store.c checks it). They are all under
-- "sr:", the ACL users' key pattern, and only the runners' scripts walk
-- them (start, finish, reclaim: fair-lib.lua): the responders' user may
-- read neither the running set nor the parked list (redis/users.acl.in).
-- (On one Redis this is fine; a Redis Cluster would need those sets per
-- hash slot.)

local function key_job(id) return 'sr:{' .. id .. '}:job' end
local function key_runner(name) return 'sr:runner:' .. name end
local function key_is_queue(name) return name == 'sr:queue' or string.match(name, '^sr:queue:gpu:[%w._-]+$') ~= nil end

-- The job's queue entry is done with: acknowledged in the runners' group
-- and deleted. ("" or nil: no entry.)
local function job_entry_drop(queue, entry)
  if entry and entry ~= '' then
    redis.call('XACK', queue, 'runners', entry)
    redis.call('XDEL', queue, entry)
  end
end

-- The end marker (s = "x") on the job's log stream: readers blocked on
-- the stream (long-polls, live logs) wake up. The only writer of it; the
-- runner writes the output's entries (log_append.lua).
local function job_log_mark(log)
  redis.call('XADD', log, '*', 's', 'x')
end

-- The end marker, and the log lives `ttl` seconds more.
local function job_log_end(log, ttl)
  job_log_mark(log)
  redis.call('EXPIRE', log, ttl)
end

-- Whether the log's last entry is the end marker.
local function job_log_ended(log)
  local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
  local f = last[1] and last[1][2]
  return f and f[1] == 's' and f[2] == 'x'
end

-- Whether the record names `client`: the caller made the client's keys in
-- KEYS from what it read of the record; a record that names another (or
-- none) has them touched by nobody.
local function job_client_is(job, client)
  return client ~= nil and client ~= '' and redis.call('HGET', job, 'client') == client
end

-- The job's upload and manifest go: no run of it starts again. One DEL of
-- their own: a responder (cancel.lua) may only write these two, under an
-- ACL selector of theirs, and all the keys of one command must fall under
-- one rule of the caller's (redis/README.md, "The users").
local function job_inputs_drop(upload, manifest)
  redis.call('DEL', upload, manifest)
end

-- Ends the job: its record gets `fields` (a flat list: status, reason,
-- finished_at, error, the ledger's parts...), its upload and manifest go,
-- what is left of the job expires in `ttl` seconds, the end marker wakes
-- the log's readers, and, when the record is the client's (`ours`), the
-- job leaves the client's in-flight zset and its storage ledger is updated.
-- (Its place in the client's running set, a runners' key, is the runner
-- scripts' to drop: fair-lib.lua's fair_stopped.)
-- The end is counted in the service's counters (metrics-lib.lua) when k
-- names them.
-- k: {job, upload, manifest, log, inflight, store[, metrics]}
local function job_end(k, id, ours, now, ttl, fields)
  if #fields > 0 then
    redis.call('HSET', k.job, unpack(fields))
  end
  if k.metrics then
    metrics_job_ended(k.metrics, fields)
  end
  job_inputs_drop(k.upload, k.manifest)
  redis.call('EXPIRE', k.job, ttl)
  job_log_end(k.log, ttl)
  if ours then
    redis.call('ZREM', k.inflight, store_digest(id))
    store_job_update(k.job, k.store, id, now)
  end
end
