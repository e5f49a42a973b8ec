/*
 * The job store's calls (common/store.h): one function per Lua script in
 * redis/, and the few plain commands that serve them. Each is three
 * steps: build the arguments (the only place that knows the script's
 * KEYS and ARGV, in order), run it (EVALSHA, rconn_script), read the
 * reply (checked for shape: what Redis answers is untrusted input). The
 * builders and readers are pure and tested without a Redis
 * (tests/unit/test_store.c, through common/store_scripts.h).
 */
#include "config.h"
#include "store_scripts.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_RETRY_STEP_MS 500      /* a call that got no answer is tried again after this */

/* ---- argument lists */

static void args_init(struct store_args *a, const char *script, const char *name, size_t cap)
{
	memset(a, 0, sizeof *a);
	a->script = script;
	a->name = name;
	a->cap = cap;
	a->argv = xmalloc(cap * sizeof *a->argv);
	a->lens = xmalloc(cap * sizeof *a->lens);
}

void store_args_free(struct store_args *a)
{
	free(a->argv);
	free(a->lens);
	a->argv = NULL;
	a->lens = NULL;
	a->argc = a->numkeys = 0;
}

static void args_bytes(struct store_args *a, const char *s, size_t len)
{
	if ((size_t)a->argc == a->cap)
		abort();                /* a builder sized its list wrong: a bug, never input */
	a->argv[a->argc] = s;
	a->lens[a->argc++] = len;
}

static void args_str(struct store_args *a, const char *s)
{
	args_bytes(a, s, strlen(s));
}

/* A key: every key comes before the first argument. */
static void args_key(struct store_args *a, const char *key)
{
	if (a->numkeys != a->argc)
		abort();
	args_str(a, key);
	a->numkeys++;
}

static char *args_number_slot(struct store_args *a)
{
	if (a->nnumbers == STORE_ARGS_NUMBERS)
		abort();
	return a->numbers[a->nnumbers++];
}

static void args_int(struct store_args *a, long long v)
{
	char *n = args_number_slot(a);

	snprintf(n, sizeof a->numbers[0], "%lld", v);
	args_str(a, n);
}

/* A real number with `decimals` digits after the point. */
static void args_real(struct store_args *a, double v, int decimals)
{
	char *n = args_number_slot(a);

	snprintf(n, sizeof a->numbers[0], "%.*f", decimals, v);
	args_str(a, n);
}

/* A client read from a record (untrusted): itself, or "" (nobody) when it is none or names no key. */
static const char *client_or_nobody(const char *client)
{
	return client && strlen(client) < STORE_CLIENT_MAX ? client : "";
}

/*
 * KEYS: job hash, upload string, queue stream, in-flight zset, cpu zset, storage ledger, uploads in flight,
 *       manifest string, the queues' numbers, the counters
 * ARGV: id, manifest, client, now, upload ("" to check), ttl, jobs max, cpu limit, window, quota idle,
 *       log reservation, record reservation, storage quota, high-water percent, upload size, "check"|"record",
 *       timeout
 */
int store_submit_args(struct store_args *a, const struct store_submit *p, bool check)
{
	args_init(a, redis_script_submit, "submit", 27);
	if (job_keys_make(p->id, &a->job) < 0 || client_keys_make(p->client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, a->job.upload);
	args_key(a, p->queue);
	args_key(a, a->client.inflight);
	args_key(a, a->client.cpu);
	args_key(a, a->client.store);
	args_key(a, STORE_KEY_UPLOADING);
	args_key(a, a->job.manifest);
	args_key(a, STORE_KEY_QUEUE_SEQ);
	args_key(a, STORE_KEY_METRICS);
	args_str(a, p->id);
	args_str(a, p->manifest);
	args_str(a, p->client);
	args_int(a, p->now_ms);
	if (check)
		args_bytes(a, "", 0);
	else
		args_bytes(a, p->upload ? p->upload : "", p->upload ? p->upload_len : 0);
	args_int(a, p->ttl_s);
	args_int(a, p->jobs_max);
	args_real(a, p->cpu_limit, 6);
	args_int(a, p->window_ms);
	args_int(a, p->idle_ms);
	args_int(a, p->log_bytes);
	args_int(a, p->base_bytes);
	args_int(a, p->storage_quota);
	args_int(a, p->high_water_percent);
	args_int(a, (long long)p->upload_len);
	args_str(a, check ? "check" : "record");
	args_int(a, p->timeout_s);
	return 0;
}

/* KEYS: in-flight zset, cpu zset, storage ledger. ARGV: now, window, cpu limit */
int store_quota_args(struct store_args *a, const char *client, int64_t now_ms, int64_t window_ms, double cpu_limit)
{
	args_init(a, redis_script_quota, "quota", 6);
	if (client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->client.inflight);
	args_key(a, a->client.cpu);
	args_key(a, a->client.store);
	args_int(a, now_ms);
	args_int(a, window_ms);
	args_real(a, cpu_limit, 6);
	return 0;
}

/* quota_cpu_read.lua's SHA1, made once (the responders' threads share it). */
static char quota_cpu_read_sha[41];
static pthread_once_t quota_cpu_read_once = PTHREAD_ONCE_INIT;

static void quota_cpu_read_sha_make(void)
{
	rconn_script_sha(redis_script_quota_cpu_read, quota_cpu_read_sha);
}

/*
 * EVALSHA quota_cpu_read.lua 1 cpu-zset now window, whole (a->script NULL):
 * rconn_defer_argv sends it as it is. A no-writes script: the responder's
 * ACL lets it read the zset and the running sum, never write them here.
 */
int store_quota_cpu_args(struct store_args *a, const char *client, int64_t now_ms, int64_t window_ms)
{
	args_init(a, NULL, "quota-cpu", 6);
	if (client_keys_make(client, &a->client) < 0)
		return -1;
	pthread_once(&quota_cpu_read_once, quota_cpu_read_sha_make);
	args_str(a, "EVALSHA");
	args_str(a, quota_cpu_read_sha);
	args_str(a, "1");
	args_str(a, a->client.cpu);
	args_int(a, now_ms);
	args_int(a, window_ms);
	return 0;
}

/*
 * KEYS: job hash, upload string, queue stream, log stream, in-flight zset, parked list, storage ledger,
 *       the runners' heartbeats, manifest string, running set, the queues' numbers, the counters
 * ARGV: runner, now, queue entry, failed ttl, running max, lease, id, client
 */
int store_start_args(struct store_args *a, const struct store_start *p, const char *client)
{
	client = client_or_nobody(client);
	args_init(a, redis_script_start, "start", 20);
	if (job_keys_make(p->id, &a->job) < 0 || client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, a->job.upload);
	args_key(a, p->queue);
	args_key(a, a->job.log);
	args_key(a, a->client.inflight);
	args_key(a, a->client.parked);
	args_key(a, a->client.store);
	args_key(a, STORE_KEY_RUNNERS);
	args_key(a, a->job.manifest);
	args_key(a, a->client.running);
	args_key(a, STORE_KEY_QUEUE_SEQ);
	args_key(a, STORE_KEY_METRICS);
	args_str(a, p->runner);
	args_int(a, p->now_ms);
	args_str(a, p->entry_id);
	args_int(a, p->failed_ttl_s);
	args_int(a, p->running_max);
	args_int(a, p->lease_ms);
	args_str(a, p->id);
	args_str(a, client);
	return 0;
}

/*
 * KEYS: job hash, upload string, log stream, queue stream, in-flight zset, cpu zset, outputs hash,
 *       parked list, storage ledger, manifest string, running set, the queues' numbers, the counters
 * ARGV: runner, ttl, queue entry, id, cpu seconds, now, quota idle, client, then field, value pairs
 */
int store_finish_args(struct store_args *a, const struct store_finish *p)
{
	const char *client = p->client ? p->client : "";
	double cpu = p->cpu_seconds;

	args_init(a, redis_script_finish, "finish", 21 + p->nfields);
	/* From Redis, so untrusted: a client that is no quota key is charged nothing. */
	if (!*client || strlen(client) >= STORE_CLIENT_MAX) {
		client = "";
		cpu = 0;
	}
	if (job_keys_make(p->id, &a->job) < 0 || client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, a->job.upload);
	args_key(a, a->job.log);
	args_key(a, p->queue);
	args_key(a, a->client.inflight);
	args_key(a, a->client.cpu);
	args_key(a, a->job.out);
	args_key(a, a->client.parked);
	args_key(a, a->client.store);
	args_key(a, a->job.manifest);
	args_key(a, a->client.running);
	args_key(a, STORE_KEY_QUEUE_SEQ);
	args_key(a, STORE_KEY_METRICS);
	args_str(a, p->runner);
	args_int(a, p->ttl_s);
	args_str(a, p->entry_id);
	args_str(a, p->id);
	args_real(a, cpu, 3);
	args_int(a, p->now_ms);
	args_int(a, p->quota_idle_ms);
	args_str(a, client);
	for (size_t i = 0; i + 1 < p->nfields; i += 2) {
		args_str(a, p->fields[i]);
		args_str(a, p->fields[i + 1]);
	}
	return 0;
}

/*
 * KEYS: job hash, queue stream, log stream, upload string, in-flight zset, parked list, storage ledger,
 *       manifest string, running set, the queues' numbers, the counters
 * ARGV: id, now, queue entry, attempts max, failed ttl, client
 */
int store_reclaim_args(struct store_args *a, const struct store_reclaim *p)
{
	const char *client = client_or_nobody(p->client);

	args_init(a, redis_script_reclaim, "reclaim", 17);
	if (job_keys_make(p->id, &a->job) < 0 || client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, p->queue);
	args_key(a, a->job.log);
	args_key(a, a->job.upload);
	args_key(a, a->client.inflight);
	args_key(a, a->client.parked);
	args_key(a, a->client.store);
	args_key(a, a->job.manifest);
	args_key(a, a->client.running);
	args_key(a, STORE_KEY_QUEUE_SEQ);
	args_key(a, STORE_KEY_METRICS);
	args_str(a, p->id);
	args_int(a, p->now_ms);
	args_str(a, p->entry_id);
	args_int(a, p->attempts_max);
	args_int(a, p->failed_ttl_s);
	args_str(a, client);
	return 0;
}

/*
 * KEYS: job hash, upload string, log stream, in-flight zset, outputs hash, downloads set, storage ledger,
 *       manifest string, the counters
 * ARGV: id, now, ttl, client
 */
int store_cancel_args(struct store_args *a, const struct store_cancel *p)
{
	const char *client = client_or_nobody(p->client);

	args_init(a, redis_script_cancel, "cancel", 13);
	if (job_keys_make(p->id, &a->job) < 0 || client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, a->job.upload);
	args_key(a, a->job.log);
	args_key(a, a->client.inflight);
	args_key(a, a->job.out);
	args_key(a, a->job.dl);
	args_key(a, a->client.store);
	args_key(a, a->job.manifest);
	args_key(a, STORE_KEY_METRICS);
	args_str(a, p->id);
	args_int(a, p->now_ms);
	args_int(a, p->ttl_s);
	args_str(a, client);
	return 0;
}

/*
 * KEYS: job hash, upload string, log stream, outputs hash, downloads set, storage ledger, manifest string
 * ARGV: path ("" for the archive), id, client, now (ms)
 */
int store_downloaded_args(struct store_args *a, const char *id, const char *client, const char *path)
{
	client = client_or_nobody(client);
	args_init(a, redis_script_downloaded, "downloaded", 11);
	if (job_keys_make(id, &a->job) < 0 || client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, a->job.upload);
	args_key(a, a->job.log);
	args_key(a, a->job.out);
	args_key(a, a->job.dl);
	args_key(a, a->client.store);
	args_key(a, a->job.manifest);
	args_str(a, path);
	args_str(a, id);
	args_str(a, client);
	args_int(a, time_now_ms());
	return 0;
}

/*
 * KEYS: job hash, outputs hash, storage ledger
 * ARGV: id, path, bytes, now, ttl, storage quota, results percent, "1" for the first, cost per output,
 *       client
 */
int store_output_args(struct store_args *a, const struct store_output *p)
{
	const char *client = client_or_nobody(p->client);

	args_init(a, redis_script_store_output, "store_output", 13);
	if (job_keys_make(p->id, &a->job) < 0 || client_keys_make(client, &a->client) < 0)
		return -1;
	args_key(a, a->job.job);
	args_key(a, a->job.out);
	args_key(a, a->client.store);
	args_str(a, p->id);
	args_bytes(a, p->path, p->path_len);
	args_bytes(a, p->content ? p->content : "", p->size);
	args_int(a, p->now_ms);
	args_int(a, p->ttl_s);
	args_int(a, p->quota_bytes);
	args_int(a, p->results_percent);
	args_str(a, p->first ? "1" : "0");
	args_int(a, STORE_OUTPUT_COST);
	args_str(a, client);
	return 0;
}

/* KEYS: log stream. ARGV: ttl, then stream ("o" | "e"), bytes pairs */
int store_log_append_args(struct store_args *a, const char *id, int64_t ttl_s, const struct log_entry *entries,
			  size_t n)
{
	args_init(a, redis_script_log_append, "log_append", 2 + 2 * n);
	if (job_keys_make(id, &a->job) < 0)
		return -1;
	args_key(a, a->job.log);
	args_int(a, ttl_s);
	for (size_t i = 0; i < n; i++) {
		args_str(a, entries[i].kind == LOG_STDERR ? "e" : "o");
		args_bytes(a, entries[i].data ? entries[i].data : "", entries[i].len);
	}
	return 0;
}

/* ---- replies */

static bool reply_is(const redisReply *r, const char *s)
{
	return r && r->type == REDIS_REPLY_STRING && strlen(s) == r->len && memcmp(r->str, s, r->len) == 0;
}

/* A number a script answers as an integer or as text. */
static int reply_number(const redisReply *r, double *v)
{
	char *end;

	if (r->type == REDIS_REPLY_INTEGER) {
		*v = (double)r->integer;
		return 0;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || strlen(r->str) != r->len)
		return -1;
	*v = strtod(r->str, &end);
	return *end == '\0' ? 0 : -1;
}

static int reply_unexpected(const redisReply *r, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_ERROR)
		return error_format(err, errlen, "%s", r->str);
	return error_format(err, errlen, "unexpected reply (type %d)", r->type);
}

int store_submit_reply(const redisReply *r, struct store_submit_result *res, char *err, size_t errlen)
{
	static const struct { const char *name; enum store_submit_verdict verdict; } verdicts[] = {
		{ "ok", STORE_SUBMIT_ADMITTED }, { "cpu", STORE_SUBMIT_OVER_CPU }, { "jobs", STORE_SUBMIT_OVER_JOBS },
		{ "storage", STORE_SUBMIT_OVER_STORAGE }, { "memory", STORE_SUBMIT_OVER_MEMORY },
	};
	double used, figure;

	memset(res, 0, sizeof *res);
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "OOM", 3) == 0) {
		/* Redis refused the script whole: it is over its maxmemory. */
		res->verdict = STORE_SUBMIT_REDIS_FULL;
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || reply_number(r->element[1], &used) < 0 ||
	    reply_number(r->element[2], &figure) < 0)
		return reply_unexpected(r, err, errlen);
	for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++)
		if (reply_is(r->element[0], verdicts[i].name)) {
			res->verdict = verdicts[i].verdict;
			res->used = used;
			res->figure = (long long)figure;
			return 0;
		}
	return error_format(err, errlen, "unknown verdict");
}

int store_quota_reply(const redisReply *r, struct store_quota_usage *u, char *err, size_t errlen)
{
	double v[5] = { 0 };

	memset(u, 0, sizeof *u);
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 4)
		return reply_unexpected(r, err, errlen);
	for (size_t i = 0; i < r->elements && i < 5; i++)
		if (reply_number(r->element[i], &v[i]) < 0)
			return error_format(err, errlen, "figure %zu is not a number", i + 1);
	u->cpu_used = v[0];
	u->active = (long long)v[1];
	u->reset_ms = (long long)v[2];
	u->retry_ms = (long long)v[3];
	u->storage_used = (long long)v[4];
	return 0;
}

int store_quota_cpu_reply(const redisReply *r, struct store_quota_usage *u, char *err, size_t errlen)
{
	double us, reset;

	memset(u, 0, sizeof *u);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return reply_unexpected(r, err, errlen);
	if (reply_number(r->element[0], &us) < 0 || reply_number(r->element[1], &reset) < 0 || us < 0 ||
	    us > 9e15 || reset < -9e15 || reset > 9e15)
		return error_format(err, errlen, "the figures are not two numbers");
	/* quota-lib.lua: used = us / 1000000, the same double as quota.lua's. */
	u->cpu_used = us / 1000000;
	u->reset_ms = (long long)reset;
	return 0;
}

/* 1 claimed, 0 nil (nothing to run), -1 not the script's answer. */
int store_start_reply(const redisReply *r, struct store_claim *c, char *err, size_t errlen)
{
	const redisReply *e;

	memset(c, 0, sizeof *c);
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && reply_is(r->element[0], "client"))
		return 2;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
		return reply_unexpected(r, err, errlen);
	for (size_t i = 0; i < 4; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			return error_format(err, errlen, "unexpected reply (element %zu)", i + 1);
	e = r->element[3];
	if (strlen(e->str) != e->len || parse_int64(e->str, 1, INT64_MAX, &c->attempt) < 0)
		return error_format(err, errlen, "the attempt is not a number");
	c->manifest = r->element[0]->str;
	c->manifest_len = r->element[0]->len;
	c->upload = r->element[1]->str;
	c->upload_len = r->element[1]->len;
	c->client = r->element[2]->str;
	return 1;
}

int store_finish_reply(const redisReply *r, enum store_finish_outcome *out, char *err, size_t errlen)
{
	if (reply_is(r, "recorded"))
		*out = STORE_FINISH_RECORDED;
	else if (reply_is(r, "dropped"))
		*out = STORE_FINISH_DROPPED;
	else if (reply_is(r, "lost"))
		*out = STORE_FINISH_LOST;
	else
		return reply_unexpected(r, err, errlen);
	return 0;
}

int store_reclaim_reply(const redisReply *r, enum store_reclaim_outcome *out, char *err, size_t errlen)
{
	if (reply_is(r, "run"))
		*out = STORE_RECLAIM_RUN;
	else if (reply_is(r, "failed"))
		*out = STORE_RECLAIM_FAILED;
	else if (reply_is(r, "gone"))
		*out = STORE_RECLAIM_GONE;
	else
		return reply_unexpected(r, err, errlen);
	return 0;
}

int store_cancel_reply(const redisReply *r, enum job_status *was, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_NIL) {
		*was = JOB_STATUS_NONE;
		return 0;
	}
	if (r->type != REDIS_REPLY_STRING)
		return reply_unexpected(r, err, errlen);
	*was = job_status_parse(r->str, r->len);
	if (*was == JOB_STATUS_UNKNOWN)
		return error_format(err, errlen, "the job had an unknown status");
	return 0;
}

int store_downloaded_reply(const redisReply *r, enum store_downloaded_outcome *out, char *err, size_t errlen)
{
	if (r->type != REDIS_REPLY_INTEGER || r->integer < -1 || r->integer > 1)
		return reply_unexpected(r, err, errlen);
	*out = r->integer == 1 ? STORE_DOWNLOADED_DELETED : r->integer == 0 ? STORE_DOWNLOADED_KEPT
									     : STORE_DOWNLOADED_GONE;
	return 0;
}

int store_output_reply(const redisReply *r, enum store_output_verdict *out, char *err, size_t errlen)
{
	if (reply_is(r, "ok"))
		*out = STORE_OUTPUT_KEPT;
	else if (reply_is(r, "quota"))
		*out = STORE_OUTPUT_OVER_QUOTA;
	else if (reply_is(r, "full"))
		*out = STORE_OUTPUT_FULL;
	else if (reply_is(r, "gone"))
		*out = STORE_OUTPUT_JOB_GONE;
	else
		return reply_unexpected(r, err, errlen);
	return 0;
}

/* ---- calls */

/*
 * Runs the script of *a. With retry_ms, a call Redis does not answer is
 * tried again for that long (a job's claim or result must not be dropped
 * for a Redis restart). NULL when it got no answer (r->error).
 */
static redisReply *store_call(struct rconn *r, const struct store_args *a, int64_t retry_ms)
{
	int64_t give_up = time_mono_ms() + retry_ms;
	redisReply *reply;

	while (!(reply = rconn_script(r, a->script, a->numkeys, a->argc, a->argv, a->lens)) &&
	       time_mono_ms() < give_up) {
		struct timespec ts = { 0, STORE_RETRY_STEP_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return reply;
}

/* r->error for a reply that is not the script's answer: STORE_BAD_REPLY. */
static int store_bad_reply(struct rconn *r, const char *name, const char *why)
{
	snprintf(r->error, sizeof r->error, "%s script: %s", name, why);
	return STORE_BAD_REPLY;
}

/* Builds, calls and frees the arguments: the reply, or NULL with *rc set. */
static redisReply *store_run(struct rconn *r, struct store_args *a, int built, int64_t retry_ms, int *rc)
{
	redisReply *reply = NULL;

	if (built < 0) {
		*rc = store_bad_reply(r, a->name, "an id or a client too long to name a key");
	} else if (!(reply = store_call(r, a, retry_ms))) {
		*rc = STORE_UNREACHABLE;
	}
	store_args_free(a);
	return reply;
}

int store_submit(struct rconn *r, const struct store_submit *p, struct store_submit_result *res)
{
	char err[200];
	int rc = 0;

	memset(res, 0, sizeof *res);
	for (int pass = 0; pass < 2; pass++) {
		struct store_args a;
		int built = store_submit_args(&a, p, pass == 0);
		redisReply *reply = store_run(r, &a, built, 0, &rc);

		if (!reply)
			return rc;
		rc = store_submit_reply(reply, res, err, sizeof err) < 0 ? store_bad_reply(r, "submit", err) : 0;
		freeReplyObject(reply);
		if (rc < 0 || res->verdict != STORE_SUBMIT_ADMITTED)
			break;
	}
	return rc;
}

int store_quota_usage(struct rconn *r, const char *client, int64_t now_ms, int64_t window_ms, double cpu_limit,
		      struct store_quota_usage *u)
{
	struct store_args a;
	int built = store_quota_args(&a, client, now_ms, window_ms, cpu_limit), rc = 0;
	redisReply *reply = store_run(r, &a, built, 0, &rc);
	char err[200];

	memset(u, 0, sizeof *u);
	if (!reply)
		return rc;
	rc = store_quota_reply(reply, u, err, sizeof err) < 0 ? store_bad_reply(r, "quota", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_quota_cpu_send(struct rconn *r, const char *client, int64_t now_ms, int64_t window_ms)
{
	struct store_args a;
	int rc = 0;

	if (store_quota_cpu_args(&a, client, now_ms, window_ms) < 0)
		rc = store_bad_reply(r, a.name, "a client too long to name a key");
	else if (rconn_defer_argv(r, a.argc, a.argv, a.lens) < 0)
		rc = STORE_UNREACHABLE;
	store_args_free(&a);
	return rc;
}

int store_quota_cpu_take(struct rconn *r, struct store_quota_usage *u)
{
	redisReply *reply = rconn_deferred_take(r);
	char err[200];
	int rc;

	memset(u, 0, sizeof *u);
	if (!reply)
		return STORE_UNREACHABLE;
	rc = store_quota_cpu_reply(reply, u, err, sizeof err) < 0 ? store_bad_reply(r, "quota-cpu", err) : 0;
	freeReplyObject(reply);
	return rc;
}

/*
 * One start.lua call naming `client`: 1 a claim (c holds the reply), 0
 * nothing to run, 2 the client is not the record's; else a store error,
 * already reported (STORE_UNREACHABLE: Redis did not answer by give_up).
 */
static int store_start_call(struct rconn *r, const struct store_start *p, const char *client, int64_t give_up,
			    struct store_claim *c, char *err, size_t errlen)
{
	struct store_args a;
	redisReply *reply;
	int built, rc = 0;

	memset(c, 0, sizeof *c);
	built = store_start_args(&a, p, client);
	if (!(reply = store_run(r, &a, built, give_up - time_mono_ms(), &rc)))
		return rc;
	rc = store_start_reply(reply, c, err, errlen);
	if (rc == 1) {
		c->reply = reply;       /* the claim's strings point into it */
		return 1;
	}
	freeReplyObject(reply);
	memset(c, 0, sizeof *c);
	return rc < 0 ? store_bad_reply(r, "start", err) : rc;
}

int store_job_start(struct rconn *r, const struct store_start *p, struct store_claim *c)
{
	int64_t give_up = time_mono_ms() + p->retry_ms;
	char client[STORE_CLIENT_MAX], err[200];
	int rc;

	memset(c, 0, sizeof *c);
	/* The client its queue entry named: one round trip, when it is the record's (start.lua checks). */
	if (p->entry_client && *p->entry_client) {
		rc = store_start_call(r, p, p->entry_client, give_up, c, err, sizeof err);
		if (rc != 2)
			return rc;
		/* not the record's: read it, as for an entry that names none */
	}
	/* The client first: it names the keys of the client's share of the slots. Without a
	 * record, the script still drops the entry. */
	while ((rc = store_job_client(r, p->id, client, sizeof client)) == STORE_UNREACHABLE &&
	       time_mono_ms() < give_up) {
		struct timespec ts = { 0, STORE_RETRY_STEP_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (rc == STORE_UNREACHABLE)
		return rc;
	rc = store_start_call(r, p, client, give_up, c, err, sizeof err);
	/* 2: the record's client changed since it was read just now (it never does) */
	return rc == 2 ? store_bad_reply(r, "start", "the record's client changed meanwhile") : rc;
}

void store_claim_free(struct store_claim *c)
{
	if (c->reply)
		freeReplyObject(c->reply);
	memset(c, 0, sizeof *c);
}

int store_job_finish(struct rconn *r, const struct store_finish *p, enum store_finish_outcome *out)
{
	struct store_args a;
	int built = store_finish_args(&a, p), rc = 0;
	redisReply *reply = store_run(r, &a, built, p->retry_ms, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_finish_reply(reply, out, err, sizeof err) < 0 ? store_bad_reply(r, "finish", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_job_reclaim(struct rconn *r, const struct store_reclaim *p, enum store_reclaim_outcome *out)
{
	struct store_args a;
	int built = store_reclaim_args(&a, p), rc = 0;
	redisReply *reply = store_run(r, &a, built, 0, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_reclaim_reply(reply, out, err, sizeof err) < 0 ? store_bad_reply(r, "reclaim", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_job_cancel(struct rconn *r, const struct store_cancel *p, enum job_status *was)
{
	struct store_args a;
	int built = store_cancel_args(&a, p), rc = 0;
	redisReply *reply = store_run(r, &a, built, 0, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_cancel_reply(reply, was, err, sizeof err) < 0 ? store_bad_reply(r, "cancel", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_job_downloaded(struct rconn *r, const char *id, const char *client, const char *path,
			 enum store_downloaded_outcome *out)
{
	struct store_args a;
	int built = store_downloaded_args(&a, id, client, path), rc = 0;
	redisReply *reply = store_run(r, &a, built, 0, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_downloaded_reply(reply, out, err, sizeof err) < 0 ? store_bad_reply(r, "downloaded", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_output_put(struct rconn *r, const struct store_output *p, enum store_output_verdict *out)
{
	struct store_args a;
	int built = store_output_args(&a, p), rc = 0;
	redisReply *reply = store_run(r, &a, built, 0, &rc);
	char err[200];

	if (!reply)
		return rc;
	rc = store_output_reply(reply, out, err, sizeof err) < 0 ? store_bad_reply(r, "store_output", err) : 0;
	freeReplyObject(reply);
	return rc;
}

int store_log_append(struct rconn *r, const char *id, int64_t ttl_s, const struct log_entry *entries, size_t n)
{
	struct store_args a;
	int built = store_log_append_args(&a, id, ttl_s, entries, n), rc = 0;
	redisReply *reply = store_run(r, &a, built, 0, &rc);

	if (!reply)
		return rc;
	if (reply->type == REDIS_REPLY_ERROR)
		rc = store_bad_reply(r, "log_append", reply->str);
	else if (reply->type != REDIS_REPLY_INTEGER || reply->integer != (long long)n)
		rc = store_bad_reply(r, "log_append", "unexpected reply");
	freeReplyObject(reply);
	return rc;
}

/* ---- plain commands */

int store_queue_taken(struct rconn *r, const char *queue, int64_t *taken)
{
	char field[STORE_KEY_MAX + sizeof STORE_QUEUE_SEQ_TAKEN];
	const char *argv[] = { "HGET", STORE_KEY_QUEUE_SEQ, field };
	redisReply *reply;
	int rc = 0;

	*taken = 0;
	if (!store_key_is_queue(queue) || store_queue_taken_field(field, sizeof field, queue) < 0)
		return store_bad_reply(r, "HGET queue-seq", "not a queue");
	if (!(reply = rconn_argv(r, 0, 3, argv, NULL)))
		return STORE_UNREACHABLE;
	/* nil: nothing taken off that queue yet (or its numbers expired with its last job): 0 */
	if (reply->type == REDIS_REPLY_STRING) {
		if (strlen(reply->str) != reply->len || parse_int64(reply->str, 0, INT64_MAX, taken) < 0) {
			*taken = 0;
			rc = store_bad_reply(r, "HGET queue-seq", "not a number");
		}
	} else if (reply->type != REDIS_REPLY_NIL) {
		rc = store_bad_reply(r, "HGET queue-seq", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
	}
	freeReplyObject(reply);
	return rc;
}

int store_job_client(struct rconn *r, const char *id, char *out, size_t outlen)
{
	struct job_keys k;
	const char *argv[] = { "HGET", k.job, JOB_F_CLIENT };
	redisReply *reply;
	int rc = 1;

	if (outlen)
		*out = '\0';
	if (job_keys_make(id, &k) < 0)
		return 0;               /* no key, no record */
	if (!(reply = rconn_argv(r, 0, 3, argv, NULL)))
		return STORE_UNREACHABLE;
	if (reply->type == REDIS_REPLY_NIL)
		rc = 0;
	else if (reply->type != REDIS_REPLY_STRING)
		rc = store_bad_reply(r, "HGET client", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
	else if (reply->len < outlen && reply->len < STORE_CLIENT_MAX && strlen(reply->str) == reply->len)
		memcpy(out, reply->str, reply->len + 1);
	/* else a client longer than a quota key: not one, so "" (found, but nobody's) */
	freeReplyObject(reply);
	return rc;
}

/* ---- the same steps for the session scripts' builders and calls (common/store_sessions.c and the
 * runner's common/store_sessions_runner.c): declared in store_scripts.h */

void store_args_begin(struct store_args *a, const char *script, const char *name, size_t cap)
{
	args_init(a, script, name, cap);
}

void store_args_key(struct store_args *a, const char *key)
{
	args_key(a, key);
}

void store_args_str(struct store_args *a, const char *s)
{
	args_str(a, s);
}

void store_args_bytes(struct store_args *a, const char *s, size_t len)
{
	args_bytes(a, s, len);
}

void store_args_int(struct store_args *a, long long v)
{
	args_int(a, v);
}

void store_args_real(struct store_args *a, double v, int decimals)
{
	args_real(a, v, decimals);
}

redisReply *store_args_run(struct rconn *r, struct store_args *a, int built, int64_t retry_ms, int *rc)
{
	return store_run(r, a, built, retry_ms, rc);
}

int store_reply_bad(struct rconn *r, const char *name, const char *why)
{
	return store_bad_reply(r, name, why);
}

int store_reply_unexpected(const redisReply *r, char *err, size_t errlen)
{
	return reply_unexpected(r, err, errlen);
}

bool store_reply_is(const redisReply *r, const char *s)
{
	return reply_is(r, s);
}

int store_reply_number(const redisReply *r, double *v)
{
	return reply_number(r, v);
}
