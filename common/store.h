/*
 * The job store: what Sandrun keeps in Redis, and the only code that
 * knows how. Redis is the one channel between the responders (fcgi/) and
 * the runners (runner/); this header is its contract. Key names, record
 * fields, job statuses, log entries and the Lua scripts' arguments are
 * made here (common/store_keys.c, common/store_scripts.c) and nowhere
 * else; the scripts themselves are in redis/ (redis/README.md: the
 * configuration, the ACL users).
 *
 * THE KEYS. Every key starts with "sr:". A job's keys share the hash tag
 * {ID} (ID: "job-" + 26 base32 characters, common/jobid.h), so in a Redis
 * Cluster they live in one slot and a script may touch them together; a
 * client's keys share {C}, its quota key (an IPv4 address, or an IPv6 /64
 * as "2001:db8::/64": fcgi/quota.h). job_keys_make() and
 * client_keys_make() make them.
 *
 *   key                    type    written by                         lifetime
 *   sr:{ID}:job            hash    submit.lua makes it; start, finish, the record's TTL: queued_max_seconds
 *                                  reclaim, cancel, store_output.lua   + timeout + retention_seconds at
 *                                  and fair-lib's unpark change it    submit; retention_seconds (failed_
 *                                  (fields: JOB_F_* below)            retention_seconds for a failure)
 *                                                                     once it ends; deleted whole by
 *                                                                     downloaded.lua and by a cancel of
 *                                                                     an ended job
 *   sr:{ID}:upload         string  submit.lua: the archive as sent    the record's, until the job ends
 *                                                                     (deleted by job-lib's job_end)
 *   sr:{ID}:log            stream  the runner (log_append.lua): one   timeout_max + retention_seconds
 *                                  entry per run of one stream; the   while it runs; the record's once
 *                                  end marker: job-lib's job_log_end  the job ends
 *                                  (LOG ENTRIES below)
 *   sr:{ID}:out            hash    the runner (store_output.lua):     provisional while the job ends,
 *                                  field = path (relative, normal-    then the record's (finish.lua);
 *                                  ized), value = the bytes; listed   deleted by downloaded.lua, cancel
 *                                  in the record field "outputs"
 *   sr:{ID}:dl             set     downloaded.lua: the paths          the record's
 *                                  downloaded once; once it holds
 *                                  every output (or the archive was
 *                                  downloaded) the job is deleted
 *   sr:{ID}:archive-lock   string  fcgi/outputs.c (SET NX): the one   ARCHIVE_LOCK_MS, deleted after the
 *                                  request building the job's archive build
 *   sr:queue               stream  submit.lua, fair-lib's unpark:     no TTL: an entry is acknowledged
 *                                  entries {id}; consumer group       and deleted (XACK, XDEL) when its
 *                                  "runners" (STORE_QUEUE_GROUP),     job starts (not runnable), ends or
 *                                  made by the runners (XGROUP        is failed; an entry stays pending
 *                                  CREATE ... MKSTREAM)               while its job runs (below)
 *   sr:queue:gpu:P         stream  the same, for jobs that need a GPU: read only by the runners announcing
 *                                  GPU profile P ("24g-cuda12.2": memory, CUDA version); the responder
 *                                  picks the queue of the best-fitting live GPU (store_key_gpu_queue)
 *   sr:runners             zset    the runners' heartbeats: member =  no TTL: a runner prunes members
 *                                  runner name, score = last beat     older than LEASE_MS at each beat,
 *                                  (ms)                               and removes itself at a clean stop
 *   sr:runner:NAME         hash    the runner's heartbeat: slots,     LEASE_MS, renewed at each beat;
 *                                  busy, host, environments, gpu,     deleted at a clean stop
 *                                  worker_id, ...
 *   sr:active:{C}          set     submit.lua adds the job id; job-   quota_idle_seconds of inactivity
 *                                  lib's job_end (finish, cancel,
 *                                  reclaim, start) removes it;
 *                                  quota-lib drops ended ids
 *   sr:cpu:{C}             zset    finish.lua: member "ID:seconds",   quota_idle_seconds of inactivity;
 *                                  score = finish time (ms); the      quota-lib drops charges older
 *                                  CPU window is the last             than the window
 *                                  quota_window_seconds
 *   sr:store:{C}           hash    store-lib (every script that       that of the longest-lived job it
 *                                  changes what a job keeps): the     names; an entry past its expiry
 *                                  storage ledger, field = job id,    counts nothing and is dropped on
 *                                  value = "BYTES EXPIRY_MS"          the next look
 *   sr:parked:{C}          list    start.lua parks a job id while its that of the longest-lived job it
 *                                  client holds its share of the      names
 *                                  runner slots; fair-lib's unpark
 *                                  puts one back in its queue each
 *                                  time one of the client's jobs ends
 *   sr:uploading           hash    submit.lua's check: uploads        30 s (an entry, and the key)
 *                                  admitted but not yet recorded,
 *                                  field = job id, value = "BYTES
 *                                  EXPIRY_MS" (3 x the upload)
 *
 * The leases: a queue entry stays pending (PEL) while its job runs; its
 * runner refreshes it (XCLAIM, idle 0) every LEASE_REFRESH_MS, so an entry
 * idle for LEASE_MS belongs to a dead runner and is taken over with
 * XAUTOCLAIM (reclaim.lua): run once more (JOB_ATTEMPTS_MAX), then failed.
 *
 * Every key a script touches comes in its KEYS, made here, except those it
 * finds by walking a set, named in redis/job-lib.lua only: the records of
 * the ids in a client's active set and parked list, the announcements of
 * the runners in sr:runners, and the queue a parked job goes back to (its
 * record's field "queue"). They are all under "sr:", the ACLs' pattern.
 *
 * LOG ENTRIES (sr:{ID}:log): field s, the kind: "o" (stdout) or "e"
 * (stderr), with field d, the bytes; or "x", the end marker, written once
 * when the job ends (finished, failed, cancelled), so readers blocked on
 * the stream (long-polls, live logs) wake up. log_entry_read() reads one;
 * store_log_append() writes a batch.
 *
 * JOB STATUSES (field "status"): queued -> running -> completed | failed,
 * and cancelled from queued or running; a job taken over from a lost
 * runner goes from running back to queued. enum job_status.
 *
 * Results of the store functions: 0, or STORE_UNREACHABLE (-1: no answer
 * from Redis; r->error says why) or STORE_BAD_REPLY (-2: an error reply,
 * or one not shaped as the script answers; r->error says what). What
 * Redis answers is untrusted input, to the root runner too: every reply
 * is checked for shape before it is used.
 */
#ifndef SANDRUN_STORE_H
#define SANDRUN_STORE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rconn.h"

/* ---- timing and bounds shared by both daemons */

#define LEASE_MS          15000  /* a runner silent this long is dead: its jobs are taken over */
#define LEASE_REFRESH_MS  3000   /* how often a runner renews its heartbeat and its jobs' leases */
#define JOB_ATTEMPTS_MAX  2      /* a job whose runner died is run once more, then failed */

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

/* ---- key names */

#define STORE_KEY_MAX     128   /* "sr:{" + an id + "}:archive-lock", "sr:active:{" + an IPv6 /64 + "}" fit */
#define STORE_ID_MAX      64    /* longer than any job id (common/jobid.h), with its NUL */
#define STORE_CLIENT_MAX  64    /* a quota key: "ffff:ffff:ffff:ffff::/64" and dotted quads fit, NUL too */
#define STORE_RUNNER_NAME_MAX 200 /* a runner name, without its NUL (runner/main.c) */
#define STORE_RUNNER_KEY_MAX  (sizeof "sr:runner:" + STORE_RUNNER_NAME_MAX)

#define STORE_KEY_QUEUE     "sr:queue"     /* the queue of the jobs any runner takes */
#define STORE_KEY_RUNNERS   "sr:runners"   /* the live runners' heartbeats */
#define STORE_KEY_UPLOADING "sr:uploading" /* uploads admitted by a submit's check, not yet recorded */
#define STORE_QUEUE_GROUP   "runners"      /* the runners' consumer group on every queue */

/* A job's keys, as the key table above names them. */
struct job_keys {
	char job[STORE_KEY_MAX];
	char upload[STORE_KEY_MAX];
	char log[STORE_KEY_MAX];
	char out[STORE_KEY_MAX];
	char dl[STORE_KEY_MAX];
	char archive_lock[STORE_KEY_MAX];
};

/* A client's keys (C: its quota key). */
struct client_keys {
	char active[STORE_KEY_MAX];
	char cpu[STORE_KEY_MAX];
	char store[STORE_KEY_MAX];
	char parked[STORE_KEY_MAX];
};

/* Fills *k for job `id`. 0, or -1 when id is empty or not shorter than STORE_ID_MAX (*k is then all ""). */
int job_keys_make(const char *id, struct job_keys *k);
/* Fills *k for client `client` ("" is a client too: the keys of nobody). 0, or -1 when it is
 * not shorter than STORE_CLIENT_MAX (*k is then all ""). */
int client_keys_make(const char *client, struct client_keys *k);
/* sr:runner:NAME into out. 0, or -1 when it does not fit. */
int store_key_runner(char *out, size_t outlen, const char *name);
/* The queue of GPU profile (vram_gb, cuda): sr:queue:gpu:<vram>g-cuda<cuda>. 0, or -1 when it does not fit. */
int store_key_gpu_queue(char *out, size_t outlen, double vram_gb, const char *cuda);
/* true for sr:queue and for a GPU queue as store_key_gpu_queue() names one (profile [A-Za-z0-9._-]+). */
bool store_key_is_queue(const char *name);
/* true for a GPU queue only. */
bool store_key_is_gpu_queue(const char *name);

/* ---- job statuses */

enum job_status {
	JOB_STATUS_NONE,             /* no record, or no status field */
	JOB_STATUS_QUEUED,
	JOB_STATUS_RUNNING,
	JOB_STATUS_COMPLETED,
	JOB_STATUS_FAILED,
	JOB_STATUS_CANCELLED,
	JOB_STATUS_UNKNOWN,          /* a status field that is none of the above: not one we wrote */
};

/* The status's name as stored ("queued"...); NULL for NONE and UNKNOWN. */
const char *job_status_name(enum job_status st);
/* A stored status (len bytes, any bytes): its enum, UNKNOWN when it is none; NONE for a NULL s. */
enum job_status job_status_parse(const char *s, size_t len);
/* The status of a record field as Redis answered it (HGET, an HMGET element): NONE for nil. */
enum job_status job_status_from_reply(const redisReply *r);
/* true once the job has ended: anything but queued or running (and NONE: no job to wait for). */
bool job_status_ended(enum job_status st);

/* ---- job record fields (hash sr:{ID}:job). Times are epoch milliseconds. */

#define JOB_F_STATUS        "status"        /* enum job_status */
#define JOB_F_REASON        "reason"        /* exit_code|timeout|memory_limit|output_limit|internal|cancelled */
#define JOB_F_MANIFEST      "manifest"      /* canonical manifest JSON */
#define JOB_F_CLIENT        "client"        /* the quota key of the submitting address */
#define JOB_F_SUBMITTED     "submitted_at"
#define JOB_F_STARTED       "started_at"
#define JOB_F_FINISHED      "finished_at"
#define JOB_F_RUNNER        "runner"        /* the runner running it (its consumer name) */
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
#define JOB_F_ENTRY         "queue_entry"   /* its entry id in that stream (queue_position) */
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

/* ---- log entries (sr:{ID}:log) */

#define LOG_ENTRY_ID_MAX 48     /* "ms-seq": two 64-bit numbers (41 characters) and a NUL */

enum log_kind {
	LOG_STDOUT,                  /* s = "o", d = the bytes */
	LOG_STDERR,                  /* s = "e", d = the bytes */
	LOG_END,                     /* s = "x": the job ended; nothing follows */
	LOG_OTHER,                   /* anything else (no s, another s, o/e without d): skipped by readers */
};

struct log_entry {
	char id[LOG_ENTRY_ID_MAX];   /* the stream entry id (reading); unused when writing */
	enum log_kind kind;
	const char *data;            /* LOG_STDOUT/LOG_STDERR: the bytes (reading: inside the reply) */
	size_t len;
};

/* A stream entry id as XREAD/XRANGE take one: "ms" or "ms-seq", each a 64-bit number. */
bool log_entry_id_valid(const char *s);
/*
 * Reads one entry of an XRANGE, XREVRANGE or XREAD reply ([id, [field,
 * value, ...]]) into *e; e->data points into the reply. 0, or -1 when it
 * is not an entry: not a two-element array, or its id not a valid entry id.
 * An entry whose fields are unreadable is LOG_OTHER, with its id.
 */
int log_entry_read(const redisReply *r, struct log_entry *e);
/*
 * The entries of an XREAD reply for one stream ([[key, [entry, ...]]]):
 * the array of entries, or NULL when the reply is not shaped so (nil, the
 * BLOCK timing out, is not an error: check for it first).
 */
const redisReply *log_xread_entries(const redisReply *r);

/* ---- calls: results */

#define STORE_UNREACHABLE (-1)  /* Redis did not answer (r->error) */
#define STORE_BAD_REPLY   (-2)  /* Redis answered an error, or something else than the script's answer (r->error) */

/* HGET of the record's client into out (outlen >= STORE_CLIENT_MAX). 1 found, 0 no record (or no
 * client, or one longer than a quota key: out is ""), or STORE_UNREACHABLE / STORE_BAD_REPLY. */
int store_job_client(struct rconn *r, const char *id, char *out, size_t outlen);

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

#endif
