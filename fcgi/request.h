/*
 * One HTTP request as the responder sees it through FastCGI, and the
 * helpers that answer it. Every error answer has the contract's shape
 * {"error": "...", "reason": "..."} (+ "field", + "retry_after").
 */
#ifndef SANDRUN_REQUEST_H
#define SANDRUN_REQUEST_H

#include <fcgiapp.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rconn.h"
#include "util.h"

/* What one responder thread holds for its whole life (fcgi/main.c: each
 * thread of a responder process has its own, Redis connection included). */
struct responder {
	const struct sandrun_config *cfg;
	struct rconn redis;
};

/*
 * A subrequest's answer (fcgi/mcp_tools.c runs the API's routes in-process
 * for the MCP tools): what the route would have sent, kept in memory.
 * The owner frees headers.data and body.data.
 */
struct request_capture {
	int status;                  /* 0 until the route answered */
	char content_type[128];
	struct buf headers;          /* the route's extra "Name: value\r\n" lines */
	struct buf body;
};

struct request {
	FCGX_Request *fcgx;          /* NULL for a subrequest (request_sub_init) */
	struct responder *srv;
	const char *method;
	const char *path;            /* decoded, normalized by nginx ($document_uri) */
	const char *query;           /* raw query string, "" when none */
	const char *content_type;    /* "" when none */
	const char *remote_addr;
	const char *accept;          /* "" when none */
	const char *user_agent;      /* "" when none */
	const char *origin;          /* the Origin header (browsers), "" when none */
	int64_t content_length;      /* -1 when not given (chunked) */
	char id[20];                 /* request id for log lines */
	char headers[512];           /* sent with every answer: the caller's RateLimit-* */
	char cors[512];              /* sent with every answer: CORS headers for an allowed origin (fcgi/cors.c) */
	bool answered;
	int status;                  /* the answer's status, once answered */
	const char *route;           /* the route's pattern (routes.c), or NULL: none matched */
	/* With API keys (fcgi/auth.c): the quota identity "key:NAME" and the
	 * limits with the key's own quotas; else NULL (the address, sandrun.conf's). */
	const char *client_key;
	const struct sandrun_limits *limits;
	char client_key_buf[72];
	struct sandrun_limits key_limits;
	bool holding;                /* counted among the process's held requests */
	/* Called once, before the first answer's head is written (fcgi/quota.c
	 * completes req->headers there); NULL: nothing to do. */
	void (*before_answer)(struct request *req);
	bool quota_pending;          /* the RateLimit read is on its way (fcgi/quota.c) */
	int64_t quota_now_ms;        /* the time it was sent for */
	/* A subrequest only: its body, its CGI variables, where its answer goes
	 * and the real request it runs for (whose client it answers to). */
	const char *body;
	size_t body_len, body_pos;
	const char *const *params;   /* NULL-ended name, value pairs; NULL: none */
	struct request_capture *capture;
	const struct request *parent;
};

void request_init(struct request *req, FCGX_Request *fcgx, struct responder *srv);

/* The limits of this request's client: its API key's quotas where it has
 * any (fcgi/auth.c), else sandrun.conf's. */
static inline const struct sandrun_limits *request_limits(const struct request *req)
{
	return req->limits ? req->limits : &req->srv->cfg->limits;
}

/* The client's quota identity: "key:NAME" with an API key, else its
 * address's key (fcgi/quota.h: an IPv4 address or an IPv6 /64), else
 * "unknown". */
void request_client(const struct request *req, char *out, size_t outlen);

/*
 * A subrequest of `parent`: `method` `path` (decoded, as nginx gives it)
 * with `query` ("" for none), a body of `body_len` bytes at `body` of type
 * `content_type` (both may be empty), the CGI variables `params` (NULL-ended
 * name, value pairs, e.g. REQUEST_URI; may be NULL), answered into
 * `capture`. It has the parent's client address, responder and request id;
 * it is gone when the parent's client is. Every string must outlive it.
 */
void request_sub_init(struct request *sub, const struct request *parent, const char *method, const char *path,
		      const char *query, const char *content_type, const char *body, size_t body_len,
		      const char *const *params, struct request_capture *capture);

/* A CGI variable nginx sent (HTTP_ORIGIN, REQUEST_URI, ...), or NULL when absent. */
const char *request_param(const struct request *req, const char *name);

/* Reads up to len body bytes; returns the count, 0 at the end. */
size_t request_read(struct request *req, char *buf, size_t len);
/* Reads and drops what is left of the body (so nginx sees a clean exchange). */
void request_drain(struct request *req);

/*
 * Copies query parameter `name` (percent-decoded) into out. Returns 1 if
 * present, 0 if absent, -1 if too long or badly encoded.
 */
int request_query(const struct request *req, const char *name, char *out, size_t outlen);

/* Answers with `body` as JSON (the reference is stolen). `headers` are extra
 * "Name: value\r\n" lines or NULL. */
void respond_json(struct request *req, int status, json_t *body, const char *headers);
void respond_error(struct request *req, int status, const char *error, const char *field,
		   const char *reason_fmt, ...) __attribute__((format(printf, 5, 6)));
/* 429 in the contract's shape: "Rate limit exceeded", the reason, retry_after + Retry-After. */
void respond_rate_limited(struct request *req, const char *reason, long retry_after);
/* 503 with Retry-After: the named dependency is down. */
void respond_unavailable(struct request *req, const char *reason);
/* 503 as above, with its own retry_after (seconds). */
void respond_unavailable_after(struct request *req, const char *reason, long retry_after);
void respond_bytes(struct request *req, int status, const char *content_type,
		   const char *data, size_t len, const char *headers);

/*
 * A streamed answer (Server-Sent Events, fcgi/stream.c): respond_stream_start
 * sends the head once, without Content-Length (nginx passes the body on as it
 * comes: fastcgi_buffering is off for /logs/), and nothing of respond_* may
 * follow; respond_stream_write sends one piece and flushes it to nginx at
 * once. `headers` are extra "Name: value\r\n" lines (Cache-Control is the
 * caller's). Both return 0, or -1 when the client is gone: nginx closed the
 * FastCGI connection (it does when its client leaves) or a write failed.
 * Then the handler stops at once.
 */
int respond_stream_start(struct request *req, int status, const char *content_type, const char *headers);
int respond_stream_write(struct request *req, const char *data, size_t len);

/*
 * Held requests (?wait long-polls, live log streams) may take at most
 * fcgi_hold_max threads per responder process on average, counted over
 * the whole pool (request_hold_share), so quick requests always find a
 * thread: a process whose threads are all busy simply stops accepting,
 * and the others take the connections. Counted per pool, not per process,
 * because the kernel spreads connections over the processes only roughly:
 * a per-process cap refused requests while other processes had room.
 * request_hold_begin counts the request in, or answers 503 (with
 * retry_after) and returns false; request_hold_end counts it out (nothing
 * if it was not counted).
 */
bool request_hold_begin(struct request *req);
void request_hold_end(struct request *req);
/*
 * The pool's counters: `slots` is shared by every process of the pool (the
 * master maps it before forking), one counter per process; this process
 * counts in slots[mine]; the pool holds at most `pool_max` at once. Without
 * it (a responder on its own), the process counts for itself alone.
 */
void request_hold_share(atomic_int *slots, int nslots, int mine, int pool_max);

/*
 * Has the client gone? nginx closes the FastCGI connection when its client
 * leaves; a held request looks between two short waits and stops at once.
 */
bool request_client_gone(const struct request *req);

/* true once this responder was told to stop (SIGTERM): a long request ends early (fcgi/main.c). */
bool responder_stopping(void);

/* A JSON string of any bytes: invalid UTF-8 and NUL become U+FFFD. New reference. */
json_t *json_string_lossy(const char *s, size_t len);

#endif
