/*
 * libFuzzer target: the session agent's protocol (runner/session_proto.c).
 * session_response_parse() is what root runs over bytes from a session's
 * sandbox; session_request_parse() what the agent runs over root's. The
 * input goes to both, to the frame header reader and to the UTF-8
 * sanitizer, and to root's reply parser for each files op. Checked: a
 * response that parses is within the bounds (exit code, signal, cwd
 * absolute, strings of the lengths it says), encodes again and parses
 * back to the same fields (results, failures, events); a request that
 * parses has the fields of its op and kind (a raw frame announced for
 * write and unpack, a path for the files ops, a mode without special
 * bits, a pty's size in bounds); a reply that parses has a body that is JSON without "id", and
 * a binary length only for read and archive; a raw frame header is only
 * accepted at the length expected; sanitized bytes are UTF-8 jansson
 * accepts.
 * Every buffer is a heap copy of its exact size, so ASan sees overreads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "session_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_response(const char *copy, size_t size)
{
	struct session_response a, b;
	char err[256], *again;
	size_t len;

	err[0] = '\0';
	if (session_response_parse(copy, size, &a, err, sizeof err) < 0) {
		if (err[0] == '\0' || a.error != NULL || a.result.out != NULL || a.result.cwd != NULL)
			abort();
		return;
	}
	if (a.event) {
		if (a.id < 0 || a.result.out == NULL || (a.event != 1 && a.event != 2))
			abort();
		again = session_response_encode_event(a.id, a.event, a.result.out, a.result.out_len, &len);
		if (again == NULL || session_response_parse(again, len, &b, err, sizeof err) < 0 || b.event != a.event
		    || b.result.out_len != a.result.out_len || memcmp(b.result.out, a.result.out, a.result.out_len) != 0)
			abort();
		free(again);
		session_response_free(&a);
		session_response_free(&b);
		return;
	}
	if (a.ok) {
		const struct session_result *r = &a.result;
		if (a.id < 0 || r->exit_code < -1 || r->exit_code > 255 || r->signal < 0 || r->signal > 64
		    || r->out == NULL || r->err == NULL || r->cwd == NULL || r->cwd[0] != '/' || r->duration_ms < 0
		    || r->out[r->out_len] != '\0' || r->err[r->err_len] != '\0')
			abort();
		again = session_response_encode_result(a.id, r, &len);
	} else {
		if (a.error == NULL || a.reason == NULL || a.status < 400 || a.status > 599)
			abort();
		again = session_response_encode_failure(a.id, a.status, a.reason, a.error, &len);
	}
	if (again == NULL)
		abort();
	if (session_response_parse(again, len, &b, err, sizeof err) < 0 || b.id != a.id || b.ok != a.ok)
		abort();
	if (a.ok && (b.result.out_len != a.result.out_len || memcmp(b.result.out, a.result.out, a.result.out_len) != 0
		     || b.result.err_len != a.result.err_len || memcmp(b.result.err, a.result.err, a.result.err_len) != 0
		     || strcmp(b.result.cwd, a.result.cwd) != 0 || b.result.exit_code != a.result.exit_code
		     || b.result.truncated != a.result.truncated || b.result.timed_out != a.result.timed_out))
		abort();
	if (!a.ok && (strncmp(a.error, b.error, SESSION_ERROR_MAX) != 0 || a.status != b.status || strcmp(a.reason, b.reason) != 0))
		abort();
	if (a.ok && b.result.streamed != a.result.streamed)
		abort();
	free(again);
	session_response_free(&a);
	session_response_free(&b);
}

static void check_request(const char *copy, size_t size)
{
	struct session_request q;
	char err[256];

	err[0] = '\0';
	if (session_request_parse(copy, size, &q, err, sizeof err) < 0) {
		if (err[0] == '\0')
			abort();
	} else {
		if (q.id < 0 || q.timeout_ms < 1 || q.max_output > SESSION_OUTPUT_MAX)
			abort();
		if (q.op == SESSION_OP_EXEC && q.kind == SESSION_SHELL && (q.command == NULL || q.envp != NULL || q.cwd != NULL))
			abort();
		if (q.op == SESSION_OP_EXEC && q.kind == SESSION_ARGV && (q.argv == NULL || q.argc == 0 || q.argv[q.argc] != NULL || q.argv[0][0] == '\0'))
			abort();
		if (q.op == SESSION_OP_EXEC && q.kind == SESSION_CODE && (q.code == NULL || q.language == NULL))
			abort();
		if (q.cwd != NULL && q.cwd[0] != '/')
			abort();
		if ((q.op == SESSION_OP_WRITE || q.op == SESSION_OP_UNPACK) != (q.binary >= 0))
			abort();
		if (q.binary > (int64_t)SESSION_BINARY_MAX || q.mode < 0 || q.mode > 0777 || q.max_bytes < 0
		    || q.max_bytes > (int64_t)SESSION_BINARY_MAX || q.max_files < 0)
			abort();
		if (q.op != SESSION_OP_EXEC && q.op != SESSION_OP_INIT && q.op != SESSION_OP_PTY && (q.path == NULL || strlen(q.path) > q.path_len))
			abort();
		if (q.op == SESSION_OP_PTY && (q.cols < 1 || q.cols > SESSION_PTY_SIZE_MAX || q.rows < 1
					       || q.rows > SESSION_PTY_SIZE_MAX || q.path || q.command))
			abort();
		if (q.op == SESSION_OP_INIT && (q.command || q.code || q.path))
			abort();
	}
	session_request_free(&q);
}

static void check_reply(const char *copy, size_t size)
{
	static const enum session_op ops[] = { SESSION_OP_INIT, SESSION_OP_WRITE, SESSION_OP_READ, SESSION_OP_DELETE,
					       SESSION_OP_UNPACK, SESSION_OP_ARCHIVE, SESSION_OP_PTY };
	struct session_reply r;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		err[0] = '\0';
		if (session_reply_parse(copy, size, ops[i], &r, err, sizeof err) < 0) {
			if (err[0] == '\0' || r.body != NULL || r.error != NULL || r.binary != -1)
				abort();
			continue;
		}
		if (r.ok) {
			json_t *o = json_loadb(r.body, r.body_len, 0, NULL);
			if (o == NULL || json_object_get(o, "id") != NULL || r.id < 0)
				abort();
			if (r.binary >= 0 && ops[i] != SESSION_OP_READ && ops[i] != SESSION_OP_ARCHIVE)
				abort();
			if (r.binary > (int64_t)SESSION_BINARY_MAX)
				abort();
			json_decref(o);
		} else if (r.error == NULL || r.reason == NULL || r.status < 400 || r.status > 599 || r.body != NULL) {
			abort();
		}
		session_reply_free(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1), *clean;
	json_t *s;
	uint32_t len;
	char err[128];
	size_t n;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (size >= 4 && session_frame_length(data, &len, err, sizeof err) == 0 && (len == 0 || len > SESSION_FRAME_MAX))
		abort();
	check_response(copy, size);
	check_request(copy, size);
	check_reply(copy, size);
	if (size >= 8) {
		uint32_t want = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
		if (session_binary_length(data, want, &len, err, sizeof err) == 0 && (len != want || len > SESSION_BINARY_MAX))
			abort();
	}
	clean = session_utf8_sanitize(copy, size, &n);
	if (clean == NULL || n < size || (s = json_stringn(clean, n)) == NULL)
		abort();
	json_decref(s);
	free(clean);
	free(copy);
	return 0;
}
