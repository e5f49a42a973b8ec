/*
 * libFuzzer target for the multipart/form-data parser (common/multipart.c).
 *
 * Input layout: byte 0 picks how the body is cut into chunks (low two bits:
 * whole, fixed size, pseudo-random sizes, or a single cut; the other bits
 * are the size or seed), byte 1 picks a callback that asks the parser to
 * stop (most values: none), the rest is the body, in the boundary
 * FUZZ_BOUNDARY. The body is parsed three times: whole, in the chosen
 * chunks, and a byte at a time. Differences between the three, broken
 * callback order, more data out than went in, or more than boundary+4
 * bytes held back call abort(). The rest of the input is also given to
 * mp_boundary_from_content_type(), whose answer must be a valid boundary.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

#define FUZZ_BOUNDARY "sandrun-fuzz"
#define DELIMITER "\r\n--" FUZZ_BOUNDARY
/* The delimiter's length: the parser holds back fewer bytes than this. */
#define HOLD_MAX (sizeof(DELIMITER) - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	const char *body;
	size_t size;
	bool in_part;
	size_t begins, ends;
	size_t stop_begin, stop_end; /* 1-based callback number to stop at, 0 never */
	size_t data_total;           /* data bytes since the start */
	size_t data_in_part;         /* data bytes of the current part */
	size_t body_start;           /* with `bytewise`: offset of the current part's data */
	size_t fed;                  /* bytes fed so far */
	bool bytewise;
	uint64_t hash;               /* FNV-1a of the events; chunking must not change it */
};

static void hash_bytes(struct run *r, const void *buf, size_t len)
{
	const unsigned char *b = buf;

	for (size_t i = 0; i < len; i++) {
		r->hash ^= b[i];
		r->hash *= 0x100000001b3ULL;
	}
}

static void hash_string(struct run *r, const char *s)
{
	if (s == NULL) {
		hash_bytes(r, "\xff", 1);
		return;
	}
	hash_bytes(r, s, strlen(s) + 1);
}

static int on_begin(void *ctx, const struct mp_part_info *part)
{
	struct run *r = ctx;

	if (r->in_part || part == NULL || part->name == NULL || part->name[0] == '\0' ||
	    strlen(part->name) > MP_NAME_MAX ||
	    (part->filename != NULL && strlen(part->filename) > MP_NAME_MAX) ||
	    (part->content_type != NULL && strlen(part->content_type) > MP_HEADER_LINE_MAX) ||
	    r->begins >= MP_PARTS_MAX)
		abort();
	r->in_part = true;
	r->begins++;
	r->data_in_part = 0;
	r->body_start = r->fed; /* bytewise: right after the byte being fed */
	hash_bytes(r, "B", 1);
	hash_string(r, part->name);
	hash_string(r, part->filename);
	hash_string(r, part->content_type);
	return r->begins == r->stop_begin;
}

static int on_data(void *ctx, const char *data, size_t len)
{
	struct run *r = ctx;

	if (!r->in_part || data == NULL || len == 0 || len > r->size - r->data_total)
		abort();
	/*
	 * Byte at a time we know where the part's data starts: it must be the
	 * input's bytes, and the delimiter must not occur in it (not even
	 * straddling the previous call's data).
	 */
	if (r->bytewise) {
		size_t at = r->body_start + r->data_in_part, from;
		if (at > r->size || len > r->size - at || memcmp(data, r->body + at, len) != 0)
			abort();
		from = at - r->body_start > HOLD_MAX - 1 ? at - (HOLD_MAX - 1) : r->body_start;
		if (memmem(r->body + from, at + len - from, DELIMITER, HOLD_MAX) != NULL)
			abort();
	}
	r->data_total += len;
	r->data_in_part += len;
	hash_bytes(r, data, len);
	return 0;
}

static int on_end(void *ctx)
{
	struct run *r = ctx;

	if (!r->in_part)
		abort();
	r->in_part = false;
	r->ends++;
	hash_bytes(r, "E", 1);
	return r->ends == r->stop_end;
}

static const struct mp_callbacks callbacks = { on_begin, on_data, on_end };

struct outcome {
	enum mp_status status;
	uint64_t hash;
	size_t begins, ends, data_total;
	bool in_part;
	char error[160];
};


/* Parses body cut as `mode` says (0 whole, 1 fixed, 2 random, 3 one cut, 4 bytes). */
static void parse(const char *body, size_t size, int mode, unsigned param, size_t stop_begin,
                  size_t stop_end, struct outcome *out)
{
	struct run r = { .body = body, .size = size, .stop_begin = stop_begin,
	                 .stop_end = stop_end, .hash = 0xcbf29ce484222325ULL };
	struct mp_parser *p = mp_parser_new(FUZZ_BOUNDARY, &callbacks, &r);
	enum mp_status st = MP_OK, again;
	uint32_t seed = param * 2654435761u + 1;
	size_t off = 0, n;

	if (p == NULL)
		abort();
	r.bytewise = mode == 4;
	while (off < size) {
		switch (mode) {
		case 0: n = size; break;
		case 1: n = param + 1; break;                     /* fixed size, 1..64 */
		case 2: seed = seed * 1103515245u + 12345u;       /* pseudo-random, 1..256 */
			n = 1 + (seed >> 16) % 256; break;
		case 3: n = off == 0 ? param : size - off; break; /* one cut (at 0: empty first) */
		default: n = 1; break;
		}
		if (n > size - off)
			n = size - off;
		r.fed = off + n; /* what the parser has seen once this call returns */
		st = mp_feed(p, body + off, n);
		off += n;
		if (st != MP_OK)
			break;
		/*
		 * Byte at a time, inside a part: fewer than HOLD_MAX bytes may be
		 * held back, unless they start with the whole delimiter (then
		 * "--" or padding and CRLF follow it before part_end).
		 */
		if (r.bytewise && r.in_part && off - r.body_start - r.data_in_part >= HOLD_MAX) {
			size_t at = r.body_start + r.data_in_part;
			if (size - at < HOLD_MAX ||
			    memcmp(body + at, DELIMITER, HOLD_MAX) != 0)
				abort();
		}
		if (mode == 3 && n == 0)
			mode = 0; /* after the empty chunk, the rest at once */
	}
	if (st == MP_OK)
		st = mp_finish(p);
	else if (mp_finish(p) != st)
		abort(); /* errors are sticky */
	again = mp_feed(p, "x", 1);
	if (st != MP_OK && again != st)
		abort();
	if ((st == MP_OK) != (mp_error(p)[0] == '\0'))
		abort();
	if (r.data_total > size || r.begins < r.ends || r.begins - r.ends > 1)
		abort();
	if (st == MP_OK && (r.in_part || r.begins != r.ends))
		abort(); /* a finished body has no open part */
	out->status = st;
	out->hash = r.hash;
	out->begins = r.begins;
	out->ends = r.ends;
	out->data_total = r.data_total;
	out->in_part = r.in_part;
	strncpy(out->error, mp_error(p), sizeof(out->error) - 1);
	out->error[sizeof(out->error) - 1] = '\0';
	mp_parser_free(p);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	return a->status == b->status && a->hash == b->hash && a->begins == b->begins &&
	       a->ends == b->ends && a->data_total == b->data_total && a->in_part == b->in_part &&
	       strcmp(a->error, b->error) == 0;
}

static bool is_bchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static void check_content_type(const char *body, size_t size)
{
	char ct[1100], out[MP_BOUNDARY_MAX + 1];
	struct mp_parser *parser;
	size_t n = size < sizeof(ct) - 1 ? size : sizeof(ct) - 1, len;

	memcpy(ct, body, n);
	ct[n] = '\0';
	memset(out, 'Z', sizeof(out));
	if (mp_boundary_from_content_type(ct, out, sizeof(out)) != 0)
		return;
	len = strnlen(out, sizeof(out));
	if (len == 0 || len > MP_BOUNDARY_MAX || out[len - 1] == ' ')
		abort();
	for (size_t i = 0; i < len; i++)
		if (!is_bchar((unsigned char)out[i]))
			abort();
	/* Whatever it accepts, the parser must accept too. */
	parser = mp_parser_new(out, NULL, NULL);
	if (parser == NULL)
		abort();
	mp_parser_free(parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, chunked, bytewise;
	const char *body;
	size_t stop_begin = 0, stop_end = 0;

	if (size < 2)
		return 0;
	/* Byte 1: 0xf0..0xf7 stop at part_begin 1..8, 0xf8..0xff at part_end 1..8. */
	if (data[1] >= 0xf8)
		stop_end = (size_t)(data[1] - 0xf8) + 1;
	else if (data[1] >= 0xf0)
		stop_begin = (size_t)(data[1] - 0xf0) + 1;
	body = (const char *)data + 2;
	size -= 2;

	parse(body, size, 0, 0, stop_begin, stop_end, &whole);
	parse(body, size, data[0] & 3, data[0] >> 2, stop_begin, stop_end, &chunked);
	parse(body, size, 4, 0, stop_begin, stop_end, &bytewise);
	if (!same(&whole, &chunked) || !same(&whole, &bytewise))
		abort();
	check_content_type(body, size);
	return 0;
}
