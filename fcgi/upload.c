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
#include <stdlib.h>
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

struct upload_tar {
	struct archive *a;
	struct archive_entry *entry;
	const struct sandrun_limits *limits;
	int64_t total, count;
};

struct upload_tar *upload_tar_new(struct buf *out, const struct sandrun_limits *limits)
{
	struct upload_tar *t = xmalloc(sizeof *t);

	memset(t, 0, sizeof *t);

	t->limits = limits;
	t->entry = archive_entry_new();
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open(t->a, out, NULL, archive_buf_write_cb, NULL) != ARCHIVE_OK) {
		upload_tar_free(t);
		return NULL;
	}
	return t;
}

int upload_tar_add(struct upload_tar *t, const char *name, size_t name_len, const void *data, size_t len,
		   char *field, size_t fieldlen, char *reason, size_t reasonlen)
{
	/* the names upload_inspect() accepts afterwards (common/upload_entry.h) */
	char norm[PATH_MAX], shown[UPLOAD_ENTRY_SHOWN_SIZE], raw[PATH_MAX];

	snprintf(field, fieldlen, "files");
	if (++t->count > t->limits->files_max) {
		snprintf(reason, reasonlen, "files has more than %lld entries", (long long)t->limits->files_max);
		return 413;
	}
	if (name_len >= sizeof raw || memchr(name, '\0', name_len) ||
	    path_normalize_relative(name, name_len, norm, sizeof norm) < 0) {
		snprintf(raw, sizeof raw, "%.*s", (int)(name_len < sizeof raw ? name_len : sizeof raw - 1), name);
		snprintf(reason, reasonlen, "file name '%s' is not a safe relative path",
			 upload_entry_shown_name(raw, shown, sizeof shown));
		return 400;
	}
	t->total += (int64_t)len;
	if (t->total > t->limits->unpacked_max_bytes || t->total > t->limits->upload_max_bytes) {
		snprintf(reason, reasonlen, "files hold more than the upload limit");
		return 413;
	}
	archive_entry_clear(t->entry);
	archive_entry_set_pathname(t->entry, norm);
	archive_entry_set_filetype(t->entry, AE_IFREG);
	archive_entry_set_perm(t->entry, 0644);
	archive_entry_set_size(t->entry, (la_int64_t)len);
	if (archive_write_header(t->a, t->entry) != ARCHIVE_OK ||
	    (len && archive_write_data(t->a, data, len) != (ssize_t)len)) {
		snprintf(reason, reasonlen, "cannot add '%.200s' to the archive: %s", norm, archive_error_string(t->a));
		return 400;
	}
	return 0;
}

int upload_tar_finish(struct upload_tar *t, char *reason, size_t reasonlen)
{
	int rc = 0;

	if (archive_write_close(t->a) != ARCHIVE_OK) {
		snprintf(reason, reasonlen, "cannot finish the archive: %s", archive_error_string(t->a));
		rc = 500;
	}
	upload_tar_free(t);
	return rc;
}

void upload_tar_free(struct upload_tar *t)
{
	if (!t)
		return;
	archive_write_free(t->a);
	archive_entry_free(t->entry);
	free(t);
}

bool upload_looks_like_archive(const void *data, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool yes;

	upload_reader_support(a);
	yes = archive_read_open_memory(a, data, len) == ARCHIVE_OK && upload_reader_next(a, &e) == 1;
	archive_read_free(a);
	return yes;
}

int upload_from_json_files(const json_t *files, const struct sandrun_limits *limits,
			   struct buf *out, char *field, size_t fieldlen,
			   char *reason, size_t reasonlen)
{
	struct upload_tar *t;
	const char *name;
	json_t *content;
	int rc;

	snprintf(field, fieldlen, "files");
	if (!json_is_object(files)) {
		snprintf(reason, reasonlen, "files must be an object mapping paths to file contents");
		return 400;
	}
	if ((int64_t)json_object_size(files) > limits->files_max) {
		snprintf(reason, reasonlen, "files has more than %lld entries", (long long)limits->files_max);
		return 413;
	}
	if (!(t = upload_tar_new(out, limits))) {
		snprintf(reason, reasonlen, "cannot build the archive");
		return 500;
	}
	json_object_foreach((json_t *)files, name, content) {
		char norm[PATH_MAX];

		if (json_is_string(content) || path_normalize_relative(name, strlen(name), norm, sizeof norm) < 0) {
			rc = upload_tar_add(t, name, strlen(name), json_is_string(content) ? json_string_value(content) : "",
					    json_is_string(content) ? json_string_length(content) : 0,
					    field, fieldlen, reason, reasonlen);
			if (rc) {
				upload_tar_free(t);
				return rc;
			}
			continue;
		}
		snprintf(field, fieldlen, "files.%.200s", norm);
		snprintf(reason, reasonlen, "the content of '%.200s' must be a string", norm);
		upload_tar_free(t);
		return 400;
	}
	return upload_tar_finish(t, reason, reasonlen);
}

/* The entrypoints a manifest-less upload may rely on, at the top of the upload. */
static const char *const obvious_entrypoints[] = { "main.py", "index.js", "run.sh" };

int upload_default_manifest(const void *data, size_t len, const struct sandrun_limits *limits,
			    struct buf *manifest, char *reason, size_t reasonlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	const char *found = NULL;
	int nfound = 0, r, rc = 400, have_job_json = 0;
	unsigned seen = 0;
	int64_t n = 0;

	upload_reader_support(a);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		snprintf(reason, reasonlen, "manifest is missing, and files is not a readable archive: %s",
			 archive_error_string(a));
		goto done;
	}
	while ((r = upload_reader_next(a, &entry)) == 1) {
		struct upload_entry e;
		char norm[PATH_MAX];

		if (++n > limits->files_max)
			break;  /* upload_inspect says so in its own words */
		upload_reader_describe(entry, &e);
		if (e.type != AE_IFREG || path_normalize_relative(e.name, strlen(e.name), norm, sizeof norm) < 0)
			continue;
		if (strcmp(norm, "job.json") == 0) {
			char chunk[8192];
			ssize_t got;

			free(manifest->data);
			memset(manifest, 0, sizeof *manifest);
			while ((got = archive_read_data(a, chunk, sizeof chunk)) > 0) {
				if ((int64_t)(manifest->len + (size_t)got) > limits->manifest_max_bytes) {
					snprintf(reason, reasonlen, "job.json is larger than %lld bytes",
						 (long long)limits->manifest_max_bytes);
					rc = 413;
					goto done;
				}
				buf_append(manifest, chunk, (size_t)got);
			}
			if (got < 0) {
				snprintf(reason, reasonlen, "job.json cannot be read: %s", archive_error_string(a));
				goto done;
			}
			have_job_json = 1;
			continue;
		}
		for (unsigned i = 0; i < sizeof obvious_entrypoints / sizeof obvious_entrypoints[0]; i++)
			if (strcmp(norm, obvious_entrypoints[i]) == 0)
				seen |= 1u << i;
	}
	for (unsigned i = 0; i < sizeof obvious_entrypoints / sizeof obvious_entrypoints[0]; i++)
		if (seen & (1u << i)) {
			nfound++;
			found = obvious_entrypoints[i];
		}
	if (have_job_json) {
		rc = 0;
		goto done;
	}
	if (nfound == 1) {
		char text[64];
		int tlen = snprintf(text, sizeof text, "{\"entrypoint\":\"%s\"}", found);

		buf_append(manifest, text, (size_t)tlen);
		rc = 0;
		goto done;
	}
	snprintf(reason, reasonlen, nfound > 1 ?
		 "manifest is missing and the upload has more than one of main.py, index.js, run.sh: send "
		 "-F manifest='{\"entrypoint\": ...}' or a job.json" :
		 "manifest is missing: send it with -F manifest=..., or put a job.json or one of main.py, "
		 "index.js, run.sh at the top of the upload");
done:
	archive_read_free(a);
	return rc;
}
