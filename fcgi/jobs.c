/*
 * The read-only routes: GET /status/{id}, /logs/{id}, /health and /.
 * Everything comes from the job's keys in Redis; a job whose record is
 * gone (unknown, expired, deleted) is 404 on every route.
 */
#include "config.h"
#include "keys.h"
#include "log.h"
#include "routes.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_PAGE 512 /* stream entries per XRANGE round trip */

static const char *hash_get(const redisReply *hash, const char *field)
{
	for (size_t i = 0; i + 1 < hash->elements; i += 2)
		if (hash->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(hash->element[i]->str, field) == 0 &&
		    hash->element[i + 1]->type == REDIS_REPLY_STRING)
			return hash->element[i + 1]->str;
	return NULL;
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

/* HGETALL of the job record: NULL after answering 503 or 404 itself. */
static redisReply *job_record_load(struct request *req, const char *id)
{
	char key[KEY_MAX];
	redisReply *r;

	snprintf(key, sizeof key, KEY_JOB_FMT, id);
	r = rconn_command(&req->srv->redis, "HGETALL %s", key);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		log_error(req->id, "status: %s", r ? (r->str ? r->str : "unexpected reply") : req->srv->redis.error);
		if (r)
			freeReplyObject(r);
		respond_unavailable(req, "the job store is unreachable");
		return NULL;
	}
	if (r->elements == 0) {
		freeReplyObject(r);
		job_not_found(req);
		return NULL;
	}
	return r;
}

static json_t *job_status_json(const char *id, const redisReply *h)
{
	const char *status = hash_get(h, JOB_F_STATUS), *reason = hash_get(h, JOB_F_REASON);
	const char *error = hash_get(h, JOB_F_ERROR);
	json_t *o = json_object(), *meta = json_object();

	json_object_set_new(o, "job_id", json_string(id));
	json_object_set_new(o, "status", json_string(status ? status : "queued"));
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
	json_object_set_new(o, "execution_metadata", meta);
	json_object_set_new(o, "output_files", json_object());
	return o;
}

void handle_status(struct request *req, const char *id)
{
	redisReply *h = job_record_load(req, id);

	if (!h)
		return;
	respond_json(req, 200, job_status_json(id, h), NULL);
	freeReplyObject(h);
}

/* Reads the whole log stream into the three buffers. 0, or -1 when Redis failed. */
static int logs_collect(struct request *req, const char *id, struct buf *out, struct buf *err,
			struct buf *both)
{
	char key[KEY_MAX], start[64] = "-";

	snprintf(key, sizeof key, KEY_LOG_FMT, id);
	for (;;) {
		redisReply *r = rconn_command(&req->srv->redis, "XRANGE %s %s + COUNT %d", key, start, LOG_PAGE);
		size_t i;

		if (!r || r->type != REDIS_REPLY_ARRAY) {
			if (r)
				freeReplyObject(r);
			return -1;
		}
		for (i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i], *fields;
			const char *s = NULL, *d = NULL;
			size_t dlen = 0;

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
				continue;
			fields = e->element[1];
			for (size_t j = 0; j + 1 < fields->elements; j += 2) {
				if (strcmp(fields->element[j]->str, "s") == 0)
					s = fields->element[j + 1]->str;
				else if (strcmp(fields->element[j]->str, "d") == 0) {
					d = fields->element[j + 1]->str;
					dlen = fields->element[j + 1]->len;
				}
			}
			if (!s || !d)
				continue;
			buf_append(s[0] == 'e' ? err : out, d, dlen);
			buf_append(both, d, dlen);
			snprintf(start, sizeof start, "(%s", e->element[0]->str);
		}
		freeReplyObject(r);
		if (i < LOG_PAGE)
			return 0;
	}
}

void handle_logs(struct request *req, const char *id)
{
	struct buf out = { 0 }, err = { 0 }, both = { 0 };
	char stream[16] = "stdout", format[16] = "";
	redisReply *h;
	int json;

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
	json = strcmp(format, "json") == 0 ||
	       (!*format && strstr(req->accept, "application/json") != NULL);
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
		respond_json(req, 200, o, NULL);
	} else {
		const struct buf *b = strcmp(stream, "stderr") == 0 ? &err : strcmp(stream, "both") == 0 ? &both : &out;
		respond_bytes(req, 200, "text/plain; charset=utf-8", b->data ? b->data : "", b->len, NULL);
	}
done:
	freeReplyObject(h);
	free(out.data);
	free(err.data);
	free(both.data);
}

void handle_health(struct request *req, const char *unused)
{
	redisReply *r = rconn_command(&req->srv->redis, "PING");
	int up = r && r->type == REDIS_REPLY_STATUS;
	char headers[64] = "";
	json_t *o;

	(void)unused;
	if (r)
		freeReplyObject(r);
	o = json_pack("{s:s, s:s, s:s}", "status", up ? "ok" : "degraded",
		      "redis", up ? "ok" : "unreachable", "version", PACKAGE_VERSION);
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
	const struct sandrun_limits *l = &req->srv->cfg->limits;
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
	respond_json(req, 200, json_pack("{s:s, s:s, s:o}", "service", "sandrun", "version",
					 PACKAGE_VERSION, "limits", limits), NULL);
}
