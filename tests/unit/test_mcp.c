/*
 * The MCP front (fcgi/mcp.c) without a stack: every tool's schema is
 * valid JSON of the shape tools/list promises, the argument checker names
 * the field at fault, and the JSON-RPC dispatcher answers each kind of
 * message as the MCP and JSON-RPC specs say (t300 checks the same through
 * HTTP, with the official SDK).
 */
#include "mcp.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static int calls;

static json_t *count_tool(void *ctx, const struct mcp_tool *tool, json_t *args)
{
	(void)ctx;
	(void)args;
	calls++;
	return mcp_tool_result(json_pack("{s:s}", "tool", tool->name), false);
}

/* Runs one body; returns the HTTP status, the reply in *reply (caller frees). */
static int run(const char *version, const char *body, json_t **reply)
{
	struct mcp_exchange x = { .version_header = version, .call = count_tool };

	mcp_process(&x, body, strlen(body));
	*reply = x.reply;
	return x.http_status;
}

static int error_code(const json_t *reply)
{
	return (int)json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

static void check_args(const char *tool, const char *args, const char *field)
{
	char got[256], reason[512];
	json_t *a = json_loads(args, 0, NULL);
	int rc = mcp_args_check(mcp_tool_find(tool), a, got, sizeof got, reason, sizeof reason);

	if (!field)
		ok(rc == 0, "%s %s: accepted", tool, args);
	else if (!ok(rc == -1 && strcmp(got, field) == 0 && *reason, "%s %s: refused naming %s", tool, args, field))
		printf("#   got rc %d field '%s' reason '%s'\n", rc, got, reason);
	json_decref(a);
}

int main(void)
{
	json_t *r, *v;
	size_t i;

	is_int(mcp_tool_count, 10, "ten tools");
	for (i = 0; i < mcp_tool_count; i++) {
		json_t *s = json_loads(mcp_tools[i].input_schema, 0, NULL), *props = json_object_get(s, "properties");
		int req_ok = 1;

		size_t k;

		json_array_foreach(json_object_get(s, "required"), k, v)
			req_ok = req_ok && json_object_get(props, json_string_value(v)) != NULL;
		ok(json_is_object(s) && strcmp(json_string_value(json_object_get(s, "type")), "object") == 0 &&
		   json_object_size(props) > 0 && req_ok && json_is_false(json_object_get(s, "additionalProperties")) &&
		   strlen(mcp_tools[i].description) < 300 && !strchr(mcp_tools[i].description, '\n'),
		   "%s: an object schema, required within properties, a one-line description", mcp_tools[i].name);
		json_decref(s);
	}

	check_args("run_code", "{\"code\": \"print(1)\"}", NULL);
	check_args("run_code", "{\"code\": \"x\", \"language\": \"node\", \"files\": {\"a\": \"b\"}, \"timeout\": 5, "
		   "\"args\": [\"-v\"], \"env\": {\"A\": \"1\"}, \"outputs\": [\"*.png\"], \"memory_mb\": 64, "
		   "\"stdin\": \"\", \"environment\": \"default\"}", NULL);
	check_args("run_code", "{}", "code");
	check_args("run_code", "[]", "");
	check_args("run_code", "{\"code\": 5}", "code");
	check_args("run_code", "{\"code\": \"x\", \"language\": \"cobol\"}", "language");
	check_args("run_code", "{\"code\": \"x\", \"timeout\": 0}", "timeout");
	check_args("run_code", "{\"code\": \"x\", \"timeout\": 1.5}", "timeout");
	check_args("run_code", "{\"code\": \"x\", \"files\": {\"a\": 1}}", "files.a");
	check_args("run_code", "{\"code\": \"x\", \"args\": [\"a\", 2]}", "args[1]");
	check_args("run_code", "{\"code\": \"x\", \"rm\": true}", "rm");
	check_args("job_status", "{\"job_id\": \"job-x\", \"wait\": -1}", "wait");
	check_args("session_write_file", "{\"session_id\": \"s\", \"path\": \"p\"}", "content");
	check_args("session_create", "{}", NULL);

	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		   "{\"protocolVersion\":\"2024-11-05\"}}", &r), 200, "initialize: 200");
	is_str(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")), "2024-11-05",
	       "... the client's revision, which we speak");
	json_decref(r);
	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		   "{\"protocolVersion\":\"2030-01-01\"}}", &r), 200, "initialize with a future revision: 200");
	is_str(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")), MCP_PROTOCOL_LATEST,
	       "... our latest");
	json_decref(r);
	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r), 202, "a notification: 202");
	ok(r == NULL, "... no body");
	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", &r), 400, "not JSON: 400");
	is_int(error_code(r), -32700, "... -32700");
	ok(json_is_null(json_object_get(r, "id")), "... id null");
	json_decref(r);
	is_int(run(NULL, "{\"jsonrpc\":\"2.1\",\"id\":1,\"method\":\"ping\"}", &r), 400, "jsonrpc 2.1: 400");
	is_int(error_code(r), -32600, "... -32600");
	json_decref(r);
	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", &r), 400, "id null: 400 (MCP ids are strings or integers)");
	json_decref(r);
	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/list\"}", &r), 200, "an unknown method: 200");
	is_int(error_code(r), -32601, "... -32601");
	json_decref(r);
	is_int(run(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}", &r), 200,
	       "an unknown tool: 200");
	is_int(error_code(r), -32602, "... -32602");
	json_decref(r);
	calls = 0;
	run("2025-06-18", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"run_code\","
	    "\"arguments\":{\"code\":1}}}", &r);
	v = json_object_get(r, "result");
	ok(json_is_true(json_object_get(v, "isError")) && calls == 0, "bad arguments: an isError result, the tool not called");
	is_str(json_string_value(json_object_get(json_object_get(v, "structuredContent"), "field")), "code", "... naming code");
	json_decref(r);
	run("2025-06-18", "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"tools/call\",\"params\":{\"name\":\"job_logs\","
	    "\"arguments\":{\"job_id\":\"job-a\"}}}", &r);
	ok(calls == 1 && json_is_false(json_object_get(json_object_get(r, "result"), "isError")), "good arguments: the tool runs");
	is_str(json_string_value(json_object_get(r, "id")), "q", "... the id echoed");
	json_decref(r);
	is_int(run("2025-06-18", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &r), 400, "a batch under 2025-06-18: 400");
	json_decref(r);
	is_int(run("2025-03-26", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},7]", &r), 200, "a batch under 2025-03-26: 200");
	ok(json_array_size(r) == 2 && error_code(json_array_get(r, 1)) == -32600, "... the ping's answer, and -32600 for the 7");
	json_decref(r);
	is_int(run("2025-03-26", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		   "{\"protocolVersion\":\"2025-03-26\"}}]", &r), 200, "initialize in a batch: 200");
	is_int(error_code(json_array_get(r, 0)), -32600, "... -32600 for it");
	json_decref(r);
	is_int(run("1.0", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r), 400, "MCP-Protocol-Version 1.0: 400");
	json_decref(r);
	return done_testing();
}
