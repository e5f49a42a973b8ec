/*
 * The session routes (SPEC §7; docs/api.md "Sessions"; the conversation
 * with the runner: docs/sessions.md). A session lives on one runner, in a
 * sandbox its supervisor keeps; the responder never talks to it but
 * through Redis:
 *
 *   create   session_create.lua (record, the client's slot, a create entry
 *            in the environment's pool list), then the supervisor's reply
 *            on sr:{SID}:rep:create within session_create_wait, else
 *            session_abandon.lua and 503 (no_sandbox)
 *   others   session_request.lua (refusals: 404/410, 409 paused, 429 CPU),
 *            then the reply frames on sr:{SID}:rep:RID: stream events, one
 *            final frame, and the raw bytes after a final frame that says
 *            "binary": N
 *
 * Every request that waits on a supervisor is a held request (fcgi/
 * request.h's caps; nginx counts the same ones per address). It waits in
 * 1 s slices (BLPOP), looking between them whether its client left, and at
 * most the request's timeout + SESSION_REPLY_GRACE_MS (then 504). A record
 * whose runner has no live heartbeat is ended (session_lost.lua) by
 * whichever route meets it first. The session id is checked for shape by
 * the route table before anything here runs (fcgi/routes.c).
 */
#include "config.h"
#include "fleet.h"
#include "jobid.h"
#include "jobs.h"
#include "log.h"
#include "multipart.h"
#include "query.h"
#include "quota.h"
#include "session_body.h"
#include "sessions.h"
#include "store_sessions.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define SESSION_REPLY_GRACE_MS   10000  /* a request's timeout + this without its final frame: 504 */
#define SESSION_END_WAIT_MS      3000   /* DELETE: how long an idle supervisor's confirmation is awaited */
#define SESSION_OP_TIMEOUT_S     60     /* what a file operation, pause, resume or end may take */
#define SESSION_SNAPSHOT_TIMEOUT_S 120  /* packing a workspace of up to snapshot_max_bytes */
#define SESSION_BLPOP_SLICE      "1"    /* seconds one BLPOP waits before the client is looked at */
#define SESSION_BLPOP_SLICE_MS   1000
/* No sandbox came in time: runners refill their warm pools within one sandbox start. */
#define SESSION_NO_SANDBOX_RETRY_SECONDS 10
#define SESSION_FULL_RETRY_SECONDS 60   /* Redis over its high-water mark (as submit) */
#define BODY_CHUNK 65536
/* The pool list outlives a create's wait by this: entries older than that are the runner's to drop. */
#define SESSION_POOL_GRACE_MS 60000

const char *const session_route_params[] = { "mode", "recursive", "path", NULL };

/* ---- small helpers */

static json_t *json_time_field(const redisReply *h, const char *field)
{
	const char *ms = job_record_field(h, field);
	int64_t v;
	char text[32];

	if (!ms || parse_int64(ms, 1, INT64_MAX, &v) < 0)
		return json_null();
	time_format_rfc3339(v, text, sizeof text);
	return json_string(text);
}

static json_t *json_number_of(const redisReply *h, const char *field, bool integer)
{
	const char *s = job_record_field(h, field);
	int64_t v;
	char *end;
	double d;

	if (!s || !*s)
		return integer ? json_integer(0) : json_real(0);
	if (integer)
		return parse_int64(s, 0, INT64_MAX, &v) == 0 ? json_integer(v) : json_null();
	d = strtod(s, &end);
	return *end == '\0' ? json_real(d) : json_null();
}

static const char *field_or(const redisReply *h, const char *field, const char *dflt)
{
	const char *v = job_record_field(h, field);
	return v ? v : dflt;
}

/* A request id: 16 lowercase hex digits from the CSPRNG. 0 or -1. */
static int session_rid_make(char rid[17])
{
	unsigned char b[8];

	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(rid + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static void session_not_found(struct request *req)
{
	respond_error(req, 404, "Session not found", NULL, "no session with this id (unknown, expired or ended)");
}

/* 410: the record of an ended session lingers (300 s); its reason and sentence are told. */
static void session_gone(struct request *req, const char *sid, const char *reason, const char *sentence)
{
	char text[400];
	json_t *o;

	if (!reason || !*reason)
		reason = "internal";
	snprintf(text, sizeof text, "the session has ended (%s)%s%s", reason, sentence && *sentence ? ": " : "",
		 sentence ? sentence : "");
	o = json_object();
	json_object_set_new(o, "error", json_string("Session ended"));
	json_object_set_new(o, "reason", json_string_lossy(text, strlen(text)));
	json_object_set_new(o, "session_id", json_string(sid));
	json_object_set_new(o, "status", json_string("ended"));
	json_object_set_new(o, "ended_reason", json_string_lossy(reason, strlen(reason)));
	respond_json(req, 410, o, NULL);
}

static void session_unavailable(struct request *req, const char *what)
{
	log_error(req->id, "%s: %s", what, req->srv->redis.error);
	respond_unavailable(req, "the job store is unreachable");
}

/* ---- the record */

/* HGETALL of the record: 200 (*out set), 404 (none) or 503 (logged). */
static int session_record_get(struct request *req, const char *sid, redisReply **out)
{
	struct session_keys k;
	const char *argv[2] = { "HGETALL", k.ses };
	redisReply *r;

	*out = NULL;
	if (session_keys_make(sid, &k) < 0)
		return 404;
	r = rconn_argv(&req->srv->redis, 0, 2, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		log_error(req->id, "session record: %s", r ? (r->str ? r->str : "unexpected reply") : req->srv->redis.error);
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

/* Does the record's runner still beat? true when it does, or none claimed the session yet. */
static bool session_runner_alive(struct request *req, const redisReply *h)
{
	const char *runner = job_record_field(h, SES_F_RUNNER);
	const char *argv[3] = { "ZSCORE", STORE_KEY_RUNNERS, runner };
	redisReply *r;
	bool alive = true;

	if (!runner || !*runner)
		return true;
	r = rconn_argv(&req->srv->redis, 0, 3, argv, NULL);
	if (!r)
		return true;            /* Redis failed: the next call says so */
	if (r->type == REDIS_REPLY_NIL)
		alive = false;
	else if (r->type == REDIS_REPLY_STRING)
		alive = strtod(r->str, NULL) >= (double)(time_now_ms() - LEASE_MS);
	freeReplyObject(r);
	return alive;
}

/*
 * The record of a session that is not ended, or NULL after answering: 404
 * (none), 410 (ended, or its runner is lost: ended here), 503.
 */
static redisReply *session_record_load(struct request *req, const char *sid)
{
	redisReply *h;
	const char *status;

	switch (session_record_get(req, sid, &h)) {
	case 200:
		break;
	case 404:
		session_not_found(req);
		return NULL;
	default:
		respond_unavailable(req, "the job store is unreachable");
		return NULL;
	}
	status = field_or(h, SES_F_STATUS, "");
	if (strcmp(status, "ended") == 0) {
		session_gone(req, sid, job_record_field(h, SES_F_REASON), job_record_field(h, SES_F_ERROR));
		freeReplyObject(h);
		return NULL;
	}
	if (!session_runner_alive(req, h)) {
		enum store_session_lost_outcome out;
		static const char sentence[] = "the runner holding the session stopped answering";

		if (store_session_lost(&req->srv->redis, sid, field_or(h, SES_F_CLIENT, ""), time_now_ms(), LEASE_MS,
				       sentence, &out) < 0) {
			freeReplyObject(h);
			session_unavailable(req, "session_lost");
			return NULL;
		}
		if (out != STORE_SESSION_ALIVE) {
			log_info(sid, "ended: its runner %s has no live heartbeat", field_or(h, SES_F_RUNNER, "?"));
			freeReplyObject(h);
			session_gone(req, sid, "runner_lost", sentence);
			return NULL;
		}
	}
	return h;
}

/* GET /sessions/{id}'s object from a loaded record. New reference. */
static json_t *session_object(const char *sid, const redisReply *h)
{
	json_t *o = json_object(), *usage = json_object();
	const char *reason = job_record_field(h, SES_F_REASON);
	const char *status = field_or(h, SES_F_STATUS, "starting");

	json_object_set_new(o, "session_id", json_string(sid));
	json_object_set_new(o, "status", json_string_lossy(status, strlen(status)));
	json_object_set_new(o, "reason", reason ? json_string_lossy(reason, strlen(reason)) : json_null());
	json_object_set_new(o, "environment", json_string_lossy(field_or(h, SES_F_ENVIRONMENT, ""),
								 strlen(field_or(h, SES_F_ENVIRONMENT, ""))));
	json_object_set_new(o, "created_at", json_time_field(h, SES_F_CREATED));
	json_object_set_new(o, "last_used_at", json_time_field(h, SES_F_LAST_USED));
	json_object_set_new(o, "expires_at", json_time_field(h, SES_F_EXPIRES));
	json_object_set_new(o, "idle_timeout_seconds", json_number_of(h, SES_F_IDLE, true));
	json_object_set_new(o, "memory_mb", json_number_of(h, SES_F_MEMORY_MB, true));
	json_object_set_new(usage, "cpu_seconds", json_number_of(h, SES_F_CPU, false));
	json_object_set_new(usage, "memory_bytes", json_number_of(h, SES_F_MEMORY, true));
	json_object_set_new(usage, "memory_peak_bytes", json_number_of(h, SES_F_MEMORY_PEAK, true));
	json_object_set_new(o, "usage", usage);
	return o;
}

/* ---- bodies */

/* Reads the whole body (at most max bytes) into *b: 0, or 413 (the rest drained). */
static int session_body_read(struct request *req, int64_t max, struct buf *b)
{
	char *chunk;
	size_t n;

	if (req->content_length > max) {
		request_drain(req);
		return 413;
	}
	chunk = xmalloc(BODY_CHUNK);
	while ((n = request_read(req, chunk, BODY_CHUNK)) > 0) {
		if ((int64_t)(b->len + n) > max) {
			free(chunk);
			request_drain(req);
			return 413;
		}
		buf_append(b, chunk, n);
	}
	free(chunk);
	return 0;
}

/* ---- waiting for the supervisor's reply */

/* A streamed exec: the events go out as Server-Sent Events once the first comes. */
struct session_stream {
	bool wanted;                 /* the client asked for text/event-stream */
	bool started;
	struct request *req;
};

static int sse_send(struct session_stream *ss, const char *event, const char *data, size_t len)
{
	static const char headers[] = "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
	struct buf ev = { 0 };
	size_t clean_len, start = 0;
	char *clean;
	int rc;

	if (!ss->started) {
		if (respond_stream_start(ss->req, 200, "text/event-stream", headers) < 0)
			return -1;
		ss->started = true;
	}
	clean = utf8_sanitize(data, len, &clean_len);
	buf_append_str(&ev, "event: ");
	buf_append_str(&ev, event);
	buf_append_str(&ev, "\n");
	/* one data line per line of the text; the client joins them with "\n" */
	for (size_t i = 0; i <= clean_len; i++) {
		if (i < clean_len && clean[i] != '\n' && clean[i] != '\r')
			continue;
		buf_append_str(&ev, "data: ");
		buf_append(&ev, clean + start, i - start);
		buf_append_str(&ev, "\n");
		if (i < clean_len && clean[i] == '\r' && i + 1 < clean_len && clean[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	buf_append_str(&ev, "\n");
	rc = respond_stream_write(ss->req, ev.data, ev.len);
	free(clean);
	free(ev.data);
	return rc;
}

static int sse_send_json(struct session_stream *ss, const char *event, json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	int rc = text ? sse_send(ss, event, text, strlen(text)) : -1;

	free(text);
	json_decref(value);
	return rc;
}

enum wait_result {
	WAIT_FINAL,                  /* *final (and *binary) set */
	WAIT_TIMEOUT,                /* nothing answered */
	WAIT_ANSWERED,               /* an error was answered */
	WAIT_CLIENT_GONE,            /* nobody to answer */
};

/*
 * Pops reply frames off `key` until the final one, the client leaves, or
 * wait_ms passes. Stream events go to ss when it wants them (else they
 * are dropped: the final frame carries the whole output). A final frame
 * with "binary": N takes the next element, N raw bytes, into *binary
 * (freeReplyObject). The reply list is deleted after.
 */
static enum wait_result session_wait(struct request *req, const char *key, int64_t wait_ms,
				     struct session_stream *ss, json_t **final, redisReply **binary)
{
	int64_t started = time_mono_ms(), deadline = started + wait_ms;
	enum wait_result result = WAIT_TIMEOUT;
	const char *del[2] = { "DEL", key };
	redisReply *r;

	*final = NULL;
	*binary = NULL;
	for (;;) {
		const char *argv[3] = { "BLPOP", key, SESSION_BLPOP_SLICE };
		json_t *frame;
		const redisReply *v;

		if (request_client_gone(req)) {
			log_info(req->id, "session request left after %lld ms: the client is gone",
				 (long long)(time_mono_ms() - started));
			result = WAIT_CLIENT_GONE;
			break;
		}
		if (responder_stopping()) {
			respond_unavailable_after(req, "this responder is restarting; try again", 1);
			result = WAIT_ANSWERED;
			break;
		}
		if (time_mono_ms() >= deadline) {
			result = WAIT_TIMEOUT;
			break;
		}
		r = rconn_argv(&req->srv->redis, SESSION_BLPOP_SLICE_MS + 1000, 3, argv, NULL);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			log_error(req->id, "session reply: %s", r ? r->str : req->srv->redis.error);
			if (r)
				freeReplyObject(r);
			respond_unavailable(req, "the job store is unreachable");
			result = WAIT_ANSWERED;
			break;
		}
		if (r->type == REDIS_REPLY_NIL) {
			freeReplyObject(r);
			continue;
		}
		v = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1] : NULL;
		frame = v && v->type == REDIS_REPLY_STRING ? json_loadb(v->str, v->len, 0, NULL) : NULL;
		freeReplyObject(r);
		if (!json_is_object(frame)) {
			json_decref(frame);
			log_error(req->id, "session reply: a frame that is no JSON object");
			respond_error(req, 500, NULL, NULL, "the session's sandbox answered something unreadable");
			result = WAIT_ANSWERED;
			break;
		}
		if (json_is_true(json_object_get(frame, "final"))) {
			const json_t *n = json_object_get(frame, "binary");

			if (n) {
				const char *lpop[2] = { "LPOP", key };
				redisReply *b = json_is_integer(n) && json_integer_value(n) >= 0
						? rconn_argv(&req->srv->redis, 0, 2, lpop, NULL) : NULL;

				if (!b || b->type != REDIS_REPLY_STRING || (json_int_t)b->len != json_integer_value(n)) {
					if (b)
						freeReplyObject(b);
					json_decref(frame);
					log_error(req->id, "session reply: the bytes after a binary frame are missing");
					respond_error(req, 500, NULL, NULL, "the session's sandbox answered incompletely");
					result = WAIT_ANSWERED;
					break;
				}
				*binary = b;
			}
			*final = frame;
			result = WAIT_FINAL;
			break;
		}
		{
			const char *event = json_string_value(json_object_get(frame, "event"));
			const json_t *data = json_object_get(frame, "data");

			if (ss && ss->wanted && event && (strcmp(event, "stdout") == 0 || strcmp(event, "stderr") == 0) &&
			    json_is_string(data) &&
			    sse_send(ss, event, json_string_value(data), json_string_length(data)) < 0) {
				json_decref(frame);
				result = WAIT_CLIENT_GONE;
				break;
			}
		}
		json_decref(frame);
	}
	if ((r = rconn_argv(&req->srv->redis, 0, 2, del, NULL)))
		freeReplyObject(r);
	return result;
}

/* Answers a failure frame {"ok":false,"status","error","reason","field"?,"retry_after"?} as it says. */
static void session_answer_failure(struct request *req, json_t *final)
{
	const json_t *st = json_object_get(final, "status");
	json_int_t status = json_is_integer(st) ? json_integer_value(st) : 500;
	const char *error = json_string_value(json_object_get(final, "error"));
	const char *reason = json_string_value(json_object_get(final, "reason"));
	const char *field = json_string_value(json_object_get(final, "field"));
	const json_t *retry = json_object_get(final, "retry_after");
	json_t *o = json_object();
	char headers[64] = "";

	if (status < 400 || status > 599)
		status = 500;
	json_object_set_new(o, "error", json_string(error ? error : "Request failed"));
	json_object_set_new(o, "reason", json_string(reason ? reason : "the session's sandbox refused the request"));
	if (field)
		json_object_set_new(o, "field", json_string(field));
	if (json_is_integer(retry) && json_integer_value(retry) > 0) {
		json_object_set_new(o, "retry_after", json_integer(json_integer_value(retry)));
		snprintf(headers, sizeof headers, "Retry-After: %lld\r\n", (long long)json_integer_value(retry));
	}
	respond_json(req, (int)status, o, headers);
}

/* The result fields of a success frame (final, ok, binary dropped). New reference. */
static json_t *session_result(const json_t *final)
{
	json_t *o = json_deep_copy(final);

	json_object_del(o, "final");
	json_object_del(o, "ok");
	json_object_del(o, "binary");
	return o;
}

/* ---- one request to the supervisor */

struct session_call {
	const char *sid;
	const redisReply *rec;       /* the loaded record: client */
	const char *op;
	json_t *request;             /* stolen: rid and op are added */
	const char *data;            /* bytes for the data key, or NULL */
	size_t data_len;
	int64_t timeout_s;           /* the operation's own: the wait is this + SESSION_REPLY_GRACE_MS */
	struct session_stream *stream;
	json_t *final;               /* out: the final frame (json_decref) */
	redisReply *binary;          /* out: its bytes (freeReplyObject), or NULL */
};

/* Refusals of session_request.lua, answered. */
static void session_refused(struct request *req, const char *sid, const struct store_session_request_result *res)
{
	const struct sandrun_limits *l = request_limits(req);
	char reason[256];

	switch (res->verdict) {
	case STORE_SESSION_GONE:
		session_not_found(req);
		break;
	case STORE_SESSION_ENDED:
		session_gone(req, sid, res->reason, NULL);
		break;
	case STORE_SESSION_STARTING:
		respond_error(req, 409, NULL, NULL, "the session is still starting; try again in a moment");
		break;
	case STORE_SESSION_PAUSED:
		respond_error(req, 409, NULL, NULL, "session is paused: POST /sessions/{id}/resume first");
		break;
	case STORE_SESSION_OVER_CPU:
		snprintf(reason, sizeof reason, "CPU quota exhausted (%.1f/%.1f seconds used); the session stays alive",
			 res->used, l->quota_cpu_seconds);
		respond_rate_limited(req, reason, (long)((res->figure + 999) / 1000));
		break;
	case STORE_SESSION_OVER_STORAGE:
		snprintf(reason, sizeof reason, "storage quota exhausted: this address holds %.1f of %.1f MB in the "
			 "job store", res->used / 1e6, (double)l->quota_storage_bytes / 1e6);
		respond_rate_limited(req, reason, res->figure > 0 ? (long)((res->figure + 999) / 1000) : 30);
		break;
	case STORE_SESSION_REQ_OVER_MEMORY:
	case STORE_SESSION_REQ_REDIS_FULL:
		log_warn(req->id, "session request refused: Redis is over its high-water mark");
		respond_unavailable_after(req, "the service is holding as much data as it can right now; try again "
					  "shortly", SESSION_FULL_RETRY_SECONDS);
		break;
	case STORE_SESSION_SENT:
		break;
	}
}

/*
 * Sends the request and waits for its final frame. 0 with c->final (a
 * success frame) set; -1 after answering (a refusal, a failure frame, 504,
 * 503), or with the client gone.
 */
static int session_call_run(struct request *req, struct session_call *c)
{
	const struct sandrun_limits *l = request_limits(req);
	char rid[17], key[STORE_KEY_MAX], *text = NULL;
	struct store_session_request_result res;
	struct store_session_request p;
	bool is_end = strcmp(c->op, "end") == 0;
	int rc = -1;

	c->final = NULL;
	c->binary = NULL;
	if (session_rid_make(rid) < 0) {
		respond_error(req, 500, NULL, NULL, "cannot make a request id");
		goto done;
	}
	json_object_set_new(c->request, "rid", json_string(rid));
	json_object_set_new(c->request, "op", json_string(c->op));
	text = json_dumps(c->request, JSON_COMPACT);
	if (!text || store_key_session_reply(key, sizeof key, c->sid, rid) < 0) {
		respond_error(req, 500, NULL, NULL, "cannot encode the request");
		goto done;
	}
	if (!request_hold_begin(req))
		goto done;
	p = (struct store_session_request){
		.sid = c->sid, .client = field_or(c->rec, SES_F_CLIENT, ""), .rid = rid, .op = c->op,
		.request = text, .data = c->data, .data_len = c->data_len, .now_ms = time_now_ms(),
		.cpu_limit = l->quota_cpu_seconds, .window_ms = l->quota_window_seconds * 1000,
		.storage_quota = l->quota_storage_bytes, .high_water_percent = l->redis_memory_high_water_percent,
	};
	if (store_session_request(&req->srv->redis, &p, &res) < 0) {
		session_unavailable(req, "session_request");
		goto done;
	}
	if (res.verdict != STORE_SESSION_SENT) {
		session_refused(req, c->sid, &res);
		goto done;
	}
	/* DELETE: session_request.lua ended the record already; the supervisor
	 * confirms at once when idle, or kills the sandbox within a second of its
	 * next charge when busy with an exec, and answers nothing then */
	switch (session_wait(req, key, is_end ? SESSION_END_WAIT_MS : c->timeout_s * 1000 + SESSION_REPLY_GRACE_MS,
			     c->stream, &c->final, &c->binary)) {
	case WAIT_FINAL:
		break;
	case WAIT_TIMEOUT:
		if (is_end) {
			c->final = json_pack("{s:b}", "ok", 1);
			break;
		}
		log_warn(req->id, "session %s: no answer to %s within %lld s", c->sid, c->op,
			 (long long)(c->timeout_s + SESSION_REPLY_GRACE_MS / 1000));
		if (c->stream && c->stream->started)
			sse_send_json(c->stream, "error", json_pack("{s:i, s:s}", "status", 504, "reason",
								    "the session's sandbox did not answer in time"));
		else
			respond_error(req, 504, "Gateway timeout", NULL, "the session's sandbox did not answer within "
				      "%lld s", (long long)(c->timeout_s + SESSION_REPLY_GRACE_MS / 1000));
		goto done;
	default:
		goto done;
	}
	if (is_end && !json_is_true(json_object_get(c->final, "ok"))) {
		/* the supervisor met the ended record first: ended all the same */
		json_decref(c->final);
		c->final = json_pack("{s:b}", "ok", 1);
	}
	if (!json_is_true(json_object_get(c->final, "ok"))) {
		if (c->stream && c->stream->started)
			sse_send_json(c->stream, "error", session_result(c->final));
		else
			session_answer_failure(req, c->final);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0) {
		json_decref(c->final);
		c->final = NULL;
		if (c->binary)
			freeReplyObject(c->binary);
		c->binary = NULL;
	}
	free(text);
	json_decref(c->request);
	c->request = NULL;
	return rc;
}

static void session_call_free(struct session_call *c)
{
	json_decref(c->final);
	if (c->binary)
		freeReplyObject(c->binary);
	c->final = NULL;
	c->binary = NULL;
}

/* ---- the routes */

/* Answers with the body error (400/413) for `status`. */
static void session_body_fail(struct request *req, int status, const struct session_body_error *err,
			      int64_t max)
{
	if (status == 413)
		respond_error(req, 413, NULL, NULL, "the body is larger than %lld bytes", (long long)max);
	else
		respond_error(req, 400, NULL, err->field, "%s", err->reason);
}

static void session_exec(struct request *req, const char *sid, const redisReply *h)
{
	struct session_stream ss = { .wanted = strstr(req->accept, "text/event-stream") != NULL, .req = req };
	struct session_call c = { .sid = sid, .rec = h, .op = "exec", .stream = &ss };
	struct session_body_error err;
	struct buf body = { 0 };
	int status;

	if ((status = session_body_read(req, SESSION_BODY_MAX_BYTES, &body)) != 0 ||
	    (status = session_exec_parse(body.data ? body.data : "", body.len, request_limits(req), ss.wanted,
					 &c.request, &c.timeout_s, &err)) != 0) {
		session_body_fail(req, status, &err, SESSION_BODY_MAX_BYTES);
		goto done;
	}
	if (session_call_run(req, &c) < 0)
		goto done;
	if (ss.wanted)
		sse_send_json(&ss, "exit", session_result(c.final));
	else
		respond_json(req, 200, session_result(c.final), NULL);
	session_call_free(&c);
done:
	free(body.data);
}

/* The simple operations: pause, resume, snapshot, end. */
static void session_simple(struct request *req, const char *sid, const redisReply *h, const char *op)
{
	struct session_call c = { .sid = sid, .rec = h, .op = op, .request = json_object(),
				  .timeout_s = strcmp(op, "snapshot") == 0 ? SESSION_SNAPSHOT_TIMEOUT_S
									   : SESSION_OP_TIMEOUT_S };
	json_t *o;

	request_drain(req);
	if (session_call_run(req, &c) < 0)
		return;
	o = session_result(c.final);
	json_object_set_new(o, "session_id", json_string(sid));
	if (strcmp(op, "end") == 0)
		json_object_set_new(o, "status", json_string("ended"));
	else if (strcmp(op, "pause") == 0 && !json_object_get(o, "status"))
		json_object_set_new(o, "status", json_string("paused"));
	else if (strcmp(op, "resume") == 0 && !json_object_get(o, "status"))
		json_object_set_new(o, "status", json_string("ready"));
	if (strcmp(op, "snapshot") == 0) {
		/* the supervisor answers epoch milliseconds; the API's times are RFC 3339 */
		json_t *at = json_object_get(o, "expires_at");
		char text[32];

		if (json_is_integer(at) && json_integer_value(at) > 0) {
			time_format_rfc3339(json_integer_value(at), text, sizeof text);
			json_object_set_new(o, "expires_at", json_string(text));
		}
	}
	if (strcmp(op, "end") == 0)
		log_info(sid, "ended by its client");
	respond_json(req, 200, o, NULL);
	session_call_free(&c);
}

/* A query value (absent: ""); false after answering 400. */
static bool session_query(struct request *req, const char *name, char *out, size_t outlen)
{
	*out = '\0';
	if (request_query(req, name, out, outlen) < 0) {
		request_drain(req);
		respond_error(req, 400, NULL, name, "%s is too long or badly encoded", name);
		return false;
	}
	return true;
}

/* Only the parameters this sub-route takes (NULL-ended; NULL: none): else 400 naming the other. */
static bool session_query_only(struct request *req, const char *const *allowed, const char *pattern)
{
	char name[64], list[128];

	switch (query_check(req->query, allowed, name, sizeof name)) {
	case QUERY_OK:
		return true;
	case QUERY_REPEATED:
		request_drain(req);
		respond_error(req, 400, NULL, name, "query parameter '%s' given more than once", name);
		return false;
	default:
		query_allowed_text(allowed, list, sizeof list);
		request_drain(req);
		respond_error(req, 400, NULL, name, "unknown query parameter '%s' for %s %s; allowed: %s", name,
			      req->method, pattern, list);
		return false;
	}
}

/* The path of a file route from the URI as sent (REQUEST_URI), after "/files/". false after answering 400. */
static bool session_file_path(struct request *req, const char *sid, char *out, size_t outlen)
{
	const char *raw = request_param(req, "REQUEST_URI");
	struct session_body_error err;
	char prefix[96];
	size_t plen;

	plen = (size_t)snprintf(prefix, sizeof prefix, "/sessions/%s/files/", sid);
	if (!raw || strncmp(raw, prefix, plen) != 0) {
		/* no REQUEST_URI, or one nginx rewrote: the decoded path it routed on */
		raw = req->path;
		if (strncmp(raw, prefix, plen) != 0) {
			*out = '\0';
			return true;
		}
	}
	if (session_path_from_uri(raw + plen, strlen(raw + plen), out, outlen, &err) != 0) {
		request_drain(req);
		respond_error(req, 400, NULL, "path", "%s", err.reason);
		return false;
	}
	return true;
}

static void session_answer_bytes(struct request *req, const struct session_call *c, const char *type,
				 const char *headers)
{
	respond_bytes(req, 200, type, c->binary->str, c->binary->len, headers);
}

static void session_file_read(struct request *req, const char *sid, const redisReply *h, const char *path)
{
	struct session_call c = { .sid = sid, .rec = h, .op = "read", .timeout_s = SESSION_OP_TIMEOUT_S };

	c.request = json_pack("{s:s}", "path", *path ? path : "/work");
	if (session_call_run(req, &c) < 0)
		return;
	if (c.binary)
		session_answer_bytes(req, &c, "application/octet-stream", NULL);
	else
		respond_json(req, 200, session_result(c.final), NULL);
	session_call_free(&c);
}

static void session_file_write(struct request *req, const char *sid, const redisReply *h, const char *path)
{
	const struct sandrun_limits *l = request_limits(req);
	struct session_call c = { .sid = sid, .rec = h, .op = "write", .timeout_s = SESSION_OP_TIMEOUT_S };
	struct session_body_error err;
	struct buf body = { 0 };
	char mode_text[16];
	int mode = 0644;

	if (!session_query(req, "mode", mode_text, sizeof mode_text))
		return;
	if (*mode_text && session_mode_parse(mode_text, &mode, &err) != 0) {
		request_drain(req);
		respond_error(req, 400, NULL, err.field, "%s", err.reason);
		return;
	}
	if (!*path) {
		request_drain(req);
		respond_error(req, 400, NULL, "path", "name the file: PUT /sessions/{id}/files/{path}");
		return;
	}
	if (session_body_read(req, l->session_file_max_bytes, &body) != 0) {
		respond_error(req, 413, NULL, NULL, "the file is larger than the %lld byte limit",
			      (long long)l->session_file_max_bytes);
		return;
	}
	c.request = json_pack("{s:s, s:i, s:I}", "path", path, "mode", mode, "size", (json_int_t)body.len);
	c.data = body.data ? body.data : "";
	c.data_len = body.len;
	if (session_call_run(req, &c) == 0) {
		json_t *o = session_result(c.final);

		if (!json_object_get(o, "path"))
			json_object_set_new(o, "path", json_string(path));
		if (!json_object_get(o, "size"))
			json_object_set_new(o, "size", json_integer((json_int_t)body.len));
		respond_json(req, 200, o, NULL);
		session_call_free(&c);
	}
	free(body.data);
}

static void session_file_delete(struct request *req, const char *sid, const redisReply *h, const char *path)
{
	struct session_call c = { .sid = sid, .rec = h, .op = "delete", .timeout_s = SESSION_OP_TIMEOUT_S };
	struct session_body_error err;
	char text[16];
	bool recursive = false;

	if (!session_query(req, "recursive", text, sizeof text))
		return;
	if (request_query(req, "recursive", text, sizeof text) == 1 &&
	    session_flag_parse(text, "recursive", &recursive, &err) != 0) {
		request_drain(req);
		respond_error(req, 400, NULL, err.field, "%s", err.reason);
		return;
	}
	if (!*path) {
		respond_error(req, 400, NULL, "path", "name what to delete: the workspace itself stays");
		return;
	}
	c.request = json_pack("{s:s, s:b}", "path", path, "recursive", recursive);
	if (session_call_run(req, &c) == 0) {
		json_t *o = session_result(c.final);

		json_object_set_new(o, "deleted", json_string(path));
		respond_json(req, 200, o, NULL);
		session_call_free(&c);
	}
}

/* POST /sessions/{id}/files: multipart with one part "files", an archive. */
struct unpack_form {
	int64_t max;
	int have_files, in_files;
	struct buf files;
	int status;
	char reason[200], field[64];
};

static int unpack_part_begin(void *ctx, const struct mp_part_info *part)
{
	struct unpack_form *f = ctx;

	if (strcmp(part->name, "files") != 0 || f->have_files++) {
		f->status = 400;
		snprintf(f->field, sizeof f->field, "%s", strcmp(part->name, "files") ? part->name : "files");
		snprintf(f->reason, sizeof f->reason, "send exactly one part, files, holding the archive");
		return 1;
	}
	f->in_files = 1;
	return 0;
}

static int unpack_part_data(void *ctx, const char *data, size_t len)
{
	struct unpack_form *f = ctx;

	if (!f->in_files)
		return 0;
	if ((int64_t)(f->files.len + len) > f->max) {
		f->status = 413;
		snprintf(f->field, sizeof f->field, "files");
		snprintf(f->reason, sizeof f->reason, "the archive is larger than the %lld byte limit", (long long)f->max);
		return 1;
	}
	buf_append(&f->files, data, len);
	return 0;
}

static int unpack_part_end(void *ctx)
{
	((struct unpack_form *)ctx)->in_files = 0;
	return 0;
}

static void session_unpack(struct request *req, const char *sid, const redisReply *h)
{
	static const struct mp_callbacks callbacks = { unpack_part_begin, unpack_part_data, unpack_part_end };
	const struct sandrun_limits *l = request_limits(req);
	struct unpack_form f = { .max = l->session_file_max_bytes };
	struct session_call c = { .sid = sid, .rec = h, .op = "unpack", .timeout_s = SESSION_OP_TIMEOUT_S };
	struct session_body_error err;
	char boundary[MP_BOUNDARY_MAX + 1], path[SESSION_PATH_MAX_BYTES + 1];
	struct mp_parser *mp = NULL;
	char *chunk = NULL;
	size_t n;

	if (!session_query(req, "path", path, sizeof path))
		return;
	if (*path && session_path_check(path, strlen(path), "path", &err) != 0) {
		request_drain(req);
		respond_error(req, 400, NULL, "path", "%s", err.reason);
		return;
	}
	if (strncasecmp(req->content_type, "multipart/form-data", 19) != 0 ||
	    mp_boundary_from_content_type(req->content_type, boundary, sizeof boundary) < 0) {
		request_drain(req);
		respond_error(req, 415, NULL, NULL, "send multipart/form-data with the archive in files "
			      "(curl -F files=@work.tar.gz)");
		return;
	}
	if (req->content_length > l->session_file_max_bytes + 65536) {
		request_drain(req);
		respond_error(req, 413, NULL, "files", "the archive is larger than the %lld byte limit",
			      (long long)l->session_file_max_bytes);
		return;
	}
	mp = mp_parser_new(boundary, &callbacks, &f);
	chunk = xmalloc(BODY_CHUNK);
	while (mp && (n = request_read(req, chunk, BODY_CHUNK)) > 0) {
		enum mp_status st = mp_feed(mp, chunk, n);

		if (st == MP_ERR_CALLBACK)
			break;
		if (st != MP_OK) {
			f.status = st == MP_ERR_LIMIT ? 413 : 400;
			snprintf(f.reason, sizeof f.reason, "the multipart body is malformed: %s", mp_error(mp));
			break;
		}
	}
	if (!mp) {
		f.status = 500;
		snprintf(f.reason, sizeof f.reason, "out of memory");
	} else if (!f.status && mp_finish(mp) != MP_OK) {
		f.status = 400;
		snprintf(f.reason, sizeof f.reason, "the multipart body is malformed: %s", mp_error(mp));
	}
	request_drain(req);
	if (!f.status && !f.have_files) {
		f.status = 400;
		snprintf(f.field, sizeof f.field, "files");
		snprintf(f.reason, sizeof f.reason, "files is missing: attach the archive with -F files=@work.tar.gz");
	}
	if (f.status) {
		respond_error(req, f.status, NULL, f.field, "%s", f.reason);
		goto done;
	}
	c.request = json_pack("{s:s, s:I}", "path", *path ? path : "/work", "size", (json_int_t)f.files.len);
	c.data = f.files.data ? f.files.data : "";
	c.data_len = f.files.len;
	if (session_call_run(req, &c) == 0) {
		respond_json(req, 200, session_result(c.final), NULL);
		session_call_free(&c);
	}
done:
	free(chunk);
	mp_parser_free(mp);
	free(f.files.data);
}

static void session_archive(struct request *req, const char *sid, const redisReply *h)
{
	struct session_call c = { .sid = sid, .rec = h, .op = "archive", .timeout_s = SESSION_OP_TIMEOUT_S };
	struct session_body_error err;
	char path[SESSION_PATH_MAX_BYTES + 1];

	if (!session_query(req, "path", path, sizeof path))
		return;
	if (*path && session_path_check(path, strlen(path), "path", &err) != 0) {
		respond_error(req, 400, NULL, "path", "%s", err.reason);
		return;
	}
	c.request = json_pack("{s:s}", "path", *path ? path : "/work");
	if (session_call_run(req, &c) < 0)
		return;
	if (c.binary)
		session_answer_bytes(req, &c, "application/gzip",
				     "Content-Disposition: attachment; filename=\"workspace.tar.gz\"\r\n");
	else
		respond_error(req, 500, NULL, NULL, "the session's sandbox sent no archive");
	session_call_free(&c);
}

/* The sub-routes of /sessions/{id}: tail (after the id), method, what they take. */
enum session_route {
	SR_STATUS, SR_END, SR_EXEC, SR_FILE_GET, SR_FILE_PUT, SR_FILE_DELETE, SR_UNPACK, SR_LIST,
	SR_ARCHIVE, SR_PAUSE, SR_RESUME, SR_SNAPSHOT,
};

static const char *const params_none[] = { NULL };
static const char *const params_mode[] = { "mode", NULL };
static const char *const params_recursive[] = { "recursive", NULL };
static const char *const params_path[] = { "path", NULL };

static const struct {
	const char *tail;            /* exact, or a prefix when it ends in "/" */
	const char *method;
	enum session_route route;
	const char *const *params;
	const char *pattern;
} session_routes[] = {
	{ "", "GET", SR_STATUS, params_none, "/sessions/{id}" },
	{ "", "DELETE", SR_END, params_none, "/sessions/{id}" },
	{ "/exec", "POST", SR_EXEC, params_none, "/sessions/{id}/exec" },
	{ "/files", "POST", SR_UNPACK, params_path, "/sessions/{id}/files" },
	{ "/files", "GET", SR_LIST, params_none, "/sessions/{id}/files" },
	{ "/files/", "GET", SR_FILE_GET, params_none, "/sessions/{id}/files/{path}" },
	{ "/files/", "PUT", SR_FILE_PUT, params_mode, "/sessions/{id}/files/{path}" },
	{ "/files/", "DELETE", SR_FILE_DELETE, params_recursive, "/sessions/{id}/files/{path}" },
	{ "/archive", "GET", SR_ARCHIVE, params_path, "/sessions/{id}/archive" },
	{ "/pause", "POST", SR_PAUSE, params_none, "/sessions/{id}/pause" },
	{ "/resume", "POST", SR_RESUME, params_none, "/sessions/{id}/resume" },
	{ "/snapshot", "POST", SR_SNAPSHOT, params_none, "/sessions/{id}/snapshot" },
};

void handle_session(struct request *req, const char *sid)
{
	const char *tail = req->path + strlen("/sessions/") + strlen(sid);
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	char path[SESSION_PATH_MAX_BYTES + 1] = "", allowed[64] = "";
	size_t i, n = sizeof session_routes / sizeof session_routes[0];
	redisReply *h;

	if (strcmp(tail, "/") == 0)
		tail = "";
	for (i = 0; i < n; i++) {
		const char *t = session_routes[i].tail;
		size_t tlen = strlen(t);
		bool match = tlen && t[tlen - 1] == '/' ? strncmp(tail, t, tlen) == 0 : strcmp(tail, t) == 0;

		if (!match)
			continue;
		if (strcmp(session_routes[i].method, method) == 0)
			break;
		if (!strstr(allowed, session_routes[i].method))
			snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", *allowed ? ", " : "",
				 session_routes[i].method);
	}
	if (i == n) {
		request_drain(req);
		if (*allowed)
			respond_error(req, 405, NULL, NULL, "%s %s is not allowed; use %s", req->method, req->path, allowed);
		else
			respond_error(req, 404, NULL, NULL, "no such endpoint: /sessions/{id}%s", tail);
		return;
	}
	if (!session_query_only(req, session_routes[i].params, session_routes[i].pattern))
		return;
	if ((session_routes[i].route == SR_FILE_GET || session_routes[i].route == SR_FILE_PUT ||
	     session_routes[i].route == SR_FILE_DELETE) && !session_file_path(req, sid, path, sizeof path))
		return;
	/* HEAD of anything but the record would hold a sandbox for nothing */
	if (strcmp(req->method, "HEAD") == 0 && session_routes[i].route != SR_STATUS) {
		respond_error(req, 405, NULL, NULL, "HEAD %s is not allowed; use GET", session_routes[i].pattern);
		return;
	}
	h = session_record_load(req, sid);
	if (!h) {
		request_drain(req);
		return;
	}
	switch (session_routes[i].route) {
	case SR_STATUS:
		respond_json(req, 200, session_object(sid, h), NULL);
		break;
	case SR_END: session_simple(req, sid, h, "end"); break;
	case SR_PAUSE: session_simple(req, sid, h, "pause"); break;
	case SR_RESUME: session_simple(req, sid, h, "resume"); break;
	case SR_SNAPSHOT: session_simple(req, sid, h, "snapshot"); break;
	case SR_EXEC: session_exec(req, sid, h); break;
	case SR_LIST: session_file_read(req, sid, h, ""); break;
	case SR_FILE_GET: session_file_read(req, sid, h, path); break;
	case SR_FILE_PUT: session_file_write(req, sid, h, path); break;
	case SR_FILE_DELETE: session_file_delete(req, sid, h, path); break;
	case SR_UNPACK: session_unpack(req, sid, h); break;
	case SR_ARCHIVE: session_archive(req, sid, h); break;
	}
	request_drain(req);
	request_hold_end(req);
	freeReplyObject(h);
}

/* ---- POST /sessions */

/* The environment must be one a live runner offers (as submit checks); with none live, the create waits. */
static bool session_environment_ok(struct request *req, const char *env)
{
	struct fleet f;
	bool ok = true;

	if (fleet_load(req, &f) == 0 && f.live > 0 && !fleet_environment(&f, env)) {
		respond_error(req, 400, NULL, "environment", "environment %s is not installed on any runner "
			      "(GET /environments lists what is)", env);
		ok = false;
	}
	fleet_free(&f);
	return ok;
}

/* 201 from the record of a session now ready. */
static void session_created(struct request *req, const char *sid, const struct session_create_req *c)
{
	const struct sandrun_limits *l = request_limits(req);
	char headers[128];
	redisReply *h = NULL;
	json_t *o, *limits;

	if (session_record_get(req, sid, &h) != 200) {
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	limits = json_pack("{s:I, s:I, s:I, s:I, s:f}", "memory_mb", (json_int_t)c->memory_mb,
			   "ttl_seconds", (json_int_t)c->ttl_seconds,
			   "idle_timeout_seconds", (json_int_t)c->idle_timeout_seconds,
			   "file_max_bytes", (json_int_t)l->session_file_max_bytes,
			   "cpu_seconds_per_window", l->quota_cpu_seconds);
	o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "session_id", sid, "status", "ready", "environment",
		      c->environment, "expires_at", json_time_field(h, SES_F_EXPIRES), "limits", limits);
	snprintf(headers, sizeof headers, "Location: /sessions/%s\r\n", sid);
	respond_json(req, 201, o, headers);
	freeReplyObject(h);
}

/*
 * A session became ready after its client left: nobody knows its id, so it
 * is ended at once (the request is sent, its answer not awaited: the reply
 * list expires) rather than hold the client's slot until its idle timeout.
 */
static void session_end_unanswered(struct request *req, const char *sid, const char *client)
{
	struct store_session_request_result res;
	char rid[17], request[64];
	struct store_session_request p = { .sid = sid, .client = client, .rid = rid, .op = "end",
					   .request = request, .now_ms = time_now_ms() };

	if (session_rid_make(rid) < 0)
		return;
	snprintf(request, sizeof request, "{\"rid\":\"%s\",\"op\":\"end\"}", rid);
	if (store_session_request(&req->srv->redis, &p, &res) == 0 && res.verdict == STORE_SESSION_SENT)
		log_info(sid, "ended: it became ready after its client had left");
}

/* The create entry for the pool list (docs/sessions.md). Caller frees. */
static char *session_create_entry(const char *sid, const char *client, const struct session_create_req *c)
{
	json_t *e = json_pack("{s:s, s:s, s:I, s:O, s:o, s:I, s:I, s:s}", "session_id", sid, "environment",
			      c->environment, "memory_mb", (json_int_t)c->memory_mb, "env", c->env, "workspace_id",
			      *c->workspace_id ? json_string(c->workspace_id) : json_null(), "ttl_seconds",
			      (json_int_t)c->ttl_seconds, "idle_timeout_seconds", (json_int_t)c->idle_timeout_seconds,
			      "client", client);
	char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;

	json_decref(e);
	return text;
}

void handle_session_create(struct request *req, const char *unused)
{
	const struct sandrun_limits *l = request_limits(req);
	struct session_create_req c = { 0 };
	struct session_body_error err;
	struct store_session_create_result res;
	struct buf body = { 0 };
	char sid[JOBID_LEN + 1], client[QUOTA_KEY_MAX], key[STORE_KEY_MAX], status[32], *entry = NULL;
	json_t *final = NULL;
	redisReply *binary = NULL;
	enum store_session_abandon_outcome out;
	enum wait_result waited;
	int rc;

	(void)unused;
	if ((rc = session_body_read(req, SESSION_BODY_MAX_BYTES, &body)) != 0 ||
	    (rc = session_create_parse(body.data ? body.data : "", body.len, l, &c, &err)) != 0) {
		session_body_fail(req, rc, &err, SESSION_BODY_MAX_BYTES);
		free(body.data);
		return;
	}
	free(body.data);
	if (!session_environment_ok(req, c.environment))
		goto done;
	request_client(req, client, sizeof client);
	if (prefixed_id_generate(SESID_PREFIX, sid) < 0 || !(entry = session_create_entry(sid, client, &c)) ||
	    store_key_session_reply(key, sizeof key, sid, STORE_SESSION_CREATE_RID) < 0) {
		respond_error(req, 500, NULL, NULL, "cannot make a session id");
		goto done;
	}
	if (!request_hold_begin(req))
		goto done;
	{
		struct store_session_create p = {
			.sid = sid, .client = client, .environment = c.environment, .entry = entry,
			.workspace_id = c.workspace_id, .now_ms = time_now_ms(), .ttl_s = c.ttl_seconds,
			.idle_s = c.idle_timeout_seconds, .memory_mb = c.memory_mb,
			.sessions_max = l->sessions_per_client,
			.high_water_percent = l->redis_memory_high_water_percent,
			.quota_idle_ms = l->quota_idle_seconds * 1000,
			.pool_entry_ms = l->session_create_wait * 1000 + SESSION_POOL_GRACE_MS,
		};

		if (store_session_create(&req->srv->redis, &p, &res) < 0) {
			session_unavailable(req, "session_create");
			goto done;
		}
	}
	switch (res.verdict) {
	case STORE_SESSION_CREATED:
		break;
	case STORE_SESSION_OVER_SESSIONS: {
		char reason[200];

		snprintf(reason, sizeof reason, "this address holds %lld live sessions (limit %lld at once); end one "
			 "with DELETE /sessions/{id}", res.count, (long long)l->sessions_per_client);
		respond_rate_limited(req, reason, (long)((res.retry_ms + 999) / 1000));
		goto done;
	}
	case STORE_SESSION_NO_WORKSPACE:
		respond_error(req, 400, NULL, "workspace_id", "no saved workspace with this id (unknown or expired)");
		goto done;
	case STORE_SESSION_OVER_MEMORY:
	case STORE_SESSION_REDIS_FULL:
		log_warn(req->id, "session refused: Redis is over its high-water mark");
		respond_unavailable_after(req, "the service is holding as much data as it can right now; try again "
					  "once running jobs and sessions have finished", SESSION_FULL_RETRY_SECONDS);
		goto done;
	}
	/* the one line naming the client's address: the id's first characters only (as submit) */
	log_info(req->id, "session %.12s... from %s (%s, %lld MB)", sid, req->remote_addr, c.environment,
		 (long long)c.memory_mb);
	switch ((waited = session_wait(req, key, l->session_create_wait * 1000, NULL, &final, &binary))) {
	case WAIT_FINAL:
		if (json_is_true(json_object_get(final, "ok")))
			session_created(req, sid, &c);
		else
			session_answer_failure(req, final);
		goto done;
	case WAIT_ANSWERED:
		goto done;
	case WAIT_TIMEOUT:
	case WAIT_CLIENT_GONE:
		break;
	}
	/* No sandbox in time (or nobody left to tell): end it unless it became ready meanwhile. */
	if (store_session_abandon(&req->srv->redis, sid, client, time_now_ms(),
				  "no sandbox was free for it in time", &out, status, sizeof status) < 0) {
		session_unavailable(req, "session_abandon");
		goto done;
	}
	if (out == STORE_SESSION_NOT_STARTING && strcmp(status, "ended") != 0) {
		if (waited == WAIT_CLIENT_GONE)
			session_end_unanswered(req, sid, client);
		else
			session_created(req, sid, &c);
		goto done;
	}
	log_warn(sid, "no sandbox within %lld s: ended (no_sandbox)", (long long)l->session_create_wait);
	respond_unavailable_after(req, "no sandbox is free for a new session right now; try again shortly",
				  SESSION_NO_SANDBOX_RETRY_SECONDS);
done:
	json_decref(final);
	if (binary)
		freeReplyObject(binary);
	request_hold_end(req);
	free(entry);
	session_create_req_free(&c);
}
