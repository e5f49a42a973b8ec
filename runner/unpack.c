/*
 * Unpacking the upload (SECURITY.md, "The sandbox"), called by the sandbox's init after it has
 * become the job's user inside the job's private tmpfs: a bug in a parser
 * here can only hurt the job itself.
 *
 * libarchive reads the upload from memory (any filter, any format it
 * knows but mtree; a tar of any compression and zip are what we promise) and
 * archive_write_disk writes it into the current directory with its secure
 * flags on. We do not rely on those flags alone: every entry is checked
 * here first, and the first bad one fails the whole upload, because a
 * half-unpacked tree would run the job on files the user did not send.
 *
 *   - names are normalized by path_normalize_relative(): absolute names,
 *     "..", control characters and oversized names are refused; the
 *     archive's own root ("./" from `tar czf x.tgz .`) is skipped;
 *   - only regular files, directories, symlinks and hard links; devices,
 *     FIFOs and sockets are refused;
 *   - setuid, setgid and sticky bits are stripped, ownership is never
 *     restored (no ARCHIVE_EXTRACT_OWNER), nor ACLs, xattrs or file flags;
 *   - symlink targets must be relative and must not climb out of the tree
 *     when resolved against the link's directory; hard link targets must
 *     be clean relative names (they name another entry of the archive);
 *   - at most max_files entries, and at most max_bytes of data actually
 *     written: we count the bytes we hand to the writer, never the sizes
 *     the headers claim.
 *
 * Names are UTF-8: libarchive converts them to the locale's charset, and
 * this runs in a fork of the sandbox's init, which set LC_CTYPE to C.UTF-8
 * before it left the host's tree (sandbox_init_exec_main;
 * locale_use_utf8_names(), common/util.h). It cannot be set here: inside
 * the sandbox no locale file is visible. In the "C" locale a zip's
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

#include "path.h"
#include "unpack.h"
#include "util.h"

/* How much of an entry's name goes into an error message: enough to find
 * it in the archive, not so much that the message becomes the name. */
#define UNPACK_NAME_SHOWN 80

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

/*
 * Every archive format libarchive reads, except mtree: an mtree "archive"
 * is a list of names whose contents the reader takes from the unpacking
 * machine's own files (contents=/some/path), which is not an upload at all.
 * archive_read_support_format_all() would include it, so list them.
 * Formats this libarchive was built without just decline (ignored).
 */
static void unpack_support_formats(struct archive *in)
{
	archive_read_support_format_7zip(in);
	archive_read_support_format_ar(in);
	archive_read_support_format_cab(in);
	archive_read_support_format_cpio(in);
	archive_read_support_format_empty(in);     /* a zero-byte upload is an empty tree */
	archive_read_support_format_iso9660(in);
	archive_read_support_format_lha(in);
	archive_read_support_format_rar(in);
	archive_read_support_format_rar5(in);
	archive_read_support_format_tar(in);       /* ustar, pax, GNU tar */
	archive_read_support_format_warc(in);
	archive_read_support_format_xar(in);
	archive_read_support_format_zip(in);
}

/* A printable, bounded copy of an untrusted name for an error message. */
static const char *unpack_shown_name(const char *name, char *buf, size_t buflen)
{
	size_t i, n = 0;

	if (name == NULL)
		name = "";
	for (i = 0; name[i] != '\0' && n + 4 < buflen; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i == UNPACK_NAME_SHOWN) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[n] = '\0';
	return buf;
}

/* True for the archive's own root entry: ".", "./", "./." and the like. */
static bool unpack_is_archive_root(const char *name)
{
	const char *p;

	if (name[0] == '\0' || name[0] == '/')
		return false;
	for (p = name; *p != '\0'; p++) {
		if (*p == '/')
			continue;
		if (*p != '.')
			return false;
		/* "." must be a whole component: ".." or ".x" is not the root */
		if (p[1] != '\0' && p[1] != '/')
			return false;
	}
	return true;
}

/*
 * True when a symlink's target, resolved by name against the directory of
 * the (already normalized) link path, never leaves the tree: every ".."
 * must have a component of the walk to cancel. Absolute targets are out.
 * The walk is textual; that is sound here because the writer refuses to
 * extract through symlinks (SECURE_SYMLINKS), and the job, which runs as
 * the same user right after, could make any link it likes anyway.
 */
static bool unpack_symlink_stays_inside(const char *link_path, const char *target)
{
	long depth = 0;
	const char *p;

	if (target[0] == '\0' || target[0] == '/')
		return false;
	for (p = link_path; *p != '\0'; p++)
		if (*p == '/')
			depth++;        /* "a/b/l" lives two levels down */
	p = target;
	while (*p != '\0') {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return true;
}

/* Checks one entry and rewrites it into its safe form. 0, or -1 with err set. */
static int unpack_clean_entry(struct archive_entry *entry, char *err, size_t errlen)
{
	char norm[PATH_MAX], link_norm[PATH_MAX], shown[UNPACK_NAME_SHOWN + 8];
	const char *name, *hardlink, *symlink;
	mode_t type;

	name = archive_entry_pathname(entry);
	if (name == NULL)
		name = archive_entry_pathname_utf8(entry);
	if (name == NULL) {
		error_format(err, errlen, "an archive entry has a name that cannot be read");
		return -1;
	}
	if (path_normalize_relative(name, strlen(name), norm, sizeof norm) < 0) {
		error_format(err, errlen, "archive entry \"%s\" has an unsafe name "
			     "(absolute, with \"..\", with control characters or too long)",
			     unpack_shown_name(name, shown, sizeof shown));
		return -1;
	}
	unpack_shown_name(norm, shown, sizeof shown);
	archive_entry_set_pathname(entry, norm);

	hardlink = archive_entry_hardlink(entry);
	type = archive_entry_filetype(entry);
	if (hardlink != NULL) {
		/* a hard link names another entry of the archive, by its path from the root */
		if (path_normalize_relative(hardlink, strlen(hardlink), link_norm, sizeof link_norm) < 0) {
			error_format(err, errlen, "archive entry \"%s\" is a hard link to an unsafe name", shown);
			return -1;
		}
		archive_entry_set_hardlink(entry, link_norm);
	} else if (type == AE_IFLNK) {
		symlink = archive_entry_symlink(entry);
		if (symlink == NULL || !unpack_symlink_stays_inside(norm, symlink)) {
			error_format(err, errlen, "archive entry \"%s\" is a symbolic link that "
				     "points outside the upload (or is absolute)", shown);
			return -1;
		}
	} else if (type != AE_IFREG && type != AE_IFDIR) {
		error_format(err, errlen, "archive entry \"%s\" is a device, FIFO, socket or other "
			     "special file, which uploads may not contain", shown);
		return -1;
	}

	/* setuid, setgid and sticky bits go; the owner is the job's user */
	archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);
	return 0;
}

/* Copies one entry's data, adding what it writes to *written (at most max_bytes in all). */
static int unpack_copy_data(struct archive *in, struct archive *out, const char *name,
			    int64_t max_bytes, int64_t *written, char *err, size_t errlen)
{
	char shown[UNPACK_NAME_SHOWN + 8];

	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(in, &buf, &size, &offset);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot read the data of archive entry \"%s\": %s",
				     unpack_shown_name(name, shown, sizeof shown),
				     archive_error_string(in));
			return -1;
		}
		if ((uint64_t)size > (uint64_t)(max_bytes - *written)) {
			error_format(err, errlen, "the upload unpacks to more than %" PRId64
				     " bytes (the limit), at entry \"%s\"", max_bytes,
				     unpack_shown_name(name, shown, sizeof shown));
			return -1;
		}
		*written += (int64_t)size;
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot write archive entry \"%s\": %s",
				     unpack_shown_name(name, shown, sizeof shown),
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
	archive_read_support_filter_all(in);
	unpack_support_formats(in);
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
	char shown[UNPACK_NAME_SHOWN + 8];
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
		r = archive_read_next_header(in, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY)
			continue;
		if (r < ARCHIVE_WARN) {
			if (first)
				error_format(err, errlen, "upload is not an archive libarchive can read: %s",
					     archive_error_string(in));
			else
				error_format(err, errlen, "the archive is damaged after %" PRId64
					     " entries: %s", files, archive_error_string(in));
			goto fail;
		}
		first = false;

		{
			const char *raw = archive_entry_pathname(entry);

			if (raw != NULL && unpack_is_archive_root(raw)
			    && archive_entry_filetype(entry) == AE_IFDIR
			    && archive_entry_hardlink(entry) == NULL)
				continue;       /* "./": the working directory itself */
		}
		if (++files > max_files) {
			error_format(err, errlen, "the upload has more than %" PRId64
				     " entries (the limit)", max_files);
			goto fail;
		}
		if (unpack_clean_entry(entry, err, errlen) < 0)
			goto fail;
		/* The headers' sizes are not trusted for the budget, but the
		 * writer may extend a file to its declared size (sparse tail):
		 * keep that within the limit too. */
		if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > max_bytes) {
			error_format(err, errlen, "archive entry \"%s\" declares %" PRId64
				     " bytes, more than the %" PRId64 " bytes an upload may unpack to",
				     unpack_shown_name(archive_entry_pathname(entry), shown, sizeof shown),
				     (int64_t)archive_entry_size(entry), max_bytes);
			goto fail;
		}
		if (archive_write_header(out, entry) < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot unpack archive entry \"%s\": %s",
				     unpack_shown_name(archive_entry_pathname(entry), shown, sizeof shown),
				     archive_error_string(out));
			goto fail;
		}
		if (unpack_copy_data(in, out, archive_entry_pathname(entry), max_bytes,
				     &written, err, errlen) < 0)
			goto fail;
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			error_format(err, errlen, "cannot finish archive entry \"%s\": %s",
				     unpack_shown_name(archive_entry_pathname(entry), shown, sizeof shown),
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
