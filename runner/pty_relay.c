/*
 * Root's side of a session's terminal: the input and output pumps and the
 * supervisor's few writes (pty_relay.h). What comes from Redis (pty:in)
 * and from the sandbox (the channel) is parsed by runner/pty_proto.c's
 * pure functions before anything is done with it.
 */
#include "pty_relay.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pty_proto.h"
#include "util.h"

#define PTY_BLOCK_S 1                /* BLPOP slices */
#define PTY_RETRY_MS 1000            /* after a Redis failure */
#define PTY_SEND_WAIT_MS 2000        /* a message to the relay waits this long for room, then is dropped */
#define PTY_TTL_REFRESH_MS 1000      /* the record's PTTL is read again after this long */
#define PTY_TTL_FALLBACK_MS 300000   /* a record without a TTL: the stream still expires */

char *pty_agent_frame(int64_t id, unsigned cols, unsigned rows, bool reap, size_t *len)
{
	char *f = xmalloc(128);
	int n = snprintf(f, 128, "{\"id\":%" PRId64 ",\"op\":\"pty\",\"cols\":%u,\"rows\":%u,\"reap\":%s}", id, cols,
			 rows, reap ? "true" : "false");

	*len = (size_t)n;
	return f;
}

int pty_chan_send(int chan, const char *msg, size_t len)
{
	int64_t until = time_mono_ms() + PTY_SEND_WAIT_MS;

	for (;;) {
		struct pollfd p = { chan, POLLOUT, 0 };
		int64_t left;

		if (send(chan, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		left = until - time_mono_ms();
		if (left <= 0)
			return -1;
		poll(&p, 1, (int)left);
	}
}

/* The record's PTTL in ms, or the fallback. */
static int64_t pty_record_ttl(struct rconn *r, const struct session_keys *k)
{
	redisReply *reply = rconn_command(r, "PTTL %s", k->ses);
	int64_t ttl = PTY_TTL_FALLBACK_MS;

	if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
		ttl = reply->integer;
	if (reply)
		freeReplyObject(reply);
	return ttl;
}

static int pty_stream_add_ttl(struct rconn *r, const struct session_keys *k, const char *type, const char *data,
			      size_t len, int64_t ttl_ms, char *id, size_t idlen)
{
	const char *argv[10] = { "XADD", k->pty, "MAXLEN", "~", PTY_STREAM_MAXLEN, "*", "t", type, "d", data };
	size_t lens[10];
	redisReply *reply;
	int rc = -1;

	for (int i = 0; i < 9; i++)
		lens[i] = strlen(argv[i]);
	lens[9] = len;
	reply = rconn_argv(r, 0, 10, argv, lens);
	if (reply && reply->type == REDIS_REPLY_STRING) {
		if (id)
			snprintf(id, idlen, "%.*s", (int)reply->len, reply->str);
		rc = 0;
	} else if (reply && reply->type == REDIS_REPLY_ERROR) {
		snprintf(r->error, sizeof r->error, "XADD %s: %s", k->pty, reply->str);
	}
	if (reply)
		freeReplyObject(reply);
	if (rc == 0) {
		reply = rconn_command(r, "PEXPIRE %s %lld", k->pty, (long long)ttl_ms);
		if (reply)
			freeReplyObject(reply);
	}
	return rc;
}

int pty_stream_add(struct rconn *r, const struct session_keys *k, const char *type, const char *data, size_t len,
		   char *id, size_t idlen)
{
	return pty_stream_add_ttl(r, k, type, data, len, pty_record_ttl(r, k), id, idlen);
}

/* ---- the pumps */

/* In a pump: die with the supervisor, keep only the channel (at 3) and stdio. */
static void pty_pump_enter(const struct pty_pump_config *c, pid_t parent, const char *name)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (c->chan != 3 && dup2(c->chan, 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
}

static _Noreturn void pty_input_pump(const struct pty_pump_config *c)
{
	struct rconn r;
	char block[8];
	const char *argv[3] = { "BLPOP", c->keys->pty_in, block };
	static char msg[PTY_MSG_MAX];

	snprintf(block, sizeof block, "%d", PTY_BLOCK_S);
	rconn_init(&r, c->redis_address, c->redis_user, c->redis_password, c->redis_timeout_ms);
	for (;;) {
		redisReply *reply = rconn_argv(&r, PTY_BLOCK_S * 1000, 3, argv, NULL);
		struct pty_input in;
		char err[128];

		if (!reply || reply->type == REDIS_REPLY_ERROR) {
			log_warn(c->label, "terminal input: %s", reply ? reply->str : r.error);
			if (reply)
				freeReplyObject(reply);
			usleep(PTY_RETRY_MS * 1000);
			continue;
		}
		if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
		    && reply->element[1]->type == REDIS_REPLY_STRING) {
			if (pty_input_parse(reply->element[1]->str, reply->element[1]->len, &in, err, sizeof err) < 0) {
				log_warn(c->label, "terminal input dropped: %s", err);
			} else {
				size_t n = pty_chan_encode(&in, msg);

				if (pty_chan_send(3, msg, n) < 0) {
					if (errno == EPIPE || errno == ECONNRESET)
						_exit(0);       /* the sandbox is gone */
					log_warn(c->label, "terminal input dropped: the terminal does not read it");
				}
			}
		}
		freeReplyObject(reply);
	}
}

static _Noreturn void pty_output_pump(const struct pty_pump_config *c, int32_t *exits)
{
	static char msg[PTY_MSG_MAX + 1];
	struct rconn r;
	int64_t window = time_mono_ms(), used = 0, ttl = 0, ttl_at = 0;

	rconn_init(&r, c->redis_address, c->redis_user, c->redis_password, c->redis_timeout_ms);
	for (;;) {
		struct pollfd p = { 3, POLLIN, 0 };
		struct pty_relay_msg m;
		char err[128];
		int64_t now = time_mono_ms();
		ssize_t n;

		if (now - window >= 1000) {
			/* what the last message took beyond the budget is owed by this second */
			used = used > c->bytes_per_second ? used - c->bytes_per_second : 0;
			window = now;
		}
		if (used >= c->bytes_per_second) {
			/* the budget is spent: read nothing until the next second (backpressure) */
			usleep((useconds_t)(window + 1000 - now) * 1000);
			continue;
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recv(3, msg, sizeof msg, MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0)
			_exit(0);               /* the sandbox's end is closed: it is gone */
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			_exit(1);
		}
		if (pty_relay_parse(msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg, &m, err, sizeof err) < 0
		    || (size_t)n > PTY_MSG_MAX) {
			log_warn(c->label, "terminal output dropped: %s", (size_t)n > PTY_MSG_MAX ? "a message over the bound" : err);
			continue;
		}
		if (now - ttl_at >= PTY_TTL_REFRESH_MS) {
			ttl = pty_record_ttl(&r, c->keys);
			ttl_at = now;
		}
		if (m.kind == PTY_RELAY_OUTPUT) {
			used += (int64_t)m.len;
			if (pty_stream_add_ttl(&r, c->keys, "o", m.data, m.len, ttl, NULL, 0) < 0)
				log_warn(c->label, "terminal output lost: %s", r.error);
			continue;
		}
		if (pty_stream_add_ttl(&r, c->keys, "x", m.status, strlen(m.status), ttl, NULL, 0) < 0)
			log_warn(c->label, "terminal exit lost: %s", r.error);
		{
			redisReply *reply = rconn_command(&r, "DEL %s", c->keys->pty_in);

			if (reply)
				freeReplyObject(reply);
		}
		__atomic_add_fetch(exits, 1, __ATOMIC_RELEASE);
		log_info(c->label, "terminal ended: %s", m.status);
	}
}

int pty_pumps_start(struct pty_pumps *p, const struct pty_pump_config *c, char *err, size_t errlen)
{
	pid_t parent = getpid();

	memset(p, 0, sizeof *p);
	p->exits = mmap(NULL, sizeof *p->exits, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->exits == MAP_FAILED) {
		p->exits = NULL;
		return error_format(err, errlen, "cannot map the terminal's shared page: %s", strerror(errno));
	}
	p->in_pid = fork();
	if (p->in_pid == 0) {
		pty_pump_enter(c, parent, "sandrun-pty-in");
		pty_input_pump(c);
	}
	if (p->in_pid > 0)
		p->out_pid = fork();
	if (p->out_pid == 0 && p->in_pid > 0) {
		pty_pump_enter(c, parent, "sandrun-pty-out");
		pty_output_pump(c, p->exits);
	}
	if (p->in_pid < 0 || p->out_pid < 0) {
		int e = errno;

		pty_pumps_stop(p);
		return error_format(err, errlen, "cannot fork the terminal's pumps: %s", strerror(e));
	}
	return 0;
}

void pty_pumps_stop(struct pty_pumps *p)
{
	if (p->in_pid > 0) {
		kill(p->in_pid, SIGKILL);
		waitpid(p->in_pid, NULL, 0);
	}
	if (p->out_pid > 0) {
		kill(p->out_pid, SIGKILL);
		waitpid(p->out_pid, NULL, 0);
	}
	p->in_pid = p->out_pid = 0;
	if (p->exits)
		munmap(p->exits, sizeof *p->exits);
	p->exits = NULL;
}

int32_t pty_pumps_exits(const struct pty_pumps *p)
{
	return p->exits ? __atomic_load_n(p->exits, __ATOMIC_ACQUIRE) : 0;
}
