/*
 * A Redis connection that reconnects by itself. Connect and command
 * timeouts are always set (a Redis that hangs must not hang a responder);
 * after an I/O error the context is dropped and the next call reconnects,
 * so a Redis restart heals without restarting the daemons. Scripts go by
 * EVALSHA, falling back to EVAL when Redis lost them (it runs without
 * persistence).
 */
#ifndef SANDRUN_RCONN_H
#define SANDRUN_RCONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

struct rconn {
	redisContext *ctx;       /* NULL while disconnected */
	char *address;           /* "host:port" or "unix:/path" */
	char *user, *password;
	int timeout_ms;
	char error[256];         /* the last failure, for logs and 503 reasons */
};

void rconn_init(struct rconn *r, const char *address, const char *user, const char *password,
		int timeout_ms);
void rconn_close(struct rconn *r);

/* Connects (and authenticates) if not connected. 0, or -1 with r->error set. */
int rconn_connect(struct rconn *r);

/*
 * Runs one command (binary-safe argv). Returns the reply (caller frees it
 * with freeReplyObject) or NULL on a connection failure (r->error says why;
 * the connection is dropped). An error reply from Redis is returned as a
 * REDIS_REPLY_ERROR reply, not NULL. `extra_timeout_ms` widens the command
 * timeout for blocking commands (XREADGROUP BLOCK ...).
 */
redisReply *rconn_argv(struct rconn *r, int extra_timeout_ms, int argc, const char **argv,
		       const size_t *lens);
/* printf-style convenience (use %b for binary and untrusted strings). */
redisReply *rconn_command(struct rconn *r, const char *fmt, ...);

/* EVALSHA `script` with numkeys keys then args; EVAL on NOSCRIPT. Same contract as rconn_argv. */
redisReply *rconn_script(struct rconn *r, const char *script, int numkeys, int argc,
			 const char **argv, const size_t *lens);

#endif
