/*
 * The responder's session calls (common/store_sessions.c) without a Redis:
 * each builder's KEYS and ARGV against what its script reads (counted in
 * the script's own text, as tests/unit/test_store.c does for the job
 * scripts), in the order the script's header names them; and each reply
 * reader against the script's answers and against replies of the wrong
 * shape (what Redis answers is untrusted input).
 */
#include "config.h"
#include "store_sessions.h"
#include "tap.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define SID "ses-abcdefghijklmnopqrstuvwxyz"
#define WID "wsp-abcdefghijklmnopqrstuvwxyz"
#define LONG_CLIENT "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"

/* A reply parsed from RESP text, as hiredis would hand it over. */
static redisReply *reply_of(const char *resp)
{
	redisReader *reader = redisReaderCreate();
	void *reply = NULL;

	redisReaderFeed(reader, resp, strlen(resp));
	if (redisReaderGetReply(reader, &reply) != REDIS_OK)
		reply = NULL;
	redisReaderFree(reader);
	return reply;
}

static int script_max_index(const char *script, const char *what)
{
	size_t wlen = strlen(what);
	int max = 0;

	for (const char *p = strstr(script, what); p; p = strstr(p + 1, what))
		if (p[wlen] == '[' && atoi(p + wlen + 1) > max)
			max = atoi(p + wlen + 1);
	return max;
}

/* keys: how many KEYS this call passes (a script may read an optional last one) */
static void check_args(const struct store_args *a, int keys, const char *what)
{
	int args = script_max_index(a->script, "ARGV");
	bool named = true, plain = true;

	is_int(a->numkeys, keys, "%s: %d keys", what, keys);
	ok(keys <= script_max_index(a->script, "KEYS"), "%s: no key the script does not read", what);
	is_int(a->argc - a->numkeys, args, "%s: the arguments the script reads (%d)", what, args);
	for (int i = 0; i < a->argc; i++) {
		bool key = a->lens[i] >= 3 && memcmp(a->argv[i], "sr:", 3) == 0;

		if (i < a->numkeys && !key)
			named = false;
		if (i >= a->numkeys && key)
			plain = false;
	}
	ok(named, "%s: every key is under sr:", what);
	ok(plain, "%s: no argument is a key", what);
}

static const char *arg(const struct store_args *a, int i)
{
	return i < a->argc ? a->argv[i] : NULL;
}

static void test_create(void)
{
	struct store_session_create p = {
		.sid = SID, .client = "192.0.2.7", .environment = "default", .entry = "{\"session_id\":\"x\"}",
		.workspace_id = NULL, .now_ms = 1000, .ttl_s = 1800, .idle_s = 300, .memory_mb = 512,
		.sessions_max = 2, .high_water_percent = 80, .quota_idle_ms = 3600000, .pool_entry_ms = 80000,
	};
	struct store_session_create_result res;
	struct session_args a;
	char err[200];
	redisReply *r;

	is_int(store_session_create_args(&a, &p), 0, "create is built");
	check_args(&a.a, 4, "create without a workspace");
	is_str(arg(&a.a, 0), "sr:{" SID "}:ses", "create: KEYS[1] is the record");
	is_str(arg(&a.a, 1), "sr:sespool:default", "create: KEYS[2] is the environment's pool list");
	is_str(arg(&a.a, 2), "sr:sessions:{192.0.2.7}", "create: KEYS[3] is the client's sessions");
	is_str(arg(&a.a, 4), SID, "create: ARGV[1] is the session id");
	is_str(arg(&a.a, 5), "192.0.2.7", "create: ARGV[2] is the client");
	is_str(arg(&a.a, 7), "1800", "create: ARGV[4] is the ttl");
	is_str(arg(&a.a, 11), "{\"session_id\":\"x\"}", "create: ARGV[8] is the create entry");
	is_str(arg(&a.a, 12), "2", "create: ARGV[9] is the sessions per client");
	is_str(arg(&a.a, 17), "", "create: ARGV[14] is empty without a workspace");
	store_args_free(&a.a);

	p.workspace_id = WID;
	is_int(store_session_create_args(&a, &p), 0, "create from a workspace is built");
	check_args(&a.a, 5, "create from a workspace");
	is_str(arg(&a.a, 3), "sr:metrics", "create: KEYS[4] is the counters");
	is_str(arg(&a.a, 4), "sr:{" WID "}:wsp", "create: KEYS[5] is the workspace");
	is_str(arg(&a.a, 18), WID, "create: ARGV[14] is the workspace id");
	store_args_free(&a.a);

	p.client = LONG_CLIENT;
	is_int(store_session_create_args(&a, &p), 0, "a client that is no quota key is nobody");
	is_str(arg(&a.a, 2), "sr:sessions:{}", "... whose sessions key is nobody's");
	store_args_free(&a.a);
	p.client = "192.0.2.7";
	p.sid = "ses-" LONG_CLIENT;
	ok(store_session_create_args(&a, &p) < 0, "an id too long for a key is refused");
	store_args_free(&a.a);

	r = reply_of("*2\r\n$2\r\nok\r\n:1\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_CREATED &&
	   res.count == 1, "create: ok is read");
	freeReplyObject(r);
	r = reply_of("*3\r\n$8\r\nsessions\r\n:2\r\n:5000\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_OVER_SESSIONS &&
	   res.count == 2 && res.retry_ms == 5000, "create: sessions (429) is read");
	freeReplyObject(r);
	r = reply_of("*3\r\n$6\r\nmemory\r\n$3\r\n900\r\n:1000\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_OVER_MEMORY &&
	   res.max == 1000, "create: memory (503) is read");
	freeReplyObject(r);
	r = reply_of("*3\r\n$9\r\nworkspace\r\n:0\r\n:0\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_NO_WORKSPACE,
	   "create: workspace (400) is read");
	freeReplyObject(r);
	r = reply_of("-OOM command not allowed when used memory > 'maxmemory'.\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_REDIS_FULL,
	   "create: Redis's OOM refusal is read as full");
	freeReplyObject(r);
	r = reply_of("*2\r\n$5\r\nbogus\r\n:1\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) < 0, "create: an unknown verdict is refused");
	freeReplyObject(r);
	r = reply_of("*2\r\n$8\r\nsessions\r\n:1\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) < 0, "create: a short verdict is refused");
	freeReplyObject(r);
	r = reply_of("$2\r\nok\r\n");
	ok(store_session_create_reply(r, &res, err, sizeof err) < 0, "create: a string is refused");
	freeReplyObject(r);
}

static void test_request(void)
{
	static const char data[] = "ab\0cd";
	struct store_session_request p = {
		.sid = SID, .client = "2001:db8::/64", .rid = "0123456789abcdef", .op = "write",
		.request = "{\"op\":\"write\"}", .data = data, .data_len = 5, .now_ms = 7, .cpu_limit = 10,
		.window_ms = 60000, .storage_quota = 1000000, .high_water_percent = 80,
	};
	struct store_session_request_result res;
	struct session_args a;
	char err[200];
	redisReply *r;

	is_int(store_session_request_args(&a, &p), 0, "request is built");
	check_args(&a.a, 7, "request");
	is_str(arg(&a.a, 1), "sr:{" SID "}:req", "request: KEYS[2] is the request list");
	is_str(arg(&a.a, 2), "sr:{" SID "}:data:0123456789abcdef", "request: KEYS[3] is the data key");
	is_str(arg(&a.a, 3), "sr:cpu:{2001:db8::/64}", "request: KEYS[4] is the client's cpu zset");
	is_str(arg(&a.a, 4), "sr:store:{2001:db8::/64}", "request: KEYS[5] is the client's storage ledger");
	is_str(arg(&a.a, 5), "sr:sessions:{2001:db8::/64}", "request: KEYS[6] is the client's sessions zset");
	is_str(arg(&a.a, 10), "write", "request: ARGV[4] is the op");
	ok(a.a.lens[11] == 5 && memcmp(a.a.argv[11], data, 5) == 0, "request: ARGV[5] is the bytes, NUL and all");
	is_str(arg(&a.a, 18), SID, "request: ARGV[12] is the session id");
	store_args_free(&a.a);
	p.data = NULL;
	store_session_request_args(&a, &p);
	ok(a.a.lens[11] == 0, "request: no bytes is an empty ARGV[5]");
	store_args_free(&a.a);

	r = reply_of("*1\r\n$2\r\nok\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_SENT, "request: ok");
	freeReplyObject(r);
	r = reply_of("*1\r\n$4\r\ngone\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_GONE, "request: gone");
	freeReplyObject(r);
	r = reply_of("*2\r\n$5\r\nended\r\n$12\r\nidle_timeout\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_ENDED &&
	   strcmp(res.reason, "idle_timeout") == 0, "request: ended with its reason");
	freeReplyObject(r);
	r = reply_of("*2\r\n$5\r\nended\r\n$5\r\n<b>x\"\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && strcmp(res.reason, "internal") == 0,
	   "request: a reason that is no word of ours is internal");
	freeReplyObject(r);
	r = reply_of("*1\r\n$6\r\npaused\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_PAUSED,
	   "request: paused");
	freeReplyObject(r);
	r = reply_of("*3\r\n$3\r\ncpu\r\n$4\r\n10.5\r\n:45000\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_OVER_CPU &&
	   res.used == 10.5 && res.figure == 45000, "request: cpu with used and retry");
	freeReplyObject(r);
	r = reply_of("*3\r\n$7\r\nstorage\r\n$3\r\n100\r\n:-1\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_OVER_STORAGE &&
	   res.figure == -1, "request: storage");
	freeReplyObject(r);
	r = reply_of("*3\r\n$3\r\ncpu\r\n$3\r\nabc\r\n:1\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) < 0, "request: a figure that is no number is refused");
	freeReplyObject(r);
	r = reply_of("*2\r\n$2\r\nok\r\n:1\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) < 0, "request: ok with extra elements is refused");
	freeReplyObject(r);
	r = reply_of("*0\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) < 0, "request: an empty array is refused");
	freeReplyObject(r);
	r = reply_of("-OOM no\r\n");
	ok(store_session_request_reply(r, &res, err, sizeof err) == 0 && res.verdict == STORE_SESSION_REQ_REDIS_FULL,
	   "request: OOM is full");
	freeReplyObject(r);
}

static void test_abandon_lost(void)
{
	enum store_session_abandon_outcome ab;
	enum store_session_lost_outcome lo;
	struct session_args a;
	char err[200], status[32];
	redisReply *r;

	is_int(store_session_abandon_args(&a, SID, "192.0.2.7", 5, "no sandbox"), 0, "abandon is built");
	check_args(&a.a, 4, "abandon");
	is_str(arg(&a.a, 1), "sr:sessions:{192.0.2.7}", "abandon: KEYS[2] is the client's sessions");
	is_str(arg(&a.a, 2), "sr:{" SID "}:req", "abandon: KEYS[3] is the request list");
	store_args_free(&a.a);
	is_int(store_session_lost_args(&a, SID, "192.0.2.7", 5, 15000, "lost"), 0, "lost is built");
	check_args(&a.a, 5, "lost");
	is_str(arg(&a.a, 1), "sr:runners", "lost: KEYS[2] is the runners' heartbeats");
	is_str(arg(&a.a, 6), "15000", "lost: ARGV[2] is the lease");
	store_args_free(&a.a);

	r = reply_of("$9\r\nabandoned\r\n");
	ok(store_session_abandon_reply(r, &ab, status, sizeof status, err, sizeof err) == 0 &&
	   ab == STORE_SESSION_ABANDONED, "abandon: abandoned");
	freeReplyObject(r);
	r = reply_of("$5\r\nready\r\n");
	ok(store_session_abandon_reply(r, &ab, status, sizeof status, err, sizeof err) == 0 &&
	   ab == STORE_SESSION_NOT_STARTING && strcmp(status, "ready") == 0, "abandon: it became ready");
	freeReplyObject(r);
	r = reply_of("$4\r\ngone\r\n");
	ok(store_session_abandon_reply(r, &ab, status, sizeof status, err, sizeof err) == 0 &&
	   ab == STORE_SESSION_ABANDON_GONE, "abandon: gone");
	freeReplyObject(r);
	r = reply_of(":1\r\n");
	ok(store_session_abandon_reply(r, &ab, status, sizeof status, err, sizeof err) < 0, "abandon: a number is refused");
	freeReplyObject(r);
	r = reply_of("$4\r\nlost\r\n");
	ok(store_session_lost_reply(r, &lo, err, sizeof err) == 0 && lo == STORE_SESSION_LOST, "lost: lost");
	freeReplyObject(r);
	r = reply_of("$5\r\nalive\r\n");
	ok(store_session_lost_reply(r, &lo, err, sizeof err) == 0 && lo == STORE_SESSION_ALIVE, "lost: alive");
	freeReplyObject(r);
	r = reply_of("$3\r\nyes\r\n");
	ok(store_session_lost_reply(r, &lo, err, sizeof err) < 0, "lost: anything else is refused");
	freeReplyObject(r);
}

/* Every script has the flags shebang; the client-driven ones are refused under OOM (no allow-oom). */
static void test_flags(void)
{
	ok(strncmp(redis_script_session_create, "#!lua\n", 6) == 0, "session_create: #!lua without allow-oom");
	ok(strncmp(redis_script_session_request, "#!lua\n", 6) == 0, "session_request: #!lua without allow-oom");
	ok(strncmp(redis_script_session_abandon, "#!lua flags=allow-oom\n", 22) == 0, "session_abandon: allow-oom");
	ok(strncmp(redis_script_session_lost, "#!lua flags=allow-oom\n", 22) == 0, "session_lost: allow-oom");
	ok(strstr(redis_script_session_lost, "local function session_end_record") != NULL,
	   "session-req-lib.lua is inlined");
}

int main(void)
{
	test_create();
	test_request();
	test_abandon_lost();
	test_flags();
	return done_testing();
}
