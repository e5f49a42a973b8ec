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
#include <stdbool.h>
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

/*
 * An archive built in memory from files one by one (the JSON form, the
 * original Sandrun's pseudo-archive, plain files sent as `files` parts):
 * each name must be a safe relative path, and the count and the total
 * size stay within files_max and the upload limits, as an uploaded
 * archive's must. upload_tar_add returns 0 or the HTTP status (400, 413)
 * with `field` and `reason`; upload_tar_finish frees the builder and
 * returns 0 or 500. upload_tar_new returns NULL when libarchive fails.
 */
struct upload_tar;
struct upload_tar *upload_tar_new(struct buf *out, const struct sandrun_limits *limits);
int upload_tar_add(struct upload_tar *t, const char *name, size_t name_len, const void *data, size_t len,
		   char *field, size_t fieldlen, char *reason, size_t reasonlen);
int upload_tar_finish(struct upload_tar *t, char *reason, size_t reasonlen);
void upload_tar_free(struct upload_tar *t);

/* Can libarchive read a first entry of it (any format, any filter)? */
bool upload_looks_like_archive(const void *data, size_t len);

/*
 * A multipart upload without a manifest: the manifest is the upload's own
 * top-level job.json when it has one, else {"entrypoint": X} when exactly
 * one of main.py, index.js, run.sh lies at its top (the interpreter then
 * follows from the extension, as always). Returns 0 with the manifest's
 * JSON text in `manifest`, or 400/413 with a sentence (field: manifest).
 */
int upload_default_manifest(const void *data, size_t len, const struct sandrun_limits *limits,
			    struct buf *manifest, char *reason, size_t reasonlen);

#endif
