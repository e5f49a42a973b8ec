/*
 * libFuzzer target: outputs_parse() (runner/outputs_parse.c), which root
 * runs over the outputs stream the job's init wrote. The input is the
 * stream. Checked: every entry lies inside the input, in order and without
 * overlap; only a file has content, and exactly size bytes of it; a file
 * not marked bad_name has a clean path (valid UTF-8, normalized, no NUL);
 * the flags match the records; a smaller max_entries gives a prefix of the
 * same entries; and the entries written back as a stream parse the same.
 * The input is copied into a heap block of its exact size, so ASan catches
 * a read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outputs_parse.h"
#include "path.h"
#include "sandbox.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounds small enough for the fuzzer to reach them. */
#define FUZZ_MAX_ENTRIES 64

static int same_entry(const struct outputs_entry *a, const struct outputs_entry *b)
{
	return a->kind == b->kind && a->path_len == b->path_len && memcmp(a->path, b->path, a->path_len) == 0
		&& a->size == b->size && a->bad_name == b->bad_name && !a->content == !b->content
		&& (!a->content || memcmp(a->content, b->content, (size_t)a->size) == 0);
}

static void check_entries(const char *in, size_t size, const struct outputs_parsed *p, size_t max)
{
	const char *end = in + size, *next = in;
	bool saw_large = false, saw_many = false;

	if (p->n > max)
		abort();
	for (size_t i = 0; i < p->n; i++) {
		const struct outputs_entry *e = &p->entries[i];

		if (e->kind == SANDBOX_OUT_END || e->path_len >= OUTPUTS_PATH_MAX)
			abort();
		/* its header, then its path, after the previous record */
		if (e->path < next + sizeof(struct sandbox_out_header) || e->path > end ||
		    e->path_len > (size_t)(end - e->path))
			abort();
		next = e->path + e->path_len;
		if (e->kind == SANDBOX_OUT_FILE) {
			if (e->content != next || e->size > (uint64_t)(end - next))
				abort();
			next += e->size;
			if (!e->bad_name) {
				char norm[OUTPUTS_PATH_MAX];
				size_t ulen;
				char *u = utf8_sanitize(e->path, e->path_len, &ulen);

				if (e->path_len == 0 || memchr(e->path, '\0', e->path_len) ||
				    ulen != e->path_len || memcmp(u, e->path, ulen) != 0 ||
				    path_normalize_relative(e->path, e->path_len, norm, sizeof norm) != 0 ||
				    strlen(norm) != e->path_len || memcmp(norm, e->path, e->path_len) != 0)
					abort();
				free(u);
			}
		} else if (e->content || e->bad_name) {
			abort();
		}
		saw_large |= e->kind == SANDBOX_OUT_TOO_LARGE;
		saw_many |= e->kind == SANDBOX_OUT_TOO_MANY;
	}
	if (p->over_limit != saw_large)
		abort();
	/* too_many without a record: only when max_entries cut the stream */
	if (p->too_many && !saw_many && p->n != max)
		abort();
	if (saw_many && !p->too_many)
		abort();
}

/* The entries as a stream again, with an END record. Caller frees. */
static char *reencode(const struct outputs_parsed *p, size_t *len)
{
	size_t n = 0, off = 0;
	char *s;

	for (size_t i = 0; i < p->n; i++)
		n += sizeof(struct sandbox_out_header) + p->entries[i].path_len +
		     (p->entries[i].content ? (size_t)p->entries[i].size : 0);
	n += sizeof(struct sandbox_out_header);
	s = malloc(n);
	if (!s)
		abort();
	for (size_t i = 0; i < p->n; i++) {
		const struct outputs_entry *e = &p->entries[i];
		struct sandbox_out_header h = { .kind = e->kind, .path_len = (uint32_t)e->path_len, .size = e->size };

		memcpy(s + off, &h, sizeof h);
		off += sizeof h;
		memcpy(s + off, e->path, e->path_len);
		off += e->path_len;
		if (e->content) {
			memcpy(s + off, e->content, (size_t)e->size);
			off += (size_t)e->size;
		}
	}
	{
		struct sandbox_out_header h = { .kind = SANDBOX_OUT_END };

		memcpy(s + off, &h, sizeof h);
	}
	*len = n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1), *again;
	struct outputs_parsed p, small, round;
	size_t max_small, again_len;

	if (!in)
		abort();
	memcpy(in, data, size);
	if (outputs_parse(in, size, FUZZ_MAX_ENTRIES, &p) != 0)
		abort();
	check_entries(in, size, &p, FUZZ_MAX_ENTRIES);

	/* fewer entries allowed: the same first ones */
	max_small = size ? data[size - 1] % 8 : 0;
	if (outputs_parse(in, size, max_small, &small) != 0)
		abort();
	check_entries(in, size, &small, max_small);
	if (small.n > p.n)
		abort();
	for (size_t i = 0; i < small.n; i++)
		if (!same_entry(&small.entries[i], &p.entries[i]))
			abort();
	if (p.n > max_small && (small.n != max_small || !small.too_many))
		abort();

	/* written back whole, it parses to the same entries, complete */
	again = reencode(&p, &again_len);
	if (outputs_parse(again, again_len, FUZZ_MAX_ENTRIES, &round) != 0)
		abort();
	if (round.n != p.n || round.incomplete || round.over_limit != p.over_limit)
		abort();
	for (size_t i = 0; i < p.n; i++)
		if (!same_entry(&round.entries[i], &p.entries[i]))
			abort();

	outputs_parsed_free(&round);
	outputs_parsed_free(&small);
	outputs_parsed_free(&p);
	free(again);
	free(in);
	return 0;
}
