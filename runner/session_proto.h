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
 * A JSON frame with "binary": N (0..SESSION_BINARY_MAX) is followed by
 * exactly one raw frame: a 4-byte length that must be N, and N bytes
 * (N may be 0). write and unpack requests carry one; read (of a file)
 * and archive responses do.
 *
 * Requests (each {"id": int >= 0, "op": ..., fields}; unknown fields refused):
 *   exec    {"command": "shell text" | ["argv", ...],  or  "code": "...", "language": "python3|python3-script|bash|sh|node",
 *            "stdin": "...", "timeout": ms, "max_output": bytes,
 *            "env": {"K": "V"}, "cwd": "/abs",      (env and cwd: argv and code files only)
 *            "stream": bool}
 *   init    {"env": {"K": "V"}}: exported to every later command; only before the first exec
 *   write   {"path", "mode": 0..0777 (an integer, or an octal string "0755"; default 0644), "binary": N} + N bytes
 *   read    {"path", "max_bytes"}
 *   delete  {"path", "recursive": bool}
 *   unpack  {"path" (a directory; default /work), "max_bytes", "max_files", "binary": N} + the archive
 *   archive {"path", "max_bytes"}
 *   pty     {"cols", "rows" (1..1000, default 80x24), "reap": bool}: starts the
 *           session's terminal unless one runs (runner/session_pty.h); reap
 *           says root saw the last one end, so its relay is waited for
 * Paths: runner/session_path.h.
 *
 * Responses:
 *   exec    {"id", "ok": true, "exit_code", "signal", "stdout", "stderr",
 *            "truncated", "timed_out", "shell_restarted", "duration_ms", "cwd", "streamed"?}
 *           With "stream": true, frames {"id", "event": "stdout"|"stderr", "data": "..."}
 *           come first (at most one per stream every 50 ms or 64 KiB, cut
 *           at UTF-8 character boundaries); the result then has
 *           "streamed": true and empty stdout/stderr: what was streamed is
 *           not sent twice. max_output bounds the streamed bytes as well.
 *   init    {"id", "ok": true}
 *   write   {"id", "ok": true, "path", "size"}
 *   read    a file:      {"id", "ok": true, "size", "binary": N} + N bytes
 *           a directory: {"id", "ok": true, "path", "entries": [{"name", "name_b64"?, "type", "size",
 *                         "mode": "0644", "mtime": "RFC 3339"}], "truncated": bool}
 *           (type: file|dir|link|fifo|socket|device|other; name_b64, the raw
 *           name in base64, only when the name is not UTF-8 and "name" has
 *           U+FFFD in its place)
 *   delete  {"id", "ok": true}
 *   unpack  {"id", "ok": true, "path"}
 *   archive {"id", "ok": true, "size", "binary": N} + N bytes of .tar.gz
 *   pty     {"id", "ok": true, "started": bool}
 *   failure {"id": int | null, "ok": false, "status": 400|404|409|413|500,
 *            "error": "a sentence", "reason": "a_token"}
 *           status is the HTTP status the responder gives; reasons:
 *           bad_request, bad_path, symlink, not_found, not_directory,
 *           is_directory, special_file, not_empty, permission_denied,
 *           too_large, no_space, bad_archive, too_late, internal.
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
/* A raw (binary) frame: a file written or read, an archive. Above the
 * 100 MiB session_file_max_bytes default; the supervisor's own bounds
 * are below it. */
#define SESSION_BINARY_MAX (1u << 30)
/* Streamed exec: a frame per stream at most this often, or when this
 * many bytes wait. */
#define SESSION_STREAM_INTERVAL_MS 50
#define SESSION_STREAM_CHUNK (64u << 10)
/* read's and archive's default max_bytes, unpack's defaults. */
#define SESSION_FILE_DEFAULT (100u << 20)
#define SESSION_UNPACK_FILES_DEFAULT 100000
#define SESSION_UNPACK_FILES_MAX 1000000
/* A terminal's columns and rows, at most (runner/pty_proto.h's PTY_SIZE_MAX). */
#define SESSION_PTY_SIZE_MAX 1000

/* Reads a frame header. Returns 0 with *len set, or -1 (err says why:
 * empty or over SESSION_FRAME_MAX). */
int session_frame_length(const unsigned char hdr[4], uint32_t *len, char *err, size_t errlen);
void session_frame_header(uint32_t len, unsigned char hdr[4]);
/* Reads a raw frame's header: 0 with *len set when it is `expected`
 * bytes (0 allowed), else -1 (err says why; *len is still the length
 * given, for skipping it). */
int session_binary_length(const unsigned char hdr[4], uint32_t expected, uint32_t *len, char *err, size_t errlen);

enum session_kind { SESSION_SHELL, SESSION_ARGV, SESSION_CODE };
enum session_op { SESSION_OP_EXEC, SESSION_OP_INIT, SESSION_OP_WRITE, SESSION_OP_READ, SESSION_OP_DELETE,
		  SESSION_OP_UNPACK, SESSION_OP_ARCHIVE, SESSION_OP_PTY };

/* A parsed request; every pointer is owned (session_request_free). */
struct session_request {
	int64_t id;              /* -1 when the frame had no valid id */
	int64_t binary;          /* the raw frame's length that follows; -1: none.
				  * Set even when parsing fails, when readable, so the
				  * agent can skip the raw frame and stay in step */
	enum session_op op;
	enum session_kind kind;  /* exec */
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
	int stream;              /* exec: send output events as it comes */
	char *path;              /* files ops: as given (session_path_parse checks it) */
	size_t path_len;
	int mode;                /* write */
	int recursive;           /* delete */
	int64_t max_bytes;       /* read, archive, unpack */
	int64_t max_files;       /* unpack */
	int64_t cols, rows;      /* pty: the window, 1..SESSION_PTY_SIZE_MAX (default 80x24) */
	int reap;                /* pty: root saw the last terminal end; wait for its relay */
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
	int streamed;            /* the output went out in event frames */
	int64_t duration_ms;
	char *cwd;
};

/* Encodes a response body (malloc'd, the caller frees; NULL when out of
 * memory). Output bytes that are not UTF-8 become U+FFFD. */
char *session_response_encode_result(int64_t id, const struct session_result *r, size_t *len);
/* A failure: {"id", "ok": false, "status", "error", "reason"}.
 * session_response_encode_error() is a 400 bad_request. */
char *session_response_encode_failure(int64_t id, int status, const char *reason, const char *message, size_t *len);
char *session_response_encode_error(int64_t id, const char *message, size_t *len);
/* An event of a streamed exec: stream 1 (stdout) or 2 (stderr). */
char *session_response_encode_event(int64_t id, int stream, const char *data, size_t datalen, size_t *len);

/* A parsed response (root's side). For ok == 1 result is set (owned
 * copies), for ok == 0 error is. session_response_free frees both. */
struct session_response {
	int64_t id;              /* -1 for null */
	int ok;
	char *error;
	int status;              /* ok == 0: 400..599 */
	char *reason;            /* ok == 0 */
	int event;               /* 0, or an exec's event frame: 1 stdout, 2 stderr (data in result.out) */
	struct session_result result;
};

/* Parses an agent's answer to an exec strictly: a result, a failure or
 * an event frame; every field of its kind with the right type and in
 * range, nothing over the bounds above. Returns 0, or -1 with err saying
 * what is wrong (then resp holds nothing to free). */
int session_response_parse(const void *buf, size_t len, struct session_response *resp, char *err, size_t errlen);
void session_response_free(struct session_response *resp);

/* The answer to a files op or init (root's side), checked strictly for
 * the op's shape. ok == 1: `body` is the response re-encoded without
 * "id" (compact JSON the supervisor can pass on; "binary": N in it when
 * a raw frame follows), binary >= 0 for read-of-a-file and archive.
 * ok == 0: status, reason, error. session_reply_free frees. */
struct session_reply {
	int64_t id;
	int ok;
	int status;
	char *reason, *error;
	char *body;
	size_t body_len;
	int64_t binary;          /* -1: no raw frame follows */
};
int session_reply_parse(const void *buf, size_t len, enum session_op op, struct session_reply *reply, char *err,
			size_t errlen);
void session_reply_free(struct session_reply *reply);

/* Copies `len` bytes replacing each invalid UTF-8 sequence with U+FFFD
 * (NUL bytes stay: JSON carries them as \u0000). Malloc'd, with a NUL
 * after *outlen bytes; NULL when out of memory. */
char *session_utf8_sanitize(const char *s, size_t len, size_t *outlen);

#endif
