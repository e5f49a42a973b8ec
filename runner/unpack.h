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

/* Unpacks into the current directory. Returns 0, or -1 with a sentence in err. */
int unpack_archive(const void *data, size_t len, int64_t max_bytes, int64_t max_files,
		   char *err, size_t errlen);

#endif
