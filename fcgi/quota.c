/*
 * The client's quota key, and reading its usage for /stats and for the
 * RateLimit headers every answer carries. The checks that admit or refuse
 * a job live in redis/submit.lua, in the same atomic step that records it.
 */
#include "config.h"
#include "quota.h"
#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int quota_client_key(const char *addr, char *out, size_t outlen)
{
	struct in_addr v4;
	struct in6_addr v6;
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, addr, &v4) == 1) {
		if (!inet_ntop(AF_INET, &v4, text, sizeof text))
			return -1;
		return snprintf(out, outlen, "%s", text) < (int)outlen ? 0 : -1;
	}
	if (inet_pton(AF_INET6, addr, &v6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&v6)) {
		memcpy(&v4, &v6.s6_addr[12], 4);
		if (!inet_ntop(AF_INET, &v4, text, sizeof text))
			return -1;
		return snprintf(out, outlen, "%s", text) < (int)outlen ? 0 : -1;
	}
	/* Keep the network half, zero the interface half: one key per /64. */
	memset(&v6.s6_addr[8], 0, 8);
	if (!inet_ntop(AF_INET6, &v6, text, sizeof text))
		return -1;
	return snprintf(out, outlen, "%s/64", text) < (int)outlen ? 0 : -1;
}

static double reply_number(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return (double)r->integer;
	if (r->type == REDIS_REPLY_STRING)
		return strtod(r->str, NULL);
	return 0;
}

int quota_usage_load(struct request *req, struct quota_usage *u)
{
	const struct sandrun_limits *l = &req->srv->cfg->limits;
	char client[QUOTA_KEY_MAX];
	struct client_keys ck;
	char now[24], window[24], limit[32];
	const char *argv[6];
	redisReply *r;

	memset(u, 0, sizeof *u);
	u->cpu_limit = l->quota_cpu_seconds;
	u->active_limit = (long)l->quota_jobs_max;
	u->window_seconds = (long)l->quota_window_seconds;
	u->storage_limit = l->quota_storage_bytes;
	if (quota_client_key(req->remote_addr, client, sizeof client) < 0)
		snprintf(client, sizeof client, "unknown");
	client_keys_make(client, &ck);
	snprintf(now, sizeof now, "%lld", (long long)time_now_ms());
	snprintf(window, sizeof window, "%lld", (long long)l->quota_window_seconds * 1000);
	snprintf(limit, sizeof limit, "%.6f", l->quota_cpu_seconds);
	argv[0] = ck.active; argv[1] = ck.cpu; argv[2] = ck.store;
	argv[3] = now; argv[4] = window; argv[5] = limit;
	r = rconn_script(&req->srv->redis, redis_script_quota, 3, 6, argv, NULL);
	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) {
		freeReplyObject(r);
		return -1;
	}
	u->cpu_used = reply_number(r->element[0]);
	u->active = (long)reply_number(r->element[1]);
	u->reset_seconds = (long)ceil(reply_number(r->element[2]) / 1000.0);
	u->retry_after = (long)ceil(reply_number(r->element[3]) / 1000.0);
	if (r->elements >= 5)
		u->storage_used = (int64_t)reply_number(r->element[4]);
	freeReplyObject(r);
	return 0;
}

void quota_headers(const struct quota_usage *u, char *out, size_t outlen)
{
	double remaining = u->cpu_limit - u->cpu_used;

	/* draft-ietf-httpapi-ratelimit-headers: the quota unit is CPU-seconds. */
	snprintf(out, outlen,
		 "RateLimit-Limit: %.0f\r\nRateLimit-Remaining: %.0f\r\nRateLimit-Reset: %ld\r\n"
		 "RateLimit-Policy: %.0f;w=%ld\r\n",
		 u->cpu_limit, remaining > 0 ? floor(remaining) : 0, u->reset_seconds,
		 u->cpu_limit, u->window_seconds);
}
