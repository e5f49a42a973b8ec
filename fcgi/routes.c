/*
 * Route table, as bgplgd keeps one: each path is either exact or a prefix
 * followed by a job id (and nothing else, or a fixed suffix). Unknown paths
 * are 404, a known path with the wrong method 405 naming the allowed one.
 * Each route lists the query parameters its handler reads (request_query
 * calls); any other, or one given twice, is a 400 naming it, before the id
 * is even looked at (fcgi/query.c).
 *
 * Held requests (POST /submit?wait=N, GET /status/{id}?wait=N with N not
 * 0, GET /logs/{id}/stream: the ones nginx's $sandrun_hold_key counts)
 * are counted against the process's fcgi_hold_max here, once, before their
 * handler runs: over the cap they are answered 503 at once.
 */
#include "auth.h"
#include "config.h"
#include "cors.h"
#include "jobid.h"
#include "query.h"
#include "quota.h"
#include "routes.h"
#include "sessions.h"

#include <stdbool.h>
#include <string.h>

enum route_kind {
	ROUTE_EXACT,    /* the path is exactly `path` */
	ROUTE_JOB,      /* `path` then a job id */
	ROUTE_JOB_TAIL, /* `path` then a job id, then optionally "/" and more: the handler
	                   reads the tail from req->path (after the id) */
	ROUTE_JOB_SUFFIX, /* `path` then a job id, then exactly `suffix` */
	ROUTE_SESSION,  /* `path` then a session id, then optionally "/" and more, any method: the
	                   handler (fcgi/sessions.c) routes the tail and the method itself */
};

struct route {
	const char *method;
	const char *path;
	enum route_kind kind;
	const char *suffix;             /* ROUTE_JOB_SUFFIX only */
	void (*handler)(struct request *req, const char *id);
	const char *pattern;            /* the route as error messages name it */
	const char *const *params;      /* query parameters it takes, NULL-ended; NULL: none */
};

/* What each handler reads with request_query (fcgi/jobs.c: ?wait for
 * /status and /submit, ?stream and ?format for /logs; none elsewhere). */
static const char *const params_wait[] = { "wait", NULL };
static const char *const params_logs[] = { "stream", "format", NULL };

static const struct route routes[] = {
	{ "POST", "/submit",  ROUTE_EXACT, NULL, handle_submit, "/submit", params_wait },
	{ "GET",  "/status/", ROUTE_JOB,   NULL, handle_status, "/status/{id}", params_wait },
	/* Before /logs/{id}: the live stream has its own (empty) parameter list. */
	{ "GET",  "/logs/",   ROUTE_JOB_SUFFIX, "/stream", logs_stream, "/logs/{id}/stream", NULL },
	{ "GET",  "/logs/",   ROUTE_JOB_TAIL, NULL, handle_logs, "/logs/{id}", params_logs },
	{ "DELETE", "/jobs/", ROUTE_JOB,   NULL, handle_cancel, "/jobs/{id}", NULL },
	{ "GET",  "/outputs/", ROUTE_JOB,  NULL, handle_outputs, "/outputs/{id}", NULL },
	{ "GET",  "/download/", ROUTE_JOB_TAIL, NULL, handle_download, "/download/{id}[/{path}]", NULL },
	{ "GET",  "/stats",   ROUTE_EXACT, NULL, handle_stats, "/stats", NULL },
	{ "GET",  "/workers", ROUTE_EXACT, NULL, handle_workers, "/workers", NULL },
	{ "GET",  "/environments", ROUTE_EXACT, NULL, handle_environments, "/environments", NULL },
	{ "GET",  "/health",  ROUTE_EXACT, NULL, handle_health, "/health", NULL },
	{ "GET",  "/metrics", ROUTE_EXACT, NULL, handle_metrics, "/metrics", NULL },
	{ "GET",  "/",        ROUTE_EXACT, NULL, handle_root, "/", NULL },
	/* Sessions (SPEC §7): each handler counts itself among the held requests when it waits on a
	 * sandbox (every /sessions route but GET /sessions/{id}), and checks its sub-route's parameters. */
	{ "POST", "/sessions", ROUTE_EXACT, NULL, handle_session_create, "/sessions", NULL },
	{ "*",    "/sessions/", ROUTE_SESSION, NULL, handle_session, "/sessions/{id}/...", session_route_params },
	/* MCP (SPEC §8): every method reaches the handler, which answers 405 with Allow itself. Its
	 * tools are subrequests back through this table (fcgi/mcp_tools.c), held where their routes are. */
	{ "*",    "/mcp",     ROUTE_EXACT, NULL, handle_mcp, "/mcp", NULL },
};

/* Is this request one that waits (see the top)? Mirrors nginx's map: a wait
 * argument with anything but zeros in it, or the live log stream. */
static bool route_holds(const struct route *r, const struct request *req)
{
	char wait[24];

	if (r->handler == logs_stream)
		return true;
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
	if (r->kind == ROUTE_JOB_TAIL || r->kind == ROUTE_JOB_SUFFIX || r->kind == ROUTE_SESSION) {
		size_t idlen = strcspn(path, "/");

		if (idlen > JOBID_LEN + 8)
			return 0;
		if (r->kind == ROUTE_JOB_SUFFIX && strcmp(path + idlen, r->suffix) != 0)
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

/* Only the parameters the route takes, each once: else 400 naming the first other. */
static bool route_query_ok(const struct route *r, struct request *req)
{
	char name[64], allowed[128];

	switch (query_check(req->query, r->params, name, sizeof name)) {
	case QUERY_OK:
		return true;
	case QUERY_REPEATED:
		request_drain(req);   /* a POST /submit body: nginx wants it read */
		respond_error(req, 400, NULL, name, "query parameter '%s' given more than once", name);
		return false;
	case QUERY_UNKNOWN:
		break;
	}
	query_allowed_text(r->params, allowed, sizeof allowed);
	request_drain(req);
	respond_error(req, 400, NULL, name, "unknown query parameter '%s' for %s %s; allowed: %s", name,
		      req->method, r->pattern, allowed);
	return false;
}

static void routes_dispatch_route(struct request *req)
{
	char idbuf[JOBID_LEN + 16];
	const struct route *path_match = NULL;
	const char *id;

	/* CORS, preflights, and no state change from a foreign page (fcgi/cors.c). */
	if (!cors_admit(req))
		return;

	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *r = &routes[i];

		if (!route_match(r, req->path, idbuf, &id))
			continue;
		if (strcmp(r->method, "*") != 0 && strcmp(r->method, req->method) != 0 &&
		    !(strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
			path_match = r;
			continue;
		}
		req->route = r->pattern;
		/* Before the id: the answer is the same for any id, well formed or not. */
		if (!route_query_ok(r, req))
			return;
		if (id && r->kind == ROUTE_SESSION && !prefixed_id_valid(SESID_PREFIX, id, strlen(id))) {
			request_drain(req);
			respond_error(req, 404, "Session not found", NULL,
				      "no session with this id (unknown, expired or ended)");
			return;
		}
		if (id && r->kind != ROUTE_SESSION && !jobid_valid(id, strlen(id))) {
			/* Same answer as an expired id: the shape tells nothing away. */
			respond_error(req, 404, "Job not found", NULL, "no job with this id (unknown, expired or deleted)");
			return;
		}
		if (route_holds(r, req) && !request_hold_begin(req))
			return;
		r->handler(req, id);
		request_hold_end(req);
		return;
	}
	if (path_match) {
		req->route = path_match->pattern;
		respond_error(req, 405, NULL, NULL, "%s %s is not allowed; use %s", req->method, req->path,
			      path_match->method);
		return;
	}
	respond_error(req, 404, NULL, NULL, "no such endpoint: %s", req->path);
}

void routes_dispatch(struct request *req)
{
	/* An API key first, when the service has them (fcgi/auth.c): the quota
	 * headers are the key's. */
	if (!auth_admit(req)) {
		metrics_count_error(req);
		return;
	}
	/* Every answer tells the caller where its quota stands (IETF RateLimit
	 * headers), read in the same round trip as the route's first command
	 * (fcgi/quota.h). Without Redis there is nothing to tell: the route
	 * answers 503. */
	quota_headers_begin(req);
	routes_dispatch_route(req);
	quota_headers_end(req);
	/* A client's error (4xx, 429 included) counts in /metrics by route and
	 * status, in Redis: every responder reports the same totals. Only the
	 * client's own request (an MCP tool's subrequest is part of its answer),
	 * after the answer is written; the route is a pattern from the table
	 * above, so the counters stay few whatever paths clients send. */
	if (req->fcgx && req->status >= 400 && req->status < 500)
		metrics_count_error(req);
}
