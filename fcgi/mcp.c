/*
 * MCP over JSON-RPC 2.0, the pure part (fcgi/mcp.h): message shape,
 * protocol-version negotiation, initialize / ping / tools/list /
 * tools/call, batches for clients older than 2025-06-18, and the tools'
 * input schemas with the checker that holds arguments to them.
 *
 * Errors follow the JSON-RPC spec and the MCP one: a body that is not JSON
 * is -32700 and a message of the wrong shape -32600 (both HTTP 400, no id
 * to answer to), an unknown method -32601, bad params or an unknown tool
 * -32602 (HTTP 200: the message itself was fine). A tool that ran and
 * failed, or arguments its schema refuses, is a normal result with
 * isError (the LLM sees why and can try again), never a transport error.
 */
#include "mcp.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PACKAGE_VERSION   /* the fuzz build (tests/fuzz/fuzz-lib.sh) has no build-config.h */
#define PACKAGE_VERSION "fuzz"
#endif

/* The schemas are ours, so their depth is ours; an argument nested deeper than this is refused. */
#define SCHEMA_DEPTH_MAX 8

#define S_LANG "\"language\": {\"type\": \"string\", \"enum\": [\"python3\", \"python\", \"node\", \"javascript\", \"bash\", \"sh\", \"ruby\", \"Rscript\", \"R\", \"perl\", \"php\"], \"description\": \"interpreter for code (default python3; python, javascript and R are python3, node and Rscript)\"}"
#define S_FILES "\"files\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}, \"maxProperties\": 10000, \"description\": \"extra files: relative path -> UTF-8 content\"}"
#define S_STDIN "\"stdin\": {\"type\": \"string\", \"description\": \"standard input\"}"
#define S_TIMEOUT "\"timeout\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 86400, \"description\": \"seconds before the job is killed (default 300; the service's maximum applies)\"}"
#define S_ENVIRONMENT "\"environment\": {\"type\": \"string\", \"maxLength\": 64, \"description\": \"a sandbox image listed by GET /environments (default: default)\"}"
#define S_ENV "\"env\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}, \"maxProperties\": 256, \"description\": \"extra environment variables\"}"
#define S_ARGS "\"args\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"maxItems\": 1024, \"description\": \"arguments for the program\"}"
#define S_OUTPUTS(def) "\"outputs\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"maxItems\": 256, \"description\": \"globs of files to keep after the run (" def ")\"}"
#define S_MEMORY "\"memory_mb\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1048576, \"description\": \"memory limit in MB (default 512)\"}"
#define S_JOB_ID "\"job_id\": {\"type\": \"string\", \"maxLength\": 64, \"description\": \"the job id (job-...) submit_job or run_code returned\"}"
#define S_SESSION_ID "\"session_id\": {\"type\": \"string\", \"maxLength\": 64, \"description\": \"the session id (ses-...) session_create returned\"}"
#define S_PATH(what) "\"path\": {\"type\": \"string\", \"maxLength\": 4096, \"description\": \"" what "\"}"

const struct mcp_tool mcp_tools[] = {
	{ "run_code",
	  "Run a program in a fresh sandbox and wait for it: returns stdout, stderr, exit code and the output files. "
	  "Give the source in code; extra input files inline in files.",
	  "{\"type\": \"object\", \"properties\": {"
	  "\"code\": {\"type\": \"string\", \"description\": \"the program's source\"}, "
	  S_LANG ", " S_FILES ", " S_STDIN ", " S_TIMEOUT ", " S_ENVIRONMENT ", " S_ENV ", " S_ARGS ", "
	  S_OUTPUTS("default [\\\"*\\\"]: every top-level file; inputs are not listed") ", " S_MEMORY "}, "
	  "\"required\": [\"code\"], \"additionalProperties\": false}" },
	{ "submit_job",
	  "Queue a job without waiting: files inline, entrypoint names the file to run; returns the job id for "
	  "job_status and job_logs.",
	  "{\"type\": \"object\", \"properties\": {"
	  S_FILES ", "
	  "\"entrypoint\": {\"type\": \"string\", \"maxLength\": 4096, \"description\": \"the file in files to run\"}, "
	  "\"interpreter\": {\"type\": \"string\", \"enum\": [\"python3\", \"node\", \"bash\", \"sh\", \"ruby\", \"Rscript\", \"perl\", \"php\"], \"description\": \"default: from the entrypoint's extension\"}, "
	  "\"requirements\": {\"type\": \"string\", \"maxLength\": 4096, \"description\": \"a file in files to install first: requirements.txt, package.json or Gemfile\"}, "
	  S_STDIN ", " S_TIMEOUT ", " S_ENVIRONMENT ", " S_ENV ", " S_ARGS ", " S_OUTPUTS("default: none") ", "
	  S_MEMORY "}, "
	  "\"required\": [\"files\", \"entrypoint\"], \"additionalProperties\": false}" },
	{ "job_status",
	  "Get a job's status (queued, running, completed, failed, cancelled), exit code and output files; "
	  "wait seconds for it to finish.",
	  "{\"type\": \"object\", \"properties\": {" S_JOB_ID ", "
	  "\"wait\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 86400, \"description\": \"seconds to wait for the job to end (default 0)\"}}, "
	  "\"required\": [\"job_id\"], \"additionalProperties\": false}" },
	{ "job_logs",
	  "Get a job's stdout and stderr so far (works while it runs).",
	  "{\"type\": \"object\", \"properties\": {" S_JOB_ID "}, \"required\": [\"job_id\"], "
	  "\"additionalProperties\": false}" },
	{ "session_create",
	  "Start a persistent sandbox session (shell state and files survive between session_exec calls); "
	  "returns session_id. End it with session_delete.",
	  "{\"type\": \"object\", \"properties\": {" S_ENVIRONMENT ", " S_MEMORY ", " S_ENV ", "
	  "\"ttl_seconds\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 604800, \"description\": \"the session's whole life (default 1800)\"}, "
	  "\"idle_timeout_seconds\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 604800, \"description\": \"ended after this long without a call (default 300)\"}}, "
	  "\"additionalProperties\": false}" },
	{ "session_exec",
	  "Run a shell command (cd, export persist) or code (python3 keeps its variables) in a session; "
	  "returns stdout, stderr, exit code and cwd.",
	  "{\"type\": \"object\", \"properties\": {" S_SESSION_ID ", "
	  "\"command\": {\"type\": \"string\", \"description\": \"shell text, run in the session's persistent shell\"}, "
	  "\"code\": {\"type\": \"string\", \"description\": \"source to run instead of command\"}, "
	  S_LANG ", " S_STDIN ", " S_ENV ", "
	  "\"cwd\": {\"type\": \"string\", \"maxLength\": 4096, \"description\": \"directory to run in\"}, "
	  "\"timeout\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 86400, \"description\": \"seconds before this command is killed\"}}, "
	  "\"required\": [\"session_id\"], \"additionalProperties\": false}" },
	{ "session_write_file",
	  "Write a UTF-8 text file into a session (parent directories are made).",
	  "{\"type\": \"object\", \"properties\": {" S_SESSION_ID ", "
	  S_PATH("relative to /work, or absolute under /work or /tmp") ", "
	  "\"content\": {\"type\": \"string\", \"description\": \"the file's text\"}, "
	  "\"mode\": {\"type\": \"string\", \"maxLength\": 4, \"description\": \"octal permissions, e.g. 0755\"}}, "
	  "\"required\": [\"session_id\", \"path\", \"content\"], \"additionalProperties\": false}" },
	{ "session_read_file",
	  "Read a file from a session as text (at most 1 MiB shown).",
	  "{\"type\": \"object\", \"properties\": {" S_SESSION_ID ", "
	  S_PATH("relative to /work, or absolute under /work or /tmp") "}, "
	  "\"required\": [\"session_id\", \"path\"], \"additionalProperties\": false}" },
	{ "session_list_files",
	  "List a directory of a session: name, type, size, mode, mtime of each entry.",
	  "{\"type\": \"object\", \"properties\": {" S_SESSION_ID ", "
	  S_PATH("directory, default /work") "}, "
	  "\"required\": [\"session_id\"], \"additionalProperties\": false}" },
	{ "session_delete",
	  "End a session: every process is killed and its files deleted.",
	  "{\"type\": \"object\", \"properties\": {" S_SESSION_ID "}, \"required\": [\"session_id\"], "
	  "\"additionalProperties\": false}" },
};
const size_t mcp_tool_count = sizeof mcp_tools / sizeof mcp_tools[0];

static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

bool mcp_version_supported(const char *version)
{
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
		if (strcmp(version, versions[i]) == 0)
			return true;
	return false;
}

/* Batches were in 2025-03-26 only (2024-11-05 clients may send them too); 2025-06-18 took them out. */
static bool version_allows_batches(const char *version)
{
	return !version || strcmp(version, "2025-03-26") == 0 || strcmp(version, "2024-11-05") == 0;
}

const struct mcp_tool *mcp_tool_find(const char *name)
{
	for (size_t i = 0; i < mcp_tool_count; i++)
		if (strcmp(mcp_tools[i].name, name) == 0)
			return &mcp_tools[i];
	return NULL;
}

/* --- the argument checker ------------------------------------------------- */

static bool type_is(const char *type, const json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	return false;
}

static const char *type_article(const char *type)
{
	return strcmp(type, "object") == 0 || strcmp(type, "array") == 0 || strcmp(type, "integer") == 0 ? "an" : "a";
}

struct check {
	char *field, *reason;
	size_t fieldlen, reasonlen;
};

static int check_fail(struct check *c, const char *field, const char *reason)
{
	snprintf(c->field, c->fieldlen, "%s", field);
	snprintf(c->reason, c->reasonlen, "%s", reason);
	return -1;
}

static int check_value(struct check *c, const json_t *schema, const json_t *v, const char *field, int depth)
{
	const char *type = json_string_value(json_object_get(schema, "type"));
	const json_t *e, *lim;
	char reason[512], sub[256];

	if (depth > SCHEMA_DEPTH_MAX)
		return check_fail(c, field, "nested too deeply");
	if (type && !type_is(type, v)) {
		snprintf(reason, sizeof reason, "%s must be %s %s", *field ? field : "arguments", type_article(type), type);
		return check_fail(c, field, reason);
	}
	if ((e = json_object_get(schema, "enum")) != NULL) {
		size_t i;
		json_t *allowed;
		bool found = false;

		json_array_foreach(e, i, allowed)
			found = found || json_equal(allowed, v);
		if (!found) {
			char *list = json_dumps(e, JSON_COMPACT);
			snprintf(reason, sizeof reason, "%s must be one of %s", field, list ? list : "the listed values");
			free(list);
			return check_fail(c, field, reason);
		}
	}
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if ((lim = json_object_get(schema, "minimum")) && n < json_integer_value(lim)) {
			snprintf(reason, sizeof reason, "%s must be at least %lld", field, (long long)json_integer_value(lim));
			return check_fail(c, field, reason);
		}
		if ((lim = json_object_get(schema, "maximum")) && n > json_integer_value(lim)) {
			snprintf(reason, sizeof reason, "%s must be at most %lld", field, (long long)json_integer_value(lim));
			return check_fail(c, field, reason);
		}
	}
	if (json_is_string(v) && (lim = json_object_get(schema, "maxLength")) &&
	    json_string_length(v) > (size_t)json_integer_value(lim)) {
		snprintf(reason, sizeof reason, "%s is longer than %lld characters", field,
			 (long long)json_integer_value(lim));
		return check_fail(c, field, reason);
	}
	if (json_is_array(v)) {
		const json_t *items = json_object_get(schema, "items");
		size_t i;
		json_t *item;

		if ((lim = json_object_get(schema, "maxItems")) && json_array_size(v) > (size_t)json_integer_value(lim)) {
			snprintf(reason, sizeof reason, "%s has more than %lld items", field, (long long)json_integer_value(lim));
			return check_fail(c, field, reason);
		}
		json_array_foreach(v, i, item) {
			snprintf(sub, sizeof sub, "%s[%zu]", field, i);
			if (items && check_value(c, items, item, sub, depth + 1) < 0)
				return -1;
		}
	}
	if (json_is_object(v)) {
		const json_t *props = json_object_get(schema, "properties"), *more = json_object_get(schema, "additionalProperties");
		const char *key;
		json_t *val;
		size_t i;

		if ((lim = json_object_get(schema, "maxProperties")) && json_object_size(v) > (size_t)json_integer_value(lim)) {
			snprintf(reason, sizeof reason, "%s has more than %lld entries", field, (long long)json_integer_value(lim));
			return check_fail(c, field, reason);
		}
		json_array_foreach(json_object_get(schema, "required"), i, val) {
			const char *name = json_string_value(val);

			if (name && !json_object_get(v, name)) {
				snprintf(sub, sizeof sub, "%s%s%s", field, *field ? "." : "", name);
				snprintf(reason, sizeof reason, "%s is missing", sub);
				return check_fail(c, sub, reason);
			}
		}
		json_object_foreach((json_t *)v, key, val) {
			const json_t *ps = json_object_get(props, key);

			snprintf(sub, sizeof sub, "%s%s%s", field, *field ? "." : "", key);
			if (!ps && json_is_false(more)) {
				snprintf(reason, sizeof reason, "unknown argument '%s'", sub);
				return check_fail(c, sub, reason);
			}
			if (!ps && json_is_object(more))
				ps = more;
			if (ps && check_value(c, ps, val, sub, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

int mcp_args_check(const struct mcp_tool *tool, json_t *args, char *field, size_t fieldlen, char *reason,
		   size_t reasonlen)
{
	struct check c = { field, reason, fieldlen, reasonlen };
	json_t *schema = json_loads(tool->input_schema, 0, NULL);
	int rc;

	if (!schema)    /* cannot happen: tests/unit compiles every schema */
		return check_fail(&c, "", "the tool's schema is broken");
	rc = check_value(&c, schema, args, "", 0);
	json_decref(schema);
	return rc;
}

/* --- results -------------------------------------------------------------- */

json_t *mcp_tool_result(json_t *structured, bool is_error)
{
	char *text = json_dumps(structured, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
			      text ? text : "{}", "isError", is_error);

	json_object_set_new(r, "structuredContent", structured);
	free(text);
	return r;
}

json_t *mcp_tool_error(json_t *error)
{
	return mcp_tool_result(error, true);
}

/* --- JSON-RPC ------------------------------------------------------------- */

/* The message may quote the client's bytes (a method or tool name, a parse
 * error's "near" text, cut at a buffer's end): made valid UTF-8 first, or
 * json_pack would refuse it and the answer would be lost (found by fuzz_mcp). */
static json_t *rpc_error(const json_t *id, int code, const char *message)
{
	size_t len;
	char *clean = utf8_sanitize(message, strlen(message), &len);
	json_t *e = json_pack("{s:s, s:O, s:{s:i, s:s%}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
			      "code", code, "message", clean ? clean : "(out of memory)", clean ? len : strlen("(out of memory)"));

	free(clean);
	return e;
}

static json_t *rpc_result(const json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *tools_list(void)
{
	json_t *list = json_array();

	for (size_t i = 0; i < mcp_tool_count; i++) {
		json_t *schema = json_loads(mcp_tools[i].input_schema, 0, NULL);

		json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", mcp_tools[i].name, "description",
						      mcp_tools[i].description, "inputSchema",
						      schema ? schema : json_object()));
	}
	return json_pack("{s:o}", "tools", list);
}

static json_t *initialize(const json_t *params)
{
	const char *asked = json_string_value(json_object_get(params, "protocolVersion"));

	return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
			 mcp_version_supported(asked) ? asked : MCP_PROTOCOL_LATEST, "capabilities", "tools",
			 "listChanged", 0, "serverInfo", "name", "sandrun", "title", "Sandrun", "version",
			 PACKAGE_VERSION, "instructions",
			 "Sandrun runs code in sandboxes. run_code runs a program and waits for it; the session "
			 "tools keep one sandbox across calls. Errors come back as results with isError and "
			 "a JSON error object naming what to fix; on rate limits wait retry_after seconds.");
}

/*
 * One message. Returns the answer (a new reference), or NULL when there is
 * none (a notification, or a response from the client). *shape_error is
 * set when the message itself is malformed (-32600).
 */
static json_t *process_one(struct mcp_exchange *x, json_t *msg, bool in_batch, bool *shape_error)
{
	json_t *id, *params, *args;
	const char *method, *name;
	const struct mcp_tool *tool;
	char field[256], reason[512];

	*shape_error = true;
	if (!json_is_object(msg))
		return rpc_error(NULL, -32600, "Invalid Request: a message is a JSON object");
	id = json_object_get(msg, "id");
	if (id && !json_is_string(id) && !json_is_integer(id))
		return rpc_error(NULL, -32600, "Invalid Request: id must be a string or an integer");
	if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0)
		return rpc_error(id, -32600, "Invalid Request: jsonrpc must be \"2.0\"");
	if (!json_object_get(msg, "method")) {
		/* A response to a request of ours: we send none, so there is nothing to match it to. */
		if (id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
			*shape_error = false;
			return NULL;
		}
		return rpc_error(id, -32600, "Invalid Request: method is missing");
	}
	if (!json_is_string(json_object_get(msg, "method")))
		return rpc_error(id, -32600, "Invalid Request: method must be a string");
	params = json_object_get(msg, "params");
	if (params && !json_is_object(params) && !json_is_array(params))
		return rpc_error(id, -32600, "Invalid Request: params must be an object or an array");
	*shape_error = false;
	method = json_string_value(json_object_get(msg, "method"));
	if (!id)
		return NULL;    /* notifications (initialized, cancelled, ...): nothing to answer */
	if (params && !json_is_object(params))
		return rpc_error(id, -32602, "Invalid params: params must be an object");
	if (strcmp(method, "initialize") == 0) {
		if (in_batch)
			return rpc_error(id, -32600, "Invalid Request: initialize cannot be part of a batch");
		if (!json_is_string(json_object_get(params, "protocolVersion")))
			return rpc_error(id, -32602, "Invalid params: protocolVersion is missing");
		x->initialized = true;
		return rpc_result(id, initialize(params));
	}
	if (strcmp(method, "ping") == 0)
		return rpc_result(id, json_object());
	if (strcmp(method, "tools/list") == 0)
		return rpc_result(id, tools_list());
	if (strcmp(method, "tools/call") != 0) {
		snprintf(reason, sizeof reason, "Method not found: %s (this server has tools only)", method);
		return rpc_error(id, -32601, reason);
	}
	name = json_string_value(json_object_get(params, "name"));
	if (!name)
		return rpc_error(id, -32602, "Invalid params: name (the tool) is missing");
	tool = mcp_tool_find(name);
	if (!tool) {
		snprintf(reason, sizeof reason, "Unknown tool: %.200s", name);
		return rpc_error(id, -32602, reason);
	}
	args = json_object_get(params, "arguments");
	if (!args)
		args = json_object();
	else
		json_incref(args);
	if (mcp_args_check(tool, args, field, sizeof field, reason, sizeof reason) < 0) {
		/* The reason may quote the client's names, cut at the buffer's end: valid UTF-8 first. */
		size_t rlen;
		char *clean = utf8_sanitize(reason, strlen(reason), &rlen);
		json_t *err = json_pack("{s:s, s:s%, s:i}", "error", "Bad request", "reason", clean ? clean : "",
					clean ? rlen : 0, "http_status", 400);

		free(clean);
		if (*field)
			json_object_set_new(err, "field", json_string(field));
		json_decref(args);
		return rpc_result(id, mcp_tool_error(err));
	}
	{
		json_t *result = x->call(x->ctx, tool, args);

		json_decref(args);
		return rpc_result(id, result);
	}
}

void mcp_process(struct mcp_exchange *x, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root, *msg, *answers;
	size_t i;
	bool shape_error;
	char text[256];

	x->reply = NULL;
	x->http_status = 200;
	x->initialized = false;
	if (x->version_header && !mcp_version_supported(x->version_header)) {
		snprintf(text, sizeof text, "Unsupported MCP-Protocol-Version %.40s: this server speaks "
			 "2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05", x->version_header);
		x->http_status = 400;
		x->reply = rpc_error(NULL, -32600, text);
		return;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(text, sizeof text, "Parse error: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
		x->http_status = 400;
		x->reply = rpc_error(NULL, -32700, text);
		return;
	}
	if (!json_is_array(root)) {
		x->reply = process_one(x, root, false, &shape_error);
		if (shape_error)
			x->http_status = 400;
		else if (!x->reply)
			x->http_status = 202;
		json_decref(root);
		return;
	}
	if (!version_allows_batches(x->version_header) || json_array_size(root) == 0 ||
	    json_array_size(root) > MCP_BATCH_MAX) {
		snprintf(text, sizeof text, "Invalid Request: %s", json_array_size(root) == 0 ? "an empty batch" :
			 json_array_size(root) > MCP_BATCH_MAX ? "a batch of more than 32 messages" :
			 "batches are not part of MCP 2025-06-18 and later; send one message per POST");
		x->http_status = 400;
		x->reply = rpc_error(NULL, -32600, text);
		json_decref(root);
		return;
	}
	answers = json_array();
	json_array_foreach(root, i, msg) {
		json_t *a = process_one(x, msg, true, &shape_error);

		if (a)
			json_array_append_new(answers, a);
	}
	json_decref(root);
	if (json_array_size(answers) == 0) {
		json_decref(answers);
		x->http_status = 202;
		return;
	}
	x->reply = answers;
}
