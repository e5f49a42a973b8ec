/*
 * The throughput part of `make bench` queues its jobs straight into Redis,
 * exactly as a responder records them: through the job store's submit
 * (common/store.h), the one place that knows submit.lua's keys and
 * arguments, so the bench cannot drift from the responder's contract.
 * Every job has a client of its own and quotas no job reaches: the runner
 * is what is measured, not the quota or the HTTP layer.
 *
 * Usage: bench_queue HOST:PORT COUNT UPLOAD-FILE MANIFEST-JSON
 *   the admin user's password in SANDRUN_REDIS_ADMIN_PASSWORD.
 * Prints the job ids, one per line, on stdout; "queue_ms=N" on stderr.
 * Exits 0 when every job was queued, 1 otherwise (the first refusal said).
 */
#include "jobid.h"
#include "rconn.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_UPLOAD_MAX (16 << 20)   /* the bench's upload is a few hundred bytes */

static char *bench_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = f ? malloc(BENCH_UPLOAD_MAX) : NULL;

	if (!data) {
		if (f)
			fclose(f);
		return NULL;
	}
	*len = fread(data, 1, BENCH_UPLOAD_MAX, f);
	fclose(f);
	return data;
}

int main(int argc, char **argv)
{
	const char *password = getenv("SANDRUN_REDIS_ADMIN_PASSWORD");
	struct rconn r;
	size_t upload_len;
	char *upload;
	long count;
	int64_t t0;
	int failed = 0;

	if (argc != 5 || !password || (count = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: SANDRUN_REDIS_ADMIN_PASSWORD=… %s HOST:PORT COUNT UPLOAD MANIFEST\n",
			argv[0]);
		return 2;
	}
	if (!(upload = bench_read_file(argv[3], &upload_len))) {
		fprintf(stderr, "bench_queue: %s: %s\n", argv[3], strerror(errno));
		return 2;
	}
	rconn_init(&r, argv[1], "sandrun-admin", password, 5000);
	t0 = time_now_ms();
	for (long i = 0; i < count && !failed; i++) {
		char id[JOBID_LEN + 1], client[64];
		struct store_submit_result res;
		struct store_submit p = {
			.id = id, .client = client, .queue = STORE_KEY_QUEUE, .manifest = argv[4],
			.upload = upload, .upload_len = upload_len, .now_ms = time_now_ms(),
			.ttl_s = 3600, .timeout_s = 10, .jobs_max = 1000000, .cpu_limit = 1e6,
			.window_ms = 60000, .idle_ms = 3600000,
			.log_bytes = 2 * 1048576 + 256 + 16384 * 64,
			.base_bytes = 2048 + (int64_t)strlen(argv[4]),
			.storage_quota = INT64_C(1) << 40, .high_water_percent = 100,
		};

		if (jobid_generate(id) < 0) {
			fprintf(stderr, "bench_queue: no job id: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		snprintf(client, sizeof client, "bench-%s", id + 4);
		if (store_submit(&r, &p, &res) < 0) {
			fprintf(stderr, "bench_queue: submit: %s\n", r.error);
			failed = 1;
		} else if (res.verdict != STORE_SUBMIT_ADMITTED) {
			fprintf(stderr, "bench_queue: submit refused (verdict %d)\n", (int)res.verdict);
			failed = 1;
		} else {
			printf("%s\n", id);
		}
	}
	fprintf(stderr, "queue_ms=%" PRId64 "\n", time_now_ms() - t0);
	rconn_close(&r);
	free(upload);
	return failed;
}
