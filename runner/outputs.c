/*
 * Storing a job's outputs (runner/outputs.h). The stream comes from the
 * job's init, which ran as the job's user: outputs_parse() (a pure parser,
 * runner/outputs_parse.c, fuzzed) checks every length and every path; this
 * file only walks its entries, stores the files through the storage
 * ledger (store_output_put, common/store.h) and writes the listings. A file whose
 * path is not a normalized relative UTF-8 path (what GET
 * /download/{id}/{path} can name) is listed as skipped, "bad_name".
 */
#include "outputs.h"
#include "outputs_parse.h"
#include "sandbox.h"
#include "sign.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *outputs_name(const char *p, size_t len)
{
	size_t outlen;
	char *clean = utf8_sanitize(p, len, &outlen);
	json_t *s = json_stringn(clean, outlen);

	free(clean);
	return s ? s : json_string("?");
}

/* Stores one file through the storage ledger (store_output_put): verdict NULL (kept),
 * or the kind it is listed as when refused. 0, or -1 with err set. *p holds
 * what every file of the job shares. */
static int outputs_store_file(struct rconn *r, struct store_output *p, const char *path, size_t path_len,
			      const char *content, size_t size, bool first, const char **verdict, char *err,
			      size_t errlen)
{
	enum store_output_verdict v;

	p->path = path;
	p->path_len = path_len;
	p->content = content;
	p->size = size;
	p->first = first;
	p->now_ms = time_now_ms();
	if (store_output_put(r, p, &v) < 0)
		return error_format(err, errlen, "cannot store the outputs: %s", r->error);
	*verdict = v == STORE_OUTPUT_OVER_QUOTA ? "storage_quota" : v == STORE_OUTPUT_FULL ? "storage_full" :
		   v == STORE_OUTPUT_KEPT ? NULL : "job_gone";
	return 0;
}

int outputs_store(struct rconn *r, const char *id, const char *client, const char *data, size_t len,
		  int64_t ttl, size_t files_max, const struct outputs_budget *budget, struct outputs_result *res,
		  char *err, size_t errlen)
{
	struct job_keys k;
	struct store_output file = { .id = id, .client = client, .ttl_s = ttl, .quota_bytes = budget->quota_bytes,
				     .results_percent = budget->results_percent };
	json_t *files = json_object(), *skipped = json_array();
	struct outputs_parsed parsed = { 0 };
	redisReply *reply;
	int rc = -1;

	memset(res, 0, sizeof *res);
	job_keys_make(id, &k);
	/* what an earlier run of the job may have left */
	reply = rconn_command(r, "DEL %s", k.out);
	if (!reply) {
		error_format(err, errlen, "cannot store the outputs: %s", r->error);
		goto out;
	}
	freeReplyObject(reply);

	/* init lists files_max entries at most, then one SANDBOX_OUT_TOO_MANY */
	if (outputs_parse(data, len, files_max < SIZE_MAX ? files_max + 1 : files_max, &parsed) < 0) {
		error_format(err, errlen, "cannot parse the outputs: out of memory");
		goto out;
	}
	res->incomplete = parsed.incomplete;
	res->over_limit = parsed.over_limit;
	res->too_many = parsed.too_many;
	for (size_t i = 0; i < parsed.n; i++) {
		const struct outputs_entry *e = &parsed.entries[i];
		json_t *o = json_object();
		const char *verdict;
		char norm[OUTPUTS_PATH_MAX];
		char hex[SIGN_SHA256_HEX_LEN + 1];

		if (e->kind != SANDBOX_OUT_FILE || e->bad_name) {
			json_object_set_new(o, "path", outputs_name(e->path, e->path_len));
			json_object_set_new(o, "kind", json_string(e->bad_name ? "bad_name" :
								   sandbox_out_kind_name(e->kind)));
			if (e->kind == SANDBOX_OUT_TOO_LARGE)
				json_object_set_new(o, "size", json_integer((json_int_t)e->size));
			json_array_append_new(skipped, o);
			continue;
		}
		/* a good name is its own normalized form, without NUL (outputs_parse.h) */
		memcpy(norm, e->path, e->path_len);
		norm[e->path_len] = '\0';
		if (outputs_store_file(r, &file, norm, e->path_len, e->content, (size_t)e->size,
				       res->nfiles + res->not_kept == 0, &verdict, err, errlen) < 0) {
			json_decref(o);
			goto out;
		}
		if (verdict) {
			/* Not kept: listed, so the job says so (and fails: runner/job.c). */
			json_object_set_new(o, "path", json_stringn(norm, e->path_len));
			json_object_set_new(o, "kind", json_string(verdict));
			json_object_set_new(o, "size", json_integer((json_int_t)e->size));
			json_array_append_new(skipped, o);
			res->not_kept++;
			continue;
		}
		sign_sha256_hex(e->content, (size_t)e->size, hex);
		json_object_set_new(o, "size", json_integer((json_int_t)e->size));
		json_object_set_new(o, "sha256", json_string(hex));
		json_object_set_new(files, norm, o);
		res->nfiles++;
		res->bytes += (int64_t)e->size;
	}
	res->listing = json_dumps(files, JSON_COMPACT | JSON_PRESERVE_ORDER);
	res->skipped = json_dumps(skipped, JSON_COMPACT);
	rc = res->listing && res->skipped ? 0 : -1;
	if (rc < 0)
		error_format(err, errlen, "cannot encode the outputs listing");

out:
	outputs_parsed_free(&parsed);
	json_decref(files);
	json_decref(skipped);
	return rc;
}
