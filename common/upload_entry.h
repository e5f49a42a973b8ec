/*
 * The rules an upload's archive entries follow, written once: the responder
 * checks every entry when a job is submitted (fcgi/upload.c) and the
 * sandbox checks them again as it unpacks (runner/unpack.c), so the two
 * can never disagree about an archive. Pure functions on names and types:
 * no libarchive, no I/O, no logging; a verdict and a sentence.
 *
 * (Not "archive_entry.h": with common/ on the include path, that name
 * would hide libarchive's own <archive_entry.h>.)
 */
#ifndef SANDRUN_UPLOAD_ENTRY_H
#define SANDRUN_UPLOAD_ENTRY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How much of an entry's name goes into an error message: enough to find
 * it in the archive, not so much that the message becomes the name. */
#define UPLOAD_ENTRY_NAME_SHOWN 80
/* A buffer for upload_entry_shown_name(): the shown bytes, "..." and NUL. */
#define UPLOAD_ENTRY_SHOWN_SIZE (UPLOAD_ENTRY_NAME_SHOWN + 8)

/* One entry as the archive reader gives it (every string may be NULL). */
struct upload_entry {
	const char *name;       /* the name in the locale's charset (archive_entry_pathname) */
	const char *name_utf8;  /* the same name as UTF-8 (archive_entry_pathname_utf8): used
				 * when the locale's form cannot be had */
	mode_t type;            /* S_IFREG, S_IFDIR, S_IFLNK, ...; 0 when the archive gives none
				 * (libarchive's AE_IF* have the same values) */
	const char *symlink;    /* a symbolic link's target */
	const char *hardlink;   /* a hard link's target: another entry, named from the root */
};

/* What an accepted entry becomes: the names to unpack it under. */
struct upload_entry_clean {
	char name[PATH_MAX];     /* normalized: "a/b/c" */
	char hardlink[PATH_MAX]; /* the normalized hard link target, "" when none */
	bool regular;            /* a regular file or a hard link to one: what a manifest may name */
};

enum upload_entry_verdict {
	UPLOAD_ENTRY_REFUSED = -1, /* the whole upload is refused; err says why */
	UPLOAD_ENTRY_OK = 0,       /* unpack it as `clean` says */
	UPLOAD_ENTRY_ROOT = 1,     /* the archive's own root ("./" from `tar czf x.tgz .`):
				    * nothing to unpack, and not counted as an entry */
};

/*
 * Checks one entry:
 *   - its name is the locale's form, else the UTF-8 form; no name at all
 *     is refused;
 *   - a directory named ".", "./", "./." (no hard link) is the root: skipped;
 *   - the name must pass path_normalize_relative(): not empty, not absolute,
 *     no "..", no control character, no component over 255 bytes, shorter
 *     than PATH_MAX. Bytes that are not UTF-8 are kept as they are;
 *   - a hard link's target must be a clean relative name too; the link is a
 *     regular file to the manifest (unless it says it is a symbolic link);
 *     its own type may be none (tar), a file or a symbolic link (cpio),
 *     never a directory or a special file;
 *   - any other entry is a regular file, a directory or a symbolic link:
 *     devices, FIFOs, sockets and entries of no type are refused;
 *   - a symbolic link's target must stay inside the tree, even through
 *     other links (upload_entry_symlink_inside()), on any entry that carries one: the
 *     writer makes a symbolic link of every entry with a target.
 * Returns the verdict; `clean` is filled for UPLOAD_ENTRY_OK, `err` holds a
 * sentence naming the entry for UPLOAD_ENTRY_REFUSED.
 */
enum upload_entry_verdict upload_entry_check(const struct upload_entry *entry,
					     struct upload_entry_clean *clean,
					     char *err, size_t errlen);

/* The name an entry goes by: `name`, else `name_utf8` (NULL when neither). */
const char *upload_entry_name(const char *name, const char *name_utf8);

/* True for the archive's own root: ".", "./", "./.", ".//" (not "", "..", ".x"). */
bool upload_entry_is_root(const char *name);

/*
 * True when a symbolic link at `link_path` (a normalized name) pointing to
 * `target` stays inside the tree: the target is relative, its ".."s all
 * come first ("../../lib/x", never "x/../y"), and each has a directory of
 * the link's own path to cancel. The walk is by name; it is sound because
 *   - the unpacking writer refuses to write through any symbolic link
 *     (ARCHIVE_EXTRACT_SECURE_SYMLINKS), so the link's directories are
 *     real directories of the tree, and the leading ".."s climb them;
 *   - after the first name, the target only descends: through a directory,
 *     or through another link, which was held to the same rule where it
 *     stands. A ".." there would climb from wherever that link leads
 *     ("x" -> "." then "l" -> "x/.." is the tree's parent), so it is
 *     refused: a chain of accepted links never leaves the tree.
 */
bool upload_entry_symlink_inside(const char *link_path, const char *target);

/* A printable, bounded copy of an untrusted name for an error message:
 * control characters become '?', a long name is cut (at a character, not
 * inside a UTF-8 sequence) and ends in "...". Returns buf. */
const char *upload_entry_shown_name(const char *name, char *buf, size_t buflen);

#endif
