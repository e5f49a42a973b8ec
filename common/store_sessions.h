/*
 * The job store's session calls made by the responders (SPEC §7,
 * docs/sessions.md): one function per responder-side Lua script
 * (redis/session_create.lua, session_request.lua, session_abandon.lua,
 * session_lost.lua), built as common/store_scripts.c builds the job
 * scripts' calls: the argument builders and reply readers are pure and
 * tested without a Redis (tests/unit/test_store_sessions.c). The runner's
 * session scripts have their calls in common/store_sessions_runner.c.
 * Results as common/store.h says: 0 (the answer in the out parameter),
 * STORE_UNREACHABLE or STORE_BAD_REPLY with r->error set.
 */
#ifndef SANDRUN_STORE_SESSIONS_H
#define SANDRUN_STORE_SESSIONS_H

#include "store.h"
#include "store_scripts.h"

/* ---- session record fields (hash sr:{SID}:ses; times: epoch ms) */
#define SES_F_STATUS        "status"        /* starting | ready | paused | ended */
#define SES_F_REASON        "reason"        /* ended: deleted|idle_timeout|ttl|runner_lost|no_sandbox|internal */
#define SES_F_CLIENT        "client"        /* the quota key of the creating address */
#define SES_F_ENVIRONMENT   "environment"
#define SES_F_MEMORY_MB     "memory_mb"
#define SES_F_TTL           "ttl_seconds"
#define SES_F_IDLE          "idle_timeout_seconds"
#define SES_F_CREATED       "created_at"
#define SES_F_LAST_USED     "last_used_at"
#define SES_F_EXPIRES       "expires_at"
#define SES_F_RUNNER        "runner"        /* the runner's name (sr:runners member) once claimed */
#define SES_F_CPU           "cpu_seconds"
#define SES_F_MEMORY        "memory_bytes"
#define SES_F_MEMORY_PEAK   "memory_peak_bytes"
#define SES_F_ENDED         "ended_at"
#define SES_F_ERROR         "error"         /* a sentence: why it ended, or what failed */
#define SES_F_WORKSPACE     "workspace_id"  /* the snapshot it started from, "" for none */

/* What the ledger charges for one request's bytes besides the bytes (a string key and its TTL). */
#define STORE_SESSION_DATA_COST 256
/* How long a request's bytes and a request's reply list live (docs/sessions.md). */
#define STORE_SESSION_DATA_TTL_MS 120000

/* The session scripts, embedded at build time (common/redis_scripts.c). */
extern const char redis_script_session_create[];
extern const char redis_script_session_request[];
extern const char redis_script_session_abandon[];
extern const char redis_script_session_lost[];
extern const char redis_script_session_pty_input[];  /* the gateway's: a terminal's input (ws/pty.c) */

/* A call's arguments and the keys they name (the store_args holds the numbers and the list). */
struct session_args {
	struct store_args a;
	struct session_keys s;
	struct client_keys client;
	char extra[2][STORE_KEY_MAX];   /* per script: the pool list and the workspace; the data key */
};

/* ---- session_create.lua */
struct store_session_create {
	const char *sid, *client;
	const char *environment;
	const char *entry;           /* the create entry (JSON) for the pool list */
	const char *workspace_id;    /* NULL or "" for none */
	int64_t now_ms, ttl_s, idle_s, memory_mb;
	int64_t sessions_max;        /* live sessions per client */
	int64_t high_water_percent;
	int64_t quota_idle_ms;
	int64_t pool_entry_ms;       /* how long the pool list is kept after a push */
};

enum store_session_create_verdict {
	STORE_SESSION_CREATED,
	STORE_SESSION_OVER_SESSIONS, /* the client holds sessions_max live sessions */
	STORE_SESSION_OVER_MEMORY,   /* Redis over the high-water mark */
	STORE_SESSION_NO_WORKSPACE,  /* workspace_id names no snapshot */
	STORE_SESSION_REDIS_FULL,    /* Redis refused the script whole (OOM) */
};

struct store_session_create_result {
	enum store_session_create_verdict verdict;
	long long count;             /* CREATED, OVER_SESSIONS: live sessions */
	long long retry_ms;          /* OVER_SESSIONS: until the first may end at the latest */
	double used;                 /* OVER_MEMORY: used_memory */
	long long max;               /* OVER_MEMORY: maxmemory */
};

int store_session_create_args(struct session_args *a, const struct store_session_create *p);
int store_session_create_reply(const redisReply *r, struct store_session_create_result *res, char *err,
			       size_t errlen);
int store_session_create(struct rconn *r, const struct store_session_create *p,
			 struct store_session_create_result *res);

/* ---- session_request.lua */
struct store_session_request {
	const char *sid, *client;
	const char *rid;             /* 16 hex digits */
	const char *op;              /* exec, write, read, delete, unpack, archive, pause, resume, snapshot, end */
	const char *request;         /* JSON for the supervisor */
	const char *data;            /* bytes for the data key, or NULL */
	size_t data_len;
	int64_t now_ms;
	double cpu_limit;
	int64_t window_ms;
	int64_t storage_quota;
	int64_t high_water_percent;
};

enum store_session_request_verdict {
	STORE_SESSION_SENT,
	STORE_SESSION_GONE,          /* no record */
	STORE_SESSION_ENDED,         /* ended: reason says why */
	STORE_SESSION_STARTING,      /* its create has not finished */
	STORE_SESSION_PAUSED,        /* exec and files refused while paused */
	STORE_SESSION_OVER_CPU,      /* exec: the client's CPU window is used up */
	STORE_SESSION_OVER_STORAGE,  /* the bytes would pass the client's storage quota */
	STORE_SESSION_REQ_OVER_MEMORY, /* Redis over the high-water mark for the bytes */
	STORE_SESSION_REQ_REDIS_FULL,  /* Redis refused the script whole (OOM) */
};

struct store_session_request_result {
	enum store_session_request_verdict verdict;
	char reason[32];             /* ENDED: the record's reason */
	double used;                 /* OVER_CPU: CPU-seconds; OVER_STORAGE: bytes; OVER_MEMORY: used_memory */
	long long figure;            /* OVER_CPU, OVER_STORAGE: retry ms (-1: never); OVER_MEMORY: maxmemory */
};

int store_session_request_args(struct session_args *a, const struct store_session_request *p);
int store_session_request_reply(const redisReply *r, struct store_session_request_result *res, char *err,
				size_t errlen);
int store_session_request(struct rconn *r, const struct store_session_request *p,
			  struct store_session_request_result *res);

/* ---- session_abandon.lua: a create that got no sandbox in time */
enum store_session_abandon_outcome {
	STORE_SESSION_ABANDONED,     /* it was starting: ended with reason no_sandbox */
	STORE_SESSION_NOT_STARTING,  /* it became ready (or paused, ended) meanwhile: status says */
	STORE_SESSION_ABANDON_GONE,  /* no record */
};

int store_session_abandon_args(struct session_args *a, const char *sid, const char *client, int64_t now_ms,
			       const char *sentence);
int store_session_abandon_reply(const redisReply *r, enum store_session_abandon_outcome *out, char *status,
				size_t statuslen, char *err, size_t errlen);
int store_session_abandon(struct rconn *r, const char *sid, const char *client, int64_t now_ms,
			  const char *sentence, enum store_session_abandon_outcome *out, char *status,
			  size_t statuslen);

/* ---- session_lost.lua: the record's runner has no live heartbeat */
enum store_session_lost_outcome {
	STORE_SESSION_LOST,          /* ended now with reason runner_lost */
	STORE_SESSION_ALIVE,         /* its runner beats (or none claimed it yet) */
	STORE_SESSION_LOST_GONE,     /* no record, or ended already */
};

int store_session_lost_args(struct session_args *a, const char *sid, const char *client, int64_t now_ms,
			    int64_t lease_ms, const char *sentence);
int store_session_lost_reply(const redisReply *r, enum store_session_lost_outcome *out, char *err,
			     size_t errlen);
int store_session_lost(struct rconn *r, const char *sid, const char *client, int64_t now_ms, int64_t lease_ms,
		       const char *sentence, enum store_session_lost_outcome *out);

#endif
