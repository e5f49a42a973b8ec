/*
 * Streaming multipart/form-data parser (see multipart.h).
 *
 * Design: a byte-driven state machine that never looks back further than
 * the delimiter it is matching. The delimiter is "\r\n--" + boundary; the
 * first one may also open the body without the CRLF, which we get by
 * starting the matcher as if a CRLF had just been read.
 *
 * Part bodies are scanned for the delimiter with a single match counter:
 * the bytes held back while a match is in progress are always exactly the
 * first `match` bytes of the delimiter, so they need no buffer of their own
 * (on a mismatch we hand the callback that prefix of the delimiter). Since
 * CR and LF cannot occur in a boundary, a failed match can only restart at
 * the current byte, so no KMP table is needed either. Body bytes go to the
 * part_data callback straight from the caller's buffer, at most one call
 * per chunk (plus one for a prefix carried over from the previous chunk).
 *
 * Part headers are read one line at a time into a fixed buffer of
 * MP_HEADER_LINE_MAX bytes; only Content-Disposition and Content-Type are
 * kept. Everything the parser owns lives in the one struct mp_parser
 * allocation.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

#define MP_DELIM_MAX (MP_BOUNDARY_MAX + 4) /* "\r\n--" + boundary */
#define MP_ERROR_MAX 128                   /* longest error sentence */

enum mp_state {
	MP_STATE_PREAMBLE,    /* before the first delimiter: ignored */
	MP_STATE_AFTER_DELIM, /* "--boundary" matched: "--", padding or CRLF next */
	MP_STATE_CLOSE_DASH,  /* "--boundary-": a second '-' must follow */
	MP_STATE_PADDING,     /* transport padding (spaces, tabs) before CRLF */
	MP_STATE_DELIM_LF,    /* CR after the delimiter: LF must follow */
	MP_STATE_HEADER,      /* inside a part header line */
	MP_STATE_HEADER_LF,   /* CR in a part header line: LF must follow */
	MP_STATE_BODY,        /* part data, scanning for the delimiter */
	MP_STATE_EPILOGUE,    /* after "--boundary--": ignored */
};

struct mp_parser {
	struct mp_callbacks cb;
	void *ctx;
	enum mp_state state;
	enum mp_status status;      /* sticky: the first error */
	char error[MP_ERROR_MAX];

	char delim[MP_DELIM_MAX + 1]; /* "\r\n--" + boundary */
	size_t delim_len;
	size_t match;                 /* bytes of delim matched (and held back) */

	bool in_part;                 /* part_begin called, part_end not yet */
	size_t parts;                 /* parts begun so far */
	size_t headers;               /* header lines in the current part */

	char line[MP_HEADER_LINE_MAX + 1];
	size_t line_len;

	bool has_disposition, has_name, has_filename, has_content_type;
	char name[MP_NAME_MAX + 1];
	char filename[MP_NAME_MAX + 1];
	char content_type[MP_HEADER_LINE_MAX + 1];
};

static enum mp_status mp_fail(struct mp_parser *p, enum mp_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum mp_status mp_fail(struct mp_parser *p, enum mp_status status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->status = status;
	return status;
}

/* RFC 2046 bchars, without the space (which is allowed but not last). */
static bool mp_is_bchar_nospace(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("'()+_,-./:=?", c) != NULL);
}

static bool mp_boundary_valid(const char *b, size_t len)
{
	size_t i;

	if (len < 1 || len > MP_BOUNDARY_MAX || b[len - 1] == ' ')
		return false;
	for (i = 0; i < len; i++)
		if (b[i] != ' ' && !mp_is_bchar_nospace((unsigned char)b[i]))
			return false;
	return true;
}

/* RFC 7230 tchar: what may appear in a token (header names, parameter names). */
static bool mp_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool mp_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static char mp_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII, locale-free) comparison of s[0..len) with a lowercase word. */
static bool mp_word_is(const char *s, size_t len, const char *lower)
{
	size_t i;

	if (strlen(lower) != len)
		return false;
	for (i = 0; i < len; i++)
		if (mp_ascii_lower(s[i]) != lower[i])
			return false;
	return true;
}

static char *mp_skip_ows(char *s)
{
	while (mp_is_ows(*s))
		s++;
	return s;
}

/* A token at *s: returns its length (0 if none) and advances *s past it. */
static size_t mp_token(char **s)
{
	const char *start = *s;

	while (mp_is_tchar((unsigned char)**s))
		(*s)++;
	return (size_t)(*s - start);
}

/*
 * A parameter value at *s, quoted (backslash escapes) or a bare run of
 * characters up to ';' or whitespace. Quoted values are unescaped in place
 * (the output never overtakes the input), so `s` must be writable. Sets
 * *val and *len and advances *s; returns false on an unterminated quote or an
 * empty bare value.
 */
static bool mp_param_value(char **s, char **val, size_t *len)
{
	char *in = *s, *out;

	if (*in != '"') {
		*val = in;
		while (*in != '\0' && *in != ';' && *in != '"' && !mp_is_ows(*in))
			in++;
		*len = (size_t)(in - *val);
		*s = in;
		return *len > 0;
	}
	*val = out = ++in;
	for (;;) {
		if (*in == '\0')
			return false;
		if (*in == '"')
			break;
		if (*in == '\\') {
			if (in[1] == '\0')
				return false;
			in++;
		}
		*out++ = *in++;
	}
	*len = (size_t)(out - *val);
	*s = in + 1;
	return true;
}

int mp_boundary_from_content_type(const char *content_type, char *out, size_t outlen)
{
	char buf[1024];
	char *s, *val = NULL, *pval;
	const char *name;
	size_t n, vlen = 0, plen;
	bool found = false;

	if (content_type == NULL || out == NULL || outlen < 1)
		return -1;
	n = strlen(content_type);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, content_type, n + 1); /* mp_param_value() unescapes in place */

	s = mp_skip_ows(buf);
	name = s;
	n = mp_token(&s);
	if (n == 0 || *s != '/' || !mp_word_is(name, n, "multipart"))
		return -1;
	s++;
	name = s;
	n = mp_token(&s);
	if (!mp_word_is(name, n, "form-data"))
		return -1;
	for (;;) {
		s = mp_skip_ows(s);
		if (*s == '\0')
			break;
		if (*s != ';')
			return -1;
		s = mp_skip_ows(s + 1);
		if (*s == '\0')
			break; /* a trailing ';' is harmless */
		name = s;
		n = mp_token(&s);
		if (n == 0)
			return -1;
		s = mp_skip_ows(s);
		if (*s != '=')
			return -1;
		s = mp_skip_ows(s + 1);
		if (!mp_param_value(&s, &pval, &plen))
			return -1;
		if (mp_word_is(name, n, "boundary")) {
			if (found)
				return -1; /* two boundaries: which one would the client mean? */
			found = true;
			val = pval;
			vlen = plen;
		}
	}
	if (!found || !mp_boundary_valid(val, vlen) || vlen >= outlen)
		return -1;
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return 0;
}

struct mp_parser *mp_parser_new(const char *boundary, const struct mp_callbacks *cb, void *ctx)
{
	struct mp_parser *p;
	size_t len;

	if (boundary == NULL)
		return NULL;
	len = strnlen(boundary, MP_BOUNDARY_MAX + 1);
	if (!mp_boundary_valid(boundary, len))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (cb != NULL)
		p->cb = *cb;
	p->ctx = ctx;
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, len);
	p->delim_len = len + 4;
	p->delim[p->delim_len] = '\0';
	p->state = MP_STATE_PREAMBLE;
	p->match = 2; /* the first delimiter may open the body: as if after a CRLF */
	return p;
}

void mp_parser_free(struct mp_parser *p)
{
	free(p);
}

const char *mp_error(const struct mp_parser *p)
{
	return p->status == MP_OK ? "" : p->error;
}

static enum mp_status mp_emit(struct mp_parser *p, const char *data, size_t len)
{
	if (len == 0 || p->cb.part_data == NULL)
		return MP_OK;
	if (p->cb.part_data(p->ctx, data, len) != 0)
		return mp_fail(p, MP_ERR_CALLBACK, "the part data handler stopped the parser");
	return MP_OK;
}

/*
 * Scans buf for the delimiter, continuing a match carried over from the
 * previous chunk. Sets *used to the bytes consumed: all of buf, or up to
 * and including the delimiter (then the state becomes AFTER_DELIM).
 * With `emit`, the bytes that are surely data go to part_data.
 */
static enum mp_status mp_scan(struct mp_parser *p, const char *buf, size_t len, size_t *used,
                              bool emit)
{
	size_t m = p->match;      /* bytes of the delimiter matched */
	size_t carried = p->match; /* of those, how many came before buf */
	size_t i = 0;
	const char *cr;

	while (i < len) {
		if (m == 0) {
			cr = memchr(buf + i, '\r', len - i);
			if (cr == NULL) {
				i = len;
				break;
			}
			i = (size_t)(cr - buf);
		}
		if (buf[i] == p->delim[m]) {
			i++;
			if (++m < p->delim_len)
				continue;
			/* The whole delimiter: the data ends where it began. */
			if (emit && carried == 0 && mp_emit(p, buf, i - p->delim_len) != MP_OK)
				return p->status;
			p->match = 0;
			p->state = MP_STATE_AFTER_DELIM;
			*used = i;
			return MP_OK;
		}
		/* Mismatch: what was held back is data after all. */
		if (carried > 0) {
			if (emit && mp_emit(p, p->delim, carried) != MP_OK)
				return p->status;
			carried = 0;
		}
		m = 0; /* no CR inside the delimiter: a new match can only start here */
		if (buf[i] == '\r')
			m = 1;
		i++;
	}
	/* End of chunk: hold back the part of a match that lies in buf. */
	if (emit && mp_emit(p, buf, len - (m - carried)) != MP_OK)
		return p->status;
	p->match = m;
	*used = len;
	return MP_OK;
}

static void mp_part_reset(struct mp_parser *p)
{
	p->headers = 0;
	p->line_len = 0;
	p->has_disposition = p->has_name = p->has_filename = p->has_content_type = false;
	p->name[0] = p->filename[0] = p->content_type[0] = '\0';
}

static enum mp_status mp_part_end(struct mp_parser *p)
{
	if (!p->in_part)
		return MP_OK;
	p->in_part = false;
	if (p->cb.part_end != NULL && p->cb.part_end(p->ctx) != 0)
		return mp_fail(p, MP_ERR_CALLBACK, "the part end handler stopped the parser");
	return MP_OK;
}

static enum mp_status mp_part_begin(struct mp_parser *p)
{
	struct mp_part_info info;

	if (!p->has_disposition)
		return mp_fail(p, MP_ERR_SYNTAX, "part %zu has no Content-Disposition header", p->parts);
	if (!p->has_name)
		return mp_fail(p, MP_ERR_SYNTAX, "part %zu has no name", p->parts);
	info.name = p->name;
	info.filename = p->has_filename ? p->filename : NULL;
	info.content_type = p->has_content_type ? p->content_type : NULL;
	p->in_part = true;
	if (p->cb.part_begin != NULL && p->cb.part_begin(p->ctx, &info) != 0)
		return mp_fail(p, MP_ERR_CALLBACK, "the part begin handler stopped the parser");
	return MP_OK;
}

/* Stores one name or filename parameter of Content-Disposition. */
static enum mp_status mp_store_name(struct mp_parser *p, const char *what, bool *has, char *dst,
                                    const char *val, size_t len)
{
	if (*has)
		return mp_fail(p, MP_ERR_SYNTAX, "part %zu has two %s parameters", p->parts, what);
	if (len > MP_NAME_MAX)
		return mp_fail(p, MP_ERR_LIMIT, "part %s longer than %d bytes", what, MP_NAME_MAX);
	memcpy(dst, val, len);
	dst[len] = '\0';
	*has = true;
	return MP_OK;
}

/* Content-Disposition: form-data; name="..."; filename="..." (RFC 7578 §4.2) */
static enum mp_status mp_parse_disposition(struct mp_parser *p, char *s)
{
	const char *word = s;
	char *val;
	size_t n, vlen;

	if (p->has_disposition)
		return mp_fail(p, MP_ERR_SYNTAX, "part %zu has two Content-Disposition headers", p->parts);
	p->has_disposition = true;
	n = mp_token(&s);
	if (!mp_word_is(word, n, "form-data"))
		return mp_fail(p, MP_ERR_SYNTAX, "part %zu is not form-data", p->parts);
	for (;;) {
		s = mp_skip_ows(s);
		if (*s == '\0')
			return MP_OK;
		if (*s != ';')
			break;
		s = mp_skip_ows(s + 1);
		if (*s == '\0')
			return MP_OK; /* a trailing ';' is harmless */
		word = s;
		n = mp_token(&s);
		if (n == 0)
			break;
		s = mp_skip_ows(s);
		if (*s != '=')
			break;
		s = mp_skip_ows(s + 1);
		if (!mp_param_value(&s, &val, &vlen))
			break;
		if (mp_word_is(word, n, "name")) {
			if (vlen == 0)
				return mp_fail(p, MP_ERR_SYNTAX, "part %zu has an empty name", p->parts);
			if (mp_store_name(p, "name", &p->has_name, p->name, val, vlen) != MP_OK)
				return p->status;
		} else if (mp_word_is(word, n, "filename")) {
			if (mp_store_name(p, "filename", &p->has_filename, p->filename, val, vlen) != MP_OK)
				return p->status;
		}
		/* Other parameters (filename*, ...) are ignored. */
	}
	return mp_fail(p, MP_ERR_SYNTAX, "malformed Content-Disposition header in part %zu", p->parts);
}

/* One complete header line (CRLF removed) of the current part. */
static enum mp_status mp_header_line(struct mp_parser *p)
{
	char *s = p->line, *value, *end;
	const char *name = s;
	size_t n;

	p->line[p->line_len] = '\0';
	if (p->line_len == 0) {
		p->state = MP_STATE_BODY;
		return mp_part_begin(p);
	}
	if (mp_is_ows(s[0]))
		return mp_fail(p, MP_ERR_SYNTAX, "folded part header lines are not supported");
	if (++p->headers > MP_HEADERS_MAX)
		return mp_fail(p, MP_ERR_LIMIT, "part has more than %d header lines", MP_HEADERS_MAX);
	n = mp_token(&s);
	if (n == 0 || *s != ':')
		return mp_fail(p, MP_ERR_SYNTAX, "malformed part header line");
	value = mp_skip_ows(s + 1);
	end = p->line + p->line_len;
	while (end > value && mp_is_ows(end[-1]))
		*--end = '\0';
	if (mp_word_is(name, n, "content-disposition"))
		return mp_parse_disposition(p, value);
	if (mp_word_is(name, n, "content-type")) {
		if (p->has_content_type)
			return mp_fail(p, MP_ERR_SYNTAX, "part %zu has two Content-Type headers", p->parts);
		p->has_content_type = true;
		memcpy(p->content_type, value, (size_t)(end - value) + 1);
		return MP_OK;
	}
	return MP_OK; /* other headers are of no use to us */
}

/* One byte of a part header line. */
static enum mp_status mp_header_byte(struct mp_parser *p, unsigned char c)
{
	if (p->state == MP_STATE_HEADER_LF) {
		if (c != '\n')
			return mp_fail(p, MP_ERR_SYNTAX, "bare CR in part header");
		p->state = MP_STATE_HEADER;
		if (mp_header_line(p) != MP_OK)
			return p->status;
		p->line_len = 0;
		return MP_OK;
	}
	if (c == '\r') {
		p->state = MP_STATE_HEADER_LF;
		return MP_OK;
	}
	if (c == '\n')
		return mp_fail(p, MP_ERR_SYNTAX, "part header line ends in a bare LF, not CRLF");
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		return mp_fail(p, MP_ERR_SYNTAX, "control character in part header");
	if (p->line_len >= MP_HEADER_LINE_MAX)
		return mp_fail(p, MP_ERR_LIMIT, "part header line longer than %d bytes",
		               MP_HEADER_LINE_MAX);
	p->line[p->line_len++] = (char)c;
	return MP_OK;
}

/* One byte after "--boundary": the close "--", or padding and CRLF. */
static enum mp_status mp_delim_byte(struct mp_parser *p, unsigned char c)
{
	switch (p->state) {
	case MP_STATE_AFTER_DELIM:
		if (c == '-') {
			p->state = MP_STATE_CLOSE_DASH;
			return MP_OK;
		}
		if (mp_is_ows((char)c)) {
			p->state = MP_STATE_PADDING;
			return MP_OK;
		}
		if (c == '\r') {
			p->state = MP_STATE_DELIM_LF;
			return MP_OK;
		}
		return mp_fail(p, MP_ERR_SYNTAX, "boundary followed by neither CRLF nor \"--\"");
	case MP_STATE_CLOSE_DASH:
		if (c != '-')
			return mp_fail(p, MP_ERR_SYNTAX, "boundary followed by neither CRLF nor \"--\"");
		p->state = MP_STATE_EPILOGUE;
		return mp_part_end(p);
	case MP_STATE_PADDING:
		if (mp_is_ows((char)c))
			return MP_OK;
		if (c == '\r') {
			p->state = MP_STATE_DELIM_LF;
			return MP_OK;
		}
		return mp_fail(p, MP_ERR_SYNTAX, "boundary line not ended by CRLF");
	case MP_STATE_DELIM_LF:
		if (c != '\n')
			return mp_fail(p, MP_ERR_SYNTAX, "boundary line not ended by CRLF");
		if (mp_part_end(p) != MP_OK)
			return p->status;
		if (p->parts >= MP_PARTS_MAX)
			return mp_fail(p, MP_ERR_LIMIT, "body has more than %d parts", MP_PARTS_MAX);
		p->parts++;
		mp_part_reset(p);
		p->state = MP_STATE_HEADER;
		return MP_OK;
	default:
		return mp_fail(p, MP_ERR_SYNTAX, "internal error: bad parser state");
	}
}

enum mp_status mp_feed(struct mp_parser *p, const char *buf, size_t len)
{
	size_t i = 0, used = 0;

	if (p->status != MP_OK)
		return p->status;
	while (i < len) {
		switch (p->state) {
		case MP_STATE_PREAMBLE:
		case MP_STATE_BODY:
			if (mp_scan(p, buf + i, len - i, &used, p->state == MP_STATE_BODY) != MP_OK)
				return p->status;
			i += used;
			break;
		case MP_STATE_EPILOGUE:
			return MP_OK;
		case MP_STATE_HEADER:
		case MP_STATE_HEADER_LF:
			if (mp_header_byte(p, (unsigned char)buf[i++]) != MP_OK)
				return p->status;
			break;
		default:
			if (mp_delim_byte(p, (unsigned char)buf[i++]) != MP_OK)
				return p->status;
			break;
		}
	}
	return MP_OK;
}

enum mp_status mp_finish(struct mp_parser *p)
{
	if (p->status != MP_OK)
		return p->status;
	switch (p->state) {
	case MP_STATE_EPILOGUE:
		return MP_OK;
	case MP_STATE_PREAMBLE:
		return mp_fail(p, MP_ERR_SYNTAX, "body ended before the first boundary");
	default:
		return mp_fail(p, MP_ERR_SYNTAX, "body ended before the closing boundary");
	}
}
