/*
 * GET /logs/{id}/stream: a job's output as it comes, as Server-Sent Events
 * (text/event-stream: what a browser's EventSource reads; not WebSocket).
 *
 *   event: status   the status object of GET /status/{id}, first
 *   event: stdout   id: the log stream entry id; data: one chunk, line by line
 *   event: stderr   the same, for stderr
 *   event: status   the final status object, once the job has ended
 *   event: end      data {"job_id", "status"} (status null: the job is gone);
 *                   then the server closes
 *
 * The events come from the job's log stream (common/store.h, "LOG ENTRIES").
 * One XREAD ... BLOCK loop replays it from the start, or from after the
 * Last-Event-ID a reconnecting client sends, and then follows it, woken by
 * each XADD of the runner, up to the end marker (s = "x") that finish,
 * cancel and reclaim write. Nothing polls Redis for data: when the
 * stream has been silent for STREAM_KEEPALIVE_MS, a comment line keeps
 * idle-connection timers in proxies and browsers quiet, and the record is
 * looked at again: a job deleted or expired meanwhile ends the stream.
 *
 * The request holds one responder thread while it runs, as a ?wait
 * long-poll does. It is bounded (stream_deadline_ms), it ends as soon as
 * the client is gone (looked at between BLOCKs of STREAM_SLICE_MS, and at
 * each write: respond_stream_write), and on SIGTERM or a
 * Redis failure it ends without "end", so an EventSource reconnects (to
 * any responder) and resumes from its Last-Event-ID.
 *
 * A chunk's text: invalid UTF-8 and NUL become U+FFFD. A UTF-8 sequence
 * cut in two between chunks (the runner reads pipes in pieces) is carried
 * over to the next chunk of the same stream (at most 3 bytes), so joining
 * the events' data gives the job's text. Lines end at "\n", "\r\n" or a
 * lone "\r" (SSE's rule, which a client applies anyway), so a "\r" comes
 * out as a line break (a "\r\n" cut between two chunks as two).
 */
#include "config.h"
#include "jobs.h"
#include "log.h"
#include "routes.h"
#include "store.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_KEEPALIVE_MS  15000  /* a silent stream sends a comment this often (and re-checks the job) */
#define STREAM_SLICE_MS      1000   /* a BLOCK lasts this long at most: then, is the client still there? */
#define STREAM_PAGE          64     /* log entries per XREAD: runner chunks are ~64 KiB at most, so a few MiB */
#define STREAM_SLACK_SECONDS 60     /* on top of the job's longest possible life: ending, retention races */
#define STREAM_GONE          "the client is gone"

static const char stream_headers[] =
	"Cache-Control: no-cache\r\n"
	/* nginx reads this (and drops it): no buffering, even where a config
	 * forgot "fastcgi_buffering off" for /logs/ */
	"X-Accel-Buffering: no\r\n";

struct stream_state {
	struct request *req;
	const char *job_id;
	char last[LOG_ENTRY_ID_MAX];   /* the last log entry read: XREAD goes on after it */
	char carry[2][4];           /* per stream (stdout, stderr): the start of a cut UTF-8 sequence */
	size_t carry_len[2];
};

/*
 * How many bytes at the end of s start a UTF-8 sequence that the bytes
 * after them would complete: 0 to 3. What they are is not checked: carried
 * bytes that turn out invalid become U+FFFD one chunk later.
 */
static size_t utf8_incomplete_tail(const unsigned char *s, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = s[len - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue;       /* a continuation byte: the lead is further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return c < 0xf8 && need > back ? back : 0;
	}
	return 0;
}

/*
 * Appends `text` (valid UTF-8) as data lines: one per line of it, a line
 * ending at "\n", "\r\n" or "\r". A client joins them with "\n", so a
 * trailing newline comes back as one (the last, empty, line).
 */
static void sse_data(struct buf *ev, const char *text, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n' && text[i] != '\r')
			continue;
		buf_append_str(ev, "data: ");
		buf_append(ev, text + start, i - start);
		buf_append_str(ev, "\n");
		if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i++;
		start = i + 1;
	}
}

/* Sends one event: its type, its id (or none), `data` (any bytes) and the blank line ending it. 0 or -1 (client gone). */
static int sse_event(struct stream_state *ss, const char *event, const char *id, const char *data, size_t len)
{
	struct buf ev = { 0 };
	size_t clean_len;
	char *clean = utf8_sanitize(data, len, &clean_len);
	int rc;

	buf_append_str(&ev, "event: ");
	buf_append_str(&ev, event);
	buf_append_str(&ev, "\n");
	if (id) {
		buf_append_str(&ev, "id: ");
		buf_append_str(&ev, id);
		buf_append_str(&ev, "\n");
	}
	sse_data(&ev, clean, clean_len);
	buf_append_str(&ev, "\n");
	rc = respond_stream_write(ss->req, ev.data, ev.len);
	free(clean);
	free(ev.data);
	return rc;
}

/* An event whose data is a JSON value (stolen). 0 or -1. */
static int sse_json_event(struct stream_state *ss, const char *event, json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	int rc = text ? sse_event(ss, event, NULL, text, strlen(text)) : -1;

	free(text);
	json_decref(value);
	return rc;
}

/* A comment line (clients ignore it). 0 or -1. */
static int stream_comment(struct stream_state *ss, const char *text)
{
	char line[128];
	int n = snprintf(line, sizeof line, ": %s\n\n", text);

	return respond_stream_write(ss->req, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0);
}

/* One output chunk (stream 0 stdout, 1 stderr) of log entry `id`. 0 or -1. */
static int stream_chunk(struct stream_state *ss, int k, const char *id, const char *d, size_t dlen)
{
	struct buf text = { 0 };
	size_t tail;
	int rc = 0;

	buf_append(&text, ss->carry[k], ss->carry_len[k]);
	buf_append(&text, d, dlen);
	tail = utf8_incomplete_tail((const unsigned char *)text.data, text.len);
	if (tail)       /* text.data is NULL for an empty entry with nothing carried */
		memcpy(ss->carry[k], text.data + text.len - tail, tail);
	ss->carry_len[k] = tail;
	/* A chunk that is only the start of a character waits for the rest; its
	 * id is not sent, so a client resuming after a cut replays it. */
	if (text.len > tail)
		rc = sse_event(ss, k ? "stderr" : "stdout", id, text.data, text.len - tail);
	free(text.data);
	return rc;
}

/*
 * The end: what is left of a cut sequence (as U+FFFD), the final status
 * object and "end". The record is read once more: it may be gone by now
 * (end says status null). Why the stream stopped, for the log line.
 */
static const char *stream_finish(struct stream_state *ss)
{
	redisReply *h;
	int code;
	json_t *end;

	for (int k = 0; k < 2; k++)
		if (ss->carry_len[k] && sse_event(ss, k ? "stderr" : "stdout", NULL, ss->carry[k], ss->carry_len[k]) < 0)
			return STREAM_GONE;
	code = job_record_get(ss->req, ss->job_id, &h);
	if (code == 503)
		return "Redis failed";  /* no "end": the client comes back */
	end = json_pack("{s:s}", "job_id", ss->job_id);
	if (code == 200) {
		const char *status = job_record_field(h, JOB_F_STATUS);

		json_object_set_new(end, "status", status ? json_string(status) : json_null());
		code = sse_json_event(ss, "status", job_status_object(ss->req, ss->job_id, h));
		freeReplyObject(h);
		if (code < 0) {
			json_decref(end);
			return STREAM_GONE;
		}
	} else {
		json_object_set_new(end, "status", json_null());
		json_object_set_new(end, "reason", json_string("the job is gone (expired or deleted)"));
	}
	return sse_json_event(ss, "end", end) < 0 ? STREAM_GONE : "the job ended";
}

/*
 * How long the stream may last: as long as the job can (the longest wait
 * in the queue, then each attempt's timeout), and a margin. A job that is
 * still not done by then has a problem no stream can wait out; a client
 * that reconnects starts a new bound.
 */
static int64_t stream_deadline_ms(const struct request *req, const redisReply *h)
{
	const struct sandrun_limits *l = request_limits(req);
	const char *text = job_record_field(h, JOB_F_TIMEOUT);
	int64_t timeout;

	/* From Redis: a record without it (or with nonsense) gets the longest. */
	if (!text || parse_int64(text, 1, l->timeout_max, &timeout) < 0)
		timeout = l->timeout_max;
	return (l->queued_max_seconds + JOB_ATTEMPTS_MAX * (int64_t)timeout + STREAM_SLACK_SECONDS) * 1000;
}

/*
 * Sends the events of one XREAD reply with entries. Returns 1 after the
 * end marker, 0 to go on, -1 when the client is gone, -2 for a reply not
 * shaped as XREAD's (it would be read again and again: the stream stops).
 */
static int stream_entries(struct stream_state *ss, const redisReply *r)
{
	const redisReply *entries = log_xread_entries(r);

	if (!entries || entries->elements == 0)
		return -2;
	for (size_t i = 0; i < entries->elements; i++) {
		struct log_entry e;

		if (log_entry_read(entries->element[i], &e) < 0)
			return -2;
		snprintf(ss->last, sizeof ss->last, "%s", e.id);
		if (e.kind == LOG_END)
			return 1;
		if ((e.kind == LOG_STDOUT || e.kind == LOG_STDERR) &&
		    stream_chunk(ss, e.kind == LOG_STDERR, ss->last, e.data, e.len) < 0)
			return -1;
	}
	return 0;
}

/* Follows the log stream up to its end marker. Why it stopped, for the log line. */
static const char *stream_follow(struct stream_state *ss, const char *log_key, int64_t deadline, bool final)
{
	struct rconn *redis = &ss->req->srv->redis;
	char count[16], block[24];
	int64_t kept_alive = time_mono_ms();

	snprintf(count, sizeof count, "%d", STREAM_PAGE);
	for (;;) {
		int64_t now = time_mono_ms(), left = deadline - now;
		redisReply *r, *h;
		int got, code;

		if (left <= 0) {
			stream_comment(ss, "this stream's time is up; reconnect to go on");
			return "time limit";
		}
		if (responder_stopping())
			return "responder stopping";
		if (request_client_gone(ss->req))
			return STREAM_GONE;
		if (final) {
			/* The job has ended: what is left of the stream, without waiting. */
			const char *argv[] = { "XREAD", "COUNT", count, "STREAMS", log_key, ss->last };
			r = rconn_argv(redis, 0, 6, argv, NULL);
		} else {
			const char *argv[] = { "XREAD", "COUNT", count, "BLOCK", block, "STREAMS", log_key, ss->last };
			int wait = (int)(left < STREAM_SLICE_MS ? left : STREAM_SLICE_MS);

			snprintf(block, sizeof block, "%d", wait);
			r = rconn_argv(redis, wait, 8, argv, NULL);
		}
		if (!r || r->type == REDIS_REPLY_ERROR) {
			log_error(ss->req->id, "stream: %s", r ? r->str : redis->error);
			if (r)
				freeReplyObject(r);
			return "Redis failed";
		}
		got = r->type != REDIS_REPLY_NIL && !(r->type == REDIS_REPLY_ARRAY && r->elements == 0);
		code = got ? stream_entries(ss, r) : 0;
		freeReplyObject(r);
		if (code == -2) {
			log_error(ss->req->id, "stream: XREAD answered something else than entries");
			return "Redis failed";
		}
		if (code < 0)
			return STREAM_GONE;
		if (code > 0 || (!got && final))
			return stream_finish(ss);
		if (got)
			continue;
		/* A BLOCK timed out: the job is silent. Now and then keep the line
		 * warm and look whether the job is still there. */
		if (time_mono_ms() - kept_alive < STREAM_KEEPALIVE_MS)
			continue;
		kept_alive = time_mono_ms();
		if (stream_comment(ss, "keep-alive") < 0)
			return STREAM_GONE;
		code = job_record_get(ss->req, ss->job_id, &h);
		if (code == 404)
			return stream_finish(ss);
		if (code != 200)
			return "Redis failed";
		/* Ended without a marker read yet: the next look drains what is left, then ends. */
		final = job_status_final(h);
		freeReplyObject(h);
	}
}

void logs_stream(struct request *req, const char *id)
{
	const char *resume = request_param(req, "HTTP_LAST_EVENT_ID");
	struct stream_state ss = { .req = req, .job_id = id, .last = "0-0" };
	struct job_keys k;
	redisReply *h;
	int64_t deadline;
	bool final;
	const char *why;

	if (resume && *resume) {
		if (strlen(resume) >= LOG_ENTRY_ID_MAX || !log_entry_id_valid(resume)) {
			respond_error(req, 400, NULL, "Last-Event-ID",
				      "Last-Event-ID must be an event id this stream sent (\"ms-seq\")");
			return;
		}
		snprintf(ss.last, sizeof ss.last, "%s", resume);
	}
	switch (job_record_get(req, id, &h)) {
	case 200:
		break;
	case 404:
		respond_error(req, 404, "Job not found", NULL, "no job with this id (unknown, expired or deleted)");
		return;
	default:
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	deadline = time_mono_ms() + stream_deadline_ms(req, h);
	final = job_status_final(h);
	if (respond_stream_start(req, 200, "text/event-stream", stream_headers) < 0 ||
	    strcmp(req->method, "HEAD") == 0 ||
	    sse_json_event(&ss, "status", job_status_object(req, id, h)) < 0) {
		freeReplyObject(h);
		return;
	}
	freeReplyObject(h);
	job_keys_make(id, &k);
	why = stream_follow(&ss, k.log, deadline, final);
	if (strcmp(why, "the job ended") == 0)
		log_debug(req->id, "live log stream ended: %s", why);
	else
		log_info(req->id, "live log stream ended: %s", why);
}
