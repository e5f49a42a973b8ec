/*
 * The job's outputs, as init streamed them (runner/sandbox.h): parsed,
 * hashed (SHA-256) and stored in Redis, the bytes in sr:{ID}:out (one
 * field per path) and the listing as JSON for the job field "outputs".
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
};

/*
 * Parses `data` (the whole stream), stores every file in the job's outputs
 * hash with a provisional TTL of ttl seconds (finish.lua sets the final one)
 * and fills *res. Returns 0, or -1 with err set when Redis failed.
 */
int outputs_store(struct rconn *r, const char *id, const char *data, size_t len, int64_t ttl,
		  struct outputs_result *res, char *err, size_t errlen);

#endif
