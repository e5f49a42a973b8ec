-- Records a new job and queues it in one atomic step: a job is either
-- wholly accepted (record, upload and queue entry) or not at all.
-- KEYS: job hash, upload string, queue stream
-- ARGV: id, canonical manifest, client, submitted_at (ms), upload bytes, ttl (s)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR job id collision')
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'manifest', ARGV[2],
           'client', ARGV[3], 'submitted_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
return 1
