/*
 * Per-client fair use (docs/api.md §5). The client is its address as nginx saw
 * it; an IPv6 client counts by its /64, since one host usually holds a
 * whole /64. The counting itself is atomic in Redis (redis/submit.lua,
 * redis/quota.lua, and redis/finish.lua charging CPU when a job ends), so
 * any number of responders agree; the RateLimit headers read the same
 * CPU window without a write (quota_cpu_read.lua: quota_headers_begin below).
 */
#ifndef SANDRUN_QUOTA_H
#define SANDRUN_QUOTA_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"

#define QUOTA_KEY_MAX 80 /* "ffff:ffff:ffff:ffff::/64", dotted quads and "key:" + a key's name fit */

/*
 * The quota key of an address: "192.0.2.7" for IPv4 (an IPv4-mapped IPv6
 * address counts as its IPv4 address), "2001:db8:1:2::/64" for IPv6.
 * Returns 0, or -1 when `addr` is not an IP address.
 */
int quota_client_key(const char *addr, char *out, size_t outlen);

struct quota_usage {
	double cpu_used;             /* CPU-seconds charged in the current window */
	double cpu_limit;
	long active;                 /* jobs queued or running */
	long active_limit;
	long reset_seconds;          /* until the oldest charge leaves the window (0: none) */
	long retry_after;            /* until a submit would pass the CPU check (0: now) */
	long window_seconds;         /* the sliding window the CPU limit applies to */
	int64_t storage_used;        /* bytes the client's jobs hold in Redis (the storage ledger) */
	int64_t storage_limit;
};

/* Reads the caller's usage (redis/quota.lua). 0, or -1 when Redis failed. */
int quota_usage_load(struct request *req, struct quota_usage *u);

/*
 * The RateLimit headers of every answer, in one round trip with the route's
 * own first Redis command: quota_headers_begin sends the read of the
 * caller's CPU window ahead (store_quota_cpu_send, deferred: the running
 * sum and the oldest charge, O(1) in the number of charges); the request's
 * first answer takes its reply and writes the header lines into
 * req->headers (request.h's before_answer). Without Redis there are none
 * (the route answers 503 itself). quota_headers_end takes a reply no
 * answer took, so nothing is left on the connection for the next request.
 */
void quota_headers_begin(struct request *req);
void quota_headers_end(struct request *req);

/* The IETF RateLimit header lines for `u` ("Name: value\r\n"...) into out. */
void quota_headers(const struct quota_usage *u, char *out, size_t outlen);

#endif
