/*
 * The session agent's protocol (runner/session_agent.c): what the root
 * supervisor and the agent inside a session's sandbox say to each other
 * over the agent's stdin and stdout.
 *
 * A frame is a 4-byte big-endian length N (1..SESSION_FRAME_MAX) and N
 * bytes of one JSON object. The supervisor sends requests, the agent
 * answers each with one response, in order; it serves one request at a
 * time (the next frame is read when the answer is written).
 *
 * Request:  {"id": int >= 0, "op": "exec",
 *            "command": "shell text" | ["argv", ...],  or  "code": "...", "language": "python3|python3-script|bash|sh|node",
 *            "stdin": "...", "timeout": ms, "max_output": bytes,
 *            "env": {"K": "V"}, "cwd": "/abs"}        (env and cwd: argv and code files only)
 * Response: {"id", "ok": true, "exit_code", "signal", "stdout", "stderr",
 *            "truncated", "timed_out", "shell_restarted", "duration_ms", "cwd"}
 *        or {"id": int | null, "ok": false, "error": "what is wrong"}
 *
 * Everything here is pure (no I/O, no logging, no exit): the request
 * parser runs in the agent, the response parser in root over bytes from
 * an untrusted sandbox, and both are fuzzed (tests/fuzz/fuzz_session_proto.c).
 */
#ifndef SANDRUN_SESSION_PROTO_H
#define SANDRUN_SESSION_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* A frame's body: a whole exec request with its stdin fits, and root never
 * buffers more than this from one sandbox. */
#define SESSION_FRAME_MAX (64u << 20)
/* Per stream of one call: the default and the most a request may ask for.
 * The most keeps a response inside one frame: two streams of control bytes
 * are 6 JSON bytes each (\u0001), 2 * 6 * 4 MiB = 48 MiB < 64 MiB. */
#define SESSION_OUTPUT_DEFAULT (1u << 20)
#define SESSION_OUTPUT_MAX (4u << 20)
#define SESSION_STDIN_MAX (16u << 20)
#define SESSION_CODE_MAX (16u << 20)
#define SESSION_COMMAND_MAX (1u << 20)
#define SESSION_ARGV_MAX 4096
#define SESSION_ENV_MAX 1024
#define SESSION_PATH_MAX 4096
#define SESSION_ERROR_MAX 4096
#define SESSION_TIMEOUT_DEFAULT_MS 30000
#define SESSION_TIMEOUT_MAX_MS 86400000
/* JSON ids stay exact in every JSON implementation (2^53). */
#define SESSION_ID_MAX 9007199254740991LL

/* Reads a frame header. Returns 0 with *len set, or -1 (err says why:
 * empty or over SESSION_FRAME_MAX). */
int session_frame_length(const unsigned char hdr[4], uint32_t *len, char *err, size_t errlen);
void session_frame_header(uint32_t len, unsigned char hdr[4]);

enum session_kind { SESSION_SHELL, SESSION_ARGV, SESSION_CODE };

/* A parsed request; every pointer is owned (session_request_free). */
struct session_request {
	int64_t id;              /* -1 when the frame had no valid id */
	enum session_kind kind;
	char *command;           /* SESSION_SHELL: text without NUL */
	char **argv;             /* SESSION_ARGV: NULL-terminated */
	size_t argc;
	char **envp;             /* "K=V", NULL-terminated; NULL when absent */
	char *cwd;               /* absolute; NULL when absent */
	char *code;              /* SESSION_CODE */
	size_t code_len;
	char *language;
	char *stdin_data;        /* NULL when absent (the command reads EOF) */
	size_t stdin_len;
	int64_t timeout_ms;
	size_t max_output;
};

/* Parses one frame body. Returns 0, or -1 with err naming what is wrong
 * (req->id is still set when the id was readable). The caller frees req
 * either way. */
int session_request_parse(const void *buf, size_t len, struct session_request *req, char *err, size_t errlen);
void session_request_free(struct session_request *req);

/* One call's result. */
struct session_result {
	int exit_code;           /* -1 when killed by a signal (argv form) */
	int signal;              /* 0 or the signal that ended it */
	char *out, *err;         /* not NUL-terminated inside: see the lengths */
	size_t out_len, err_len;
	int truncated, timed_out, shell_restarted;
	int64_t duration_ms;
	char *cwd;
};

/* Encodes a response body (malloc'd, the caller frees; NULL when out of
 * memory). Output bytes that are not UTF-8 become U+FFFD. */
char *session_response_encode_result(int64_t id, const struct session_result *r, size_t *len);
char *session_response_encode_error(int64_t id, const char *message, size_t *len);

/* A parsed response (root's side). For ok == 1 result is set (owned
 * copies), for ok == 0 error is. session_response_free frees both. */
struct session_response {
	int64_t id;              /* -1 for null */
	int ok;
	char *error;
	struct session_result result;
};

/* Parses an agent's response body strictly: every field of its kind with
 * the right type and in range, nothing over the bounds above. Returns 0,
 * or -1 with err saying what is wrong (then resp holds nothing to free). */
int session_response_parse(const void *buf, size_t len, struct session_response *resp, char *err, size_t errlen);
void session_response_free(struct session_response *resp);

/* Copies `len` bytes replacing each invalid UTF-8 sequence with U+FFFD
 * (NUL bytes stay: JSON carries them as \u0000). Malloc'd, with a NUL
 * after *outlen bytes; NULL when out of memory. */
char *session_utf8_sanitize(const char *s, size_t len, size_t *outlen);

#endif
