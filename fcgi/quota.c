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

void request_client(const struct request *req, char *client, size_t len)
{
	if (req->client_key)
		snprintf(client, len, "%s", req->client_key);
	else if (quota_client_key(req->remote_addr, client, len) < 0)
		snprintf(client, len, "unknown");
}

int quota_usage_load(struct request *req, struct quota_usage *u)
{
	const struct sandrun_limits *l = request_limits(req);
	char client[QUOTA_KEY_MAX];
	struct store_quota_usage q;

	memset(u, 0, sizeof *u);
	u->cpu_limit = l->quota_cpu_seconds;
	u->active_limit = (long)l->quota_jobs_max;
	u->window_seconds = (long)l->quota_window_seconds;
	u->storage_limit = l->quota_storage_bytes;
	request_client(req, client, sizeof client);
	if (store_quota_usage(&req->srv->redis, client, time_now_ms(), l->quota_window_seconds * 1000,
			      l->quota_cpu_seconds, &q) < 0)
		return -1;
	u->cpu_used = q.cpu_used;
	u->active = (long)q.active;
	u->reset_seconds = (long)ceil((double)q.reset_ms / 1000.0);
	u->retry_after = (long)ceil((double)q.retry_ms / 1000.0);
	u->storage_used = q.storage_used;
	return 0;
}

/* Takes the deferred reply (request.h's before_answer, and quota_headers_end) and writes the headers. */
static void quota_headers_take(struct request *req)
{
	const struct sandrun_limits *l = request_limits(req);
	struct store_quota_usage q;
	struct quota_usage u;

	if (!req->quota_pending)
		return;
	req->quota_pending = false;
	if (store_quota_cpu_take(&req->srv->redis, &q) < 0)
		return;
	memset(&u, 0, sizeof u);
	u.cpu_limit = l->quota_cpu_seconds;
	u.window_seconds = (long)l->quota_window_seconds;
	u.cpu_used = q.cpu_used;
	u.reset_seconds = (long)ceil((double)q.reset_ms / 1000.0);
	quota_headers(&u, req->headers, sizeof req->headers);
}

void quota_headers_begin(struct request *req)
{
	const struct sandrun_limits *l = request_limits(req);
	char client[QUOTA_KEY_MAX];

	/* A subrequest's answer is captured without them (request.c). */
	if (req->capture)
		return;
	request_client(req, client, sizeof client);
	req->quota_now_ms = time_now_ms();
	if (store_quota_cpu_send(&req->srv->redis, client, req->quota_now_ms, l->quota_window_seconds * 1000) < 0)
		return;
	req->quota_pending = true;
	req->before_answer = quota_headers_take;
}

void quota_headers_end(struct request *req)
{
	quota_headers_take(req);
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
