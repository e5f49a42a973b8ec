/*
 * /logs/{id}/stream over WebSocket: a job's output as it comes, replayed
 * from the start and followed to the end, as fcgi/stream.c's SSE stream
 * does and from the same log stream (common/store.h, "LOG ENTRIES"):
 *
 *   default        one text message per output chunk (stdout and stderr in
 *                  log order): the bytes of the SSE event's data (UTF-8
 *                  sanitized, a sequence cut between chunks carried to the
 *                  next chunk of its stream, line ends as SSE gives them)
 *   ?format=json   {"event":"status","status"} first, then per chunk
 *                  {"stream":"stdout"|"stderr","data","id"} (data as the job
 *                  wrote it, sanitized), last {"event":"end","status","exit_code"}
 *
 * then a close 1000 whose reason is the final status. An unknown (or
 * expired, or malformed) id: {"error":"Job not found","reason"} and 1008.
 * Redis failing: 1013, come back. Runs in the connection's worker thread
 * with its own blocking Redis connection: XREAD BLOCK slices of at most
 * LOGS_SLICE_MS, so a client that left is noticed within one, and a queue
 * to the socket that a slow reader fills makes this wait (ws/conn.h).
 */
#include "logs.h"

#include "log.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGS_SLICE_MS     1000   /* one XREAD BLOCK at most: then, is the client still there? */
#define LOGS_RECHECK_MS   15000  /* a silent stream looks at the record this often (deleted, expired) */
#define LOGS_PAGE         "64"   /* log entries per XREAD, as fcgi/stream.c */
#define LOGS_SLACK_S      60     /* on top of the job's longest possible life, as fcgi/stream.c */

struct logs_state {
	struct ws_conn *c;
	struct rconn *redis;
	struct job_keys k;
	char last[LOG_ENTRY_ID_MAX];
	char carry[2][4];
	size_t carry_len[2];
};

/* As fcgi/stream.c: how many bytes at the end start a UTF-8 sequence the next chunk completes. */
static size_t utf8_incomplete_tail(const unsigned char *s, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char ch = s[len - back];
		size_t need;

		if ((ch & 0xc0) == 0x80)
			continue;
		need = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;
		return ch < 0xf8 && need > back ? back : 0;
	}
	return 0;
}

/* One chunk's text (any bytes) as a message. 0 or -1 (client gone). */
static int logs_send_text(struct logs_state *s, int k, const char *id, const char *data, size_t len)
{
	size_t clean_len;
	char *clean = utf8_sanitize(data, len, &clean_len);
	int rc;

	if (s->c->route.json) {
		json_t *o = json_object();

		json_object_set_new(o, "stream", json_string(k ? "stderr" : "stdout"));
		json_object_set_new(o, "data", json_stringn(clean, clean_len));
		if (id)
			json_object_set_new(o, "id", json_string(id));
		rc = ws_conn_send_json(s->c, o);
	} else {
		clean_len = ws_text_sse_lines(clean, clean_len);
		rc = ws_conn_send(s->c, WS_MSG_TEXT, clean, clean_len);
	}
	free(clean);
	return rc;
}

/* One output chunk of stream k; a cut sequence's start waits for the next. 0 or -1. */
static int logs_chunk(struct logs_state *s, int k, const char *id, const char *d, size_t dlen)
{
	struct buf text = { 0 };
	size_t tail;
	int rc = 0;

	buf_append(&text, s->carry[k], s->carry_len[k]);
	buf_append(&text, d, dlen);
	tail = utf8_incomplete_tail((const unsigned char *)text.data, text.len);
	if (tail)
		memcpy(s->carry[k], text.data + text.len - tail, tail);
	s->carry_len[k] = tail;
	if (text.len > tail)
		rc = logs_send_text(s, k, id, text.data, text.len - tail);
	free(text.data);
	return rc;
}

/* HMGET status, timeout, exit_code: 200 (*out set), 404, or 503. */
static int logs_record(struct logs_state *s, redisReply **out)
{
	redisReply *r = rconn_command(s->redis, "HMGET %s %s %s %s", s->k.job, JOB_F_STATUS, JOB_F_TIMEOUT,
				      JOB_F_EXIT_CODE);

	*out = NULL;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		log_error(s->c->id, "logs: %s", r && r->str ? r->str : s->redis->error);
		if (r)
			freeReplyObject(r);
		return 503;
	}
	if (r->element[0]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return 404;
	}
	*out = r;
	return 200;
}

static void logs_not_found(struct logs_state *s)
{
	ws_conn_send_json(s->c, json_pack("{s:s, s:s}", "error", "Job not found", "reason",
					  "no job with this id (unknown, expired or deleted)"));
	ws_conn_close(s->c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "job not found");
}

static void logs_unavailable(struct logs_state *s)
{
	ws_conn_send_json(s->c, json_pack("{s:s, s:s}", "error", "Service unavailable", "reason",
					  "the job store is unreachable; try again later"));
	ws_conn_close(s->c, WS_CLOSE_TRY_AGAIN_LATER, "the job store is unreachable");
}

/* The end: what is left of cut sequences, the final status, the close. Why, for the log line. */
static const char *logs_finish(struct logs_state *s)
{
	redisReply *h;
	const char *status = NULL;
	int code;

	for (int k = 0; k < 2; k++)
		if (s->carry_len[k] && logs_send_text(s, k, NULL, s->carry[k], s->carry_len[k]) < 0)
			return "the client is gone";
	code = logs_record(s, &h);
	if (code == 503) {
		logs_unavailable(s);
		return "Redis failed";
	}
	if (code == 200)
		status = h->element[0]->str;
	if (s->c->route.json) {
		json_t *end = json_pack("{s:s}", "event", "end");
		int64_t exit_code;

		json_object_set_new(end, "status", status ? json_string(status) : json_null());
		if (code == 200 && h->element[2]->type == REDIS_REPLY_STRING &&
		    parse_int64(h->element[2]->str, -1000, 1000, &exit_code) == 0)
			json_object_set_new(end, "exit_code", json_integer(exit_code));
		else
			json_object_set_new(end, "exit_code", json_null());
		if (!status)
			json_object_set_new(end, "reason", json_string("the job is gone (expired or deleted)"));
		ws_conn_send_json(s->c, end);
	}
	ws_conn_close(s->c, LWS_CLOSE_STATUS_NORMAL, status ? status : "gone");
	if (h)
		freeReplyObject(h);
	return "the job ended";
}

/* The chunks of one XREAD reply. 1 after the end marker, 0 go on, -1 client gone, -2 not XREAD's shape. */
static int logs_entries(struct logs_state *s, const redisReply *r)
{
	const redisReply *entries = log_xread_entries(r);

	if (!entries || entries->elements == 0)
		return -2;
	for (size_t i = 0; i < entries->elements; i++) {
		struct log_entry e;

		if (log_entry_read(entries->element[i], &e) < 0)
			return -2;
		snprintf(s->last, sizeof s->last, "%s", e.id);
		if (e.kind == LOG_END)
			return 1;
		if ((e.kind == LOG_STDOUT || e.kind == LOG_STDERR) &&
		    logs_chunk(s, e.kind == LOG_STDERR, s->last, e.data, e.len) < 0)
			return -1;
	}
	return 0;
}

/* As fcgi/stream.c: the longest the job can live, and a margin. */
static int64_t logs_deadline_ms(const struct sandrun_limits *l, const redisReply *h)
{
	int64_t timeout;

	if (h->element[1]->type != REDIS_REPLY_STRING || parse_int64(h->element[1]->str, 1, l->timeout_max, &timeout) < 0)
		timeout = l->timeout_max;
	return (l->queued_max_seconds + JOB_ATTEMPTS_MAX * timeout + LOGS_SLACK_S) * 1000;
}

static const char *logs_follow(struct logs_state *s, int64_t deadline, bool final)
{
	int64_t checked = time_mono_ms();

	for (;;) {
		int64_t left = deadline - time_mono_ms();
		char block[24];
		redisReply *r, *h;
		int got, code;

		if (left <= 0) {
			ws_conn_close(s->c, LWS_CLOSE_STATUS_GOINGAWAY, "this stream's time is up; reconnect");
			return "time limit";
		}
		if (ws_conn_gone(s->c))
			return "the client is gone";
		if (final) {
			const char *argv[] = { "XREAD", "COUNT", LOGS_PAGE, "STREAMS", s->k.log, s->last };

			r = rconn_argv(s->redis, 0, 6, argv, NULL);
		} else {
			const char *argv[] = { "XREAD", "COUNT", LOGS_PAGE, "BLOCK", block, "STREAMS", s->k.log, s->last };
			int wait = (int)(left < LOGS_SLICE_MS ? left : LOGS_SLICE_MS);

			snprintf(block, sizeof block, "%d", wait);
			r = rconn_argv(s->redis, wait, 8, argv, NULL);
		}
		if (!r || r->type == REDIS_REPLY_ERROR) {
			log_error(s->c->id, "logs: %s", r ? r->str : s->redis->error);
			if (r)
				freeReplyObject(r);
			logs_unavailable(s);
			return "Redis failed";
		}
		got = r->type != REDIS_REPLY_NIL && !(r->type == REDIS_REPLY_ARRAY && r->elements == 0);
		code = got ? logs_entries(s, r) : 0;
		freeReplyObject(r);
		if (code == -2) {
			log_error(s->c->id, "logs: XREAD answered something else than entries");
			logs_unavailable(s);
			return "Redis failed";
		}
		if (code < 0)
			return "the client is gone";
		if (code > 0 || (!got && final))
			return logs_finish(s);
		if (got || time_mono_ms() - checked < LOGS_RECHECK_MS)
			continue;
		checked = time_mono_ms();
		code = logs_record(s, &h);
		if (code == 404)
			return logs_finish(s);
		if (code != 200) {
			logs_unavailable(s);
			return "Redis failed";
		}
		final = job_status_ended(job_status_from_reply(h->element[0]));
		freeReplyObject(h);
	}
}

void ws_logs_run(struct ws_conn *c, struct rconn *redis)
{
	struct logs_state s = { .c = c, .redis = redis, .last = "0-0" };
	redisReply *h;
	int64_t deadline;
	bool final;
	const char *why;

	if (!c->route.id_valid || job_keys_make(c->route.id, &s.k) < 0) {
		logs_not_found(&s);
		return;
	}
	switch (logs_record(&s, &h)) {
	case 200:
		break;
	case 404:
		logs_not_found(&s);
		return;
	default:
		logs_unavailable(&s);
		return;
	}
	deadline = time_mono_ms() + logs_deadline_ms(&c->cfg->limits, h);
	final = job_status_ended(job_status_from_reply(h->element[0]));
	if (c->route.json &&
	    ws_conn_send_json(c, json_pack("{s:s, s:s}", "event", "status", "status", h->element[0]->str)) < 0) {
		freeReplyObject(h);
		return;
	}
	freeReplyObject(h);
	why = logs_follow(&s, deadline, final);
	log_debug(c->id, "websocket log stream ended: %s", why);
}
