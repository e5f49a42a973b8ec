/*
 * The runner's session calls into the job store (docs/sessions.md): one
 * function per runner-side session script in redis/ (session_claim,
 * session_ready, session_charge, session_end, session_snapshot,
 * session_reply). The
 * responder's session scripts have their own file (common/store_sessions.c).
 * Results as common/store.h's: 0 with the answer in the out parameter, or
 * STORE_UNREACHABLE / STORE_BAD_REPLY with r->error set. Replies are
 * checked for shape: what Redis answers is untrusted input to root.
 */
#ifndef SANDRUN_STORE_SESSIONS_RUNNER_H
#define SANDRUN_STORE_SESSIONS_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

extern const char redis_script_session_claim[];
extern const char redis_script_session_ready[];
extern const char redis_script_session_charge[];
extern const char redis_script_session_end[];
extern const char redis_script_session_snapshot[];
extern const char redis_script_session_reply[];

/* session_claim.lua: *claimed true when the record was `starting` and is now this runner's. */
int store_session_claim(struct rconn *r, const char *sid, const char *runner, int64_t now_ms, bool *claimed);

/* session_ready.lua: *ready false when the record is no longer `starting` on this runner;
 * *expires_at the session's end (ms). */
int store_session_ready(struct rconn *r, const char *sid, const char *client, const char *runner, int64_t now_ms,
			int64_t ttl_s, int64_t quota_idle_ms, bool *ready, int64_t *expires_at);

struct store_session_charge {
	const char *sid, *client, *runner;
	int64_t now_ms;
	double cpu_delta;            /* seconds to charge now (<= 0: none) */
	int64_t n;                   /* this charge's number (unique per session) */
	int64_t quota_idle_ms;
	double cpu_total;
	int64_t memory_bytes, memory_peak_bytes;
	const char *set_status;      /* "", "ready" or "paused" */
};

struct store_session_state {
	char status[16];             /* starting|ready|paused|ended|gone|lost */
	int64_t last_used_at, expires_at, idle_timeout_seconds;
};

int store_session_charge(struct rconn *r, const struct store_session_charge *p, struct store_session_state *st);

/* session_end.lua: *reason_out (optional, size STORE_ID_MAX) gets the reason the record holds. */
int store_session_end(struct rconn *r, const char *sid, const char *client, const char *reason, int64_t now_ms,
		      const char *error, char *reason_out, size_t reason_len);

enum store_snapshot_verdict {
	STORE_SNAPSHOT_KEPT,
	STORE_SNAPSHOT_OVER_QUOTA,
	STORE_SNAPSHOT_FULL,
	STORE_SNAPSHOT_GONE,
};

struct store_session_snapshot {
	const char *sid, *wid, *client;
	const void *data;
	size_t len;
	int64_t now_ms, ttl_s, quota_bytes, results_percent;
};

int store_session_snapshot(struct rconn *r, const struct store_session_snapshot *p,
			   enum store_snapshot_verdict *out, int64_t *expires_at);

/* session_reply.lua: a reply frame with the bytes that follow it, pushed only once the bytes are
 * reserved in the client's storage ledger for the reply list's lifetime. */
enum store_reply_verdict {
	STORE_REPLY_PUSHED,
	STORE_REPLY_OVER_QUOTA,      /* *retry_ms: when room frees (-1: never) */
	STORE_REPLY_FULL,
	STORE_REPLY_GONE,
};

struct store_session_reply {
	const char *sid, *rid, *client;
	const char *frame;
	size_t frame_len;
	const void *data;
	size_t len;
	int64_t now_ms, life_ms, quota_bytes, results_percent;
};

int store_session_reply(struct rconn *r, const struct store_session_reply *p, enum store_reply_verdict *out,
			int64_t *retry_ms);

#endif
