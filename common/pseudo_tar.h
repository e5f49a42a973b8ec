/*
 * The original Sandrun's "pseudo-archive": what its web frontend and its
 * MCP server upload as `files` instead of a real archive. Two forms:
 *
 *   one file    "----Tar\nPath: main.py\nSize: N\n\n" then the content, to
 *               the end (the original server read it so; N is not trusted:
 *               the MCP server counts characters, not bytes)
 *   several     records "<B>\nPath: p\nSize: N\n\n" + N bytes + "\n", each
 *               led by the same boundary line B = "----TarBoundary<digits>"
 *               (the web frontend's folder upload)
 *
 * The parser only splits; the names and sizes are then checked as a real
 * archive's entries are (fcgi/upload.c upload_tar_add).
 */
#ifndef SANDRUN_PSEUDO_TAR_H
#define SANDRUN_PSEUDO_TAR_H

#include <stdbool.h>
#include <stddef.h>

#define PSEUDO_TAR_PATH_MAX 4096

struct pseudo_tar_file {
	const char *path;   /* not NUL-terminated */
	size_t path_len;
	const char *data;
	size_t len;
};

/* Does the upload start like a pseudo-archive ("----Tar\nPath:" or "----TarBoundary")? */
bool pseudo_tar_detect(const char *data, size_t len);

/*
 * Splits the upload into its files, calling `cb` for each in order (a
 * non-zero return stops and is returned). At most `max_files` files.
 * Returns 0, the callback's value, or -1 with a sentence in `reason`.
 */
int pseudo_tar_parse(const char *data, size_t len, size_t max_files,
		     int (*cb)(void *ctx, const struct pseudo_tar_file *f), void *ctx,
		     char *reason, size_t reasonlen);

#endif
