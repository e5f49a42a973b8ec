/*
 * /sessions/{id}/pty: a terminal into a session (docs/api.md "WebSocket";
 * the Redis contract with the runner: docs/sessions.md "Terminal").
 *
 *   open     session_request.lua, op "pty", {"rid","op","cols","rows"} as
 *            fcgi/sessions.c sends an exec (refused while paused: 409; the
 *            client's CPU window as for exec: 429); then the supervisor's
 *            reply on sr:{SID}:rep:RID, BLPOP in 1 s slices for at most
 *            PTY_OPEN_WAIT_MS (then 1013, the session is busy):
 *            {"final":true,"ok":true,"started":bool,"since":ID}. The client
 *            gets {"type":"ready","session_id","started"}.
 *   output   XREAD of sr:{SID}:pty after `since` (BLOCK slices): t=o bytes
 *            as binary messages; t=x {"type":"exit","code"} and t=e
 *            {"type":"ended","reason"}, each then close 1000. A re-attach
 *            (started false) replays what the stream kept. A record gone
 *            or ended, seen between slices, ends it the same way.
 *   input    the client's messages (ws/parse.c) become entries of
 *            sr:{SID}:pty:in ("d" + keystrokes, "r" + "COLS ROWS"), pushed
 *            by redis/session_pty_input.lua from a second thread with its
 *            own Redis connection, so output never waits on input.
 *
 * Failures are {"type":"error","status","error","reason","retry_after"?}
 * then a close: 1008 for 400/404/410, 1013 for 409/429/503, 1011 else.
 */
#include "pty.h"

#include "log.h"
#include "store_sessions.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PTY_OPEN_WAIT_MS   15000  /* the supervisor's answer to "pty": then the session is busy */
#define PTY_SLICE_MS       1000   /* one XREAD BLOCK, one BLPOP */
#define PTY_PAGE           "64"
#define PTY_INPUT_ENTRIES  "256"  /* the input list's bound (session_pty_input.lua) */
#define PTY_FULL_RETRY_MS  50     /* the list is full (the terminal is slow to read): again after this */
#define PTY_FULL_GIVE_UP_MS 10000 /* ... for at most this long, then the terminal is stuck: 1013 */
#define PTY_THREAD_STACK   (256 * 1024)

struct pty_state {
	struct ws_conn *c;
	struct rconn *redis;
	const char *sid;
	char ses_key[STORE_KEY_MAX], out_key[STORE_KEY_MAX], in_key[STORE_KEY_MAX];
	char last[LOG_ENTRY_ID_MAX];
};

/* The error message and its close. */
static void pty_fail(struct ws_conn *c, int status, const char *error, const char *reason, long retry_after)
{
	json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "status", status, "error", error, "reason",
			      reason);
	int code = status == 400 || status == 404 || status == 410 ? LWS_CLOSE_STATUS_POLICY_VIOLATION
		 : status == 409 || status == 429 || status == 503 ? WS_CLOSE_TRY_AGAIN_LATER
		 : LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;

	if (retry_after > 0)
		json_object_set_new(o, "retry_after", json_integer(retry_after));
	ws_conn_send_json(c, o);
	ws_conn_close(c, code, error);
}

static void pty_unavailable(struct pty_state *s, const char *what)
{
	log_error(s->c->id, "pty %s: %s: %s", s->sid, what, s->redis->error);
	pty_fail(s->c, 503, "Service unavailable", "the session store is unreachable; try again later", 5);
}

static void pty_ended(struct ws_conn *c, const char *reason)
{
	ws_conn_send_json(c, json_pack("{s:s, s:s}", "type", "ended", "reason", reason));
	ws_conn_close(c, LWS_CLOSE_STATUS_NORMAL, "the session ended");
}

/* HMGET status, reason, client of the record: 200 (*out), 404, or 503. */
static int pty_record(struct pty_state *s, redisReply **out)
{
	redisReply *r = rconn_command(s->redis, "HMGET %s %s %s %s", s->ses_key, SES_F_STATUS, SES_F_REASON,
				      SES_F_CLIENT);

	*out = NULL;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
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

static const char *element_str(const redisReply *h, size_t i, const char *dflt)
{
	return h->element[i]->type == REDIS_REPLY_STRING ? h->element[i]->str : dflt;
}

/* session_request.lua's refusals, as error messages. */
static void pty_refused(struct pty_state *s, const struct store_session_request_result *res)
{
	const struct sandrun_limits *l = &s->c->cfg->limits;
	char reason[200];

	switch (res->verdict) {
	case STORE_SESSION_GONE:
		pty_fail(s->c, 404, "Session not found", "no session with this id (unknown, expired or ended)", 0);
		break;
	case STORE_SESSION_ENDED:
		snprintf(reason, sizeof reason, "the session has ended (%s)", res->reason);
		pty_fail(s->c, 410, "Session ended", reason, 0);
		break;
	case STORE_SESSION_STARTING:
		pty_fail(s->c, 409, "Conflict", "the session is still starting; try again in a moment", 1);
		break;
	case STORE_SESSION_PAUSED:
		pty_fail(s->c, 409, "Conflict", "session is paused: POST /sessions/{id}/resume first", 0);
		break;
	case STORE_SESSION_OVER_CPU:
		snprintf(reason, sizeof reason, "CPU quota exhausted (%.1f/%.1f seconds used); the session stays alive",
			 res->used, l->quota_cpu_seconds);
		pty_fail(s->c, 429, "Too many requests", reason, (long)((res->figure + 999) / 1000));
		break;
	default:
		pty_fail(s->c, 503, "Service unavailable", "the service is holding as much data as it can right now; "
			 "try again shortly", 60);
		break;
	}
}

/* The supervisor's failure frame, as an error message. */
static void pty_failure_frame(struct pty_state *s, const json_t *final)
{
	const json_t *st = json_object_get(final, "status"), *retry = json_object_get(final, "retry_after");
	const char *error = json_string_value(json_object_get(final, "error"));
	const char *reason = json_string_value(json_object_get(final, "reason"));
	json_int_t status = json_is_integer(st) ? json_integer_value(st) : 500;

	if (status < 400 || status > 599)
		status = 500;
	pty_fail(s->c, (int)status, error ? error : "Request failed",
		 reason ? reason : "the session's sandbox refused the terminal",
		 json_is_integer(retry) ? (long)json_integer_value(retry) : 0);
}

/* Sends "pty" and waits for the final frame. The frame (json_decref), or NULL after failing the connection. */
static json_t *pty_open(struct pty_state *s, const redisReply *rec)
{
	const struct sandrun_limits *l = &s->c->cfg->limits;
	struct store_session_request_result res;
	struct store_session_request p;
	char rid[17], key[STORE_KEY_MAX], *text;
	unsigned char b[8];
	json_t *req, *final = NULL;
	int rc;

	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
		pty_fail(s->c, 500, "Internal error", "cannot make a request id", 0);
		return NULL;
	}
	for (int i = 0; i < 8; i++)
		snprintf(rid + 2 * i, 3, "%02x", b[i]);
	req = json_pack("{s:s, s:s, s:i, s:i}", "rid", rid, "op", "pty", "cols", s->c->route.cols, "rows",
			s->c->route.rows);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text || store_key_session_reply(key, sizeof key, s->sid, rid) < 0) {
		free(text);
		pty_fail(s->c, 500, "Internal error", "cannot encode the request", 0);
		return NULL;
	}
	p = (struct store_session_request){
		.sid = s->sid, .client = element_str(rec, 2, ""), .rid = rid, .op = "pty", .request = text,
		.now_ms = time_now_ms(), .cpu_limit = l->quota_cpu_seconds,
		.window_ms = l->quota_window_seconds * 1000, .storage_quota = l->quota_storage_bytes,
		.high_water_percent = l->redis_memory_high_water_percent,
	};
	rc = store_session_request(s->redis, &p, &res);
	free(text);
	if (rc < 0) {
		pty_unavailable(s, "session_request");
		return NULL;
	}
	if (res.verdict != STORE_SESSION_SENT) {
		pty_refused(s, &res);
		return NULL;
	}
	for (int64_t until = time_mono_ms() + PTY_OPEN_WAIT_MS; !final && time_mono_ms() < until;) {
		redisReply *r;
		json_t *frame;

		if (ws_conn_gone(s->c))
			break;
		r = rconn_command(s->redis, "BLPOP %s 1", key);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			if (r)
				freeReplyObject(r);
			pty_unavailable(s, "BLPOP");
			return NULL;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
			frame = json_loadb(r->element[1]->str, r->element[1]->len, 0, NULL);
			if (json_is_true(json_object_get(frame, "final")))
				final = frame;
			else
				json_decref(frame);   /* a frame before the final one: nothing a terminal needs */
		}
		freeReplyObject(r);
	}
	if (!final) {
		redisReply *r = rconn_command(s->redis, "DEL %s", key);

		if (r)
			freeReplyObject(r);
		if (!ws_conn_gone(s->c))
			pty_fail(s->c, 503, "Service unavailable", "the session is busy: its sandbox did not open the "
				 "terminal in time; try again", 5);
		return NULL;
	}
	if (!json_is_true(json_object_get(final, "ok"))) {
		pty_failure_frame(s, final);
		json_decref(final);
		return NULL;
	}
	return final;
}

/* ---- input: the client's messages into sr:{SID}:pty:in */

struct pty_input {
	struct pty_state *s;
	struct rconn redis;
	pthread_t thread;
};

/* One entry through session_pty_input.lua. 0, or -1 after failing the connection (or it is gone). */
static int pty_input_entry(struct pty_input *in, const char *entry, size_t len)
{
	struct pty_state *s = in->s;
	int64_t give_up = time_mono_ms() + PTY_FULL_GIVE_UP_MS;

	for (;;) {
		char now[24];
		const char *argv[] = { s->ses_key, s->in_key, now, entry, PTY_INPUT_ENTRIES };
		size_t lens[] = { strlen(s->ses_key), strlen(s->in_key), 0, len, strlen(PTY_INPUT_ENTRIES) };
		redisReply *r;
		const char *verdict;

		snprintf(now, sizeof now, "%lld", (long long)time_now_ms());
		lens[2] = strlen(now);
		r = rconn_script(&in->redis, redis_script_session_pty_input, 2, 5, argv, lens);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING) {
			log_error(s->c->id, "pty %s: session_pty_input: %s", s->sid,
				  r && r->type == REDIS_REPLY_ERROR ? r->str : in->redis.error);
			if (r)
				freeReplyObject(r);
			pty_fail(s->c, 503, "Service unavailable", "the session store is unreachable; try again later", 5);
			return -1;
		}
		verdict = r->element[0]->str;
		if (strcmp(verdict, "ok") == 0) {
			freeReplyObject(r);
			return 0;
		}
		if (strcmp(verdict, "full") == 0 && time_mono_ms() < give_up && !ws_conn_gone(s->c)) {
			struct timespec ts = { 0, PTY_FULL_RETRY_MS * 1000000L };

			freeReplyObject(r);
			nanosleep(&ts, NULL);
			continue;
		}
		if (strcmp(verdict, "paused") == 0) {
			/* The terminal stays (a resize or a key while paused is no
			 * reason to lose it): this entry is dropped and said so. */
			freeReplyObject(r);
			ws_conn_send_json(s->c, json_pack("{s:s, s:s}", "type", "paused", "reason",
							  "the session is paused: input is not sent until "
							  "POST /sessions/{id}/resume"));
			return 0;
		}
		if (strcmp(verdict, "full") == 0)
			pty_fail(s->c, 503, "Service unavailable", "the terminal is not reading its input", 5);
		else if (strcmp(verdict, "starting") == 0)
			pty_fail(s->c, 409, "Conflict", "the session is still starting", 1);
		/* gone, ended: the output side sees it too and says so */
		freeReplyObject(r);
		return -1;
	}
}

/* One client message. 0, or -1 to stop. */
static int pty_input_message(struct pty_input *in, const struct ws_msg *msg)
{
	struct ws_pty_message m;
	char err[160], entry[WS_PTY_ENTRY_MAX];
	int rc = 0, n;

	if (ws_pty_message_parse(msg->kind == WS_MSG_BINARY, (const char *)msg->buf + LWS_PRE, msg->len, &m, err,
				 sizeof err) < 0) {
		pty_fail(in->s->c, 400, "Bad request", err, 0);
		return -1;
	}
	if (m.kind == WS_PTY_RESIZE) {
		n = ws_pty_entry_resize(m.cols, m.rows, entry, sizeof entry);
		rc = n > 0 ? pty_input_entry(in, entry, (size_t)n) : 0;
	} else {
		size_t off = 0, take;

		while (rc == 0 && (take = ws_pty_entry_input(m.data, m.len, off, entry)) > 0) {
			rc = pty_input_entry(in, entry, take + 1);
			off += take;
		}
	}
	ws_pty_message_free(&m);
	return rc;
}

static void *pty_input_run(void *arg)
{
	struct pty_input *in = arg;
	struct ws_conn *c = in->s->c;

	for (;;) {
		struct ws_msg *m = ws_conn_input_pop(c);
		bool stop;

		if (m) {
			stop = pty_input_message(in, m) < 0;
			free(m);
			if (stop)
				break;
			continue;
		}
		pthread_mutex_lock(&c->lock);
		stop = c->gone || c->closing || c->worker_done;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
	}
	return NULL;
}

/* ---- output: sr:{SID}:pty into the socket */

/* The entries of one XREAD reply. 1 after x/e (closed), 0 go on, -1 client gone, -2 not XREAD's shape. */
static int pty_entries(struct pty_state *s, const redisReply *r)
{
	const redisReply *entries = log_xread_entries(r);

	if (!entries || entries->elements == 0)
		return -2;
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i], *f;
		const char *t = NULL, *d = NULL;
		size_t dlen = 0;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
		    !log_entry_id_valid(e->element[0]->str) || e->element[0]->len >= sizeof s->last)
			return -2;
		snprintf(s->last, sizeof s->last, "%s", e->element[0]->str);
		f = e->element[1];
		for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2) {
			if (f->element[j]->type != REDIS_REPLY_STRING || f->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(f->element[j]->str, "t") == 0)
				t = f->element[j + 1]->str;
			else if (strcmp(f->element[j]->str, "d") == 0) {
				d = f->element[j + 1]->str;
				dlen = f->element[j + 1]->len;
			}
		}
		if (!t)
			continue;   /* not one of ours: skipped, as log readers skip LOG_OTHER */
		if (strcmp(t, "o") == 0 && d && dlen) {
			if (ws_conn_send(s->c, WS_MSG_BINARY, d, dlen) < 0)
				return -1;
		} else if (strcmp(t, "x") == 0) {
			int64_t code = -1, sig;
			json_t *o = json_pack("{s:s}", "type", "exit");

			if (d && strncmp(d, "signal ", 7) == 0 && parse_int64(d + 7, 1, 127, &sig) == 0) {
				json_object_set_new(o, "code", json_integer(128 + sig));
				json_object_set_new(o, "signal", json_integer(sig));
			} else {
				if (!d || parse_int64(d, 0, 255, &code) < 0)
					code = -1;
				json_object_set_new(o, "code", code >= 0 ? json_integer(code) : json_null());
			}
			ws_conn_send_json(s->c, o);
			ws_conn_close(s->c, LWS_CLOSE_STATUS_NORMAL, "the shell exited");
			return 1;
		} else if (strcmp(t, "e") == 0) {
			pty_ended(s->c, d && *d ? d : "ended");
			return 1;
		}
	}
	return 0;
}

static const char *pty_follow(struct pty_state *s)
{
	for (;;) {
		const char *argv[] = { "XREAD", "COUNT", PTY_PAGE, "BLOCK", "1000", "STREAMS", s->out_key, s->last };
		redisReply *r, *h;
		int got, code;

		if (ws_conn_gone(s->c))
			return "the client is gone";
		r = rconn_argv(s->redis, PTY_SLICE_MS, 8, argv, NULL);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			pty_unavailable(s, "XREAD");
			if (r)
				freeReplyObject(r);
			return "Redis failed";
		}
		got = r->type != REDIS_REPLY_NIL && !(r->type == REDIS_REPLY_ARRAY && r->elements == 0);
		code = got ? pty_entries(s, r) : 0;
		freeReplyObject(r);
		if (code == -2) {
			log_error(s->c->id, "pty %s: XREAD answered something else than entries", s->sid);
			pty_fail(s->c, 500, "Internal error", "the terminal's output is unreadable", 0);
			return "bad stream";
		}
		if (code < 0)
			return "the client is gone";
		if (code > 0)
			return "the terminal ended";
		if (got)
			continue;
		/* a silent slice: is the session still there? */
		switch (pty_record(s, &h)) {
		case 404:
			pty_ended(s->c, "gone");
			return "the session is gone";
		case 503:
			pty_unavailable(s, "HMGET");
			return "Redis failed";
		default:
			break;
		}
		if (strcmp(h->element[0]->str, "ended") == 0) {
			pty_ended(s->c, element_str(h, 1, "ended"));
			freeReplyObject(h);
			return "the session ended";
		}
		freeReplyObject(h);
	}
}

void ws_pty_run(struct ws_conn *c, struct rconn *redis)
{
	struct pty_state s = { .c = c, .redis = redis, .sid = c->route.id };
	struct pty_input in = { .s = &s };
	redisReply *rec;
	json_t *final;
	const char *since, *why;
	pthread_attr_t attr;
	int err;

	if (!c->route.id_valid) {
		pty_fail(c, 404, "Session not found", "no session with this id (unknown, expired or ended)", 0);
		return;
	}
	/* sr:{SID}:pty and sr:{SID}:pty:in, beside the record (docs/sessions.md's key table) */
	snprintf(s.ses_key, sizeof s.ses_key, "sr:{%s}:ses", s.sid);
	snprintf(s.out_key, sizeof s.out_key, "sr:{%s}:pty", s.sid);
	snprintf(s.in_key, sizeof s.in_key, "sr:{%s}:pty:in", s.sid);
	switch (pty_record(&s, &rec)) {
	case 404:
		pty_fail(c, 404, "Session not found", "no session with this id (unknown, expired or ended)", 0);
		return;
	case 503:
		pty_unavailable(&s, "HMGET");
		return;
	default:
		break;
	}
	final = pty_open(&s, rec);
	freeReplyObject(rec);
	if (!final)
		return;
	since = json_string_value(json_object_get(final, "since"));
	if (!since || strlen(since) >= sizeof s.last || !log_entry_id_valid(since)) {
		log_error(c->id, "pty %s: the supervisor's reply has no valid since", s.sid);
		pty_fail(c, 500, "Internal error", "the session's sandbox answered the terminal badly", 0);
		json_decref(final);
		return;
	}
	snprintf(s.last, sizeof s.last, "%s", since);
	if (ws_conn_send_json(c, json_pack("{s:s, s:s, s:b}", "type", "ready", "session_id", s.sid, "started",
					   json_is_true(json_object_get(final, "started")))) < 0) {
		json_decref(final);
		return;
	}
	json_decref(final);
	rconn_init(&in.redis, c->cfg->redis_address, c->cfg->redis_ws_user, c->cfg->redis_ws_password,
		   c->cfg->redis_timeout_ms);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PTY_THREAD_STACK);
	err = pthread_create(&in.thread, &attr, pty_input_run, &in);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		log_error(c->id, "pty %s: cannot start the input thread: %s", s.sid, strerror(err));
		pty_fail(c, 500, "Internal error", "cannot serve this terminal now", 0);
		rconn_close(&in.redis);
		return;
	}
	why = pty_follow(&s);
	pthread_mutex_lock(&c->lock);
	c->worker_done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(in.thread, NULL);
	rconn_close(&in.redis);
	log_debug(c->id, "pty %s: %s", s.sid, why);
}
