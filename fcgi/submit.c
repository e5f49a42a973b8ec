/*
 * POST /submit: the one route that takes a body.
 *
 *   multipart/form-data  parts "files" (the archive) and "manifest" (JSON,
 *                        as a field or a file part), exactly as curl -F sends them
 *   application/json     the manifest's fields plus "files": {"path": "content"}
 *
 * The body is parsed as a stream with hard bounds; after the first error
 * the rest is read and dropped so nginx always gets a clean answer. The
 * manifest is validated field by field, the archive inspected, then the
 * job is recorded and queued in one Redis script.
 */
#include "config.h"
#include "fleet.h"
#include "jobid.h"
#include "log.h"
#include "manifest.h"
#include "multipart.h"
#include "path.h"
#include "pseudo_tar.h"
#include "quota.h"
#include "routes.h"
#include "store.h"
#include "upload.h"
#include "util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_CHUNK 65536
#define QUOTA_JOBS_RETRY_SECONDS 5 /* over the jobs-at-once limit: try again after this */
/* Redis over its high-water mark: memory frees as jobs end and their data
 * is downloaded or expires, which takes minutes, not seconds. */
#define MEMORY_FULL_RETRY_SECONDS 60
/* Over the storage quota with nothing of the client's due to expire (its
 * own queued uploads fill it): come back once a job has ended. */
#define STORAGE_RETRY_SECONDS 30
/* A job id in the log line that names the client address: "job-" and 8 of
 * its 26 random characters, 40 of its 130 bits. Guessing the other 90 to
 * fetch the job is hopeless; 8 characters still single it out among the
 * jobs of a day, so the operator finds it in the runner's lines. */
#define LOG_JOB_ID_PREFIX 12

/* The first failure found while reading the body: answered once the body is drained. */
struct submit_error {
	int status;                  /* 0 while none */
	char field[64];
	char reason[512];
};

/* One `files` part as sent: an archive, the original Sandrun's
 * pseudo-archive, or a plain file (named by its filename). */
struct form_part {
	char *filename;              /* NULL when the part had none */
	struct buf data;
};

struct form {
	const struct sandrun_limits *limits;
	enum { PART_NONE, PART_FILES, PART_MANIFEST } current;
	int have_files, have_manifest;
	struct form_part *parts;     /* have_files of them */
	int64_t parts_bytes;         /* all of them together: at most upload_max_bytes */
	struct buf files, manifest;  /* files: the archive the job gets (submit_files_to_archive) */
	struct submit_error *err;
	struct upload_tar *builder;  /* while submit_files_to_archive builds */
};

static void submit_fail(struct submit_error *e, int status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void submit_fail(struct submit_error *e, int status, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (e->status)
		return;
	e->status = status;
	snprintf(e->field, sizeof e->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof e->reason, fmt, ap);
	va_end(ap);
}

static int form_part_begin(void *ctx, const struct mp_part_info *part)
{
	struct form *f = ctx;

	if (strcmp(part->name, "files") == 0) {
		/* Several parts are several plain files (a browser's folder upload). */
		if (f->have_files >= f->limits->files_max) {
			submit_fail(f->err, 413, "files", "more than %lld files parts", (long long)f->limits->files_max);
			return 1;
		}
		f->parts = xrealloc(f->parts, (size_t)(f->have_files + 1) * sizeof *f->parts);
		memset(&f->parts[f->have_files], 0, sizeof *f->parts);
		f->parts[f->have_files].filename = part->filename ? xstrdup(part->filename) : NULL;
		f->have_files++;
		f->current = PART_FILES;
	} else if (strcmp(part->name, "manifest") == 0) {
		if (f->have_manifest++) {
			submit_fail(f->err, 400, "manifest", "manifest was sent twice");
			return 1;
		}
		f->current = PART_MANIFEST;
	} else {
		submit_fail(f->err, 400, part->name, "unknown form field '%.64s': send files and manifest",
			    part->name);
		return 1;
	}
	return 0;
}

static int form_part_data(void *ctx, const char *data, size_t len)
{
	struct form *f = ctx;

	if (f->current == PART_FILES) {
		if (f->parts_bytes + (int64_t)len > f->limits->upload_max_bytes) {
			submit_fail(f->err, 413, "files", "the archive is larger than the %lld byte limit",
				    (long long)f->limits->upload_max_bytes);
			return 1;
		}
		f->parts_bytes += (int64_t)len;
		buf_append(&f->parts[f->have_files - 1].data, data, len);
	} else if (f->current == PART_MANIFEST) {
		if ((int64_t)(f->manifest.len + len) > f->limits->manifest_max_bytes) {
			submit_fail(f->err, 413, "manifest", "the manifest is larger than %lld bytes",
				    (long long)f->limits->manifest_max_bytes);
			return 1;
		}
		buf_append(&f->manifest, data, len);
	}
	return 0;
}

static int form_part_end(void *ctx)
{
	((struct form *)ctx)->current = PART_NONE;
	return 0;
}

static bool name_has_archive_suffix(const char *name)
{
	static const char *const suffixes[] = { ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
						".tar.zst", ".tzst", ".zip" };
	size_t n = name ? strlen(name) : 0;

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		size_t k = strlen(suffixes[i]);
		if (n > k && strcasecmp(name + n - k, suffixes[i]) == 0)
			return true;
	}
	return false;
}

static int pseudo_add(void *ctx, const struct pseudo_tar_file *f)
{
	struct form *form = ctx;
	struct submit_error *e = form->err;
	int st;

	st = upload_tar_add(form->builder, f->path, f->path_len, f->data, f->len, e->field, sizeof e->field,
			    e->reason, sizeof e->reason);
	if (st)
		e->status = st;
	return st;
}

/*
 * May one part that is no archive be taken as a plain file? Only when it is
 * the job's entrypoint: named as the manifest's entrypoint, or, without a
 * manifest, one of the obvious ones. Anything else stays "not an archive"
 * (a wrong file sent by mistake is refused as before, naming files).
 */
static bool single_file_is_entrypoint(const struct form *form, const char *filename)
{
	static const char *const obvious[] = { "main.py", "index.js", "run.sh" };
	char norm[PATH_MAX];
	bool yes = false;

	if (!filename || path_normalize_relative(filename, strlen(filename), norm, sizeof norm) < 0)
		return false;
	if (form->have_manifest) {
		json_t *m = json_loadb(form->manifest.data ? form->manifest.data : "", form->manifest.len, 0, NULL);
		const char *ep = json_string_value(json_object_get(m, "entrypoint"));

		yes = ep && strcmp(ep, norm) == 0;
		json_decref(m);
		return yes;
	}
	for (size_t i = 0; i < sizeof obvious / sizeof obvious[0]; i++)
		yes |= strcmp(norm, obvious[i]) == 0;
	return yes;
}

/* The first directory of `name` ("proj/" of "proj/src/a.py"), its length, 0 when none. */
static size_t top_dir_len(const char *name)
{
	const char *slash = name ? strchr(name, '/') : NULL;

	return slash ? (size_t)(slash - name) + 1 : 0;
}

/*
 * The `files` parts as the one archive the job gets (form->files), in the
 * forms docs/api.md lists: one real archive (as it came); the original
 * Sandrun's pseudo-archive; one plain file (a part whose filename names no
 * archive and whose bytes libarchive cannot read); several parts, each a
 * plain file named by its filename (a browser's folder upload names them
 * "folder/path": the folder common to all is dropped). The built archives
 * go through upload_inspect like any upload.
 */
static void submit_files_to_archive(struct form *form)
{
	struct submit_error *e = form->err;
	struct form_part *p0 = &form->parts[0];
	size_t strip = 0;
	int st;

	if (form->have_files == 1 && !pseudo_tar_detect(p0->data.data ? p0->data.data : "", p0->data.len) &&
	    (name_has_archive_suffix(p0->filename) || !single_file_is_entrypoint(form, p0->filename) ||
	     upload_looks_like_archive(p0->data.data ? p0->data.data : "", p0->data.len))) {
		form->files = p0->data;          /* an archive: as today */
		memset(&p0->data, 0, sizeof p0->data);
		return;
	}
	form->builder = upload_tar_new(&form->files, form->limits);
	if (!form->builder) {
		submit_fail(e, 500, NULL, "cannot build the archive");
		return;
	}
	if (form->have_files == 1 && pseudo_tar_detect(p0->data.data ? p0->data.data : "", p0->data.len)) {
		char why[256];

		st = pseudo_tar_parse(p0->data.data, p0->data.len, (size_t)form->limits->files_max, pseudo_add, form,
				      why, sizeof why);
		if (st < 0)
			submit_fail(e, 400, "files", "%s", why);
	} else {
		strip = form->have_files > 1 ? top_dir_len(p0->filename) : 0;
		for (int i = 1; strip && i < form->have_files; i++)
			if (!form->parts[i].filename || strncmp(form->parts[i].filename, p0->filename, strip) != 0)
				strip = 0;
		for (int i = 0; i < form->have_files && !e->status; i++) {
			struct form_part *p = &form->parts[i];

			if (!p->filename || !*p->filename) {
				submit_fail(e, 400, "files", "files part %d has no filename: each of several files parts "
					    "is a file named by its filename", i + 1);
				break;
			}
			if ((st = upload_tar_add(form->builder, p->filename + strip, strlen(p->filename + strip),
						 p->data.data ? p->data.data : "", p->data.len, e->field, sizeof e->field,
						 e->reason, sizeof e->reason)) != 0)
				e->status = st;
		}
	}
	if (e->status) {
		upload_tar_free(form->builder);
	} else if ((st = upload_tar_finish(form->builder, e->reason, sizeof e->reason)) != 0) {
		e->status = st;
	}
	form->builder = NULL;
}

/* Reads the multipart body into form->files and form->manifest. */
static void submit_read_multipart(struct request *req, struct form *form)
{
	static const struct mp_callbacks callbacks = { form_part_begin, form_part_data, form_part_end };
	char boundary[MP_BOUNDARY_MAX + 1];
	struct mp_parser *mp;
	char *chunk;
	size_t n;

	if (mp_boundary_from_content_type(req->content_type, boundary, sizeof boundary) < 0) {
		submit_fail(form->err, 400, NULL, "Content-Type multipart/form-data needs a valid boundary");
		return;
	}
	mp = mp_parser_new(boundary, &callbacks, form);
	if (!mp) {
		submit_fail(form->err, 500, NULL, "out of memory");
		return;
	}
	chunk = xmalloc(BODY_CHUNK);
	while ((n = request_read(req, chunk, BODY_CHUNK)) > 0) {
		enum mp_status st = mp_feed(mp, chunk, n);
		if (st == MP_ERR_CALLBACK)
			break; /* the callback recorded why */
		if (st != MP_OK) {
			submit_fail(form->err, st == MP_ERR_LIMIT ? 413 : 400, NULL,
				    "the multipart body is malformed: %s", mp_error(mp));
			break;
		}
	}
	if (!form->err->status && mp_finish(mp) != MP_OK)
		submit_fail(form->err, 400, NULL, "the multipart body is malformed: %s", mp_error(mp));
	free(chunk);
	mp_parser_free(mp);
	if (form->err->status)
		return;
	if (!form->have_files)
		submit_fail(form->err, 400, "files", "files is missing: attach the archive with -F files=@job.tar.gz");
	else
		submit_files_to_archive(form);
	/* A manifest object without an entrypoint (the original's admin console sends "{}"):
	 * the entrypoint of the default manifest, when the upload has one. */
	if (!form->err->status && form->have_manifest) {
		json_t *m = json_loadb(form->manifest.data ? form->manifest.data : "", form->manifest.len,
				       JSON_REJECT_DUPLICATES, NULL);
		struct buf def = { 0 };
		char why[512];

		if (json_is_object(m) && !json_object_get(m, "entrypoint") &&
		    upload_default_manifest(form->files.data, form->files.len, form->limits, &def, why, sizeof why) == 0) {
			json_t *d = json_loadb(def.data ? def.data : "", def.len, 0, NULL);
			json_t *ep = json_object_get(d, "entrypoint");
			char *text;

			if (json_is_string(ep) && json_object_set(m, "entrypoint", ep) == 0 &&
			    (text = json_dumps(m, JSON_COMPACT))) {
				free(form->manifest.data);
				memset(&form->manifest, 0, sizeof form->manifest);
				buf_append(&form->manifest, text, strlen(text));
				free(text);
			}
			json_decref(d);
		}
		free(def.data);
		json_decref(m);
	}
	/* No manifest: the upload's job.json, or its one obvious entrypoint (fcgi/upload.c). */
	if (!form->err->status && !form->have_manifest) {
		char why[512];
		int st = upload_default_manifest(form->files.data, form->files.len, form->limits, &form->manifest,
						 why, sizeof why);
		if (st)
			submit_fail(form->err, st, "manifest", "%s", why);
	}
}

/* Reads a JSON body whole (bounded), returns the parsed object or NULL. */
static json_t *submit_read_json(struct request *req, const struct sandrun_limits *limits,
				struct submit_error *err)
{
	struct buf body = { 0 };
	int64_t max = limits->upload_max_bytes + limits->manifest_max_bytes;
	char *chunk = xmalloc(BODY_CHUNK);
	json_error_t jerr;
	json_t *root = NULL;
	size_t n;

	while ((n = request_read(req, chunk, BODY_CHUNK)) > 0) {
		if ((int64_t)(body.len + n) > max) {
			submit_fail(err, 413, NULL, "the JSON body is larger than %lld bytes", (long long)max);
			goto done;
		}
		buf_append(&body, chunk, n);
	}
	root = json_loadb(body.data ? body.data : "", body.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		submit_fail(err, 400, NULL, "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
			    jerr.line, jerr.column);
	else if (!json_is_object(root)) {
		submit_fail(err, 400, NULL, "the body must be a JSON object");
		json_decref(root);
		root = NULL;
	}
done:
	free(chunk);
	free(body.data);
	return root;
}

/*
 * What a job may make Redis keep at most, reserved at submit (the storage
 * ledger, redis/store-lib.lua): its log, both streams full, in as many
 * entries as the runner writes at most; and its record, with the manifest.
 * The upload is added by the script (its exact size); outputs are reserved
 * by the runner as it stores them.
 */
static int64_t submit_log_reservation(const struct sandrun_limits *l)
{
	return 2 * l->log_max_bytes + 256 + (int64_t)LOG_ENTRIES_MAX * STORE_LOG_ENTRY_COST;
}

/*
 * Admits, records and queues the job in one Redis script (redis/submit.lua):
 * 0 when queued; 1 when the client's quota refuses it (err holds the 429
 * and *retry_after); 2 when Redis is too full to take it (err holds the
 * 503's reason); -1 when Redis failed (the caller answers 503).
 */
static int submit_record(struct request *req, const char *id, const char *manifest_json, const char *queue,
			 int64_t timeout, const struct buf *archive, struct submit_error *err,
			 long *retry_after)
{
	const struct sandrun_limits *l = request_limits(req);
	char client[QUOTA_KEY_MAX];
	struct store_submit_result res;
	struct store_submit p = {
		.id = id, .client = client, .queue = queue, .manifest = manifest_json,
		.upload = archive->data, .upload_len = archive->len, .now_ms = time_now_ms(),
		/* A job not started within queued_max_seconds is dropped; one started has its timeout to end. */
		.ttl_s = l->queued_max_seconds + timeout + l->retention_seconds,
		.jobs_max = l->quota_jobs_max, .cpu_limit = l->quota_cpu_seconds,
		.window_ms = l->quota_window_seconds * 1000, .idle_ms = l->quota_idle_seconds * 1000,
		.log_bytes = submit_log_reservation(l),
		.base_bytes = STORE_RECORD_COST + (int64_t)strlen(manifest_json),
		.storage_quota = l->quota_storage_bytes, .high_water_percent = l->redis_memory_high_water_percent,
		.timeout_s = timeout,
	};
	int rc;

	request_client(req, client, sizeof client);
	/* First the verdict without the upload: an upload that would be refused
	 * never passes through Redis's memory. Then the job, upload and all;
	 * quotas are checked again there, in the same step as the write. */
	rc = store_submit(&req->srv->redis, &p, &res);
	if (rc == STORE_UNREACHABLE) {
		log_error(req->id, "submit: %s", req->srv->redis.error);
		return -1;
	}
	if (rc < 0) {
		log_error(req->id, "%s", req->srv->redis.error);
		return -1;
	}
	switch (res.verdict) {
	case STORE_SUBMIT_ADMITTED:
		return 0;
	case STORE_SUBMIT_REDIS_FULL:
		log_warn(req->id, "submit refused: Redis is over its maxmemory");
		submit_fail(err, 503, NULL, "the service is holding as much data as it can right now; "
			    "try again once running jobs have finished");
		*retry_after = MEMORY_FULL_RETRY_SECONDS;
		return 2;
	case STORE_SUBMIT_OVER_CPU:
		*retry_after = (long)((res.figure + 999) / 1000);
		submit_fail(err, 429, NULL, "CPU quota exhausted (%.1f/%.1f seconds used)", res.used,
			    l->quota_cpu_seconds);
		return 1;
	case STORE_SUBMIT_OVER_STORAGE:
		*retry_after = res.figure > 0 ? (long)((res.figure + 999) / 1000) : STORAGE_RETRY_SECONDS;
		submit_fail(err, 429, NULL, "storage quota exhausted: this address's jobs hold %.1f of "
			    "%.1f MB in the job store, and this job needs %.1f MB more (delete or download "
			    "finished jobs to free it)", res.used / 1e6, (double)l->quota_storage_bytes / 1e6,
			    (double)(archive->len + p.log_bytes + p.base_bytes) / 1e6);
		return 1;
	case STORE_SUBMIT_OVER_MEMORY:
		log_warn(req->id, "submit refused: Redis holds %.0f of %lld bytes (high-water mark %lld%%)",
			 res.used, res.figure, (long long)l->redis_memory_high_water_percent);
		*retry_after = MEMORY_FULL_RETRY_SECONDS;
		submit_fail(err, 503, NULL, "the service is holding as much data as it can right now "
			    "(%.0f%% of its memory, the mark is %lld%%); try again once running jobs have finished",
			    res.figure > 0 ? 100.0 * res.used / (double)res.figure : 100.0,
			    (long long)l->redis_memory_high_water_percent);
		return 2;
	case STORE_SUBMIT_OVER_JOBS:
		break;
	}
	/* A slot frees when one of the client's jobs ends: no date to give, so a short wait. */
	*retry_after = QUOTA_JOBS_RETRY_SECONDS;
	submit_fail(err, 429, NULL, "%.0f jobs already queued or running (limit %lld at once)",
		    res.used, (long long)l->quota_jobs_max);
	return 1;
}

/* 503 in the contract's shape with the retry hint: the service is full, not down. */
static void submit_respond_full(struct request *req, const char *reason, long retry_after)
{
	char headers[64];

	snprintf(headers, sizeof headers, "Retry-After: %ld\r\n", retry_after);
	respond_json(req, 503, json_pack("{s:s, s:s, s:I}", "error", "Service unavailable", "reason", reason,
					 "retry_after", (json_int_t)retry_after), headers);
}

/*
 * What no live runner could run is refused now, with the reason, rather
 * than queued to fail later: an environment none has, an interpreter its
 * environment lacks, a GPU none matches. queue gets where the job goes:
 * the main queue, or the queue of the GPU runners that match. With no live
 * runner at all (none started yet, or Redis slow) the job is queued: the
 * runner that takes it decides.
 */
static void submit_check_fleet(struct request *req, const struct manifest *m, char *queue, size_t qlen,
			       struct submit_error *err)
{
	struct fleet f;
	const json_t *env;
	char why[300];

	snprintf(queue, qlen, "%s", STORE_KEY_QUEUE);
	if (fleet_load(req, &f) < 0 || f.live == 0) {
		if (m->gpu.present && m->gpu.required)
			submit_fail(err, 400, "gpu", "no live runner has a GPU, so gpu.required cannot be met");
		goto out;
	}
	if (!(env = fleet_environment(&f, m->environment))) {
		submit_fail(err, 400, "environment", "environment %s is not installed on any runner "
			    "(GET /environments lists what is)", m->environment);
		goto out;
	}
	if (m->interpreter && !fleet_environment_has_interpreter(env, m->interpreter)) {
		submit_fail(err, 400, "interpreter", "interpreter %s is not installed in environment %s "
			    "(GET /environments lists what is)", m->interpreter, m->environment);
		goto out;
	}
	if (m->gpu.present && m->gpu.required) {
		const char *q = fleet_gpu_queue(&f, &m->gpu, why, sizeof why);

		if (!q && json_array_size(f.gpus) == 0)
			submit_fail(err, 400, "gpu", "no live runner has a GPU, so gpu.required cannot be met");
		else if (!q)
			submit_fail(err, 400, "gpu", "no live runner has a GPU with at least %.0f GB and CUDA %s (%s)",
				    m->gpu.min_vram_gb, m->gpu.cuda_version ? m->gpu.cuda_version : "of any version",
				    why);
		else
			snprintf(queue, qlen, "%s", q);
	}
out:
	fleet_free(&f);
}

void handle_submit(struct request *req, const char *unused)
{
	const struct sandrun_limits *limits = request_limits(req);
	struct submit_error err = { 0 };
	struct form form = { .limits = limits, .err = &err };
	struct manifest *m = NULL;
	struct manifest_error merr;
	struct buf *archive = &form.files;
	json_t *root = NULL;
	char id[JOBID_LEN + 1], headers[128], queue[128], *manifest_json = NULL;
	long retry_after = 0;
	int status;

	(void)unused;
	if (req->content_length > limits->upload_max_bytes + limits->manifest_max_bytes) {
		submit_fail(&err, 413, NULL, "the body is larger than the %lld byte upload limit",
			    (long long)limits->upload_max_bytes);
	} else if (strncasecmp(req->content_type, "multipart/form-data", 19) == 0) {
		submit_read_multipart(req, &form);
		if (!err.status && manifest_parse(form.manifest.data ? form.manifest.data : "",
						  form.manifest.len, limits, &m, &merr) < 0)
			submit_fail(&err, 400, *merr.field ? merr.field : "manifest", "%s", merr.reason);
	} else if (strncasecmp(req->content_type, "application/json", 16) == 0) {
		root = submit_read_json(req, limits, &err);
		if (root) {
			json_t *files = json_incref(json_object_get(root, "files"));

			json_object_del(root, "files");
			if (!files)
				submit_fail(&err, 400, "files", "files is missing: give {\"path\": \"content\"} pairs");
			else if (manifest_from_json(root, limits, &m, &merr) < 0)
				submit_fail(&err, 400, *merr.field ? merr.field : "manifest", "%s", merr.reason);
			else if ((status = upload_from_json_files(files, limits, &form.files, err.field,
								  sizeof err.field, err.reason,
								  sizeof err.reason)) != 0)
				err.status = status;
			json_decref(files);
		}
	} else {
		submit_fail(&err, 415, NULL, "send multipart/form-data (files and manifest) or application/json");
	}
	request_drain(req);

	if (!err.status)
		submit_check_fleet(req, m, queue, sizeof queue, &err);
	if (!err.status && (status = upload_inspect(archive->data, archive->len, limits, m, err.field,
						     sizeof err.field, err.reason, sizeof err.reason)) != 0)
		err.status = status;
	if (err.status) {
		respond_error(req, err.status, NULL, err.field, "%s", err.reason);
		goto done;
	}
	if (jobid_generate(id) < 0) {
		respond_error(req, 500, NULL, NULL, "cannot make a job id");
		goto done;
	}
	manifest_json = manifest_to_json(m);
	if (!manifest_json) {
		respond_error(req, 500, NULL, NULL, "cannot encode the manifest");
		goto done;
	}
	switch (submit_record(req, id, manifest_json, queue, m->timeout, archive, &err, &retry_after)) {
	case 1:
		respond_rate_limited(req, err.reason, retry_after);
		goto done;
	case 2:
		submit_respond_full(req, err.reason, retry_after);
		goto done;
	case -1:
		respond_unavailable(req, "the job store is unreachable; the job was not accepted");
		goto done;
	}
	/* The one line that names the client's address: it carries the request
	 * id and the job id's first characters, never the whole id, so the log
	 * is no key to anyone's job (SECURITY.md). Enough for an operator to
	 * find the job in the other lines (they carry the full id, no address). */
	log_info(req->id, "queued job %.*s... from %s (%zu byte upload)", LOG_JOB_ID_PREFIX, id, req->remote_addr,
		 archive->len);
	snprintf(headers, sizeof headers, "Location: /status/%s\r\n", id);
	job_answer_after_submit(req, id, headers);
done:
	free(manifest_json);
	manifest_free(m);
	json_decref(root);
	free(form.files.data);
	free(form.manifest.data);
	for (int i = 0; i < form.have_files; i++) {
		free(form.parts[i].filename);
		free(form.parts[i].data.data);
	}
	free(form.parts);
}
