/*
 * Unpacking the upload with libarchive, run inside the sandbox as the
 * job's user (never by root on the host). Secure-extract flags on: no "..",
 * no absolute paths, no writing through symlinks, no device or FIFO nodes,
 * no setuid/setgid bits, no ownership from the archive, no links that point
 * out of the working directory; bounded entries and bytes.
 */
#ifndef SANDRUN_UNPACK_H
#define SANDRUN_UNPACK_H

#include <stddef.h>
#include <stdint.h>

struct archive;

/* Unpacks into the current directory. Returns 0, or -1 with a sentence in err. */
int unpack_archive(const void *data, size_t len, int64_t max_bytes, int64_t max_files,
		   char *err, size_t errlen);

/*
 * A reader with every filter and format an upload may use registered and
 * nothing opened yet, or NULL (out of memory). Registering them is most of
 * what a small upload costs to unpack in a freshly forked process (~90 us):
 * a process that forks many unpackers can make one reader first and hand
 * each its copy-on-write copy through unpack_archive_with(). (The sandbox's
 * job process makes its own: its init is a fresh image, runner/sandbox.c.)
 * The reader is plain memory -- no descriptor, no data, nothing of the
 * process or user that made it; libarchive's write side, which reads the
 * euid and umask, is always made by the unpacking process itself.
 * Who frees: the maker, with archive_read_free(), never having opened it.
 */
struct archive *unpack_reader_new(void);

/* unpack_archive() with a reader from unpack_reader_new() (a copy inherited
 * through fork, unopened), which it uses up and frees; NULL: it makes one. */
int unpack_archive_with(struct archive *reader, const void *data, size_t len, int64_t max_bytes,
			int64_t max_files, char *err, size_t errlen);

#endif
