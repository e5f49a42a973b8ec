/*
 * How an upload is read with libarchive, shared by the responder's check
 * (fcgi/upload.c) and the sandbox's unpacking (runner/unpack.c) so that
 * both read the same archives the same way: the same formats, the same
 * verdict on a header libarchive could only half read, and the same view
 * of an entry for the rules in upload_entry.h.
 */
#ifndef SANDRUN_UPLOAD_READER_H
#define SANDRUN_UPLOAD_READER_H

#include "upload_entry.h"

struct archive;
struct archive_entry;

/*
 * Registers every filter, and every format libarchive reads but mtree, on
 * a new reader. An mtree "archive" is a list of names whose contents the
 * reader takes from the reading machine's own files (contents=/some/path):
 * the responder would open its own files, the sandbox the job's tree.
 * Formats this libarchive was built without just decline (ignored).
 */
void upload_reader_support(struct archive *reader);

/*
 * The next entry's header: 1 with *entry set, 0 at the end, -1 when the
 * archive cannot be read on (archive_error_string() says why). A header
 * libarchive read only in part -- ARCHIVE_WARN (a name it could not
 * convert, a malformed attribute) or ARCHIVE_RETRY (a damaged header it
 * would skip) -- is a failure too: going on would unpack names or a set
 * of entries the uploader did not send.
 */
int upload_reader_next(struct archive *reader, struct archive_entry **entry);

/* What the entry rules look at, read from a libarchive entry. The strings
 * belong to `entry` and last until it changes. */
void upload_reader_describe(struct archive_entry *entry, struct upload_entry *out);

#endif
