/*
 * See pseudo_tar.h. Every read is bounded by `len`: lines are found with
 * memchr inside what is left, sizes are parsed digit by digit with an
 * overflow check against what is left.
 */
#include "pseudo_tar.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAGIC_ONE "----Tar\nPath: "
#define MAGIC_MANY "----TarBoundary"

bool pseudo_tar_detect(const char *data, size_t len)
{
	return (len >= sizeof MAGIC_ONE - 1 && memcmp(data, MAGIC_ONE, sizeof MAGIC_ONE - 1) == 0) ||
	       (len >= sizeof MAGIC_MANY - 1 && memcmp(data, MAGIC_MANY, sizeof MAGIC_MANY - 1) == 0);
}

/* The line at *p (without its "\n"); advances past it. -1 when no "\n" is left. */
static int take_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (!nl)
		return -1;
	*line = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

/* "Path: p\nSize: N\n\n": the header of one record. */
static int take_header(const char **p, const char *end, struct pseudo_tar_file *f, size_t *size,
		       char *reason, size_t reasonlen)
{
	const char *line;
	size_t n, v = 0;

	if (take_line(p, end, &line, &n) < 0 || n < 6 || memcmp(line, "Path: ", 6) != 0) {
		snprintf(reason, reasonlen, "pseudo-archive: a \"Path: \" line was expected");
		return -1;
	}
	f->path = line + 6;
	f->path_len = n - 6;
	if (f->path_len == 0 || f->path_len > PSEUDO_TAR_PATH_MAX || memchr(f->path, '\0', f->path_len) ||
	    memchr(f->path, '\r', f->path_len)) {
		snprintf(reason, reasonlen, "pseudo-archive: a Path is empty, too long or holds NUL or CR");
		return -1;
	}
	if (take_line(p, end, &line, &n) < 0 || n < 7 || n > 6 + 20 || memcmp(line, "Size: ", 6) != 0) {
		snprintf(reason, reasonlen, "pseudo-archive: a \"Size: N\" line was expected after Path");
		return -1;
	}
	for (size_t i = 6; i < n; i++) {
		if (line[i] < '0' || line[i] > '9' || v > (SIZE_MAX - 9) / 10) {
			snprintf(reason, reasonlen, "pseudo-archive: Size is not a number");
			return -1;
		}
		v = v * 10 + (size_t)(line[i] - '0');
	}
	*size = v;
	if (*p >= end || **p != '\n') {
		snprintf(reason, reasonlen, "pseudo-archive: an empty line was expected after Size");
		return -1;
	}
	(*p)++;
	return 0;
}

int pseudo_tar_parse(const char *data, size_t len, size_t max_files,
		     int (*cb)(void *ctx, const struct pseudo_tar_file *f), void *ctx,
		     char *reason, size_t reasonlen)
{
	const char *p = data, *end = data + len, *boundary;
	size_t blen, size, count = 0;
	struct pseudo_tar_file f;
	int rc;

	if (!pseudo_tar_detect(data, len)) {
		snprintf(reason, reasonlen, "not a pseudo-archive");
		return -1;
	}
	if (take_line(&p, end, &boundary, &blen) < 0) {
		snprintf(reason, reasonlen, "pseudo-archive: no line after the first");
		return -1;
	}
	if (blen == 7) {                /* "----Tar": one file, the rest is its content */
		if (max_files < 1) {
			snprintf(reason, reasonlen, "pseudo-archive: more files than allowed");
			return -1;
		}
		if (take_header(&p, end, &f, &size, reason, reasonlen) < 0)
			return -1;
		f.data = p;
		f.len = (size_t)(end - p);
		return cb(ctx, &f);
	}
	for (size_t i = sizeof MAGIC_MANY - 1; i < blen; i++)
		if (boundary[i] < '0' || boundary[i] > '9') {
			snprintf(reason, reasonlen, "pseudo-archive: the boundary line is not ----TarBoundary<digits>");
			return -1;
		}
	for (;;) {
		if (++count > max_files) {
			snprintf(reason, reasonlen, "pseudo-archive: more than %zu files", max_files);
			return -1;
		}
		if (take_header(&p, end, &f, &size, reason, reasonlen) < 0)
			return -1;
		if (size > (size_t)(end - p) || (size_t)(end - p) - size < 1 || p[size] != '\n') {
			snprintf(reason, reasonlen, "pseudo-archive: '%.*s' is shorter than its Size, or no newline "
				 "follows it", (int)(f.path_len > 100 ? 100 : f.path_len), f.path);
			return -1;
		}
		f.data = p;
		f.len = size;
		if ((rc = cb(ctx, &f)) != 0)
			return rc;
		p += size + 1;
		if (p == end)
			return 0;
		if ((size_t)(end - p) < blen + 1 || memcmp(p, boundary, blen) != 0 || p[blen] != '\n') {
			snprintf(reason, reasonlen, "pseudo-archive: the boundary line was expected after a file");
			return -1;
		}
		p += blen + 1;
	}
}
