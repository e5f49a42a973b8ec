/*
 * The read-only routes: GET /status/{id}, /logs/{id}, /health and /.
 * Everything comes from the job's keys in Redis; a job whose record is
 * gone (unknown, expired, deleted) is 404 on every route. The record
 * loading, the status object and the system's load are shared with
 * fcgi/stream.c and fcgi/metrics.c (jobs.h).
 */
#include "config.h"
#include "fleet.h"
#include "jobs.h"
#include "log.h"
#include "negotiate.h"
#include "quota.h"
#include "routes.h"
#include "store.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_PAGE 512            /* stream entries per XRANGE round trip */
#define WAIT_SLICE_MS 1000      /* a long-poll blocks on Redis this long at most, then looks for its client */
#define WAIT_LOOK_MS 10000      /* and reads the job record at least this often (deleted, expired) */
#define QUEUE_POSITION_MAX 100000 /* a position is never told beyond this */

static const char *hash_get(const redisReply *hash, const char *field)
{
	for (size_t i = 0; i + 1 < hash->elements; i += 2)
		if (hash->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(hash->element[i]->str, field) == 0 &&
		    hash->element[i + 1]->type == REDIS_REPLY_STRING)
			return hash->element[i + 1]->str;
	return NULL;
}

const char *job_record_field(const redisReply *h, const char *field)
{
	return hash_get(h, field);
}

static json_t *json_time(const char *ms)
{
	int64_t v;
	char text[32];

	if (!ms || parse_int64(ms, 0, INT64_MAX, &v) < 0)
		return json_null();
	time_format_rfc3339(v, text, sizeof text);
	return json_string(text);
}

static json_t *json_number_field(const char *s, int integer)
{
	int64_t v;

	if (!s)
		return json_null();
	if (integer)
		return parse_int64(s, INT64_MIN, INT64_MAX, &v) == 0 ? json_integer(v) : json_null();
	return json_real(strtod(s, NULL));
}

static void job_not_found(struct request *req)
{
	respond_error(req, 404, "Job not found", NULL, "no job with this id (unknown, expired or deleted)");
}

int job_record_get(struct request *req, const char *id, redisReply **out)
{
	struct job_keys k;
	redisReply *r;

	*out = NULL;
	job_keys_make(id, &k);
	r = rconn_command(&req->srv->redis, "HGETALL %s", k.job);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		log_error(req->id, "status: %s", r ? (r->str ? r->str : "unexpected reply") : req->srv->redis.error);
		if (r)
			freeReplyObject(r);
		return 503;
	}
	if (r->elements == 0) {
		freeReplyObject(r);
		return 404;
	}
	*out = r;
	return 200;
}

/* HGETALL of the job record: NULL after answering 503 or 404 itself. */
static redisReply *job_record_load(struct request *req, const char *id)
{
	redisReply *r;

	switch (job_record_get(req, id, &r)) {
	case 200:
		return r;
	case 404:
		job_not_found(req);
		return NULL;
	default:
		respond_unavailable(req, "the job store is unreachable");
		return NULL;
	}
}

/*
 * A signed result (docs/signing.md): worker_metadata {worker_id, signature},
 * result_hashes {upload, manifest, stdout, stderr SHA-256} and, in
 * execution_metadata, the environment and the limits applied: with the
 * rest of the status object, what a verifier rebuilds the message from.
 */
static void job_signature_json(json_t *o, json_t *meta, const redisReply *h)
{
	static const char *const hashes[] = { JOB_F_UPLOAD_SHA256, JOB_F_MANIFEST_SHA256, JOB_F_STDOUT_SHA256,
					      JOB_F_STDERR_SHA256 };
	const char *worker = hash_get(h, JOB_F_WORKER_ID), *sig = hash_get(h, JOB_F_SIGNATURE);
	const char *env = hash_get(h, JOB_F_ENVIRONMENT), *limits = hash_get(h, JOB_F_LIMITS);
	json_t *rh;

	if (!worker || !sig)
		return;
	rh = json_object();
	for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
		const char *v = hash_get(h, hashes[i]);
		json_object_set_new(rh, hashes[i], v ? json_string_lossy(v, strlen(v)) : json_null());
	}
	json_object_set_new(o, "result_hashes", rh);
	json_object_set_new(meta, "environment", env ? json_string_lossy(env, strlen(env)) : json_null());
	rh = limits ? json_loads(limits, 0, NULL) : NULL;
	json_object_set_new(meta, "limits", rh ? rh : json_null());
	json_object_set_new(o, "worker_metadata", json_pack("{s:o, s:o}",
							    "worker_id", json_string_lossy(worker, strlen(worker)),
							    "signature", json_string_lossy(sig, strlen(sig))));
}

/* The record's status: NONE without one, UNKNOWN for one we never write. */
static enum job_status job_record_status(const redisReply *h)
{
	const char *st = hash_get(h, JOB_F_STATUS);

	return st ? job_status_parse(st, strlen(st)) : JOB_STATUS_NONE;
}

static json_t *job_status_json(const char *id, const redisReply *h)
{
	const char *status = hash_get(h, JOB_F_STATUS), *reason = hash_get(h, JOB_F_REASON);
	const char *error = hash_get(h, JOB_F_ERROR);
	enum job_status st = job_record_status(h);
	json_t *o = json_object(), *meta = json_object();

	json_object_set_new(o, "job_id", json_string(id));
	/* a record without a status is one being written: queued */
	json_object_set_new(o, "status", st == JOB_STATUS_NONE ? json_string(job_status_name(JOB_STATUS_QUEUED)) :
				      st == JOB_STATUS_UNKNOWN ? json_string_lossy(status, strlen(status)) :
				      json_string(job_status_name(st)));
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	if (error)
		json_object_set_new(o, "error", json_string_lossy(error, strlen(error)));
	json_object_set_new(o, "submitted_at", json_time(hash_get(h, JOB_F_SUBMITTED)));
	json_object_set_new(o, "started_at", json_time(hash_get(h, JOB_F_STARTED)));
	json_object_set_new(o, "finished_at", json_time(hash_get(h, JOB_F_FINISHED)));
	json_object_set_new(meta, "cpu_seconds", json_number_field(hash_get(h, JOB_F_CPU), 0));
	json_object_set_new(meta, "wall_seconds", json_number_field(hash_get(h, JOB_F_WALL), 0));
	json_object_set_new(meta, "memory_peak_bytes", json_number_field(hash_get(h, JOB_F_MEMORY), 1));
	json_object_set_new(meta, "exit_code", json_number_field(hash_get(h, JOB_F_EXIT_CODE), 1));
	json_object_set_new(meta, "signal", json_number_field(hash_get(h, JOB_F_SIGNAL), 1));
	job_signature_json(o, meta, h);
	json_object_set_new(o, "execution_metadata", meta);
	{
		/* The original Sandrun's clients read a "metrics" block: its MCP server
		 * cpu_seconds and memory_mb, its Vue page cpuSeconds, memoryMB, runtime. */
		double cpu = json_number_value(json_object_get(meta, "cpu_seconds"));
		double wall = json_number_value(json_object_get(meta, "wall_seconds"));
		json_t *mem = json_object_get(meta, "memory_peak_bytes");
		json_int_t mb = json_is_number(mem) ? (json_int_t)(json_number_value(mem) / (1024.0 * 1024.0)) : 0;

		json_object_set_new(o, "metrics", json_pack("{s:f, s:I, s:I, s:f, s:I, s:f}", "cpu_seconds", cpu,
							    "memory_mb", mb, "wall_time_ms", (json_int_t)(wall * 1000),
							    "cpuSeconds", cpu, "memoryMB", mb, "runtime", wall));
	}
	{
		/* the runner's listing (runner/outputs.c): {"path": {"size", "sha256"}} */
		const char *outputs = hash_get(h, JOB_F_OUTPUTS);
		json_t *files = outputs ? json_loads(outputs, 0, NULL) : NULL;

		if (!json_is_object(files)) {
			json_decref(files);
			files = json_object();
		}
		json_object_set_new(o, "output_files", files);
	}
	{
		/* What matched the outputs but was not kept, and why (a link, too
		 * large, the storage quota...): never a result that looks complete. */
		const char *skipped = hash_get(h, JOB_F_OUTPUTS_SKIPPED);
		json_t *list = skipped ? json_loads(skipped, 0, NULL) : NULL;

		if (json_is_array(list) && json_array_size(list) > 0)
			json_object_set_new(o, "outputs_not_kept", list);
		else
			json_decref(list);
	}
	if (hash_get(h, JOB_F_PARKED) && st == JOB_STATUS_QUEUED)
		json_object_set_new(o, "waiting_for", json_string("this address already runs its share of the "
								  "runner slots: the job starts when one of "
								  "its other jobs ends"));
	return o;
}

bool job_status_final(const redisReply *h)
{
	enum job_status st = job_record_status(h);

	return st != JOB_STATUS_NONE && job_status_ended(st);
}

/*
 * How many jobs are ahead of a queued one (itself included), from numbers,
 * without reading the queue (a responder may not: its entries name every
 * queued job): the job's number in its queue (submit.lua gives it, as
 * fair-lib.lua does to a parked job back in the queue) minus the highest
 * number a runner has taken off that queue (start.lua). Approximate: jobs
 * ahead that were cancelled or expired still count until a runner takes
 * their entries off; at least 1 while queued. -1 when unknown.
 */
static long job_queue_position(struct request *req, const char *queue, const char *seq_text)
{
	int64_t seq, taken;

	if (!seq_text || parse_int64(seq_text, 1, INT64_MAX, &seq) < 0)
		return -1;
	if (!queue || !store_key_is_queue(queue))
		queue = STORE_KEY_QUEUE;        /* records from before GPU queues existed */
	if (store_queue_taken(&req->srv->redis, queue, &taken) < 0)
		return -1;
	if (seq - taken > QUEUE_POSITION_MAX)
		return QUEUE_POSITION_MAX;
	return seq > taken ? (long)(seq - taken) : 1;
}

/* The id of the last entry of an XREAD reply with entries into `last`; -1 if it is not shaped so. */
static int wait_last_entry(const redisReply *r, char *last, size_t lastlen)
{
	const redisReply *entries = log_xread_entries(r);
	struct log_entry e;

	if (!entries || entries->elements == 0 || log_entry_read(entries->element[entries->elements - 1], &e) < 0)
		return -1;
	snprintf(last, lastlen, "%s", e.id);
	return 0;
}

/*
 * The record once the job has ended or `wait_ms` passed, whichever comes
 * first, without a busy loop: it blocks on the job's log stream, which
 * gets every output chunk and an end marker, and reads the record again
 * when something came (or every WAIT_LOOK_MS: a job deleted or expired
 * meanwhile writes nothing). It blocks in short slices and looks between
 * them whether the client is still there: one that left frees its thread
 * within a slice. On SIGTERM it answers what it has. NULL after answering
 * 404 or 503 itself, or when the client is gone (nobody to answer).
 */
static redisReply *job_record_wait(struct request *req, const char *id, int64_t wait_ms)
{
	int64_t started = time_mono_ms(), deadline = started + wait_ms, looked;
	char last[LOG_ENTRY_ID_MAX] = "0-0";
	struct job_keys k;
	struct log_entry e;
	redisReply *h, *r;

	job_keys_make(id, &k);
	/* The stream's last id before the first look: whatever comes after it wakes us. */
	r = rconn_command(&req->srv->redis, "XREVRANGE %s + - COUNT 1", k.log);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && log_entry_read(r->element[0], &e) == 0)
		snprintf(last, sizeof last, "%s", e.id);
	if (r)
		freeReplyObject(r);
	for (;;) {
		char block[24];
		bool came;
		int64_t now, left;

		h = job_record_load(req, id);
		if (!h)
			return NULL;
		looked = time_mono_ms();
		if (job_status_final(h) || looked >= deadline || responder_stopping())
			return h;
		freeReplyObject(h);
		do {
			now = time_mono_ms();
			if (request_client_gone(req)) {
				log_info(req->id, "wait ended after %lld ms of %lld s: the client is gone",
					 (long long)(now - started), (long long)(wait_ms / 1000));
				return NULL;
			}
			left = deadline - now;
			if (left <= 0 || responder_stopping())
				break;
			if (left > WAIT_SLICE_MS)
				left = WAIT_SLICE_MS;
			snprintf(block, sizeof block, "%lld", (long long)left);
			{
				const char *argv[] = { "XREAD", "BLOCK", block, "STREAMS", k.log, last };
				r = rconn_argv(&req->srv->redis, (int)left, 6, argv, NULL);
			}
			if (!r || r->type == REDIS_REPLY_ERROR) {
				log_error(req->id, "wait: %s", r ? r->str : req->srv->redis.error);
				if (r)
					freeReplyObject(r);
				respond_unavailable(req, "the job store is unreachable");
				return NULL;
			}
			came = r->type != REDIS_REPLY_NIL && !(r->type == REDIS_REPLY_ARRAY && r->elements == 0);
			if (came && wait_last_entry(r, last, sizeof last) < 0) {
				/* XREAD would answer the same again at once: no busy loop, a 503. */
				log_error(req->id, "wait: XREAD answered something else than entries");
				freeReplyObject(r);
				respond_unavailable(req, "the job store answered unexpectedly");
				return NULL;
			}
			freeReplyObject(r);
		} while (!came && time_mono_ms() - looked < WAIT_LOOK_MS);
	}
}

/* ?wait=N: 0 when absent; -1 after answering 400. */
static int64_t request_wait_ms(struct request *req)
{
	const struct sandrun_limits *l = request_limits(req);
	char text[24];
	int64_t seconds = 0;
	int got = request_query(req, "wait", text, sizeof text);

	if (got == 0)
		return 0;
	if (got < 0 || parse_int64(text, 0, l->timeout_max, &seconds) < 0) {
		respond_error(req, 400, NULL, "wait", "wait must be a whole number of seconds from 0 to %lld",
			      (long long)l->timeout_max);
		return -1;
	}
	/* HEAD answers the headers of the status as it is now: it never holds a responder. */
	if (strcmp(req->method, "HEAD") == 0)
		return 0;
	return seconds * 1000;
}

json_t *job_status_object(struct request *req, const char *id, const redisReply *h)
{
	json_t *o = job_status_json(id, h);

	if (job_record_status(h) == JOB_STATUS_QUEUED) {
		long pos = job_queue_position(req, hash_get(h, JOB_F_QUEUE), hash_get(h, JOB_F_QUEUE_SEQ));
		json_object_set_new(o, "queue_position", pos > 0 ? json_integer(pos) : json_null());
	}
	return o;
}

/* Answers with the status object of a loaded record (and frees it). */
static void job_status_respond(struct request *req, const char *id, redisReply *h, int status,
			       const char *headers)
{
	respond_json(req, status, job_status_object(req, id, h), headers);
	freeReplyObject(h);
}

void handle_status(struct request *req, const char *id)
{
	int64_t wait_ms = request_wait_ms(req);
	redisReply *h;

	if (wait_ms < 0)
		return;
	h = wait_ms ? job_record_wait(req, id, wait_ms) : job_record_load(req, id);
	if (h)
		job_status_respond(req, id, h, 200, NULL);
}

void job_answer_after_submit(struct request *req, const char *id, const char *headers)
{
	int64_t wait_ms = request_wait_ms(req);
	redisReply *h;

	/* 200 either way, never 202 (docs/api.md §2): the original Sandrun answered
	 * 200 and its clients accept nothing else. */
	if (wait_ms <= 0) {
		respond_json(req, 200, json_pack("{s:s, s:s}", "job_id", id, "status",
						 job_status_name(JOB_STATUS_QUEUED)), headers);
		return;
	}
	h = job_record_wait(req, id, wait_ms);
	if (h)
		job_status_respond(req, id, h, 200, headers);
}

void handle_cancel(struct request *req, const char *id)
{
	const struct sandrun_limits *l = request_limits(req);
	char client[STORE_CLIENT_MAX];
	struct store_cancel c = { .id = id, .client = client, .now_ms = time_now_ms(),
				  .ttl_s = l->failed_retention_seconds };
	enum job_status was = JOB_STATUS_NONE;
	int rc;

	/* The client names the active set the script releases the job from. */
	rc = store_job_client(&req->srv->redis, id, client, sizeof client);
	if (rc > 0)
		rc = store_job_cancel(&req->srv->redis, &c, &was);
	if (rc < 0) {
		log_error(req->id, "cancel: %s", req->srv->redis.error);
		respond_unavailable(req, "the job store is unreachable");
	} else if (was == JOB_STATUS_NONE) {
		job_not_found(req);
	} else {
		/* a job that had not ended is cancelled; one that had is deleted whole */
		const char *now = job_status_ended(was) ? "deleted" : job_status_name(JOB_STATUS_CANCELLED);

		log_info(id, "%s by its submitter (was %s)", now, job_status_name(was));
		respond_json(req, 200, json_pack("{s:s, s:s, s:s}", "job_id", id, "status", now,
						 "previous_status", job_status_name(was)), NULL);
	}
}

/* Adds one queue's entries (*queued) and those handed to a runner, not yet acknowledged (*pending). 0 or -1. */
static int stats_queue_count(struct request *req, const char *queue, long long *queued, long long *pending)
{
	redisReply *r = rconn_command(&req->srv->redis, "XLEN %s", queue);
	int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;

	if (rc == 0)
		*queued += r->integer;
	if (r)
		freeReplyObject(r);
	r = rconn_command(&req->srv->redis, "XINFO GROUPS %s", queue);
	if (!r)
		rc = -1;
	/* An error reply here is a queue not made yet: nothing pending, not a failure. */
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *g = r->element[i];
		for (size_t j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements; j += 2)
			if (g->element[j]->type == REDIS_REPLY_STRING && strcmp(g->element[j]->str, "pending") == 0 &&
			    g->element[j + 1]->type == REDIS_REPLY_INTEGER)
				*pending += g->element[j + 1]->integer;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

int system_load_get(struct request *req, struct system_load *load)
{
	long long queued = 0, pending = 0;
	int rc = stats_queue_count(req, STORE_KEY_QUEUE, &queued, &pending);
	struct fleet f;

	memset(load, 0, sizeof *load);
	/* the live runners (their slots), and the queues of the GPU ones, each once */
	if (fleet_load(req, &f) == 0) {
		json_t *seen = json_object();
		const json_t *g;
		size_t i;

		json_array_foreach(f.gpus, i, g) {
			const char *q = json_string_value(json_object_get(g, "queue"));

			if (json_object_get(seen, q))
				continue;
			json_object_set_new(seen, q, json_true());
			if (stats_queue_count(req, q, &queued, &pending) < 0)
				rc = -1;
		}
		json_decref(seen);
		load->runners = f.live;
		load->slots = f.slots;
		load->slots_busy = f.busy;
	} else {
		rc = -1;
	}
	fleet_free(&f);
	load->queue_length = queued > pending ? queued - pending : 0;
	load->active = pending;
	return rc;
}

void handle_stats(struct request *req, const char *unused)
{
	struct quota_usage u;
	struct system_load load;
	json_t *quota, *sys;

	(void)unused;
	if (quota_usage_load(req, &u) < 0) {
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	system_load_get(req, &load);

	quota = json_object();
	json_object_set_new(quota, "used", json_real(u.cpu_used));
	json_object_set_new(quota, "limit", json_real(u.cpu_limit));
	json_object_set_new(quota, "available", json_real(u.cpu_used < u.cpu_limit ? u.cpu_limit - u.cpu_used : 0));
	json_object_set_new(quota, "active_jobs", json_integer(u.active));
	json_object_set_new(quota, "can_submit", json_boolean(u.cpu_used < u.cpu_limit && u.active < u.active_limit &&
							     u.storage_used < u.storage_limit));
	json_object_set_new(quota, "storage_used_bytes", json_integer(u.storage_used));
	json_object_set_new(quota, "storage_limit_bytes", json_integer(u.storage_limit));
	sys = json_object();
	json_object_set_new(sys, "queue_length", json_integer(load.queue_length));
	json_object_set_new(sys, "active_jobs", json_integer(load.active));
	json_object_set_new(sys, "runners", json_integer(load.runners));
	respond_json(req, 200, json_pack("{s:o, s:o}", "your_quota", quota, "system", sys), NULL);
}

/* Reads the whole log stream into the three buffers. 0, or -1 when Redis failed or answered
 * something else than entries. */
static int logs_collect(struct request *req, const char *id, struct buf *out, struct buf *err,
			struct buf *both)
{
	char start[LOG_ENTRY_ID_MAX + 1] = "-";
	struct job_keys k;

	job_keys_make(id, &k);
	for (;;) {
		redisReply *r = rconn_command(&req->srv->redis, "XRANGE %s %s + COUNT %d", k.log, start, LOG_PAGE);
		size_t i;

		if (!r || r->type != REDIS_REPLY_ARRAY) {
			if (r)
				freeReplyObject(r);
			return -1;
		}
		for (i = 0; i < r->elements; i++) {
			struct log_entry e;

			if (log_entry_read(r->element[i], &e) < 0) {
				log_error(req->id, "logs: XRANGE answered something else than entries");
				freeReplyObject(r);
				return -1;
			}
			snprintf(start, sizeof start, "(%s", e.id);
			if (e.kind != LOG_STDOUT && e.kind != LOG_STDERR)
				continue;
			buf_append(e.kind == LOG_STDERR ? err : out, e.data, e.len);
			buf_append(both, e.data, e.len);
		}
		freeReplyObject(r);
		if (i < LOG_PAGE)
			return 0;
	}
}

/* The answer's form depends on these (caches keep one per pair). */
#define LOGS_VARY "Vary: Accept, User-Agent\r\n"

void handle_logs(struct request *req, const char *id)
{
	struct buf out = { 0 }, err = { 0 }, both = { 0 };
	char stream[16] = "stdout", format[16] = "";
	const char *tail = req->path + strlen("/logs/") + strlen(id);
	redisReply *h;
	int json;

	/* /logs/{id}/stream, the live form, has its own route (fcgi/routes.c,
	 * fcgi/stream.c); no other tail exists */
	if (*tail) {
		respond_error(req, 404, NULL, NULL, "no such endpoint: /logs/{id}%s", tail);
		return;
	}
	if (request_query(req, "stream", stream, sizeof stream) < 0 ||
	    (strcmp(stream, "stdout") && strcmp(stream, "stderr") && strcmp(stream, "both"))) {
		respond_error(req, 400, NULL, "stream", "stream must be stdout, stderr or both");
		return;
	}
	if (request_query(req, "format", format, sizeof format) < 0 ||
	    (*format && strcmp(format, "json") && strcmp(format, "text"))) {
		respond_error(req, 400, NULL, "format", "format must be json or text");
		return;
	}
	/* SPEC §2: ?format, else Accept where it says, else what the client is (fcgi/negotiate.c). */
	json = *format ? strcmp(format, "json") == 0 : logs_want_json(req->accept, req->user_agent);
	h = job_record_load(req, id);
	if (!h)
		return;
	if (logs_collect(req, id, &out, &err, &both) < 0) {
		respond_unavailable(req, "the job store is unreachable");
		goto done;
	}
	if (json) {
		json_t *o = json_object(), *trunc = json_object();
		const char *t_out = hash_get(h, JOB_F_STDOUT_TRUNC), *t_err = hash_get(h, JOB_F_STDERR_TRUNC);

		json_object_set_new(o, "stdout", json_string_lossy(out.data ? out.data : "", out.len));
		json_object_set_new(o, "stderr", json_string_lossy(err.data ? err.data : "", err.len));
		json_object_set_new(trunc, "stdout", json_boolean(t_out && strcmp(t_out, "1") == 0));
		json_object_set_new(trunc, "stderr", json_boolean(t_err && strcmp(t_err, "1") == 0));
		json_object_set_new(o, "truncated", trunc);
		respond_json(req, 200, o, LOGS_VARY);
	} else {
		const struct buf *b = strcmp(stream, "stderr") == 0 ? &err : strcmp(stream, "both") == 0 ? &both : &out;
		respond_bytes(req, 200, "text/plain; charset=utf-8", b->data ? b->data : "", b->len, LOGS_VARY);
	}
done:
	freeReplyObject(h);
	free(out.data);
	free(err.data);
	free(both.data);
}

static json_t *live_workers(struct request *req);

/*
 * Redis's used_memory and maxmemory from INFO memory: 0, or -1 when Redis
 * did not answer. *max is 0 when no maxmemory is set.
 */
static int health_redis_memory(struct request *req, long long *used, long long *max)
{
	redisReply *r = rconn_command(&req->srv->redis, "INFO memory");
	const char *p;

	*used = *max = 0;
	if (!r || r->type != REDIS_REPLY_STRING) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	if ((p = strstr(r->str, "\nused_memory:")))
		*used = strtoll(p + 13, NULL, 10);
	if ((p = strstr(r->str, "\nmaxmemory:")))
		*max = strtoll(p + 11, NULL, 10);
	freeReplyObject(r);
	return 0;
}

/*
 * GET /health: "ok"; "degraded" with the reason while Redis holds nearly
 * the high-water mark of its maxmemory (new jobs are being refused, 503);
 * 503 when Redis is unreachable.
 */
void handle_health(struct request *req, const char *unused)
{
	const struct sandrun_limits *l = request_limits(req);
	long long used, max;
	int up = health_redis_memory(req, &used, &max) == 0;
	/* Near the mark: a submit of the largest upload would be refused now
	 * (redis/submit.lua: three copies of the upload at its peak, plus its
	 * log's reservation). */
	bool full = up && max > 0 &&
		    (used + 3 * l->upload_max_bytes + 3 * l->log_max_bytes) * 100 >
			    max * l->redis_memory_high_water_percent;
	char headers[64] = "";
	json_t *o;

	(void)unused;
	o = json_pack("{s:s, s:s, s:s}", "status", up && !full ? "ok" : "degraded",
		      "redis", up ? "ok" : "unreachable", "version", PACKAGE_VERSION);
	/* The original Sandrun's "worker_id" (its pool coordinator checks it against the
	 * key it was given): the key the live runners sign with when they all share one,
	 * else null; "worker_ids" lists them all (GET /workers says more). */
	{
		json_t *w = up ? live_workers(req) : NULL, *ids = json_array(), *x;
		size_t i;

		json_array_foreach(w, i, x) {
			json_t *id = json_object_get(x, "worker_id");
			size_t j;
			json_t *y;
			bool dup = false;

			json_array_foreach(ids, j, y)
				dup |= json_equal(y, id);
			if (!dup)
				json_array_append(ids, id);
		}
		json_object_set_new(o, "worker_id", json_array_size(ids) == 1 ? json_incref(json_array_get(ids, 0)) :
									 json_null());
		json_object_set_new(o, "worker_ids", ids);
		json_decref(w);
	}
	if (up && max > 0)
		json_object_set_new(o, "redis_memory", json_pack("{s:I, s:I, s:I}", "used_bytes", (json_int_t)used,
								 "max_bytes", (json_int_t)max, "high_water_percent",
								 (json_int_t)l->redis_memory_high_water_percent));
	if (full)
		json_object_set_new(o, "reason", json_sprintf("the job store holds %.0f%% of its memory, near the "
							      "%lld%% mark: new jobs with large uploads may be refused until running "
							      "ones finish and stored results are downloaded "
							      "or expire", max ? 100.0 * (double)used / (double)max : 0.0,
							      (long long)l->redis_memory_high_water_percent));
	if (!up) {
		json_object_set_new(o, "error", json_string("Service unavailable"));
		json_object_set_new(o, "reason", json_string("the job store (Redis) is unreachable"));
		json_object_set_new(o, "retry_after", json_integer(5));
		snprintf(headers, sizeof headers, "Retry-After: 5\r\n");
	}
	respond_json(req, up ? 200 : 503, o, headers);
}

void handle_root(struct request *req, const char *unused)
{
	const struct sandrun_limits *l = request_limits(req);
	json_t *limits = json_object();

	(void)unused;
	json_object_set_new(limits, "upload_max_bytes", json_integer(l->upload_max_bytes));
	json_object_set_new(limits, "unpacked_max_bytes", json_integer(l->unpacked_max_bytes));
	json_object_set_new(limits, "files_max", json_integer(l->files_max));
	json_object_set_new(limits, "log_max_bytes", json_integer(l->log_max_bytes));
	json_object_set_new(limits, "timeout_default", json_integer(l->timeout_default));
	json_object_set_new(limits, "timeout_max", json_integer(l->timeout_max));
	json_object_set_new(limits, "memory_mb_default", json_integer(l->memory_mb_default));
	json_object_set_new(limits, "memory_mb_min", json_integer(l->memory_mb_min));
	json_object_set_new(limits, "memory_mb_max", json_integer(l->memory_mb_max));
	json_object_set_new(limits, "outputs_max_bytes", json_integer(l->outputs_max_bytes));
	json_object_set_new(limits, "pids_max", json_integer(l->pids_max));
	/* sessions (SPEC §7) */
	json_object_set_new(limits, "sessions_per_client", json_integer(l->sessions_per_client));
	json_object_set_new(limits, "session_ttl_default", json_integer(l->session_ttl_default));
	json_object_set_new(limits, "session_ttl_max", json_integer(l->session_ttl_max));
	json_object_set_new(limits, "session_idle_default", json_integer(l->session_idle_default));
	json_object_set_new(limits, "session_idle_max", json_integer(l->session_idle_max));
	json_object_set_new(limits, "session_file_max_bytes", json_integer(l->session_file_max_bytes));
	json_object_set_new(limits, "snapshot_max_bytes", json_integer(l->snapshot_max_bytes));
	json_object_set_new(limits, "snapshot_ttl_seconds", json_integer(l->snapshot_ttl_seconds));
	json_object_set_new(limits, "session_create_wait", json_integer(l->session_create_wait));
	respond_json(req, 200, json_pack("{s:s, s:s, s:o}", "service", "sandrun", "version",
					 PACKAGE_VERSION, "limits", limits), NULL);
}

/* The live runners that sign results: [{worker_id, runner, last_seen}], or NULL when Redis failed. */
static json_t *live_workers(struct request *req)
{
	char since[24];
	json_t *list = json_array();
	redisReply *r;

	snprintf(since, sizeof since, "%lld", (long long)(time_now_ms() - LEASE_MS));
	r = rconn_command(&req->srv->redis, "ZRANGEBYSCORE %s %s +inf WITHSCORES", STORE_KEY_RUNNERS, since);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		json_decref(list);
		return NULL;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *name = r->element[i], *score = r->element[i + 1];
		char key[STORE_RUNNER_KEY_MAX];
		redisReply *id;
		int64_t seen = 0;
		char when[32];

		if (name->type != REDIS_REPLY_STRING || name->len > STORE_RUNNER_NAME_MAX ||
		    store_key_runner(key, sizeof key, name->str) < 0)
			continue;
		id = rconn_command(&req->srv->redis, "HGET %s %s", key, JOB_F_WORKER_ID);
		if (id && id->type == REDIS_REPLY_STRING && id->len > 0) {
			if (score->type == REDIS_REPLY_STRING)
				parse_int64(score->str, 0, INT64_MAX, &seen);
			time_format_rfc3339(seen, when, sizeof when);
			json_array_append_new(list, json_pack("{s:o, s:o, s:s}",
							      "worker_id", json_string_lossy(id->str, id->len),
							      "runner", json_string_lossy(name->str, name->len),
							      "last_seen", when));
		}
		if (id)
			freeReplyObject(id);
	}
	freeReplyObject(r);
	return list;
}

/* GET /workers: the worker ids (Ed25519 public keys) of the live runners that sign results. */
void handle_workers(struct request *req, const char *unused)
{
	json_t *list = live_workers(req);

	(void)unused;
	if (!list) {
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	respond_json(req, 200, json_pack("{s:o}", "workers", list), NULL);
}
