/*
 * libFuzzer target: what root reads from Redis for a session's terminal,
 * the sr:{SID}:pty:in elements (runner/pty_proto.h, pty_input_parse).
 * Checked: what parses is within its bounds (1..4096 keystroke bytes
 * inside the message; a size of 1..1000 by 1..1000); its channel message
 * (pty_chan_encode) parses back on the relay's side (pty_chan_parse) to
 * the same thing. The input is a heap copy of its exact size, so ASan
 * sees overreads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pty_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1), err[128] = "", msg[PTY_MSG_MAX];
	struct pty_input in, back;
	bool go = true;
	size_t n;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (pty_input_parse(copy, size, &in, err, sizeof err) < 0) {
		if (!err[0])
			abort();
		free(copy);
		return 0;
	}
	if (in.kind == PTY_INPUT_DATA) {
		if (in.len < 1 || in.len > PTY_INPUT_MAX || in.data != copy + 1 || in.len != size - 1)
			abort();
	} else if (in.cols < 1 || in.cols > PTY_SIZE_MAX || in.rows < 1 || in.rows > PTY_SIZE_MAX) {
		abort();
	}
	n = pty_chan_encode(&in, msg);
	if (n > PTY_MSG_MAX || pty_chan_parse(msg, n, &go, &back) < 0 || go || back.kind != in.kind)
		abort();
	if (in.kind == PTY_INPUT_DATA && (back.len != in.len || memcmp(back.data, in.data, in.len) != 0))
		abort();
	if (in.kind == PTY_INPUT_RESIZE && (back.cols != in.cols || back.rows != in.rows))
		abort();
	free(copy);
	return 0;
}
