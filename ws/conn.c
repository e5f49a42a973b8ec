/*
 * A WebSocket's queues between the service thread and its workers
 * (ws/conn.h says who does what). Waits are timed (WS_WAIT_SLICE_MS), so a
 * worker notices a client that left even when nobody signals it.
 */
#include "conn.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ws_msg *ws_msg_new(enum ws_msg_kind kind, const void *data, size_t len)
{
	struct ws_msg *m = xmalloc(sizeof *m + LWS_PRE + len);

	m->next = NULL;
	m->kind = kind;
	m->close_code = 0;
	m->len = len;
	if (len)
		memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

static void msg_list_free(struct ws_msg *m)
{
	while (m) {
		struct ws_msg *next = m->next;

		free(m);
		m = next;
	}
}

struct ws_conn *ws_conn_new(struct lws *wsi, const struct sandrun_config *cfg)
{
	struct ws_conn *c = calloc(1, sizeof *c);
	pthread_condattr_t attr;

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	c->refs = 1;
	c->wsi = wsi;
	c->ctx = lws_get_context(wsi);
	c->cfg = cfg;
	return c;
}

void ws_conn_hold(struct ws_conn *c)
{
	pthread_mutex_lock(&c->lock);
	c->refs++;
	pthread_mutex_unlock(&c->lock);
}

void ws_conn_release(struct ws_conn *c)
{
	int left;

	pthread_mutex_lock(&c->lock);
	left = --c->refs;
	pthread_mutex_unlock(&c->lock);
	if (left > 0)
		return;
	msg_list_free(c->out_head);
	msg_list_free(c->in_head);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Waits on c->cond for one slice (c->lock held). */
static void conn_wait_slice(struct ws_conn *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)WS_WAIT_SLICE_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

/* Appends m to the out queue (c->lock held) and wakes the service thread. */
static void conn_queue(struct ws_conn *c, struct ws_msg *m)
{
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	c->out_bytes += m->len;
	/* thread-safe: the service loop wakes up and asks for writable sockets */
	lws_cancel_service(c->ctx);
}

int ws_conn_send(struct ws_conn *c, enum ws_msg_kind kind, const void *data, size_t len)
{
	struct ws_msg *m = ws_msg_new(kind, data, len);

	pthread_mutex_lock(&c->lock);
	/* A message larger than the bound goes alone into an empty queue. */
	while (!c->gone && !c->closing && c->out_head && c->out_bytes + len > WS_OUT_QUEUE_MAX)
		conn_wait_slice(c);
	if (c->gone || c->closing) {
		pthread_mutex_unlock(&c->lock);
		free(m);
		return -1;
	}
	conn_queue(c, m);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int ws_conn_send_json(struct ws_conn *c, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	int rc = text ? ws_conn_send(c, WS_MSG_TEXT, text, strlen(text)) : -1;

	free(text);
	json_decref(value);
	return rc;
}

void ws_conn_close(struct ws_conn *c, int code, const char *reason)
{
	size_t len = reason ? strlen(reason) : 0;
	struct ws_msg *m;

	if (len > 123)           /* a close frame's payload: 2 bytes of code + 123 */
		len = 123;
	m = ws_msg_new(WS_MSG_CLOSE, reason, len);
	m->close_code = code;
	pthread_mutex_lock(&c->lock);
	if (c->gone || c->closing) {
		pthread_mutex_unlock(&c->lock);
		free(m);
		return;
	}
	c->closing = true;
	conn_queue(c, m);
	pthread_mutex_unlock(&c->lock);
}

bool ws_conn_gone(struct ws_conn *c)
{
	bool gone;

	pthread_mutex_lock(&c->lock);
	gone = c->gone || c->closing;
	pthread_mutex_unlock(&c->lock);
	return gone;
}

struct ws_msg *ws_conn_input_pop(struct ws_conn *c)
{
	struct ws_msg *m;

	pthread_mutex_lock(&c->lock);
	if (!c->in_head && !c->gone && !c->closing && !c->worker_done)
		conn_wait_slice(c);
	m = c->in_head;
	if (m) {
		c->in_head = m->next;
		if (!c->in_head)
			c->in_tail = NULL;
		c->in_bytes -= m->len;
		m->next = NULL;
		if (c->rx_paused && c->in_bytes < WS_IN_QUEUE_MAX / 2) {
			c->rx_resume = true;
			lws_cancel_service(c->ctx);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return m;
}

bool ws_conn_input_push(struct ws_conn *c, enum ws_msg_kind kind, const void *data, size_t len)
{
	struct ws_msg *m = ws_msg_new(kind, data, len);
	bool full;

	pthread_mutex_lock(&c->lock);
	if (c->in_tail)
		c->in_tail->next = m;
	else
		c->in_head = m;
	c->in_tail = m;
	c->in_bytes += len;
	full = c->in_bytes >= WS_IN_QUEUE_MAX;
	if (full)
		c->rx_paused = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return full;
}

void ws_conn_abort(struct ws_conn *c, json_t *json, int code, const char *reason)
{
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
	size_t len = reason ? strlen(reason) : 0;
	struct ws_msg *close = ws_msg_new(WS_MSG_CLOSE, reason, len > 123 ? 123 : len);

	json_decref(json);
	close->close_code = code;
	pthread_mutex_lock(&c->lock);
	if (c->closing) {
		pthread_mutex_unlock(&c->lock);
		free(close);
		free(text);
		return;
	}
	msg_list_free(c->out_head);
	c->out_head = c->out_tail = NULL;
	c->out_bytes = 0;
	if (text)
		conn_queue(c, ws_msg_new(WS_MSG_TEXT, text, strlen(text)));
	conn_queue(c, close);
	c->closing = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	free(text);
}
