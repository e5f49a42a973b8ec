/*
 * One WebSocket of the gateway, shared between the libwebsockets service
 * thread (which alone touches the socket) and the connection's worker
 * thread(s) (which alone talk to Redis, blocking). They meet here:
 *
 *   out queue   the worker appends messages (text, binary, a close) and
 *               wakes the service thread (lws_cancel_service); the service
 *               thread sends them when the socket is writable. Bounded
 *               (WS_OUT_QUEUE_MAX bytes): a slow reader makes the worker
 *               wait, never the service loop or the memory grow.
 *   in queue    a terminal's client messages (ws/pty.c), parsed by the
 *               service thread, sent to Redis by the input thread. Bounded
 *               too: when full the service thread stops reading the socket
 *               (lws_rx_flow_control) until the input thread catches up.
 *   gone        the client left (or the daemon stops): every wait here
 *               ends within WS_WAIT_SLICE_MS and the workers return.
 *
 * Ownership: a reference each for the service thread (dropped at
 * LWS_CALLBACK_CLOSED) and each worker; the last ws_conn_release frees.
 */
#ifndef SANDRUN_WS_CONN_H
#define SANDRUN_WS_CONN_H

#include "config.h"
#include "parse.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define WS_OUT_QUEUE_MAX  (1024 * 1024)  /* bytes waiting for a slow reader, per connection */
#define WS_IN_QUEUE_MAX   (256 * 1024)   /* a terminal's keystrokes waiting for Redis */
#define WS_WAIT_SLICE_MS  250            /* a wait looks whether the client is gone this often */
/* RFC 6455 registry: "try again later" (libwebsockets 4.1 names no constant for it) */
#define WS_CLOSE_TRY_AGAIN_LATER 1013

enum ws_msg_kind { WS_MSG_TEXT, WS_MSG_BINARY, WS_MSG_CLOSE };

struct ws_msg {
	struct ws_msg *next;
	enum ws_msg_kind kind;
	int close_code;              /* WS_MSG_CLOSE */
	size_t len;
	unsigned char buf[];         /* LWS_PRE bytes of room, then len bytes */
};

struct ws_conn {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* the out queue drained, the in queue filled, gone */
	int refs;
	struct lws *wsi;             /* NULL once closed (service thread's; read under lock) */
	struct lws_context *ctx;
	const struct sandrun_config *cfg;
	struct ws_conn *next_live;   /* the live list (ws/main.c) */

	struct ws_route route;
	char client[64];             /* X-Forwarded-For (nginx sets it), for log lines */
	char id[24];                 /* a request id for log lines */

	struct ws_msg *out_head, *out_tail;
	size_t out_bytes;
	bool closing;                /* a close is queued: nothing after it */
	bool gone;
	bool worker_done;            /* the output worker returned (the input thread stops too) */

	struct ws_msg *in_head, *in_tail;
	size_t in_bytes;
	bool rx_paused, rx_resume;

};

struct ws_conn *ws_conn_new(struct lws *wsi, const struct sandrun_config *cfg);
void ws_conn_hold(struct ws_conn *c);
void ws_conn_release(struct ws_conn *c);

/* Worker side. Each returns 0, or -1 when the client is gone (nothing queued). */
int ws_conn_send(struct ws_conn *c, enum ws_msg_kind kind, const void *data, size_t len);
int ws_conn_send_json(struct ws_conn *c, json_t *value);   /* stolen */
/* Queues the close (code, reason: at most 123 bytes); nothing is sent after it. */
void ws_conn_close(struct ws_conn *c, int code, const char *reason);
bool ws_conn_gone(struct ws_conn *c);
/* The next input message (caller frees), waiting at most WS_WAIT_SLICE_MS; NULL when none yet. */
struct ws_msg *ws_conn_input_pop(struct ws_conn *c);

/* Service thread side (under no lock). */
/* Drops what waits for the socket and queues `json` (stolen; may be NULL) and the close: a protocol error's answer, now. */
void ws_conn_abort(struct ws_conn *c, json_t *json, int code, const char *reason);
/* Queues an input message; true when the queue is over its bound now (pause reading). */
bool ws_conn_input_push(struct ws_conn *c, enum ws_msg_kind kind, const void *data, size_t len);
struct ws_msg *ws_msg_new(enum ws_msg_kind kind, const void *data, size_t len);

#endif
