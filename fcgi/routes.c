/*
 * Route table, as bgplgd keeps one: each path is either exact or a prefix
 * followed by a job id (and nothing else). Unknown paths are 404, a known
 * path with the wrong method 405 naming the allowed one.
 *
 * Held requests (POST /submit?wait=N, GET /status/{id}?wait=N with N not
 * 0, GET /logs/{id}/stream: the ones nginx's $sandrun_hold_key counts)
 * are counted against the process's fcgi_hold_max here, once, before their
 * handler runs: over the cap they are answered 503 at once.
 */
#include "config.h"
#include "jobid.h"
#include "quota.h"
#include "routes.h"

#include <stdbool.h>
#include <string.h>

enum route_kind {
	ROUTE_EXACT,    /* the path is exactly `path` */
	ROUTE_JOB,      /* `path` then a job id */
	ROUTE_JOB_TAIL, /* `path` then a job id, then optionally "/" and more: the handler
	                   reads the tail from req->path (after the id) */
};

struct route {
	const char *method;
	const char *path;
	enum route_kind kind;
	void (*handler)(struct request *req, const char *id);
};

static const struct route routes[] = {
	{ "POST", "/submit",  ROUTE_EXACT, handle_submit },
	{ "GET",  "/status/", ROUTE_JOB,   handle_status },
	{ "GET",  "/logs/",   ROUTE_JOB_TAIL, handle_logs },   /* and /logs/{id}/stream */
	{ "DELETE", "/jobs/", ROUTE_JOB,   handle_cancel },
	{ "GET",  "/outputs/", ROUTE_JOB,  handle_outputs },
	{ "GET",  "/download/", ROUTE_JOB_TAIL, handle_download },
	{ "GET",  "/stats",   ROUTE_EXACT, handle_stats },
	{ "GET",  "/workers", ROUTE_EXACT, handle_workers },
	{ "GET",  "/environments", ROUTE_EXACT, handle_environments },
	{ "GET",  "/health",  ROUTE_EXACT, handle_health },
	{ "GET",  "/metrics", ROUTE_EXACT, handle_metrics },
	{ "GET",  "/",        ROUTE_EXACT, handle_root },
};

/* Is this request one that waits (see the top)? Mirrors nginx's map: a wait
 * argument with anything but zeros in it, or the live log stream. */
static bool route_holds(const struct route *r, const struct request *req, const char *id)
{
	char wait[24];

	if (r->handler == handle_logs)
		return strcmp(req->path + strlen(r->path) + strlen(id), "/stream") == 0;
	if (r->handler != handle_submit && r->handler != handle_status)
		return false;
	switch (request_query(req, "wait", wait, sizeof wait)) {
	case 0:
		return false;
	case 1:
		return wait[strspn(wait, "0")] != '\0';
	default:
		return true;    /* malformed: the handler answers 400 */
	}
}

/* Does `r` match the path? Sets *id_out (into idbuf) for job routes. */
static int route_match(const struct route *r, const char *path, char *idbuf, const char **id_out)
{
	size_t plen = strlen(r->path);

	*id_out = NULL;
	if (r->kind == ROUTE_EXACT)
		return strcmp(path, r->path) == 0;
	if (strncmp(path, r->path, plen) != 0)
		return 0;
	path += plen;
	if (r->kind == ROUTE_JOB_TAIL) {
		size_t idlen = strcspn(path, "/");

		if (idlen > JOBID_LEN + 8)
			return 0;
		memcpy(idbuf, path, idlen);
		idbuf[idlen] = '\0';
		*id_out = idbuf;
		return 1;
	}
	if (strlen(path) > JOBID_LEN + 8)
		return 0;
	strcpy(idbuf, path);
	*id_out = idbuf;
	return 1;
}

void routes_dispatch(struct request *req)
{
	char idbuf[JOBID_LEN + 16];
	const struct route *path_match = NULL;
	const char *id;
	struct quota_usage usage;

	/* Every answer tells the caller where its quota stands (IETF RateLimit
	 * headers). Without Redis there is nothing to tell: the route answers 503. */
	if (quota_usage_load(req, &usage) == 0)
		quota_headers(&usage, req->headers, sizeof req->headers);

	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *r = &routes[i];

		if (!route_match(r, req->path, idbuf, &id))
			continue;
		if (strcmp(r->method, req->method) != 0 &&
		    !(strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
			path_match = r;
			continue;
		}
		if (id && !jobid_valid(id, strlen(id))) {
			/* Same answer as an expired id: the shape tells nothing away. */
			respond_error(req, 404, "Job not found", NULL, "no job with this id (unknown, expired or deleted)");
			return;
		}
		if (route_holds(r, req, id ? id : "") && !request_hold_begin(req))
			return;
		r->handler(req, id);
		request_hold_end(req);
		return;
	}
	if (path_match) {
		respond_error(req, 405, NULL, NULL, "%s %s is not allowed; use %s", req->method, req->path,
			      path_match->method);
		return;
	}
	respond_error(req, 404, NULL, NULL, "no such endpoint: %s", req->path);
}
