-- Records a job's end, only if this runner still holds it running: the
-- result of a runner that lost the job (cancelled, reclaimed) is dropped.
-- Deletes the upload and sets the retention TTL on everything left, and
-- acknowledges the job's queue entry in the same step (no extra round trip,
-- and no window where a finished job is still pending in the queue).
-- KEYS: job hash, upload string, log stream, queue stream
-- ARGV: runner name, ttl (s), queue entry id ("" for none), then field, value pairs
if ARGV[3] ~= '' then
  redis.call('XACK', KEYS[4], 'runners', ARGV[3])
  redis.call('XDEL', KEYS[4], ARGV[3])
end
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
   or redis.call('HGET', KEYS[1], 'runner') ~= ARGV[1] then
  return 0
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
if #fields > 0 then
  redis.call('HSET', KEYS[1], unpack(fields))
end
redis.call('DEL', KEYS[2])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
return 1
