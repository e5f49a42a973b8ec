/*
 * GET /metrics: Prometheus' text exposition format (0.0.4), HELP and TYPE
 * lines with every family.
 *
 * Responders are many, on any number of hosts, and keep no state: a
 * counter kept in one of them would count that responder's share and
 * vanish with it. So every figure is read from Redis at scrape time: the
 * queues and the runs the way GET /stats reads them (system_load_get,
 * fcgi/jobs.c), the slots from the live runners' heartbeats (sr:runners,
 * sr:runner:NAME: runner/main.c writes slots and busy every
 * LEASE_REFRESH_MS). When Redis cannot be read, sandrun_up is 0 and the
 * other families are left out rather than reported as zeros.
 *
 * nginx lets only loopback reach this route (nginx/sandrun.conf.in).
 */
#include "config.h"
#include "jobs.h"
#include "keys.h"
#include "routes.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_RUNNERS_MAX 256      /* live runners asked for their slots; as fleet.c bounds it */
#define METRICS_SLOTS_MAX   (1 << 20) /* one runner's slots figure above this is not believed */

struct runner_slots {
	long long slots, busy;
};

/* Sums the slots and busy fields of the live runners' heartbeats. 0, or -1 when Redis failed. */
static int metrics_runner_slots(struct request *req, struct runner_slots *out)
{
	char since[24];
	redisReply *names;

	out->slots = out->busy = 0;
	snprintf(since, sizeof since, "%lld", (long long)(time_now_ms() - LEASE_MS));
	names = rconn_command(&req->srv->redis, "ZRANGEBYSCORE %s %s +inf LIMIT 0 %d", KEY_RUNNERS, since,
			      METRICS_RUNNERS_MAX);
	if (!names || names->type != REDIS_REPLY_ARRAY) {
		if (names)
			freeReplyObject(names);
		return -1;
	}
	for (size_t i = 0; i < names->elements; i++) {
		const redisReply *name = names->element[i];
		char key[KEY_MAX + 256];
		redisReply *r;
		int64_t slots = 0, busy = 0;

		if (name->type != REDIS_REPLY_STRING || name->len > 200)
			continue;
		snprintf(key, sizeof key, KEY_RUNNER_FMT, name->str);
		r = rconn_command(&req->srv->redis, "HMGET %s slots busy", key);
		if (!r) {
			freeReplyObject(names);
			return -1;
		}
		/* A heartbeat is the runner's word: a figure that does not parse counts 0. */
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
			if (r->element[0]->type != REDIS_REPLY_STRING ||
			    parse_int64(r->element[0]->str, 0, METRICS_SLOTS_MAX, &slots) < 0)
				slots = 0;
			if (r->element[1]->type != REDIS_REPLY_STRING ||
			    parse_int64(r->element[1]->str, 0, slots, &busy) < 0)
				busy = 0;
		}
		out->slots += slots;
		out->busy += busy;
		freeReplyObject(r);
	}
	freeReplyObject(names);
	return 0;
}

/* One family with one unlabelled sample. */
static void metrics_gauge(struct buf *b, const char *name, const char *help, long long value)
{
	char text[512];

	snprintf(text, sizeof text, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, value);
	buf_append_str(b, text);
}

void handle_metrics(struct request *req, const char *unused)
{
	struct system_load load;
	struct runner_slots rs;
	struct buf b = { 0 };
	bool up;

	(void)unused;
	up = system_load_get(req, &load) == 0 && metrics_runner_slots(req, &rs) == 0;
	metrics_gauge(&b, "sandrun_up", "Whether the responder could read the job store (Redis): 1 yes, 0 no.",
		      up ? 1 : 0);
	buf_append_str(&b, "# HELP sandrun_build_info The responder's version.\n"
			   "# TYPE sandrun_build_info gauge\n"
			   "sandrun_build_info{version=\"" PACKAGE_VERSION "\"} 1\n");
	if (up) {
		metrics_gauge(&b, "sandrun_queue_length",
			      "Jobs waiting for a runner, over every queue (CPU and GPU).", load.queue_length);
		metrics_gauge(&b, "sandrun_jobs_active",
			      "Jobs handed to a runner and not yet finished (pending in the runners' group).",
			      load.active);
		metrics_gauge(&b, "sandrun_runners_live",
			      "Runners whose last heartbeat is within their lease (alive).", load.runners);
		metrics_gauge(&b, "sandrun_runner_slots",
			      "Jobs the live runners can run at once (the sum of their slots).", rs.slots);
		metrics_gauge(&b, "sandrun_runner_slots_busy",
			      "Slots of the live runners running a job now.", rs.busy);
	}
	respond_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
	free(b.data);
}
