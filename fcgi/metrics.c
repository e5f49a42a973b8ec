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
 * The counters (jobs submitted, started and finished, the runs' CPU, the
 * histograms of their wall time and of their sandboxes' start, sessions
 * created and ended, clients' errors by route) are one hash in Redis,
 * sr:metrics: the scripts that change a job's or a session's state count
 * in the same step (redis/metrics-lib.lua), and a responder counts the 4xx
 * it answers (metrics_count_error). A histogram's fields count each bucket
 * on its own; here they are added up into Prometheus' cumulative buckets.
 *
 * nginx lets only loopback reach this route (nginx/sandrun-server.conf.in).
 */
#include "config.h"
#include "jobs.h"
#include "log.h"
#include "rconn.h"
#include "routes.h"
#include "store.h"
#include "util.h"

#include <hiredis/hiredis.h>
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

/* The histograms' bounds, as redis/metrics-lib.lua spells them (its METRICS_BOUNDS). */
static const char *const metrics_bounds[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
					      "2.5", "5", "10", "30", "60", "300", "1800", "3600", "+Inf" };

/* The value of `field` in HGETALL's reply, or NULL. */
static const char *metrics_field(const redisReply *h, const char *field)
{
	for (size_t i = 0; h && i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, field) == 0 &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING)
			return h->element[i + 1]->str;
	return NULL;
}

static double metrics_number(const redisReply *h, const char *field)
{
	const char *v = metrics_field(h, field);

	return v ? strtod(v, NULL) : 0;
}

static void metrics_counter(struct buf *b, const redisReply *h, const char *name, const char *field,
			    const char *help)
{
	char text[512];

	snprintf(text, sizeof text, "# HELP %s %s\n# TYPE %s counter\n%s %.15g\n", name, help, name, name,
		 metrics_number(h, field));
	buf_append_str(b, text);
}

/* A histogram kept as per-bucket counts HIST|le|BOUND, HIST|sum, HIST|count. */
static void metrics_histogram(struct buf *b, const redisReply *h, const char *name, const char *hist,
			      const char *help)
{
	char text[512], field[96];
	double cumulative = 0;

	snprintf(text, sizeof text, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	buf_append_str(b, text);
	for (size_t i = 0; i < sizeof metrics_bounds / sizeof metrics_bounds[0]; i++) {
		snprintf(field, sizeof field, "%s|le|%s", hist, metrics_bounds[i]);
		cumulative += metrics_number(h, field);
		snprintf(text, sizeof text, "%s_bucket{le=\"%s\"} %.15g\n", name, metrics_bounds[i], cumulative);
		buf_append_str(b, text);
	}
	snprintf(field, sizeof field, "%s|sum", hist);
	snprintf(text, sizeof text, "%s_sum %.15g\n", name, metrics_number(h, field));
	buf_append_str(b, text);
	snprintf(text, sizeof text, "%s_count %.15g\n", name, cumulative);
	buf_append_str(b, text);
}

/* A counter family with labels, from the fields PREFIX|V1|V2 (labels l1, l2), or PREFIX|V1 (l2 NULL). */
static void metrics_labelled(struct buf *b, const redisReply *h, const char *name, const char *prefix,
			     const char *l1, const char *l2, const char *help)
{
	char text[768];
	size_t plen = strlen(prefix);

	snprintf(text, sizeof text, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	buf_append_str(b, text);
	for (size_t i = 0; h && i + 1 < h->elements; i += 2) {
		const char *f = h->element[i]->str, *v1, *bar;

		if (h->element[i]->type != REDIS_REPLY_STRING || strncmp(f, prefix, plen) != 0 || f[plen] != '|')
			continue;
		v1 = f + plen + 1;
		bar = strchr(v1, '|');
		/* label values from a fixed set (route patterns, status words): no quote or backslash */
		if ((l2 != NULL) != (bar != NULL) || strpbrk(v1, "\"\\\n") ||
		    h->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		if (l2)
			snprintf(text, sizeof text, "%s{%s=\"%.*s\",%s=\"%s\"} %.15g\n", name, l1, (int)(bar - v1), v1,
				 l2, bar + 1, strtod(h->element[i + 1]->str, NULL));
		else
			snprintf(text, sizeof text, "%s{%s=\"%s\"} %.15g\n", name, l1, v1,
				 strtod(h->element[i + 1]->str, NULL));
		buf_append_str(b, text);
	}
}

void metrics_count_error(struct request *req)
{
	char field[160];
	redisReply *r;

	snprintf(field, sizeof field, "http_errors|%s|%d", req->route ? req->route : "none", req->status);
	r = rconn_command(&req->srv->redis, "HINCRBY %s %s 1", STORE_KEY_METRICS, field);
	if (!r)
		log_warn(req->id, "metrics: %s", req->srv->redis.error);
	freeReplyObject(r);
}

void handle_metrics(struct request *req, const char *unused)
{
	struct system_load load;
	struct buf b = { 0 };
	redisReply *counters = NULL;
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
		counters = rconn_command(&req->srv->redis, "HGETALL %s", STORE_KEY_METRICS);
		if (counters && counters->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(counters);
			counters = NULL;
		}
	}
	if (counters) {
		metrics_counter(&b, counters, "sandrun_jobs_submitted_total", "jobs_submitted",
				"Jobs admitted by POST /submit (and the MCP tool that submits).");
		metrics_counter(&b, counters, "sandrun_jobs_started_total", "jobs_started",
				"Runs of jobs started by a runner (a job taken over after its runner died runs again).");
		metrics_labelled(&b, counters, "sandrun_jobs_finished_total", "jobs_finished", "status", "reason",
				 "Jobs ended, by status and reason (completed, failed: exit_code, timeout, "
				 "memory_limit, output_limit, internal; cancelled).");
		metrics_counter(&b, counters, "sandrun_job_cpu_seconds_total", "job_cpu_seconds",
				"CPU seconds used by the jobs' runs, as their cgroups counted them.");
		metrics_histogram(&b, counters, "sandrun_job_wall_seconds", "job_wall_seconds",
				  "Wall time of the jobs' runs, in seconds.");
		metrics_histogram(&b, counters, "sandrun_sandbox_start_seconds", "sandbox_start_seconds",
				  "From a job's spec ready to its sandbox started (a sandbox built ahead: its go; "
				  "else the cgroup, the clone and init's start), in seconds.");
		metrics_counter(&b, counters, "sandrun_sessions_created_total", "sessions_created",
				"Sessions created (POST /sessions, and the MCP tool that creates one).");
		metrics_labelled(&b, counters, "sandrun_sessions_ended_total", "sessions_ended", "reason", NULL,
				 "Sessions ended, by reason (deleted, idle, expired, no_sandbox, runner_lost, ...).");
		metrics_labelled(&b, counters, "sandrun_http_client_errors_total", "http_errors", "route", "code",
				 "Answers 4xx (429 included) given by the responders, by route and status "
				 "(nginx's own, such as its request-rate 429, are in its log).");
		freeReplyObject(counters);
	}
	respond_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
	free(b.data);
}
