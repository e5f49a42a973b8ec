/*
 * A Redis connection that reconnects by itself. Connect and command
 * timeouts are always set (a Redis that hangs must not hang a responder);
 * after an I/O error the context is dropped and the next call reconnects,
 * so a Redis restart heals without restarting the daemons.
 *
 * Scripts go by EVALSHA. Redis runs without persistence, so a restart
 * loses them; who puts them back is a per-connection choice, as the ACLs
 * have it (redis/users.acl.in): a responder's connection only calls them
 * (its user may not run EVAL or SCRIPT LOAD, so no arbitrary Lua, whose
 * loops nobody could stop but SHUTDOWN NOSAVE), and meets NOSCRIPT as a
 * failure the responder answers 503 for; a runner's connection may load
 * them (rconn_allow_script_load): it falls back to EVAL on NOSCRIPT, and
 * the runner's main connection loads every script at each (re)connect,
 * before its first command, so responders find them again after a restart.
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
	int may_load_scripts;    /* NOSCRIPT: EVAL (the runner); else a failure (responders) */
	const char *const *preload; /* NULL-terminated: loaded (SCRIPT LOAD) at each connect */
	int scripts_missing;     /* the last script call met NOSCRIPT and could not load it */
	int deferred;            /* a command sent by rconn_defer_argv whose reply is not taken yet */
	redisReply *deferred_reply; /* its reply, read ahead of a later command's (NULL: not read yet) */
};

void rconn_init(struct rconn *r, const char *address, const char *user, const char *password,
		int timeout_ms);
void rconn_close(struct rconn *r);

/*
 * Lets this connection put scripts into Redis: EVAL when EVALSHA meets
 * NOSCRIPT and, when `preload` is not NULL (a NULL-terminated list, kept
 * by reference), SCRIPT LOAD of each at every connect, before the
 * connection's first command. Only for a user the ACLs allow EVAL and
 * SCRIPT LOAD (the runner's). Without it a connection only calls scripts.
 */
void rconn_allow_script_load(struct rconn *r, const char *const *preload);

/* Connects (and authenticates, and loads the preload scripts) if not
 * connected. 0, or -1 with r->error set. */
int rconn_connect(struct rconn *r);

/* SCRIPT LOAD of each script of the NULL-terminated list, now. 0, or -1
 * with r->error set (a connection failure drops the connection). */
int rconn_load_scripts(struct rconn *r, const char *const *scripts);

/* The SHA1 of a script as Redis names it (40 hex digits and a NUL). */
void rconn_script_sha(const char *script, char sha[41]);

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

/*
 * Pipelining (hiredis's append + get): rconn_defer_argv queues one command
 * without waiting for its reply. The next command of this connection goes
 * out in the same write, and its caller reads its own reply as usual: the
 * deferred reply is read first and kept. rconn_deferred_take returns it
 * (reading it now if no command followed); the caller frees it. A read-only
 * route thus reads the RateLimit figures and its record in one round trip
 * (fcgi/quota.c). One deferred command at a time: 0, or -1 (r->error set)
 * when one is already pending or Redis is unreachable. A connection failure
 * drops the deferred reply with the connection: take then returns NULL.
 */
int rconn_defer_argv(struct rconn *r, int argc, const char **argv, const size_t *lens);
redisReply *rconn_deferred_take(struct rconn *r);

/*
 * EVALSHA `script` with numkeys keys then args. `script` is one of the
 * embedded scripts (static text that never changes: its SHA1 is computed
 * once per address and thread). Same contract as
 * rconn_argv, and on NOSCRIPT: EVAL if the connection may load scripts;
 * else NULL with r->error saying so and rconn_scripts_missing() true
 * (the connection stays: Redis is up, only the scripts are not back yet).
 */
redisReply *rconn_script(struct rconn *r, const char *script, int numkeys, int argc,
			 const char **argv, const size_t *lens);

/* Whether the last command was a script call that met NOSCRIPT and could
 * not load the script (a responder's answer: the job store is restarting). */
int rconn_scripts_missing(const struct rconn *r);

#endif
