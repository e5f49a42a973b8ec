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
 *                                  (write-only for the responders)    (deleted by job-lib's job_end)
 *   sr:{ID}:manifest       string  submit.lua: the canonical manifest the upload's: deleted with it (job_
 *                                  JSON, env values included; read   end; finish.lua also when it drops
 *                                  by start.lua only (write-only for  a run, downloaded.lua); start.lua
 *                                  the responders)                    falls back to the record's old
 *                                                                     field "manifest"
 *   sr:{ID}:log            stream  the runner (log_append.lua): one   timeout_max + retention_seconds
 *                                  entry per run of one stream; the   while it runs; the record's once
 *                                  end marker: job-lib's job_log_end  the job ends; a cancel empties
 *                                  (LOG ENTRIES below)                it to its end marker, a retry
 *                                                                     (reclaim.lua) deletes it
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
 *                                  entries {id, client} ({id} from    and deleted (XACK, XDEL) when its
 *                                  unpark); consumer group "runners"  job starts (not runnable), ends or
 *                                  (STORE_QUEUE_GROUP),               is failed; an entry stays pending
 *                                  made by the runners (XGROUP        while its job runs (below)
 *                                  CREATE ... MKSTREAM)
 *   sr:queue:gpu:P         stream  the same, for jobs that need a GPU: read only by the runners announcing
 *                                  GPU profile P ("24g-cuda12.2": memory, CUDA version); the responder
 *                                  picks the queue of the best-fitting live GPU (store_key_gpu_queue)
 *   sr:queue-seq           hash    the queues' numbers, so that no    the longest-lived job it numbered
 *                                  responder reads a queue (its       (submit.lua, fair-lib's unpark
 *                                  entries name every queued job):    extend it)
 *                                  field QUEUE = the last number
 *                                  given in QUEUE (submit.lua, fair-
 *                                  lib's unpark: the record's
 *                                  "queue_seq"); field "QUEUE taken"
 *                                  (STORE_QUEUE_SEQ_TAKEN) = the
 *                                  highest number a runner took off
 *                                  QUEUE (start.lua). A queued job's
 *                                  queue_position is its number minus
 *                                  that (store_queue_taken)
 *   sr:runners             zset    the runners' heartbeats: member =  no TTL: a runner prunes members
 *                                  runner name, score = last beat     older than LEASE_MS at each beat,
 *                                  (ms)                               and removes itself at a clean stop
 *   sr:runner:NAME         hash    the runner's heartbeat: slots,     LEASE_MS, renewed at each beat;
 *                                  busy, host, environments, gpu,     deleted at a clean stop
 *                                  worker_id, ...
 *   sr:inflight:{C}        zset    the client's queued and running    quota_idle_seconds of inactivity;
 *                                  jobs: submit.lua adds DIGEST,      quota-lib drops members past
 *                                  score = when the record expires    their score (a job whose end
 *                                  (ms); job-lib's job_end (finish,   was never recorded)
 *                                  cancel, reclaim, start) removes it
 *   sr:running:{C}         set     start.lua adds the id of a job it  that of the longest-lived job it
 *                                  starts; finish and reclaim remove  names; fair-lib drops ids no
 *                                  it: the client's share of the      longer running as it meets them
 *                                  slots (fair-lib.lua). Runners only
 *   sr:cpu:{C}             zset    finish.lua: member                 quota_idle_seconds of inactivity;
 *                                  "DIGEST:seconds", score = finish   quota-lib drops charges older
 *                                  time (ms); the CPU window is the   than the window
 *                                  last quota_window_seconds
 *   sr:cpusum:{C}          hash    quota-lib.lua, beside sr:cpu:{C}:  the same TTL as sr:cpu:{C}, set
 *                                  n = its charges, us = their        in the same step; counts only
 *                                  seconds (integer micro-seconds),   while n is the zset's ZCARD
 *                                  kept by every charge and prune     (else rebuilt by the next write)
 *   sr:store:{C}           hash    store-lib (every script that       that of the longest-lived job it
 *                                  changes what a job keeps): the     names; an entry past its expiry
 *                                  storage ledger, field = DIGEST,    counts nothing and is dropped on
 *                                  value = "BYTES EXPIRY_MS"          the next look
 *   sr:storesum:{C}        hash    store-lib, beside sr:store:{C}:    the ledger's TTL, set in the
 *                                  n = its entries, bytes = their     same step; counts only while n
 *                                  sum, kept by every entry written   is the ledger's HLEN and the
 *                                  or deleted (store_entry_set/_del)  index's ZCARD (else rebuilt)
 *   sr:storeexp:{C}        zset    store-lib: the ledger's expiry     the ledger's TTL
 *                                  index, member = an entry's field,
 *                                  score = its expiry (ms): expired
 *                                  entries are found here, not by a
 *                                  read of every entry
 *   sr:parked:{C}          list    start.lua parks a job id while its that of the longest-lived job it
 *                                  client holds its share of the      names
 *                                  runner slots; fair-lib's unpark
 *                                  puts one back in its queue each
 *                                  time one of the client's jobs
 *                                  ends. Runners only
 *   sr:uploading           hash    submit.lua's check: uploads        30 s (an entry, and the key)
 *                                  admitted but not yet recorded,
 *                                  field = DIGEST, value = "BYTES
 *                                  EXPIRY_MS" (3 x the upload)
 *   sr:metrics             hash    the counters of GET /metrics       none (counters; a few dozen
 *                                  (redis/metrics-lib.lua): the job   fields, every name from a
 *                                  scripts count in the step they     fixed set)
 *                                  count; responders their 4xx
 *
 * SESSIONS (SPEC §7; the conversation between responder, runner and the
 * agent in the sandbox: docs/sessions.md). SID: "ses-" + 26 base32, WID:
 * "wsp-" + 26 base32 (common/jobid.h), RID: a request's 16 hex digits.
 *   sr:{SID}:ses           hash    the session record: session_create  ttl_seconds + 600 s; 300 s once
 *                                  .lua makes it (SES_F_* below), the  ended (routes answer 410 with the
 *                                  runner's scripts change it          reason meanwhile)
 *   sr:sespool:ENV         list    session_create.lua: one create      popped by a warm supervisor of a
 *                                  entry (JSON) per new session of     runner offering ENV; dropped there
 *                                  environment ENV. Runners read it    when its record is not "starting"
 *   sr:{SID}:req           list    session_request.lua: requests to    the record's; deleted at the end
 *                                  the session's supervisor (JSON)
 *   sr:{SID}:data:RID      string  session_request.lua: a request's    120 s; the supervisor GETDELs it
 *                                  bytes (a file, an archive)
 *   sr:{SID}:rep:RID       list    the supervisor: reply frames to     120 s from the last push
 *                                  request RID (the create's: RID
 *                                  "create")
 *   sr:sessions:{C}        zset    the client's live sessions: member  quota_idle_seconds
 *                                  DIGEST (of the SID), score =
 *                                  expires_at (ms)
 *   sr:{WID}:wsp           string  a snapshot: the workspace as        snapshot_ttl_seconds; reserved
 *                                  .tar.gz, written by the supervisor  in the client's sr:store:{C}
 *   sr:{SID}:pty           stream  the terminal's output: the runner   the record's (PEXPIRE at each add);
 *                                  XADDs (MAXLEN ~ 1024) t=s|o|x, d;   session_end.lua adds t=e and lets
 *                                  session_end.lua t=e (sessions.md)   it expire with the ended record
 *   sr:{SID}:pty:in        list    the terminal's input: the gateway   the record's; deleted when the
 *                                  pushes ('d'+bytes, 'r'+"C R"), the  shell exits and when the session
 *                                  runner BLPOPs                       ends
 *
 * DIGEST is the SHA1 of the job id, 40 hex digits (redis/store-lib.lua's
 * store_digest): what a responder reads per client names no job, as the
 * id is the only key to a job's data (SECURITY.md). Who may read or write
 * what is redis/users.acl.in's (redis/README.md, "The users"): the
 * responders may write but never read a job's upload and manifest, add to
 * and count the queues but never read them, and not touch the lists of job
 * ids marked "Runners only"; both roles call the scripts by EVALSHA, only
 * the runners load them (redis_scripts below).
 *
 * The leases: a queue entry stays pending (PEL) while its job runs; its
 * runner refreshes it (XCLAIM, idle 0) every LEASE_REFRESH_MS, so an entry
 * idle for LEASE_MS belongs to a dead runner and is taken over with
 * XAUTOCLAIM (reclaim.lua): run once more (JOB_ATTEMPTS_MAX), then failed.
 *
 * Every key a script touches comes in its KEYS, made here, except those it
 * finds by walking a set, named in redis/job-lib.lua only: the records of
 * the ids in a client's running set and parked list, the announcements of
 * the runners in sr:runners, and the queue a parked job goes back to (its
 * record's field "queue"). They are all under "sr:", the ACLs' pattern,
 * and only the runners' scripts walk them. A responder's EVALSHA may name
 * any "sr:" key (its ACL grants EVALSHA alone on "sr:*": Redis asks for
 * read and write on every key given to EVALSHA); each command the script
 * then runs is checked against the responder's own rights.
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

#define STORE_KEY_MAX     128   /* "sr:{" + an id + "}:archive-lock", "sr:inflight:{" + an IPv6 /64 + "}" fit */
#define STORE_ID_MAX      64    /* longer than any job id (common/jobid.h), with its NUL */
#define STORE_CLIENT_MAX  80    /* a quota key: "ffff:ffff:ffff:ffff::/64", dotted quads, "key:" + a key's name, NUL too */
#define STORE_RUNNER_NAME_MAX 200 /* a runner name, without its NUL (runner/main.c) */
#define STORE_RUNNER_KEY_MAX  (sizeof "sr:runner:" + STORE_RUNNER_NAME_MAX)

#define STORE_KEY_QUEUE     "sr:queue"     /* the queue of the jobs any runner takes */
#define STORE_KEY_RUNNERS   "sr:runners"   /* the live runners' heartbeats */
#define STORE_KEY_UPLOADING "sr:uploading" /* uploads admitted by a submit's check, not yet recorded */
#define STORE_KEY_QUEUE_SEQ "sr:queue-seq" /* the queues' numbers (queue_position) */
#define STORE_KEY_METRICS "sr:metrics"     /* the service's counters (redis/metrics-lib.lua, GET /metrics) */
#define STORE_QUEUE_SEQ_TAKEN " taken"     /* QUEUE + this: sr:queue-seq's field of the number last taken
                                              off QUEUE (start.lua builds it the same way) */
#define STORE_QUEUE_GROUP   "runners"      /* the runners' consumer group on every queue */

/* A job's keys, as the key table above names them. */
struct job_keys {
	char job[STORE_KEY_MAX];
	char upload[STORE_KEY_MAX];
	char manifest[STORE_KEY_MAX];
	char log[STORE_KEY_MAX];
	char out[STORE_KEY_MAX];
	char dl[STORE_KEY_MAX];
	char archive_lock[STORE_KEY_MAX];
};

/* A client's keys (C: its quota key). */
struct client_keys {
	char inflight[STORE_KEY_MAX];
	char running[STORE_KEY_MAX];
	char cpu[STORE_KEY_MAX];
	char store[STORE_KEY_MAX];
	char parked[STORE_KEY_MAX];
	char sessions[STORE_KEY_MAX];
};

/* A session's keys (SID: "ses-..."), as the key table above names them. */
struct session_keys {
	char ses[STORE_KEY_MAX];
	char req[STORE_KEY_MAX];
	char pty[STORE_KEY_MAX];
	char pty_in[STORE_KEY_MAX];
};

/* Fills *k for job `id`. 0, or -1 when id is empty or not shorter than STORE_ID_MAX (*k is then all ""). */
int job_keys_make(const char *id, struct job_keys *k);
/* Fills *k for client `client` ("" is a client too: the keys of nobody). 0, or -1 when it is
 * not shorter than STORE_CLIENT_MAX (*k is then all ""). */
int client_keys_make(const char *client, struct client_keys *k);
/* Fills *k for session `sid`. 0, or -1 when sid is empty or not shorter than STORE_ID_MAX. */
int session_keys_make(const char *sid, struct session_keys *k);
/* sr:{SID}:data:RID and sr:{SID}:rep:RID (rid: at most STORE_ID_MAX - 1 bytes). 0, or -1 when it does not fit. */
int store_key_session_data(char *out, size_t outlen, const char *sid, const char *rid);
int store_key_session_reply(char *out, size_t outlen, const char *sid, const char *rid);
/* sr:sespool:ENV: the create entries for environment env. 0, or -1 when it does not fit. */
int store_key_session_pool(char *out, size_t outlen, const char *env);
/* sr:{WID}:wsp: a saved workspace. 0, or -1 when it does not fit. */
int store_key_workspace(char *out, size_t outlen, const char *wid);
#define STORE_SESSION_CREATE_RID "create" /* the RID of a create's reply list */

/* sr:runner:NAME into out. 0, or -1 when it does not fit. */
int store_key_runner(char *out, size_t outlen, const char *name);
/* The queue of GPU profile (vram_gb, cuda): sr:queue:gpu:<vram>g-cuda<cuda>. 0, or -1 when it does not fit. */
int store_key_gpu_queue(char *out, size_t outlen, double vram_gb, const char *cuda);
/* true for sr:queue and for a GPU queue as store_key_gpu_queue() names one (profile [A-Za-z0-9._-]+). */
bool store_key_is_queue(const char *name);
/* true for a GPU queue only. */
bool store_key_is_gpu_queue(const char *name);
/* sr:queue-seq's field of the number last taken off `queue` (QUEUE + STORE_QUEUE_SEQ_TAKEN) into out.
 * 0, or -1 when it does not fit. */
int store_queue_taken_field(char *out, size_t outlen, const char *queue);

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
#define JOB_F_TIMEOUT       "timeout"       /* the manifest's timeout (s); the manifest is in sr:{ID}:manifest
                                               (records from before that hold it in a field "manifest") */
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
#define JOB_F_QUEUE_SEQ     "queue_seq"     /* its number in that queue (sr:queue-seq: queue_position) */
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
#define JOB_F_SANDBOX_START   "sandbox_start_ms" /* its spec ready to its sandbox started (metrics-lib.lua) */
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

/* HGET of sr:queue-seq's field of the highest number a runner took off `queue` (a queue name,
 * store_key_is_queue) into *taken: 0 when none was. 0, or STORE_UNREACHABLE / STORE_BAD_REPLY. A queued
 * job's queue_position is its number (the record's queue_seq) minus *taken. */
int store_queue_taken(struct rconn *r, const char *queue, int64_t *taken);

/* HGET of the record's client into out (outlen >= STORE_CLIENT_MAX): 1 found (out is "" when it is
 * no quota key: too long), 0 no record (no client field), or STORE_UNREACHABLE / STORE_BAD_REPLY. */
int store_job_client(struct rconn *r, const char *id, char *out, size_t outlen);

/*
 * ---- the scripts: one function each (redis/NAME.lua), which knows its
 * KEYS and ARGV. Each returns 0 (its answer in the out parameter), or
 * STORE_UNREACHABLE / STORE_BAD_REPLY with r->error set. Numbers go as
 * decimal text; strings as given (binary-safe where a length comes along).
 */

/* submit.lua: admits a job and queues it, whole or not at all. Two calls: the
 * verdict without the upload ("check": a refused upload never passes through
 * Redis's memory), then, if admitted, the job with it ("record"). */
struct store_submit {
	const char *id, *client;
	const char *queue;           /* STORE_KEY_QUEUE or a GPU queue (store_key_gpu_queue) */
	const char *manifest;        /* canonical JSON, into sr:{ID}:manifest */
	const char *upload;          /* the archive, upload_len bytes */
	size_t upload_len;
	int64_t now_ms;              /* submitted_at */
	int64_t ttl_s;               /* the record's TTL while queued */
	int64_t jobs_max;            /* queued or running at once, per client */
	double cpu_limit;            /* CPU-seconds per window */
	int64_t window_ms, idle_ms;  /* the CPU window; the quota keys' TTL */
	int64_t log_bytes, base_bytes; /* the ledger's reservation for the log and the record */
	int64_t storage_quota;       /* bytes, per client */
	int64_t high_water_percent;  /* of Redis's maxmemory: refused above */
	int64_t timeout_s;           /* the manifest's timeout: the record's "timeout" (fcgi/stream.c) */
};

enum store_submit_verdict {
	STORE_SUBMIT_ADMITTED,       /* queued */
	STORE_SUBMIT_OVER_CPU,       /* the CPU window is used up */
	STORE_SUBMIT_OVER_JOBS,      /* jobs_max already queued or running */
	STORE_SUBMIT_OVER_STORAGE,   /* the storage quota would be passed */
	STORE_SUBMIT_OVER_MEMORY,    /* Redis's memory is over the high-water mark */
	STORE_SUBMIT_REDIS_FULL,     /* Redis refused the script whole (OOM: over its maxmemory) */
};

struct store_submit_result {
	enum store_submit_verdict verdict;
	double used;                 /* ADMITTED, OVER_CPU: CPU-seconds used; OVER_JOBS: jobs active;
	                                OVER_STORAGE: bytes held; OVER_MEMORY: Redis's used_memory */
	long long figure;            /* ADMITTED: jobs active, this one included; OVER_CPU: ms until a
	                                submit may pass; OVER_STORAGE: the same, -1 for never;
	                                OVER_MEMORY: Redis's maxmemory */
};

int store_submit(struct rconn *r, const struct store_submit *p, struct store_submit_result *res);

/* quota.lua: a client's usage (GET /stats). */
struct store_quota_usage {
	double cpu_used;             /* CPU-seconds in the window */
	long long active;            /* jobs queued or running */
	long long reset_ms;          /* until the oldest charge leaves the window (0: none) */
	long long retry_ms;          /* until a submit passes the CPU check (0: now) */
	long long storage_used;      /* bytes held (the storage ledger) */
};

int store_quota_usage(struct rconn *r, const char *client, int64_t now_ms, int64_t window_ms, double cpu_limit,
		      struct store_quota_usage *u);

/*
 * The CPU part alone (cpu_used, reset_ms; the rest 0), for the RateLimit
 * headers every answer carries: quota_cpu_read.lua (no-writes; the running
 * sum and the oldest charge, O(1) in the number of charges), sent ahead of
 * the route's own first command (rconn_defer_argv) so that both share one
 * round trip. The figures are quota-lib.lua's quota_cpu over the same
 * charges (those scored after now - window: the ones quota_cpu keeps), so
 * they equal what quota.lua and submit.lua find.
 * store_quota_cpu_send: 0, or STORE_UNREACHABLE / STORE_BAD_REPLY (a client
 * that makes no key). store_quota_cpu_take: the same, for the reply.
 */
int store_quota_cpu_send(struct rconn *r, const char *client, int64_t now_ms, int64_t window_ms);
int store_quota_cpu_take(struct rconn *r, struct store_quota_usage *u);

/* start.lua: a runner claims a queued job (queued -> running, one attempt more),
 * or parks it while its client holds its share of the slots. */
struct store_start {
	const char *id, *queue, *entry_id;
	const char *runner;          /* the runner's name: the record's "runner" */
	int64_t now_ms;              /* started_at */
	int64_t failed_ttl_s;        /* for a job failed here (its upload expired) */
	int64_t running_max;         /* a client's share of the slots; 0: half the live fleet's */
	int64_t lease_ms;            /* a heartbeat older than this is no live runner's */
	int64_t retry_ms;            /* no answer: try again for this long (0: once) */
	/* The client its queue entry named (submit.lua writes it), unchecked: the
	 * claim uses it without reading the record first, and start.lua checks it
	 * against the record (a mismatch: the record's is read, and the claim made
	 * again). NULL or "": the record's is read first. */
	const char *entry_client;
};

/* A claimed job: the strings point into reply (store_claim_free frees it). */
struct store_claim {
	const char *manifest;        /* the stored manifest (untrusted: parse it again) */
	size_t manifest_len;
	const char *upload;          /* the archive */
	size_t upload_len;
	const char *client;          /* its client ("" for none) */
	int64_t attempt;             /* 1 for the first run */
	redisReply *reply;
};

/* Reads the record's client first (store_job_client: it names the client's keys), then claims.
 * 1 claimed (*c filled); 0 nothing to run now (not queued, parked, or its upload expired and the job
 * failed): its queue entry was dropped. */
int store_job_start(struct rconn *r, const struct store_start *p, struct store_claim *c);
void store_claim_free(struct store_claim *c);

/* finish.lua: the end of one run: the result recorded (or dropped), the queue entry acknowledged,
 * the client's CPU charged and its in-flight slot released. */
struct store_finish {
	const char *id, *queue, *entry_id, *runner;
	const char *client;          /* from the claim; one that is no quota key is charged nothing */
	int64_t now_ms;
	int64_t ttl_s;               /* what is left of the job lives this long */
	int64_t quota_idle_ms;
	double cpu_seconds;          /* the run's CPU, charged to the client */
	const char *const *fields;   /* field, value, field, value, ...: for the record */
	size_t nfields;              /* strings in fields (twice the pairs) */
	int64_t retry_ms;            /* no answer: try again for this long (0: once) */
};

enum store_finish_outcome {
	STORE_FINISH_RECORDED,       /* the job was running here: recorded */
	STORE_FINISH_DROPPED,        /* it ended without this run (cancelled, failed) or is gone */
	STORE_FINISH_LOST,           /* another run holds it now (taken over): nothing touched but the CPU */
};

int store_job_finish(struct rconn *r, const struct store_finish *p, enum store_finish_outcome *out);

/* reclaim.lua: a queue entry taken over from a lost runner (XAUTOCLAIM). */
struct store_reclaim {
	const char *id, *queue, *entry_id;
	const char *client;          /* the record's, read first (store_job_client) */
	int64_t now_ms;
	int64_t attempts_max;
	int64_t failed_ttl_s;
};

enum store_reclaim_outcome {
	STORE_RECLAIM_RUN,           /* queued (again): start it like any queued job */
	STORE_RECLAIM_FAILED,        /* every attempt used: failed with reason internal */
	STORE_RECLAIM_GONE,          /* ended, cancelled or expired: entry dropped */
};

int store_job_reclaim(struct rconn *r, const struct store_reclaim *p, enum store_reclaim_outcome *out);

/* cancel.lua: DELETE /jobs/{id}. A queued or running job is cancelled, an ended one deleted.
 * *was: the status it had; JOB_STATUS_NONE when there is no such job. */
struct store_cancel {
	const char *id;
	const char *client;          /* the record's, read first (store_job_client) */
	int64_t now_ms;
	int64_t ttl_s;               /* the cancelled record's */
};

int store_job_cancel(struct rconn *r, const struct store_cancel *p, enum job_status *was);

/* downloaded.lua: an output (path) or the archive (path "") was answered; the job is deleted
 * once every output, or the archive, was. */
enum store_downloaded_outcome {
	STORE_DOWNLOADED_DELETED,    /* the job is deleted whole */
	STORE_DOWNLOADED_KEPT,       /* outputs are left */
	STORE_DOWNLOADED_GONE,       /* there was no job */
};

int store_job_downloaded(struct rconn *r, const char *id, const char *client, const char *path,
			 enum store_downloaded_outcome *out);

/* store_output.lua: keeps one output file if the client's storage quota and Redis's memory allow. */
struct store_output {
	const char *id;
	const char *client;          /* from the claim */
	const char *path;            /* normalized, relative */
	size_t path_len;
	const char *content;
	size_t size;
	bool first;                  /* the job's first: what an earlier run stored goes */
	int64_t now_ms;
	int64_t ttl_s;               /* provisional: finish.lua sets the last one */
	int64_t quota_bytes;         /* the client's storage quota */
	int64_t results_percent;     /* kept only below this share of Redis's maxmemory */
};

enum store_output_verdict {
	STORE_OUTPUT_KEPT,
	STORE_OUTPUT_OVER_QUOTA,     /* the client's storage quota */
	STORE_OUTPUT_FULL,           /* Redis's memory */
	STORE_OUTPUT_JOB_GONE,       /* no record: nothing to keep it for */
};

int store_output_put(struct rconn *r, const struct store_output *p, enum store_output_verdict *out);

/* log_append.lua: appends entries (LOG_STDOUT or LOG_STDERR, in order) to the job's log, whose TTL
 * becomes ttl_s. One round trip. */
int store_log_append(struct rconn *r, const char *id, int64_t ttl_s, const struct log_entry *entries,
		     size_t n);

/*
 * ---- every script, to load: the sources of the scripts in redis/ (NULL-
 * terminated; made by build-aux/embed-lua.sh into common/redis_scripts.c)
 * and their names ("submit", ...), in the same order. Redis keeps scripts
 * in memory only, so a restart loses them; the runner loads them all at
 * each connect and for --load-scripts (rconn_allow_script_load,
 * rconn_load_scripts). The responders may only call them (EVALSHA).
 */
extern const char *const redis_scripts[];
extern const char *const redis_script_names[];

#endif
