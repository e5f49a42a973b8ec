/*
 * The outputs stream parser (runner/outputs_parse.h). Untrusted input read
 * by root: every length is checked against what is left before it is
 * used, the record count is bounded, and nothing here has a side effect
 * besides the entries array.
 */
#include "outputs_parse.h"
#include "path.h"
#include "sandbox.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* What GET /download/{id}/{path} can name: valid UTF-8 without NUL, and a
 * normalized relative path (no "", "/", "//", ".", "..", control bytes). */
static int outputs_name_good(const char *path, size_t len, bool *good)
{
	char norm[OUTPUTS_PATH_MAX];
	size_t utf_len;
	char *utf = utf8_sanitize(path, len, &utf_len);

	if (!utf)
		return -1;
	*good = utf_len == len && memcmp(utf, path, len) == 0
		&& path_normalize_relative(path, len, norm, sizeof norm) == 0
		&& strlen(norm) == len && memcmp(norm, path, len) == 0;
	free(utf);
	return 0;
}

/* Appends e to p->entries, growing it (bounded by max_entries). 0 or -1. */
static int outputs_parsed_add(struct outputs_parsed *p, size_t *cap, size_t max_entries,
			      const struct outputs_entry *e)
{
	if (p->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct outputs_entry *grown;

		if (ncap > max_entries)
			ncap = max_entries;
		if (ncap <= p->n)
			return -1;  /* the caller checks max_entries first: never here */
		grown = realloc(p->entries, ncap * sizeof *grown);
		if (!grown)
			return -1;
		p->entries = grown;
		*cap = ncap;
	}
	p->entries[p->n++] = *e;
	return 0;
}

int outputs_parse(const char *data, size_t len, size_t max_entries, struct outputs_parsed *out)
{
	size_t off = 0, cap = 0;

	memset(out, 0, sizeof *out);
	/* a stream of zero-length records is len / 16 entries: max_entries
	 * bounds the array whatever init sent */
	if (max_entries > SIZE_MAX / sizeof(struct outputs_entry))
		max_entries = SIZE_MAX / sizeof(struct outputs_entry);
	for (;;) {
		struct sandbox_out_header h;
		struct outputs_entry e = { 0 };

		if (len - off < sizeof h) {
			out->incomplete = true;
			break;
		}
		memcpy(&h, data + off, sizeof h);
		off += sizeof h;
		if (h.path_len > len - off || h.path_len >= OUTPUTS_PATH_MAX) {
			out->incomplete = true;
			break;
		}
		e.kind = h.kind;
		e.path = data + off;
		e.path_len = h.path_len;
		e.size = h.size;
		off += h.path_len;
		if (h.kind == SANDBOX_OUT_END)
			break;
		if (h.kind == SANDBOX_OUT_FILE && h.size > len - off) {
			out->incomplete = true;
			break;
		}
		if (out->n >= max_entries) {
			out->too_many = true;
			break;
		}
		switch (h.kind) {
		case SANDBOX_OUT_FILE: {
			bool good;

			e.content = data + off;
			off += (size_t)h.size;
			if (outputs_name_good(e.path, e.path_len, &good) < 0)
				goto fail;
			e.bad_name = !good;
			break;
		}
		case SANDBOX_OUT_TOO_LARGE:
			out->over_limit = true;
			break;
		case SANDBOX_OUT_TOO_MANY:
			out->too_many = true;
			break;
		default:
			break;
		}
		if (outputs_parsed_add(out, &cap, max_entries, &e) < 0)
			goto fail;
	}
	return 0;

fail:
	outputs_parsed_free(out);
	return -1;
}

void outputs_parsed_free(struct outputs_parsed *p)
{
	free(p->entries);
	memset(p, 0, sizeof *p);
}
