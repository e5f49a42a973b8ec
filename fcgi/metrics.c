/*
 * GET /metrics: Prometheus' text exposition format (0.0.4), HELP and TYPE
 * lines with every family.
 *
 * Responders are many, on any number of hosts, and keep no state: a
 * counter kept in one of them would count that responder's share and
 * vanish with it. So every figure is read from Redis at scrape time: the
 * queues, the runs and the live runners' slots the way GET /stats reads
 * them (system_load_get, fcgi/jobs.c; the slots come from the runners'
 * heartbeats, fcgi/fleet.c). When Redis cannot be read, sandrun_up is 0 and the
 * other families are left out rather than reported as zeros.
 *
 * nginx lets only loopback reach this route (nginx/sandrun-server.conf.in).
 */
#include "config.h"
#include "jobs.h"
#include "routes.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	struct buf b = { 0 };
	bool up;

	(void)unused;
	up = system_load_get(req, &load) == 0;
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
			      "Jobs the live runners can run at once (the sum of their slots).", load.slots);
		metrics_gauge(&b, "sandrun_runner_slots_busy",
			      "Slots of the live runners running a job now.", load.slots_busy);
	}
	respond_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
	free(b.data);
}
