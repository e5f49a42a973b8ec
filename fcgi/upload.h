/*
 * What the responder checks in an upload before it accepts a job, with
 * libarchive reading from memory: that it is an archive at all, that its
 * entries are few and small enough and stay inside the working directory,
 * and that the entrypoint (and requirements file) are in it. The runner
 * unpacks it later inside the sandbox with the same rules enforced again.
 */
#ifndef SANDRUN_UPLOAD_H
#define SANDRUN_UPLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "manifest.h"
#include "util.h"

/*
 * Returns 0 when the archive is acceptable, else the HTTP status to answer
 * (400 or 413) with a sentence in `reason` and the field to fix in `field`:
 * "entrypoint" or "requirements" when the file the manifest names is not a
 * regular file of the archive (missing, a directory, a link), else "files"
 * (the archive itself is at fault).
 */
int upload_inspect(const void *data, size_t len, const struct sandrun_limits *limits,
		   const struct manifest *m, char *field, size_t fieldlen, char *reason, size_t reasonlen);

/*
 * Builds a tar archive (in `out`) from the JSON-body form
 * {"files": {"path": "utf-8 content", ...}}. Returns 0, or the HTTP status
 * with the field at fault in `field` ("files" or "files.<path>") and a
 * sentence in `reason`.
 */
int upload_from_json_files(const json_t *files, const struct sandrun_limits *limits,
			   struct buf *out, char *field, size_t fieldlen,
			   char *reason, size_t reasonlen);

#endif
