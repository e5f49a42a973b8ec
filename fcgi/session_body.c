/*
 * The session routes' input, parsed with jansson and checked field by
 * field (fcgi/session_body.h). Every check names its field; values are
 * copied into a request object for the supervisor only once they passed.
 * Strings may hold any bytes but NUL where the sandbox takes them as text
 * (paths, argv, env): those are checked here, before anything reaches
 * Redis.
 */
#include "config.h"
#include "manifest.h"
#include "session_body.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int body_fail(struct session_body_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int body_fail(struct session_body_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof err->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
	return 400;
}

/* The body as a JSON object (an empty body is {}): a new reference, or NULL after body_fail. */
static json_t *body_object(const char *body, size_t len, struct session_body_error *err)
{
	json_error_t jerr;
	json_t *root;
	size_t i = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i == len)
		return json_object();
	if (len > SESSION_BODY_MAX_BYTES) {
		body_fail(err, NULL, "the body is larger than %d bytes", SESSION_BODY_MAX_BYTES);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		body_fail(err, NULL, "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
			  jerr.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		body_fail(err, NULL, "the body must be a JSON object");
		return NULL;
	}
	return root;
}

/* Only the keys in `known` (NULL-ended): else 400 naming the first other. */
static int body_known_keys(const json_t *root, const char *const *known, struct session_body_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)root, key, v) {
		size_t i;

		for (i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (!known[i]) {
			char shown[48];

			snprintf(shown, sizeof shown, "%s", key);
			for (char *c = shown; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			return body_fail(err, shown, "unknown field '%s'", shown);
		}
	}
	return 0;
}

/* An optional integer field within [min, max] into *out (left alone when absent). */
static int body_int(const json_t *root, const char *field, int64_t min, int64_t max, int64_t *out,
		    struct session_body_error *err)
{
	const json_t *v = json_object_get(root, field);
	json_int_t n;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return body_fail(err, field, "%s must be a whole number from %lld to %lld", field, (long long)min,
				 (long long)max);
	n = json_integer_value(v);
	if (n < min || n > max)
		return body_fail(err, field, "%s must be from %lld to %lld", field, (long long)min, (long long)max);
	*out = n;
	return 0;
}

static bool has_nul(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

static bool env_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > SESSION_ENV_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* "env": an object of names [A-Za-z_][A-Za-z0-9_]* to strings without NUL. 0, or 400. */
static int body_env(const json_t *v, struct session_body_error *err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return body_fail(err, "env", "env must be an object mapping variable names to strings");
	if (json_object_size(v) > SESSION_ENV_MAX)
		return body_fail(err, "env", "env may hold at most %d variables", SESSION_ENV_MAX);
	json_object_foreach((json_t *)v, key, val) {
		size_t klen = strlen(key);
		char field[80];

		if (!env_name_valid(key, klen))
			return body_fail(err, "env", "env names must match [A-Za-z_][A-Za-z0-9_]* (at most %d bytes)",
					 SESSION_ENV_NAME_MAX);
		snprintf(field, sizeof field, "env.%s", key);
		if (!json_is_string(val))
			return body_fail(err, field, "%s must be a string", field);
		if (json_string_length(val) > SESSION_ENV_VALUE_MAX ||
		    has_nul(json_string_value(val), json_string_length(val)))
			return body_fail(err, field, "%s must be at most %d bytes, without NUL", field,
					 SESSION_ENV_VALUE_MAX);
	}
	return 0;
}

int session_create_parse(const char *body, size_t len, const struct sandrun_limits *l,
			 struct session_create_req *out, struct session_body_error *err)
{
	static const char *const known[] = { "environment", "memory_mb", "ttl_seconds", "idle_timeout_seconds",
					     "env", "workspace_id", NULL };
	json_t *root, *v;
	int rc;

	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	snprintf(out->environment, sizeof out->environment, "default");
	out->memory_mb = l->memory_mb_default;
	out->ttl_seconds = l->session_ttl_default;
	out->idle_timeout_seconds = l->session_idle_default;
	if (!(root = body_object(body, len, err)))
		return 400;
	if ((rc = body_known_keys(root, known, err)) != 0)
		goto fail;
	if ((v = json_object_get(root, "environment"))) {
		if (!json_is_string(v) || !manifest_environment_name_valid(json_string_value(v), json_string_length(v)) ||
		    json_string_length(v) > SESSION_NAME_MAX_BYTES) {
			rc = body_fail(err, "environment", "environment must be a name as GET /environments lists them");
			goto fail;
		}
		snprintf(out->environment, sizeof out->environment, "%s", json_string_value(v));
	}
	if ((rc = body_int(root, "memory_mb", l->memory_mb_min, l->memory_mb_max, &out->memory_mb, err)) ||
	    (rc = body_int(root, "ttl_seconds", 1, l->session_ttl_max, &out->ttl_seconds, err)) ||
	    (rc = body_int(root, "idle_timeout_seconds", 1, l->session_idle_max, &out->idle_timeout_seconds, err)))
		goto fail;
	if ((v = json_object_get(root, "env"))) {
		if ((rc = body_env(v, err)) != 0)
			goto fail;
		out->env = json_incref(v);
	} else {
		out->env = json_object();
	}
	if ((v = json_object_get(root, "workspace_id")) && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    !prefixed_id_valid(WSPID_PREFIX, json_string_value(v), json_string_length(v))) {
			rc = body_fail(err, "workspace_id", "workspace_id must be an id POST /sessions/{id}/snapshot "
				       "answered (wsp-...)");
			goto fail;
		}
		snprintf(out->workspace_id, sizeof out->workspace_id, "%s", json_string_value(v));
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	session_create_req_free(out);
	return rc;
}

void session_create_req_free(struct session_create_req *req)
{
	json_decref(req->env);
	req->env = NULL;
}

/* A string field without NUL, at most max bytes: the value, or NULL after body_fail (*rc = 400). */
static int body_text(const json_t *v, const char *field, size_t max, bool nul_ok, struct session_body_error *err)
{
	if (!json_is_string(v))
		return body_fail(err, field, "%s must be a string", field);
	if (json_string_length(v) > max)
		return body_fail(err, field, "%s must be at most %zu bytes", field, max);
	if (!nul_ok && has_nul(json_string_value(v), json_string_length(v)))
		return body_fail(err, field, "%s must not contain NUL", field);
	return 0;
}

static int exec_command(const json_t *v, struct session_body_error *err)
{
	size_t i;
	json_t *arg;

	if (json_is_string(v)) {
		if (json_string_length(v) == 0)
			return body_fail(err, "command", "command must not be empty");
		return body_text(v, "command", SESSION_COMMAND_MAX_BYTES, false, err);
	}
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SESSION_ARGV_MAX)
		return body_fail(err, "command", "command must be shell text or an array of 1 to %d strings (argv)",
				 SESSION_ARGV_MAX);
	json_array_foreach(v, i, arg) {
		char field[32];

		snprintf(field, sizeof field, "command[%zu]", i);
		if (body_text(arg, field, SESSION_ARG_MAX_BYTES, false, err))
			return 400;
		if (i == 0 && json_string_length(arg) == 0)
			return body_fail(err, field, "command[0], the program, must not be empty");
	}
	return 0;
}

int session_exec_parse(const char *body, size_t len, const struct sandrun_limits *l, bool stream,
		       json_t **request, int64_t *timeout_s, struct session_body_error *err)
{
	static const char *const known[] = { "command", "code", "language", "stdin", "env", "cwd", "timeout", NULL };
	json_t *root, *req = NULL, *v;
	const json_t *command, *code, *language;
	int64_t timeout = l->timeout_default;
	int rc;

	*request = NULL;
	*timeout_s = 0;
	memset(err, 0, sizeof *err);
	if (!(root = body_object(body, len, err)))
		return 400;
	if ((rc = body_known_keys(root, known, err)) != 0)
		goto fail;
	command = json_object_get(root, "command");
	code = json_object_get(root, "code");
	language = json_object_get(root, "language");
	if (command && code) {
		rc = body_fail(err, "code", "give command or code, not both");
		goto fail;
	}
	if (!command && !code) {
		rc = body_fail(err, "command", "command is missing: give command (shell text or argv) or code "
			       "and language");
		goto fail;
	}
	if (command && (rc = exec_command(command, err)) != 0)
		goto fail;
	if (code) {
		if ((rc = body_text(code, "code", SESSION_CODE_MAX_BYTES, false, err)) != 0)
			goto fail;
		if (!language) {
			rc = body_fail(err, "language", "language is missing: code needs one (python3, node, bash, ...)");
			goto fail;
		}
	}
	if (language) {
		if (!code) {
			rc = body_fail(err, "language", "language goes with code; command runs in the session's shell");
			goto fail;
		}
		if (!json_is_string(language) || !manifest_interpreter_known(json_string_value(language))) {
			rc = body_fail(err, "language", "language must be one of the interpreters GET /environments "
				       "lists (python3, node, bash, sh, ruby, Rscript, perl, php)");
			goto fail;
		}
	}
	if ((v = json_object_get(root, "stdin")) &&
	    (rc = body_text(v, "stdin", SESSION_STDIN_MAX_BYTES, true, err)) != 0)
		goto fail;
	if ((v = json_object_get(root, "env")) && (rc = body_env(v, err)) != 0)
		goto fail;
	if ((v = json_object_get(root, "cwd"))) {
		if ((rc = body_text(v, "cwd", SESSION_PATH_MAX_BYTES, false, err)) != 0 ||
		    (rc = session_path_check(json_string_value(v), json_string_length(v), "cwd", err)) != 0)
			goto fail;
	}
	if ((rc = body_int(root, "timeout", 1, l->timeout_max, &timeout, err)) != 0)
		goto fail;
	req = json_object();
	json_object_set_new(req, "op", json_string("exec"));
	{
		static const char *const copied[] = { "command", "code", "language", "stdin", "env", "cwd", NULL };

		for (size_t i = 0; copied[i]; i++)
			if ((v = json_object_get(root, copied[i])))
				json_object_set(req, copied[i], v);
	}
	json_object_set_new(req, "timeout", json_integer(timeout));
	json_object_set_new(req, "stream", json_boolean(stream));
	*request = req;
	*timeout_s = timeout;
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return rc;
}

/* Is `path` (len bytes) `root` or under it? */
static bool path_under(const char *path, size_t len, const char *root)
{
	size_t rlen = strlen(root);

	return len >= rlen && memcmp(path, root, rlen) == 0 && (len == rlen || path[rlen] == '/');
}

/* Is s (len bytes) well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF)? */
static bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p;
		size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
		unsigned cp;

		if (n == 9 || (size_t)(end - p) < n + 1)
			return false;
		cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

int session_path_check(const char *path, size_t len, const char *field, struct session_body_error *err)
{
	size_t start = 0;

	if (len > SESSION_PATH_MAX_BYTES)
		return body_fail(err, field, "%s is longer than %d bytes", field, SESSION_PATH_MAX_BYTES);
	if (!utf8_valid(path, len))
		return body_fail(err, field, "%s must be UTF-8", field);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			return body_fail(err, field, "%s must not contain NUL or control characters", field);
	if (len > 0 && path[0] == '/' && !path_under(path, len, "/work") && !path_under(path, len, "/workspace") &&
	    !path_under(path, len, "/tmp"))
		return body_fail(err, field, "%s must be relative (to /work) or under /work, /workspace or /tmp",
				 field);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (i - start == 2 && path[start] == '.' && path[start + 1] == '.')
			return body_fail(err, field, "%s must not have a '..' component", field);
		start = i + 1;
	}
	return 0;
}

int session_path_from_uri(const char *raw, size_t rawlen, char *out, size_t outlen,
			  struct session_body_error *err)
{
	size_t o = 0;

	memset(err, 0, sizeof *err);
	if (outlen)
		*out = '\0';
	for (size_t i = 0; i < rawlen; i++) {
		int c = (unsigned char)raw[i];

		if (c == '?' || c == '#')
			break;
		if (c == '%') {
			int hi, lo;

			if (i + 2 >= rawlen || (hi = hex_digit_value(raw[i + 1])) < 0 || (lo = hex_digit_value(raw[i + 2])) < 0) {
				if (outlen)
					*out = '\0';
				return body_fail(err, "path", "the path is badly percent-encoded");
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen || o >= SESSION_PATH_MAX_BYTES) {
			if (outlen)
				*out = '\0';
			return body_fail(err, "path", c == 0 ? "the path must not contain NUL"
							     : "the path is longer than %d bytes", SESSION_PATH_MAX_BYTES);
		}
		out[o++] = (char)c;
	}
	if (!outlen)
		return body_fail(err, "path", "no room for the path");
	out[o] = '\0';
	if (session_path_check(out, o, "path", err) != 0) {
		*out = '\0';
		return 400;
	}
	return 0;
}

int session_mode_parse(const char *text, int *mode, struct session_body_error *err)
{
	size_t len = strlen(text);
	int m = 0;

	memset(err, 0, sizeof *err);
	if (len == 0 || len > 4)
		return body_fail(err, "mode", "mode must be octal permission bits, like 0644 or 755");
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '7')
			return body_fail(err, "mode", "mode must be octal permission bits, like 0644 or 755");
		m = m * 8 + (text[i] - '0');
	}
	if (m & ~0777)
		return body_fail(err, "mode", "mode may hold permission bits only (no setuid, setgid or sticky)");
	*mode = m;
	return 0;
}

int session_flag_parse(const char *text, const char *field, bool *value, struct session_body_error *err)
{
	memset(err, 0, sizeof *err);
	if (!*text || strcmp(text, "1") == 0 || strcmp(text, "true") == 0)
		*value = true;
	else if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0)
		*value = false;
	else
		return body_fail(err, field, "%s must be 1, true, 0 or false", field);
	return 0;
}
