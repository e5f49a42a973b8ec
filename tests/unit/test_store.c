/*
 * The job store without a Redis (common/store.h): key names, the status
 * names and their parsing, the argument lists each script is called with
 * (checked against the script's own text: the KEYS and ARGV it reads),
 * and the readers of what Redis answers, which is untrusted input: replies
 * are made from protocol bytes by hiredis's own reader, well formed or not.
 */
#include "config.h"
#include "store.h"
#include "store_scripts.h"
#include "store_sessions.h"
#include "store_sessions_runner.h"
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID "job-abcdefghijklmnopqrstuvwxyz"
/* 84 characters: longer than any quota key (an address, or "key:" and a 64-byte key name) */
#define LONG_CLIENT "key:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

/* ---- replies from protocol text */

static char resp_text[65536];
static size_t resp_len;

static void resp_reset(void)
{
	resp_len = 0;
}

static __attribute__((format(printf, 1, 2))) void resp_add(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	resp_len += (size_t)vsnprintf(resp_text + resp_len, sizeof resp_text - resp_len, fmt, ap);
	va_end(ap);
}

static void resp_bulk_len(const char *s, size_t len)
{
	resp_add("$%zu\r\n", len);
	memcpy(resp_text + resp_len, s, len);
	resp_len += len;
	resp_add("\r\n");
}

static void resp_bulk(const char *s)
{
	resp_bulk_len(s, strlen(s));
}

static void resp_array(int n)
{
	resp_add("*%d\r\n", n);
}

/* The reply the text so far makes (caller frees), or NULL. */
static redisReply *resp_reply(void)
{
	redisReader *reader = redisReaderCreate();
	void *reply = NULL;

	redisReaderFeed(reader, resp_text, resp_len);
	if (redisReaderGetReply(reader, &reply) != REDIS_OK)
		reply = NULL;
	redisReaderFree(reader);
	resp_reset();
	return reply;
}

/* An XRANGE entry [id, [field, value, ...]] with nfields strings. */
static void resp_entry(const char *id, int nfields, ...)
{
	va_list ap;

	resp_array(2);
	resp_bulk(id);
	resp_array(nfields);
	va_start(ap, nfields);
	for (int i = 0; i < nfields; i++)
		resp_bulk(va_arg(ap, const char *));
	va_end(ap);
}

/* ---- scripts' own text */

/* The highest n in "WHAT[n]" in the script's text (WHAT: KEYS or ARGV). */
static int script_max_index(const char *script, const char *what)
{
	size_t wlen = strlen(what);
	int max = 0;

	for (const char *p = strstr(script, what); p; p = strstr(p + 1, what)) {
		if (p[wlen] == '[') {
			int n = atoi(p + wlen + 1);
			if (n > max)
				max = n;
		}
	}
	return max;
}

/*
 * The call's lists against the script: as many keys as it reads KEYS, as
 * many arguments as it reads ARGV (at least, when it reads the rest with
 * #ARGV), every key under sr: and every argument not a key.
 */
static void check_args(const struct store_args *a, const char *what)
{
	int keys = script_max_index(a->script, "KEYS"), args = script_max_index(a->script, "ARGV");
	bool rest = strstr(a->script, "#ARGV") != NULL, named = true, plain = true;

	is_int(a->numkeys, keys, "%s: the keys the script reads (%d)", what, keys);
	if (rest)
		ok(a->argc - a->numkeys >= args, "%s: at least the %d arguments the script reads", what, args);
	else
		is_int(a->argc - a->numkeys, args, "%s: the arguments the script reads (%d)", what, args);
	for (int i = 0; i < a->argc; i++) {
		bool key = a->lens[i] >= 3 && memcmp(a->argv[i], "sr:", 3) == 0;

		if (i < a->numkeys && !key)
			named = false;
		if (i >= a->numkeys && key)
			plain = false;
	}
	ok(named, "%s: every key is under sr:", what);
	ok(plain, "%s: no argument is a key (keys go in KEYS)", what);
}

static const char *arg(const struct store_args *a, int i)
{
	return i < a->argc ? a->argv[i] : NULL;
}

/* ---- tests */

static void test_keys(void)
{
	struct job_keys k;
	struct client_keys c;
	char buf[STORE_RUNNER_KEY_MAX], small[12];
	char long_id[STORE_ID_MAX + 1];

	is_int(job_keys_make(ID, &k), 0, "a job's keys are made");
	is_str(k.job, "sr:{" ID "}:job", "the record");
	is_str(k.upload, "sr:{" ID "}:upload", "the upload");
	is_str(k.manifest, "sr:{" ID "}:manifest", "the manifest");
	is_str(k.log, "sr:{" ID "}:log", "the log");
	is_str(k.out, "sr:{" ID "}:out", "the outputs");
	is_str(k.dl, "sr:{" ID "}:dl", "the downloads");
	is_str(k.archive_lock, "sr:{" ID "}:archive-lock", "the archive lock");
	memset(long_id, 'a', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	ok(job_keys_make(long_id, &k) < 0 && *k.job == '\0', "an id too long for a key makes none");
	ok(job_keys_make("", &k) < 0 && *k.log == '\0', "nor does an empty id");

	is_int(client_keys_make("192.0.2.7", &c), 0, "a client's keys are made");
	is_str(c.inflight, "sr:inflight:{192.0.2.7}", "its jobs in flight");
	is_str(c.running, "sr:running:{192.0.2.7}", "its running jobs");
	is_str(c.cpu, "sr:cpu:{192.0.2.7}", "its CPU charges");
	is_str(c.store, "sr:store:{192.0.2.7}", "its storage ledger");
	is_str(c.parked, "sr:parked:{192.0.2.7}", "its parked jobs");
	client_keys_make("2001:db8:1:2::/64", &c);
	is_str(c.inflight, "sr:inflight:{2001:db8:1:2::/64}", "an IPv6 /64 names keys too");
	client_keys_make("", &c);
	is_str(c.cpu, "sr:cpu:{}", "\"\" is nobody's keys");
	ok(client_keys_make(LONG_CLIENT, &c) < 0 && *c.store == '\0',
	   "a client longer than a quota key makes none");

	is_int(store_key_runner(buf, sizeof buf, "host:42"), 0, "a runner's key is made");
	is_str(buf, "sr:runner:host:42", "sr:runner:NAME");
	ok(store_key_runner(small, sizeof small, "host:42") < 0 && *small == '\0', "a runner key that does not fit is none");
	is_int(store_key_gpu_queue(buf, sizeof buf, 24, "12.2"), 0, "a GPU queue is named");
	is_str(buf, "sr:queue:gpu:24g-cuda12.2", "sr:queue:gpu:<vram>g-cuda<version>");
	ok(store_key_is_gpu_queue(buf) && store_key_is_queue(buf), "... and is a (GPU) queue");
	ok(store_key_is_queue(STORE_KEY_QUEUE) && !store_key_is_gpu_queue(STORE_KEY_QUEUE),
	   "sr:queue is a queue, not a GPU one");
	ok(!store_key_is_queue("sr:queue:gpu:") && !store_key_is_queue("sr:queue:gpu:a b") &&
	   !store_key_is_queue("sr:queuex") && !store_key_is_queue("sr:{" ID "}:job") && !store_key_is_queue(""),
	   "other names are no queue");

	is_int(store_queue_taken_field(buf, sizeof buf, STORE_KEY_QUEUE), 0, "the queue's taken mark is named");
	is_str(buf, "sr:queue taken", "QUEUE + \" taken\": a field of sr:queue-seq");
	ok(strstr(redis_script_start, "KEYS[3] .. ' taken'") != NULL,
	   "... as start.lua names it for the queue it takes from");
	ok(store_queue_taken_field(small, sizeof small, STORE_KEY_QUEUE) < 0 && *small == '\0',
	   "a taken field that does not fit is none");
}

/* Every script is in the list the runner loads, by its name, once. */
static void test_script_list(void)
{
	static const struct { const char *name, *source; } scripts[] = {
		{ "submit", redis_script_submit }, { "start", redis_script_start }, { "finish", redis_script_finish },
		{ "cancel", redis_script_cancel }, { "quota", redis_script_quota }, { "reclaim", redis_script_reclaim },
		{ "downloaded", redis_script_downloaded }, { "store_output", redis_script_store_output },
		{ "log_append", redis_script_log_append },
		/* the responders' session scripts (common/store_sessions.h) */
		{ "session_create", redis_script_session_create }, { "session_request", redis_script_session_request },
		{ "session_abandon", redis_script_session_abandon }, { "session_lost", redis_script_session_lost },
		/* the WebSocket gateway's (ws/pty.c) */
		{ "session_pty_input", redis_script_session_pty_input },
		/* the responders' RateLimit headers' read (fcgi/quota.c) */
		{ "quota_cpu_read", redis_script_quota_cpu_read },
		/* the runners' session scripts (common/store_sessions_runner.h) */
		{ "session_claim", redis_script_session_claim }, { "session_ready", redis_script_session_ready },
		{ "session_charge", redis_script_session_charge }, { "session_end", redis_script_session_end },
		{ "session_snapshot", redis_script_session_snapshot }, { "session_reply", redis_script_session_reply },
	};
	size_t n = 0;
	bool listed = true;

	while (redis_scripts[n] && redis_script_names[n])
		n++;
	ok(!redis_scripts[n] && !redis_script_names[n], "the scripts and their names end together");
	is_int((long long)n, (long long)(sizeof scripts / sizeof scripts[0]), "every script is listed");
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		size_t found = 0;

		for (size_t j = 0; j < n; j++)
			if (redis_scripts[j] == scripts[i].source && strcmp(redis_script_names[j], scripts[i].name) == 0)
				found++;
		if (found != 1)
			printf("# %s is listed %zu times\n", scripts[i].name, found);
		listed &= found == 1;
	}
	ok(listed, "... each once, under its own name");
}

/* The statuses the Lua scripts write or compare themselves ("completed" comes only from the runner,
 * in finish.lua's fields), as they spell them. */
static const char *const script_statuses[] = { "queued", "running", "failed", "cancelled" };

static void test_statuses(void)
{
	static const enum job_status all[] = { JOB_STATUS_QUEUED, JOB_STATUS_RUNNING, JOB_STATUS_COMPLETED,
					       JOB_STATUS_FAILED, JOB_STATUS_CANCELLED };
	static const char *const names[] = { "queued", "running", "completed", "failed", "cancelled" };
	bool round = true, named = true;
	redisReply *r;

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const char *n = job_status_name(all[i]);

		named &= n && strcmp(n, names[i]) == 0;
		round &= n && job_status_parse(n, strlen(n)) == all[i];
	}
	ok(named, "the statuses are named as the scripts write them");
	{
		/* ... and the scripts do: each is a status, and in one of them, quoted */
		const char *scripts[] = { redis_script_submit, redis_script_start, redis_script_finish,
					  redis_script_cancel, redis_script_reclaim };
		bool used = true;

		for (size_t i = 0; i < sizeof script_statuses / sizeof script_statuses[0]; i++) {
			char quoted[32];
			bool seen = false;

			snprintf(quoted, sizeof quoted, "'%s'", script_statuses[i]);
			for (size_t j = 0; j < sizeof scripts / sizeof scripts[0]; j++)
				seen |= strstr(scripts[j], quoted) != NULL;
			if (!seen)
				printf("# no script has %s\n", quoted);
			used &= seen && job_status_parse(script_statuses[i], strlen(script_statuses[i])) != JOB_STATUS_UNKNOWN;
		}
		ok(used, "the statuses the scripts use are the enum's names");
	}
	ok(round, "every name parses back to its status");
	ok(!job_status_name(JOB_STATUS_NONE) && !job_status_name(JOB_STATUS_UNKNOWN) &&
	   !job_status_name((enum job_status)99), "NONE, UNKNOWN and no status have no name");
	is_int(job_status_parse(NULL, 0), JOB_STATUS_NONE, "no field is NONE");
	is_int(job_status_parse("Queued", 6), JOB_STATUS_UNKNOWN, "names are case-sensitive");
	is_int(job_status_parse("queued ", 7), JOB_STATUS_UNKNOWN, "and exact");
	is_int(job_status_parse("queue", 5), JOB_STATUS_UNKNOWN, "a prefix is no status");
	is_int(job_status_parse("queued\0x", 8), JOB_STATUS_UNKNOWN, "nor is a name with a NUL in it");
	is_int(job_status_parse("running", 3), JOB_STATUS_UNKNOWN, "the length counts");
	ok(!job_status_ended(JOB_STATUS_QUEUED) && !job_status_ended(JOB_STATUS_RUNNING), "queued and running go on");
	ok(job_status_ended(JOB_STATUS_COMPLETED) && job_status_ended(JOB_STATUS_FAILED) &&
	   job_status_ended(JOB_STATUS_CANCELLED) && job_status_ended(JOB_STATUS_UNKNOWN) &&
	   job_status_ended(JOB_STATUS_NONE), "everything else has ended");

	resp_bulk("running");
	r = resp_reply();
	is_int(job_status_from_reply(r), JOB_STATUS_RUNNING, "a status from a reply");
	freeReplyObject(r);
	resp_add("$-1\r\n");
	r = resp_reply();
	is_int(job_status_from_reply(r), JOB_STATUS_NONE, "nil is NONE");
	freeReplyObject(r);
	resp_add(":1\r\n");
	r = resp_reply();
	is_int(job_status_from_reply(r), JOB_STATUS_UNKNOWN, "an integer is UNKNOWN");
	freeReplyObject(r);
}

static void test_args(void)
{
	const char *fields[] = { JOB_F_STATUS, "completed", JOB_F_EXIT_CODE, "0" };
	struct store_submit sub = {
		.id = ID, .client = "192.0.2.7", .queue = STORE_KEY_QUEUE, .manifest = "{}", .upload = "UP\0LOAD",
		.upload_len = 7, .now_ms = 1700000000000, .ttl_s = 3600, .jobs_max = 3, .cpu_limit = 10,
		.window_ms = 60000, .idle_ms = 3600000, .log_bytes = 1000, .base_bytes = 2050,
		.storage_quota = 1 << 20, .high_water_percent = 80, .timeout_s = 42,
	};
	struct store_finish fin = { .id = ID, .queue = STORE_KEY_QUEUE, .entry_id = "1-0", .runner = "r1",
				    .client = "192.0.2.7", .now_ms = 5, .ttl_s = 60, .quota_idle_ms = 7,
				    .cpu_seconds = 1.23456, .fields = fields, .nfields = 4 };
	struct store_start start = { .id = ID, .queue = STORE_KEY_QUEUE, .entry_id = "1-0", .runner = "r1",
				     .now_ms = 5, .failed_ttl_s = 60, .running_max = 0, .lease_ms = LEASE_MS };
	struct store_reclaim rec = { .id = ID, .queue = "sr:queue:gpu:24g-cuda12.2", .entry_id = "2-0",
				     .client = "192.0.2.7", .now_ms = 5, .attempts_max = 2, .failed_ttl_s = 60 };
	struct store_cancel can = { .id = ID, .client = "192.0.2.7", .now_ms = 5, .ttl_s = 60 };
	struct store_output out = { .id = ID, .client = "192.0.2.7", .path = "a/b.txt", .path_len = 7,
				    .content = "x\0y", .size = 3, .first = true, .now_ms = 5, .ttl_s = 60,
				    .quota_bytes = 100, .results_percent = 95 };
	struct log_entry entries[] = { { .kind = LOG_STDOUT, .data = "out", .len = 3 },
				       { .kind = LOG_STDERR, .data = "e\0rr", .len = 4 } };
	struct store_args a;

	is_int(store_submit_args(&a, &sub, true), 0, "submit's check is built");
	check_args(&a, "submit (check)");
	is_str(arg(&a, 0), "sr:{" ID "}:job", "submit: KEYS[1] is the record");
	is_str(arg(&a, 2), STORE_KEY_QUEUE, "submit: KEYS[3] is the queue");
	is_str(arg(&a, 3), "sr:inflight:{192.0.2.7}", "submit: KEYS[4] is the client's jobs in flight");
	is_str(arg(&a, 7), "sr:{" ID "}:manifest", "submit: KEYS[8] is the manifest's own key");
	is_str(arg(&a, 8), STORE_KEY_QUEUE_SEQ, "submit: KEYS[9] is the queues' numbers");
	is_str(arg(&a, a.numkeys + 1), "{}", "submit: the manifest goes as an argument, to its key");
	is_int(a.lens[a.numkeys + 4], 0, "submit's check sends no upload");
	is_str(arg(&a, a.numkeys + 14), "7", "... but its size");
	is_str(arg(&a, a.numkeys + 15), "check", "... and says check");
	is_str(arg(&a, a.argc - 1), "42", "submit: the timeout comes last, for the record");
	is_str(arg(&a, a.numkeys + 7), "10.000000", "the CPU limit with six decimals");
	store_args_free(&a);
	store_submit_args(&a, &sub, false);
	ok(a.lens[a.numkeys + 4] == 7 && memcmp(a.argv[a.numkeys + 4], "UP\0LOAD", 7) == 0,
	   "submit's record sends the upload, binary-safe");
	is_str(arg(&a, a.numkeys + 15), "record", "... and says record");
	store_args_free(&a);
	sub.client = LONG_CLIENT;
	ok(store_submit_args(&a, &sub, true) < 0, "a client too long for a key is refused");
	store_args_free(&a);

	is_int(store_quota_args(&a, "192.0.2.7", 5, 60000, 10), 0, "quota is built");
	check_args(&a, "quota");
	is_str(arg(&a, 0), "sr:inflight:{192.0.2.7}", "quota: KEYS[1] is the client's jobs in flight");
	is_str(arg(&a, 2), "sr:store:{192.0.2.7}", "quota: KEYS[3] is the ledger");
	store_args_free(&a);

	/* The RateLimit headers' read: quota_cpu_read.lua, a whole EVALSHA deferred as it is (fcgi/quota.c). */
	is_int(store_quota_cpu_args(&a, "192.0.2.7", 100000, 60000), 0, "quota-cpu is built");
	ok(a.script == NULL && a.argc == 6, "quota-cpu: a whole command of six words");
	is_str(arg(&a, 0), "EVALSHA", "quota-cpu: EVALSHA (the responder's ACL allows it on sr:*)");
	{
		char sha[41];

		rconn_script_sha(redis_script_quota_cpu_read, sha);
		is_str(arg(&a, 1), sha, "quota-cpu: of quota_cpu_read.lua");
	}
	is_str(arg(&a, 2), "1", "quota-cpu: one key");
	is_str(arg(&a, 3), "sr:cpu:{192.0.2.7}", "quota-cpu: the client's CPU zset");
	is_str(arg(&a, 4), "100000", "quota-cpu: now");
	is_str(arg(&a, 5), "60000", "quota-cpu: the window");
	ok(strncmp(redis_script_quota_cpu_read, "#!lua flags=no-writes\n", 22) == 0,
	   "quota-cpu: a no-writes script (it prunes nothing)");
	ok(strstr(redis_script_quota_cpu_read, "quota_cpu_peek(KEYS[1]") != NULL &&
	   strstr(redis_script_quota_cpu_read, "local function quota_cpu_peek(") != NULL,
	   "quota-cpu: quota-lib.lua's quota_cpu_peek, inlined");
	ok(strstr(redis_script_quota, "ZREMRANGEBYSCORE', cpu_key, '-inf', string.format('%.0f', from)") != NULL &&
	   strstr(redis_script_quota_cpu_read, "'(' .. string.format('%.0f', from), '+inf'") != NULL,
	   "quota-cpu: the same window as quota_cpu's (which drops score <= now - window)");
	ok(strstr(redis_script_finish, "quota_charge_add(KEYS[6]") != NULL &&
	   strstr(redis_script_session_charge, "quota_charge_add(KEYS[2]") != NULL,
	   "finish.lua and session_charge.lua charge through quota_charge_add (the running sum with the zset)");
	store_args_free(&a);
	ok(store_quota_cpu_args(&a, LONG_CLIENT, 100000, 60000) < 0, "quota-cpu: a client too long for a key is refused");
	store_args_free(&a);

	is_int(store_start_args(&a, &start, "192.0.2.7"), 0, "start is built");
	check_args(&a, "start");
	is_str(arg(&a, 5), "sr:parked:{192.0.2.7}", "start: the client's parked list");
	is_str(arg(&a, 7), STORE_KEY_RUNNERS, "start: the runners' heartbeats, for the fleet's slots");
	is_str(arg(&a, 8), "sr:{" ID "}:manifest", "start: KEYS[9], the manifest it returns");
	is_str(arg(&a, 9), "sr:running:{192.0.2.7}", "start: KEYS[10], the client's running jobs");
	is_str(arg(&a, 10), STORE_KEY_QUEUE_SEQ, "start: KEYS[11], the queues' numbers (the taken mark)");
	is_str(arg(&a, a.argc - 1), "192.0.2.7", "start: the client the keys were made from, to check");
	store_args_free(&a);
	is_int(store_start_args(&a, &start, LONG_CLIENT), 0, "start with a client that is no quota key is built");
	is_str(arg(&a, a.argc - 1), "", "... for nobody");
	store_args_free(&a);
	ok(strstr(redis_script_submit, "'id', ARGV[1], 'client', ARGV[3]") != NULL,
	   "submit: the queue entry names the client (the claim's first guess)");
	ok(strstr(redis_script_start, "if ARGV[8] ~= '' and client ~= ARGV[8] then\n  return {'client'}") != NULL,
	   "start: a client that is not the record's is sent back before anything depends on it");

	is_int(store_finish_args(&a, &fin), 0, "finish is built");
	check_args(&a, "finish");
	is_str(arg(&a, a.numkeys + 4), "1.235", "finish: the CPU with three decimals");
	is_str(arg(&a, a.numkeys + 7), "192.0.2.7", "finish: the client, to check against the record");
	is_str(arg(&a, a.argc - 4), JOB_F_STATUS, "finish: the fields come last");
	is_str(arg(&a, a.argc - 1), "0", "... in order");
	is_str(arg(&a, 5), "sr:cpu:{192.0.2.7}", "finish: the client's CPU is charged");
	ok(strcmp(arg(&a, 9), "sr:{" ID "}:manifest") == 0 && strcmp(arg(&a, 10), "sr:running:{192.0.2.7}") == 0 &&
	   strcmp(arg(&a, 11), STORE_KEY_QUEUE_SEQ) == 0,
	   "finish: KEYS[10..12], the manifest, the running set and the queues' numbers (unparking)");
	store_args_free(&a);
	fin.client = "";
	store_finish_args(&a, &fin);
	is_str(arg(&a, a.numkeys + 4), "0.000", "a job without a client is charged nothing");
	store_args_free(&a);
	fin.client = LONG_CLIENT;
	is_int(store_finish_args(&a, &fin), 0, "a client that is no quota key still records the result");
	is_str(arg(&a, a.numkeys + 4), "0.000", "... charging nothing");
	is_str(arg(&a, 5), "sr:cpu:{}", "... to nobody");
	store_args_free(&a);

	is_int(store_reclaim_args(&a, &rec), 0, "reclaim is built");
	check_args(&a, "reclaim");
	is_str(arg(&a, 1), "sr:queue:gpu:24g-cuda12.2", "reclaim: the entry's queue");
	ok(strcmp(arg(&a, 7), "sr:{" ID "}:manifest") == 0 && strcmp(arg(&a, 8), "sr:running:{192.0.2.7}") == 0 &&
	   strcmp(arg(&a, 9), STORE_KEY_QUEUE_SEQ) == 0,
	   "reclaim: KEYS[8..10], the manifest, the running set and the queues' numbers");
	store_args_free(&a);

	is_int(store_cancel_args(&a, &can), 0, "cancel is built");
	check_args(&a, "cancel");
	is_str(arg(&a, 3), "sr:inflight:{192.0.2.7}", "cancel: KEYS[4], the client's jobs in flight");
	is_str(arg(&a, 7), "sr:{" ID "}:manifest", "cancel: KEYS[8], the manifest it deletes");
	store_args_free(&a);

	is_int(store_downloaded_args(&a, ID, "192.0.2.7", "a/b.txt"), 0, "downloaded is built");
	check_args(&a, "downloaded");
	is_str(arg(&a, 5), "sr:store:{192.0.2.7}", "downloaded: the ledger the job leaves");
	is_str(arg(&a, 6), "sr:{" ID "}:manifest", "downloaded: KEYS[7], the manifest");
	store_args_free(&a);

	is_int(store_output_args(&a, &out), 0, "store_output is built");
	check_args(&a, "store_output");
	ok(a.lens[a.numkeys + 2] == 3 && memcmp(a.argv[a.numkeys + 2], "x\0y", 3) == 0,
	   "store_output: the content, binary-safe");
	store_args_free(&a);

	is_int(store_log_append_args(&a, ID, 60, entries, 2), 0, "log_append is built");
	check_args(&a, "log_append");
	is_int(a.argc, 6, "log_append: the log, the TTL and two entries");
	ok(strcmp(arg(&a, 2), "o") == 0 && strcmp(arg(&a, 4), "e") == 0 && a.lens[5] == 4 &&
	   memcmp(a.argv[5], "e\0rr", 4) == 0, "... stream and bytes of each, in order");
	store_args_free(&a);

	/* The scripts name no key themselves but through job-lib.lua's key_ functions. */
	{
		const char *scripts[] = { redis_script_submit, redis_script_start, redis_script_finish,
					  redis_script_cancel, redis_script_quota, redis_script_reclaim,
					  redis_script_downloaded, redis_script_store_output, redis_script_log_append };
		int named = 0;

		for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
			for (const char *line = scripts[i]; line && *line;) {
				const char *end = strchr(line, '\n'), *sr = strstr(line, "'sr:");
				size_t len = end ? (size_t)(end - line) : strlen(line);

				if (sr && (size_t)(sr - line) < len && strncmp(line + strspn(line, " "), "--", 2) != 0 &&
				    strncmp(line, "local function key_", 19) != 0) {
					printf("# a key named outside the key_ functions: %.*s\n", (int)len, line);
					named++;
				}
				line = end ? end + 1 : NULL;
			}
		}
		is_int(named, 0, "no script names a key but by job-lib.lua's key_ functions");
		ok(strstr(redis_script_finish, "local function key_job(") != NULL, "... which finish.lua has inlined");
	}
}

static void test_replies(void)
{
	struct store_submit_result res;
	struct store_quota_usage u;
	struct store_claim c;
	enum store_finish_outcome fo;
	enum store_reclaim_outcome ro;
	enum store_output_verdict ov;
	enum store_downloaded_outcome dl;
	enum job_status was;
	char err[200];
	redisReply *r;

	resp_array(3); resp_bulk("ok"); resp_bulk("2.5"); resp_add(":1\r\n");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SUBMIT_ADMITTED &&
	   res.used == 2.5 && res.figure == 1, "submit: admitted, with the CPU used and the jobs active");
	freeReplyObject(r);
	resp_array(3); resp_bulk("storage"); resp_bulk("1000"); resp_add(":-1\r\n");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SUBMIT_OVER_STORAGE &&
	   res.figure == -1, "submit: over the storage quota, for ever");
	freeReplyObject(r);
	resp_add("-OOM command not allowed when used memory > 'maxmemory'.\r\n");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SUBMIT_REDIS_FULL,
	   "submit: Redis's OOM refusal is a verdict, not a failure");
	freeReplyObject(r);
	resp_add("-ERR job id collision\r\n");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) < 0 && strstr(err, "collision"), "submit: an error reply says what");
	freeReplyObject(r);
	resp_array(3); resp_bulk("maybe"); resp_bulk("1"); resp_add(":1\r\n");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) < 0, "submit: an unknown verdict is refused");
	freeReplyObject(r);
	resp_array(3); resp_bulk("cpu"); resp_bulk("lots"); resp_add(":1\r\n");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) < 0, "submit: a figure that is no number is refused");
	freeReplyObject(r);
	resp_array(2); resp_bulk("ok"); resp_bulk("1");
	r = resp_reply();
	ok(store_submit_reply(r, &res, err, sizeof err) < 0, "submit: a short answer is refused");
	freeReplyObject(r);

	resp_array(5); resp_bulk("1.5"); resp_add(":2\r\n"); resp_add(":3000\r\n"); resp_add(":0\r\n"); resp_add(":4096\r\n");
	r = resp_reply();
	ok(store_quota_reply(r, &u, err, sizeof err) == 0 && u.cpu_used == 1.5 && u.active == 2 && u.reset_ms == 3000 &&
	   u.retry_ms == 0 && u.storage_used == 4096, "quota: the five figures");
	freeReplyObject(r);
	resp_array(3); resp_bulk("1"); resp_add(":2\r\n"); resp_add(":3\r\n");
	r = resp_reply();
	ok(store_quota_reply(r, &u, err, sizeof err) < 0, "quota: three figures are too few");
	freeReplyObject(r);

	/* quota_cpu_read.lua: {micro-seconds used, reset ms}. */
	resp_array(2); resp_bulk("4250000"); resp_add(":10000\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) == 0 && u.cpu_used == 4.25 && u.reset_ms == 10000 &&
	   u.retry_ms == 0 && u.active == 0 && u.storage_used == 0,
	   "quota-cpu: used is the micro-seconds / 1000000, reset as answered");
	freeReplyObject(r);
	resp_array(2); resp_bulk("1057000"); resp_add(":0\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) == 0 && u.cpu_used == 1057000 / 1000000.0 && u.reset_ms == 0,
	   "quota-cpu: the same double as quota.lua's us / 1000000");
	freeReplyObject(r);
	resp_array(2); resp_bulk("0"); resp_add(":0\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) == 0 && u.cpu_used == 0 && u.reset_ms == 0,
	   "quota-cpu: no charges, no figures");
	freeReplyObject(r);
	resp_array(2); resp_bulk("-5"); resp_add(":0\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) < 0, "quota-cpu: a negative sum is refused");
	freeReplyObject(r);
	resp_array(2); resp_bulk("abc"); resp_add(":0\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) < 0, "quota-cpu: a sum that is no number is refused");
	freeReplyObject(r);
	resp_array(3); resp_bulk("1"); resp_add(":2\r\n"); resp_add(":3\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) < 0, "quota-cpu: three figures are refused");
	freeReplyObject(r);
	resp_add("-NOSCRIPT No matching script.\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) < 0, "quota-cpu: an error (NOSCRIPT) is refused: no headers");
	freeReplyObject(r);
	resp_add("-NOPERM this user has no permissions to access the key\r\n");
	r = resp_reply();
	ok(store_quota_cpu_reply(r, &u, err, sizeof err) < 0 && strstr(err, "NOPERM"),
	   "quota-cpu: an error reply says what");
	freeReplyObject(r);

	resp_array(4); resp_bulk("{\"a\":1}"); resp_bulk_len("T\0R", 3); resp_bulk("192.0.2.7"); resp_bulk("2");
	r = resp_reply();
	ok(store_start_reply(r, &c, err, sizeof err) == 1 && c.manifest_len == 7 && c.upload_len == 3 &&
	   memcmp(c.upload, "T\0R", 3) == 0 && strcmp(c.client, "192.0.2.7") == 0 && c.attempt == 2,
	   "start: a claim, the upload binary-safe");
	freeReplyObject(r);
	resp_add("$-1\r\n");
	r = resp_reply();
	is_int(store_start_reply(r, &c, err, sizeof err), 0, "start: nil is nothing to run");
	freeReplyObject(r);
	resp_array(1); resp_bulk("client");
	r = resp_reply();
	is_int(store_start_reply(r, &c, err, sizeof err), 2, "start: {client} is: not the record's client, ask again");
	freeReplyObject(r);
	resp_array(1); resp_bulk("other");
	r = resp_reply();
	ok(store_start_reply(r, &c, err, sizeof err) < 0, "start: another one-element reply is refused");
	freeReplyObject(r);
	resp_array(4); resp_bulk("{}"); resp_bulk("x"); resp_add(":7\r\n"); resp_bulk("1");
	r = resp_reply();
	ok(store_start_reply(r, &c, err, sizeof err) < 0, "start: a client that is not a string is refused");
	freeReplyObject(r);
	resp_array(4); resp_bulk("{}"); resp_bulk("x"); resp_bulk(""); resp_bulk("first");
	r = resp_reply();
	ok(store_start_reply(r, &c, err, sizeof err) < 0, "start: an attempt that is no number is refused");
	freeReplyObject(r);

	resp_bulk("lost");
	r = resp_reply();
	ok(store_finish_reply(r, &fo, err, sizeof err) == 0 && fo == STORE_FINISH_LOST, "finish: lost");
	freeReplyObject(r);
	resp_bulk("recorded!");
	r = resp_reply();
	ok(store_finish_reply(r, &fo, err, sizeof err) < 0, "finish: anything else is refused");
	freeReplyObject(r);
	resp_bulk("failed");
	r = resp_reply();
	ok(store_reclaim_reply(r, &ro, err, sizeof err) == 0 && ro == STORE_RECLAIM_FAILED, "reclaim: failed");
	freeReplyObject(r);
	resp_add("-NOPERM no\r\n");
	r = resp_reply();
	ok(store_reclaim_reply(r, &ro, err, sizeof err) < 0 && strstr(err, "NOPERM"), "reclaim: an error says why");
	freeReplyObject(r);
	resp_bulk("running");
	r = resp_reply();
	ok(store_cancel_reply(r, &was, err, sizeof err) == 0 && was == JOB_STATUS_RUNNING, "cancel: it was running");
	freeReplyObject(r);
	resp_add("$-1\r\n");
	r = resp_reply();
	ok(store_cancel_reply(r, &was, err, sizeof err) == 0 && was == JOB_STATUS_NONE, "cancel: no such job");
	freeReplyObject(r);
	resp_bulk("sleeping");
	r = resp_reply();
	ok(store_cancel_reply(r, &was, err, sizeof err) < 0, "cancel: an unknown status is refused");
	freeReplyObject(r);
	resp_add(":-1\r\n");
	r = resp_reply();
	ok(store_downloaded_reply(r, &dl, err, sizeof err) == 0 && dl == STORE_DOWNLOADED_GONE, "downloaded: gone");
	freeReplyObject(r);
	resp_add(":2\r\n");
	r = resp_reply();
	ok(store_downloaded_reply(r, &dl, err, sizeof err) < 0, "downloaded: 2 is no answer");
	freeReplyObject(r);
	resp_bulk("full");
	r = resp_reply();
	ok(store_output_reply(r, &ov, err, sizeof err) == 0 && ov == STORE_OUTPUT_FULL, "store_output: full");
	freeReplyObject(r);
	resp_array(0);
	r = resp_reply();
	ok(store_output_reply(r, &ov, err, sizeof err) < 0, "store_output: an array is no answer");
	freeReplyObject(r);
}

static void test_log_entries(void)
{
	struct log_entry e;
	const redisReply *entries;
	redisReply *r;

	ok(log_entry_id_valid("1700000000000-0") && log_entry_id_valid("5") &&
	   log_entry_id_valid("18446744073709551615-18446744073709551615"), "entry ids: ms-seq, ms, 64-bit parts");
	ok(!log_entry_id_valid("") && !log_entry_id_valid("-1") && !log_entry_id_valid("1-") &&
	   !log_entry_id_valid("1-2-3") && !log_entry_id_valid("18446744073709551616") && !log_entry_id_valid("a-1") &&
	   !log_entry_id_valid("1 -1") && !log_entry_id_valid("+") && !log_entry_id_valid("1-0\n"),
	   "not entry ids: empty, signs, three parts, over 64 bits, letters, blanks");

	resp_entry("1-0", 4, "s", "o", "d", "hello");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_STDOUT && e.len == 5 && memcmp(e.data, "hello", 5) == 0 &&
	   strcmp(e.id, "1-0") == 0, "stdout: its id and bytes");
	freeReplyObject(r);
	resp_array(2); resp_bulk("2-0");
	resp_array(4); resp_bulk("d"); resp_bulk_len("a\0b", 3); resp_bulk("s"); resp_bulk("e");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_STDERR && e.len == 3 && memcmp(e.data, "a\0b", 3) == 0,
	   "stderr, fields in any order, bytes binary-safe");
	freeReplyObject(r);
	resp_entry("3-0", 2, "s", "x");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_END && !e.data, "the end marker");
	freeReplyObject(r);
	resp_entry("4-0", 4, "s", "o", "d", "");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_STDOUT && e.len == 0, "an empty chunk is a chunk");
	freeReplyObject(r);

	/* Entries that are entries, but of nothing a reader shows: skipped (LOG_OTHER), their id kept. */
	resp_entry("5-0", 2, "s", "o");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER && strcmp(e.id, "5-0") == 0, "stdout without d: other");
	freeReplyObject(r);
	resp_entry("5-1", 4, "s", "oo", "d", "x");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER, "a kind of two letters: other");
	freeReplyObject(r);
	resp_entry("5-2", 4, "s", "z", "d", "x");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER, "an unknown kind: other");
	freeReplyObject(r);
	resp_entry("5-3", 2, "d", "x");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER, "no kind: other");
	freeReplyObject(r);
	resp_entry("5-4", 3, "s", "o", "d");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER, "an odd field list: its last name is ignored");
	freeReplyObject(r);
	resp_array(2); resp_bulk("5-5"); resp_array(4); resp_add(":1\r\n"); resp_bulk("o"); resp_bulk("d"); resp_bulk("x");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER, "a field name that is no string is ignored");
	freeReplyObject(r);
	resp_array(2); resp_bulk("5-6"); resp_array(4); resp_bulk("s"); resp_array(0); resp_bulk("d"); resp_bulk("x");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER, "a value that is no string is ignored");
	freeReplyObject(r);
	resp_array(2); resp_bulk("5-7"); resp_add("$-1\r\n");
	r = resp_reply();
	ok(log_entry_read(r, &e) == 0 && e.kind == LOG_OTHER && strcmp(e.id, "5-7") == 0,
	   "fields that are no list (deleted entry): other");
	freeReplyObject(r);

	/* Not entries at all: refused, so that no reader goes on from a bad id. */
	resp_array(3); resp_bulk("6-0"); resp_array(0); resp_bulk("extra");
	r = resp_reply();
	ok(log_entry_read(r, &e) < 0, "three elements: no entry");
	freeReplyObject(r);
	resp_array(2); resp_add(":6\r\n"); resp_array(0);
	r = resp_reply();
	ok(log_entry_read(r, &e) < 0, "an id that is no string: no entry");
	freeReplyObject(r);
	resp_entry("6-0-1", 2, "s", "x");
	r = resp_reply();
	ok(log_entry_read(r, &e) < 0, "an id that is no entry id: no entry");
	freeReplyObject(r);
	resp_array(2); resp_bulk_len("6-0\0", 4); resp_array(0);
	r = resp_reply();
	ok(log_entry_read(r, &e) < 0, "an id with a NUL: no entry");
	freeReplyObject(r);
	resp_entry("123456789012345678901-1", 2, "s", "x");
	r = resp_reply();
	ok(log_entry_read(r, &e) < 0, "an id too long: no entry");
	freeReplyObject(r);
	resp_bulk("6-0");
	r = resp_reply();
	ok(log_entry_read(r, &e) < 0 && log_entry_read(NULL, &e) < 0, "a string, or nothing: no entry");
	freeReplyObject(r);

	/* XREAD's shape around the entries: [[key, [entry, ...]]] */
	resp_array(1); resp_array(2); resp_bulk("sr:{" ID "}:log"); resp_array(2);
	resp_entry("7-0", 4, "s", "o", "d", "a");
	resp_entry("7-1", 2, "s", "x");
	r = resp_reply();
	entries = log_xread_entries(r);
	ok(entries && entries->elements == 2 && log_entry_read(entries->element[1], &e) == 0 && e.kind == LOG_END,
	   "XREAD: the entries of the one stream");
	freeReplyObject(r);
	resp_array(2); resp_array(2); resp_bulk("a"); resp_array(0); resp_array(2); resp_bulk("b"); resp_array(0);
	r = resp_reply();
	ok(!log_xread_entries(r), "XREAD: two streams are not one job's log");
	freeReplyObject(r);
	resp_array(1); resp_array(2); resp_bulk("a"); resp_bulk("b");
	r = resp_reply();
	ok(!log_xread_entries(r), "XREAD: entries that are no list");
	freeReplyObject(r);
	resp_array(1); resp_bulk("a");
	r = resp_reply();
	ok(!log_xread_entries(r) && !log_xread_entries(NULL), "XREAD: a stream that is no pair; nothing");
	freeReplyObject(r);
}

int main(void)
{
	test_keys();
	test_script_list();
	test_statuses();
	test_args();
	test_replies();
	test_log_entries();
	return done_testing();
}
