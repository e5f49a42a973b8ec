/*
 * The session agent's frames, requests and responses (session_proto.h):
 * pure functions over byte buffers, so the agent's request parser and
 * root's response parser can be unit-tested and fuzzed alone. Every
 * string and count from a frame is bounded here; nothing is trusted.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "session_proto.h"

/* Formats the error message; returns -1 so a failure can `return ERR(...)`. */
static __attribute__((format(printf, 3, 4))) int error_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
#define ERR(...) error_set(err, errlen, __VA_ARGS__)

int session_frame_length(const unsigned char hdr[4], uint32_t *len, char *err, size_t errlen)
{
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];

	*len = n;
	if (n == 0)
		return ERR("empty frame");
	if (n > SESSION_FRAME_MAX)
		return ERR("frame of %u bytes is over the %u-byte bound", n, SESSION_FRAME_MAX);
	return 0;
}

int session_binary_length(const unsigned char hdr[4], uint32_t expected, uint32_t *len, char *err, size_t errlen)
{
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];

	*len = n;
	if (n > SESSION_BINARY_MAX)
		return ERR("raw frame of %u bytes is over the %u-byte bound", n, SESSION_BINARY_MAX);
	if (n != expected)
		return ERR("raw frame of %u bytes, the request said %u", n, expected);
	return 0;
}

void session_frame_header(uint32_t len, unsigned char hdr[4])
{
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
}

/* A string member: absent (0), or a copy of at most `max` bytes (1). With
 * nul_ok == 0 an embedded NUL is an error. */
static int get_string(json_t *o, const char *key, size_t max, int nul_ok, char **out, size_t *outlen,
		      char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return ERR("%s must be a string", key);
	n = json_string_length(v);
	if (n > max)
		return ERR("%s is over %zu bytes", key, max);
	if (!nul_ok && memchr(json_string_value(v), '\0', n) != NULL)
		return ERR("%s contains a NUL byte", key);
	*out = malloc(n + 1);
	if (*out == NULL)
		return ERR("out of memory");
	memcpy(*out, json_string_value(v), n);
	(*out)[n] = '\0';
	if (outlen)
		*outlen = n;
	return 1;
}

/* An integer member in [min, max]: absent (0, *out untouched) or set (1). */
static int get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return ERR("%s must be an integer from %lld to %lld", key, (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 1;
}

static void strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static int parse_argv(json_t *a, struct session_request *req, char *err, size_t errlen)
{
	size_t i, n = json_array_size(a);

	if (n == 0)
		return ERR("command must not be an empty array");
	if (n > SESSION_ARGV_MAX)
		return ERR("command has over %d arguments", SESSION_ARGV_MAX);
	req->argv = calloc(n + 1, sizeof *req->argv);
	if (req->argv == NULL)
		return ERR("out of memory");
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(a, i);
		size_t len;
		if (!json_is_string(v))
			return ERR("command[%zu] must be a string", i);
		len = json_string_length(v);
		if (len > SESSION_COMMAND_MAX || memchr(json_string_value(v), '\0', len) != NULL)
			return ERR("command[%zu] is over %u bytes or contains a NUL byte", i, SESSION_COMMAND_MAX);
		if (i == 0 && len == 0)
			return ERR("command[0] must not be empty");
		req->argv[i] = strdup(json_string_value(v));
		if (req->argv[i] == NULL)
			return ERR("out of memory");
	}
	req->argc = n;
	return 0;
}

static int parse_env(json_t *e, struct session_request *req, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i = 0, n;

	if (!json_is_object(e))
		return ERR("env must be an object of strings");
	n = json_object_size(e);
	if (n > SESSION_ENV_MAX)
		return ERR("env has over %d entries", SESSION_ENV_MAX);
	req->envp = calloc(n + 1, sizeof *req->envp);
	if (req->envp == NULL)
		return ERR("out of memory");
	json_object_foreach(e, k, v) {
		size_t kl = strlen(k), vl;
		if (kl == 0 || kl > 256 || strchr(k, '=') != NULL || strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != kl
		    || (k[0] >= '0' && k[0] <= '9'))
			return ERR("env name '%.64s' is not a variable name", k);
		if (!json_is_string(v))
			return ERR("env.%s must be a string", k);
		vl = json_string_length(v);
		if (vl > 65536 || memchr(json_string_value(v), '\0', vl) != NULL)
			return ERR("env.%s is over 65536 bytes or contains a NUL byte", k);
		req->envp[i] = malloc(kl + vl + 2);
		if (req->envp[i] == NULL)
			return ERR("out of memory");
		memcpy(req->envp[i], k, kl);
		req->envp[i][kl] = '=';
		memcpy(req->envp[i] + kl + 1, json_string_value(v), vl + 1);
		i++;
	}
	return 0;
}

/* The fields each op takes, besides id and op. */
static const struct {
	const char *name;
	enum session_op op;
	const char *const keys[12];
} ops[] = {
	{ "exec", SESSION_OP_EXEC,
	  { "command", "code", "language", "stdin", "timeout", "max_output", "env", "cwd", "stream", NULL } },
	{ "init", SESSION_OP_INIT, { "env", NULL } },
	{ "write", SESSION_OP_WRITE, { "path", "mode", "binary", NULL } },
	{ "read", SESSION_OP_READ, { "path", "max_bytes", NULL } },
	{ "delete", SESSION_OP_DELETE, { "path", "recursive", NULL } },
	{ "unpack", SESSION_OP_UNPACK, { "path", "max_bytes", "max_files", "binary", NULL } },
	{ "archive", SESSION_OP_ARCHIVE, { "path", "max_bytes", NULL } },
	{ "pty", SESSION_OP_PTY, { "cols", "rows", "reap", NULL } },
};

/* An optional boolean member: 0 when absent. */
static int get_flag(json_t *o, const char *key, int *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return ERR("%s must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

static int parse_exec(json_t *o, struct session_request *req, char *err, size_t errlen)
{
	json_t *cmd, *v;
	int64_t n;

	cmd = json_object_get(o, "command");
	if ((cmd != NULL) == (json_object_get(o, "code") != NULL))
		return ERR("exactly one of command and code is required");
	if (cmd != NULL && json_is_string(cmd)) {
		req->kind = SESSION_SHELL;
		if (get_string(o, "command", SESSION_COMMAND_MAX, 0, &req->command, NULL, err, errlen) < 0)
			return -1;
		if (json_object_get(o, "language") != NULL)
			return ERR("language goes with code, not command");
	} else if (cmd != NULL && json_is_array(cmd)) {
		req->kind = SESSION_ARGV;
		if (parse_argv(cmd, req, err, errlen) < 0)
			return -1;
		if (json_object_get(o, "language") != NULL)
			return ERR("language goes with code, not command");
	} else if (cmd != NULL) {
		return ERR("command must be a string or an array of strings");
	} else {
		req->kind = SESSION_CODE;
		if (get_string(o, "code", SESSION_CODE_MAX, 0, &req->code, &req->code_len, err, errlen) < 0)
			return -1;
		switch (get_string(o, "language", 32, 0, &req->language, NULL, err, errlen)) {
		case -1:
			return -1;
		case 0:
			return ERR("language is required with code");
		}
	}
	if (get_string(o, "stdin", SESSION_STDIN_MAX, 1, &req->stdin_data, &req->stdin_len, err, errlen) < 0)
		return -1;
	if (get_int(o, "timeout", 1, SESSION_TIMEOUT_MAX_MS, &req->timeout_ms, err, errlen) < 0)
		return -1;
	n = (int64_t)req->max_output;
	if (get_int(o, "max_output", 0, SESSION_OUTPUT_MAX, &n, err, errlen) < 0)
		return -1;
	req->max_output = (size_t)n;
	if (get_string(o, "cwd", SESSION_PATH_MAX, 0, &req->cwd, NULL, err, errlen) < 0)
		return -1;
	if (req->cwd != NULL && req->cwd[0] != '/')
		return ERR("cwd must be an absolute path");
	if ((v = json_object_get(o, "env")) != NULL && parse_env(v, req, err, errlen) < 0)
		return -1;
	if (req->kind == SESSION_SHELL && (req->envp != NULL || req->cwd != NULL))
		return ERR("env and cwd apply to an argv command or code, not to shell text (use export and cd)");
	return get_flag(o, "stream", &req->stream, err, errlen);
}

/* write's mode: an integer 0..0777, or the same as an octal string. */
static int parse_mode(json_t *o, struct session_request *req, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, "mode");
	const char *s;
	int64_t m = 0;
	size_t i;

	req->mode = 0644;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		m = json_integer_value(v);
	} else if (json_is_string(v) && json_string_length(v) >= 1 && json_string_length(v) <= 4) {
		s = json_string_value(v);
		for (i = 0; s[i]; i++) {
			if (s[i] < '0' || s[i] > '7')
				return ERR("mode must be an octal number from 0 to 0777");
			m = m * 8 + (s[i] - '0');
		}
	} else {
		return ERR("mode must be an integer or an octal string from 0 to 0777");
	}
	if (m < 0 || m > 0777)
		return ERR("mode must be from 0 to 0777 (no setuid, setgid or sticky bit)");
	req->mode = (int)m;
	return 0;
}

int session_request_parse(const void *buf, size_t len, struct session_request *req, char *err, size_t errlen)
{
	json_t *o, *v;
	json_error_t jerr;
	const char *k;
	size_t op;
	int rc = -1, needs_path;

	memset(req, 0, sizeof *req);
	req->id = -1;
	req->binary = -1;
	req->timeout_ms = SESSION_TIMEOUT_DEFAULT_MS;
	req->max_output = SESSION_OUTPUT_DEFAULT;
	req->mode = 0644;
	req->max_bytes = SESSION_FILE_DEFAULT;
	req->max_files = SESSION_UNPACK_FILES_DEFAULT;
	req->cols = 80;
	req->rows = 24;
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (o == NULL)
		return ERR("frame is not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		ERR("frame is not a JSON object");
		goto out;
	}
	/* first: a raw frame follows whatever else is wrong */
	if (get_int(o, "binary", 0, SESSION_BINARY_MAX, &req->binary, err, errlen) < 0)
		goto out;
	if (get_int(o, "id", 0, SESSION_ID_MAX, &req->id, err, errlen) <= 0) {
		if (json_object_get(o, "id") == NULL)
			ERR("id is missing");
		goto out;
	}
	v = json_object_get(o, "op");
	for (op = 0; op < sizeof ops / sizeof ops[0]; op++)
		if (json_is_string(v) && strcmp(json_string_value(v), ops[op].name) == 0)
			break;
	if (op == sizeof ops / sizeof ops[0]) {
		ERR("op must be one of exec, init, write, read, delete, unpack, archive, pty");
		goto out;
	}
	req->op = ops[op].op;
	json_object_foreach(o, k, v) {
		size_t i;
		if (strcmp(k, "id") == 0 || strcmp(k, "op") == 0)
			continue;
		for (i = 0; ops[op].keys[i] && strcmp(ops[op].keys[i], k) != 0; i++)
			;
		if (ops[op].keys[i] == NULL) {
			ERR("unknown field '%.64s' for op %s", k, ops[op].name);
			goto out;
		}
	}
	if ((req->op == SESSION_OP_WRITE || req->op == SESSION_OP_UNPACK) && req->binary < 0) {
		ERR("%s needs \"binary\": the length of the raw frame that follows", ops[op].name);
		goto out;
	}
	switch (req->op) {
	case SESSION_OP_EXEC:
		if (parse_exec(o, req, err, errlen) < 0)
			goto out;
		break;
	case SESSION_OP_INIT:
		if ((v = json_object_get(o, "env")) != NULL && parse_env(v, req, err, errlen) < 0)
			goto out;
		break;
	case SESSION_OP_PTY:
		if (get_int(o, "cols", 1, SESSION_PTY_SIZE_MAX, &req->cols, err, errlen) < 0
		    || get_int(o, "rows", 1, SESSION_PTY_SIZE_MAX, &req->rows, err, errlen) < 0
		    || get_flag(o, "reap", &req->reap, err, errlen) < 0)
			goto out;
		break;
	default:
		needs_path = req->op != SESSION_OP_UNPACK;
		switch (get_string(o, "path", SESSION_PATH_MAX, 1, &req->path, &req->path_len, err, errlen)) {
		case -1:
			goto out;
		case 0:
			if (needs_path) {
				ERR("path is required");
				goto out;
			}
			req->path = strdup("/work");
			if (req->path == NULL) {
				ERR("out of memory");
				goto out;
			}
			req->path_len = 5;
		}
		if (parse_mode(o, req, err, errlen) < 0 || get_flag(o, "recursive", &req->recursive, err, errlen) < 0
		    || get_int(o, "max_bytes", 0, SESSION_BINARY_MAX, &req->max_bytes, err, errlen) < 0
		    || get_int(o, "max_files", 0, SESSION_UNPACK_FILES_MAX, &req->max_files, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

void session_request_free(struct session_request *req)
{
	free(req->command);
	strv_free(req->argv);
	strv_free(req->envp);
	free(req->cwd);
	free(req->code);
	free(req->language);
	free(req->stdin_data);
	free(req->path);
	memset(req, 0, sizeof *req);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

char *session_utf8_sanitize(const char *s, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out;
	size_t i = 0, o = 0, n;

	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1); /* each bad byte becomes 3 */
	if (out == NULL)
		return NULL;
	while (i < len) {
		n = utf8_sequence(p + i, len - i);
		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static json_t *json_id(int64_t id)
{
	return id < 0 ? json_null() : json_integer(id);
}

static char *dump(json_t *o, size_t *len)
{
	char *s;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

static json_t *json_text(const char *s, size_t len)
{
	size_t n;
	char *clean = session_utf8_sanitize(s ? s : "", s ? len : 0, &n);
	json_t *v;

	if (clean == NULL)
		return NULL;
	v = json_stringn(clean, n);
	free(clean);
	return v;
}

char *session_response_encode_result(int64_t id, const struct session_result *r, size_t *len)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "id", json_id(id)) || json_object_set_new(o, "ok", json_true())
	    || json_object_set_new(o, "exit_code", json_integer(r->exit_code))
	    || json_object_set_new(o, "signal", json_integer(r->signal))
	    || json_object_set_new(o, "stdout", json_text(r->out, r->out_len))
	    || json_object_set_new(o, "stderr", json_text(r->err, r->err_len))
	    || json_object_set_new(o, "truncated", json_boolean(r->truncated))
	    || json_object_set_new(o, "timed_out", json_boolean(r->timed_out))
	    || json_object_set_new(o, "shell_restarted", json_boolean(r->shell_restarted))
	    || json_object_set_new(o, "duration_ms", json_integer(r->duration_ms))
	    || json_object_set_new(o, "cwd", json_text(r->cwd ? r->cwd : "/", r->cwd ? strlen(r->cwd) : 1))
	    || (r->streamed && json_object_set_new(o, "streamed", json_true()))) {
		json_decref(o);
		return NULL;
	}
	return dump(o, len);
}

char *session_response_encode_failure(int64_t id, int status, const char *reason, const char *message, size_t *len)
{
	json_t *o = json_object();
	size_t n = strlen(message);

	if (o == NULL)
		return NULL;
	if (n > SESSION_ERROR_MAX)
		n = SESSION_ERROR_MAX; /* root refuses longer ones */
	if (json_object_set_new(o, "id", json_id(id)) || json_object_set_new(o, "ok", json_false())
	    || json_object_set_new(o, "status", json_integer(status))
	    || json_object_set_new(o, "error", json_text(message, n))
	    || json_object_set_new(o, "reason", json_string(reason))) {
		json_decref(o);
		return NULL;
	}
	return dump(o, len);
}

char *session_response_encode_error(int64_t id, const char *message, size_t *len)
{
	return session_response_encode_failure(id, 400, "bad_request", message, len);
}

char *session_response_encode_event(int64_t id, int stream, const char *data, size_t datalen, size_t *len)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "id", json_id(id))
	    || json_object_set_new(o, "event", json_string(stream == 2 ? "stderr" : "stdout"))
	    || json_object_set_new(o, "data", json_text(data, datalen))) {
		json_decref(o);
		return NULL;
	}
	return dump(o, len);
}

static int get_bool(json_t *o, const char *key, int *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return ERR("%s must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

static const char *const result_keys[] = { "id", "ok", "exit_code", "signal", "stdout", "stderr", "truncated",
					   "timed_out", "shell_restarted", "duration_ms", "cwd", "streamed", NULL };

/* A failure's fields (both parsers): exactly id, ok, status, error, reason. */
static int parse_failure(json_t *o, int *status, char **reason, char **error, char *err, size_t errlen)
{
	int64_t n;
	size_t i;

	if (json_object_size(o) != 5 || get_int(o, "status", 400, 599, &n, err, errlen) <= 0
	    || get_string(o, "error", SESSION_ERROR_MAX * 3, 0, error, NULL, err, errlen) <= 0
	    || get_string(o, "reason", 32, 0, reason, NULL, err, errlen) <= 0)
		return ERR("a failure is exactly id, ok, status (400..599), error (a string without NUL, at most %d "
			   "bytes) and reason (a token)", SESSION_ERROR_MAX * 3);
	for (i = 0; (*reason)[i]; i++)
		if (!(((*reason)[i] >= 'a' && (*reason)[i] <= 'z') || (*reason)[i] == '_'))
			return ERR("reason must be a token of a-z and _");
	if ((*reason)[0] == '\0')
		return ERR("reason must not be empty");
	*status = (int)n;
	return 0;
}

int session_response_parse(const void *buf, size_t len, struct session_response *resp, char *err, size_t errlen)
{
	struct session_result *r = &resp->result;
	json_t *o, *v;
	json_error_t jerr;
	const char *k;
	int64_t n;
	size_t cwdlen;
	int rc = -1;

	memset(resp, 0, sizeof *resp);
	resp->id = -1;
	if (len > SESSION_FRAME_MAX)
		return ERR("response over %u bytes", SESSION_FRAME_MAX);
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (o == NULL)
		return ERR("response is not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		ERR("response is not a JSON object");
		goto fail;
	}
	v = json_object_get(o, "id");
	if (v == NULL || (!json_is_null(v) && get_int(o, "id", 0, SESSION_ID_MAX, &resp->id, err, errlen) < 0)) {
		if (v == NULL)
			ERR("id is missing");
		goto fail;
	}
	if ((v = json_object_get(o, "event")) != NULL) {
		/* {"id", "event": "stdout"|"stderr", "data"} */
		if (resp->id < 0 || json_object_size(o) != 3 || !json_is_string(v)
		    || (strcmp(json_string_value(v), "stdout") != 0 && strcmp(json_string_value(v), "stderr") != 0)
		    || get_string(o, "data", SESSION_OUTPUT_MAX * 3, 1, &r->out, &r->out_len, err, errlen) <= 0) {
			ERR("an event is exactly id, event (stdout or stderr) and data (a string of at most %u bytes)",
			    SESSION_OUTPUT_MAX * 3);
			goto fail;
		}
		resp->ok = 1;
		resp->event = strcmp(json_string_value(v), "stdout") == 0 ? 1 : 2;
		json_decref(o);
		return 0;
	}
	v = json_object_get(o, "ok");
	if (!json_is_boolean(v)) {
		ERR("ok must be a boolean");
		goto fail;
	}
	resp->ok = json_is_true(v);
	if (!resp->ok) {
		if (parse_failure(o, &resp->status, &resp->reason, &resp->error, err, errlen) < 0)
			goto fail;
		json_decref(o);
		return 0;
	}
	json_object_foreach(o, k, v) {
		size_t i;
		for (i = 0; result_keys[i] && strcmp(result_keys[i], k) != 0; i++)
			;
		if (result_keys[i] == NULL) {
			ERR("unknown field '%.64s'", k);
			goto fail;
		}
	}
	if (resp->id < 0) {
		ERR("a result must carry its request's id");
		goto fail;
	}
	if (get_int(o, "exit_code", -1, 255, &n, err, errlen) <= 0) {
		ERR("exit_code must be an integer from -1 to 255");
		goto fail;
	}
	r->exit_code = (int)n;
	if (get_int(o, "signal", 0, 64, &n, err, errlen) <= 0) {
		ERR("signal must be an integer from 0 to 64");
		goto fail;
	}
	r->signal = (int)n;
	if (get_int(o, "duration_ms", 0, (int64_t)SESSION_TIMEOUT_MAX_MS * 2, &n, err, errlen) <= 0) {
		ERR("duration_ms must be an integer from 0 to %lld", (long long)SESSION_TIMEOUT_MAX_MS * 2);
		goto fail;
	}
	r->duration_ms = n;
	if (get_bool(o, "truncated", &r->truncated, err, errlen) < 0
	    || get_bool(o, "timed_out", &r->timed_out, err, errlen) < 0
	    || get_bool(o, "shell_restarted", &r->shell_restarted, err, errlen) < 0
	    || get_flag(o, "streamed", &r->streamed, err, errlen) < 0)
		goto fail;
	if (get_string(o, "stdout", SESSION_OUTPUT_MAX * 3, 1, &r->out, &r->out_len, err, errlen) <= 0
	    || get_string(o, "stderr", SESSION_OUTPUT_MAX * 3, 1, &r->err, &r->err_len, err, errlen) <= 0) {
		if (r->out == NULL || r->err == NULL)
			ERR("stdout and stderr must be strings of at most %u bytes", SESSION_OUTPUT_MAX * 3);
		goto fail;
	}
	if (get_string(o, "cwd", SESSION_PATH_MAX * 3, 0, &r->cwd, &cwdlen, err, errlen) <= 0 || r->cwd[0] != '/') {
		ERR("cwd must be an absolute path without NUL");
		goto fail;
	}
	rc = 0;
	json_decref(o);
	return rc;
fail:
	json_decref(o);
	session_response_free(resp);
	resp->id = -1;
	return rc;
}

void session_response_free(struct session_response *resp)
{
	free(resp->error);
	free(resp->reason);
	free(resp->result.out);
	free(resp->result.err);
	free(resp->result.cwd);
	memset(resp, 0, sizeof *resp);
}

/* Listing bounds root holds the agent to (session_files.c stays below). */
#define REPLY_ENTRIES_MAX 100000

static int member_count_is(json_t *o, size_t n, const char *what, char *err, size_t errlen)
{
	if (json_object_size(o) != n)
		return ERR("%s has %zu fields, not %zu", what, json_object_size(o), n);
	return 0;
}

static int is_octal_mode(const char *s)
{
	size_t n = strlen(s);

	return n >= 4 && n <= 5 && strspn(s, "01234567") == n;
}

static int check_entry(json_t *e, size_t i, char *err, size_t errlen)
{
	static const char *const types[] = { "file", "dir", "link", "fifo", "socket", "device", "other", NULL };
	json_t *name = json_object_get(e, "name"), *b64 = json_object_get(e, "name_b64");
	json_t *type = json_object_get(e, "type"), *size = json_object_get(e, "size");
	json_t *mode = json_object_get(e, "mode"), *mtime = json_object_get(e, "mtime");
	size_t t;

	if (!json_is_object(e) || json_object_size(e) != (size_t)(b64 ? 6 : 5))
		return ERR("entries[%zu] must be an object of name, type, size, mode, mtime (and name_b64)", i);
	if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 255 * 3
	    || memchr(json_string_value(name), '\0', json_string_length(name)) != NULL)
		return ERR("entries[%zu].name must be a non-empty string of at most 765 bytes", i);
	if (b64 != NULL && (!json_is_string(b64) || json_string_length(b64) == 0 || json_string_length(b64) > 344
			    || strspn(json_string_value(b64), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
				       != json_string_length(b64)))
		return ERR("entries[%zu].name_b64 must be base64 of at most 255 bytes", i);
	for (t = 0; json_is_string(type) && types[t] && strcmp(types[t], json_string_value(type)) != 0; t++)
		;
	if (!json_is_string(type) || types[t] == NULL)
		return ERR("entries[%zu].type must be file, dir, link, fifo, socket, device or other", i);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return ERR("entries[%zu].size must be an integer >= 0", i);
	if (!json_is_string(mode) || !is_octal_mode(json_string_value(mode)))
		return ERR("entries[%zu].mode must be an octal string like \"0644\"", i);
	if (!json_is_string(mtime) || json_string_length(mtime) < 20 || json_string_length(mtime) > 40
	    || strspn(json_string_value(mtime), "0123456789-:.TZ") != json_string_length(mtime))
		return ERR("entries[%zu].mtime must be an RFC 3339 time", i);
	return 0;
}

static int get_size(json_t *o, const char *key, int64_t *out, char *err, size_t errlen)
{
	if (get_int(o, key, 0, SESSION_BINARY_MAX, out, err, errlen) <= 0)
		return ERR("%s must be an integer from 0 to %u", key, SESSION_BINARY_MAX);
	return 0;
}

static int get_path(json_t *o, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, "path");

	if (!json_is_string(v) || json_string_length(v) > SESSION_PATH_MAX * 3 || json_string_value(v)[0] != '/'
	    || memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
		return ERR("path must be an absolute path without NUL");
	return 0;
}

int session_reply_parse(const void *buf, size_t len, enum session_op op, struct session_reply *reply, char *err,
			size_t errlen)
{
	json_t *o, *v;
	json_error_t jerr;
	int64_t size, binary;
	size_t i;

	memset(reply, 0, sizeof *reply);
	reply->id = -1;
	reply->binary = -1;
	if (len > SESSION_FRAME_MAX)
		return ERR("reply over %u bytes", SESSION_FRAME_MAX);
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (o == NULL)
		return ERR("reply is not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		ERR("reply is not a JSON object");
		goto fail;
	}
	v = json_object_get(o, "id");
	if (v == NULL || (!json_is_null(v) && get_int(o, "id", 0, SESSION_ID_MAX, &reply->id, err, errlen) < 0)) {
		if (v == NULL)
			ERR("id is missing");
		goto fail;
	}
	v = json_object_get(o, "ok");
	if (!json_is_boolean(v)) {
		ERR("ok must be a boolean");
		goto fail;
	}
	reply->ok = json_is_true(v);
	if (!reply->ok) {
		if (parse_failure(o, &reply->status, &reply->reason, &reply->error, err, errlen) < 0)
			goto fail;
		json_decref(o);
		return 0;
	}
	if (reply->id < 0) {
		ERR("a result must carry its request's id");
		goto fail;
	}
	switch (op) {
	case SESSION_OP_INIT:
	case SESSION_OP_DELETE:
		if (member_count_is(o, 2, "the reply", err, errlen) < 0)
			goto fail;
		break;
	case SESSION_OP_PTY:
		if (member_count_is(o, 3, "a pty's reply", err, errlen) < 0)
			goto fail;
		if (!json_is_boolean(json_object_get(o, "started"))) {
			ERR("started must be a boolean");
			goto fail;
		}
		break;
	case SESSION_OP_WRITE:
		if (member_count_is(o, 4, "a write's reply", err, errlen) < 0 || get_path(o, err, errlen) < 0
		    || get_size(o, "size", &size, err, errlen) < 0)
			goto fail;
		break;
	case SESSION_OP_UNPACK:
		if (member_count_is(o, 3, "an unpack's reply", err, errlen) < 0 || get_path(o, err, errlen) < 0)
			goto fail;
		break;
	case SESSION_OP_READ:
		if (json_object_get(o, "entries") != NULL) {
			json_t *entries = json_object_get(o, "entries");
			if (member_count_is(o, 5, "a listing", err, errlen) < 0 || get_path(o, err, errlen) < 0)
				goto fail;
			if (!json_is_array(entries) || json_array_size(entries) > REPLY_ENTRIES_MAX) {
				ERR("entries must be an array of at most %d", REPLY_ENTRIES_MAX);
				goto fail;
			}
			for (i = 0; i < json_array_size(entries); i++)
				if (check_entry(json_array_get(entries, i), i, err, errlen) < 0)
					goto fail;
			if (!json_is_boolean(json_object_get(o, "truncated"))) {
				ERR("truncated must be a boolean");
				goto fail;
			}
			break;
		}
		/* a file's bytes */
		__attribute__((fallthrough));
	case SESSION_OP_ARCHIVE:
		if (member_count_is(o, 4, "a reply with bytes", err, errlen) < 0
		    || get_size(o, "size", &size, err, errlen) < 0 || get_size(o, "binary", &binary, err, errlen) < 0)
			goto fail;
		if (size != binary) {
			ERR("size and binary differ");
			goto fail;
		}
		reply->binary = binary;
		break;
	default:
		ERR("exec answers are parsed by session_response_parse");
		goto fail;
	}
	json_object_del(o, "id");
	reply->body = json_dumps(o, JSON_COMPACT);
	if (reply->body == NULL) {
		ERR("out of memory");
		goto fail;
	}
	reply->body_len = strlen(reply->body);
	json_decref(o);
	return 0;
fail:
	json_decref(o);
	session_reply_free(reply);
	reply->id = -1;
	reply->binary = -1;
	return -1;
}

void session_reply_free(struct session_reply *reply)
{
	free(reply->reason);
	free(reply->error);
	free(reply->body);
	memset(reply, 0, sizeof *reply);
}
