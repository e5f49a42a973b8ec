/*
 * The responder's route table: method + path -> handler. Handlers answer
 * the request themselves; a job id in the path is checked for shape
 * before any handler runs, so no malformed id ever reaches Redis.
 */
#ifndef SANDRUN_ROUTES_H
#define SANDRUN_ROUTES_H

#include "request.h"

/* Answers the request (always: a route, a 404 or a 405). */
void routes_dispatch(struct request *req);

/* Handlers (fcgi/submit.c, fcgi/jobs.c). `id` is the job id from the path, or NULL. */
void handle_submit(struct request *req, const char *id);
void handle_status(struct request *req, const char *id);
void handle_logs(struct request *req, const char *id);
void handle_health(struct request *req, const char *id);
void handle_root(struct request *req, const char *id);
void handle_stats(struct request *req, const char *id);
void handle_environments(struct request *req, const char *id);
void handle_cancel(struct request *req, const char *id);
/* fcgi/outputs.c: GET /outputs/{id}, GET /download/{id}[/{path}] (the path is the rest of req->path) */
void handle_outputs(struct request *req, const char *id);
void handle_download(struct request *req, const char *id);
void handle_workers(struct request *req, const char *id);
/* fcgi/stream.c: GET /logs/{id}/stream (a route of its own: routes.c) */
void logs_stream(struct request *req, const char *id);
/* fcgi/metrics.c: GET /metrics */
void handle_metrics(struct request *req, const char *id);
/* fcgi/metrics.c: counts a client error (4xx) answered to `req` by route and status, in Redis. */
void metrics_count_error(struct request *req);
/* fcgi/mcp_route.c: POST /mcp, the Model Context Protocol (Streamable HTTP, JSON answers) */
void handle_mcp(struct request *req, const char *id);
/* After a job was accepted: 200 at once, or with ?wait=N 200 with the status once it ends or N passes (fcgi/jobs.c). */
void job_answer_after_submit(struct request *req, const char *id, const char *headers);

#endif
