/*
 * A session's terminal: its messages as pure functions (pty_proto.h).
 * Strict on purpose: a message that is not exactly one of the shapes is
 * refused whole, never half-used.
 */
#include "pty_proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int pty_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A decimal 1..max without sign or leading zero, exactly s[0..n). 0 when it is not one. */
static unsigned pty_decimal(const char *s, size_t n, unsigned max)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5 || s[0] == '0')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= max ? v : 0;
}

int pty_input_parse(const void *buf, size_t len, struct pty_input *in, char *err, size_t errlen)
{
	const char *p = buf, *sp;

	memset(in, 0, sizeof *in);
	if (len < 2)
		return pty_err(err, errlen, "a message is a type byte and at least one byte");
	if (p[0] == 'd') {
		if (len - 1 > PTY_INPUT_MAX)
			return pty_err(err, errlen, "keystrokes over %d bytes", PTY_INPUT_MAX);
		in->kind = PTY_INPUT_DATA;
		in->data = p + 1;
		in->len = len - 1;
		return 0;
	}
	if (p[0] != 'r')
		return pty_err(err, errlen, "type 0x%02x is neither 'd' nor 'r'", (unsigned char)p[0]);
	if (len - 1 > 9)
		return pty_err(err, errlen, "a resize is \"COLS ROWS\"");
	sp = memchr(p + 1, ' ', len - 1);
	if (!sp)
		return pty_err(err, errlen, "a resize is \"COLS ROWS\"");
	in->kind = PTY_INPUT_RESIZE;
	in->cols = pty_decimal(p + 1, (size_t)(sp - (p + 1)), PTY_SIZE_MAX);
	in->rows = pty_decimal(sp + 1, len - (size_t)(sp + 1 - p), PTY_SIZE_MAX);
	if (!in->cols || !in->rows)
		return pty_err(err, errlen, "a resize is \"COLS ROWS\", each from 1 to %d", PTY_SIZE_MAX);
	return 0;
}

size_t pty_chan_encode(const struct pty_input *in, char *out)
{
	if (in->kind == PTY_INPUT_DATA) {
		out[0] = 'd';
		memcpy(out + 1, in->data, in->len);
		return 1 + in->len;
	}
	out[0] = 'r';
	out[1] = (char)(in->cols >> 8);
	out[2] = (char)(in->cols & 0xff);
	out[3] = (char)(in->rows >> 8);
	out[4] = (char)(in->rows & 0xff);
	return 5;
}

int pty_chan_parse(const void *buf, size_t len, bool *go, struct pty_input *in)
{
	const unsigned char *p = buf;

	*go = false;
	if (len == 1 && p[0] == 'g') {
		*go = true;
		return 0;
	}
	if (len >= 2 && len <= 1 + PTY_INPUT_MAX && p[0] == 'd') {
		in->kind = PTY_INPUT_DATA;
		in->data = (const char *)p + 1;
		in->len = len - 1;
		return 0;
	}
	if (len == 5 && p[0] == 'r') {
		in->kind = PTY_INPUT_RESIZE;
		in->cols = (unsigned)p[1] << 8 | p[2];
		in->rows = (unsigned)p[3] << 8 | p[4];
		if (in->cols >= 1 && in->cols <= PTY_SIZE_MAX && in->rows >= 1 && in->rows <= PTY_SIZE_MAX)
			return 0;
	}
	return -1;
}

int pty_relay_parse(const void *buf, size_t len, struct pty_relay_msg *m, char *err, size_t errlen)
{
	const char *p = buf;
	unsigned v;

	memset(m, 0, sizeof *m);
	if (len < 2)
		return pty_err(err, errlen, "a relay message is a type byte and at least one byte");
	if (p[0] == 'o') {
		if (len - 1 > PTY_OUTPUT_CHUNK)
			return pty_err(err, errlen, "output over %d bytes in one message", PTY_OUTPUT_CHUNK);
		m->kind = PTY_RELAY_OUTPUT;
		m->data = p + 1;
		m->len = len - 1;
		return 0;
	}
	if (p[0] != 'x')
		return pty_err(err, errlen, "relay message type 0x%02x is neither 'o' nor 'x'", (unsigned char)p[0]);
	m->kind = PTY_RELAY_EXIT;
	if (len - 1 == 1 && p[1] == '0') {
		snprintf(m->status, sizeof m->status, "0");
		return 0;
	}
	if (len - 1 >= 8 && memcmp(p + 1, "signal ", 7) == 0) {
		v = pty_decimal(p + 8, len - 8, 64);
		if (!v)
			return pty_err(err, errlen, "an exit's signal is 1..64");
		snprintf(m->status, sizeof m->status, "signal %u", v);
		return 0;
	}
	v = pty_decimal(p + 1, len - 1, 255);
	if (!v)
		return pty_err(err, errlen, "an exit is \"0\"..\"255\" or \"signal N\"");
	snprintf(m->status, sizeof m->status, "%u", v);
	return 0;
}

size_t pty_relay_exit_encode(int wait_status, char *out)
{
	int n;

	if (WIFSIGNALED(wait_status))
		n = snprintf(out, PTY_STATUS_MAX + 1, "xsignal %d", WTERMSIG(wait_status));
	else
		n = snprintf(out, PTY_STATUS_MAX + 1, "x%d", WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 255);
	return (size_t)n;
}

int pty_open_reply_parse(const char *frame, size_t len, bool *started, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(frame, len, JSON_REJECT_DUPLICATES, &jerr), *s;
	int rc = -1;

	*started = false;
	if (!o)
		return pty_err(err, errlen, "the agent's pty answer is not JSON: %s", jerr.text);
	s = json_object_get(o, "started");
	if (!json_is_object(o) || json_object_size(o) != 3 || !json_is_true(json_object_get(o, "final"))
	    || !json_is_true(json_object_get(o, "ok")) || !json_is_boolean(s)) {
		pty_err(err, errlen, "the agent's pty answer is not {final, ok, started}");
		goto out;
	}
	*started = json_is_true(s);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int pty_open_request_size(const void *json, unsigned *cols, unsigned *rows, char *err, size_t errlen,
			  const char **field)
{
	json_t *o = (json_t *)json;
	const char *k;
	json_t *v;

	*cols = 80;
	*rows = 24;
	*field = NULL;
	if (!json_is_object(o))
		return pty_err(err, errlen, "the request is not an object");
	json_object_foreach(o, k, v) {
		unsigned *dst = strcmp(k, "cols") == 0 ? cols : strcmp(k, "rows") == 0 ? rows : NULL;

		if (!dst) {
			if (strcmp(k, "rid") == 0 || strcmp(k, "op") == 0)
				continue;
			*field = k;
			return pty_err(err, errlen, "unknown field '%.64s' for a terminal", k);
		}
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > PTY_SIZE_MAX) {
			*field = dst == cols ? "cols" : "rows";
			return pty_err(err, errlen, "%s must be an integer from 1 to %d", *field, PTY_SIZE_MAX);
		}
		*dst = (unsigned)json_integer_value(v);
	}
	return 0;
}
