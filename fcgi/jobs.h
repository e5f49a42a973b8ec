/*
 * What fcgi/jobs.c shares with the other job routes (fcgi/stream.c: live
 * logs as Server-Sent Events; fcgi/metrics.c: Prometheus): the job record
 * as it is read from Redis, the status object built from it, and the
 * system's load (queues, runs, runners) as GET /stats and /metrics report
 * it. One implementation each, so the routes can never disagree.
 */
#ifndef SANDRUN_JOBS_H
#define SANDRUN_JOBS_H

#include <jansson.h>
#include <stdbool.h>

#include "request.h"

/*
 * HGETALL of the job record into *out (caller frees with freeReplyObject).
 * Answers nothing itself: returns 200 (found), 404 (unknown, expired or
 * deleted: *out is NULL) or 503 (Redis failed, logged: *out is NULL).
 */
int job_record_get(struct request *req, const char *id, redisReply **out);

/* A field of a loaded record, or NULL. Points into the reply. */
const char *job_record_field(const redisReply *h, const char *field);

/* true once the record's status is neither queued nor running. */
bool job_status_final(const redisReply *h);

/* The status object of GET /status/{id} (queue_position included while queued). New reference. */
json_t *job_status_object(struct request *req, const char *id, const redisReply *h);

/* The system's load, summed over every queue (sr:queue and the live GPU runners' queues). */
struct system_load {
	long long queue_length;  /* jobs waiting: queue entries not yet handed to a runner */
	long long active;        /* jobs handed to a runner, not yet acknowledged (running) */
	long long runners;       /* runners whose heartbeat is younger than LEASE_MS */
	long long slots;         /* their slots, summed */
	long long slots_busy;    /* of them, running a job now */
};

/* Fills *load; 0, or -1 when Redis failed (what could be read is kept). */
int system_load_get(struct request *req, struct system_load *load);

#endif
