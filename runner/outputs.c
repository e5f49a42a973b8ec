/*
 * Storing a job's outputs (runner/outputs.h). The stream comes from the
 * job's init, which ran as the job's user: it is parsed defensively, every
 * length checked against what is left, and every path must be a normalized
 * relative UTF-8 path (what GET /download/{id}/{path} can name), else it is
 * listed as skipped.
 */
#include "keys.h"
#include "outputs.h"
#include "path.h"
#include "sandbox.h"
#include "util.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void outputs_sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		hex[0] = '\0';
		return;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static json_t *outputs_name(const char *p, size_t len)
{
	size_t outlen;
	char *clean = utf8_sanitize(p, len, &outlen);
	json_t *s = json_stringn(clean, outlen);

	free(clean);
	return s ? s : json_string("?");
}

int outputs_store(struct rconn *r, const char *id, const char *data, size_t len, int64_t ttl,
		  const struct outputs_budget *budget, struct outputs_result *res, char *err, size_t errlen)
{
	char key[KEY_MAX], job_key[KEY_MAX], ttl_s[24], quota[24], percent[8], cost[16];
	json_t *files = json_object(), *skipped = json_array();
	size_t off = 0;
	bool ended = false;
	redisReply *reply;
	int rc = -1;

	memset(res, 0, sizeof *res);
	snprintf(key, sizeof key, KEY_OUT_FMT, id);
	snprintf(job_key, sizeof job_key, KEY_JOB_FMT, id);
	snprintf(ttl_s, sizeof ttl_s, "%lld", (long long)ttl);
	snprintf(quota, sizeof quota, "%lld", (long long)budget->quota_bytes);
	snprintf(percent, sizeof percent, "%lld", (long long)budget->results_percent);
	snprintf(cost, sizeof cost, "%d", STORE_OUTPUT_COST);
	/* what an earlier run of the job may have left */
	reply = rconn_command(r, "DEL %s", key);
	if (!reply)
		goto redis_failed;
	freeReplyObject(reply);

	while (!ended) {
		struct sandbox_out_header h;
		const char *path;
		char norm[4096];

		if (len - off < sizeof h) {
			res->incomplete = true;
			break;
		}
		memcpy(&h, data + off, sizeof h);
		off += sizeof h;
		if (h.path_len > len - off || h.path_len >= sizeof norm) {
			res->incomplete = true;
			break;
		}
		path = data + off;
		off += h.path_len;
		switch (h.kind) {
		case SANDBOX_OUT_END:
			ended = true;
			continue;
		case SANDBOX_OUT_FILE:
			if (h.size > len - off) {
				res->incomplete = true;
				ended = true;
				continue;
			}
			break;
		case SANDBOX_OUT_TOO_LARGE:
			res->over_limit = true;
			break;
		case SANDBOX_OUT_TOO_MANY:
			res->too_many = true;
			break;
		default:
			break;
		}
		if (h.kind == SANDBOX_OUT_FILE) {
			const char *content = data + off;
			size_t utf_len;
			char *utf = utf8_sanitize(path, h.path_len, &utf_len);
			bool good = utf_len == h.path_len && memcmp(utf, path, utf_len) == 0
				&& path_normalize_relative(path, h.path_len, norm, sizeof norm) == 0
				&& strlen(norm) == h.path_len && memcmp(norm, path, h.path_len) == 0;

			free(utf);
			off += (size_t)h.size;
			if (!good) {
				json_t *o = json_object();

				json_object_set_new(o, "path", outputs_name(path, h.path_len));
				json_object_set_new(o, "kind", json_string("bad_name"));
				json_array_append_new(skipped, o);
				continue;
			}
			{
				char now[24];
				const char *argv[] = { job_key, key, id, norm, content, now, ttl_s, quota, percent,
						       res->nfiles + res->not_kept == 0 ? "1" : "0", cost };
				size_t lens[11];
				char hex[65];
				json_t *o = json_object();
				const char *verdict;

				snprintf(now, sizeof now, "%lld", (long long)time_now_ms());
				for (size_t i = 0; i < 11; i++)
					lens[i] = strlen(argv[i]);
				lens[3] = h.path_len;
				lens[4] = (size_t)h.size;
				reply = rconn_script(r, redis_script_store_output, 2, 11, argv, lens);
				if (!reply) {
					json_decref(o);
					goto redis_failed;
				}
				if (reply->type != REDIS_REPLY_STRING) {
					error_format(err, errlen, "cannot store an output: %s",
						     reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
					freeReplyObject(reply);
					json_decref(o);
					goto out;
				}
				verdict = strcmp(reply->str, "quota") == 0 ? "storage_quota" :
					  strcmp(reply->str, "full") == 0 ? "storage_full" :
					  strcmp(reply->str, "ok") == 0 ? NULL : "job_gone";
				freeReplyObject(reply);
				if (verdict) {
					/* Not kept: listed, so the job says so (and fails: runner/job.c). */
					json_object_set_new(o, "path", json_stringn(norm, h.path_len));
					json_object_set_new(o, "kind", json_string(verdict));
					json_object_set_new(o, "size", json_integer((json_int_t)h.size));
					json_array_append_new(skipped, o);
					res->not_kept++;
					continue;
				}
				outputs_sha256_hex(content, (size_t)h.size, hex);
				json_object_set_new(o, "size", json_integer((json_int_t)h.size));
				json_object_set_new(o, "sha256", json_string(hex));
				json_object_set_new(files, norm, o);
				res->nfiles++;
				res->bytes += (int64_t)h.size;
			}
		} else {
			json_t *o = json_object();

			json_object_set_new(o, "path", outputs_name(path, h.path_len));
			json_object_set_new(o, "kind", json_string(sandbox_out_kind_name(h.kind)));
			if (h.kind == SANDBOX_OUT_TOO_LARGE)
				json_object_set_new(o, "size", json_integer((json_int_t)h.size));
			json_array_append_new(skipped, o);
		}
	}
	res->listing = json_dumps(files, JSON_COMPACT | JSON_PRESERVE_ORDER);
	res->skipped = json_dumps(skipped, JSON_COMPACT);
	rc = res->listing && res->skipped ? 0 : -1;
	if (rc < 0)
		error_format(err, errlen, "cannot encode the outputs listing");
	goto out;

redis_failed:
	error_format(err, errlen, "cannot store the outputs: %s", r->error);
out:
	json_decref(files);
	json_decref(skipped);
	return rc;
}
