/*
 * Inside the job store (common/store_scripts.c) and its unit test
 * (tests/unit/test_store.c); nothing else includes this. The Lua scripts'
 * sources, and the argument lists the store builds for them and the
 * replies it reads from them as pure functions, so that both can be
 * checked without a Redis: a script's KEYS and ARGV are made in one place,
 * by the builder of that script.
 */
#ifndef SANDRUN_STORE_SCRIPTS_H
#define SANDRUN_STORE_SCRIPTS_H

#include "store.h"

/* The Lua scripts in redis/, embedded at build time (common/redis_scripts.c, build-aux/embed-lua.sh). */
extern const char redis_script_submit[];
extern const char redis_script_start[];
extern const char redis_script_finish[];
extern const char redis_script_cancel[];
extern const char redis_script_quota[];
extern const char redis_script_reclaim[];
extern const char redis_script_downloaded[];
extern const char redis_script_store_output[];
extern const char redis_script_log_append[];
extern const char redis_script_quota_cpu_read[];

#define STORE_ARGS_NUMBERS 16   /* numbers one call carries at most (submit's 12) */

/*
 * One script call: the script, then numkeys keys and the arguments, as
 * EVALSHA takes them after its numkeys. The key names and numbers live in
 * the struct; other strings are borrowed from the caller's parameters.
 */
struct store_args {
	const char *script;          /* its source */
	const char *name;            /* "finish": for error messages */
	int numkeys;
	int argc;                    /* keys and arguments */
	size_t cap;
	const char **argv;           /* argc of them (malloc'd) */
	size_t *lens;
	struct job_keys job;
	struct client_keys client;
	char numbers[STORE_ARGS_NUMBERS][32];
	int nnumbers;
};

void store_args_free(struct store_args *a);

/* The builders: *a made for the call (store_args_free frees). 0, or -1 when an id or a client makes
 * no key (too long). */
int store_submit_args(struct store_args *a, const struct store_submit *p, bool check);
int store_quota_args(struct store_args *a, const char *client, int64_t now_ms, int64_t window_ms,
		     double cpu_limit);
/* The whole command store_quota_cpu_send defers (a->script NULL, argv from "EVALSHA"): quota_cpu_read.lua. */
int store_quota_cpu_args(struct store_args *a, const char *client, int64_t now_ms, int64_t window_ms);
int store_start_args(struct store_args *a, const struct store_start *p, const char *client);
int store_finish_args(struct store_args *a, const struct store_finish *p);
int store_reclaim_args(struct store_args *a, const struct store_reclaim *p);
int store_cancel_args(struct store_args *a, const struct store_cancel *p);
int store_downloaded_args(struct store_args *a, const char *id, const char *client, const char *path);
int store_output_args(struct store_args *a, const struct store_output *p);
int store_log_append_args(struct store_args *a, const char *id, int64_t ttl_s, const struct log_entry *entries,
			  size_t n);

/* The readers of the scripts' replies: 0, or -1 when the reply is not what the script answers
 * (why into err). */
int store_submit_reply(const redisReply *r, struct store_submit_result *res, char *err, size_t errlen);
int store_quota_reply(const redisReply *r, struct store_quota_usage *u, char *err, size_t errlen);
/* quota_cpu_read.lua's {micro-seconds used, reset ms}: cpu_used and reset_ms. */
int store_quota_cpu_reply(const redisReply *r, struct store_quota_usage *u, char *err, size_t errlen);
/* 1 a claim, 0 nothing to run, 2 the client given is not the record's (ask again with the record's),
 * -1 not the script's answer. */
int store_start_reply(const redisReply *r, struct store_claim *c, char *err, size_t errlen);
int store_finish_reply(const redisReply *r, enum store_finish_outcome *out, char *err, size_t errlen);
int store_reclaim_reply(const redisReply *r, enum store_reclaim_outcome *out, char *err, size_t errlen);
int store_cancel_reply(const redisReply *r, enum job_status *was, char *err, size_t errlen);
int store_downloaded_reply(const redisReply *r, enum store_downloaded_outcome *out, char *err, size_t errlen);
int store_output_reply(const redisReply *r, enum store_output_verdict *out, char *err, size_t errlen);

/*
 * The steps above for the builders and calls of other files (the session scripts: common/store_sessions.c,
 * common/store_sessions_runner.c). store_args_begin sizes the list for `cap` strings; keys before
 * arguments. store_args_run calls the built list (built: the builder's 0 or -1), frees it, and returns
 * the reply, or NULL with *rc set. store_reply_bad sets r->error and returns STORE_BAD_REPLY.
 */
void store_args_begin(struct store_args *a, const char *script, const char *name, size_t cap);
void store_args_key(struct store_args *a, const char *key);
void store_args_str(struct store_args *a, const char *s);
void store_args_bytes(struct store_args *a, const char *s, size_t len);
void store_args_int(struct store_args *a, long long v);
void store_args_real(struct store_args *a, double v, int decimals);
redisReply *store_args_run(struct rconn *r, struct store_args *a, int built, int64_t retry_ms, int *rc);
int store_reply_bad(struct rconn *r, const char *name, const char *why);
int store_reply_unexpected(const redisReply *r, char *err, size_t errlen);
bool store_reply_is(const redisReply *r, const char *s);
int store_reply_number(const redisReply *r, double *v);

#endif
