/*
 * libFuzzer target: what root reads from inside a session's sandbox for
 * its terminal (runner/pty_proto.h): the relay's channel messages
 * (pty_relay_parse), the agent's `pty` answer as translated
 * (pty_open_reply_parse), and, on the relay's side, root's messages
 * (pty_chan_parse). Checked: output is 1..16384 bytes inside the message;
 * an exit status is "0".."255" or "signal 1".."signal 64"; a resize
 * parsed on the relay's side is in bounds. The input is a heap copy of
 * its exact size, so ASan sees overreads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pty_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_status(const char *s)
{
	char *end;
	long v;

	if (strncmp(s, "signal ", 7) == 0) {
		v = strtol(s + 7, &end, 10);
		if (*end || v < 1 || v > 64)
			abort();
		return;
	}
	v = strtol(s, &end, 10);
	if (*end || !*s || v < 0 || v > 255)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1), err[128] = "";
	struct pty_relay_msg m;
	struct pty_input in;
	bool go, started;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (pty_relay_parse(copy, size, &m, err, sizeof err) == 0) {
		if (m.kind == PTY_RELAY_OUTPUT && (m.len < 1 || m.len > PTY_OUTPUT_CHUNK || m.data != copy + 1))
			abort();
		if (m.kind == PTY_RELAY_EXIT)
			check_status(m.status);
	} else if (!err[0]) {
		abort();
	}
	err[0] = '\0';
	if (pty_open_reply_parse(copy, size, &started, err, sizeof err) < 0 && (!err[0] || started))
		abort();
	if (pty_chan_parse(copy, size, &go, &in) == 0 && !go) {
		if (in.kind == PTY_INPUT_DATA && (in.len < 1 || in.len > PTY_INPUT_MAX))
			abort();
		if (in.kind == PTY_INPUT_RESIZE
		    && (in.cols < 1 || in.cols > PTY_SIZE_MAX || in.rows < 1 || in.rows > PTY_SIZE_MAX))
			abort();
	}
	free(copy);
	return 0;
}
