/*
 * The responders' session calls (common/store_sessions.h): the builders
 * know each script's KEYS and ARGV in order, the readers check each reply
 * for shape (what Redis answers is untrusted input), the calls join them
 * through common/store_scripts.c's steps.
 */
#include "config.h"
#include "store_sessions.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client read from a record (untrusted): itself, or "" (nobody) when it names no key. */
static const char *session_client(const char *client)
{
	return client && strlen(client) < STORE_CLIENT_MAX ? client : "";
}

static int session_args_keys(struct session_args *a, const char *sid, const char *client)
{
	memset(a->extra, 0, sizeof a->extra);
	if (session_keys_make(sid, &a->s) < 0 || client_keys_make(session_client(client), &a->client) < 0)
		return -1;
	return 0;
}

/*
 * KEYS: record, pool list, client's sessions zset, the counters, [workspace string]
 * ARGV: sid, client, now, ttl, idle, environment, memory, entry, sessions max, high-water percent,
 *       record cost, quota idle, pool entry lifetime, workspace id
 */
int store_session_create_args(struct session_args *a, const struct store_session_create *p)
{
	const char *wid = p->workspace_id ? p->workspace_id : "";

	store_args_begin(&a->a, redis_script_session_create, "session_create", 19);
	if (session_args_keys(a, p->sid, p->client) < 0 ||
	    store_key_session_pool(a->extra[0], sizeof a->extra[0], p->environment) < 0 ||
	    (*wid && store_key_workspace(a->extra[1], sizeof a->extra[1], wid) < 0))
		return -1;
	store_args_key(&a->a, a->s.ses);
	store_args_key(&a->a, a->extra[0]);
	store_args_key(&a->a, a->client.sessions);
	store_args_key(&a->a, STORE_KEY_METRICS);
	if (*wid)
		store_args_key(&a->a, a->extra[1]);
	store_args_str(&a->a, p->sid);
	store_args_str(&a->a, session_client(p->client));
	store_args_int(&a->a, p->now_ms);
	store_args_int(&a->a, p->ttl_s);
	store_args_int(&a->a, p->idle_s);
	store_args_str(&a->a, p->environment);
	store_args_int(&a->a, p->memory_mb);
	store_args_str(&a->a, p->entry);
	store_args_int(&a->a, p->sessions_max);
	store_args_int(&a->a, p->high_water_percent);
	store_args_int(&a->a, STORE_RECORD_COST);
	store_args_int(&a->a, p->quota_idle_ms);
	store_args_int(&a->a, p->pool_entry_ms);
	store_args_str(&a->a, wid);
	return 0;
}

int store_session_create_reply(const redisReply *r, struct store_session_create_result *res, char *err,
			       size_t errlen)
{
	double v1 = 0, v2 = 0;

	memset(res, 0, sizeof *res);
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "OOM", 3) == 0) {
		res->verdict = STORE_SESSION_REDIS_FULL;
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements > 3 ||
	    store_reply_number(r->element[1], &v1) < 0 ||
	    (r->elements == 3 && store_reply_number(r->element[2], &v2) < 0))
		return store_reply_unexpected(r, err, errlen);
	if (store_reply_is(r->element[0], "ok") && r->elements == 2) {
		res->verdict = STORE_SESSION_CREATED;
		res->count = (long long)v1;
	} else if (store_reply_is(r->element[0], "sessions") && r->elements == 3) {
		res->verdict = STORE_SESSION_OVER_SESSIONS;
		res->count = (long long)v1;
		res->retry_ms = (long long)v2;
	} else if (store_reply_is(r->element[0], "memory") && r->elements == 3) {
		res->verdict = STORE_SESSION_OVER_MEMORY;
		res->used = v1;
		res->max = (long long)v2;
	} else if (store_reply_is(r->element[0], "workspace") && r->elements == 3) {
		res->verdict = STORE_SESSION_NO_WORKSPACE;
	} else {
		return error_format(err, errlen, "unknown verdict");
	}
	return 0;
}

/*
 * KEYS: record, request list, data string, client's cpu zset, client's storage ledger,
 *       client's sessions zset, the counters
 * ARGV: rid, request, now, op, bytes, cpu limit, window, storage quota, high-water percent,
 *       data lifetime, per-payload cost, sid
 */
int store_session_request_args(struct session_args *a, const struct store_session_request *p)
{
	store_args_begin(&a->a, redis_script_session_request, "session_request", 19);
	if (session_args_keys(a, p->sid, p->client) < 0 ||
	    store_key_session_data(a->extra[0], sizeof a->extra[0], p->sid, p->rid) < 0)
		return -1;
	store_args_key(&a->a, a->s.ses);
	store_args_key(&a->a, a->s.req);
	store_args_key(&a->a, a->extra[0]);
	store_args_key(&a->a, a->client.cpu);
	store_args_key(&a->a, a->client.store);
	store_args_key(&a->a, a->client.sessions);
	store_args_key(&a->a, STORE_KEY_METRICS);
	store_args_str(&a->a, p->rid);
	store_args_str(&a->a, p->request);
	store_args_int(&a->a, p->now_ms);
	store_args_str(&a->a, p->op);
	store_args_bytes(&a->a, p->data ? p->data : "", p->data ? p->data_len : 0);
	store_args_real(&a->a, p->cpu_limit, 6);
	store_args_int(&a->a, p->window_ms);
	store_args_int(&a->a, p->storage_quota);
	store_args_int(&a->a, p->high_water_percent);
	store_args_int(&a->a, STORE_SESSION_DATA_TTL_MS);
	store_args_int(&a->a, STORE_SESSION_DATA_COST);
	store_args_str(&a->a, p->sid);
	return 0;
}

int store_session_request_reply(const redisReply *r, struct store_session_request_result *res, char *err,
				size_t errlen)
{
	static const struct { const char *name; enum store_session_request_verdict verdict; size_t n; } verdicts[] = {
		{ "ok", STORE_SESSION_SENT, 1 }, { "gone", STORE_SESSION_GONE, 1 },
		{ "starting", STORE_SESSION_STARTING, 1 }, { "paused", STORE_SESSION_PAUSED, 1 },
		{ "ended", STORE_SESSION_ENDED, 2 }, { "cpu", STORE_SESSION_OVER_CPU, 3 },
		{ "storage", STORE_SESSION_OVER_STORAGE, 3 }, { "memory", STORE_SESSION_REQ_OVER_MEMORY, 3 },
	};
	double used, figure;

	memset(res, 0, sizeof *res);
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "OOM", 3) == 0) {
		res->verdict = STORE_SESSION_REQ_REDIS_FULL;
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return store_reply_unexpected(r, err, errlen);
	for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++) {
		if (!store_reply_is(r->element[0], verdicts[i].name))
			continue;
		if (r->elements != verdicts[i].n)
			return error_format(err, errlen, "%s: %zu elements", verdicts[i].name, r->elements);
		res->verdict = verdicts[i].verdict;
		if (verdicts[i].n == 2) {
			const redisReply *why = r->element[1];

			/* a reason is a short word of ours; anything else is "internal" */
			if (why->type != REDIS_REPLY_STRING || why->len == 0 || why->len >= sizeof res->reason ||
			    strspn(why->str, "abcdefghijklmnopqrstuvwxyz_") != why->len)
				snprintf(res->reason, sizeof res->reason, "internal");
			else
				memcpy(res->reason, why->str, why->len + 1);
		} else if (verdicts[i].n == 3) {
			if (store_reply_number(r->element[1], &used) < 0 ||
			    store_reply_number(r->element[2], &figure) < 0)
				return error_format(err, errlen, "%s: not numbers", verdicts[i].name);
			res->used = used;
			res->figure = (long long)figure;
		}
		return 0;
	}
	return error_format(err, errlen, "unknown verdict");
}

/* KEYS: record, client's sessions zset, request list, the counters. ARGV: now, sid, sentence */
int store_session_abandon_args(struct session_args *a, const char *sid, const char *client, int64_t now_ms,
			       const char *sentence)
{
	store_args_begin(&a->a, redis_script_session_abandon, "session_abandon", 7);
	if (session_args_keys(a, sid, client) < 0)
		return -1;
	store_args_key(&a->a, a->s.ses);
	store_args_key(&a->a, a->client.sessions);
	store_args_key(&a->a, a->s.req);
	store_args_key(&a->a, STORE_KEY_METRICS);
	store_args_int(&a->a, now_ms);
	store_args_str(&a->a, sid);
	store_args_str(&a->a, sentence);
	return 0;
}

int store_session_abandon_reply(const redisReply *r, enum store_session_abandon_outcome *out, char *status,
				size_t statuslen, char *err, size_t errlen)
{
	if (statuslen)
		*status = '\0';
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || strlen(r->str) != r->len)
		return store_reply_unexpected(r, err, errlen);
	if (store_reply_is(r, "abandoned"))
		*out = STORE_SESSION_ABANDONED;
	else if (store_reply_is(r, "gone"))
		*out = STORE_SESSION_ABANDON_GONE;
	else
		*out = STORE_SESSION_NOT_STARTING;
	if (statuslen)
		snprintf(status, statuslen, "%s", r->str);
	return 0;
}

/* KEYS: record, sr:runners, client's sessions zset, request list, the counters. ARGV: now, lease, sid, sentence */
int store_session_lost_args(struct session_args *a, const char *sid, const char *client, int64_t now_ms,
			    int64_t lease_ms, const char *sentence)
{
	store_args_begin(&a->a, redis_script_session_lost, "session_lost", 9);
	if (session_args_keys(a, sid, client) < 0)
		return -1;
	store_args_key(&a->a, a->s.ses);
	store_args_key(&a->a, STORE_KEY_RUNNERS);
	store_args_key(&a->a, a->client.sessions);
	store_args_key(&a->a, a->s.req);
	store_args_key(&a->a, STORE_KEY_METRICS);
	store_args_int(&a->a, now_ms);
	store_args_int(&a->a, lease_ms);
	store_args_str(&a->a, sid);
	store_args_str(&a->a, sentence);
	return 0;
}

int store_session_lost_reply(const redisReply *r, enum store_session_lost_outcome *out, char *err,
			     size_t errlen)
{
	if (store_reply_is(r, "lost"))
		*out = STORE_SESSION_LOST;
	else if (store_reply_is(r, "alive"))
		*out = STORE_SESSION_ALIVE;
	else if (store_reply_is(r, "gone"))
		*out = STORE_SESSION_LOST_GONE;
	else
		return store_reply_unexpected(r, err, errlen);
	return 0;
}

/* ---- calls */

int store_session_create(struct rconn *r, const struct store_session_create *p,
			 struct store_session_create_result *res)
{
	struct session_args a;
	int built = store_session_create_args(&a, p), rc = 0;
	redisReply *reply = store_args_run(r, &a.a, built, 0, &rc);
	char err[200];

	memset(res, 0, sizeof *res);
	if (!reply)
		return rc;
	rc = store_session_create_reply(reply, res, err, sizeof err) < 0 ? store_reply_bad(r, "session_create", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_session_request(struct rconn *r, const struct store_session_request *p,
			  struct store_session_request_result *res)
{
	struct session_args a;
	int built = store_session_request_args(&a, p), rc = 0;
	redisReply *reply = store_args_run(r, &a.a, built, 0, &rc);
	char err[200];

	memset(res, 0, sizeof *res);
	if (!reply)
		return rc;
	rc = store_session_request_reply(reply, res, err, sizeof err) < 0 ? store_reply_bad(r, "session_request", err)
									   : 0;
	freeReplyObject(reply);
	return rc;
}

int store_session_abandon(struct rconn *r, const char *sid, const char *client, int64_t now_ms,
			  const char *sentence, enum store_session_abandon_outcome *out, char *status,
			  size_t statuslen)
{
	struct session_args a;
	int built = store_session_abandon_args(&a, sid, client, now_ms, sentence), rc = 0;
	redisReply *reply = store_args_run(r, &a.a, built, 0, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_session_abandon_reply(reply, out, status, statuslen, err, sizeof err) < 0
		     ? store_reply_bad(r, "session_abandon", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_session_lost(struct rconn *r, const char *sid, const char *client, int64_t now_ms, int64_t lease_ms,
		       const char *sentence, enum store_session_lost_outcome *out)
{
	struct session_args a;
	int built = store_session_lost_args(&a, sid, client, now_ms, lease_ms, sentence), rc = 0;
	redisReply *reply = store_args_run(r, &a.a, built, 0, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_session_lost_reply(reply, out, err, sizeof err) < 0 ? store_reply_bad(r, "session_lost", err) : 0;
	freeReplyObject(reply);
	return rc;
}
