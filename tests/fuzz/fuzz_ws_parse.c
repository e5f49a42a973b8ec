/*
 * libFuzzer target for what the WebSocket gateway parses itself
 * (ws/parse.h): the route of an upgrade request (path and query) and a
 * terminal client's messages, and the input entries made from them.
 * Input: one byte choosing the parser, then the bytes. Checks: a route
 * parse answers 0, 400 or 404; a valid id is NUL-terminated and has the
 * route's prefix; a resize's size and an entry's bytes stay in bounds;
 * splitting keystrokes into entries gives back the bytes exactly; the SSE
 * line rule leaves no "\r" and never grows the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_route(const char *text, size_t len)
{
	char *copy = malloc(len + 1), err[160];
	const char *query = NULL;
	struct ws_route r;
	int status;

	if (!copy)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	{
		char *q = strchr(copy, '?');

		if (q) {
			*q = '\0';
			query = q + 1;
		}
	}
	status = ws_route_parse(copy, query, &r, err, sizeof err);
	if (status != 0 && status != 400 && status != 404)
		abort();
	if (status == 0) {
		if (r.kind == WS_ROUTE_NONE || strnlen(r.id, sizeof r.id) == sizeof r.id)
			abort();
		if (r.id_valid && strncmp(r.id, r.kind == WS_ROUTE_LOGS ? "job-" : "ses-", 4) != 0)
			abort();
		if (r.cols < 1 || r.cols > WS_PTY_SIZE_MAX || r.rows < 1 || r.rows > WS_PTY_SIZE_MAX)
			abort();
	} else if (strnlen(err, sizeof err) == 0) {
		abort();
	}
	free(copy);
}

static void fuzz_message(int binary, const char *text, size_t len)
{
	struct ws_pty_message m;
	char err[160], entry[WS_PTY_ENTRY_MAX];

	if (ws_pty_message_parse(binary, text, len, &m, err, sizeof err) < 0) {
		if (strnlen(err, sizeof err) == 0)
			abort();
		return;
	}
	if (m.kind == WS_PTY_RESIZE) {
		int n = ws_pty_entry_resize(m.cols, m.rows, entry, sizeof entry);

		if (n < 4 || entry[0] != 'r')
			abort();
	} else {
		size_t off = 0, take;
		char *back = malloc(m.len + 1);

		if (!back)
			abort();
		while ((take = ws_pty_entry_input(m.data, m.len, off, entry)) > 0) {
			if (take > WS_PTY_INPUT_MAX || entry[0] != 'd')
				abort();
			memcpy(back + off, entry + 1, take);
			off += take;
		}
		if (off != m.len || (m.len && memcmp(back, m.data, m.len) != 0))
			abort();
		free(back);
	}
	ws_pty_message_free(&m);
}

static void fuzz_lines(const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	size_t n;

	if (!copy)
		return;
	memcpy(copy, text, len);
	n = ws_text_sse_lines(copy, len);
	if (n > len || memchr(copy, '\r', n))
		abort();
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: fuzz_route((const char *)data + 1, size - 1); break;
	case 1: fuzz_message(0, (const char *)data + 1, size - 1); break;
	case 2: fuzz_message(1, (const char *)data + 1, size - 1); break;
	default: fuzz_lines((const char *)data + 1, size - 1); break;
	}
	return 0;
}
