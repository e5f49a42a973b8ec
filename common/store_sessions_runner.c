/*
 * The runner's session scripts (common/store_sessions_runner.h): each
 * builds its KEYS and ARGV here, calls the script (EVALSHA, rconn_script)
 * and checks the reply's shape before reading it.
 */
#include "store_sessions_runner.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs script with argv (numkeys keys first); the reply, or NULL with r->error (an error reply too). */
static redisReply *ses_call(struct rconn *r, const char *script, const char *name, int numkeys, int argc,
			    const char **argv, const size_t *lens)
{
	size_t l[16];
	redisReply *reply;

	if (!lens) {
		for (int i = 0; i < argc && i < 16; i++)
			l[i] = strlen(argv[i]);
		lens = l;
	}
	reply = rconn_script(r, script, numkeys, argc, argv, lens);
	if (!reply)
		return NULL;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(r->error, sizeof r->error, "%s: %s", name, reply->str);
		freeReplyObject(reply);
		return NULL;
	}
	return reply;
}

static int ses_fail(struct rconn *r, redisReply *reply, const char *name)
{
	if (!reply)
		return r->ctx ? STORE_BAD_REPLY : STORE_UNREACHABLE;
	snprintf(r->error, sizeof r->error, "%s: an unexpected reply", name);
	freeReplyObject(reply);
	return STORE_BAD_REPLY;
}

static bool ses_is_str(const redisReply *e)
{
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS;
}

static int64_t ses_num(const redisReply *e)
{
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (ses_is_str(e))
		return strtoll(e->str, NULL, 10);
	return 0;
}

int store_session_claim(struct rconn *r, const char *sid, const char *runner, int64_t now_ms, bool *claimed)
{
	struct session_keys k;
	char now[24];
	const char *argv[3];
	redisReply *reply;

	if (session_keys_make(sid, &k) < 0)
		return STORE_BAD_REPLY;
	snprintf(now, sizeof now, "%" PRId64, now_ms);
	argv[0] = k.ses; argv[1] = runner; argv[2] = now;
	reply = ses_call(r, redis_script_session_claim, "session_claim", 1, 3, argv, NULL);
	if (!reply || !ses_is_str(reply))
		return ses_fail(r, reply, "session_claim");
	*claimed = strcmp(reply->str, "ok") == 0;
	freeReplyObject(reply);
	return 0;
}

int store_session_ready(struct rconn *r, const char *sid, const char *client, const char *runner, int64_t now_ms,
			int64_t ttl_s, int64_t quota_idle_ms, bool *ready, int64_t *expires_at)
{
	struct session_keys k;
	struct client_keys c;
	char now[24], ttl[24], idle[24];
	const char *argv[7];
	redisReply *reply;

	if (session_keys_make(sid, &k) < 0 || client_keys_make(client, &c) < 0)
		return STORE_BAD_REPLY;
	snprintf(now, sizeof now, "%" PRId64, now_ms);
	snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s);
	snprintf(idle, sizeof idle, "%" PRId64, quota_idle_ms);
	argv[0] = k.ses; argv[1] = c.sessions; argv[2] = sid; argv[3] = runner; argv[4] = now; argv[5] = ttl;
	argv[6] = idle;
	reply = ses_call(r, redis_script_session_ready, "session_ready", 2, 7, argv, NULL);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || !ses_is_str(reply->element[0]))
		return ses_fail(r, reply, "session_ready");
	*ready = strcmp(reply->element[0]->str, "ok") == 0;
	*expires_at = ses_num(reply->element[1]);
	freeReplyObject(reply);
	return 0;
}

int store_session_charge(struct rconn *r, const struct store_session_charge *p, struct store_session_state *st)
{
	struct session_keys k;
	struct client_keys c;
	char now[24], delta[32], n[24], idle[24], total[32], mem[24], peak[24];
	const char *argv[12];
	redisReply *reply;

	if (session_keys_make(p->sid, &k) < 0 || client_keys_make(p->client, &c) < 0)
		return STORE_BAD_REPLY;
	snprintf(now, sizeof now, "%" PRId64, p->now_ms);
	snprintf(delta, sizeof delta, "%.3f", p->cpu_delta > 0 ? p->cpu_delta : 0.0);
	snprintf(n, sizeof n, "%" PRId64, p->n);
	snprintf(idle, sizeof idle, "%" PRId64, p->quota_idle_ms);
	snprintf(total, sizeof total, "%.3f", p->cpu_total);
	snprintf(mem, sizeof mem, "%" PRId64, p->memory_bytes);
	snprintf(peak, sizeof peak, "%" PRId64, p->memory_peak_bytes);
	argv[0] = k.ses; argv[1] = c.cpu; argv[2] = p->sid; argv[3] = p->runner; argv[4] = now; argv[5] = delta;
	argv[6] = n; argv[7] = idle; argv[8] = total; argv[9] = mem; argv[10] = peak;
	argv[11] = p->set_status ? p->set_status : "";
	reply = ses_call(r, redis_script_session_charge, "session_charge", 2, 12, argv, NULL);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 || !ses_is_str(reply->element[0])
	    || strlen(reply->element[0]->str) >= sizeof st->status)
		return ses_fail(r, reply, "session_charge");
	snprintf(st->status, sizeof st->status, "%s", reply->element[0]->str);
	st->last_used_at = ses_num(reply->element[1]);
	st->expires_at = ses_num(reply->element[2]);
	st->idle_timeout_seconds = ses_num(reply->element[3]);
	freeReplyObject(reply);
	return 0;
}

int store_session_end(struct rconn *r, const char *sid, const char *client, const char *reason, int64_t now_ms,
		      const char *error, char *reason_out, size_t reason_len)
{
	struct session_keys k;
	struct client_keys c;
	char now[24];
	const char *argv[10];
	redisReply *reply;

	if (session_keys_make(sid, &k) < 0 || client_keys_make(client, &c) < 0)
		return STORE_BAD_REPLY;
	snprintf(now, sizeof now, "%" PRId64, now_ms);
	argv[0] = k.ses; argv[1] = c.sessions; argv[2] = k.req; argv[3] = k.pty; argv[4] = k.pty_in;
	argv[5] = STORE_KEY_METRICS; argv[6] = sid; argv[7] = reason; argv[8] = now; argv[9] = error ? error : "";
	reply = ses_call(r, redis_script_session_end, "session_end", 6, 10, argv, NULL);
	if (!reply || !ses_is_str(reply))
		return ses_fail(r, reply, "session_end");
	if (reason_out)
		snprintf(reason_out, reason_len, "%s", reply->str);
	freeReplyObject(reply);
	return 0;
}

int store_session_snapshot(struct rconn *r, const struct store_session_snapshot *p,
			   enum store_snapshot_verdict *out, int64_t *expires_at)
{
	struct session_keys k;
	struct client_keys c;
	char wsp[STORE_KEY_MAX], now[24], ttl[24], quota[24], pct[24], cost[24];
	const char *argv[11];
	size_t lens[11];
	redisReply *reply;

	if (session_keys_make(p->sid, &k) < 0 || client_keys_make(p->client, &c) < 0
	    || store_key_workspace(wsp, sizeof wsp, p->wid) < 0)
		return STORE_BAD_REPLY;
	snprintf(now, sizeof now, "%" PRId64, p->now_ms);
	snprintf(ttl, sizeof ttl, "%" PRId64, p->ttl_s);
	snprintf(quota, sizeof quota, "%" PRId64, p->quota_bytes);
	snprintf(pct, sizeof pct, "%" PRId64, p->results_percent);
	snprintf(cost, sizeof cost, "%d", STORE_OUTPUT_COST);
	argv[0] = wsp; argv[1] = c.store; argv[2] = k.ses; argv[3] = p->wid; argv[4] = p->data; argv[5] = now;
	argv[6] = ttl; argv[7] = quota; argv[8] = pct; argv[9] = p->client; argv[10] = cost;
	for (int i = 0; i < 11; i++)
		lens[i] = i == 4 ? p->len : strlen(argv[i]);
	reply = ses_call(r, redis_script_session_snapshot, "session_snapshot", 3, 11, argv, lens);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || !ses_is_str(reply->element[0]))
		return ses_fail(r, reply, "session_snapshot");
	*out = strcmp(reply->element[0]->str, "ok") == 0      ? STORE_SNAPSHOT_KEPT
	       : strcmp(reply->element[0]->str, "quota") == 0 ? STORE_SNAPSHOT_OVER_QUOTA
	       : strcmp(reply->element[0]->str, "full") == 0  ? STORE_SNAPSHOT_FULL
							      : STORE_SNAPSHOT_GONE;
	*expires_at = ses_num(reply->element[1]);
	freeReplyObject(reply);
	return 0;
}

int store_session_reply(struct rconn *r, const struct store_session_reply *p, enum store_reply_verdict *out,
			int64_t *retry_ms)
{
	struct session_keys k;
	struct client_keys c;
	char list[STORE_KEY_MAX], name[STORE_KEY_MAX], now[24], life[24], quota[24], pct[24], cost[24];
	const char *argv[12];
	size_t lens[12];
	redisReply *reply;

	if (session_keys_make(p->sid, &k) < 0 || client_keys_make(p->client, &c) < 0
	    || store_key_session_reply(list, sizeof list, p->sid, p->rid) < 0)
		return STORE_BAD_REPLY;
	snprintf(name, sizeof name, "%s:rep:%s", p->sid, p->rid);
	snprintf(now, sizeof now, "%" PRId64, p->now_ms);
	snprintf(life, sizeof life, "%" PRId64, p->life_ms);
	snprintf(quota, sizeof quota, "%" PRId64, p->quota_bytes);
	snprintf(pct, sizeof pct, "%" PRId64, p->results_percent);
	snprintf(cost, sizeof cost, "%d", STORE_OUTPUT_COST);
	argv[0] = list; argv[1] = c.store; argv[2] = k.ses; argv[3] = p->frame; argv[4] = p->data; argv[5] = now;
	argv[6] = life; argv[7] = quota; argv[8] = pct; argv[9] = p->client; argv[10] = cost; argv[11] = name;
	for (int i = 0; i < 12; i++)
		lens[i] = i == 3 ? p->frame_len : i == 4 ? p->len : strlen(argv[i]);
	reply = ses_call(r, redis_script_session_reply, "session_reply", 3, 12, argv, lens);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || !ses_is_str(reply->element[0]))
		return ses_fail(r, reply, "session_reply");
	*out = strcmp(reply->element[0]->str, "ok") == 0      ? STORE_REPLY_PUSHED
	       : strcmp(reply->element[0]->str, "quota") == 0 ? STORE_REPLY_OVER_QUOTA
	       : strcmp(reply->element[0]->str, "full") == 0  ? STORE_REPLY_FULL
							      : STORE_REPLY_GONE;
	*retry_ms = ses_num(reply->element[1]);
	freeReplyObject(reply);
	return 0;
}
