/*
 * sandrun-ws: the WebSocket gateway (docs/api.md "WebSocket"). A small
 * stateless daemon behind nginx, which does TLS and the per-address limits
 * and sends it the upgrade requests of two routes:
 *
 *   /logs/{id}/stream   a job's output (ws/logs.c)
 *   /sessions/{id}/pty  a terminal into a session (ws/pty.c)
 *
 * It listens on loopback, plain HTTP (ws_listen), talks only to Redis as
 * its own ACL user (redis_ws_user: the few commands these routes need,
 * redis/users.acl.in), and never runs as root: root only binds, then it
 * drops to ws_user for good. Several can run side by side (nginx's
 * upstream sandrun_ws, one line per host): all state is in Redis.
 *
 * Threads: libwebsockets' service loop (this thread) alone touches the
 * sockets, and never waits on Redis. Each WebSocket gets a worker thread
 * with its own blocking Redis connection (a terminal: two, one for its
 * input); they meet through the connection's bounded queues (ws/conn.h).
 * The framing, masking, UTF-8 checks of text, close handshake and
 * ping/pong keepalive are libwebsockets'; what is left to parse (routes,
 * the terminal's messages) is ws/parse.c, fuzzed.
 *
 * Limits: ws_max_connections WebSockets at once (the next gets a JSON
 * error and close 1013, try again later); a client message of more than
 * WS_MESSAGE_MAX bytes closes with 1009. GET /health answers the
 * connection count (loopback only, for the operator and the tests).
 * The client's address, for log lines, is X-Forwarded-For, which nginx
 * sets (overwriting whatever the client sent).
 */
#include "config.h"
#include "conn.h"
#include "log.h"
#include "logs.h"
#include "pty.h"
#include "rconn.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define WS_MESSAGE_MAX     (64 * 1024)   /* a client message, whole: more closes with 1009 */
#define WS_RX_CHUNK        16384         /* what libwebsockets hands over per callback */
#define WS_PING_SECONDS    20            /* a silent connection is pinged after this */
#define WS_HANGUP_SECONDS  35            /* ... and dropped when nothing came back by this */
#define WS_THREAD_STACK    (512 * 1024)  /* a worker: a Redis reply and a chunk or two; sanitizer redzones */
#define WS_STOP_GRACE_MS   1000          /* SIGTERM: closes (1001) get this long to go out */
#define WS_FDS_PER_CONN    4             /* the socket, two Redis connections, a spare */
#define WS_FDS_SPARE       64

static volatile sig_atomic_t stop_requested;
static struct lws_context *context;
static const struct sandrun_config *config;
static atomic_int live_count;
static atomic_uint request_counter;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ws_conn *live_head;    /* every open WebSocket (live_lock) */

struct ws_session {                  /* libwebsockets' per-connection data */
	struct ws_conn *c;
	struct buf rx;               /* the message being received */
	bool rx_binary;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sandrun-ws [-c CONFIG] [-t] [-v]\n"
		   "  -c CONFIG  configuration file (default " SANDRUN_DEFAULT_CONFIG ")\n"
		   "  -t         check the configuration and exit\n"
		   "  -v         log debug lines\n");
}

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (context)
		lws_cancel_service(context);
}

static void live_add(struct ws_conn *c)
{
	pthread_mutex_lock(&live_lock);
	c->next_live = live_head;
	live_head = c;
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct ws_conn *c)
{
	pthread_mutex_lock(&live_lock);
	for (struct ws_conn **p = &live_head; *p; p = &(*p)->next_live)
		if (*p == c) {
			*p = c->next_live;
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

/* The connection's worker thread: its own Redis connection, the route, then it lets go. */
static void *worker_run(void *arg)
{
	struct ws_conn *c = arg;
	struct rconn redis;

	rconn_init(&redis, config->redis_address, config->redis_ws_user, config->redis_ws_password,
		   config->redis_timeout_ms);
	if (c->route.kind == WS_ROUTE_LOGS)
		ws_logs_run(c, &redis);
	else
		ws_pty_run(c, &redis);
	rconn_close(&redis);
	pthread_mutex_lock(&c->lock);
	c->worker_done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	ws_conn_release(c);
	return NULL;
}

static int worker_start(struct ws_conn *c)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	ws_conn_hold(c);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WS_THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, worker_run, c);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		log_error(c->id, "cannot start a worker thread: %s", strerror(err));
		ws_conn_release(c);
		return -1;
	}
	return 0;
}

/* The route's error message, JSON as each route speaks it. New reference. */
static json_t *route_error(const struct ws_route *r, int status, const char *error, const char *reason)
{
	if (r->kind == WS_ROUTE_PTY)
		return json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "status", status, "error", error,
				 "reason", reason);
	return json_pack("{s:s, s:s}", "error", error, "reason", reason);
}

/* A new WebSocket: its route, its client, its worker (or a refusal). */
static void session_open(struct lws *wsi, struct ws_session *pss)
{
	char path[512] = "", query[600] = "", frag[256], err[160] = "";
	struct ws_conn *c = ws_conn_new(wsi, config);
	bool query_too_long = false;
	int status, n;

	pss->c = c;
	if (!c)
		return;
	snprintf(c->id, sizeof c->id, "ws-%d-%u", (int)getpid(), atomic_fetch_add(&request_counter, 1) + 1);
	if (lws_hdr_copy(wsi, c->client, sizeof c->client, WSI_TOKEN_X_FORWARDED_FOR) <= 0)
		lws_get_peer_simple(wsi, c->client, sizeof c->client);
	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0)
		path[0] = '\0';
	/* the query's name=value pieces (libwebsockets has them URL-decoded), joined by "&" */
	for (int i = 0; lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
		size_t used = strlen(query);

		n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0 || used + (size_t)n + 2 >= sizeof query) {
			query_too_long = true;
			break;
		}
		snprintf(query + used, sizeof query - used, "%s%s", used ? "&" : "", frag);
	}
	live_add(c);
	atomic_fetch_add(&live_count, 1);
	status = ws_route_parse(path, query, &c->route, err, sizeof err);
	if (status == 0 && query_too_long) {
		snprintf(err, sizeof err, "the query string is too long");
		status = 400;
	}
	if (status == 404) {
		ws_conn_abort(c, json_pack("{s:s, s:s}", "error", "Not found", "reason", err),
			      LWS_CLOSE_STATUS_POLICY_VIOLATION, "no such route");
		return;
	}
	if (status == 400) {
		ws_conn_abort(c, route_error(&c->route, 400, "Bad request", err), LWS_CLOSE_STATUS_POLICY_VIOLATION,
			      "bad request");
		return;
	}
	if (atomic_load(&live_count) > config->ws_max_connections) {
		log_warn(c->id, "%s: over ws_max_connections (%d): refused", c->client, config->ws_max_connections);
		ws_conn_abort(c, route_error(&c->route, 503, "Service unavailable",
					     "the gateway holds as many connections as it may; try again later"),
			      WS_CLOSE_TRY_AGAIN_LATER, "over capacity");
		return;
	}
	log_debug(c->id, "%s: websocket %s", c->client, c->route.kind == WS_ROUTE_LOGS ? "logs" : "pty");
	if (worker_start(c) < 0)
		ws_conn_abort(c, route_error(&c->route, 500, "Internal error", "cannot serve this connection now"),
			      LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal error");
}

/* The socket is writable: the next queued message. -1 to close (after a close message). */
static int session_write(struct lws *wsi, struct ws_conn *c)
{
	struct ws_msg *m;
	bool more;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	m = c->out_head;
	if (m) {
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->out_bytes -= m->len;
		pthread_cond_broadcast(&c->cond);
	}
	more = c->out_head != NULL;
	pthread_mutex_unlock(&c->lock);
	if (!m)
		return 0;
	if (m->kind == WS_MSG_CLOSE) {
		lws_close_reason(wsi, (enum lws_close_status)m->close_code, m->buf + LWS_PRE, m->len);
		rc = -1;
	} else if (lws_write(wsi, m->buf + LWS_PRE, m->len, m->kind == WS_MSG_TEXT ? LWS_WRITE_TEXT
										: LWS_WRITE_BINARY) < (int)m->len) {
		rc = -1;
	} else if (more) {
		lws_callback_on_writable(wsi);
	}
	free(m);
	return rc;
}

/* A piece of a client message. -1 closes (libwebsockets sends the close reason set). */
static int session_receive(struct lws *wsi, struct ws_session *pss, const void *in, size_t len)
{
	struct ws_conn *c = pss->c;

	if (lws_is_first_fragment(wsi)) {
		pss->rx.len = 0;
		pss->rx_binary = lws_frame_is_binary(wsi);
	}
	if (pss->rx.len + len > WS_MESSAGE_MAX) {
		free(pss->rx.data);
		pss->rx = (struct buf){ 0 };
		lws_rx_flow_control(wsi, 0);
		ws_conn_abort(c, c->route.kind == WS_ROUTE_PTY
				 ? route_error(&c->route, 413, "Message too big", "a message is at most 65536 bytes")
				 : NULL,
			      LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
		lws_callback_on_writable(wsi);
		return 0;
	}
	buf_append(&pss->rx, in, len);
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return 0;
	/* a whole message: the logs route reads none (they are dropped), a terminal's go to its input */
	if (c->route.kind == WS_ROUTE_PTY && !ws_conn_gone(c) &&
	    ws_conn_input_push(c, pss->rx_binary ? WS_MSG_BINARY : WS_MSG_TEXT, pss->rx.data, pss->rx.len))
		lws_rx_flow_control(wsi, 0);
	pss->rx.len = 0;
	return 0;
}

/* Woken by a worker (lws_cancel_service): sockets with messages to send, inputs to read again. */
static void live_wake(void)
{
	pthread_mutex_lock(&live_lock);
	for (struct ws_conn *c = live_head; c; c = c->next_live) {
		bool write, resume;

		pthread_mutex_lock(&c->lock);
		write = c->out_head != NULL;
		resume = c->rx_resume;
		c->rx_resume = false;
		if (resume)
			c->rx_paused = false;
		pthread_mutex_unlock(&c->lock);
		if (!c->wsi)
			continue;
		if (write)
			lws_callback_on_writable(c->wsi);
		if (resume)
			lws_rx_flow_control(c->wsi, 1);
	}
	pthread_mutex_unlock(&live_lock);
}

/* GET /health (loopback: nginx does not route it here). */
static int http_answer(struct lws *wsi, const char *uri)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
	char body[256];
	int status = 200, n;

	if (strcmp(uri, "/health") == 0)
		n = snprintf(body, sizeof body, "{\"status\":\"ok\",\"connections\":%d,\"max_connections\":%d}\n",
			     atomic_load(&live_count), config->ws_max_connections);
	else {
		status = 426;
		n = snprintf(body, sizeof body, "{\"error\":\"Upgrade required\",\"reason\":\"this is the WebSocket "
			     "gateway: /logs/{id}/stream and /sessions/{id}/pty take a WebSocket upgrade\"}\n");
	}
	if (lws_add_http_common_headers(wsi, (unsigned int)status, "application/json", (lws_filepos_t)n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	memcpy(buf + LWS_PRE, body, (size_t)n);
	if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
		return 1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int gateway_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_session *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_answer(wsi, in ? (const char *)in : "");
	case LWS_CALLBACK_ESTABLISHED:
		memset(pss, 0, sizeof *pss);
		session_open(wsi, pss);
		if (!pss->c)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return pss && pss->c ? session_write(wsi, pss->c) : 0;
	case LWS_CALLBACK_RECEIVE:
		return pss && pss->c ? session_receive(wsi, pss, in, len) : -1;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		live_wake();
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (pss && pss->c) {
			struct ws_conn *c = pss->c;

			live_remove(c);
			atomic_fetch_sub(&live_count, 1);
			pthread_mutex_lock(&c->lock);
			c->gone = true;
			c->wsi = NULL;
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->lock);
			ws_conn_release(c);
			pss->c = NULL;
		}
		if (pss) {
			free(pss->rx.data);
			pss->rx = (struct buf){ 0 };
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	/* the first is the one a client that names no subprotocol gets (the seed's example) */
	{ "sandrun", gateway_callback, sizeof(struct ws_session), WS_RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Root only binds; everything after runs as ws_user, for good (as fcgi/main.c). */
static int privileges_drop(const struct sandrun_config *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(cfg->ws_user);
	if (!pw) {
		log_error(NULL, "ws_user '%s' does not exist (create it: useradd --system %s)", cfg->ws_user,
			  cfg->ws_user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error(NULL, "ws_user '%s' is root: the gateway never runs as root", cfg->ws_user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_error(NULL, "cannot drop privileges to %s: %s", cfg->ws_user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_error(NULL, "privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

/* Each connection may need WS_FDS_PER_CONN descriptors: raise the soft limit as far as allowed. */
static void fd_limit(const struct sandrun_config *cfg)
{
	rlim_t want = (rlim_t)cfg->ws_max_connections * WS_FDS_PER_CONN + WS_FDS_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn(NULL, "ws_max_connections %d may need %llu descriptors; the limit is %llu",
			 cfg->ws_max_connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/* "host:port" into host and port. 0 or -1. */
static int listen_parse(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(listen, ':');
	int64_t p;

	if (!colon || colon == listen || (size_t)(colon - listen) >= hostlen ||
	    parse_int64(colon + 1, 1, 65535, &p) < 0)
		return -1;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	*port = (int)p;
	return 0;
}

static void lws_log_line(int level, const char *line)
{
	size_t len = strlen(line);

	while (len && line[len - 1] == '\n')
		len--;
	if (level & LLL_ERR)
		log_warn(NULL, "libwebsockets: %.*s", (int)len, line);
	else
		log_debug(NULL, "libwebsockets: %.*s", (int)len, line);
}

int main(int argc, char **argv)
{
	const char *config_path = SANDRUN_DEFAULT_CONFIG;
	static const lws_retry_bo_t keepalive = {
		.secs_since_valid_ping = WS_PING_SECONDS,
		.secs_since_valid_hangup = WS_HANGUP_SECONDS,
	};
	struct lws_context_creation_info info;
	struct sandrun_config cfg;
	struct sigaction sa = { .sa_handler = on_term };
	char err[512], host[256];
	int opt, check_only = 0, port;
	enum log_level level = LOG_LEVEL_INFO;

	while ((opt = getopt(argc, argv, "c:tvh")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 't': check_only = 1; break;
		case 'v': level = LOG_LEVEL_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("sandrun-ws", level);
	if (config_load(config_path, &cfg, err, sizeof err) < 0) {
		log_error(NULL, "%s: %s", config_path, err);
		return 1;
	}
	/* Only the gateway's own Redis password stays in memory (common/config.h). */
	config_keep_role(&cfg, CONFIG_ROLE_WS);
	if (listen_parse(cfg.ws_listen, host, sizeof host, &port) < 0) {
		log_error(NULL, "%s: ws_listen must be host:port, not '%s'", config_path, cfg.ws_listen);
		config_free(&cfg);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration ok\n", config_path);
		config_free(&cfg);
		return 0;
	}
	config = &cfg;
	json_object_seed(0);   /* before any thread */
	fd_limit(&cfg);
	lws_set_log_level(LLL_ERR | (level == LOG_LEVEL_DEBUG ? LLL_WARN : 0), lws_log_line);

	memset(&info, 0, sizeof info);
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	if (!strchr(host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.retry_and_idle_policy = &keepalive;
	info.max_http_header_data = 4096;
	info.timeout_secs = 10;          /* the upgrade's headers, and a close handshake */
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	context = lws_create_context(&info);
	if (!context) {
		log_error(NULL, "cannot listen on %s", cfg.ws_listen);
		return 1;
	}
	if (privileges_drop(&cfg) < 0 || geteuid() == 0 || getuid() == 0) {
		log_error(NULL, "refusing to serve as root");
		lws_context_destroy(context);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info(NULL, "listening on %s for WebSockets (at most %d) as uid %d", cfg.ws_listen, cfg.ws_max_connections,
		 (int)getuid());

	while (!stop_requested)
		if (lws_service(context, 0) < 0)
			break;

	/* Going away: every WebSocket gets its close (1001), then the process ends (workers with it). */
	log_info(NULL, "stopping: closing %d connections", atomic_load(&live_count));
	pthread_mutex_lock(&live_lock);
	for (struct ws_conn *c = live_head; c; c = c->next_live)
		ws_conn_abort(c, NULL, LWS_CLOSE_STATUS_GOINGAWAY, "the gateway is restarting");
	pthread_mutex_unlock(&live_lock);
	live_wake();
	for (int64_t until = time_mono_ms() + WS_STOP_GRACE_MS; time_mono_ms() < until && atomic_load(&live_count) > 0;)
		lws_service(context, 0);
	_exit(0);
}
