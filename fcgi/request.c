/*
 * FastCGI request plumbing: the CGI variables nginx sends, body reading
 * and the answer helpers. Nothing here knows about jobs. This is the one
 * file that does FastCGI I/O; a subrequest (request_sub_init, for the MCP
 * tools) has no FastCGI side: its body is read from memory and its answer
 * is captured in a struct request_capture. Many threads of
 * one process run these at once (fcgi/main.c): what is shared between
 * them (the request counter, the count of held requests) is atomic.
 */
#include "config.h"
#include "log.h"
#include "request.h"
#include "util.h"

#include <ctype.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RETRY_AFTER_SECONDS 5 /* a dependency down: Redis restarts in about this */
/* Held requests at their cap: long-polls end all the time (a job ends, a
 * client leaves, a wait runs out), so a slot is usually free again soon. */
#define HOLD_RETRY_AFTER_SECONDS 2

static atomic_ulong request_counter;   /* request ids, per process */
static atomic_int requests_holding;    /* held requests of this process now, when it has no pool */
/* The pool's counters (request_hold_share): one per process, shared. */
static atomic_int *hold_slots;
static int hold_nslots, hold_mine, hold_pool_max;

static const char *param(FCGX_Request *f, const char *name)
{
	const char *v = FCGX_GetParam(name, f->envp);
	return v ? v : "";
}

const char *request_param(const struct request *req, const char *name)
{
	if (req->fcgx)
		return FCGX_GetParam(name, req->fcgx->envp);
	for (const char *const *p = req->params; p && p[0]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

void request_sub_init(struct request *sub, const struct request *parent, const char *method, const char *path,
		      const char *query, const char *content_type, const char *body, size_t body_len,
		      const char *const *params, struct request_capture *capture)
{
	memset(sub, 0, sizeof *sub);
	sub->srv = parent->srv;
	sub->method = method;
	sub->path = path;
	sub->query = query;
	sub->content_type = content_type;
	sub->remote_addr = parent->remote_addr;
	sub->client_key = parent->client_key;   /* the parent outlives it */
	sub->limits = parent->limits;
	sub->accept = "application/json";
	sub->user_agent = "";
	sub->origin = "";        /* the parent's passed cors_admit (routes_dispatch) */
	sub->content_length = (int64_t)body_len;
	memcpy(sub->id, parent->id, sizeof sub->id);
	sub->body = body;
	sub->body_len = body_len;
	sub->params = params;
	sub->capture = capture;
	sub->parent = parent;
}

void request_init(struct request *req, FCGX_Request *fcgx, struct responder *srv)
{
	const char *cl;
	int64_t n;

	memset(req, 0, sizeof *req);
	req->fcgx = fcgx;
	req->srv = srv;
	req->method = param(fcgx, "REQUEST_METHOD");
	req->path = param(fcgx, "DOCUMENT_URI");
	if (!*req->path)
		req->path = param(fcgx, "SCRIPT_NAME");
	req->query = param(fcgx, "QUERY_STRING");
	req->content_type = param(fcgx, "CONTENT_TYPE");
	req->remote_addr = param(fcgx, "REMOTE_ADDR");
	req->accept = param(fcgx, "HTTP_ACCEPT");
	req->user_agent = param(fcgx, "HTTP_USER_AGENT");
	req->origin = param(fcgx, "HTTP_ORIGIN");
	cl = param(fcgx, "CONTENT_LENGTH");
	req->content_length = *cl && parse_int64(cl, 0, INT64_MAX, &n) == 0 ? n : -1;
	snprintf(req->id, sizeof req->id, "r%d-%lu", (int)getpid(), atomic_fetch_add(&request_counter, 1) + 1);
}

size_t request_read(struct request *req, char *buf, size_t len)
{
	size_t left = req->body_len - req->body_pos;
	int n;

	if (!req->fcgx) {       /* a subrequest: its body is in memory */
		if (left > len)
			left = len;
		if (left)
			memcpy(buf, req->body + req->body_pos, left);
		req->body_pos += left;
		return left;
	}
	n = FCGX_GetStr(buf, (int)(len > 1 << 30 ? 1 << 30 : len), req->fcgx->in);
	return n > 0 ? (size_t)n : 0;
}

void request_drain(struct request *req)
{
	char sink[65536];

	while (request_read(req, sink, sizeof sink) > 0)
		;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int request_query(const struct request *req, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	for (const char *p = req->query; *p; ) {
		const char *end = strchr(p, '&'), *eq;
		size_t plen = end ? (size_t)(end - p) : strlen(p), o = 0;

		eq = memchr(p, '=', plen);
		if ((eq ? (size_t)(eq - p) : plen) == nlen && memcmp(p, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : p + plen;
			for (; v < p + plen; v++) {
				int c = (unsigned char)*v;
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int hi, lo;
					if (v + 2 >= p + plen || (hi = hexval(v[1])) < 0 || (lo = hexval(v[2])) < 0)
						return -1;
					c = hi * 16 + lo;
					v += 2;
				}
				if (c == 0 || o + 1 >= outlen)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 1;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return 0;
}

json_t *json_string_lossy(const char *s, size_t len)
{
	size_t n;
	char *clean = utf8_sanitize(s, len, &n);
	json_t *j = json_stringn(clean, n);

	free(clean);
	return j;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

static void request_before_answer(struct request *req)
{
	void (*hook)(struct request *) = req->before_answer;

	req->before_answer = NULL;
	if (hook)
		hook(req);
}

void respond_bytes(struct request *req, int status, const char *content_type,
		   const char *data, size_t len, const char *headers)
{
	char head[4096];
	int n;

	if (req->answered)
		return;
	req->answered = true;
	req->status = status;
	request_before_answer(req);
	if (req->capture) {
		req->capture->status = status;
		snprintf(req->capture->content_type, sizeof req->capture->content_type, "%s", content_type);
		if (headers)
			buf_append_str(&req->capture->headers, headers);
		if (len)
			buf_append(&req->capture->body, data, len);
		return;
	}
	/* snprintf, not FCGX_FPrintF: libfcgi's own printf knows no %zu. */
	n = snprintf(head, sizeof head,
		     "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-store\r\n%s%s%s\r\n",
		     status, status_text(status), content_type, len, req->headers, req->cors, headers ? headers : "");
	if (n < 0 || (size_t)n >= sizeof head)
		n = snprintf(head, sizeof head, "Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"), len = 0;
	FCGX_PutStr(head, n, req->fcgx->out);
	if (len)
		FCGX_PutStr(data, (int)len, req->fcgx->out);
}

int respond_stream_start(struct request *req, int status, const char *content_type, const char *headers)
{
	char head[4096];
	int n;

	if (req->answered)
		return -1;
	req->answered = true;
	req->status = status;
	request_before_answer(req);
	if (req->capture) {
		req->capture->status = status;
		snprintf(req->capture->content_type, sizeof req->capture->content_type, "%s", content_type);
		if (headers)
			buf_append_str(&req->capture->headers, headers);
		return request_client_gone(req) ? -1 : 0;
	}
	n = snprintf(head, sizeof head, "Status: %d %s\r\nContent-Type: %s\r\n%s%s%s\r\n", status,
		     status_text(status), content_type, req->headers, req->cors, headers ? headers : "");
	if (n < 0 || (size_t)n >= sizeof head)
		return -1;      /* cannot happen: the callers' headers are constants */
	return respond_stream_write(req, head, (size_t)n);
}

/*
 * Has nginx closed the FastCGI connection? It sends nothing more once the
 * request is in, so the one thing that can arrive is its FIN: POLLRDHUP
 * says so without reading (a pending empty FCGI_STDIN record is not a close).
 */
bool request_client_gone(const struct request *req)
{
	struct pollfd p = { .fd = -1, .events = POLLRDHUP };

	if (req->parent)        /* a subrequest answers to its parent's client */
		return request_client_gone(req->parent);
	p.fd = req->fcgx->ipcFd;
	if (p.fd < 0)
		return true;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

int respond_stream_write(struct request *req, const char *data, size_t len)
{
	FCGX_Stream *out;

	if (request_client_gone(req))
		return -1;
	if (req->capture) {
		buf_append(&req->capture->body, data, len);
		return 0;
	}
	out = req->fcgx->out;
	while (len > 0) {
		int n = len > (1u << 30) ? 1 << 30 : (int)len;

		if (FCGX_PutStr(data, n, out) != n)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return FCGX_FFlush(out) == 0 && FCGX_GetError(out) == 0 ? 0 : -1;
}

void respond_json(struct request *req, int status, json_t *body, const char *headers)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	size_t len = text ? strlen(text) : 0;

	if (text) {
		/* A trailing newline keeps curl output readable in a terminal. */
		text = xrealloc(text, len + 2);
		text[len++] = '\n';
		text[len] = '\0';
		respond_bytes(req, status, "application/json", text, len, headers);
	} else {
		respond_bytes(req, 500, "application/json",
			      "{\"error\":\"Internal error\",\"reason\":\"cannot encode the answer\"}\n", 63, NULL);
	}
	free(text);
	json_decref(body);
}

static const char *error_title(int status)
{
	switch (status) {
	case 400: return "Bad request";
	case 403: return "Forbidden";
	case 404: return "Not found";
	case 405: return "Method not allowed";
	case 406: return "Not acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload too large";
	case 415: return "Unsupported media type";
	case 429: return "Rate limit exceeded";
	case 503: return "Service unavailable";
	case 504: return "Gateway timeout";
	default: return "Internal error";
	}
}

void respond_error(struct request *req, int status, const char *error, const char *field,
		   const char *reason_fmt, ...)
{
	char reason[512];
	va_list ap;
	json_t *body;

	va_start(ap, reason_fmt);
	vsnprintf(reason, sizeof reason, reason_fmt, ap);
	va_end(ap);
	body = json_object();
	json_object_set_new(body, "error", json_string(error ? error : error_title(status)));
	json_object_set_new(body, "reason", json_string_lossy(reason, strlen(reason)));
	if (field && *field)
		json_object_set_new(body, "field", json_string_lossy(field, strlen(field)));
	respond_json(req, status, body, NULL);
}

void respond_rate_limited(struct request *req, const char *reason, long retry_after)
{
	char headers[64];
	json_t *body = json_object();

	if (retry_after < 1)
		retry_after = 1;
	json_object_set_new(body, "error", json_string("Rate limit exceeded"));
	json_object_set_new(body, "reason", json_string_lossy(reason, strlen(reason)));
	json_object_set_new(body, "retry_after", json_integer(retry_after));
	snprintf(headers, sizeof headers, "Retry-After: %ld\r\n", retry_after);
	respond_json(req, 429, body, headers);
}

void respond_unavailable_after(struct request *req, const char *reason, long retry_after)
{
	char headers[64];
	json_t *body = json_object();

	if (retry_after < 1)
		retry_after = 1;
	json_object_set_new(body, "error", json_string("Service unavailable"));
	json_object_set_new(body, "reason", json_string_lossy(reason, strlen(reason)));
	json_object_set_new(body, "retry_after", json_integer(retry_after));

	snprintf(headers, sizeof headers, "Retry-After: %ld\r\n", retry_after);
	respond_json(req, 503, body, headers);
}

void respond_unavailable(struct request *req, const char *reason)
{
	/* Redis answered NOSCRIPT (common/rconn.h): it restarted, and no runner
	 * has loaded the scripts again yet; one does when it reconnects. */
	if (req->srv && rconn_scripts_missing(&req->srv->redis))
		reason = "the job store is (re)starting; try again in a few seconds";
	respond_unavailable_after(req, reason, RETRY_AFTER_SECONDS);
}

void request_hold_share(atomic_int *slots, int nslots, int mine, int pool_max)
{
	hold_slots = slots;
	hold_nslots = nslots;
	hold_mine = mine;
	hold_pool_max = pool_max;
}

/* Counts one more held request in; false (and counted out again) over the cap. */
static bool hold_count_in(const struct request *req, int *held, int *max)
{
	int total = 0;

	if (!hold_slots) {
		*max = req->srv->cfg->fcgi_hold_max;
		*held = atomic_fetch_add(&requests_holding, 1);
		if (*held < *max)
			return true;
		atomic_fetch_sub(&requests_holding, 1);
		return false;
	}
	/* In first, then look: two processes racing for the last place may
	 * both refuse, never both get it. */
	atomic_fetch_add(&hold_slots[hold_mine], 1);
	for (int i = 0; i < hold_nslots; i++)
		total += atomic_load(&hold_slots[i]);
	*max = hold_pool_max;
	*held = total - 1;
	if (total <= hold_pool_max)
		return true;
	atomic_fetch_sub(&hold_slots[hold_mine], 1);
	return false;
}

bool request_hold_begin(struct request *req)
{
	int held, max;

	if (!hold_count_in(req, &held, &max)) {
		log_info(req->id, "refused a held request: %d held already (the pool's limit is %d)", held, max);
		request_drain(req);   /* a POST /submit?wait body: nginx wants it read */
		respond_unavailable_after(req, "too many requests are waiting on results right now; try again shortly",
					  HOLD_RETRY_AFTER_SECONDS);
		return false;
	}
	req->holding = true;
	return true;
}

void request_hold_end(struct request *req)
{
	if (!req->holding)
		return;
	atomic_fetch_sub(hold_slots ? &hold_slots[hold_mine] : &requests_holding, 1);
	req->holding = false;
}
