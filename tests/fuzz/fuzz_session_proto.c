/*
 * libFuzzer target: the session agent's protocol (runner/session_proto.c).
 * session_response_parse() is what root runs over bytes from a session's
 * sandbox; session_request_parse() what the agent runs over root's. The
 * input goes to both, to the frame header reader and to the UTF-8
 * sanitizer. Checked: a response that parses is within the bounds (exit
 * code, signal, cwd absolute, strings of the lengths it says), encodes
 * again and parses back to the same fields; a request that parses has
 * the fields of its kind; sanitized bytes are UTF-8 jansson accepts.
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
	if (a.ok) {
		const struct session_result *r = &a.result;
		if (a.id < 0 || r->exit_code < -1 || r->exit_code > 255 || r->signal < 0 || r->signal > 64
		    || r->out == NULL || r->err == NULL || r->cwd == NULL || r->cwd[0] != '/' || r->duration_ms < 0
		    || r->out[r->out_len] != '\0' || r->err[r->err_len] != '\0')
			abort();
		again = session_response_encode_result(a.id, r, &len);
	} else {
		if (a.error == NULL)
			abort();
		again = session_response_encode_error(a.id, a.error, &len);
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
	if (!a.ok && strcmp(a.error, b.error) != 0)
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
		if (q.kind == SESSION_SHELL && (q.command == NULL || q.envp != NULL || q.cwd != NULL))
			abort();
		if (q.kind == SESSION_ARGV && (q.argv == NULL || q.argc == 0 || q.argv[q.argc] != NULL || q.argv[0][0] == '\0'))
			abort();
		if (q.kind == SESSION_CODE && (q.code == NULL || q.language == NULL))
			abort();
		if (q.cwd != NULL && q.cwd[0] != '/')
			abort();
	}
	session_request_free(&q);
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
	clean = session_utf8_sanitize(copy, size, &n);
	if (clean == NULL || n < size || (s = json_stringn(clean, n)) == NULL)
		abort();
	json_decref(s);
	free(clean);
	free(copy);
	return 0;
}
