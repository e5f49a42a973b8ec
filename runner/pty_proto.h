/*
 * A session's terminal (docs/sessions.md, "Terminal"): the messages root
 * reads and writes, as pure functions (no I/O, no logging; fuzzed by
 * tests/fuzz/fuzz_pty_input.c and fuzz_pty_relay.c).
 *
 * Three conversations carry a terminal:
 *   Redis input   sr:{SID}:pty:in elements, pushed by the gateway:
 *                 'd' + 1..PTY_INPUT_MAX keystroke bytes, or
 *                 'r' + "COLS ROWS" (decimal, 1..PTY_SIZE_MAX each, no
 *                 leading zero, one space). Anything else is dropped.
 *   the channel   one SOCK_SEQPACKET socket pair per session sandbox
 *                 (sandbox.h, pty_fd): a message is a type byte and its
 *                 payload, whole (the socket keeps the boundaries).
 *     root -> relay  'g' (go: the `s` entry is in the stream, output may
 *                    flow; input before it is dropped), 'd' + 1..4096
 *                    bytes, 'r' + cols (2 bytes BE) + rows (2 bytes BE)
 *     relay -> root  'o' + 1..PTY_OUTPUT_CHUNK output bytes,
 *                    'x' + "0".."255" | "signal 1".."signal 64" (the
 *                    shell's end; the relay exits after it)
 *   the agent's `pty` answer  {"final":true,"ok":true,"started":bool} as
 *                 session_ctl_translate passes it on.
 * The relay's messages come from inside the sandbox: untrusted input to
 * root, parsed strictly.
 */
#ifndef SANDRUN_PTY_PROTO_H
#define SANDRUN_PTY_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#define PTY_INPUT_MAX 4096          /* keystroke bytes in one message (the gateway's bound) */
#define PTY_OUTPUT_CHUNK 16384      /* output bytes in one message and one stream entry */
#define PTY_SIZE_MAX 1000           /* columns and rows, at most */
#define PTY_STATUS_MAX 16           /* "signal 64" and a NUL fit */
/* A channel message, at most: a type byte and the largest payload. */
#define PTY_MSG_MAX (1 + PTY_OUTPUT_CHUNK)

enum pty_input_kind { PTY_INPUT_DATA, PTY_INPUT_RESIZE };

struct pty_input {
	enum pty_input_kind kind;
	const char *data;           /* PTY_INPUT_DATA: points into the message */
	size_t len;
	unsigned cols, rows;        /* PTY_INPUT_RESIZE */
};

/* Parses one sr:{SID}:pty:in element. 0, or -1 with err saying why. */
int pty_input_parse(const void *buf, size_t len, struct pty_input *in, char *err, size_t errlen);

/* The channel message for a parsed input (root -> relay) into out
 * (PTY_MSG_MAX bytes); returns its length. */
size_t pty_chan_encode(const struct pty_input *in, char *out);

/* What the relay reads from root: 'g', 'd' or 'r' (the same bounds).
 * 0 with *in filled (go: *go true, *in untouched), or -1. */
int pty_chan_parse(const void *buf, size_t len, bool *go, struct pty_input *in);

enum pty_relay_kind { PTY_RELAY_OUTPUT, PTY_RELAY_EXIT };

struct pty_relay_msg {
	enum pty_relay_kind kind;
	const char *data;           /* PTY_RELAY_OUTPUT: points into the message */
	size_t len;
	char status[PTY_STATUS_MAX]; /* PTY_RELAY_EXIT: "0".."255" or "signal N" */
};

/* Parses one message from the relay. 0, or -1 with err. */
int pty_relay_parse(const void *buf, size_t len, struct pty_relay_msg *m, char *err, size_t errlen);

/* The relay's exit message for a wait status into out (PTY_STATUS_MAX + 1
 * bytes); returns its length. */
size_t pty_relay_exit_encode(int wait_status, char *out);

/* The agent's answer to `pty` as translated for root: {"final":true,
 * "ok":true,"started":bool} and nothing else. 0 with *started, or -1. */
int pty_open_reply_parse(const char *frame, size_t len, bool *started, char *err, size_t errlen);

/* A `pty` request's size (its JSON object, a json_t *): cols and rows,
 * integers 1..PTY_SIZE_MAX, both present; the object's other fields are
 * rid and op only. 0, or -1 with err and *field naming the culprit. */
int pty_open_request_size(const void *json, unsigned *cols, unsigned *rows, char *err, size_t errlen,
			  const char **field);

#endif
