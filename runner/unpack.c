/*
 * Unpacking the upload (SECURITY.md, "The sandbox"), called by the sandbox's init after it has
 * become the job's user inside the job's private tmpfs: a bug in a parser
 * here can only hurt the job itself.
 *
 * libarchive reads the upload from memory the way the responder read it
 * (common/upload_reader.h: any filter, any format it knows but mtree -- a
 * tar of any compression and zip are what we promise; a header it can
 * only half read fails the upload) and archive_write_disk writes it into
 * the current directory with its secure flags on. We do not rely on those flags alone: every entry is checked
 * here first, and the first bad one fails the whole upload, because a
 * half-unpacked tree would run the job on files the user did not send.
 *
 *   - every entry follows the rules of common/upload_entry.h, the ones the
 *     responder checked at submit time (fcgi/upload.c): clean relative
 *     names (the archive's own root, "./" from `tar czf x.tgz .`, is
 *     skipped); only regular files, directories, symlinks and hard links;
 *     symlink targets that stay inside the tree, hard link targets that
 *     are clean names. The entry is rewritten to the names checked;
 *   - setuid, setgid and sticky bits are stripped, ownership is never
 *     restored (no ARCHIVE_EXTRACT_OWNER), nor ACLs, xattrs or file flags;
 *   - at most max_files entries, and at most max_bytes of data actually
 *     written: we count the bytes we hand to the writer, never the sizes
 *     the headers claim.
 *
 * Names are UTF-8: libarchive converts them to the locale's charset, and
 * this runs in a fork of the runner, whose main() set LC_CTYPE to C.UTF-8
 * first (locale_use_utf8_names(), common/util.h). It cannot be set here:
 * inside the sandbox no locale file is visible. In the "C" locale a zip's
 * UTF-8 names could not be read at all.
 *
 * Errors are sentences the user can act on; nothing here logs or exits.
 */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "unpack.h"
#include "upload_entry.h"
#include "upload_reader.h"
#include "util.h"

/* archive_write_disk flags. SECURE_* repeat our own checks inside the
 * writer (defence in depth: they refuse "..", absolute names and writing
 * through any symlink met on the way). PERM restores the mode bits we have
 * already cleaned; TIME keeps mtimes, which build tools (make) rely on.
 * Never OWNER, XATTR, ACL, FFLAGS or MAC_METADATA: nothing of the
 * uploader's machine but names, contents, modes and times comes through. */
#define UNPACK_WRITE_FLAGS (ARCHIVE_EXTRACT_SECURE_NODOTDOT \
	| ARCHIVE_EXTRACT_SECURE_SYMLINKS \
	| ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS \
	| ARCHIVE_EXTRACT_PERM \
	| ARCHIVE_EXTRACT_TIME)

/* Read-side block size for archive_read_open_memory: the data is already
 * in memory, so this only sets how much the decompressors see at a time. */
#define UNPACK_READ_BLOCK 65536

/* Checks one entry by the upload's rules (common/upload_entry.h) and
 * rewrites it into its safe form: UPLOAD_ENTRY_OK, UPLOAD_ENTRY_ROOT (skip
 * it) or UPLOAD_ENTRY_REFUSED with err set. */
static enum upload_entry_verdict unpack_clean_entry(struct archive_entry *entry, char *err, size_t errlen)
{
	struct upload_entry e;
	struct upload_entry_clean clean;
	enum upload_entry_verdict verdict;

	upload_reader_describe(entry, &e);
	verdict = upload_entry_check(&e, &clean, err, errlen);
	if (verdict != UPLOAD_ENTRY_OK)
		return verdict;
	/* the writer writes exactly the names that were checked */
	archive_entry_set_pathname(entry, clean.name);
	if (clean.hardlink[0] != '\0')
		archive_entry_set_hardlink(entry, clean.hardlink);
	/* setuid, setgid and sticky bits go; the owner is the job's user */
	archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);
	return UPLOAD_ENTRY_OK;
}

/* Copies one entry's data, adding what it writes to *written (at most max_bytes in all). */
static int unpack_copy_data(struct archive *in, struct archive *out, const char *name,
			    int64_t max_bytes, int64_t *written, char *err, size_t errlen)
{
	char shown[UPLOAD_ENTRY_SHOWN_SIZE];

	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(in, &buf, &size, &offset);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot read the data of archive entry \"%s\": %s",
				     upload_entry_shown_name(name, shown, sizeof shown),
				     archive_error_string(in));
			return -1;
		}
		if ((uint64_t)size > (uint64_t)(max_bytes - *written)) {
			error_format(err, errlen, "the upload unpacks to more than %" PRId64
				     " bytes (the limit), at entry \"%s\"", max_bytes,
				     upload_entry_shown_name(name, shown, sizeof shown));
			return -1;
		}
		*written += (int64_t)size;
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot write archive entry \"%s\": %s",
				     upload_entry_shown_name(name, shown, sizeof shown),
				     archive_error_string(out));
			return -1;
		}
	}
}

struct archive *unpack_reader_new(void)
{
	struct archive *in = archive_read_new();

	if (in == NULL)
		return NULL;
	upload_reader_support(in);      /* the responder's formats: all but mtree */
	return in;
}

int unpack_archive(const void *data, size_t len, int64_t max_bytes, int64_t max_files,
		   char *err, size_t errlen)
{
	return unpack_archive_with(NULL, data, len, max_bytes, max_files, err, errlen);
}

int unpack_archive_with(struct archive *reader, const void *data, size_t len, int64_t max_bytes,
			int64_t max_files, char *err, size_t errlen)
{
	struct archive *in = reader, *out = NULL;
	struct archive_entry *entry;
	int64_t files = 0, written = 0;
	bool first = true;
	char shown[UPLOAD_ENTRY_SHOWN_SIZE];
	enum upload_entry_verdict verdict;
	int r;

	if (max_bytes < 0 || max_files < 0) {
		error_format(err, errlen, "the unpacking limits are negative");
		goto fail;
	}
	if (in == NULL)
		in = unpack_reader_new();
	out = archive_write_disk_new();
	if (in == NULL || out == NULL) {
		error_format(err, errlen, "cannot set up libarchive: out of memory");
		goto fail;
	}
	archive_write_disk_set_options(out, UNPACK_WRITE_FLAGS);
	if (archive_read_open_memory2(in, data, len, UNPACK_READ_BLOCK) != ARCHIVE_OK) {
		error_format(err, errlen, "upload is not an archive libarchive can read: %s",
			     archive_error_string(in));
		goto fail;
	}

	for (;;) {
		r = upload_reader_next(in, &entry);
		if (r == 0)
			break;
		if (r < 0) {
			if (first)
				error_format(err, errlen, "upload is not an archive libarchive can read: %s",
					     archive_error_string(in));
			else
				error_format(err, errlen, "the archive cannot be read after %" PRId64
					     " entries: %s", files, archive_error_string(in));
			goto fail;
		}
		first = false;

		verdict = unpack_clean_entry(entry, err, errlen);
		if (verdict == UPLOAD_ENTRY_REFUSED)
			goto fail;
		if (verdict == UPLOAD_ENTRY_ROOT)
			continue;       /* "./": the working directory itself */
		if (++files > max_files) {
			error_format(err, errlen, "the upload has more than %" PRId64
				     " entries (the limit)", max_files);
			goto fail;
		}
		/* The headers' sizes are not trusted for the budget, but the
		 * writer may extend a file to its declared size (sparse tail):
		 * keep that within the limit too. */
		if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > max_bytes) {
			error_format(err, errlen, "archive entry \"%s\" declares %" PRId64
				     " bytes, more than the %" PRId64 " bytes an upload may unpack to",
				     upload_entry_shown_name(archive_entry_pathname(entry), shown, sizeof shown),
				     (int64_t)archive_entry_size(entry), max_bytes);
			goto fail;
		}
		if (archive_write_header(out, entry) < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot unpack archive entry \"%s\": %s",
				     upload_entry_shown_name(archive_entry_pathname(entry), shown, sizeof shown),
				     archive_error_string(out));
			goto fail;
		}
		if (unpack_copy_data(in, out, archive_entry_pathname(entry), max_bytes,
				     &written, err, errlen) < 0)
			goto fail;
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot finish archive entry \"%s\": %s",
				     upload_entry_shown_name(archive_entry_pathname(entry), shown, sizeof shown),
				     archive_error_string(out));
			goto fail;
		}
	}

	/* applies the deferred directory modes and times */
	if (archive_write_close(out) != ARCHIVE_OK) {
		error_format(err, errlen, "cannot finish unpacking: %s", archive_error_string(out));
		goto fail;
	}
	archive_write_free(out);
	archive_read_free(in);
	return 0;

fail:
	if (out != NULL)
		archive_write_free(out);
	if (in != NULL)
		archive_read_free(in);
	return -1;
}
