-- The service's counters (inlined at build time by build-aux/embed-lua.sh
-- into the scripts that change a job's state): one hash, sr:metrics, kept
-- in Redis so that every responder reports the same totals, each one
-- counted in the same atomic step as the change it counts (a submit
-- admitted, a run started, a job ended), so a retried call never counts
-- twice. GET /metrics (fcgi/metrics.c) reads it whole.
-- Fields (every name and label from a fixed set, so the hash stays small
-- whatever clients send):
--   jobs_submitted, jobs_started                    counters
--   jobs_finished|STATUS|REASON                     counter per end
--   job_cpu_seconds                                 the runs' CPU, summed
--   sessions_created, sessions_ended|REASON         counters
--   http_errors|ROUTE|CODE                          a responder's 4xx (fcgi/metrics.c)
--   HIST|le|BOUND, HIST|sum, HIST|count             histograms: each bucket
--     counts the observations in (the bound before, BOUND]; /metrics adds
--     them up into Prometheus' cumulative buckets
local METRICS_BOUNDS = {'0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30',
                        '60', '300', '1800', '3600', '+Inf'}

local function metrics_count(key, field)
  redis.call('HINCRBY', key, field, 1)
end

-- One observation of `seconds` (a number >= 0) in histogram `name`.
local function metrics_observe(key, name, seconds)
  for _, b in ipairs(METRICS_BOUNDS) do
    if b == '+Inf' or seconds <= tonumber(b) then
      redis.call('HINCRBY', key, name .. '|le|' .. b, 1)
      break
    end
  end
  redis.call('HINCRBYFLOAT', key, name .. '|sum', string.format('%.6f', seconds))
  redis.call('HINCRBY', key, name .. '|count', 1)
end

-- A label value from a fixed vocabulary: lower-case words, else "other".
local function metrics_label(v)
  if type(v) ~= 'string' or v == '' then return 'none' end
  if string.match(v, '^[a-z][a-z_]*$') and #v <= 32 then return v end
  return 'other'
end

-- A job ended (job-lib.lua's job_end) with these record `fields` (a flat
-- list): its end by status and reason, and, when the runner sent them, its
-- CPU, its wall time and its sandbox's start.
local function metrics_job_ended(key, fields)
  local f = {}
  for i = 1, #fields - 1, 2 do
    f[fields[i]] = fields[i + 1]
  end
  metrics_count(key, 'jobs_finished|' .. metrics_label(f.status) .. '|' .. metrics_label(f.reason))
  local cpu, wall, start = tonumber(f.cpu_seconds), tonumber(f.wall_seconds), tonumber(f.sandbox_start_ms)
  if cpu and cpu > 0 then
    redis.call('HINCRBYFLOAT', key, 'job_cpu_seconds', string.format('%.6f', cpu))
  end
  if wall and wall >= 0 then
    metrics_observe(key, 'job_wall_seconds', wall)
  end
  if start and start >= 0 then
    metrics_observe(key, 'sandbox_start_seconds', start / 1000)
  end
end
