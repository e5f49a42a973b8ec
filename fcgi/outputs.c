/*
 * A job's output files: GET /outputs/{id} lists them, GET /download/{id}/{path}
 * answers one file's bytes, GET /download/{id} all of them as one .tar.gz.
 * The runner stored them (runner/outputs.c): the bytes in the job's
 * outputs hash (common/store.h), one field per normalized path, the listing in the job field "outputs". A
 * path from the URL is normalized (common/path.h) and must be a key of the
 * listing: nothing else is ever answered. Once every output was downloaded
 * once, or the archive was, the job is deleted whole (redis/downloaded.lua).
 *
 * HEAD answers the headers a GET would, from the listing alone: a file's
 * Content-Length is its listed size; the archive's is not known without
 * building it, so it has none. HEAD reads no output bytes, builds nothing
 * and never counts as a download.
 *
 * The archive is built in memory, answered, and the job is deleted: built
 * once per job. Requests for it that arrive while it is being built (the
 * id is the only key, anyone holding it may ask) would each gzip the same
 * bytes again, so a job's archive has one builder at a time: a lock key of
 * the job's hash tag (SET NX with a TTL); the others get 429 and, by the
 * time they retry, 404. nginx also caps archive builds in flight per
 * client address (nginx/sandrun.conf.in, zone sandrun_archive).
 */
#include "log.h"
#include "path.h"
#include "routes.h"
#include "store.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUTPUT_PATH_MAX 4096
/* The archive lock's lifetime, a bound should its holder die: gzipping the
 * 100 MB maximum takes a few seconds, sending it to nginx as long as the
 * client takes to read it (send_timeout 60 s per pause). */
#define ARCHIVE_LOCK_MS 120000
/* A second request for an archive being built comes back after this. */
#define ARCHIVE_RETRY_SECONDS 2

static bool outputs_is_head(const struct request *req)
{
	return strcmp(req->method, "HEAD") == 0;
}

static void outputs_not_found(struct request *req)
{
	respond_error(req, 404, "Job not found", NULL, "no job with this id (unknown, expired or deleted)");
}

/*
 * The job's status and listing. Returns the listing (an object, new
 * reference; empty while the job runs or without outputs) and sets
 * *finished_ms, or NULL after answering 404 or 503 itself.
 */
static json_t *outputs_listing_load(struct request *req, const char *id, int64_t *finished_ms)
{
	struct job_keys k;
	const char *argv[] = { "HMGET", k.job, JOB_F_STATUS, JOB_F_OUTPUTS, JOB_F_FINISHED };
	redisReply *r;
	json_t *files = NULL;

	job_keys_make(id, &k);
	r = rconn_argv(&req->srv->redis, 0, 5, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		log_error(req->id, "outputs: %s", r ? (r->str ? r->str : "unexpected reply") : req->srv->redis.error);
		if (r)
			freeReplyObject(r);
		respond_unavailable(req, "the job store is unreachable");
		return NULL;
	}
	if (r->element[0]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		outputs_not_found(req);
		return NULL;
	}
	if (r->element[1]->type == REDIS_REPLY_STRING)
		files = json_loadb(r->element[1]->str, r->element[1]->len, 0, NULL);
	if (!json_is_object(files)) {
		json_decref(files);
		files = json_object();
	}
	*finished_ms = 0;
	if (r->element[2]->type == REDIS_REPLY_STRING && parse_int64(r->element[2]->str, 0, INT64_MAX, finished_ms) < 0)
		*finished_ms = 0;
	freeReplyObject(r);
	return files;
}

void handle_outputs(struct request *req, const char *id)
{
	struct job_keys k;
	int64_t finished;
	json_t *files = outputs_listing_load(req, id, &finished), *list, *skipped = NULL, *v;
	const char *path;
	redisReply *r;

	if (!files)
		return;
	list = json_array();
	json_object_foreach(files, path, v)
		json_array_append_new(list, json_pack("{s:s, s:O, s:O}", "path", path,
						      "size", json_object_get(v, "size"),
						      "sha256", json_object_get(v, "sha256")));
	json_decref(files);
	job_keys_make(id, &k);
	r = rconn_command(&req->srv->redis, "HGET %s %s", k.job, JOB_F_OUTPUTS_SKIPPED);
	if (r && r->type == REDIS_REPLY_STRING)
		skipped = json_loadb(r->str, r->len, 0, NULL);
	if (r)
		freeReplyObject(r);
	if (!json_is_array(skipped)) {
		json_decref(skipped);
		skipped = json_array();
	}
	respond_json(req, 200, json_pack("{s:s, s:o, s:o}", "job_id", id, "files", list, "skipped", skipped), NULL);
}

/* Records a download (path, or "" for the archive): the job goes once all are done. */
static void outputs_downloaded(struct request *req, const char *id, const char *path)
{
	char client[STORE_CLIENT_MAX];
	enum store_downloaded_outcome done = STORE_DOWNLOADED_GONE;
	int rc;

	if (outputs_is_head(req))
		return;
	/* The client names the storage ledger the job leaves when it is deleted. */
	rc = store_job_client(&req->srv->redis, id, client, sizeof client);
	if (rc > 0)
		rc = store_job_downloaded(&req->srv->redis, id, client, path, &done);
	if (rc < 0)
		log_error(req->id, "downloaded: %s", req->srv->redis.error);
	else if (rc == 0 && done == STORE_DOWNLOADED_DELETED)
		log_info(id, "every output downloaded: the job is deleted");
}

/* Content-Type by extension; anything unknown is opaque bytes. */
static const char *outputs_content_type(const char *path)
{
	static const char *const types[][2] = {
		{ "txt", "text/plain; charset=utf-8" }, { "log", "text/plain; charset=utf-8" },
		{ "md", "text/plain; charset=utf-8" }, { "csv", "text/csv; charset=utf-8" },
		{ "tsv", "text/tab-separated-values; charset=utf-8" }, { "json", "application/json" },
		{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "gif", "image/gif" }, { "webp", "image/webp" }, { "svg", "image/svg+xml" },
		{ "pdf", "application/pdf" }, { "html", "text/html; charset=utf-8" },
		{ "htm", "text/html; charset=utf-8" }, { "xml", "application/xml" },
		{ "gz", "application/gzip" }, { "zip", "application/zip" }, { "tar", "application/x-tar" },
	};
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(dot + 1, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

/*
 * The headers of a download: always an attachment (an SVG or HTML output
 * must never run as a page of this origin), never sniffed, sandboxed
 * should a browser render it anyway. The file name is the base name, with
 * anything outside a safe set replaced in the quoted form and percent-encoded
 * in the RFC 8187 form.
 */
static void outputs_disposition(const char *name, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char plain[128], encoded[384];
	size_t p = 0, e = 0;

	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		bool safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			    *c == '.' || *c == '-' || *c == '_';

		if (p < sizeof plain - 1)
			plain[p++] = safe ? (char)*c : '_';
		if (e < sizeof encoded - 4) {
			if (safe) {
				encoded[e++] = (char)*c;
			} else {
				encoded[e++] = '%';
				encoded[e++] = hex[*c >> 4];
				encoded[e++] = hex[*c & 15];
			}
		}
	}
	plain[p] = '\0';
	encoded[e] = '\0';
	snprintf(out, outlen,
		 "Content-Disposition: attachment; filename=\"%.127s\"; filename*=UTF-8''%.383s\r\n"
		 "X-Content-Type-Options: nosniff\r\n"
		 "Content-Security-Policy: sandbox; default-src 'none'\r\n", plain, encoded);
}

struct outputs_archive_buf {
	struct buf b;
};

static la_ssize_t outputs_archive_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	(void)a;
	buf_append(&((struct outputs_archive_buf *)ctx)->b, data, len);
	return (la_ssize_t)len;
}

/*
 * Takes the job's archive lock: 1 taken, 0 held by another request, -1
 * Redis unreachable (answered 503 here).
 */
static int outputs_archive_lock(struct request *req, const char *lock)
{
	char ttl[24];
	const char *argv[] = { "SET", lock, req->id, "NX", "PX", ttl };
	redisReply *r;
	int taken;

	snprintf(ttl, sizeof ttl, "%d", ARCHIVE_LOCK_MS);
	r = rconn_argv(&req->srv->redis, 0, 6, argv, NULL);
	if (!r || r->type == REDIS_REPLY_ERROR) {
		log_error(req->id, "archive lock: %s", r ? r->str : req->srv->redis.error);
		if (r)
			freeReplyObject(r);
		respond_unavailable(req, "the job store is unreachable");
		return -1;
	}
	taken = r->type == REDIS_REPLY_STATUS;  /* "OK"; nil when another holds it */
	freeReplyObject(r);
	return taken;
}

static void outputs_archive_unlock(struct request *req, const char *lock)
{
	const char *argv[] = { "DEL", lock };
	redisReply *r = rconn_argv(&req->srv->redis, 0, 2, argv, NULL);

	if (r)
		freeReplyObject(r);     /* else the lock's TTL ends it */
}

static void outputs_archive_headers(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen,
		 "Content-Disposition: attachment; filename=\"%s-outputs.tar.gz\"\r\n"
		 "X-Content-Type-Options: nosniff\r\n", id);
}

/* Builds the archive into ab; 0, or the HTTP status to answer (500, 503, 404). */
static int outputs_archive_build(struct request *req, const char *id, json_t *files, int64_t finished_ms,
				 struct outputs_archive_buf *ab)
{
	struct job_keys k;
	struct archive *a;
	const char *path;
	json_t *v;
	int failed = 0;

	job_keys_make(id, &k);
	a = archive_write_new();
	if (!a || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, ab, NULL, outputs_archive_write, NULL) != ARCHIVE_OK) {
		if (a)
			archive_write_free(a);
		return 500;
	}
	json_object_foreach(files, path, v) {
		const char *argv[] = { "HGET", k.out, path };
		redisReply *r = rconn_argv(&req->srv->redis, 0, 3, argv, NULL);
		struct archive_entry *e;

		if (!r) {
			failed = 503;
			break;
		}
		if (r->type != REDIS_REPLY_STRING) {    /* deleted meanwhile: the job is gone */
			freeReplyObject(r);
			failed = 404;
			break;
		}
		e = archive_entry_new();
		archive_entry_set_pathname(e, path);
		archive_entry_set_size(e, (la_int64_t)r->len);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_mtime(e, (time_t)(finished_ms / 1000), 0);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (r->len && archive_write_data(a, r->str, r->len) != (la_ssize_t)r->len))
			failed = 500;
		archive_entry_free(e);
		freeReplyObject(r);
		if (failed)
			break;
	}
	if (archive_write_close(a) != ARCHIVE_OK && !failed)
		failed = 500;
	archive_write_free(a);
	return failed;
}

static void outputs_archive(struct request *req, const char *id, json_t *files, int64_t finished_ms)
{
	struct job_keys k;
	char headers[512];
	struct outputs_archive_buf ab = { { NULL, 0, 0 } };
	int failed;

	if (json_object_size(files) == 0) {
		respond_error(req, 404, "No outputs", NULL, "this job has no output files");
		return;
	}
	outputs_archive_headers(id, headers, sizeof headers);
	if (outputs_is_head(req)) {
		respond_stream_start(req, 200, "application/gzip", headers);
		return;
	}
	job_keys_make(id, &k);
	switch (outputs_archive_lock(req, k.archive_lock)) {
	case 1:
		break;
	case 0:
		respond_rate_limited(req, "this job's archive is being built for another request; "
				     "it is built once, and the job is deleted once it was downloaded",
				     ARCHIVE_RETRY_SECONDS);
		return;
	default:
		return;
	}
	failed = outputs_archive_build(req, id, files, finished_ms, &ab);
	if (failed == 503)
		respond_unavailable(req, "the job store is unreachable");
	else if (failed == 404)
		outputs_not_found(req);
	else if (failed)
		respond_error(req, 500, NULL, NULL, "cannot build the archive");
	if (!failed) {
		respond_bytes(req, 200, "application/gzip", ab.b.data ? ab.b.data : "", ab.b.len, headers);
		outputs_downloaded(req, id, "");
	}
	free(ab.b.data);
	outputs_archive_unlock(req, k.archive_lock);
}

void handle_download(struct request *req, const char *id)
{
	const char *tail = req->path + strlen("/download/") + strlen(id);
	char norm[OUTPUT_PATH_MAX], headers[1024];
	struct job_keys k;
	const char *base;
	int64_t finished;
	json_t *files;
	redisReply *r;

	/* the shape first: a bad path is answered before any look-up */
	if (*tail == '/' && tail[1] != '\0' &&
	    path_normalize_relative(tail + 1, strlen(tail + 1), norm, sizeof norm) < 0) {
		respond_error(req, 400, NULL, "path",
			      "an output path is relative, without \"..\" or control characters");
		return;
	}
	files = outputs_listing_load(req, id, &finished);
	if (!files)
		return;
	if (*tail == '\0' || strcmp(tail, "/") == 0) {
		outputs_archive(req, id, files, finished);
		json_decref(files);
		return;
	}
	if (!json_object_get(files, norm)) {
		json_decref(files);
		respond_error(req, 404, "Output not found", NULL, "this job has no output file by that path");
		return;
	}
	base = strrchr(norm, '/');
	outputs_disposition(base ? base + 1 : norm, headers, sizeof headers);
	if (outputs_is_head(req)) {
		/* the listed size is the stored file's: no byte is read */
		json_t *size = json_object_get(json_object_get(files, norm), "size");
		size_t n = strlen(headers);

		if (json_is_integer(size) && json_integer_value(size) >= 0)
			snprintf(headers + n, sizeof headers - n, "Content-Length: %lld\r\n",
				 (long long)json_integer_value(size));
		json_decref(files);
		respond_stream_start(req, 200, outputs_content_type(norm), headers);
		return;
	}
	json_decref(files);
	job_keys_make(id, &k);
	{
		const char *argv[] = { "HGET", k.out, norm };
		r = rconn_argv(&req->srv->redis, 0, 3, argv, NULL);
	}
	if (!r) {
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		outputs_not_found(req);
		return;
	}
	respond_bytes(req, 200, outputs_content_type(norm), r->str, r->len, headers);
	freeReplyObject(r);
	outputs_downloaded(req, id, norm);
}
