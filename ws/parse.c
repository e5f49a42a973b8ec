/*
 * The gateway's own parsers (ws/parse.h): routes, the terminal client's
 * messages, the input list's entries. Pure: they return a status and a
 * sentence, never log, never exit (tests/fuzz/fuzz_ws_parse.c).
 */
#include "parse.h"

#include "jobid.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_PTY_DEFAULT_COLS 80
#define WS_PTY_DEFAULT_ROWS 24
#define WS_QUERY_MAX        512   /* a route's query is a few short parameters */

/* The id between prefix and suffix of path, into r->id. true when the path has that shape. */
static bool route_id(const char *path, const char *prefix, const char *suffix, struct ws_route *r)
{
	size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(path), idlen;

	if (len <= plen + slen || strncmp(path, prefix, plen) != 0 || strcmp(path + len - slen, suffix) != 0)
		return false;
	idlen = len - plen - slen;
	if (memchr(path + plen, '/', idlen))
		return false;
	if (idlen < sizeof r->id) {
		memcpy(r->id, path + plen, idlen);
		r->id[idlen] = '\0';
	}
	return true;
}

/* A size parameter: 1..WS_PTY_SIZE_MAX. */
static int size_param(const char *name, const char *value, int *out, char *err, size_t errlen)
{
	int64_t v;

	if (parse_int64(value, 1, WS_PTY_SIZE_MAX, &v) < 0)
		return error_format(err, errlen, "%s must be a whole number from 1 to %d", name, WS_PTY_SIZE_MAX);
	*out = (int)v;
	return 0;
}

/* One name=value of the query. 0, or 400. */
static int route_param(struct ws_route *r, const char *name, const char *value, char *err, size_t errlen)
{
	if (r->kind == WS_ROUTE_LOGS && strcmp(name, "format") == 0) {
		if (strcmp(value, "json") == 0)
			r->json = true;
		else if (strcmp(value, "text") == 0)
			r->json = false;
		else
			return error_format(err, errlen, "format must be json or text"), 400;
		return 0;
	}
	if (r->kind == WS_ROUTE_PTY && strcmp(name, "cols") == 0)
		return size_param("cols", value, &r->cols, err, errlen) < 0 ? 400 : 0;
	if (r->kind == WS_ROUTE_PTY && strcmp(name, "rows") == 0)
		return size_param("rows", value, &r->rows, err, errlen) < 0 ? 400 : 0;
	error_format(err, errlen, "unknown query parameter '%.40s' (%s)", name,
		     r->kind == WS_ROUTE_LOGS ? "this route takes format" : "this route takes cols and rows");
	return 400;
}

int ws_route_parse(const char *path, const char *query, struct ws_route *r, char *err, size_t errlen)
{
	char q[WS_QUERY_MAX + 1], *save = NULL;

	memset(r, 0, sizeof *r);
	r->cols = WS_PTY_DEFAULT_COLS;
	r->rows = WS_PTY_DEFAULT_ROWS;
	if (!path)
		return 404;
	if (route_id(path, "/logs/", "/stream", r)) {
		r->kind = WS_ROUTE_LOGS;
		r->id_valid = r->id[0] && jobid_valid(r->id, strlen(r->id));
	} else if (route_id(path, "/sessions/", "/pty", r)) {
		r->kind = WS_ROUTE_PTY;
		r->id_valid = r->id[0] && prefixed_id_valid(SESID_PREFIX, r->id, strlen(r->id));
	} else {
		return error_format(err, errlen, "no such WebSocket route (/logs/{id}/stream, /sessions/{id}/pty)"), 404;
	}
	if (!query || !*query)
		return 0;
	if (strlen(query) > WS_QUERY_MAX)
		return error_format(err, errlen, "the query string is longer than %d bytes", WS_QUERY_MAX), 400;
	snprintf(q, sizeof q, "%s", query);
	for (char *p = strtok_r(q, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		int status;

		if (!eq)
			return error_format(err, errlen, "query parameter '%.40s' has no value", p), 400;
		*eq = '\0';
		if ((status = route_param(r, p, eq + 1, err, errlen)) != 0)
			return status;
	}
	return 0;
}

int ws_pty_message_parse(bool binary, const char *msg, size_t len, struct ws_pty_message *m, char *err,
			 size_t errlen)
{
	json_error_t jerr;
	json_t *o, *v;
	const char *type;
	int rc = -1;

	memset(m, 0, sizeof *m);
	if (binary) {
		m->kind = WS_PTY_INPUT;
		m->len = len;
		m->data = len ? xmalloc(len) : NULL;
		if (len)
			memcpy(m->data, msg, len);
		return 0;
	}
	o = json_loadb(msg, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!o)
		return error_format(err, errlen, "a text message must be JSON: %s", jerr.text);
	type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type) {
		error_format(err, errlen, "a text message is a JSON object with a \"type\" (resize or input)");
		goto done;
	}
	if (strcmp(type, "resize") == 0) {
		json_t *c = json_object_get(o, "cols"), *r = json_object_get(o, "rows");

		if (json_object_size(o) != 3 || !json_is_integer(c) || !json_is_integer(r) ||
		    json_integer_value(c) < 1 || json_integer_value(c) > WS_PTY_SIZE_MAX ||
		    json_integer_value(r) < 1 || json_integer_value(r) > WS_PTY_SIZE_MAX) {
			error_format(err, errlen, "resize takes cols and rows, whole numbers from 1 to %d",
				     WS_PTY_SIZE_MAX);
			goto done;
		}
		m->kind = WS_PTY_RESIZE;
		m->cols = (int)json_integer_value(c);
		m->rows = (int)json_integer_value(r);
	} else if (strcmp(type, "input") == 0) {
		v = json_object_get(o, "data");
		if (json_object_size(o) != 2 || !json_is_string(v)) {
			error_format(err, errlen, "input takes data, a string (the keystrokes as UTF-8)");
			goto done;
		}
		m->kind = WS_PTY_INPUT;
		m->len = json_string_length(v);
		m->data = m->len ? xmalloc(m->len) : NULL;
		if (m->len)
			memcpy(m->data, json_string_value(v), m->len);
	} else {
		error_format(err, errlen, "unknown message type '%.40s' (resize or input)", type);
		goto done;
	}
	rc = 0;
done:
	json_decref(o);
	return rc;
}

void ws_pty_message_free(struct ws_pty_message *m)
{
	free(m->data);
	m->data = NULL;
	m->len = 0;
}

int ws_pty_entry_resize(int cols, int rows, char *out, size_t outlen)
{
	int n;

	if (cols < 1 || cols > WS_PTY_SIZE_MAX || rows < 1 || rows > WS_PTY_SIZE_MAX)
		return -1;
	n = snprintf(out, outlen, "r%d %d", cols, rows);
	return n > 0 && (size_t)n < outlen ? n : -1;
}

size_t ws_pty_entry_input(const char *data, size_t len, size_t off, char out[WS_PTY_ENTRY_MAX])
{
	size_t take;

	if (off >= len)
		return 0;
	take = len - off < WS_PTY_INPUT_MAX ? len - off : WS_PTY_INPUT_MAX;
	out[0] = 'd';
	memcpy(out + 1, data + off, take);
	return take;
}

size_t ws_text_sse_lines(char *text, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\r') {
			text[w++] = '\n';
			if (i + 1 < len && text[i + 1] == '\n')
				i++;
			continue;
		}
		text[w++] = text[i];
	}
	return w;
}
