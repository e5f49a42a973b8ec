/*
 * libFuzzer target for pseudo_tar_parse() (common/pseudo_tar.c), the
 * original Sandrun's single-file upload form. Every file it yields must lie
 * inside the input (ASan: the input is a heap block of its exact size),
 * have a non-empty path without NUL or CR of at most PSEUDO_TAR_PATH_MAX
 * bytes, and the files must come in order without overlapping; never more
 * than max_files of them (taken from the first byte).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pseudo_tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const char *start, *end, *last;
	size_t count, max;
};

static int each(void *ctx, const struct pseudo_tar_file *f)
{
	struct seen *s = ctx;

	if (++s->count > s->max)
		abort();
	if (f->path < s->start || f->path + f->path_len > s->end || f->data < s->start || f->data + f->len > s->end)
		abort();
	if (f->path_len == 0 || f->path_len > PSEUDO_TAR_PATH_MAX || memchr(f->path, '\0', f->path_len) ||
	    memchr(f->path, '\r', f->path_len))
		abort();
	if (f->path < s->last || f->data < f->path + f->path_len)
		abort();
	s->last = f->data + f->len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, reason[256];
	struct seen s;
	int rc;

	if (size < 1)
		return 0;
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	s = (struct seen){ copy, copy + size - 1, copy, 0, data[0] % 8 };
	rc = pseudo_tar_parse(copy, size - 1, s.max, each, &s, reason, sizeof reason);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1 && (!reason[0] || !memchr(reason, '\0', sizeof reason)))
		abort();
	if (rc == 0 && pseudo_tar_detect(copy, size - 1) && s.count == 0)
		abort();
	free(copy);
	return 0;
}
