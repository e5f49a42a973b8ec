/*
 * What a session route takes from a client, parsed and validated without
 * any I/O (SPEC §7, docs/api.md "Sessions"): the create body, the exec
 * body, the path of a file route (from the request URI as sent) and the
 * file routes' query values. Each function returns an HTTP status (0 when
 * the input is good, else 400) and fills `err` with the field at fault and
 * a sentence, as the manifest does, so the responder answers 400 naming
 * the field; nothing here logs or exits, so it is unit-tested
 * (tests/unit/test_session_body.c) and fuzzed
 * (tests/fuzz/fuzz_session_request.c) directly.
 */
#ifndef SANDRUN_SESSION_BODY_H
#define SANDRUN_SESSION_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jobid.h"

/* Bounds on what a body may hold (the body itself: SESSION_BODY_MAX_BYTES). */
#define SESSION_BODY_MAX_BYTES     (4 * 1024 * 1024)
#define SESSION_ENV_MAX            128
#define SESSION_ENV_NAME_MAX       64
#define SESSION_ENV_VALUE_MAX      8192
#define SESSION_ARGV_MAX           256
#define SESSION_ARG_MAX_BYTES      8192
#define SESSION_COMMAND_MAX_BYTES  65536
#define SESSION_CODE_MAX_BYTES     (1024 * 1024)
#define SESSION_STDIN_MAX_BYTES    (1024 * 1024)
#define SESSION_PATH_MAX_BYTES     4096   /* docs/sessions.md, "Paths" */
#define SESSION_NAME_MAX_BYTES     64     /* an environment name */

struct session_body_error {
	char field[64];              /* the field at fault, or "" */
	char reason[256];
};

/* POST /sessions: every field optional. */
struct session_create_req {
	char environment[SESSION_NAME_MAX_BYTES + 1];   /* "default" unless given */
	int64_t memory_mb;           /* session_memory_default (memory_mb_default) unless given */
	int64_t ttl_seconds;         /* session_ttl_default .. */
	int64_t idle_timeout_seconds;
	json_t *env;                 /* object name -> string; never NULL after a success (free: session_create_req_free) */
	char workspace_id[JOBID_LEN + 1]; /* "" for none */
};

/* Parses `len` bytes of JSON (an empty body is {}). 0, or 400 with err filled; *out is then freed. */
int session_create_parse(const char *body, size_t len, const struct sandrun_limits *l,
			 struct session_create_req *out, struct session_body_error *err);
void session_create_req_free(struct session_create_req *req);

/*
 * POST /sessions/{id}/exec: {"command": "shell text" | ["argv", ...]} or
 * {"code", "language"}, with "stdin", "env", "cwd", "timeout" optional.
 * *request gets the supervisor's request object (docs/sessions.md): "op":
 * "exec", the fields given (cwd checked as a session path), "timeout" (the
 * default filled in) and "stream"; *timeout_s the timeout. 0, or 400.
 */
int session_exec_parse(const char *body, size_t len, const struct sandrun_limits *l, bool stream,
		       json_t **request, int64_t *timeout_s, struct session_body_error *err);

/*
 * A path of the file routes, as the client sent it in the request URI
 * after "/files/" (raw: up to a '?', percent-encoded): decoded into out
 * (outlen >= SESSION_PATH_MAX_BYTES + 1). Relative paths are under /work;
 * absolute ones must be /work, /workspace or /tmp or under them. No ".."
 * component, no NUL, no control character, at most SESSION_PATH_MAX_BYTES.
 * An empty path is the workspace ("" in out). 0, or 400.
 */
int session_path_from_uri(const char *raw, size_t rawlen, char *out, size_t outlen,
			  struct session_body_error *err);
/* The same rules for a path given as text (cwd, ?path=): `field` names it in err. 0, or 400. */
int session_path_check(const char *path, size_t len, const char *field, struct session_body_error *err);

/* ?mode=0755: octal, permission bits only (no setuid, setgid, sticky). 0, or 400. */
int session_mode_parse(const char *text, int *mode, struct session_body_error *err);
/* ?recursive=1: "1", "true", "0", "false" (empty: true). 0, or 400. */
int session_flag_parse(const char *text, const char *field, bool *value, struct session_body_error *err);

#endif
