#!lua flags=allow-oom
-- Appends a batch of a running job's output to its log stream, in order,
-- one entry per run of one stream, and keeps the stream's TTL. One round
-- trip per batch.
-- allow-oom: output must never be lost for memory; it was reserved at
-- submit (2 x log_max_bytes in at most LOG_ENTRIES_MAX entries, see
-- common/store.h), and submits stop well before Redis's maxmemory.
-- KEYS: log stream
-- ARGV: ttl (s), then stream ("o" or "e"), bytes pairs
for i = 2, #ARGV - 1, 2 do
  redis.call('XADD', KEYS[1], '*', 's', ARGV[i], 'd', ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return (#ARGV - 1) / 2
