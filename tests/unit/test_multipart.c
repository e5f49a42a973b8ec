/*
 * Unit tests for the streaming multipart/form-data parser (common/multipart.c).
 *
 * Each body is parsed by a recorder that keeps every part's name, filename,
 * content type and data and checks that callbacks come in order. Bodies are
 * fed whole, a byte at a time, split in two at every position and in random
 * chunks: the parts must come out the same every way. The main fixture is
 * the body curl 7.88 sends for
 *   curl -F "files=@job.tar.gz" -F "manifest=$(cat job.json)"
 * captured once with a listening socket and embedded here byte for byte.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf */
#endif
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"
#include "tap.h"

#define CURL_BOUNDARY "------------------------59c91d812f9ee8a9"

/* job.tar.gz: binary bytes with NUL, CR, LF and "--" runs in them. */
static const char tarball[] = "\x1f\x8b\x08\x00" "bin\0ary\r\n--\r\n--abc\rx\ny--";
#define TARBALL_LEN (sizeof(tarball) - 1)

static const char manifest[] =
	"{\n  \"entrypoint\": \"main.py\",\n  \"interpreter\": \"python3\"\n}";

static const char curl_body[] =
	"--" CURL_BOUNDARY "\r\n"
	"Content-Disposition: form-data; name=\"files\"; filename=\"job.tar.gz\"\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"\x1f\x8b\x08\x00" "bin\0ary\r\n--\r\n--abc\rx\ny--"
	"\r\n"
	"--" CURL_BOUNDARY "\r\n"
	"Content-Disposition: form-data; name=\"manifest\"\r\n"
	"\r\n"
	"{\n  \"entrypoint\": \"main.py\",\n  \"interpreter\": \"python3\"\n}"
	"\r\n"
	"--" CURL_BOUNDARY "--\r\n";
#define CURL_BODY_LEN (sizeof(curl_body) - 1)

struct rec_part {
	char name[MP_NAME_MAX + 1];
	char filename[MP_NAME_MAX + 1];
	char content_type[MP_HEADER_LINE_MAX + 1];
	bool has_filename, has_content_type, ended;
	char *data;
	size_t len, cap;
};

struct rec {
	struct rec_part part[MP_PARTS_MAX + 1];
	int nparts;
	bool in_part;
	bool order_ok;   /* begin/data/end came in a sane order */
	size_t data_calls;
	int stop_begin;  /* return non-zero from the Nth part_begin (1-based), 0 never */
	int stop_end;
	size_t stop_data_after; /* non-zero from part_data once this many bytes came */
	size_t data_total;
};

static int rec_begin(void *ctx, const struct mp_part_info *info)
{
	struct rec *r = ctx;
	struct rec_part *p;

	if (r->in_part || r->nparts >= MP_PARTS_MAX || info->name == NULL) {
		r->order_ok = false;
		return 1;
	}
	p = &r->part[r->nparts++];
	snprintf(p->name, sizeof(p->name), "%s", info->name);
	if (info->filename != NULL) {
		p->has_filename = true;
		snprintf(p->filename, sizeof(p->filename), "%s", info->filename);
	}
	if (info->content_type != NULL) {
		p->has_content_type = true;
		snprintf(p->content_type, sizeof(p->content_type), "%s", info->content_type);
	}
	r->in_part = true;
	return r->stop_begin == r->nparts;
}

static int rec_data(void *ctx, const char *data, size_t len)
{
	struct rec *r = ctx;
	struct rec_part *p;

	if (!r->in_part || len == 0) {
		r->order_ok = false;
		return 1;
	}
	p = &r->part[r->nparts - 1];
	if (p->len + len > p->cap) {
		size_t cap = (p->len + len) * 2;
		char *n = realloc(p->data, cap);
		if (n == NULL)
			abort();
		p->data = n;
		p->cap = cap;
	}
	memcpy(p->data + p->len, data, len);
	p->len += len;
	r->data_calls++;
	r->data_total += len;
	return r->stop_data_after != 0 && r->data_total >= r->stop_data_after;
}

static int rec_end(void *ctx)
{
	struct rec *r = ctx;

	if (!r->in_part) {
		r->order_ok = false;
		return 1;
	}
	r->in_part = false;
	r->part[r->nparts - 1].ended = true;
	return r->stop_end == r->nparts;
}

static const struct mp_callbacks rec_callbacks = { rec_begin, rec_data, rec_end };

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->order_ok = true;
}

static void rec_clear(struct rec *r)
{
	for (int i = 0; i < MP_PARTS_MAX + 1; i++)
		free(r->part[i].data);
	rec_init(r);
}

/* A small deterministic PRNG so every run tests the same chunkings. */
static uint32_t rng_state;
static uint32_t rng_next(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

enum chunking { WHOLE, BYTES, RANDOM, SPLIT };

struct result {
	enum mp_status feed;   /* the first non-OK status mp_feed gave, or MP_OK */
	enum mp_status finish; /* what mp_finish gave */
	char error[160];
};

/*
 * Parses body with the given chunking (RANDOM: `arg` seeds the chunk sizes,
 * SPLIT: two chunks cut at `arg`) into r. Stops feeding at the first error.
 */
static struct result parse_with(const char *boundary, const char *body, size_t len,
                                enum chunking how, size_t arg, struct rec *r)
{
	struct result res = { MP_OK, MP_OK, "" };
	struct mp_parser *p;
	size_t off = 0, n, step = 0;

	rec_init(r);
	p = mp_parser_new(boundary, &rec_callbacks, r);
	if (p == NULL) {
		res.feed = res.finish = MP_ERR_SYNTAX;
		snprintf(res.error, sizeof(res.error), "mp_parser_new failed");
		return res;
	}
	rng_state = (uint32_t)arg;
	while (off < len && res.feed == MP_OK) {
		switch (how) {
		case BYTES: n = 1; break;
		case RANDOM: n = 1 + rng_next() % 40; break;
		case SPLIT: n = step == 0 ? arg : len - off; break; /* cut 0: an empty chunk first */
		default: n = len; break;
		}
		if (n > len - off)
			n = len - off;
		res.feed = mp_feed(p, body + off, n);
		off += n;
		step++;
	}
	res.finish = mp_finish(p);
	snprintf(res.error, sizeof(res.error), "%s", mp_error(p));
	mp_parser_free(p);
	return res;
}

static struct result parse(const char *boundary, const char *body, struct rec *r)
{
	return parse_with(boundary, body, strlen(body), WHOLE, 0, r);
}

static bool rec_equal(const struct rec *a, const struct rec *b)
{
	if (a->nparts != b->nparts || a->in_part != b->in_part || !a->order_ok || !b->order_ok)
		return false;
	for (int i = 0; i < a->nparts; i++) {
		const struct rec_part *x = &a->part[i], *y = &b->part[i];
		if (strcmp(x->name, y->name) != 0 || strcmp(x->filename, y->filename) != 0 ||
		    strcmp(x->content_type, y->content_type) != 0 ||
		    x->has_filename != y->has_filename || x->has_content_type != y->has_content_type ||
		    x->ended != y->ended || x->len != y->len ||
		    (x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
			return false;
	}
	return true;
}

static bool data_is(const struct rec_part *p, const char *want, size_t len)
{
	return p->len == len && (len == 0 || memcmp(p->data, want, len) == 0);
}

/* A body that starts with a part on "b" with the given header lines and data. */
static char *body_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *body_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static void test_curl_body(void)
{
	struct rec r, other;
	struct result res;
	bool same;

	res = parse_with(CURL_BOUNDARY, curl_body, CURL_BODY_LEN, WHOLE, 0, &r);
	is_int(res.feed, MP_OK, "curl body: fed whole");
	is_int(res.finish, MP_OK, "curl body: finished");
	is_str(res.error, "", "curl body: no error sentence");
	ok(r.order_ok, "curl body: callbacks in order");
	is_int(r.nparts, 2, "curl body: two parts");
	is_str(r.part[0].name, "files", "curl body: first part is files");
	ok(r.part[0].has_filename, "curl body: files has a filename");
	is_str(r.part[0].filename, "job.tar.gz", "curl body: filename job.tar.gz");
	is_str(r.part[0].content_type, "application/octet-stream",
	       "curl body: files is application/octet-stream");
	ok(data_is(&r.part[0], tarball, TARBALL_LEN),
	   "curl body: tarball bytes (NUL, CR, LF, \"--\") intact");
	ok(r.part[0].ended && r.part[1].ended, "curl body: both parts ended");
	is_str(r.part[1].name, "manifest", "curl body: second part is manifest");
	ok(!r.part[1].has_filename, "curl body: manifest has no filename");
	ok(!r.part[1].has_content_type, "curl body: manifest has no Content-Type");
	ok(data_is(&r.part[1], manifest, strlen(manifest)), "curl body: multi-line JSON intact");
	ok(r.data_calls <= 2, "curl body fed whole: one data call per part (%zu)", r.data_calls);

	res = parse_with(CURL_BOUNDARY, curl_body, CURL_BODY_LEN, BYTES, 0, &other);
	ok(res.feed == MP_OK && res.finish == MP_OK && rec_equal(&r, &other),
	   "curl body in 1-byte chunks: same parts");
	rec_clear(&other);

	same = true;
	for (size_t seed = 1; seed <= 200 && same; seed++) {
		res = parse_with(CURL_BOUNDARY, curl_body, CURL_BODY_LEN, RANDOM, seed, &other);
		same = res.feed == MP_OK && res.finish == MP_OK && rec_equal(&r, &other);
		if (!same)
			printf("# differs with random seed %zu\n", seed);
		rec_clear(&other);
	}
	ok(same, "curl body in random chunks (200 seeds): same parts");

	/* Every cut point, so the boundary is split everywhere across two chunks. */
	same = true;
	for (size_t cut = 0; cut <= CURL_BODY_LEN && same; cut++) {
		res = parse_with(CURL_BOUNDARY, curl_body, CURL_BODY_LEN, SPLIT, cut, &other);
		same = res.feed == MP_OK && res.finish == MP_OK && rec_equal(&r, &other);
		if (!same)
			printf("# differs when cut at %zu\n", cut);
		rec_clear(&other);
	}
	ok(same, "curl body cut in two at each of its %zu positions: same parts", CURL_BODY_LEN + 1);
	rec_clear(&r);
}

/* Bytes held back must never exceed the delimiter length while in a part. */
static void test_holdback(void)
{
	struct rec r;
	struct mp_parser *p;
	const char *head = "--bb\r\nContent-Disposition: form-data; name=x\r\n\r\n";
	static const char data[] = "abc\r\n--\r\n-\r\r\n--b-\rno\r\n--b";
	size_t fed = 0, most = 0;

	rec_init(&r);
	p = mp_parser_new("bb", &rec_callbacks, &r);
	mp_feed(p, head, strlen(head));
	for (size_t i = 0; i < sizeof(data) - 1; i++) {
		mp_feed(p, data + i, 1);
		fed++;
		if (fed - r.data_total > most)
			most = fed - r.data_total;
	}
	ok(most <= strlen("bb") + 4, "at most boundary+4 bytes held back (%zu), a byte at a time", most);
	is_int(r.data_total, fed - strlen("\r\n--b"), "only a possible delimiter start is held");
	mp_feed(p, "x", 1);
	is_int(r.data_total, fed + 1, "a byte that breaks the match releases it");
	is_int(mp_feed(p, "\r\n--bb--", 8), MP_OK, "closing delimiter");
	is_int(mp_finish(p), MP_OK, "finish");
	ok(r.part[0].len == fed + 1 && memcmp(r.part[0].data, data, fed) == 0 &&
	   r.part[0].data[fed] == 'x', "data with CRs and partial delimiters intact");
	mp_parser_free(p);
	rec_clear(&r);

	/* A prefix of the delimiter at a chunk end is held, then released. */
	rec_init(&r);
	p = mp_parser_new("boundary", &rec_callbacks, &r);
	head = "--boundary\r\nContent-Disposition: form-data; name=x\r\n\r\nhello";
	mp_feed(p, head, strlen(head));
	is_int(r.data_total, 5, "data before a chunk end handed over at once");
	mp_feed(p, "\r\n--bound", 9);
	is_int(r.data_total, 5, "a delimiter prefix at a chunk end is held back");
	mp_feed(p, "ary", 3);
	is_int(r.data_total, 5, "...still held when it completes the boundary");
	mp_feed(p, "\r\n", 2);
	ok(r.part[0].ended, "...and the part ends at the CRLF after it");
	mp_parser_free(p);
	rec_clear(&r);

	rec_init(&r);
	p = mp_parser_new("boundary", &rec_callbacks, &r);
	head = "--boundary\r\nContent-Disposition: form-data; name=x\r\n\r\nhello";
	mp_feed(p, head, strlen(head));
	mp_feed(p, "\r\n--bound", 9);
	mp_feed(p, "s", 1);
	is_int(r.data_total, 15, "a held prefix is released when the next chunk breaks it");
	ok(data_is(&r.part[0], "hello\r\n--bounds", 15), "...in order");
	mp_parser_free(p);
	rec_clear(&r);
}

static void test_near_delimiters(void)
{
	struct rec r, other;
	struct result res;
	bool same = true;
	/* "\r\n--" followed by prefixes of the boundary, a CR CR LF and a boundary minus one char */
	static const char data[] =
		"\r\n--\r\n--b\r\n--bo\r\n--boundar\r\r\n--boundarX\n--boundary\r\n-boundary"
		"\r\n--Boundary\r\n--boundar\r\n";
	char *body = body_printf("--boundary\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n"
	                         "%s\r\n--boundary--\r\n", data);

	res = parse("boundary", body, &r);
	ok(res.feed == MP_OK && res.finish == MP_OK, "near-delimiters: parsed (%s)", res.error);
	is_int(r.nparts, 1, "near-delimiters: one part");
	ok(data_is(&r.part[0], data, strlen(data)), "near-delimiters: data intact");
	for (size_t cut = 0; cut <= strlen(body) && same; cut++) {
		parse_with("boundary", body, strlen(body), SPLIT, cut, &other);
		same = rec_equal(&r, &other);
		rec_clear(&other);
	}
	ok(same, "near-delimiters: same parts at every cut");
	parse_with("boundary", body, strlen(body), BYTES, 0, &other);
	ok(rec_equal(&r, &other), "near-delimiters: same parts a byte at a time");
	rec_clear(&other);
	rec_clear(&r);
	free(body);

	/* The boundary followed by something else than "--" or CRLF is an error. */
	res = parse("b", "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nz\r\n--bz\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "boundary followed by other text: syntax error");
	rec_clear(&r);
}

static void test_preamble_epilogue(void)
{
	struct rec r;
	struct result res;

	res = parse("xyz",
	            "This is the preamble. --xyz is not at a line start\r\n-- xyz\r\n--xy\r\n"
	            "--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\none\r\n"
	            "--xyz--\r\nThis is the epilogue.\r\n--xyz\r\nContent-Disposition: nonsense\r\n",
	            &r);
	ok(res.feed == MP_OK && res.finish == MP_OK, "preamble and epilogue: parsed (%s)", res.error);
	is_int(r.nparts, 1, "preamble and epilogue: one part");
	ok(data_is(&r.part[0], "one", 3), "preamble and epilogue: data");
	rec_clear(&r);

	res = parse("xyz", "\r\n--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\none\r\n--xyz--", &r);
	ok(res.finish == MP_OK && r.nparts == 1, "a bare CRLF as preamble");
	rec_clear(&r);

	res = parse("xyz", "--xyz--", &r);
	ok(res.finish == MP_OK && r.nparts == 0, "no parts at all: accepted, nothing reported");
	rec_clear(&r);

	res = parse("xyz", "--xyz \t \r\nContent-Disposition: form-data; name=a\r\n\r\none\r\n--xyz\t\r\n"
	                   "Content-Disposition: form-data; name=b\r\n\r\ntwo\r\n--xyz--", &r);
	ok(res.finish == MP_OK && r.nparts == 2 && data_is(&r.part[1], "two", 3),
	   "transport padding after the boundary");
	rec_clear(&r);

	res = parse("xyz", "--xyz x\r\n", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "text after transport padding: syntax error");
	rec_clear(&r);
}

static void test_missing_close(void)
{
	struct rec r;
	struct result res;

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata\r\n", &r);
	is_int(res.feed, MP_OK, "no closing delimiter: feeding is fine");
	is_int(res.finish, MP_ERR_SYNTAX, "no closing delimiter: mp_finish fails");
	is_str(res.error, "body ended before the closing boundary", "no closing delimiter: sentence");
	ok(r.in_part && !r.part[0].ended, "no closing delimiter: the part never ended");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata\r\n--b\r\n", &r);
	is_int(res.finish, MP_ERR_SYNTAX, "ends after a delimiter line: mp_finish fails");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata\r\n--b-", &r);
	is_int(res.finish, MP_ERR_SYNTAX, "ends after half a close delimiter: mp_finish fails");
	rec_clear(&r);

	res = parse("b", "just some text", &r);
	is_int(res.finish, MP_ERR_SYNTAX, "no boundary at all: mp_finish fails");
	is_str(res.error, "body ended before the first boundary", "no boundary at all: sentence");
	rec_clear(&r);

	res = parse("b", "", &r);
	is_int(res.finish, MP_ERR_SYNTAX, "empty body: mp_finish fails");
	rec_clear(&r);
}

static char *parts_body(int n)
{
	size_t cap = (size_t)n * 80 + 16, len = 0;
	char *s = malloc(cap);

	if (s == NULL)
		abort();
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		                        "--b\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\n%d\r\n", i, i);
	snprintf(s + len, cap - len, "--b--\r\n");
	return s;
}

static void test_limits(void)
{
	struct rec r;
	struct result res;
	char *body;
	char name[MP_NAME_MAX + 2];

	body = parts_body(MP_PARTS_MAX);
	res = parse("b", body, &r);
	ok(res.finish == MP_OK && r.nparts == MP_PARTS_MAX, "%d parts: accepted", MP_PARTS_MAX);
	rec_clear(&r);
	free(body);
	body = parts_body(MP_PARTS_MAX + 1);
	res = parse("b", body, &r);
	is_int(res.feed, MP_ERR_LIMIT, "%d parts: limit error", MP_PARTS_MAX + 1);
	is_str(res.error, "body has more than 16 parts", "too many parts: sentence");
	is_int(r.nparts, MP_PARTS_MAX, "too many parts: the first %d were reported", MP_PARTS_MAX);
	rec_clear(&r);
	free(body);

	/* Header line: 1024 bytes is fine, 1025 is not. */
	body = body_printf("--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: %*s\r\n\r\n\r\n--b--",
	                   MP_HEADER_LINE_MAX - 7, "y");
	res = parse("b", body, &r);
	ok(res.finish == MP_OK && r.nparts == 1, "header line of %d bytes: accepted", MP_HEADER_LINE_MAX);
	rec_clear(&r);
	free(body);
	body = body_printf("--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: %*s\r\n\r\n\r\n--b--",
	                   MP_HEADER_LINE_MAX - 6, "y");
	res = parse("b", body, &r);
	is_int(res.feed, MP_ERR_LIMIT, "header line of %d bytes: limit error", MP_HEADER_LINE_MAX + 1);
	is_str(res.error, "part header line longer than 1024 bytes", "header line too long: sentence");
	is_int(r.nparts, 0, "header line too long: no part reported");
	rec_clear(&r);
	free(body);

	/* Header lines: 8 are fine, 9 are not. */
	body = body_printf("--b\r\nContent-Disposition: form-data; name=a\r\n%s\r\n\r\n--b--",
	                   "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nContent-Type: text/plain\r\n");
	res = parse("b", body, &r);
	ok(res.finish == MP_OK && r.nparts == 1, "%d header lines: accepted", MP_HEADERS_MAX);
	is_str(r.part[0].content_type, "text/plain", "Content-Type among other headers");
	rec_clear(&r);
	free(body);
	body = body_printf("--b\r\nContent-Disposition: form-data; name=a\r\n%s\r\n\r\n--b--",
	                   "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n");
	res = parse("b", body, &r);
	is_int(res.feed, MP_ERR_LIMIT, "%d header lines: limit error", MP_HEADERS_MAX + 1);
	is_str(res.error, "part has more than 8 header lines", "too many headers: sentence");
	rec_clear(&r);
	free(body);

	/* Names: 128 bytes are fine, 129 are not. */
	memset(name, 'n', sizeof(name));
	name[MP_NAME_MAX] = '\0';
	body = body_printf("--b\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n\r\n\r\n--b--",
	                   name, name);
	res = parse("b", body, &r);
	ok(res.finish == MP_OK && strlen(r.part[0].name) == MP_NAME_MAX &&
	   strlen(r.part[0].filename) == MP_NAME_MAX, "name and filename of %d bytes: accepted", MP_NAME_MAX);
	rec_clear(&r);
	free(body);
	name[MP_NAME_MAX] = 'n';
	name[MP_NAME_MAX + 1] = '\0';
	body = body_printf("--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n\r\n--b--", name);
	res = parse("b", body, &r);
	is_int(res.feed, MP_ERR_LIMIT, "name of %d bytes: limit error", MP_NAME_MAX + 1);
	is_str(res.error, "part name longer than 128 bytes", "name too long: sentence");
	rec_clear(&r);
	free(body);
	body = body_printf("--b\r\nContent-Disposition: form-data; name=f; filename=%s\r\n\r\n\r\n--b--", name);
	res = parse("b", body, &r);
	is_int(res.feed, MP_ERR_LIMIT, "filename of %d bytes: limit error", MP_NAME_MAX + 1);
	rec_clear(&r);
	free(body);
}

static void test_headers(void)
{
	struct rec r;
	struct result res;

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=\"files\"; "
	                 "filename=\"my \\\"quoted\\\" \\\\ file.tar\"\r\n\r\nx\r\n--b--", &r);
	ok(res.finish == MP_OK, "escaped quote in filename: parsed (%s)", res.error);
	is_str(r.part[0].filename, "my \"quoted\" \\ file.tar", "escaped quote in filename: unescaped");
	rec_clear(&r);

	res = parse("b", "--b\r\ncontent-DISPOSITION:form-data;NAME=manifest;FileName=job.json;"
	                 "filename*=UTF-8''j%C3%B6b.json ; size=12\r\nCONTENT-type:  application/json \r\n"
	                 "X-Other: ignored\r\n\r\n{}\r\n--b--", &r);
	ok(res.finish == MP_OK, "case-insensitive names, unquoted tokens: parsed (%s)", res.error);
	is_str(r.part[0].name, "manifest", "unquoted name token");
	is_str(r.part[0].filename, "job.json", "unquoted filename token, filename* ignored");
	is_str(r.part[0].content_type, "application/json", "Content-Type value trimmed");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=\"\"; filename=\"\"\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "empty name: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a; filename=\"\"\r\n\r\n\r\n--b--", &r);
	ok(res.finish == MP_OK && r.part[0].has_filename && r.part[0].filename[0] == '\0',
	   "empty filename (a browser's empty file input): kept as \"\"");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\ndata\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "missing name: syntax error");
	is_str(res.error, "part 1 has no name", "missing name: sentence");
	is_int(r.nparts, 0, "missing name: no part reported");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Type: text/plain\r\n\r\ndata\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "no Content-Disposition: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: attachment; name=a\r\n\r\ndata\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "disposition other than form-data: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "two name parameters: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "unterminated quoted name: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "parameter without a value: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\nContent-Disposition: form-data; name=a\n\ndata\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "LF line endings: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "bare LF in the headers: syntax error");
	is_str(res.error, "part header line ends in a bare LF, not CRLF", "bare LF: sentence");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\rX\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "bare CR in the headers: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "folded header line: syntax error");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition form-data; name=a\r\n\r\n\r\n--b--", &r);
	is_int(res.feed, MP_ERR_SYNTAX, "header line without a colon: syntax error");
	rec_clear(&r);

	res = parse_with("b", "--b\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n\r\n--b--", 58,
	                 WHOLE, 0, &r);
	is_int(res.feed, MP_ERR_SYNTAX, "NUL byte in a header: syntax error");
	is_str(res.error, "control character in part header", "NUL byte in a header: sentence");
	rec_clear(&r);

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\r\n"
	                 "Content-Type: text/plain; charset=\"utf-8\"\r\n\r\nx\r\n--b--", &r);
	is_str(r.part[0].content_type, "text/plain; charset=\"utf-8\"", "Content-Type parameters kept as sent");
	rec_clear(&r);
}

static void test_empty_parts(void)
{
	struct rec r;
	struct result res;

	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
	                 "--b\r\nContent-Disposition: form-data; name=b; filename=empty.txt\r\n"
	                 "Content-Type: text/plain\r\n\r\n\r\n--b--\r\n", &r);
	ok(res.finish == MP_OK, "empty part bodies: parsed (%s)", res.error);
	is_int(r.nparts, 2, "empty part bodies: two parts");
	ok(r.part[0].ended && r.part[1].ended, "empty part bodies: both ended");
	is_int(r.part[0].len + r.part[1].len, 0, "empty part bodies: no data");
	is_int(r.data_calls, 0, "empty part bodies: part_data never called");
	rec_clear(&r);

	/* A body of only CRLF is data, not a delimiter's CRLF. */
	res = parse("b", "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n\r\n--b--", &r);
	ok(res.finish == MP_OK && data_is(&r.part[0], "\r\n", 2), "a part of just CRLF");
	rec_clear(&r);
}

static void test_callbacks(void)
{
	struct rec r;
	struct mp_parser *p;
	enum mp_status st;

	for (int which = 0; which < 3; which++) {
		static const char *const what[] = { "part_begin", "part_data", "part_end" };
		rec_init(&r);
		if (which == 0)
			r.stop_begin = 2;
		else if (which == 1)
			r.stop_data_after = 5;
		else
			r.stop_end = 1;
		p = mp_parser_new(CURL_BOUNDARY, &rec_callbacks, &r);
		st = mp_feed(p, curl_body, CURL_BODY_LEN);
		is_int(st, MP_ERR_CALLBACK, "%s returning non-zero: MP_ERR_CALLBACK", what[which]);
		ok(mp_error(p)[0] != '\0', "%s stop: an error sentence (%s)", what[which], mp_error(p));
		is_int(mp_feed(p, "x", 1), MP_ERR_CALLBACK, "%s stop: later mp_feed gives it again", what[which]);
		is_int(mp_finish(p), MP_ERR_CALLBACK, "%s stop: mp_finish gives it again", what[which]);
		mp_parser_free(p);
		if (which == 1)
			is_int(r.data_total, TARBALL_LEN, "part_data stop: no more data after it");
		rec_clear(&r);
	}

	/* Sticky syntax error. */
	rec_init(&r);
	p = mp_parser_new("b", &rec_callbacks, &r);
	is_str(mp_error(p), "", "fresh parser: empty error sentence");
	is_int(mp_feed(p, "--b\r\nBad header\r\n", 18), MP_ERR_SYNTAX, "syntax error");
	is_int(mp_feed(p, "\r\n--b--", 7), MP_ERR_SYNTAX, "after a syntax error mp_feed repeats it");
	is_int(mp_finish(p), MP_ERR_SYNTAX, "after a syntax error mp_finish repeats it");
	is_str(mp_error(p), "malformed part header line", "the sentence stays");
	mp_parser_free(p);
	rec_clear(&r);

	/* No callbacks at all is allowed. */
	p = mp_parser_new(CURL_BOUNDARY, NULL, NULL);
	ok(p != NULL && mp_feed(p, curl_body, CURL_BODY_LEN) == MP_OK && mp_finish(p) == MP_OK,
	   "NULL callbacks: body parsed");
	mp_parser_free(p);
}

static void test_parser_new(void)
{
	struct mp_parser *p;
	char b71[72];

	memset(b71, 'a', 71);
	b71[71] = '\0';
	ok(mp_parser_new("", NULL, NULL) == NULL, "mp_parser_new: empty boundary refused");
	ok(mp_parser_new(b71, NULL, NULL) == NULL, "mp_parser_new: 71-char boundary refused");
	ok(mp_parser_new("a\rb", NULL, NULL) == NULL, "mp_parser_new: CR in boundary refused");
	ok(mp_parser_new("ab ", NULL, NULL) == NULL, "mp_parser_new: trailing space refused");
	ok(mp_parser_new("a\"b", NULL, NULL) == NULL, "mp_parser_new: quote in boundary refused");
	b71[70] = '\0';
	p = mp_parser_new(b71, NULL, NULL);
	ok(p != NULL, "mp_parser_new: 70-char boundary accepted");
	mp_parser_free(p);
	p = mp_parser_new("'()+_,-./:=? x", NULL, NULL);
	ok(p != NULL, "mp_parser_new: every bchar accepted");
	mp_parser_free(p);
	mp_parser_free(NULL);
	ok(1, "mp_parser_free(NULL) is harmless");
}

static void test_boundary_from_content_type(void)
{
	static const struct {
		const char *ct, *want;
	} cases[] = {
		{ "multipart/form-data; boundary=------------------------59c91d812f9ee8a9",
		  "------------------------59c91d812f9ee8a9" },
		{ "multipart/form-data; boundary=----abc", "----abc" },
		{ "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
		  "----WebKitFormBoundary7MA4YWxkTrZu0gW" },
		{ "Multipart/Form-Data; BOUNDARY=xyz", "xyz" },
		{ "multipart/form-data;boundary=\"quoted boundary:1\"", "quoted boundary:1" },
		{ "multipart/form-data; charset=utf-8; boundary=abc", "abc" },
		{ "multipart/form-data; boundary=abc; charset=utf-8", "abc" },
		{ "  multipart/form-data ;  boundary = \"a\\bc\" ; charset=\"x;y\" ", "abc" },
		{ "multipart/form-data; boundary=abc;", "abc" },
		{ NULL, NULL }, /* the rejected ones follow */
		{ "multipart/form-data", NULL },
		{ "multipart/form-data; charset=utf-8", NULL },
		{ "multipart/form-data; boundary=", NULL },
		{ "multipart/form-data; boundary=\"\"", NULL },
		{ "multipart/form-data; boundary=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL },
		{ "multipart/mixed; boundary=abc", NULL },
		{ "application/json; boundary=abc", NULL },
		{ "multipart/form-data-x; boundary=abc", NULL },
		{ "text/plain", NULL },
		{ "", NULL },
		{ "multipart/form-data; boundary=\"abc", NULL },
		{ "multipart/form-data; boundary=\"abc \"", NULL },
		{ "multipart/form-data; boundary=a<b", NULL },
		{ "multipart/form-data; boundary=abc; boundary=def", NULL },
		{ "multipart/form-data; boundary", NULL },
		{ "multipart/form-data boundary=abc", NULL },
	};
	char out[MP_BOUNDARY_MAX + 1];
	bool rejecting = false;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].ct == NULL) {
			rejecting = true;
			continue;
		}
		strcpy(out, "unchanged");
		if (!rejecting) {
			int rc = mp_boundary_from_content_type(cases[i].ct, out, sizeof(out));
			ok(rc == 0 && strcmp(out, cases[i].want) == 0, "boundary from '%s'", cases[i].ct);
			if (rc != 0 || strcmp(out, cases[i].want) != 0)
				printf("#   got %d '%s', want '%s'\n", rc, out, cases[i].want);
		} else {
			is_int(mp_boundary_from_content_type(cases[i].ct, out, sizeof(out)), -1,
			       "rejected: '%s'", cases[i].ct);
		}
	}
	is_int(mp_boundary_from_content_type("multipart/form-data; boundary=abcd", out, 4), -1,
	       "rejected: output buffer too small");
}

/* A 1 MB random upload in random chunks: exact data, calls bounded by chunks. */
static void test_large(void)
{
	size_t size = 1 << 20, chunks = 0, off = 0, n;
	const char *head = "--" CURL_BOUNDARY "\r\nContent-Disposition: form-data; name=\"files\"; "
	                   "filename=\"big.tar\"\r\n\r\n";
	const char *tail = "\r\n--" CURL_BOUNDARY "--\r\n";
	char *data = malloc(size);
	struct mp_parser *p;
	struct rec r;
	bool fine = true;

	if (data == NULL)
		abort();
	rng_state = 42;
	for (size_t i = 0; i < size; i++)
		data[i] = (char)(i % 97 == 0 ? '\r' : i % 89 == 0 ? '\n' : i % 83 == 0 ? '-' : rng_next());
	rec_init(&r);
	p = mp_parser_new(CURL_BOUNDARY, &rec_callbacks, &r);
	fine = mp_feed(p, head, strlen(head)) == MP_OK;
	while (off < size && fine) {
		n = 1 + rng_next() % 65536;
		if (n > size - off)
			n = size - off;
		fine = mp_feed(p, data + off, n) == MP_OK;
		off += n;
		chunks++;
	}
	fine = fine && mp_feed(p, tail, strlen(tail)) == MP_OK && mp_finish(p) == MP_OK;
	ok(fine, "1 MB upload in random chunks: parsed");
	ok(data_is(&r.part[0], data, size), "1 MB upload: data exact");
	ok(r.data_calls <= 2 * chunks + 1, "1 MB upload: %zu data calls for %zu chunks", r.data_calls, chunks);
	mp_parser_free(p);
	rec_clear(&r);
	free(data);
}

int main(void)
{
	test_curl_body();
	test_holdback();
	test_near_delimiters();
	test_preamble_epilogue();
	test_missing_close();
	test_limits();
	test_headers();
	test_empty_parts();
	test_callbacks();
	test_parser_new();
	test_boundary_from_content_type();
	test_large();
	return done_testing();
}
