/*
 * A job supervisor: claim the job (queued -> running, atomically), build
 * the command line from the manifest (runner/job_command.c, with the
 * interpreter found in the job's environment, runner/environments.c),
 * start the sandbox, stream its output into the job's log stream in Redis
 * (bounded, in order, batched), enforce the wall-clock deadline, and
 * record the result with one script.
 *
 * The manifest is validated again here: what comes out of Redis is
 * untrusted input to the root runner too.
 *
 * Limits: the job's cgroup (memory_mb, one core, pids_max) is made before
 * the sandbox and removed after it; a job is never started without it.
 * An OOM kill the cgroup saw is reason memory_limit.
 *
 * While the job runs, the supervisor makes sure it still holds it: every
 * JOB_CHECK_MS it reads the job's status and runner (one HMGET) and kills
 * the sandbox at once when the job was cancelled, taken over or deleted;
 * and it kills it, recording nothing, when the runner has not renewed the
 * job's lease (common/store.h) for LEASE_MS - JOB_LEASE_MARGIN_MS: Redis is
 * out of this runner's reach, so another runner may soon take the job over
 * and must find it stopped. From the moment it knows the job is no longer
 * its own it writes no more output: the log belongs to the cancel or to
 * the next run.
 */
#include "cgroup.h"
#include "config.h"
#include "environments.h"
#include "gpu.h"
#include "job.h"
#include "job_command.h"
#include "log.h"
#include "manifest.h"
#include "outputs.h"
#include "sandbox.h"
#include "sandbox_spec.h"
#include "sign.h"
#include "signer.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_FLUSH_MS      100            /* output reaches Redis (and readers) within this */
#define LOG_FLUSH_BYTES   (64 * 1024)    /* or as soon as this much is waiting */
/* A log that has used a quarter of its LOG_ENTRIES_MAX entries (a job
 * trickling output for minutes) is flushed once a second instead: fewer,
 * larger entries, so an honest long job never reaches the cap. */
#define LOG_ENTRIES_SLOW  (LOG_ENTRIES_MAX / 4)
#define LOG_FLUSH_SLOW_MS 1000
#define LOG_READ_CHUNK    (64 * 1024)
#define REDIS_RETRY_MS    30000          /* claim and result ride out a Redis restart this long */
/* How often a running job's supervisor checks that the job is still its
 * own: a cancelled job is killed within this (plus the kill), the spec
 * asks for a second. One HMGET per running job per check. */
#define JOB_CHECK_MS      250
/* A job whose lease has not been renewed for LEASE_MS minus this is
 * stopped: the margin covers a lagging check, the kill and clock drift
 * between Redis and this host, so the job is dead before the lease ends
 * and another runner may take it over. */
#define JOB_LEASE_MARGIN_MS 3000
/* After a failed check, the next one waits this long (a Redis that is down
 * must not stall the output loop on every check; the lease covers it). */
#define JOB_CHECK_BACKOFF_MS 1000
/* One core per job (docs/api.md §4): CPU time per period, all the job's threads
 * together. The period is the kernel's default: shorter costs scheduler
 * work, longer lets a job burst for longer before it is throttled. */
#define JOB_CPU_PERIOD_US 100000
#define JOB_CPU_QUOTA_US  100000
/* The share of memory_mb kept for processes when sizing the tmpfs: the
 * cgroup charges the tmpfs's pages too, so a tmpfs as large as the limit
 * would let a job that fills its disk be OOM-killed before it sees ENOSPC,
 * an error it can report. A quarter: room for an interpreter and its heap. */
#define JOB_TMPFS_RESERVE_DIVISOR 4

struct log_stream_state {
	int64_t written;             /* bytes kept for this stream */
	int truncated;
};

/* Whether the supervisor still holds its job; anything but HELD stops the job. */
enum job_hold {
	JOB_HELD,                    /* running, on this runner */
	JOB_CANCELLED,               /* DELETE /jobs/{id} */
	JOB_TAKEN_OVER,              /* queued again or running elsewhere: our lease lapsed */
	JOB_ENDED,                   /* ended without us (failed by a takeover) */
	JOB_GONE,                    /* no record: expired, deleted, Redis restarted empty */
	JOB_LEASE_LAPSED,            /* not renewed in time: Redis out of reach; record nothing */
};

static const char *const job_hold_text[] = {
	[JOB_HELD] = "held",
	[JOB_CANCELLED] = "cancelled",
	[JOB_TAKEN_OVER] = "taken over by another runner",
	[JOB_ENDED] = "ended elsewhere",
	[JOB_GONE] = "deleted or expired",
	[JOB_LEASE_LAPSED] = "its lease was not renewed in time (Redis out of reach)",
};

struct job_run_state {
	const struct job_slot *slot;
	struct rconn *redis;
	const char *id;
	const char *queue;           /* the stream the job came from: the main queue or a GPU queue */
	const char *entry_id;        /* the queue entry, acknowledged with the result */
	const char *client;          /* the submitter's quota key: CPU charged and active slot freed at the end */
	enum job_hold hold;          /* set once the job is no longer ours; no output is written then */
	int64_t check_due;           /* next hold check (monotonic ms) */
	struct job_keys keys;
	int64_t ttl;
	int log_lost;                /* a batch of output could not be written */
	/* Output not yet in Redis, in arrival order: consecutive bytes of one stream form a run. */
	struct buf batch_data;       /* pending bytes of every run, back to back */
	struct { char stream; size_t len; } runs[256];
	size_t nruns;
	struct log_stream_state streams[2];
	size_t log_entries;          /* stream entries written (bounded by LOG_ENTRIES_MAX) */
	struct buf outputs;          /* the outputs stream from init (runner/sandbox.h), whole */
	size_t outputs_cap;          /* beyond this the stream is not kept (init bounds it already) */
	/* Signed results (runner/sign.h): SHA-256 of each stream's kept bytes, of the upload and manifest. */
	EVP_MD_CTX *log_sha[2];
	char upload_sha256[SIGN_SHA256_HEX_LEN + 1];
	char manifest_sha256[SIGN_SHA256_HEX_LEN + 1];
	int64_t started_ms;          /* started_at as start.lua recorded it */
	const struct manifest *m;    /* NULL when the stored manifest was invalid */
};

/*
 * Writes the pending runs to the log stream, one entry per run, in one
 * round trip (redis/log_append.lua). 0, or -1 when Redis failed or refused:
 * then the log is incomplete, and the result says so (job_record_result).
 */
static int log_flush(struct job_run_state *st)
{
	struct log_entry *entries = NULL;
	size_t off = 0;
	int rc = 0;

	if (st->hold != JOB_HELD)
		st->nruns = 0;
	if (!st->nruns)
		goto out;
	entries = xmalloc(st->nruns * sizeof *entries);
	for (size_t i = 0; i < st->nruns; i++) {
		entries[i] = (struct log_entry){ .kind = st->runs[i].stream == 'e' ? LOG_STDERR : LOG_STDOUT,
						 .data = st->batch_data.data + off, .len = st->runs[i].len };
		off += st->runs[i].len;
	}
	if (store_log_append(st->redis, st->id, st->ttl, entries, st->nruns) < 0) {
		st->log_lost = 1;
		rc = -1;
	} else {
		st->log_entries += st->nruns;
	}
out:
	free(entries);
	st->nruns = 0;
	st->batch_data.len = 0;
	return rc;
}

/*
 * The log has used its entries but the last two (this marker, then the
 * end marker): the job's further output is dropped, marked, as output past
 * log_max_bytes is. It bounds what a job of many tiny writes costs Redis.
 */
static void log_entries_exhausted(struct job_run_state *st, int stream)
{
	char marker[128];
	int n = snprintf(marker, sizeof marker, "\n[sandrun: output truncated: more than %d separate writes]\n",
			 LOG_ENTRIES_MAX);

	if (st->nruns == sizeof st->runs / sizeof st->runs[0])
		log_flush(st);
	st->runs[st->nruns].stream = stream ? 'e' : 'o';
	st->runs[st->nruns].len = (size_t)n;
	st->nruns++;
	buf_append(&st->batch_data, marker, (size_t)n);
	sign_sha256_update(st->log_sha[stream], marker, (size_t)n);
	st->streams[0].truncated = st->streams[1].truncated = 1;
}

/* Adds output of one stream (0 stdout, 1 stderr), keeping at most log_max_bytes of it. */
static void log_add(struct job_run_state *st, int stream, const char *data, size_t len)
{
	struct log_stream_state *s = &st->streams[stream];
	int64_t cap = st->slot->cfg->limits.log_max_bytes;
	char marker[96];
	size_t markerlen = 0;

	if (s->truncated || st->hold != JOB_HELD)
		return;
	if (!(st->nruns && st->runs[st->nruns - 1].stream == (stream ? 'e' : 'o')) &&
	    st->log_entries + st->nruns + 2 >= LOG_ENTRIES_MAX) {
		log_entries_exhausted(st, stream);
		return;
	}
	if (s->written + (int64_t)len > cap) {
		len = (size_t)(cap - s->written);
		s->truncated = 1;
		markerlen = (size_t)snprintf(marker, sizeof marker, "\n[sandrun: %s truncated after %lld bytes]\n",
					     stream ? "stderr" : "stdout", (long long)cap);
	}
	s->written += (int64_t)len;
	for (int part = 0; part < 2; part++) {
		const char *p = part ? marker : data;
		size_t n = part ? markerlen : len;

		if (!n)
			continue;
		if (st->nruns && st->runs[st->nruns - 1].stream == (stream ? 'e' : 'o')) {
			st->runs[st->nruns - 1].len += n;
		} else {
			if (st->nruns == sizeof st->runs / sizeof st->runs[0])
				log_flush(st);
			st->runs[st->nruns].stream = stream ? 'e' : 'o';
			st->runs[st->nruns].len = n;
			st->nruns++;
		}
		buf_append(&st->batch_data, p, n);
		sign_sha256_update(st->log_sha[stream], p, n);
	}
}

struct job_result {
	enum job_status status;      /* completed | failed */
	const char *reason;          /* NULL | exit_code | timeout | memory_limit | internal */
	char error[300];
	char *outputs;               /* JOB_F_OUTPUTS and JOB_F_OUTPUTS_SKIPPED, or NULL */
	char *outputs_skipped;
	struct sandbox_result sb;
	double wall_seconds;
	int64_t sandbox_start_ms;    /* the job's spec ready to its sandbox started (go, or built); -1: none */
};

/*
 * Records the end of one run of job `id` (redis/finish.lua through
 * store_job_finish), with `nfields` field/value strings for the record:
 * 0 with *out, or STORE_UNREACHABLE / STORE_BAD_REPLY (r->error).
 */
static int job_finish(struct rconn *r, const struct job_slot *slot, const char *id, const char *client,
		      const char *queue, const char *entry_id, int64_t ttl, double cpu_seconds, size_t nfields,
		      const char *const *fields, int64_t retry_ms, enum store_finish_outcome *out)
{
	const struct store_finish p = {
		.id = id, .queue = queue, .entry_id = entry_id, .runner = slot->runner_name, .client = client,
		.now_ms = time_now_ms(), .ttl_s = ttl, .quota_idle_ms = slot->cfg->limits.quota_idle_seconds * 1000,
		.cpu_seconds = cpu_seconds, .fields = fields, .nfields = nfields, .retry_ms = retry_ms,
	};

	return store_job_finish(r, &p, out);
}

/* What job_sign() adds to the record: the field values live here. */
struct job_signature {
	char worker_id[SIGN_WORKER_ID_LEN + 1];
	char signature[SIGN_SIGNATURE_LEN + 1];
	char log_sha256[2][SIGN_SHA256_HEX_LEN + 1];
	char limits[256];
};

/*
 * Signs the result with the runner's key (--worker-key), through the
 * signer process that alone holds it, and appends the fields a verifier
 * needs (docs/signing.md) to fields: the message is
 * built from the same values the record gets, so the status object
 * rebuilds it. Output files come from the outputs field, when present.
 * Without a key it only finishes the log hashes.
 */
static void job_sign(struct job_run_state *st, const struct job_result *res, int64_t finished_ms,
		     struct job_signature *sg, const char **fields, int *nfields)
{
	const struct sandrun_limits *l = &st->slot->cfg->limits;
	struct sign_result sr = { 0 };
	struct sign_output *outputs = NULL;
	size_t noutputs = 0, msglen = 0;
	char started[40], finished[40], *msg = NULL, err[256];
	EVP_PKEY *pub = NULL;
	int n = *nfields;

	for (int s = 0; s < 2; s++) {
		sign_sha256_end(st->log_sha[s], sg->log_sha256[s]);
		st->log_sha[s] = NULL;
	}
	if (!st->slot->worker_id)
		return;
	for (int i = 0; i + 1 < n; i += 2)
		if (strcmp(fields[i], JOB_F_OUTPUTS) == 0 &&
		    sign_outputs_from_json(fields[i + 1], &outputs, &noutputs) < 0) {
			log_error(st->id, "cannot sign: the outputs field is not a list of files");
			return;
		}
	snprintf(sg->worker_id, sizeof sg->worker_id, "%s", st->slot->worker_id);
	sr.limits.timeout_seconds = st->m ? st->m->timeout : 0;
	sr.limits.memory_mb = st->m ? st->m->memory_mb : 0;
	sr.limits.cpu_cores = JOB_CPU_QUOTA_US / JOB_CPU_PERIOD_US;
	sr.limits.pids_max = l->pids_max;
	sr.limits.log_max_bytes = l->log_max_bytes;
	snprintf(sg->limits, sizeof sg->limits,
		 "{\"timeout_seconds\":%lld,\"memory_mb\":%lld,\"cpu_cores\":%lld,\"pids_max\":%lld,"
		 "\"log_max_bytes\":%lld}",
		 (long long)sr.limits.timeout_seconds, (long long)sr.limits.memory_mb,
		 (long long)sr.limits.cpu_cores, (long long)sr.limits.pids_max, (long long)sr.limits.log_max_bytes);
	time_format_rfc3339(st->started_ms, started, sizeof started);
	time_format_rfc3339(finished_ms, finished, sizeof finished);
	sr.job_id = st->id;
	sr.worker_id = sg->worker_id;
	sr.upload_sha256 = st->upload_sha256;
	sr.manifest_sha256 = st->manifest_sha256;
	sr.environment = st->m ? st->m->environment : "";
	sr.status = job_status_name(res->status);
	sr.reason = res->reason;
	sr.has_exit_code = res->sb.outcome == SANDBOX_EXITED && res->sb.exit_code >= 0;
	sr.exit_code = res->sb.exit_code;
	sr.has_signal = res->sb.outcome == SANDBOX_EXITED && res->sb.term_signal > 0;
	sr.signal = res->sb.term_signal;
	sr.cpu_seconds = res->sb.cpu_seconds;
	sr.wall_seconds = res->wall_seconds;
	sr.memory_peak_bytes = res->sb.memory_peak_bytes;
	sr.stdout_sha256 = sg->log_sha256[0];
	sr.stderr_sha256 = sg->log_sha256[1];
	sr.started_at = started;
	sr.finished_at = finished;
	sr.outputs = outputs;
	sr.noutputs = noutputs;
	msg = sign_message(&sr, &msglen);
	if (!msg) {
		log_error(st->id, "cannot sign the result (out of memory): recorded unsigned");
		goto out;
	}
	/* The signer process signs (runner/signer.h); what it returns is
	 * checked against the worker id before the record says it is signed. */
	if (signer_sign(st->slot->signer_fd, msg, msglen, sg->signature, err, sizeof err) < 0) {
		log_error(st->id, "cannot sign the result (%s): recorded unsigned", err);
		goto out;
	}
	if (!(pub = sign_key_from_worker_id(sg->worker_id)) || !sign_verify(pub, msg, msglen, sg->signature)) {
		log_error(st->id, "the signer's signature does not verify with worker %s: recorded unsigned",
			  sg->worker_id);
		goto out;
	}
	fields[n++] = JOB_F_WORKER_ID;       fields[n++] = sg->worker_id;
	fields[n++] = JOB_F_SIGNATURE;       fields[n++] = sg->signature;
	fields[n++] = JOB_F_UPLOAD_SHA256;   fields[n++] = st->upload_sha256;
	fields[n++] = JOB_F_MANIFEST_SHA256; fields[n++] = st->manifest_sha256;
	fields[n++] = JOB_F_STDOUT_SHA256;   fields[n++] = sg->log_sha256[0];
	fields[n++] = JOB_F_STDERR_SHA256;   fields[n++] = sg->log_sha256[1];
	fields[n++] = JOB_F_ENVIRONMENT;     fields[n++] = sr.environment;
	fields[n++] = JOB_F_LIMITS;          fields[n++] = sg->limits;
	*nfields = n;
out:
	EVP_PKEY_free(pub);
	free(msg);
	sign_outputs_free(outputs, noutputs);
}

/* Stores what init collected (runner/outputs.h); over the limit, the job fails with output_limit. */
static void job_store_outputs(struct job_run_state *st, const struct manifest *m, int timed_out,
			      struct job_result *res)
{
	const struct sandrun_limits *l = &st->slot->cfg->limits;
	struct outputs_budget budget = { .quota_bytes = l->quota_storage_bytes,
					 .results_percent = l->redis_memory_results_percent };
	struct outputs_result out;
	char err[256];

	(void)m;
	if (outputs_store(st->redis, st->id, st->client, st->outputs.data ? st->outputs.data : "", st->outputs.len,
			  st->ttl, (size_t)l->files_max, &budget, &out, err, sizeof err) < 0) {
		log_error(st->id, "outputs: %s", err);
		free(out.listing);
		free(out.skipped);
		return;
	}
	res->outputs = out.listing;
	res->outputs_skipped = out.skipped;
	if (timed_out || res->sb.oom_killed || !(out.over_limit || out.too_many || out.not_kept))
		return;
	res->status = JOB_STATUS_FAILED;
	res->reason = "output_limit";
	if (out.not_kept)
		snprintf(res->error, sizeof res->error,
			 "%zu output file%s could not be kept: this address's storage quota (%lld bytes) or the "
			 "job store's memory is used up (outputs_not_kept lists them); %zu file%s (%lld bytes) "
			 "kept", out.not_kept, out.not_kept == 1 ? "" : "s", (long long)l->quota_storage_bytes,
			 out.nfiles, out.nfiles == 1 ? "" : "s", (long long)out.bytes);
	else if (out.over_limit)
		snprintf(res->error, sizeof res->error,
			 "the outputs exceed the limit of %lld bytes: only the %zu files (%lld bytes) collected "
			 "before the limit was reached are kept", (long long)l->outputs_max_bytes, out.nfiles,
			 (long long)out.bytes);
	else
		snprintf(res->error, sizeof res->error,
			 "more than %lld files match the outputs: only the first %zu are kept",
			 (long long)l->files_max, out.nfiles);
}

/* Records the result with finish.lua. 1 recorded, 0 dropped (logged here), -1 when Redis failed. */
static int job_record_result(struct job_run_state *st, const struct job_result *res)
{
	const struct sandrun_limits *l = &st->slot->cfg->limits;
	char nums[16][32], wall[32], cpu[32];
	const char *fields[64];
	struct job_signature sg;
	int64_t finished = time_now_ms();
	int nfields = 0;
	struct job_result lost;
	enum store_finish_outcome outcome;
	int rc;

	if (st->log_lost && res->status == JOB_STATUS_COMPLETED) {
		/* Output the job wrote is not all in Redis: never a complete result. */
		lost = *res;
		lost.status = JOB_STATUS_FAILED;
		lost.reason = "internal";
		snprintf(lost.error, sizeof lost.error, "part of the job's output could not be stored "
			 "(the job store refused or did not answer); the logs are incomplete");
		res = &lost;
	}
	snprintf(cpu, sizeof cpu, "%.3f", res->sb.cpu_seconds);
	snprintf(wall, sizeof wall, "%.3f", res->wall_seconds);
	fields[nfields++] = JOB_F_STATUS;    fields[nfields++] = job_status_name(res->status);
	if (res->reason) {
		fields[nfields++] = JOB_F_REASON;
		fields[nfields++] = res->reason;
	}
	if (*res->error) {
		fields[nfields++] = JOB_F_ERROR;
		fields[nfields++] = res->error;
	}
	if (res->outputs && res->outputs_skipped) {
		fields[nfields++] = JOB_F_OUTPUTS;
		fields[nfields++] = res->outputs;
		fields[nfields++] = JOB_F_OUTPUTS_SKIPPED;
		fields[nfields++] = res->outputs_skipped;
	}
	fields[nfields++] = JOB_F_CPU;       fields[nfields++] = cpu;
	fields[nfields++] = JOB_F_WALL;      fields[nfields++] = wall;
	{
		int n = 0;
		const char *names[14];
		long long values[14];

		names[n] = JOB_F_FINISHED;     values[n++] = finished;
		names[n] = JOB_F_MEMORY;       values[n++] = res->sb.memory_peak_bytes;
		names[n] = JOB_F_STDOUT_BYTES; values[n++] = st->streams[0].written;
		names[n] = JOB_F_STDERR_BYTES; values[n++] = st->streams[1].written;
		names[n] = JOB_F_STDOUT_TRUNC; values[n++] = st->streams[0].truncated;
		names[n] = JOB_F_STDERR_TRUNC; values[n++] = st->streams[1].truncated;
		/* The storage ledger's real figures: the upload is deleted now; the
		 * log costs its bytes and entries (and the end marker). */
		names[n] = JOB_F_STORE_UPLOAD; values[n++] = 0;
		names[n] = JOB_F_STORE_LOG;
		values[n++] = st->streams[0].written + st->streams[1].written + 256 +
			      (long long)(st->log_entries + 1) * STORE_LOG_ENTRY_COST;
		names[n] = JOB_F_LOG_ENTRIES;  values[n++] = (long long)st->log_entries;
		if (res->sb.outcome == SANDBOX_EXITED && res->sb.exit_code >= 0) {
			names[n] = JOB_F_EXIT_CODE; values[n++] = res->sb.exit_code;
		}
		if (res->sb.outcome == SANDBOX_EXITED && res->sb.term_signal > 0) {
			names[n] = JOB_F_SIGNAL; values[n++] = res->sb.term_signal;
		}
		if (res->sandbox_start_ms >= 0) {
			names[n] = JOB_F_SANDBOX_START; values[n++] = res->sandbox_start_ms;
		}
		for (int i = 0; i < n; i++) {
			snprintf(nums[i], sizeof nums[i], "%lld", values[i]);
			fields[nfields++] = names[i];
			fields[nfields++] = nums[i];
		}
	}
	/* Last: it signs what the fields above say (output files included). */
	job_sign(st, res, finished, &sg, fields, &nfields);
	rc = job_finish(st->redis, st->slot, st->id, st->client, st->queue, st->entry_id,
			res->status == JOB_STATUS_COMPLETED ? l->retention_seconds : l->failed_retention_seconds,
			res->sb.cpu_seconds, (size_t)nfields, fields, REDIS_RETRY_MS, &outcome);
	if (rc == STORE_UNREACHABLE)
		return -1;
	if (rc < 0) {
		log_error(st->id, "%s", st->redis->error);
		return 0;
	}
	if (outcome == STORE_FINISH_RECORDED)
		return 1;
	log_info(st->id, "result dropped: the job was %s (%.3f s cpu charged, %.3f s wall)",
		 outcome == STORE_FINISH_LOST ? job_hold_text[JOB_TAKEN_OVER] :
		 st->hold != JOB_HELD ? job_hold_text[st->hold] : "ended or deleted meanwhile",
		 res->sb.cpu_seconds, res->wall_seconds);
	return 0;
}

/*
 * Whether the job is still this supervisor's (see enum job_hold). The
 * lease first: it needs no round trip, and when Redis is out of reach it
 * is the only thing that can say. A check Redis does not answer changes
 * nothing (the lease decides); the next one comes after a backoff.
 */
static enum job_hold job_check_hold(struct job_run_state *st, int64_t now)
{
	const int64_t *lease = st->slot->lease_renewed_ms;
	const char *argv[] = { "HMGET", st->keys.job, JOB_F_STATUS, JOB_F_RUNNER };
	enum job_hold hold = JOB_HELD;
	redisReply *r;

	if (lease && now - __atomic_load_n(lease, __ATOMIC_ACQUIRE) > LEASE_MS - JOB_LEASE_MARGIN_MS)
		return JOB_LEASE_LAPSED;
	r = rconn_argv(st->redis, 0, 4, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		if (r && r->type == REDIS_REPLY_ERROR)
			log_warn(st->id, "check: %s", r->str);
		st->check_due = time_mono_ms() + JOB_CHECK_BACKOFF_MS;
		if (r)
			freeReplyObject(r);
		return JOB_HELD;
	}
	{
		const redisReply *runner = r->element[1];
		enum job_status status = job_status_from_reply(r->element[0]);

		if (status == JOB_STATUS_NONE)
			hold = JOB_GONE;
		else if (status == JOB_STATUS_RUNNING && runner->type == REDIS_REPLY_STRING &&
			 strcmp(runner->str, st->slot->runner_name) == 0)
			hold = JOB_HELD;
		else if (status == JOB_STATUS_CANCELLED)
			hold = JOB_CANCELLED;
		else if (!job_status_ended(status))
			hold = JOB_TAKEN_OVER;
		else
			hold = JOB_ENDED;
	}
	freeReplyObject(r);
	return hold;
}

/*
 * Reads what is there on a non-blocking fd, at most `rounds` reads, handing
 * each chunk to add(st, stream, ...). Returns 0 at EOF (or an error), 1 while open.
 */
static int job_drain(struct job_run_state *st, int fd, int rounds, int stream, char *chunk,
		     void (*add)(struct job_run_state *, int, const char *, size_t))
{
	while (rounds-- > 0) {
		ssize_t n = read(fd, chunk, LOG_READ_CHUNK);

		if (n > 0) {
			add(st, stream, chunk, (size_t)n);
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 1 : 0;
	}
	return 1;
}

/* Output of stream 0/1 into the log; 0 at EOF, 1 while open. */
static int job_read_output(struct job_run_state *st, int fd, int stream, char *chunk)
{
	return job_drain(st, fd, 16, stream, chunk, log_add);
}

/* Keeps init's outputs stream (runner/sandbox.h) up to outputs_cap; what is past it is dropped. */
static void job_outputs_add(struct job_run_state *st, int unused, const char *data, size_t len)
{
	(void)unused;
	if (st->outputs.len + len <= st->outputs_cap)
		buf_append(&st->outputs, data, len);
}

/* Reads init's outputs stream into st->outputs; 0 at EOF, 1 while open. */
static int job_read_outputs(struct job_run_state *st, int fd, char *chunk)
{
	return job_drain(st, fd, 64, 0, chunk, job_outputs_add);
}

/*
 * Streams output until the job ends or the deadline passes, checking every
 * JOB_CHECK_MS that the job is still ours (st->hold says why not). Sets
 * res->wall_seconds and timeout.
 */
static void job_supervise(struct job_run_state *st, struct sandbox *sb, int64_t timeout_s,
			  struct job_result *res, int *timed_out)
{
	int64_t started = time_mono_ms(), deadline = started + timeout_s * 1000, flush_due = 0;
	int killed = 0;
	struct pollfd fds[4] = {
		{ .fd = sb->stdout_fd, .events = POLLIN },
		{ .fd = sb->stderr_fd, .events = POLLIN },
		{ .fd = sb->report_fd, .events = POLLIN },
		{ .fd = sb->outputs_fd, .events = POLLIN },     /* -1 without outputs: ignored */
	};
	char *chunk = xmalloc(LOG_READ_CHUNK);
	int64_t ended = 0;

	*timed_out = 0;
	/* The first check one period in, not at once: the claim (start.lua) has
	 * just found the job ours, and a cancel is still seen within
	 * JOB_CHECK_MS. A job shorter than that makes no check at all, which
	 * saves most jobs a round trip. */
	st->check_due = started + JOB_CHECK_MS;
	while (fds[0].fd >= 0 || fds[1].fd >= 0 || fds[2].fd >= 0 || fds[3].fd >= 0) {
		int64_t now = time_mono_ms(), wait_ms = deadline - now;

		if (st->nruns && (flush_due - now) < wait_ms)
			wait_ms = flush_due - now;
		if (!killed && st->check_due - now < wait_ms)
			wait_ms = st->check_due - now;
		if (wait_ms < 0)
			wait_ms = 0;
		if (poll(fds, 4, (int)(wait_ms > INT_MAX ? INT_MAX : wait_ms)) < 0 && errno != EINTR)
			break;
		if (fds[3].fd >= 0 && fds[3].revents && !job_read_outputs(st, fds[3].fd, chunk))
			fds[3].fd = -1;
		for (int i = 0; i < 2; i++)
			if (fds[i].fd >= 0 && fds[i].revents && !job_read_output(st, fds[i].fd, i, chunk))
				fds[i].fd = -1;
		if (fds[2].fd >= 0 && fds[2].revents) {
			/* init wrote its report or died: the job is over; sandbox_wait_result() reads it. */
			fds[2].fd = -1;
			if (!ended)
				ended = time_mono_ms();
		}
		now = time_mono_ms();
		if (!killed && now >= deadline) {
			*timed_out = 1;
			killed = 1;
			ended = now;
			log_info(st->id, "deadline of %lld s passed: killing the sandbox", (long long)timeout_s);
			sandbox_kill(sb);
		}
		if (!killed && now >= st->check_due) {
			enum job_hold hold;

			st->check_due = now + JOB_CHECK_MS;
			hold = job_check_hold(st, now);
			if (hold != JOB_HELD) {
				int64_t t0 = time_mono_ms();

				st->hold = hold;
				killed = 1;
				if (!ended)
					ended = t0;
				sandbox_kill(sb);
				log_info(st->id, "%s: sandbox killed (%lld ms)", job_hold_text[hold],
					 (long long)(time_mono_ms() - t0));
			}
		}
		if (st->nruns && !flush_due)
			flush_due = now + (st->log_entries >= LOG_ENTRIES_SLOW ? LOG_FLUSH_SLOW_MS : LOG_FLUSH_MS);
		if (st->nruns && (now >= flush_due || st->batch_data.len >= LOG_FLUSH_BYTES)) {
			if (log_flush(st) < 0)
				log_warn(st->id, "log write: %s", st->redis->error);
			flush_due = 0;
		}
	}
	if (st->nruns && log_flush(st) < 0)
		log_warn(st->id, "log write: %s", st->redis->error);
	res->wall_seconds = (double)((ended ? ended : time_mono_ms()) - started) / 1000.0;
	free(chunk);
}

/* The cgroup limits of a job of memory_mb. */
static void job_cgroup_limits(const struct sandrun_config *cfg, int64_t memory_mb, struct cgroup_limits *l)
{
	*l = (struct cgroup_limits){
		.memory_bytes = memory_mb * 1024 * 1024,
		.cpu_quota_us = JOB_CPU_QUOTA_US,
		.cpu_period_us = JOB_CPU_PERIOD_US,
		.pids_max = cfg->limits.pids_max,
	};
}

/* The sandbox spec's fields that are the slot's and the job's shape (sandbox.h,
 * sandbox_prepare): the same for a prepared sandbox and the job that takes it. */
static void job_spec_shape(const struct job_slot *slot, const struct runner_environment *env, int64_t memory_mb,
			   const char *const *devices, size_t ndevices, struct sandbox_spec *spec)
{
	const struct sandrun_config *cfg = slot->cfg;

	*spec = (struct sandbox_spec){
		.uid = cfg->job_uid_base + slot->index,
		.gid = cfg->job_uid_base + slot->index,
		.mount_point = slot->mount_point,
		.env_root = env->root,
		/* The job's files live in RAM: its tmpfs is part of its memory budget. */
		.tmpfs_bytes = memory_mb * 1024 * 1024 - memory_mb * 1024 * 1024 / JOB_TMPFS_RESERVE_DIVISOR,
		.unpacked_max_bytes = cfg->limits.unpacked_max_bytes,
		.files_max = cfg->limits.files_max,
		.pids_max = cfg->limits.pids_max,
		.seccomp = slot->seccomp,
		.init_fd = slot->init_fd,
		.mirror_dir = access(cfg->requirements_mirror_dir, R_OK | X_OK) == 0 ? cfg->requirements_mirror_dir : NULL,
		.netns_fd = slot->netns_fd,
		.devices = devices,
		.ndevices = ndevices,
		.outputs_max_bytes = cfg->limits.outputs_max_bytes,
	};
}

void job_prepare(const struct job_slot *slot, struct job_prepared *p, const void *last_env)
{
	const struct sandrun_config *cfg = slot->cfg;
	const struct runner_environment *env = last_env ? last_env
		: runner_environment_find(slot->environments, "default");
	struct cgroup_limits limits;
	char name[CGROUP_NAME_MAX], err[256];

	if (p->ready || env == NULL)
		return;
	job_cgroup_limits(cfg, cfg->limits.memory_mb_default, &limits);
	snprintf(name, sizeof name, "next-%u", slot->index);
	p->cg = (struct cgroup_job){ .version = CGROUP_NONE, .fd = -1 };
	if (cgroup_job_create(slot->cgroup, name, &limits, &p->cg, err, sizeof err) < 0) {
		log_warn(NULL, "slot %u: no sandbox built ahead: cgroup: %s", slot->index, err);
		return;
	}
	job_spec_shape(slot, env, cfg->limits.memory_mb_default, NULL, 0, &p->shape);
	p->shape.job_id = "next";
	p->shape.cgroup = &p->cg;
	p->sb = (struct sandbox){ .pid = -1, .go_fd = -1 };
	if (sandbox_prepare(&p->shape, &p->sb, err, sizeof err) < 0) {
		log_warn(NULL, "slot %u: no sandbox built ahead: %s", slot->index, err);
		if (cgroup_job_destroy(&p->cg, err, sizeof err) < 0)
			log_warn(NULL, "slot %u: cgroup: %s", slot->index, err);
		return;
	}
	p->env = env;
	p->ready = true;
}

void job_prepared_discard(struct job_prepared *p)
{
	char err[256];

	if (!p->ready)
		return;
	p->ready = false;
	sandbox_discard(&p->sb);
	if (cgroup_job_destroy(&p->cg, err, sizeof err) < 0)
		log_warn(NULL, "the prepared sandbox's cgroup: %s", err);
}

int job_run(const struct job_slot *slot, struct rconn *redis, const char *id, const char *queue,
	    const char *entry_id, const char *entry_client, struct job_prepared *prep)
{
	const struct sandrun_config *cfg = slot->cfg;
	struct job_run_state st = { .slot = slot, .redis = redis, .id = id, .queue = queue, .entry_id = entry_id };
	struct job_result res = { .status = JOB_STATUS_FAILED, .reason = "internal", .sandbox_start_ms = -1 };
	struct manifest *m = NULL;
	struct manifest_error merr;
	struct sandbox sb = { .pid = -1, .go_fd = -1 };
	struct cgroup_job cg = { .version = CGROUP_NONE, .fd = -1 };
	char interp[64], exe[PATH_MAX], err[256];
	const char *interp_path = NULL, **job_av = NULL;
	const struct runner_environment *env;
	const char *devices[GPU_DEVICES_MAX];
	size_t ndevices = 0;
	char **envp = NULL;
	struct store_claim claim = { 0 };
	int rc = -1, timed_out = 0;

	job_keys_make(id, &st.keys);
	st.started_ms = time_now_ms();
	st.log_sha[0] = sign_sha256_begin();
	st.log_sha[1] = sign_sha256_begin();
	{
		const struct store_start start = {
			.id = id, .queue = queue, .entry_id = entry_id, .runner = slot->runner_name,
			.now_ms = st.started_ms, .failed_ttl_s = cfg->limits.failed_retention_seconds,
			.running_max = cfg->limits.quota_running_max, .lease_ms = LEASE_MS, .retry_ms = REDIS_RETRY_MS,
			.entry_client = entry_client,
		};

		switch (store_job_start(redis, &start, &claim)) {
		case 1:
			break;
		case 0:
			log_info(id, "not runnable any more (cancelled, expired or taken): skipped");
			rc = 0;
			goto out;
		default:
			log_error(id, "claim: %s", redis->error);
			goto out;
		}
	}
	st.client = claim.client;
	sign_sha256_hex(claim.upload, claim.upload_len, st.upload_sha256);
	sign_sha256_hex(claim.manifest, claim.manifest_len, st.manifest_sha256);
	/* The log must outlive any run; finish.lua then sets its retention. */
	st.ttl = cfg->limits.timeout_max + cfg->limits.retention_seconds;

	if (manifest_parse(claim.manifest, claim.manifest_len, &cfg->limits, &m, &merr) < 0) {
		snprintf(res.error, sizeof res.error, "the stored manifest is invalid (%.60s: %.200s)", merr.field,
			 merr.reason);
		goto record;
	}
	st.m = m;
	if (!(env = runner_environment_find(slot->environments, m->environment))) {
		snprintf(res.error, sizeof res.error, "environment %s is not installed on runner %s",
			 m->environment, slot->runner_name);
		goto record;
	}
	if (m->interpreter &&
	    !(interp_path = runner_environment_interpreter_path(env->root, m->interpreter, interp, sizeof interp))) {
		snprintf(res.error, sizeof res.error, "interpreter %s is not installed in environment %s",
			 m->interpreter, env->name);
		goto record;
	}
	if (m->gpu.present && m->gpu.required) {
		/* The responders route a GPU job to a matching runner's queue; a
		 * runner still checks, as the record comes from Redis. */
		const struct runner_gpu *gpu = slot->gpu;

		if (!gpu || !gpu->present) {
			snprintf(res.error, sizeof res.error, "the job needs a GPU and runner %s has none",
				 slot->runner_name);
			goto record;
		}
		if (gpu->vram_gb < m->gpu.min_vram_gb ||
		    (m->gpu.cuda_version && version_compare(gpu->cuda_version, m->gpu.cuda_version) < 0)) {
			snprintf(res.error, sizeof res.error, "the GPU of runner %s (%.0f GB, CUDA %s) does not meet "
				 "the job's needs", slot->runner_name, gpu->vram_gb, gpu->cuda_version);
			goto record;
		}
		for (size_t i = 0; i < gpu->ndevices; i++)
			devices[ndevices++] = gpu->devices[i];
	}
	job_av = job_command_argv(m, interp_path, exe, sizeof exe);
	envp = job_command_envp(m);
	{
		struct sandbox_spec spec;
		bool started = false;
		int64_t t_start = time_mono_ms();

		job_spec_shape(slot, env, m->memory_mb, devices, ndevices, &spec);
		spec.job_id = id;
		spec.upload = claim.upload;
		spec.upload_len = claim.upload_len;
		spec.argv = job_av;
		spec.envp = (const char *const *)envp;
		spec.stdin_data = m->stdin_data;
		spec.stdin_len = m->stdin_len;
		spec.outputs = (const char *const *)m->outputs;
		spec.noutputs = m->noutputs;
		/* init bounds the stream; this bounds what we keep should it not */
		st.outputs_cap = (size_t)cfg->limits.outputs_max_bytes
			+ ((size_t)cfg->limits.files_max + 2) * (sizeof(struct sandbox_out_header) + 4096);

		if (prep != NULL) {
			prep->env = env;        /* the next one is built for this job's environment */
			if (prep->ready && sandbox_spec_shape_differs(&prep->shape, &spec) == NULL) {
				/* the slot's prepared sandbox, of this job's shape: its cgroup and init are the job's */
				cg = prep->cg;
				sb = prep->sb;
				sb.cgroup = &cg;
				prep->ready = false;
				spec.cgroup = &cg;
				if (sandbox_go(&sb, &spec, err, sizeof err) == 0) {
					started = true;
				} else {
					log_warn(id, "the slot's prepared sandbox failed (%s): building one anew", err);
					sandbox_discard(&sb);
					if (cgroup_job_destroy(&cg, err, sizeof err) < 0)
						log_warn(id, "cgroup: %s", err);
					sb = (struct sandbox){ .pid = -1, .go_fd = -1 };
				}
			} else {
				job_prepared_discard(prep);     /* of another shape: it never runs two at once */
			}
		}
		if (!started) {
			/* the cgroup first, its limits set: the sandbox's init is born in it */
			struct cgroup_limits limits;

			job_cgroup_limits(cfg, m->memory_mb, &limits);
			if (cgroup_job_create(slot->cgroup, id, &limits, &cg, err, sizeof err) < 0) {
				log_error(id, "cgroup: %s", err);
				snprintf(res.error, sizeof res.error, "the job's limits could not be set: %s", err);
				goto record;
			}
			spec.cgroup = &cg;
			if (sandbox_start(&spec, &sb, err, sizeof err) < 0) {
				log_error(id, "sandbox: %s", err);
				snprintf(res.error, sizeof res.error, "the sandbox could not be built: %s", err);
				goto record;
			}
		}
		res.sandbox_start_ms = time_mono_ms() - t_start;
		log_info(id, "running in slot %u as uid %u (pid %d, attempt %lld, %s sandbox)", slot->index,
			 cfg->job_uid_base + slot->index, (int)sb.pid, (long long)claim.attempt,
			 started ? "prepared" : "new");
	}
	job_supervise(&st, &sb, m->timeout, &res, &timed_out);
	/* the result, as soon as init reports it; init's exit (its namespaces
	 * torn down) and the cgroup's removal wait until it is recorded (out:) */
	sandbox_wait_result(&sb, &res.sb);
	close(sb.stdout_fd);
	close(sb.stderr_fd);
	if (sb.outputs_fd >= 0)
		close(sb.outputs_fd);

	switch (res.sb.outcome) {
	case SANDBOX_INTERNAL_ERROR:
		snprintf(res.error, sizeof res.error, "the sandbox could not be built: %s", res.sb.message);
		break;
	case SANDBOX_UNPACK_FAILED:
		snprintf(res.error, sizeof res.error, "the upload could not be unpacked: %s", res.sb.message);
		break;
	case SANDBOX_EXITED:
		if (timed_out) {
			res.reason = "timeout";
			snprintf(res.error, sizeof res.error, "the job ran past its %lld s timeout and was killed",
				 (long long)m->timeout);
		} else if (res.sb.exit_code == 0 && res.sb.term_signal == 0) {
			res.status = JOB_STATUS_COMPLETED;
			res.reason = NULL;
		} else if (res.sb.oom_killed) {
			/* counted by the cgroup (memory.events, memory.oom_control), not guessed */
			res.reason = "memory_limit";
			snprintf(res.error, sizeof res.error, "the job ran out of its %lld MB of memory and was killed",
				 (long long)m->memory_mb);
		} else {
			res.reason = "exit_code";
			if (res.sb.pids_limit_hit)
				snprintf(res.error, sizeof res.error, "the job reached its limit of %lld processes",
					 (long long)cfg->limits.pids_max);
		}
		break;
	}
	if (res.sb.outcome == SANDBOX_EXITED && m->noutputs > 0 && st.hold == JOB_HELD)
		job_store_outputs(&st, m, timed_out, &res);
record:
	if (st.hold == JOB_LEASE_LAPSED) {
		/* Redis was out of reach: another runner takes the entry over once
		 * the lease ends and runs the job again (or fails it). */
		log_warn(id, "stopped, nothing recorded: the queue entry is left for a takeover");
		rc = 0;
		goto out;
	}
	rc = job_record_result(&st, &res);
	if (rc < 0)
		log_error(id, "cannot record the result: %s", redis->error);
	else if (rc == 1)
		log_info(id, "%s%s%s (exit %d, signal %d, %.3f s cpu, %.3f s wall, %lld bytes peak%s)",
			 job_status_name(res.status),
			 res.reason ? ": " : "", res.reason ? res.reason : "", res.sb.exit_code,
			 res.sb.term_signal, res.sb.cpu_seconds, res.wall_seconds,
			 (long long)res.sb.memory_peak_bytes, res.sb.pids_limit_hit ? ", pids limit hit" : "");
	if (rc > 0)
		rc = 0;
out:
	sandbox_reap(&sb);                      /* before its cgroup goes; a no-op if never started */
	if (cgroup_job_destroy(&cg, err, sizeof err) < 0)
		log_warn(id, "cgroup: %s", err);
	store_claim_free(&claim);
	job_command_envp_free(envp);
	free(job_av);
	free(st.batch_data.data);
	free(st.outputs.data);
	free(res.outputs);
	free(res.outputs_skipped);
	EVP_MD_CTX_free(st.log_sha[0]);
	EVP_MD_CTX_free(st.log_sha[1]);
	manifest_free(m);
	return rc;
}

void job_fail_internal(struct rconn *r, const struct job_slot *slot, const char *id, const char *queue,
		       const char *entry_id, const char *why)
{
	char now[24], client[STORE_CLIENT_MAX];
	const char *fields[] = { JOB_F_STATUS, job_status_name(JOB_STATUS_FAILED), JOB_F_REASON, "internal",
				 JOB_F_ERROR, why, JOB_F_FINISHED, now };
	enum store_finish_outcome outcome;

	/* The client names the quota keys finish.lua updates; without a record, finish.lua
	 * still acknowledges the entry. */
	if (store_job_client(r, id, client, sizeof client) == STORE_UNREACHABLE)
		return;  /* the entry stays pending: a takeover deals with it */
	snprintf(now, sizeof now, "%lld", (long long)time_now_ms());
	if (job_finish(r, slot, id, client, queue, entry_id, slot->cfg->limits.failed_retention_seconds, 0,
		       sizeof fields / sizeof fields[0], fields, 0, &outcome) == STORE_BAD_REPLY)
		log_error(id, "%s", r->error);
}

enum job_reclaim_outcome job_reclaim(struct rconn *r, const struct sandrun_config *cfg, const char *id,
				     const char *queue, const char *entry_id)
{
	char client[STORE_CLIENT_MAX];
	struct store_reclaim p = { .id = id, .queue = queue, .entry_id = entry_id, .client = client,
				   .now_ms = time_now_ms(), .attempts_max = JOB_ATTEMPTS_MAX,
				   .failed_ttl_s = cfg->limits.failed_retention_seconds };
	enum store_reclaim_outcome outcome;

	/* The client first: it names the active set, a key the script must be given. */
	if (store_job_client(r, id, client, sizeof client) == STORE_UNREACHABLE ||
	    store_job_reclaim(r, &p, &outcome) < 0)
		return JOB_RECLAIM_ERROR;
	switch (outcome) {
	case STORE_RECLAIM_RUN:
		return JOB_RECLAIM_RUN;
	case STORE_RECLAIM_FAILED:
		return JOB_RECLAIM_FAILED;
	case STORE_RECLAIM_GONE:
		break;
	}
	return JOB_RECLAIM_GONE;
}
