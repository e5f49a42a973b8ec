/*
 * The MCP tools as subrequests (fcgi/mcp_tools.h). Each tool builds the
 * request a client of the HTTP API would send (method, path, query, JSON
 * or byte body), runs it through routes_dispatch() with its answer
 * captured in memory (struct request_capture), and turns the answer into
 * a CallToolResult:
 *
 *   2xx  the route's JSON as structuredContent, and the same as text
 *   4xx, 5xx  isError, the route's error object ({"error", "reason",
 *        "field", "retry_after"}) with "http_status" added
 *
 * A job that ran and exited non-zero is a normal result (isError false):
 * the tool did its work; status "failed", reason and exit_code say how the
 * program ended. run_code is POST /submit?wait=T (T: the job's timeout)
 * then GET /logs/{id}?format=json; if the job has not ended by then (a long
 * queue), the result says so with the job id for job_status.
 */
#include "config.h"
#include "jobid.h"
#include "mcp_tools.h"
#include "request.h"
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* session_read_file shows at most this much of a file: an LLM's context is the bound. */
#define READ_FILE_SHOW_MAX (1024 * 1024)

/* One subrequest through the route table; returns the answer's status (0: the client is gone). */
static int tool_route(struct request *parent, const char *method, const char *path, const char *query,
		      const char *uri, const char *content_type, const char *body, size_t len,
		      struct request_capture *cap)
{
	const char *params[] = { "REQUEST_URI", uri, NULL };
	struct request sub;

	memset(cap, 0, sizeof *cap);
	request_sub_init(&sub, parent, method, path, query, content_type, body, len, uri ? params : NULL, cap);
	routes_dispatch(&sub);
	return cap->status;
}

static void capture_free(struct request_capture *cap)
{
	free(cap->headers.data);
	free(cap->body.data);
}

static json_t *capture_json(const struct request_capture *cap)
{
	return json_loadb(cap->body.data ? cap->body.data : "", cap->body.len, 0, NULL);
}

/* The route's error as an isError result: its error object plus "http_status". */
static json_t *error_from_capture(const struct request_capture *cap)
{
	json_t *err = capture_json(cap);

	if (!json_is_object(err)) {
		json_decref(err);
		err = json_pack("{s:s, s:o}", "error", cap->status ? "Error" : "Client gone", "reason",
				json_string_lossy(cap->body.data ? cap->body.data : "", cap->body.len));
	}
	json_object_set_new(err, "http_status", json_integer(cap->status));
	return mcp_tool_error(err);
}

static json_t *error_result(int status, const char *error, const char *field, const char *reason)
{
	json_t *err = json_pack("{s:s, s:s, s:i}", "error", error, "reason", reason, "http_status", status);

	if (field)
		json_object_set_new(err, "field", json_string(field));
	return mcp_tool_error(err);
}

/* The answer as a result: its JSON object, or an error. Frees the capture. */
static json_t *result_from_capture(struct request_capture *cap)
{
	json_t *r, *o;

	if (cap->status < 200 || cap->status >= 300) {
		r = error_from_capture(cap);
	} else if (!json_is_object(o = capture_json(cap))) {
		json_decref(o);
		r = error_result(500, "Internal error", NULL, "the route answered something else than JSON");
	} else {
		r = mcp_tool_result(o, false);
	}
	capture_free(cap);
	return r;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT);
}

/* Percent-encodes a path for REQUEST_URI ('/' and unreserved characters stay). */
static void uri_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~/", c)) {
			buf_append(b, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(b, e, 3);
		}
	}
}

static const char *arg_str(const json_t *args, const char *name, const char *def)
{
	const char *s = json_string_value(json_object_get(args, name));
	return s ? s : def;
}

/* ---- jobs */

/* The names agents also use for a language (the schema's enum lists them): the interpreter's. */
static const char *language_canonical(const char *language)
{
	static const struct { const char *alias, *name; } aliases[] = {
		{ "python", "python3" }, { "javascript", "node" }, { "R", "Rscript" },
	};

	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(aliases[i].alias, language) == 0)
			return aliases[i].name;
	return language;
}

static const char *code_file_name(const char *language)
{
	static const struct { const char *language, *file; } names[] = {
		{ "python3", "main.py" }, { "node", "main.js" }, { "bash", "main.sh" }, { "sh", "main.sh" },
		{ "ruby", "main.rb" }, { "Rscript", "main.R" }, { "perl", "main.pl" }, { "php", "main.php" },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i].language, language) == 0)
			return names[i].file;
	return "main.py";
}

static json_t *run_code(struct request *req, json_t *args)
{
	const struct sandrun_limits *l = request_limits(req);
	const char *language = language_canonical(arg_str(args, "language", "python3"));
	const char *file = code_file_name(language);
	const char *copied[] = { "stdin", "timeout", "environment", "env", "args", "memory_mb", "outputs" };
	json_t *files = json_deep_copy(json_object_get(args, "files")), *body, *st, *logs, *out, *listed, *v;
	struct request_capture cap;
	char query[32], path[64], *text;
	const char *id, *status, *name;
	json_int_t wait;

	if (!files)
		files = json_object();
	if (json_object_get(files, file)) {
		json_decref(files);
		return error_result(400, "Bad request", "files", "files must not hold the code's own file name");
	}
	json_object_set(files, file, json_object_get(args, "code"));
	body = json_pack("{s:s, s:s, s:o}", "entrypoint", file, "interpreter", language, "files", files);
	for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
		if ((v = json_object_get(args, copied[i])) != NULL)
			json_object_set(body, copied[i], v);
	if (!json_object_get(body, "outputs"))
		json_object_set_new(body, "outputs", json_pack("[s]", "*"));
	wait = json_is_integer(json_object_get(args, "timeout")) ? json_integer_value(json_object_get(args, "timeout"))
								 : l->timeout_default;
	if (wait > l->timeout_max)
		wait = l->timeout_max;
	snprintf(query, sizeof query, "wait=%lld", (long long)wait);
	text = dump(body);
	tool_route(req, "POST", "/submit", query, NULL, "application/json", text, strlen(text), &cap);
	free(text);
	if (cap.status != 200) {
		json_decref(body);
		return result_from_capture(&cap);
	}
	st = capture_json(&cap);
	capture_free(&cap);
	id = json_string_value(json_object_get(st, "job_id"));
	status = json_string_value(json_object_get(st, "status"));
	if (!id || !status) {
		json_decref(st);
		json_decref(body);
		return error_result(500, "Internal error", NULL, "the submit answer has no job_id or status");
	}
	out = json_pack("{s:s, s:s}", "job_id", id, "status", status);
	if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0) {
		json_object_set_new(out, "note", json_string("the job has not ended yet: call job_status with "
							     "wait, then job_logs"));
		json_decref(st);
		json_decref(body);
		return mcp_tool_result(out, false);
	}
	if ((v = json_object_get(st, "reason")) != NULL)
		json_object_set(out, "reason", v);
	v = json_object_get(st, "execution_metadata");
	json_object_set(out, "exit_code", json_object_get(v, "exit_code") ? json_object_get(v, "exit_code") : json_null());
	json_object_set(out, "signal", json_object_get(v, "signal") ? json_object_get(v, "signal") : json_null());
	if (json_object_get(v, "wall_seconds"))
		json_object_set(out, "wall_seconds", json_object_get(v, "wall_seconds"));
	snprintf(path, sizeof path, "/logs/%s", id);
	tool_route(req, "GET", path, "format=json", NULL, "", "", 0, &cap);
	logs = cap.status == 200 ? capture_json(&cap) : NULL;
	capture_free(&cap);
	v = json_object_get(logs, "stdout");
	json_object_set_new(out, "stdout", v ? json_incref(v) : json_string(""));
	v = json_object_get(logs, "stderr");
	json_object_set_new(out, "stderr", v ? json_incref(v) : json_string(""));
	if (json_object_get(logs, "truncated"))
		json_object_set(out, "truncated", json_object_get(logs, "truncated"));
	/* The files the job kept, but not the inputs we sent (unless the caller named its own outputs). */
	listed = json_array();
	json_object_foreach(json_object_get(st, "output_files"), name, v) {
		if (!json_object_get(args, "outputs") && json_object_get(files, name))
			continue;
		struct buf url = { 0 };

		buf_append_str(&url, "/download/");
		buf_append_str(&url, id);
		buf_append_str(&url, "/");
		uri_encode(&url, name);
		buf_append(&url, "", 1);
		json_array_append_new(listed, json_pack("{s:s, s:O, s:O, s:s}", "path", name, "size",
							json_object_get(v, "size"), "sha256", json_object_get(v, "sha256"),
							"download", url.data));
		free(url.data);
	}
	json_object_set_new(out, "output_files", listed);
	if ((v = json_object_get(st, "outputs_not_kept")) != NULL)
		json_object_set(out, "outputs_not_kept", v);
	json_decref(logs);
	json_decref(st);
	json_decref(body);
	return mcp_tool_result(out, false);
}

static json_t *submit_job(struct request *req, json_t *args)
{
	struct request_capture cap;
	char *text = dump(args);

	tool_route(req, "POST", "/submit", "", NULL, "application/json", text, strlen(text), &cap);
	free(text);
	return result_from_capture(&cap);
}

static json_t *job_id_refused(void)
{
	return error_result(404, "Job not found", "job_id", "no job with this id (unknown, expired or deleted)");
}

static json_t *job_status(struct request *req, json_t *args)
{
	const char *id = arg_str(args, "job_id", "");
	struct request_capture cap;
	char path[64], query[32] = "";

	if (!jobid_valid(id, strlen(id)))
		return job_id_refused();
	snprintf(path, sizeof path, "/status/%s", id);
	if (json_object_get(args, "wait"))
		snprintf(query, sizeof query, "wait=%lld", (long long)json_integer_value(json_object_get(args, "wait")));
	tool_route(req, "GET", path, query, NULL, "", "", 0, &cap);
	return result_from_capture(&cap);
}

static json_t *job_logs(struct request *req, json_t *args)
{
	const char *id = arg_str(args, "job_id", "");
	struct request_capture cap;
	char path[64];

	if (!jobid_valid(id, strlen(id)))
		return job_id_refused();
	snprintf(path, sizeof path, "/logs/%s", id);
	tool_route(req, "GET", path, "format=json", NULL, "", "", 0, &cap);
	return result_from_capture(&cap);
}

/* ---- sessions */

/* The session id, checked for shape (as the route would: a 404), or NULL after making *refused. */
static const char *session_id(json_t *args, json_t **refused)
{
	const char *sid = arg_str(args, "session_id", "");

	if (prefixed_id_valid(SESID_PREFIX, sid, strlen(sid)))
		return sid;
	*refused = error_result(404, "Session not found", "session_id",
				"no session with this id (unknown, expired or ended)");
	return NULL;
}

static json_t *session_create(struct request *req, json_t *args)
{
	struct request_capture cap;
	char *text = dump(args);

	tool_route(req, "POST", "/sessions", "", NULL, "application/json", text, strlen(text), &cap);
	free(text);
	return result_from_capture(&cap);
}

static json_t *session_exec(struct request *req, json_t *args)
{
	json_t *refused = NULL, *body;
	const char *sid = session_id(args, &refused);
	struct request_capture cap;
	char path[96], *text;

	if (!sid)
		return refused;
	body = json_deep_copy(args);
	json_object_del(body, "session_id");
	if (json_is_string(json_object_get(body, "language")))
		json_object_set_new(body, "language",
				    json_string(language_canonical(json_string_value(json_object_get(body, "language")))));
	text = dump(body);
	json_decref(body);
	snprintf(path, sizeof path, "/sessions/%s/exec", sid);
	tool_route(req, "POST", path, "", NULL, "application/json", text, strlen(text), &cap);
	free(text);
	return result_from_capture(&cap);
}

/* The file route's decoded path and its REQUEST_URI, for `file` (may be ""). The caller frees both. */
static void session_file_uri(const char *sid, const char *file, struct buf *path, struct buf *uri)
{
	buf_append_str(path, "/sessions/");
	buf_append_str(path, sid);
	buf_append_str(path, "/files/");
	buf_append(uri, path->data, path->len);
	buf_append_str(path, file);
	buf_append(path, "", 1);
	uri_encode(uri, file);
	buf_append(uri, "", 1);
}

static json_t *session_write_file(struct request *req, json_t *args)
{
	json_t *refused = NULL, *out;
	const char *sid = session_id(args, &refused), *content = arg_str(args, "content", "");
	const char *mode = arg_str(args, "mode", NULL);
	struct request_capture cap;
	struct buf path = { 0 }, uri = { 0 }, query = { 0 };

	if (!sid)
		return refused;
	session_file_uri(sid, arg_str(args, "path", ""), &path, &uri);
	if (mode) {
		buf_append_str(&query, "mode=");
		uri_encode(&query, mode);
	}
	buf_append(&query, "", 1);
	tool_route(req, "PUT", path.data, query.data, uri.data, "application/octet-stream", content,
		   json_string_length(json_object_get(args, "content")), &cap);
	if (cap.status >= 200 && cap.status < 300 && cap.body.len == 0) {
		/* a write may answer with no body: say what was written */
		out = mcp_tool_result(json_pack("{s:s, s:I}", "path", arg_str(args, "path", ""), "size",
						(json_int_t)json_string_length(json_object_get(args, "content"))), false);
		capture_free(&cap);
	} else {
		out = result_from_capture(&cap);
	}
	free(path.data);
	free(uri.data);
	free(query.data);
	return out;
}

/* GET of a session path: a directory's listing (JSON) or a file's bytes (as text, at most READ_FILE_SHOW_MAX). */
static json_t *session_get_path(struct request *req, json_t *args, bool want_dir)
{
	json_t *refused = NULL, *out;
	const char *sid = session_id(args, &refused), *file = arg_str(args, "path", "");
	struct request_capture cap;
	struct buf path = { 0 }, uri = { 0 };
	bool listing;

	if (!sid)
		return refused;
	session_file_uri(sid, file, &path, &uri);
	tool_route(req, "GET", path.data, "", uri.data, "", "", 0, &cap);
	free(path.data);
	free(uri.data);
	if (cap.status != 200)
		return result_from_capture(&cap);
	listing = strncmp(cap.content_type, "application/json", 16) == 0;
	if (listing)
		return result_from_capture(&cap);
	if (want_dir) {
		capture_free(&cap);
		return error_result(400, "Bad request", "path", "path is a file, not a directory: use session_read_file");
	}
	out = json_pack("{s:s, s:I, s:o, s:b}", "path", *file ? file : "/work", "size", (json_int_t)cap.body.len,
			"content", json_string_lossy(cap.body.data ? cap.body.data : "",
						     cap.body.len > READ_FILE_SHOW_MAX ? READ_FILE_SHOW_MAX : cap.body.len),
			"truncated", cap.body.len > READ_FILE_SHOW_MAX);
	capture_free(&cap);
	return mcp_tool_result(out, false);
}

static json_t *session_read_file(struct request *req, json_t *args)
{
	return session_get_path(req, args, false);
}

static json_t *session_list_files(struct request *req, json_t *args)
{
	return session_get_path(req, args, true);
}

static json_t *session_delete(struct request *req, json_t *args)
{
	json_t *refused = NULL;
	const char *sid = session_id(args, &refused);
	struct request_capture cap;
	char path[96];

	if (!sid)
		return refused;
	snprintf(path, sizeof path, "/sessions/%s", sid);
	tool_route(req, "DELETE", path, "", NULL, "", "", 0, &cap);
	return result_from_capture(&cap);
}

json_t *mcp_tools_call(void *ctx, const struct mcp_tool *tool, json_t *args)
{
	static const struct {
		const char *name;
		json_t *(*run)(struct request *req, json_t *args);
	} impl[] = {
		{ "run_code", run_code }, { "submit_job", submit_job }, { "job_status", job_status },
		{ "job_logs", job_logs }, { "session_create", session_create }, { "session_exec", session_exec },
		{ "session_write_file", session_write_file }, { "session_read_file", session_read_file },
		{ "session_list_files", session_list_files }, { "session_delete", session_delete },
	};

	for (size_t i = 0; i < sizeof impl / sizeof impl[0]; i++)
		if (strcmp(impl[i].name, tool->name) == 0)
			return impl[i].run(ctx, args);
	return error_result(500, "Internal error", NULL, "this tool has no implementation");
}
