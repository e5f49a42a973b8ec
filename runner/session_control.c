/*
 * The session supervisor's message parsers and translators
 * (runner/session_control.h). Strict where root decides something
 * (ids, op, numbers that size a cgroup or a lifetime), pass-through where
 * the agent decides (the exec and files fields: the agent checks them as
 * the session's user, and answers a 400 for what it refuses). Every JSON
 * is parsed with duplicates refused and bounded in size first.
 */
#include "session_control.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobid.h"
#include "session_proto.h"

static const char *const session_ctl_op_names[SESSION_CTL_OP_COUNT] = {
	[SESSION_CTL_OP_EXEC] = "exec", [SESSION_CTL_OP_WRITE] = "write", [SESSION_CTL_OP_READ] = "read",
	[SESSION_CTL_OP_DELETE] = "delete", [SESSION_CTL_OP_UNPACK] = "unpack", [SESSION_CTL_OP_ARCHIVE] = "archive",
	[SESSION_CTL_OP_PAUSE] = "pause", [SESSION_CTL_OP_RESUME] = "resume", [SESSION_CTL_OP_SNAPSHOT] = "snapshot",
	[SESSION_CTL_OP_END] = "end", [SESSION_CTL_OP_PTY] = "pty",
};

const char *session_ctl_op_name(enum session_ctl_op op)
{
	return op < SESSION_CTL_OP_COUNT ? session_ctl_op_names[op] : "?";
}

static int __attribute__((format(printf, 3, 4))) ctl_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static json_t *ctl_load(const void *buf, size_t len, size_t max, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o;

	if (len > max) {
		ctl_err(err, errlen, "the message is over %zu bytes", max);
		return NULL;
	}
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		ctl_err(err, errlen, "not JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		ctl_err(err, errlen, "not a JSON object");
		return NULL;
	}
	return o;
}

/* A string field of at most max - 1 bytes, no NUL, into out. 1 copied, 0 absent or null, -1 wrong. */
static int ctl_string(json_t *o, const char *key, char *out, size_t max)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	n = json_string_length(v);
	if (n == 0 || n >= max || memchr(json_string_value(v), '\0', n))
		return -1;
	memcpy(out, json_string_value(v), n + 1);
	return 1;
}

/* An integer field in [min, max]. 1, 0 absent, -1 wrong. */
static int ctl_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 1;
}

static bool ctl_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-'
		      || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool ctl_env_name_valid(const char *k)
{
	if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_'))
		return false;
	for (k++; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	return true;
}

int session_create_parse(const void *buf, size_t len, const struct session_ctl_limits *lim,
			 struct session_create *c, char *err, size_t errlen)
{
	json_t *o, *env;
	const char *k;
	json_t *v;

	memset(c, 0, sizeof *c);
	if (!(o = ctl_load(buf, len, SESSION_CTL_ENTRY_MAX, err, errlen)))
		return -1;
	if (ctl_string(o, "session_id", c->session_id, sizeof c->session_id) != 1
	    || !prefixed_id_valid(SESID_PREFIX, c->session_id, strlen(c->session_id))) {
		c->session_id[0] = '\0';
		ctl_err(err, errlen, "session_id is missing or not a session id");
		goto fail;
	}
	if (ctl_string(o, "environment", c->environment, sizeof c->environment) != 1
	    || !ctl_name_valid(c->environment)) {
		ctl_err(err, errlen, "environment is missing or not an environment name");
		goto fail;
	}
	if (ctl_string(o, "workspace_id", c->workspace_id, sizeof c->workspace_id) < 0
	    || (c->workspace_id[0] && !prefixed_id_valid(WSPID_PREFIX, c->workspace_id, strlen(c->workspace_id)))) {
		ctl_err(err, errlen, "workspace_id is not a workspace id");
		goto fail;
	}
	if (ctl_string(o, "client", c->client, sizeof c->client) != 1) {
		ctl_err(err, errlen, "client is missing or too long");
		goto fail;
	}
	if (ctl_int(o, "memory_mb", lim->memory_mb_min, lim->memory_mb_max, &c->memory_mb) != 1) {
		ctl_err(err, errlen, "memory_mb is missing or not in [%lld, %lld]", (long long)lim->memory_mb_min,
			(long long)lim->memory_mb_max);
		goto fail;
	}
	if (ctl_int(o, "ttl_seconds", 1, lim->ttl_max, &c->ttl_seconds) != 1) {
		ctl_err(err, errlen, "ttl_seconds is missing or not in [1, %lld]", (long long)lim->ttl_max);
		goto fail;
	}
	if (ctl_int(o, "idle_timeout_seconds", 1, lim->idle_max, &c->idle_timeout_seconds) != 1) {
		ctl_err(err, errlen, "idle_timeout_seconds is missing or not in [1, %lld]", (long long)lim->idle_max);
		goto fail;
	}
	env = json_object_get(o, "env");
	if (env && !json_is_null(env)) {
		if (!json_is_object(env) || json_object_size(env) > SESSION_CTL_ENV_MAX) {
			ctl_err(err, errlen, "env is not an object of at most %d strings", SESSION_CTL_ENV_MAX);
			goto fail;
		}
		json_object_foreach(env, k, v) {
			if (!ctl_env_name_valid(k) || !json_is_string(v)
			    || memchr(json_string_value(v), '\0', json_string_length(v))) {
				ctl_err(err, errlen, "env.%.64s is not a variable name with a string value", k);
				goto fail;
			}
		}
		c->nenv = json_object_size(env);
		c->env_json = json_dumps(env, JSON_COMPACT);
	} else {
		c->env_json = strdup("{}");
	}
	if (!c->env_json) {
		ctl_err(err, errlen, "out of memory");
		goto fail;
	}
	json_decref(o);
	return 0;
fail:
	json_decref(o);
	free(c->env_json);
	c->env_json = NULL;
	return -1;
}

void session_create_free(struct session_create *c)
{
	free(c->env_json);
	c->env_json = NULL;
}

static bool ctl_rid_valid(const char *s)
{
	if (strlen(s) != SESSION_CTL_RID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int session_ctl_request_parse(const void *buf, size_t len, struct session_ctl_request *req, char *err,
			      size_t errlen)
{
	char op[16];
	json_t *o;
	int i;

	memset(req, 0, sizeof *req);
	if (!(o = ctl_load(buf, len, SESSION_CTL_ENTRY_MAX, err, errlen)))
		return -1;
	req->json = o;
	if (ctl_string(o, "rid", req->rid, sizeof req->rid) != 1 || !ctl_rid_valid(req->rid)) {
		req->rid[0] = '\0';
		return ctl_err(err, errlen, "rid is missing or not 16 hex digits");
	}
	if (ctl_string(o, "op", op, sizeof op) != 1)
		return ctl_err(err, errlen, "op is missing");
	for (i = 0; i < SESSION_CTL_OP_COUNT && strcmp(session_ctl_op_names[i], op) != 0; i++)
		;
	if (i == SESSION_CTL_OP_COUNT)
		return ctl_err(err, errlen, "op \"%s\" is not one of exec, write, read, delete, unpack, archive, "
			       "pause, resume, snapshot, end, pty", op);
	req->op = (enum session_ctl_op)i;
	req->has_data = req->op == SESSION_CTL_OP_WRITE || req->op == SESSION_CTL_OP_UNPACK;
	return 0;
}

void session_ctl_request_free(struct session_ctl_request *req)
{
	json_decref(req->json);
	req->json = NULL;
}

static char *ctl_dump(json_t *o, size_t *len)
{
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

/* Copies field `key` of `from` to `to` when present (not null). */
static void ctl_copy(json_t *to, json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);

	if (v && !json_is_null(v))
		json_object_set(to, key, v);
}

char *session_ctl_agent_frame(const struct session_ctl_request *req, int64_t id, int64_t binary_len,
			      size_t *len, char *err, size_t errlen, const char **field)
{
	static const char *const exec_fields[] = { "command", "code", "language", "stdin", "env", "cwd", NULL };
	static const char *const files_fields[] = { "path", "mode", "recursive", NULL };
	json_t *o = json_object(), *src = req->json, *v;
	const char *const *f;

	*field = NULL;
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "op", json_string(session_ctl_op_name(req->op)));
	if (req->op == SESSION_CTL_OP_EXEC) {
		for (f = exec_fields; *f; f++)
			ctl_copy(o, src, *f);
		v = json_object_get(src, "timeout");
		if (v && !json_is_null(v)) {
			double s = json_number_value(v);

			if (!json_is_number(v) || !(s > 0) || s * 1000 > SESSION_TIMEOUT_MAX_MS) {
				json_decref(o);
				*field = "timeout";
				ctl_err(err, errlen, "timeout must be a number of seconds in (0, %d]",
					SESSION_TIMEOUT_MAX_MS / 1000);
				return NULL;
			}
			json_int_t ms = (json_int_t)(s * 1000 + 0.5);

			json_object_set_new(o, "timeout", json_integer(ms < 1 ? 1 : ms));
		}
		v = json_object_get(src, "stream");
		if (v && !json_is_boolean(v)) {
			json_decref(o);
			*field = "stream";
			ctl_err(err, errlen, "stream must be true or false");
			return NULL;
		}
		if (json_is_true(v))
			json_object_set_new(o, "stream", json_true());
	} else if (req->op <= SESSION_CTL_OP_ARCHIVE) {
		for (f = files_fields; *f; f++)
			ctl_copy(o, src, *f);
	} else {
		json_decref(o);
		ctl_err(err, errlen, "op %s is not the agent's", session_ctl_op_name(req->op));
		return NULL;
	}
	if (binary_len >= 0)
		json_object_set_new(o, "binary", json_integer(binary_len));
	return ctl_dump(o, len);
}

char *session_ctl_init_frame(int64_t id, const char *env_json, size_t *len)
{
	json_t *o = json_object(), *env = json_loads(env_json, 0, NULL);

	if (!env || !json_is_object(env)) {
		json_decref(env);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "op", json_string("init"));
	json_object_set_new(o, "env", env);
	return ctl_dump(o, len);
}

char *session_ctl_workspace_frame(int64_t id, bool unpack, int64_t binary_len, size_t *len)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "op", json_string(unpack ? "unpack" : "archive"));
	json_object_set_new(o, "path", json_string("/work"));
	if (unpack)
		json_object_set_new(o, "binary", json_integer(binary_len));
	return ctl_dump(o, len);
}

int session_ctl_translate(const void *buf, size_t len, int64_t id, enum session_ctl_kind *kind, char **reply,
			  size_t *rlen, int64_t *binary_len, char *err, size_t errlen)
{
	json_t *o, *out, *v, *ev;
	const char *k;

	*reply = NULL;
	*binary_len = -1;
	if (!(o = ctl_load(buf, len, SESSION_FRAME_MAX, err, errlen)))
		return -1;
	v = json_object_get(o, "id");
	/* an error about a frame the agent could not read carries id null */
	if (!(json_is_integer(v) && json_integer_value(v) == id)
	    && !(json_is_null(v) && json_is_false(json_object_get(o, "ok")))) {
		json_decref(o);
		return ctl_err(err, errlen, "the agent answered another request than %lld", (long long)id);
	}
	ev = json_object_get(o, "event");
	if (ev) {
		json_t *data = json_object_get(o, "data");

		if (!json_is_string(ev) || (strcmp(json_string_value(ev), "stdout") != 0
					    && strcmp(json_string_value(ev), "stderr") != 0)
		    || !json_is_string(data)) {
			json_decref(o);
			return ctl_err(err, errlen, "the agent sent a malformed event");
		}
		out = json_object();
		json_object_set(out, "event", ev);
		json_object_set(out, "data", data);
		json_decref(o);
		*kind = SESSION_CTL_EVENT;
		*reply = ctl_dump(out, rlen);
		return *reply ? 0 : ctl_err(err, errlen, "out of memory");
	}
	v = json_object_get(o, "ok");
	if (!json_is_boolean(v)) {
		json_decref(o);
		return ctl_err(err, errlen, "the agent's answer has no ok");
	}
	out = json_object();
	json_object_set_new(out, "final", json_true());
	if (json_is_true(v)) {
		json_t *b = json_object_get(o, "binary");

		if (b && (!json_is_integer(b) || json_integer_value(b) < 0
			  || json_integer_value(b) > (json_int_t)SESSION_CTL_BINARY_MAX)) {
			json_decref(o);
			json_decref(out);
			return ctl_err(err, errlen, "the agent's binary length is out of range");
		}
		if (b)
			*binary_len = json_integer_value(b);
		json_object_foreach(o, k, v) {
			if (strcmp(k, "id") != 0 && strcmp(k, "final") != 0)
				json_object_set(out, k, v);
		}
	} else {
		json_t *e = json_object_get(o, "error"), *st = json_object_get(o, "status");
		int status = json_is_integer(st) && json_integer_value(st) >= 400 && json_integer_value(st) <= 599
				     ? (int)json_integer_value(st) : 400;

		json_object_set_new(out, "ok", json_false());
		json_object_set_new(out, "status", json_integer(status));
		json_object_set_new(out, "error", json_is_string(e) ? json_incref(e)
					      : json_string("the session's agent refused the request"));
		ctl_copy(out, o, "reason");
		if (json_is_string(json_object_get(o, "field")))
			ctl_copy(out, o, "field");
	}
	json_decref(o);
	*kind = SESSION_CTL_FINAL;
	*reply = ctl_dump(out, rlen);
	return *reply ? 0 : ctl_err(err, errlen, "out of memory");
}

char *session_ctl_error_frame(int status, const char *error, const char *reason, const char *field, size_t *len)
{
	json_t *o = json_object();

	json_object_set_new(o, "final", json_true());
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "error", json_string(error ? error : ""));
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	if (field)
		json_object_set_new(o, "field", json_string(field));
	return ctl_dump(o, len);
}
