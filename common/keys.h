/*
 * The Redis key schema, in one place. Every key starts with "sr:". A
 * job's keys share the hash tag {job-…}, so in a Redis Cluster they live
 * in one slot and a script may touch them together.
 *
 *   sr:{ID}:job     hash    the job record (fields below)
 *   sr:{ID}:upload  string  the archive as submitted; deleted when the job ends
 *   sr:{ID}:log     stream  output chunks in order: fields s ("o"|"e") and d (bytes)
 *   sr:queue        stream  jobs to run: field id; consumer group "runners"
 *
 * Every key has a TTL: a queued job expires after queued_max_seconds plus
 * its timeout; a finished one after retention_seconds (failed_retention_seconds
 * for a failure).
 */
#ifndef SANDRUN_KEYS_H
#define SANDRUN_KEYS_H

#define KEY_JOB_FMT     "sr:{%s}:job"
#define KEY_UPLOAD_FMT  "sr:{%s}:upload"
#define KEY_LOG_FMT     "sr:{%s}:log"
#define KEY_QUEUE       "sr:queue"
#define QUEUE_GROUP     "runners"

#define KEY_MAX 64   /* "sr:{" + id + "}:upload" fits with room to spare */

/* Job record fields (hash sr:{ID}:job). Times are epoch milliseconds. */
#define JOB_F_STATUS        "status"        /* queued|running|completed|failed|cancelled */
#define JOB_F_REASON        "reason"
#define JOB_F_MANIFEST      "manifest"      /* canonical manifest JSON */
#define JOB_F_CLIENT        "client"        /* the quota key of the submitting address */
#define JOB_F_SUBMITTED     "submitted_at"
#define JOB_F_STARTED       "started_at"
#define JOB_F_FINISHED      "finished_at"
#define JOB_F_RUNNER        "runner"
#define JOB_F_EXIT_CODE     "exit_code"
#define JOB_F_SIGNAL        "signal"
#define JOB_F_CPU           "cpu_seconds"
#define JOB_F_WALL          "wall_seconds"
#define JOB_F_MEMORY        "memory_peak_bytes"
#define JOB_F_STDOUT_BYTES  "stdout_bytes"
#define JOB_F_STDERR_BYTES  "stderr_bytes"
#define JOB_F_STDOUT_TRUNC  "stdout_truncated"
#define JOB_F_STDERR_TRUNC  "stderr_truncated"
#define JOB_F_ERROR         "error"         /* a sentence for failed/internal, shown to the user */

/* The Lua scripts in redis/, embedded at build time (common/redis_scripts.c). */
extern const char redis_script_submit[];
extern const char redis_script_start[];
extern const char redis_script_finish[];

#endif
