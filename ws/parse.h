/*
 * What the WebSocket gateway parses itself, as pure functions (no I/O, no
 * logging) so they are unit-tested and fuzzed (tests/fuzz/fuzz_ws_parse.c):
 * the route of an upgrade request (path and query), the terminal client's
 * messages, and the encoding of the terminal's input entries for
 * redis/session_pty_input.lua. The WebSocket framing itself is
 * libwebsockets', never ours.
 */
#ifndef SANDRUN_WS_PARSE_H
#define SANDRUN_WS_PARSE_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

#define WS_PTY_SIZE_MAX     1000   /* cols and rows: 1..1000 (the runner's bound too) */
#define WS_PTY_INPUT_MAX    4096   /* keystroke bytes in one sr:{SID}:pty:in entry */
#define WS_PTY_ENTRY_MAX    (1 + WS_PTY_INPUT_MAX)

enum ws_route_kind {
	WS_ROUTE_NONE,               /* not a route of the gateway: 404 */
	WS_ROUTE_LOGS,               /* /logs/{id}/stream */
	WS_ROUTE_PTY,                /* /sessions/{id}/pty */
};

struct ws_route {
	enum ws_route_kind kind;
	char id[STORE_ID_MAX];       /* the id as given ("" when too long) */
	bool id_valid;               /* its shape is a job's ("job-...") or a session's ("ses-...") */
	bool json;                   /* logs: ?format=json */
	int cols, rows;              /* pty: ?cols=&rows= (80x24 when absent) */
};

/*
 * Parses an upgrade request's path ("/logs/ID/stream") and query string
 * (already URL-decoded by libwebsockets, "a=b&c=d"; NULL or "" for none)
 * into *r. Returns 0; 404 when the path is no route of the gateway; 400
 * with a sentence in err for a query it does not take (an unknown
 * parameter, a bad value). An id of the wrong shape is not an error here:
 * id_valid is false and the answer is the unknown id's, so the shape tells
 * nothing away.
 */
int ws_route_parse(const char *path, const char *query, struct ws_route *r, char *err, size_t errlen);

enum ws_pty_message_kind {
	WS_PTY_INPUT,                /* keystrokes: data, len (len may be 0: nothing to send) */
	WS_PTY_RESIZE,               /* cols, rows */
};

struct ws_pty_message {
	enum ws_pty_message_kind kind;
	char *data;                  /* INPUT: the bytes (malloc'd; ws_pty_message_free) */
	size_t len;
	int cols, rows;
};

/*
 * One message of the terminal's client: binary = keystroke bytes; text =
 * JSON {"type":"resize","cols":C,"rows":R} or {"type":"input","data":"..."}.
 * Returns 0 with *m filled, or -1 with the reason (a 400's) in err.
 */
int ws_pty_message_parse(bool binary, const char *msg, size_t len, struct ws_pty_message *m, char *err,
			 size_t errlen);
void ws_pty_message_free(struct ws_pty_message *m);

/* The input list's entries (redis/session_pty_input.lua): "d" + 1..4096 bytes, "r" + "COLS ROWS". */
/* A resize entry into out (at least 16 bytes); its length, or -1 when cols/rows are out of range. */
int ws_pty_entry_resize(int cols, int rows, char *out, size_t outlen);
/* Keystroke entries: how many bytes of data the entry starting at `off` takes (at most WS_PTY_INPUT_MAX). */
size_t ws_pty_entry_input(const char *data, size_t len, size_t off, char out[WS_PTY_ENTRY_MAX]);

/*
 * The text of a log chunk as the SSE stream's client reads it: lines end
 * at "\n", "\r\n" or a lone "\r" and come out as "\n" (SSE's rule; the
 * WebSocket's messages are the same bytes as the SSE data). In place;
 * returns the new length.
 */
size_t ws_text_sse_lines(char *text, size_t len);

#endif
