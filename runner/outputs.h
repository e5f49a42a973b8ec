/*
 * The job's outputs, as init streamed them (runner/sandbox.h): parsed,
 * hashed (SHA-256) and stored in Redis, the bytes in the job's outputs
 * hash (one field per path, common/store.h) and the listing as JSON for
 * the job field "outputs".
 */
#ifndef SANDRUN_OUTPUTS_H
#define SANDRUN_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rconn.h"

struct outputs_result {
	char *listing;               /* JSON for JOB_F_OUTPUTS (malloc'd), NULL on error:
	                                {"path": {"size": n, "sha256": "hex"}, ...} */
	char *skipped;               /* JSON for JOB_F_OUTPUTS_SKIPPED: [{"path", "kind"(, "size")}] */
	size_t nfiles;               /* files stored */
	int64_t bytes;               /* their total size */
	bool over_limit;             /* a file did not fit in outputs_max_bytes: it and what came after are not stored */
	bool too_many;               /* more than files_max matched */
	bool incomplete;             /* the stream ended early (init killed): what came whole is stored */
	size_t not_kept;             /* files refused by the storage quota or Redis's memory */
};

/* What the storage ledger needs to reserve outputs (redis/store_output.lua). */
struct outputs_budget {
	int64_t quota_bytes;         /* the client's storage quota */
	int64_t results_percent;     /* Redis keeps outputs only below this share of its maxmemory */
};

/*
 * Parses `data` (the whole stream, with outputs_parse(): at most files_max
 * records and init's SANDBOX_OUT_TOO_MANY), stores every file of job id
 * (submitted by client, whose storage ledger pays for them) in the job's
 * outputs hash with a provisional TTL of ttl seconds (finish.lua sets the
 * final one) and fills *res. Each file is reserved in the client's storage
 * ledger as it is stored; one refused there is listed in skipped with kind
 * "storage_quota" or "storage_full" and counted in not_kept. Returns 0, or
 * -1 with err set when Redis failed (or memory ran out).
 */
int outputs_store(struct rconn *r, const char *id, const char *client, const char *data, size_t len,
		  int64_t ttl, size_t files_max, const struct outputs_budget *budget, struct outputs_result *res,
		  char *err, size_t errlen);

#endif
