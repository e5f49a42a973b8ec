/*
 * The control messages a session's supervisor (runner/session.c) reads
 * from Redis and from its agent, and the frames it writes back
 * (docs/sessions.md): pure functions, no I/O, fuzzed
 * (tests/fuzz/fuzz_session_control.c) -- what comes out of Redis and out
 * of a sandbox is untrusted input to root.
 *
 *   create entry (sr:sespool:ENV)  -> struct session_create
 *   request (sr:{SID}:req)         -> struct session_ctl_request
 *   request -> agent frame         (session_ctl_agent_frame: exec's timeout
 *                                   in seconds becomes ms, rid becomes id)
 *   agent frame -> reply frame     (session_ctl_translate: an event, or the
 *                                   final frame, "binary":N kept)
 *   failures                       (session_ctl_error_frame)
 */
#ifndef SANDRUN_SESSION_CONTROL_H
#define SANDRUN_SESSION_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_CTL_ID_MAX 64        /* ids and names, NUL included */
#define SESSION_CTL_RID_LEN 16       /* a request id: 16 lowercase hex digits */
#define SESSION_CTL_ENTRY_MAX (1u << 20) /* a create entry or a request JSON, at most */
#define SESSION_CTL_ENV_MAX 1024     /* variables in a create's env */
#define SESSION_CTL_BINARY_MAX (1u << 30) /* a raw frame after "binary":N (0 allowed): the agent's bound;
                                             the supervisor keeps less (session_file_max_bytes, snapshot_max_bytes) */

/* What bounds a create entry's numbers (the runner's configuration). */
struct session_ctl_limits {
	int64_t memory_mb_min, memory_mb_max;
	int64_t ttl_max, idle_max;   /* seconds */
};

struct session_create {
	char session_id[SESSION_CTL_ID_MAX];
	char environment[SESSION_CTL_ID_MAX];
	char workspace_id[SESSION_CTL_ID_MAX];   /* "" for none */
	char client[SESSION_CTL_ID_MAX];
	int64_t memory_mb, ttl_seconds, idle_timeout_seconds;
	char *env_json;              /* the env object as compact JSON ("{}" when absent); owned */
	size_t nenv;
};

/* Parses a create entry. 0, or -1 with err naming the field (then c holds nothing to free;
 * session_id is still filled when it was readable, so the caller can end that session). */
int session_create_parse(const void *buf, size_t len, const struct session_ctl_limits *lim,
			 struct session_create *c, char *err, size_t errlen);
void session_create_free(struct session_create *c);

enum session_ctl_op {
	SESSION_CTL_OP_EXEC, SESSION_CTL_OP_WRITE, SESSION_CTL_OP_READ, SESSION_CTL_OP_DELETE, SESSION_CTL_OP_UNPACK,
	SESSION_CTL_OP_ARCHIVE, SESSION_CTL_OP_PAUSE, SESSION_CTL_OP_RESUME, SESSION_CTL_OP_SNAPSHOT, SESSION_CTL_OP_END,
	SESSION_CTL_OP_PTY,          /* the terminal's open (runner/pty_relay.h) */
	SESSION_CTL_OP_COUNT,
};

const char *session_ctl_op_name(enum session_ctl_op op);

struct session_ctl_request {
	char rid[SESSION_CTL_RID_LEN + 1];   /* "" when the request had none readable */
	enum session_ctl_op op;
	bool has_data;               /* write, unpack: the payload is in sr:{SID}:data:RID */
	void *json;                  /* the parsed object (json_t *), owned */
};

/* Parses a request. 0; or -1 with err (and req->rid set when it was readable, so that the
 * failure can be answered); free either way. */
int session_ctl_request_parse(const void *buf, size_t len, struct session_ctl_request *req, char *err,
			      size_t errlen);
void session_ctl_request_free(struct session_ctl_request *req);

/*
 * The agent frame for a request that goes to the agent (exec and the files
 * ops), with id `id`; binary_len >= 0 adds "binary":binary_len (the payload
 * follows as its own frame). Malloc'd (*len bytes), or NULL with err and
 * *field naming the request field that is wrong (a 400).
 */
char *session_ctl_agent_frame(const struct session_ctl_request *req, int64_t id, int64_t binary_len,
			      size_t *len, char *err, size_t errlen, const char **field);

/* The agent's `init` frame: {"id", "op": "init", "env": env_json}. Malloc'd, or NULL. */
char *session_ctl_init_frame(int64_t id, const char *env_json, size_t *len);

/* The agent's `archive` frame for a snapshot (/work) or `unpack` of a workspace into /work. */
char *session_ctl_workspace_frame(int64_t id, bool unpack, int64_t binary_len, size_t *len);

enum session_ctl_kind {
	SESSION_CTL_EVENT,           /* a streamed exec's output: *reply is {"event","data"} */
	SESSION_CTL_FINAL,           /* the answer: *reply is the final frame */
};

/*
 * Translates one frame from the agent (answering request `id`) into a reply
 * frame: an event, or the final frame ({"final":true,"ok":true,...result} or
 * {"final":true,"ok":false,"status","error"}). *binary_len is N when the
 * agent said "binary":N (its next frame is N raw bytes; the final frame
 * keeps "binary":N), else -1. 0, or -1 with err when the frame is not an
 * answer to `id` the agent may give (the supervisor then ends the session:
 * the agent is broken or hostile).
 */
int session_ctl_translate(const void *buf, size_t len, int64_t id, enum session_ctl_kind *kind, char **reply,
			  size_t *rlen, int64_t *binary_len, char *err, size_t errlen);

/* {"final":true,"ok":false,"status":S,"error":E[,"reason":R][,"field":F]}; malloc'd or NULL. */
char *session_ctl_error_frame(int status, const char *error, const char *reason, const char *field, size_t *len);

#endif
