/*
 * The session supervisor's control messages (runner/session_control.c):
 * create entries and requests from Redis, frames to and from the agent.
 * Valid ones parse to what they say; each field that is wrong is named;
 * an agent frame answering another request, or malformed, is refused.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "session_control.h"
#include "tap.h"

static const struct session_ctl_limits lim = { 16, 4096, 3600, 7200 };

#define SID "ses-abcdefghijklmnopqrstuvwxyz"

static int create_fails(const char *text, const char *want)
{
	struct session_create c;
	char err[256] = "";
	int rc = session_create_parse(text, strlen(text), &lim, &c, err, sizeof err);

	if (rc == 0)
		session_create_free(&c);
	return rc < 0 && strstr(err, want) != NULL;
}

static void test_create(void)
{
	const char *good = "{\"session_id\":\"" SID "\",\"environment\":\"default\",\"memory_mb\":256,"
			   "\"env\":{\"A\":\"1\",\"B_2\":\"x y\"},\"workspace_id\":null,\"ttl_seconds\":600,"
			   "\"idle_timeout_seconds\":300,\"client\":\"127.0.0.1\"}";
	struct session_create c;
	char err[256] = "";

	ok(session_create_parse(good, strlen(good), &lim, &c, err, sizeof err) == 0, "a create entry parses (%s)", err);
	is_str(c.session_id, SID, "its session id");
	is_str(c.environment, "default", "its environment");
	is_int(c.memory_mb, 256, "memory_mb");
	is_int(c.ttl_seconds, 600, "ttl");
	is_int(c.idle_timeout_seconds, 300, "idle timeout");
	is_str(c.workspace_id, "", "no workspace");
	is_int(c.nenv, 2, "two variables");
	ok(c.env_json && strstr(c.env_json, "\"B_2\":\"x y\"") != NULL, "env kept as JSON");
	session_create_free(&c);

	ok(create_fails("[]", "not a JSON object"), "an array is refused");
	ok(create_fails("{\"session_id\":\"job-abcdefghijklmnopqrstuvwxyz\"}", "session_id"), "a job id is no session id");
	ok(create_fails("{\"session_id\":\"" SID "\",\"environment\":\"../x\"}", "environment"), "a path is no environment");
	ok(create_fails("{\"session_id\":\"" SID "\",\"environment\":\"default\",\"workspace_id\":\"wsp-x\"}",
			"workspace_id"), "a short workspace id is refused");
	ok(create_fails("{\"session_id\":\"" SID "\",\"environment\":\"default\",\"client\":\"c\",\"memory_mb\":8}",
			"memory_mb"), "memory under the minimum is refused");
	ok(create_fails("{\"session_id\":\"" SID "\",\"environment\":\"default\",\"client\":\"c\",\"memory_mb\":64,"
			"\"ttl_seconds\":3601}", "ttl_seconds"), "a ttl over the maximum is refused");
	ok(create_fails("{\"session_id\":\"" SID "\",\"environment\":\"default\",\"client\":\"c\",\"memory_mb\":64,"
			"\"ttl_seconds\":60,\"idle_timeout_seconds\":60,\"env\":{\"1A\":\"x\"}}", "env.1A"),
	   "a bad variable name is refused");
	ok(create_fails("{\"session_id\":\"" SID "\",\"session_id\":\"" SID "\"}", "not JSON"), "duplicate keys are refused");
	{
		const char *t = "{\"session_id\":\"" SID "\",\"environment\":\"default\"}";
		struct session_create d;

		session_create_parse(t, strlen(t), &lim, &d, err, sizeof err);
		is_str(d.session_id, SID, "a failed entry still names its session");
	}
}

static void test_request(void)
{
	const char *exec = "{\"rid\":\"0123456789abcdef\",\"op\":\"exec\",\"command\":\"echo hi\",\"timeout\":2.5,"
			   "\"stream\":true,\"extra\":1}";
	struct session_ctl_request r;
	char err[256] = "", *f;
	const char *field;
	size_t len;
	json_t *o;

	ok(session_ctl_request_parse(exec, strlen(exec), &r, err, sizeof err) == 0, "an exec request parses");
	is_str(r.rid, "0123456789abcdef", "its rid");
	is_int(r.op, SESSION_CTL_OP_EXEC, "its op");
	f = session_ctl_agent_frame(&r, 42, -1, &len, err, sizeof err, &field);
	o = f ? json_loadb(f, len, 0, NULL) : NULL;
	ok(o != NULL, "the agent frame is JSON");
	is_int(json_integer_value(json_object_get(o, "id")), 42, "rid becomes id");
	is_int(json_integer_value(json_object_get(o, "timeout")), 2500, "timeout seconds become ms");
	ok(json_is_true(json_object_get(o, "stream")), "stream is kept");
	ok(json_object_get(o, "extra") == NULL && json_object_get(o, "rid") == NULL, "nothing else goes along");
	json_decref(o);
	free(f);
	session_ctl_request_free(&r);

	exec = "{\"rid\":\"0123456789abcdef\",\"op\":\"exec\",\"command\":\"x\",\"timeout\":-1}";
	session_ctl_request_parse(exec, strlen(exec), &r, err, sizeof err);
	f = session_ctl_agent_frame(&r, 1, -1, &len, err, sizeof err, &field);
	ok(f == NULL && field && strcmp(field, "timeout") == 0, "a negative timeout is a 400 on timeout");
	session_ctl_request_free(&r);

	exec = "{\"rid\":\"0123456789abcdef\",\"op\":\"write\",\"path\":\"a.txt\",\"mode\":\"0755\"}";
	ok(session_ctl_request_parse(exec, strlen(exec), &r, err, sizeof err) == 0 && r.has_data, "write has data");
	f = session_ctl_agent_frame(&r, 3, 11, &len, err, sizeof err, &field);
	o = f ? json_loadb(f, len, 0, NULL) : NULL;
	is_int(json_integer_value(json_object_get(o, "binary")), 11, "the payload's length is announced");
	is_str(json_string_value(json_object_get(o, "path")), "a.txt", "path goes along");
	json_decref(o);
	free(f);
	session_ctl_request_free(&r);

	exec = "{\"rid\":\"0123456789ABCDEF\",\"op\":\"exec\"}";
	ok(session_ctl_request_parse(exec, strlen(exec), &r, err, sizeof err) < 0 && !r.rid[0], "upper-case rid refused");
	session_ctl_request_free(&r);
	exec = "{\"rid\":\"0123456789abcdef\",\"op\":\"shutdown\"}";
	ok(session_ctl_request_parse(exec, strlen(exec), &r, err, sizeof err) < 0 && r.rid[0], "unknown op refused, rid kept");
	session_ctl_request_free(&r);
}

static void test_translate(void)
{
	enum session_ctl_kind kind;
	char err[256], *reply;
	size_t rlen;
	int64_t bin;
	const char *t;

	t = "{\"id\":5,\"ok\":true,\"exit_code\":0,\"stdout\":\"hi\",\"cwd\":\"/work\"}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) == 0
	   && kind == SESSION_CTL_FINAL && bin == -1, "an answer translates");
	ok(strstr(reply, "\"final\":true") && strstr(reply, "\"stdout\":\"hi\"") && !strstr(reply, "\"id\""),
	   "final frame with the result, without the id");
	free(reply);
	t = "{\"id\":5,\"event\":\"stderr\",\"data\":\"x\"}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) == 0
	   && kind == SESSION_CTL_EVENT && strcmp(reply, "{\"event\":\"stderr\",\"data\":\"x\"}") == 0, "an event");
	free(reply);
	t = "{\"id\":5,\"ok\":true,\"binary\":12}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) == 0 && bin == 12
	   && strstr(reply, "\"binary\":12"), "a binary answer keeps its length");
	free(reply);
	t = "{\"id\":5,\"ok\":false,\"error\":\"no such file\",\"status\":404,\"field\":\"path\"}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) == 0
	   && strstr(reply, "\"status\":404") && strstr(reply, "\"field\":\"path\""), "a refusal keeps its status");
	free(reply);
	t = "{\"id\":5,\"ok\":false,\"error\":\"bad\",\"status\":200}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) == 0
	   && strstr(reply, "\"status\":400"), "a refusal's status is 4xx/5xx (else 400)");
	free(reply);
	t = "{\"id\":6,\"ok\":true}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) < 0 && !reply,
	   "an answer to another request is refused");
	t = "{\"id\":5,\"ok\":true,\"binary\":-1}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) < 0,
	   "a negative binary length is refused");
	t = "{\"id\":5,\"event\":\"exit\",\"data\":\"x\"}";
	ok(session_ctl_translate(t, strlen(t), 5, &kind, &reply, &rlen, &bin, err, sizeof err) < 0,
	   "an unknown event is refused");
	reply = session_ctl_error_frame(413, "too big", "too_large", NULL, &rlen);
	is_str(reply, "{\"final\":true,\"ok\":false,\"status\":413,\"error\":\"too big\",\"reason\":\"too_large\"}",
	       "an error frame");
	free(reply);
}

int main(void)
{
	test_create();
	test_request();
	test_translate();
	return done_testing();
}
