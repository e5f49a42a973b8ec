/*
 * CORS and the Origin check (SECURITY.md "Browsers and other origins").
 *
 * A page on another origin can make its visitors' browsers POST a
 * multipart form here without any preflight, and the job would run on the
 * visitor's per-address quota: the browser does not ask us first, it only
 * hides the answer from the page. So the check is ours: a state-changing
 * request (POST, PUT, DELETE, PATCH: /submit, /jobs, /sessions, /mcp and
 * whatever comes) that carries an Origin which is neither this service's
 * own (scheme://Host) nor one the operator listed in `cors_origins` is
 * refused 403 before its route runs (its body is drained, nothing is
 * stored). No Origin (curl, programs) is not a browser page: allowed.
 *
 * For a listed origin every answer carries Access-Control-Allow-Origin (the
 * origin echoed, Vary: Origin) and exposes the headers clients read
 * (Location, Retry-After, RateLimit-*); a preflight OPTIONS is answered
 * 204 with the methods and the asked-for headers. A preflight from a
 * foreign origin is answered 403 without any allow header (the browser
 * then refuses to send the request). Credentials are never allowed: the
 * API has no cookies.
 */
#include "cors.h"
#include "negotiate.h"

#include <stdio.h>
#include <string.h>

#define CORS_EXPOSE "Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy"
#define CORS_METHODS "GET, HEAD, POST, PUT, DELETE, OPTIONS"
#define CORS_HEADERS_DEFAULT "Content-Type, Accept, Last-Event-ID, Cache-Control"
#define CORS_MAX_AGE 600

static const char *param(const struct request *req, const char *name)
{
	const char *v = request_param(req, name);

	return v ? v : "";
}

/* A header value fit to echo: header names separated by commas and spaces, short. */
static bool header_list_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == ',' || *s == ' '))
			return false;
	return true;
}

/* An origin fit to echo: printable ASCII without spaces or CR/LF, short. */
static bool origin_printable(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

static bool method_changes_state(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

bool cors_admit(struct request *req)
{
	const char *origin = req->origin;
	bool preflight = strcmp(req->method, "OPTIONS") == 0, self, listed;

	req->cors[0] = '\0';
	if (!*origin) {
		if (preflight) {
			request_drain(req);
			respond_bytes(req, 204, "text/plain", "", 0, "Allow: " CORS_METHODS "\r\n");
			return false;
		}
		return true;
	}
	self = origin_is_self(origin, param(req, "REQUEST_SCHEME"), param(req, "HTTP_HOST"));
	listed = origin_printable(origin) && origin_listed(req->srv->cfg->cors_origins, origin);
	if (listed)
		snprintf(req->cors, sizeof req->cors,
			 "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\nAccess-Control-Expose-Headers: " CORS_EXPOSE
			 "\r\n", origin);
	else
		snprintf(req->cors, sizeof req->cors, "Vary: Origin\r\n");
	if (preflight) {
		const char *want = param(req, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS");
		char extra[512];

		request_drain(req);
		if (!listed && !self) {
			respond_error(req, 403, "origin_not_allowed", "Origin",
				      "pages of %s may not call this API from a browser (not in cors_origins)",
				      origin_printable(origin) ? origin : "this origin");
			return false;
		}
		snprintf(extra, sizeof extra,
			 "Allow: " CORS_METHODS "\r\nAccess-Control-Allow-Methods: " CORS_METHODS
			 "\r\nAccess-Control-Allow-Headers: %s\r\nAccess-Control-Max-Age: %d\r\n",
			 header_list_ok(want) ? want : CORS_HEADERS_DEFAULT, CORS_MAX_AGE);
		respond_bytes(req, 204, "text/plain", "", 0, extra);
		return false;
	}
	if (method_changes_state(req->method) && !listed && !self) {
		request_drain(req);
		respond_error(req, 403, "origin_not_allowed", "Origin",
			      "a page of %s may not %s here from a browser: that origin is not this service and "
			      "not in cors_origins",
			      origin_printable(origin) ? origin : "this origin", req->method);
		return false;
	}
	return true;
}
