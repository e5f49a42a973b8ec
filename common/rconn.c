/*
 * Redis connections for both daemons: timeouts always set, reconnect on
 * the next call after any I/O error or when Redis closed the connection
 * while it was idle (a restart: rconn_connect looks before each command),
 * scripts by SHA; loading them (EVAL fallback, SCRIPT LOAD at connect)
 * only where the connection allows it.
 */
#include "config.h"
#include "rconn.h"
#include "util.h"

#include <openssl/sha.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rconn_init(struct rconn *r, const char *address, const char *user, const char *password,
		int timeout_ms)
{
	memset(r, 0, sizeof *r);
	r->address = xstrdup(address);
	r->user = xstrdup(user ? user : "");
	r->password = xstrdup(password ? password : "");
	r->timeout_ms = timeout_ms;
}

static void rconn_drop(struct rconn *r)
{
	if (r->ctx)
		redisFree(r->ctx);
	r->ctx = NULL;
	if (r->deferred_reply)
		freeReplyObject(r->deferred_reply);
	r->deferred_reply = NULL;
	r->deferred = 0;
}

/* Before the reply of a command just appended: the deferred one's, kept for rconn_deferred_take. 0 or -1. */
static int rconn_read_deferred(struct rconn *r)
{
	void *reply = NULL;

	if (!r->deferred || r->deferred_reply)
		return 0;
	if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply)
		return -1;
	r->deferred_reply = reply;
	return 0;
}

/* Appended, then the deferred reply (if any), then this one: one write for both. NULL on a failure. */
static redisReply *rconn_get_reply(struct rconn *r, int appended)
{
	void *reply = NULL;

	if (appended != REDIS_OK || rconn_read_deferred(r) < 0 || redisGetReply(r->ctx, &reply) != REDIS_OK)
		return NULL;
	return reply;
}

int rconn_defer_argv(struct rconn *r, int argc, const char **argv, const size_t *lens)
{
	if (r->deferred) {
		snprintf(r->error, sizeof r->error, "a deferred command is already pending");
		return -1;
	}
	if (rconn_connect(r) < 0)
		return -1;
	if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
		snprintf(r->error, sizeof r->error, "Redis at %s: %s", r->address, r->ctx->errstr);
		rconn_drop(r);
		return -1;
	}
	r->deferred = 1;
	return 0;
}

redisReply *rconn_deferred_take(struct rconn *r)
{
	redisReply *reply;

	if (!r->deferred)
		return NULL;
	if (!r->deferred_reply && (!r->ctx || rconn_read_deferred(r) < 0)) {
		snprintf(r->error, sizeof r->error, "Redis at %s: %s", r->address,
			 r->ctx ? r->ctx->errstr : "not connected");
		rconn_drop(r);
		return NULL;
	}
	reply = r->deferred_reply;
	r->deferred_reply = NULL;
	r->deferred = 0;
	return reply;
}

void rconn_allow_script_load(struct rconn *r, const char *const *preload)
{
	r->may_load_scripts = 1;
	r->preload = preload;
}

void rconn_close(struct rconn *r)
{
	rconn_drop(r);
	free(r->address);
	free(r->user);
	free(r->password);
	memset(r, 0, sizeof *r);
}

static struct timeval ms_to_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

/*
 * Whether Redis closed an idle connection (it restarted, or dropped the
 * client): then it is readable (EOF or an error), since Redis sends
 * nothing unasked here. Found before a command is written, the command
 * goes on a new connection; found after, it would fail (a 503 to a
 * client after every Redis restart, once per responder thread), and it
 * could not be sent again, not knowing whether Redis ran it. Not while
 * a deferred command's reply may be waiting to be read.
 */
static bool rconn_closed_by_server(const struct rconn *r)
{
	struct pollfd p = { .fd = r->ctx->fd, .events = POLLIN | POLLRDHUP };

	if (r->deferred || r->ctx->fd < 0)
		return false;
	return poll(&p, 1, 0) > 0;
}

int rconn_connect(struct rconn *r)
{
	struct timeval tv = ms_to_tv(r->timeout_ms);
	redisReply *reply;

	if (r->ctx && rconn_closed_by_server(r))
		rconn_drop(r);
	if (r->ctx)
		return 0;
	if (strncmp(r->address, "unix:", 5) == 0) {
		r->ctx = redisConnectUnixWithTimeout(r->address + 5, tv);
	} else {
		char host[256];
		const char *colon = strrchr(r->address, ':');
		long port;

		if (!colon || (size_t)(colon - r->address) >= sizeof host) {
			snprintf(r->error, sizeof r->error, "bad redis_address '%s'", r->address);
			return -1;
		}
		memcpy(host, r->address, (size_t)(colon - r->address));
		host[colon - r->address] = '\0';
		port = strtol(colon + 1, NULL, 10);
		/* "[::1]:6379" */
		if (host[0] == '[') {
			memmove(host, host + 1, strlen(host));
			host[strcspn(host, "]")] = '\0';
		}
		r->ctx = redisConnectWithTimeout(host, (int)port, tv);
	}
	if (!r->ctx || r->ctx->err) {
		snprintf(r->error, sizeof r->error, "cannot connect to Redis at %s: %s", r->address,
			 r->ctx ? r->ctx->errstr : "out of memory");
		rconn_drop(r);
		return -1;
	}
	redisSetTimeout(r->ctx, tv);
	/* TCP only: keepalive on a unix socket fails and marks the context broken. */
	if (strncmp(r->address, "unix:", 5) != 0)
		redisEnableKeepAlive(r->ctx);
	if (*r->user || *r->password) {
		if (*r->user)
			reply = redisCommand(r->ctx, "AUTH %s %s", r->user, r->password);
		else
			reply = redisCommand(r->ctx, "AUTH %s", r->password);
		if (!reply || reply->type == REDIS_REPLY_ERROR) {
			snprintf(r->error, sizeof r->error, "Redis refused user %s: %s", r->user,
				 reply ? reply->str : r->ctx->errstr);
			if (reply)
				freeReplyObject(reply);
			rconn_drop(r);
			return -1;
		}
		freeReplyObject(reply);
	}
	if (r->preload && rconn_load_scripts(r, r->preload) < 0) {
		rconn_drop(r);
		return -1;
	}
	return 0;
}

int rconn_load_scripts(struct rconn *r, const char *const *scripts)
{
	if (rconn_connect(r) < 0)
		return -1;
	for (size_t i = 0; scripts[i]; i++) {
		redisReply *reply = redisCommand(r->ctx, "SCRIPT LOAD %s", scripts[i]);

		if (!reply || reply->type != REDIS_REPLY_STRING) {
			snprintf(r->error, sizeof r->error, "Redis at %s: SCRIPT LOAD: %s", r->address,
				 !reply ? r->ctx->errstr : reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
			if (!reply)
				rconn_drop(r);
			else
				freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	return 0;
}

redisReply *rconn_argv(struct rconn *r, int extra_timeout_ms, int argc, const char **argv,
		       const size_t *lens)
{
	redisReply *reply;

	r->scripts_missing = 0;
	if (rconn_connect(r) < 0)
		return NULL;
	if (extra_timeout_ms)
		redisSetTimeout(r->ctx, ms_to_tv(r->timeout_ms + extra_timeout_ms));
	reply = rconn_get_reply(r, redisAppendCommandArgv(r->ctx, argc, argv, lens));
	if (!reply) {
		snprintf(r->error, sizeof r->error, "Redis at %s: %s", r->address, r->ctx->errstr);
		rconn_drop(r);
		return NULL;
	}
	if (extra_timeout_ms)
		redisSetTimeout(r->ctx, ms_to_tv(r->timeout_ms));
	return reply;
}

redisReply *rconn_command(struct rconn *r, const char *fmt, ...)
{
	redisReply *reply;
	va_list ap;

	r->scripts_missing = 0;
	if (rconn_connect(r) < 0)
		return NULL;
	va_start(ap, fmt);
	reply = rconn_get_reply(r, redisvAppendCommand(r->ctx, fmt, ap));
	va_end(ap);
	if (!reply) {
		snprintf(r->error, sizeof r->error, "Redis at %s: %s", r->address, r->ctx->errstr);
		rconn_drop(r);
	}
	return reply;
}

void rconn_script_sha(const char *script, char sha[41])
{
	unsigned char digest[SHA_DIGEST_LENGTH];

	SHA1((const unsigned char *)script, strlen(script), digest);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(sha + 2 * i, 3, "%02x", digest[i]);
}

/*
 * The SHA1 of a script, computed once per script and thread: the scripts
 * are the embedded ones (static, never changed), called by address, and a
 * result's script with its libraries inlined is ~10 KB, hashed at every
 * call until this (two per job in the runner, two per submit in a
 * responder). A table full of other scripts hashes without keeping.
 */
#define RCONN_SHA_CACHE 32

static void rconn_script_sha_cached(const char *script, char sha[41])
{
	static __thread struct { const char *script; char sha[41]; } cache[RCONN_SHA_CACHE];
	static __thread int used;

	for (int i = 0; i < used; i++)
		if (cache[i].script == script) {
			memcpy(sha, cache[i].sha, 41);
			return;
		}
	rconn_script_sha(script, sha);
	if (used < RCONN_SHA_CACHE) {
		cache[used].script = script;
		memcpy(cache[used++].sha, sha, 41);
	}
}

redisReply *rconn_script(struct rconn *r, const char *script, int numkeys, int argc,
			 const char **argv, const size_t *lens)
{
	char sha[2 * SHA_DIGEST_LENGTH + 1], nkeys[16];
	const char **av = xmalloc((size_t)(argc + 3) * sizeof *av);
	size_t *al = xmalloc((size_t)(argc + 3) * sizeof *al);
	redisReply *reply;

	rconn_script_sha_cached(script, sha);
	snprintf(nkeys, sizeof nkeys, "%d", numkeys);
	av[0] = "EVALSHA";
	av[1] = sha;
	av[2] = nkeys;
	for (int i = 0; i < argc; i++) {
		av[i + 3] = argv[i];
		al[i + 3] = lens ? lens[i] : strlen(argv[i]);
	}
	al[0] = 7;
	al[1] = strlen(sha);
	al[2] = strlen(nkeys);
	reply = rconn_argv(r, 0, argc + 3, av, al);
	if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(reply);
		if (r->may_load_scripts) {
			av[0] = "EVAL";
			al[0] = 4;
			av[1] = script;
			al[1] = strlen(script);
			reply = rconn_argv(r, 0, argc + 3, av, al);
		} else {
			/* Redis restarted (or its scripts were flushed) and no
			 * runner has loaded them again yet: this user may not. */
			snprintf(r->error, sizeof r->error, "Redis at %s does not have script %.12s (NOSCRIPT): "
				 "no runner has loaded the scripts since Redis started", r->address, sha);
			r->scripts_missing = 1;
			reply = NULL;
		}
	}
	free(av);
	free(al);
	return reply;
}

int rconn_scripts_missing(const struct rconn *r)
{
	return r->scripts_missing;
}
