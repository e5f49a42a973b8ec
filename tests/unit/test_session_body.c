/*
 * The session routes' input (fcgi/session_body.c): every field of the
 * create and exec bodies, good and bad, each refusal naming its field;
 * the file routes' paths (percent-decoded, the workspace rules) and query
 * values.
 */
#include "config.h"
#include "session_body.h"
#include "tap.h"

#include <string.h>

static struct sandrun_limits limits;

static int create(const char *body, const char *field)
{
	struct session_create_req c;
	struct session_body_error err;
	int rc = session_create_parse(body, strlen(body), &limits, &c, &err);

	if (rc == 0)
		session_create_req_free(&c);
	else if (field)
		is_str(err.field, field, "create %s: field %s named", body, field);
	return rc;
}

static int exec_(const char *body, const char *field)
{
	struct session_body_error err;
	json_t *req = NULL;
	int64_t t;
	int rc = session_exec_parse(body, strlen(body), &limits, false, &req, &t, &err);

	if (rc != 0 && field)
		is_str(err.field, field, "exec %s: field %s named", body, field);
	json_decref(req);
	return rc;
}

static void test_create(void)
{
	struct session_create_req c;
	struct session_body_error err;

	is_int(session_create_parse("", 0, &limits, &c, &err), 0, "an empty body is all defaults");
	is_str(c.environment, "default", "... environment default");
	is_int(c.memory_mb, limits.memory_mb_default, "... memory_mb_default");
	is_int(c.ttl_seconds, limits.session_ttl_default, "... session_ttl_default");
	is_int(c.idle_timeout_seconds, limits.session_idle_default, "... session_idle_default");
	ok(json_is_object(c.env) && json_object_size(c.env) == 0, "... no env");
	is_str(c.workspace_id, "", "... no workspace");
	session_create_req_free(&c);
	{
		const char *b = "{\"environment\":\"py-3.12\",\"memory_mb\":256,\"ttl_seconds\":60,"
				"\"idle_timeout_seconds\":30,\"env\":{\"A_1\":\"x\"},"
				"\"workspace_id\":\"wsp-abcdefghijklmnopqrstuvwxyz\"}";
		is_int(session_create_parse(b, strlen(b), &limits, &c, &err), 0, "every field given");
		is_str(c.environment, "py-3.12", "... environment");
		is_int(c.memory_mb, 256, "... memory_mb");
		is_int(c.ttl_seconds, 60, "... ttl_seconds");
		is_int(c.idle_timeout_seconds, 30, "... idle_timeout_seconds");
		is_str(json_string_value(json_object_get(c.env, "A_1")), "x", "... env");
		is_str(c.workspace_id, "wsp-abcdefghijklmnopqrstuvwxyz", "... workspace_id");
		session_create_req_free(&c);
	}
	is_int(create("{\"workspace_id\":null}", NULL), 0, "workspace_id null is none");
	is_int(create("{\"bogus\":1}", "bogus"), 400, "an unknown field is 400");
	is_int(create("[]", ""), 400, "an array is 400");
	is_int(create("{", ""), 400, "bad JSON is 400");
	is_int(create("{\"a\":1,\"a\":2}", ""), 400, "a duplicate key is 400");
	is_int(create("{\"environment\":5}", "environment"), 400, "environment a number");
	is_int(create("{\"environment\":\"Bad Name\"}", "environment"), 400, "environment not a name");
	is_int(create("{\"memory_mb\":\"512\"}", "memory_mb"), 400, "memory_mb a string");
	is_int(create("{\"memory_mb\":1.5}", "memory_mb"), 400, "memory_mb a real");
	is_int(create("{\"memory_mb\":1}", "memory_mb"), 400, "memory_mb below the min");
	is_int(create("{\"memory_mb\":99999999}", "memory_mb"), 400, "memory_mb above the max");
	is_int(create("{\"ttl_seconds\":0}", "ttl_seconds"), 400, "ttl_seconds 0");
	is_int(create("{\"ttl_seconds\":3601}", "ttl_seconds"), 400, "ttl_seconds above session_ttl_max");
	is_int(create("{\"ttl_seconds\":3600}", NULL), 0, "ttl_seconds at session_ttl_max");
	is_int(create("{\"idle_timeout_seconds\":-1}", "idle_timeout_seconds"), 400, "idle_timeout_seconds negative");
	is_int(create("{\"idle_timeout_seconds\":3601}", "idle_timeout_seconds"), 400,
	       "idle_timeout_seconds above session_idle_max");
	is_int(create("{\"env\":[]}", "env"), 400, "env an array");
	is_int(create("{\"env\":{\"1A\":\"x\"}}", "env"), 400, "env name starting with a digit");
	is_int(create("{\"env\":{\"A\":1}}", "env.A"), 400, "env value a number, named env.A");
	is_int(create("{\"env\":{\"A\":\"a\\u0000b\"}}", "env.A"), 400, "env value with NUL");
	is_int(create("{\"workspace_id\":\"job-abcdefghijklmnopqrstuvwxyz\"}", "workspace_id"), 400,
	       "workspace_id of another kind");
	is_int(create("{\"workspace_id\":7}", "workspace_id"), 400, "workspace_id a number");
}

static void test_exec(void)
{
	struct session_body_error err;
	json_t *req;
	int64_t t;
	const char *b = "{\"command\":\"echo hi\",\"stdin\":\"in\",\"env\":{\"X\":\"1\"},\"cwd\":\"/tmp\",\"timeout\":5}";

	is_int(session_exec_parse(b, strlen(b), &limits, true, &req, &t, &err), 0, "a full exec");
	is_str(json_string_value(json_object_get(req, "op")), "exec", "... op exec");
	is_str(json_string_value(json_object_get(req, "command")), "echo hi", "... command");
	is_str(json_string_value(json_object_get(req, "cwd")), "/tmp", "... cwd");
	is_int(json_integer_value(json_object_get(req, "timeout")), 5, "... timeout");
	ok(json_is_true(json_object_get(req, "stream")), "... stream");
	is_int(t, 5, "... the timeout is told");
	json_decref(req);
	b = "{\"command\":[\"ls\",\"-l\"]}";
	is_int(session_exec_parse(b, strlen(b), &limits, false, &req, &t, &err), 0, "argv");
	is_int(t, limits.timeout_default, "... the default timeout");
	ok(json_is_false(json_object_get(req, "stream")), "... not streamed");
	json_decref(req);
	is_int(exec_("{\"code\":\"x=1\",\"language\":\"python3\"}", NULL), 0, "code and language");
	is_int(exec_("", "command"), 400, "an empty body names command");
	is_int(exec_("{\"command\":\"a\",\"code\":\"b\",\"language\":\"bash\"}", "code"), 400, "command and code");
	is_int(exec_("{\"code\":\"b\"}", "language"), 400, "code without language");
	is_int(exec_("{\"command\":\"a\",\"language\":\"bash\"}", "language"), 400, "language without code");
	is_int(exec_("{\"code\":\"b\",\"language\":\"cobol\"}", "language"), 400, "an unknown language");
	is_int(exec_("{\"command\":\"\"}", "command"), 400, "an empty command");
	is_int(exec_("{\"command\":[]}", "command"), 400, "an empty argv");
	is_int(exec_("{\"command\":5}", "command"), 400, "command a number");
	is_int(exec_("{\"command\":[\"a\",5]}", "command[1]"), 400, "an argv element a number, named command[1]");
	is_int(exec_("{\"command\":[\"\"]}", "command[0]"), 400, "an empty program");
	is_int(exec_("{\"command\":\"a\\u0000b\"}", "command"), 400, "command with NUL");
	is_int(exec_("{\"command\":\"a\",\"stdin\":5}", "stdin"), 400, "stdin a number");
	is_int(exec_("{\"command\":\"a\",\"stdin\":\"a\\u0000b\"}", NULL), 0, "stdin may hold NUL");
	is_int(exec_("{\"command\":\"a\",\"env\":\"x\"}", "env"), 400, "env a string");
	is_int(exec_("{\"command\":\"a\",\"cwd\":\"/etc\"}", "cwd"), 400, "cwd outside the workspace");
	is_int(exec_("{\"command\":\"a\",\"cwd\":\"a/../../x\"}", "cwd"), 400, "cwd with ..");
	is_int(exec_("{\"command\":\"a\",\"timeout\":0}", "timeout"), 400, "timeout 0");
	is_int(exec_("{\"command\":\"a\",\"timeout\":3601}", "timeout"), 400, "timeout above timeout_max");
	is_int(exec_("{\"command\":\"a\",\"timeout\":\"5\"}", "timeout"), 400, "timeout a string");
	is_int(exec_("{\"command\":\"a\",\"shell\":true}", "shell"), 400, "an unknown field");
}

static void test_paths(void)
{
	struct session_body_error err;
	char out[SESSION_PATH_MAX_BYTES + 1];
	static char big[SESSION_PATH_MAX_BYTES + 10];

	is_int(session_path_from_uri("a/b.txt", 7, out, sizeof out, &err), 0, "a relative path");
	is_str(out, "a/b.txt", "... as given");
	is_int(session_path_from_uri("%2Ftmp%2Fx%20y?mode=1", 21, out, sizeof out, &err), 0, "percent-encoded, query cut");
	is_str(out, "/tmp/x y", "... decoded");
	is_int(session_path_from_uri("", 0, out, sizeof out, &err), 0, "empty is the workspace");
	is_str(out, "", "... as \"\"");
	is_int(session_path_from_uri("/workspace/a", 12, out, sizeof out, &err), 0, "under /workspace");
	is_int(session_path_from_uri("/work", 5, out, sizeof out, &err), 0, "/work itself");
	is_int(session_path_from_uri("/etc/passwd", 11, out, sizeof out, &err), 400, "/etc is refused");
	is_str(err.field, "path", "... naming path");
	is_str(out, "", "... out is empty");
	is_int(session_path_from_uri("/workx/a", 8, out, sizeof out, &err), 400, "/workx is not /work");
	is_int(session_path_from_uri("/tmpfoo", 7, out, sizeof out, &err), 400, "/tmpfoo is not /tmp");
	is_int(session_path_from_uri("a/%2e%2e/b", 10, out, sizeof out, &err), 400, "an encoded .. is refused");
	is_int(session_path_from_uri("..", 2, out, sizeof out, &err), 400, ".. alone");
	is_int(session_path_from_uri("a/..", 4, out, sizeof out, &err), 400, "a trailing ..");
	is_int(session_path_from_uri("a/..b", 5, out, sizeof out, &err), 0, "..b is a name");
	is_int(session_path_from_uri("a%00b", 5, out, sizeof out, &err), 400, "an encoded NUL");
	is_int(session_path_from_uri("a%0ab", 5, out, sizeof out, &err), 400, "a newline");
	is_int(session_path_from_uri("a%zz", 4, out, sizeof out, &err), 400, "bad percent-encoding");
	is_int(session_path_from_uri("a%2", 3, out, sizeof out, &err), 400, "cut percent-encoding");
	memset(big, 'a', sizeof big - 1);
	is_int(session_path_from_uri(big, strlen(big), out, sizeof out, &err), 400, "longer than 4096 bytes");
	is_int(session_path_from_uri("abc", 3, out, 3, &err), 400, "a buffer too small is a refusal, not an overflow");
	is_int(session_path_from_uri("caf%C3%A9", 9, out, sizeof out, &err), 0, "a UTF-8 name");
	is_str(out, "caf\xc3\xa9", "... decoded");
	is_int(session_path_from_uri("a%FFb", 5, out, sizeof out, &err), 400, "a name that is no UTF-8 (JSON cannot carry it)");
	is_int(session_path_from_uri("%C0%AF", 6, out, sizeof out, &err), 400, "an overlong form");
	is_int(session_path_from_uri("%ED%A0%80", 9, out, sizeof out, &err), 400, "a surrogate");
	is_int(session_path_from_uri("%F0%9F%98%80", 12, out, sizeof out, &err), 0, "a four-byte character");
	is_int(session_path_from_uri("%E2%82", 6, out, sizeof out, &err), 400, "a cut sequence");
	is_int(session_path_check("/tmp", 4, "cwd", &err), 0, "cwd /tmp");
	is_int(session_path_check("/tmp/../etc", 11, "cwd", &err), 400, "cwd climbing out of /tmp");
	is_str(err.field, "cwd", "... naming cwd");
}

static void test_query(void)
{
	struct session_body_error err;
	int mode = 0;
	bool v = false;

	is_int(session_mode_parse("0755", &mode, &err), 0, "mode 0755");
	is_int(mode, 0755, "... is 0755");
	is_int(session_mode_parse("644", &mode, &err), 0, "mode 644");
	is_int(mode, 0644, "... is 0644");
	is_int(session_mode_parse("4755", &mode, &err), 400, "setuid is refused");
	is_str(err.field, "mode", "... naming mode");
	is_int(session_mode_parse("0888", &mode, &err), 400, "not octal");
	is_int(session_mode_parse("", &mode, &err), 400, "empty");
	is_int(session_mode_parse("07777", &mode, &err), 400, "five digits");
	is_int(session_flag_parse("1", "recursive", &v, &err), 0, "recursive=1");
	ok(v, "... true");
	is_int(session_flag_parse("false", "recursive", &v, &err), 0, "recursive=false");
	ok(!v, "... false");
	is_int(session_flag_parse("yes", "recursive", &v, &err), 400, "recursive=yes");
	is_str(err.field, "recursive", "... naming recursive");
}

int main(void)
{
	struct sandrun_config cfg;

	config_defaults(&cfg);
	limits = cfg.limits;
	config_free(&cfg);
	test_create();
	test_exec();
	test_paths();
	test_query();
	return done_testing();
}
