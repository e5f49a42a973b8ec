/*
 * Upload checks at submit time (libarchive, in memory). The responder
 * never writes an upload to disk and never unpacks it: it only reads the
 * entry headers and counts the bytes each entry really decompresses to.
 * It reads the archive as the sandbox does (common/upload_reader.h) and
 * each entry must pass upload_entry_check() (common/upload_entry.h), the
 * rules the sandbox applies again as it unpacks (runner/unpack.c).
 */
#include "config.h"
#include "path.h"
#include "upload.h"
#include "upload_entry.h"
#include "upload_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Is `norm` (an entry's normalized name) inside the directory `dir`? An
 * archive need not list a directory to hold one: "src/main.py" makes "src". */
static int entry_is_below(const char *norm, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(norm, dir, n) == 0 && norm[n] == '/';
}

/*
 * A file the manifest names (entrypoint, requirements) must be a regular
 * file of the archive: `type` is the type of its entry (0: no entry by
 * that name), `is_dir` whether other entries lie below it. Returns 0, or
 * 400 with `field` and `reason` naming the manifest field to fix.
 */
static int upload_named_file(const char *field_name, const char *what, const char *path, mode_t type,
			     int is_dir, char *field, size_t fieldlen, char *reason, size_t reasonlen)
{
	if (type == AE_IFREG)
		return 0;
	snprintf(field, fieldlen, "%s", field_name);
	if (type == AE_IFDIR || (type == 0 && is_dir))
		snprintf(reason, reasonlen, "%s '%.200s' is a directory in the archive; name a file",
			 what, path);
	else if (type == 0)
		snprintf(reason, reasonlen, "%s '%.200s' is not in the archive", what, path);
	else
		snprintf(reason, reasonlen, "%s '%.200s' is not a regular file in the archive (a %s)",
			 what, path, type == AE_IFLNK ? "link" : "special file");
	return 400;
}

int upload_inspect(const void *data, size_t len, const struct sandrun_limits *limits,
		   const struct manifest *m, char *field, size_t fieldlen, char *reason, size_t reasonlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	int64_t files = 0, total = 0;
	mode_t entry_type = 0, req_type = 0, type;   /* 0: no entry by that name (yet) */
	int entry_dir = 0, req_dir = 0, rc = 400, r;
	struct upload_entry_clean clean;               /* the rules: common/upload_entry.h */
	char shown[UPLOAD_ENTRY_SHOWN_SIZE], block[65536];

	snprintf(field, fieldlen, "files");     /* a fault of the archive itself, unless said below */

	upload_reader_support(a);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		snprintf(reason, reasonlen, "files is not an archive sandrun can read (tar, tar.gz, "
			 "tar.bz2, tar.xz, tar.zst or zip): %s", archive_error_string(a));
		goto done;
	}
	while ((r = upload_reader_next(a, &entry)) == 1) {
		struct upload_entry e;
		enum upload_entry_verdict verdict;
		ssize_t n;

		upload_reader_describe(entry, &e);
		verdict = upload_entry_check(&e, &clean, reason, reasonlen);
		if (verdict == UPLOAD_ENTRY_REFUSED)
			goto done;
		if (verdict == UPLOAD_ENTRY_ROOT)
			continue;       /* "./": the working directory itself */
		if (++files > limits->files_max) {
			snprintf(reason, reasonlen, "the archive has more than %lld entries",
				 (long long)limits->files_max);
			rc = 413;
			goto done;
		}
		/* Every entry's data counts, as the sandbox counts what it
		 * writes: a hard link may carry data too. */
		while ((n = archive_read_data(a, block, sizeof block)) > 0) {
			total += n;
			if (total > limits->unpacked_max_bytes) {
				snprintf(reason, reasonlen, "the archive unpacks to more than %lld bytes",
					 (long long)limits->unpacked_max_bytes);
				rc = 413;
				goto done;
			}
		}
		if (n < 0) {
			snprintf(reason, reasonlen, "archive entry \"%s\" is corrupt: %s",
				 upload_entry_shown_name(clean.name, shown, sizeof shown),
				 archive_error_string(a));
			goto done;
		}
		/* A later entry of the same name replaces the earlier one when
		 * unpacked: the last one counts. A hard link is a regular file. */
		type = clean.regular ? AE_IFREG : e.type;
		if (strcmp(clean.name, m->entrypoint) == 0)
			entry_type = type;
		entry_dir |= entry_is_below(clean.name, m->entrypoint);
		if (m->requirements && strcmp(clean.name, m->requirements) == 0)
			req_type = type;
		req_dir |= m->requirements && entry_is_below(clean.name, m->requirements);
	}
	if (r != 0) {
		snprintf(reason, reasonlen, "files is not a readable archive: %s", archive_error_string(a));
		goto done;
	}
	if (upload_named_file("entrypoint", "entrypoint", m->entrypoint, entry_type, entry_dir,
			      field, fieldlen, reason, reasonlen) != 0)
		goto done;
	if (m->requirements && upload_named_file("requirements", "requirements file", m->requirements,
						 req_type, req_dir, field, fieldlen, reason,
						 reasonlen) != 0)
		goto done;
	rc = 0;
done:
	archive_read_free(a);
	return rc;
}

static int archive_buf_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	(void)a;
	buf_append(ctx, data, len);
	return (int)len;
}

static ssize_t archive_buf_write_cb(struct archive *a, void *ctx, const void *data, size_t len)
{
	return archive_buf_write(a, ctx, data, len);
}

int upload_from_json_files(const json_t *files, const struct sandrun_limits *limits,
			   struct buf *out, char *field, size_t fieldlen,
			   char *reason, size_t reasonlen)
{
	struct archive *a = NULL;
	struct archive_entry *entry = archive_entry_new();
	const char *name;
	json_t *content;
	int64_t total = 0;
	int rc = 400;
	/* the names upload_inspect() accepts afterwards (common/upload_entry.h) */
	char norm[PATH_MAX], shown[UPLOAD_ENTRY_SHOWN_SIZE];

	snprintf(field, fieldlen, "files");
	if (!json_is_object(files)) {
		snprintf(reason, reasonlen, "files must be an object mapping paths to file contents");
		goto done;
	}
	if ((int64_t)json_object_size(files) > limits->files_max) {
		snprintf(reason, reasonlen, "files has more than %lld entries", (long long)limits->files_max);
		rc = 413;
		goto done;
	}
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, out, NULL, archive_buf_write_cb, NULL) != ARCHIVE_OK) {
		snprintf(reason, reasonlen, "cannot build the archive: %s", archive_error_string(a));
		rc = 500;
		goto done;
	}
	json_object_foreach((json_t *)files, name, content) {
		size_t clen;

		if (path_normalize_relative(name, strlen(name), norm, sizeof norm) < 0) {
			snprintf(reason, reasonlen, "file name '%s' is not a safe relative path",
				 upload_entry_shown_name(name, shown, sizeof shown));
			goto done;
		}
		if (!json_is_string(content)) {
			snprintf(field, fieldlen, "files.%.200s", norm);
			snprintf(reason, reasonlen, "the content of '%.200s' must be a string", norm);
			goto done;
		}
		clen = json_string_length(content);
		total += (int64_t)clen;
		if (total > limits->unpacked_max_bytes || total > limits->upload_max_bytes) {
			snprintf(reason, reasonlen, "files hold more than the upload limit");
			rc = 413;
			goto done;
		}
		archive_entry_clear(entry);
		archive_entry_set_pathname(entry, norm);
		archive_entry_set_filetype(entry, AE_IFREG);
		archive_entry_set_perm(entry, 0644);
		archive_entry_set_size(entry, (la_int64_t)clen);
		if (archive_write_header(a, entry) != ARCHIVE_OK ||
		    (clen && archive_write_data(a, json_string_value(content), clen) != (ssize_t)clen)) {
			snprintf(reason, reasonlen, "cannot add '%.200s' to the archive: %s", norm,
				 archive_error_string(a));
			goto done;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		snprintf(reason, reasonlen, "cannot finish the archive: %s", archive_error_string(a));
		rc = 500;
		goto done;
	}
	rc = 0;
done:
	if (a)
		archive_write_free(a);
	archive_entry_free(entry);
	return rc;
}
