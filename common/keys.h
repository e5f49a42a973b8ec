/*
 * The Redis key schema, in one place. Every key starts with "sr:". A
 * job's keys share the hash tag {job-…}, so in a Redis Cluster they live
 * in one slot and a script may touch them together.
 *
 *   sr:{ID}:job     hash    the job record (fields below)
 *   sr:{ID}:upload  string  the archive as submitted; deleted when the job ends
 *   sr:{ID}:manifest string the canonical manifest JSON (env values included); deleted
 *                           when the job ends. Like the upload, read by runners only:
 *                           a responder may write both but not read them (users.acl.in)
 *   sr:{ID}:log     stream  output chunks in order: fields s ("o"|"e") and d (bytes)
 *   sr:{ID}:out     hash    the job's output files: field = path (relative, normalized),
 *                           value = the bytes; listed (size, sha256) in the job field outputs
 *   sr:{ID}:dl      set     paths of outputs downloaded once; when it holds every listed
 *                           output (or the archive was downloaded) the job is deleted whole
 *   sr:{ID}:archive-lock  string  the request building the job's archive (SET NX, a TTL
 *                           of its own): one builder per job at a time (fcgi/outputs.c)
 *   sr:queue        stream  jobs to run: field id; consumer group "runners". Responders
 *                           may add to it and count it (XLEN, XINFO GROUPS), never read
 *                           its entries: they would list every queued job's id. An entry
 *                           stays pending (PEL) while its job runs; its runner
 *                           refreshes it (XCLAIM, idle 0) every LEASE_REFRESH_MS, so
 *                           an entry idle for LEASE_MS belongs to a dead runner and
 *                           is taken over with XAUTOCLAIM (redis/reclaim.lua)
 *   sr:queue:gpu:P  stream  the same, for jobs that need a GPU: read only by the runners
 *                           announcing GPU profile P (memory, CUDA version); the
 *                           responder picks the queue of the best-fitting live GPU
 *   sr:queue-seq    hash    numbers in the queues: field QUEUE = the last number given
 *                           (submit.lua, fair-lib.lua: each entry added), field "QUEUE taken"
 *                           = the highest number a runner took off QUEUE (start.lua); a
 *                           queued job's position is its number (queue_seq) minus the latter
 *   sr:runners      zset    live runners: member = runner name, score = last heartbeat (ms)
 *   sr:runner:NAME  hash    a runner's announcement (slots, started_at, ...), TTL LEASE_MS
 *
 * Per client (the quota key: an IPv4 address, or an IPv6 /64 as "2001:db8::/64"):
 *   sr:inflight:{C} zset    the client's queued and running jobs: member = SHA1 of the job
 *                           id (a responder reads it: it must name no job), score = when
 *                           the job's record expires (ms), when it leaves at the latest
 *   sr:running:{C}  set     ids of the client's running jobs, for its fair share of the
 *                           slots (redis/fair-lib.lua); like sr:parked:{C}, the runners'
 *                           alone: no responder may read a key that lists job ids
 *   sr:cpu:{C}      zset    CPU charged: member "SHA1 of the job id:seconds", score =
 *                           finish time (ms);
 *                           the sliding window is the members newer than 60 s
 *   sr:store:{C}    hash    the client's storage ledger: field = SHA1 of the job id, value =
 *                           "BYTES EXPIRY_MS": what that job's keys may hold in Redis
 *                           (upload, log, outputs, record: reserved before written)
 *                           until the job's keys expire (redis/store-lib.lua)
 *   sr:parked:{C}   list    ids of the client's queued jobs a runner set aside because
 *                           the client already held its share of the slots; one goes
 *                           back to its queue each time one of the client's jobs ends
 *   sr:uploading    hash    uploads admitted by a submit's check but not yet recorded:
 *                           field = SHA1 of the job id, value = "BYTES EXPIRY_MS" (3 x the upload:
 *                           its peak in Redis's memory), 30 s (redis/submit.lua)
 * The in-flight zset and the cpu zset expire after quota_idle_seconds of inactivity;
 * the ledger and the parked list with the last job they name.
 *
 * The end of a job is also written to its log stream (s = "x"), so readers
 * waiting on the stream (long-polls, live logs) wake up when it ends.
 *
 * Every key has a TTL: a queued job expires after queued_max_seconds plus
 * its timeout; a finished one after retention_seconds (failed_retention_seconds
 * for a failure).
 */
#ifndef SANDRUN_KEYS_H
#define SANDRUN_KEYS_H

#define KEY_JOB_FMT     "sr:{%s}:job"
#define KEY_UPLOAD_FMT  "sr:{%s}:upload"
#define KEY_MANIFEST_FMT "sr:{%s}:manifest"
#define KEY_LOG_FMT     "sr:{%s}:log"
#define KEY_OUT_FMT     "sr:{%s}:out"
#define KEY_DL_FMT      "sr:{%s}:dl"
#define KEY_ARCHIVE_LOCK_FMT "sr:{%s}:archive-lock"
#define KEY_QUEUE       "sr:queue"
#define KEY_QUEUE_GPU_PREFIX "sr:queue:gpu:" /* + a GPU profile: the queue of the runners that have it */
#define KEY_QUEUE_SEQ   "sr:queue-seq"
#define QUEUE_SEQ_TAKEN_SUFFIX " taken" /* QUEUE + this: the field of the number last taken off QUEUE */
#define KEY_RUNNERS     "sr:runners"
#define KEY_RUNNER_FMT  "sr:runner:%s"
#define KEY_ACTIVE_FMT  "sr:inflight:{%s}"
#define KEY_CPU_FMT     "sr:cpu:{%s}"
#define KEY_STORE_FMT   "sr:store:{%s}"
#define KEY_PARKED_FMT  "sr:parked:{%s}"
#define LEASE_MS          15000  /* a runner silent this long is dead: its jobs are taken over */
#define LEASE_REFRESH_MS  3000   /* how often a runner renews its heartbeat and its jobs' leases */
#define JOB_ATTEMPTS_MAX  2      /* a job whose runner died is run once more, then failed */
#define QUEUE_GROUP     "runners"

/*
 * What the storage ledger charges (redis/store-lib.lua), in bytes: the
 * payload plus what Redis spends around it, so the ledger stays above
 * Redis's own count. Measured on Redis 7.0 (MEMORY USAGE, INFO): a stream
 * entry costs 20 to 27 bytes besides its data (10,000 entries of 1 and of
 * 100 bytes), so 64; a hash field about 46 besides its name and value, so
 * 128 for an output; a record (hash, TTL, five fields) about 500 besides
 * its manifest, so 2 KiB, which also covers its later fields.
 */
#define STORE_LOG_ENTRY_COST  64
#define STORE_OUTPUT_COST     128
#define STORE_RECORD_COST     2048
/* A job's log has at most this many stream entries: beyond it the output is
 * truncated, marked, like output over log_max_bytes. It bounds what a log of
 * many tiny writes costs, so that its reservation is exact. */
#define LOG_ENTRIES_MAX       16384

#define KEY_MAX 128  /* "sr:{" + id + "}:manifest", "sr:inflight:{" + an IPv6 /64 + "}" fit */

/* Job record fields (hash sr:{ID}:job). Times are epoch milliseconds. */
#define JOB_F_STATUS        "status"        /* queued|running|completed|failed|cancelled */
#define JOB_F_REASON        "reason"
#define JOB_F_TIMEOUT       "timeout"       /* the manifest's timeout (s); the manifest is in sr:{ID}:manifest */
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
#define JOB_F_QUEUE         "queue"         /* the stream it was queued in: sr:queue or a GPU queue */
#define JOB_F_QUEUE_SEQ     "queue_seq"     /* its number in that queue (queue_position; sr:queue-seq) */
#define JOB_F_ATTEMPTS      "attempts"      /* runs started; a lost runner's job is retried once */
#define JOB_F_OUTPUTS       "outputs"       /* JSON {"path": {"size", "sha256"}, ...}: what sr:{ID}:out
                                               holds (the status object's output_files) */
#define JOB_F_OUTPUTS_SKIPPED "outputs_skipped" /* JSON [{"path", "kind"}]: matches not collected
                                               (symlink, fifo, device, socket, unreadable, too_large, ...) */
/* Signed results (runner/sign.h, docs/signing.md): set only by a runner with a worker key. */
#define JOB_F_WORKER_ID       "worker_id"       /* base64 Ed25519 public key */
#define JOB_F_SIGNATURE       "signature"       /* base64 Ed25519 signature of the canonical message */
#define JOB_F_UPLOAD_SHA256   "upload_sha256"
#define JOB_F_MANIFEST_SHA256 "manifest_sha256"
#define JOB_F_STDOUT_SHA256   "stdout_sha256"   /* the stdout bytes kept in the log stream */
#define JOB_F_STDERR_SHA256   "stderr_sha256"
#define JOB_F_ENVIRONMENT     "environment"     /* the manifest's environment name */
#define JOB_F_LIMITS          "limits"          /* JSON: the limits applied to the run */
/* The storage ledger's parts (bytes, redis/store-lib.lua): their sum is the job's entry. */
#define JOB_F_STORE_UPLOAD    "store_upload"    /* the upload, until the job ends */
#define JOB_F_STORE_LOG       "store_log"       /* reserved at submit, the real figure at the end */
#define JOB_F_STORE_OUT       "store_out"       /* outputs kept */
#define JOB_F_STORE_BASE      "store_base"      /* the record */
#define JOB_F_LOG_ENTRIES     "log_entries"     /* stream entries the runner wrote */
#define JOB_F_PARKED          "parked"          /* set while the job waits for its client's fair share (ms) */

/* The Lua scripts in redis/, embedded at build time (common/redis_scripts.c). */
extern const char redis_script_submit[];
extern const char redis_script_start[];
extern const char redis_script_finish[];
extern const char redis_script_cancel[];
extern const char redis_script_quota[];
extern const char redis_script_reclaim[];
extern const char redis_script_downloaded[];
extern const char redis_script_store_output[];
extern const char redis_script_log_append[];
/* All of the above, NULL-terminated: what the runner loads at each connect (common/rconn.h). */
extern const char *const redis_scripts[];
extern const char *const redis_script_names[];   /* "submit", ...: the same order */

#endif
