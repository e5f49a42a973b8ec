/*
 * A session terminal's messages (runner/pty_proto.c): the gateway's input
 * elements, the channel both ways, the agent's answer, a request's size.
 * Each shape that is right parses to what it says; each that is a byte
 * off is refused, with a sentence.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "pty_proto.h"
#include "tap.h"

static int input_refused(const char *msg, size_t len, const char *want)
{
	struct pty_input in;
	char err[128] = "";

	return pty_input_parse(msg, len, &in, err, sizeof err) < 0 && strstr(err, want) != NULL;
}

static void test_input(void)
{
	struct pty_input in;
	char err[128], big[PTY_INPUT_MAX + 2], msg[PTY_MSG_MAX];
	bool go;
	size_t n;

	ok(pty_input_parse("dls\r", 4, &in, err, sizeof err) == 0 && in.kind == PTY_INPUT_DATA && in.len == 3
	   && memcmp(in.data, "ls\r", 3) == 0, "'d' + keystrokes");
	ok(pty_input_parse("d\0\x03", 3, &in, err, sizeof err) == 0 && in.len == 2, "... any bytes, NUL and ^C too");
	memset(big, 'x', sizeof big);
	big[0] = 'd';
	ok(pty_input_parse(big, PTY_INPUT_MAX + 1, &in, err, sizeof err) == 0 && in.len == PTY_INPUT_MAX,
	   "4096 keystroke bytes");
	ok(input_refused(big, PTY_INPUT_MAX + 2, "over 4096"), "4097: refused");
	ok(input_refused("d", 1, "at least one byte"), "'d' alone: refused");
	ok(input_refused("", 0, "at least one byte"), "an empty message: refused");
	ok(input_refused("xhello", 6, "neither"), "an unknown type: refused");
	ok(pty_input_parse("r80 24", 6, &in, err, sizeof err) == 0 && in.kind == PTY_INPUT_RESIZE && in.cols == 80
	   && in.rows == 24, "'r80 24'");
	ok(pty_input_parse("r1000 1", 7, &in, err, sizeof err) == 0 && in.cols == 1000 && in.rows == 1, "'r1000 1'");
	ok(input_refused("r1001 24", 8, "1 to 1000"), "1001 columns: refused");
	ok(input_refused("r0 24", 5, "1 to 1000"), "0 columns: refused");
	ok(input_refused("r080 24", 7, "1 to 1000"), "a leading zero: refused");
	ok(input_refused("r80  24", 7, "1 to 1000"), "two spaces: refused");
	ok(input_refused("r80 24 ", 7, "1 to 1000"), "a trailing space: refused");
	ok(input_refused("r-80 24", 7, "1 to 1000"), "a sign: refused");
	ok(input_refused("r8024", 5, "COLS ROWS"), "no space: refused");
	ok(input_refused("r80 24\n", 7, "1 to 1000"), "a newline: refused");

	/* the channel, root to relay: what parses goes through whole */
	pty_input_parse("dabc", 4, &in, err, sizeof err);
	n = pty_chan_encode(&in, msg);
	ok(n == 4 && pty_chan_parse(msg, n, &go, &in) == 0 && !go && in.len == 3 && memcmp(in.data, "abc", 3) == 0,
	   "keystrokes to the relay and back");
	pty_input_parse("r999 77", 7, &in, err, sizeof err);
	n = pty_chan_encode(&in, msg);
	ok(n == 5 && pty_chan_parse(msg, n, &go, &in) == 0 && in.kind == PTY_INPUT_RESIZE && in.cols == 999
	   && in.rows == 77, "a resize to the relay and back");
	ok(pty_chan_parse("g", 1, &go, &in) == 0 && go, "'g' is go");
	ok(pty_chan_parse("gg", 2, &go, &in) < 0, "'gg' is nothing");
	ok(pty_chan_parse("r\0\0\0\x18", 5, &go, &in) < 0, "a resize to 0 columns: refused by the relay");
	ok(pty_chan_parse("r\0P\0\x18\0", 6, &go, &in) < 0, "a resize of 6 bytes: refused");
}

static int relay_refused(const char *msg, size_t len)
{
	struct pty_relay_msg m;
	char err[128] = "";

	return pty_relay_parse(msg, len, &m, err, sizeof err) < 0 && err[0];
}

static void test_relay(void)
{
	static char big[PTY_OUTPUT_CHUNK + 2];
	struct pty_relay_msg m;
	char err[128], x[PTY_STATUS_MAX + 1];
	size_t n;

	ok(pty_relay_parse("ohello", 6, &m, err, sizeof err) == 0 && m.kind == PTY_RELAY_OUTPUT && m.len == 5
	   && memcmp(m.data, "hello", 5) == 0, "'o' + output");
	memset(big, 'y', sizeof big);
	big[0] = 'o';
	ok(pty_relay_parse(big, PTY_OUTPUT_CHUNK + 1, &m, err, sizeof err) == 0 && m.len == PTY_OUTPUT_CHUNK,
	   "16384 output bytes");
	ok(relay_refused(big, PTY_OUTPUT_CHUNK + 2), "16385: refused");
	ok(relay_refused("o", 1), "'o' alone: refused");
	ok(pty_relay_parse("x0", 2, &m, err, sizeof err) == 0 && m.kind == PTY_RELAY_EXIT && strcmp(m.status, "0") == 0,
	   "exit 0");
	ok(pty_relay_parse("x255", 4, &m, err, sizeof err) == 0 && strcmp(m.status, "255") == 0, "exit 255");
	ok(pty_relay_parse("xsignal 9", 9, &m, err, sizeof err) == 0 && strcmp(m.status, "signal 9") == 0, "signal 9");
	ok(relay_refused("x256", 4), "exit 256: refused");
	ok(relay_refused("x00", 3), "exit 00: refused");
	ok(relay_refused("x-1", 3), "exit -1: refused");
	ok(relay_refused("xsignal 65", 10), "signal 65: refused");
	ok(relay_refused("xsignal 0", 9), "signal 0: refused");
	ok(relay_refused("xsignal", 7), "signal without a number: refused");
	ok(relay_refused("x1\0", 3), "a NUL after the status: refused");
	ok(relay_refused("q1", 2), "an unknown type: refused");
	n = pty_relay_exit_encode(3 << 8, x);
	ok(pty_relay_parse(x, n, &m, err, sizeof err) == 0 && strcmp(m.status, "3") == 0, "exit(3) goes through as 3");
	n = pty_relay_exit_encode(9, x);
	ok(pty_relay_parse(x, n, &m, err, sizeof err) == 0 && strcmp(m.status, "signal 9") == 0,
	   "a SIGKILL goes through as signal 9");
}

static void test_open(void)
{
	const char *field;
	unsigned cols, rows;
	char err[128];
	bool started;
	json_t *o;

#define REPLY(s) pty_open_reply_parse(s, strlen(s), &started, err, sizeof err)
	ok(REPLY("{\"final\":true,\"ok\":true,\"started\":true}") == 0 && started, "the agent's answer: started");
	ok(REPLY("{\"final\":true,\"ok\":true,\"started\":false}") == 0 && !started, "... or attached");
	ok(REPLY("{\"final\":true,\"ok\":true,\"started\":1}") < 0, "started 1: refused");
	ok(REPLY("{\"final\":true,\"ok\":true,\"started\":true,\"x\":1}") < 0, "an extra field: refused");
	ok(REPLY("{\"final\":true,\"ok\":false,\"started\":true}") < 0, "ok false: not a start");
	ok(REPLY("[]") < 0 && REPLY("nonsense") < 0, "not an object: refused");
#undef REPLY
	o = json_loads("{\"rid\":\"0123456789abcdef\",\"op\":\"pty\",\"cols\":132,\"rows\":43}", 0, NULL);
	ok(pty_open_request_size(o, &cols, &rows, err, sizeof err, &field) == 0 && cols == 132 && rows == 43,
	   "a request's size");
	json_decref(o);
	o = json_loads("{\"rid\":\"0123456789abcdef\",\"op\":\"pty\"}", 0, NULL);
	ok(pty_open_request_size(o, &cols, &rows, err, sizeof err, &field) == 0 && cols == 80 && rows == 24,
	   "no size: 80x24");
	json_decref(o);
	o = json_loads("{\"op\":\"pty\",\"cols\":0,\"rows\":24}", 0, NULL);
	ok(pty_open_request_size(o, &cols, &rows, err, sizeof err, &field) < 0 && strcmp(field, "cols") == 0,
	   "cols 0: refused, naming cols");
	json_decref(o);
	o = json_loads("{\"op\":\"pty\",\"cols\":80,\"rows\":\"24\"}", 0, NULL);
	ok(pty_open_request_size(o, &cols, &rows, err, sizeof err, &field) < 0 && strcmp(field, "rows") == 0,
	   "rows as a string: refused, naming rows");
	json_decref(o);
	o = json_loads("{\"op\":\"pty\",\"shell\":\"zsh\"}", 0, NULL);
	ok(pty_open_request_size(o, &cols, &rows, err, sizeof err, &field) < 0 && strcmp(field, "shell") == 0,
	   "an unknown field: refused, named");
	json_decref(o);
}

int main(void)
{
	test_input();
	test_relay();
	test_open();
	return done_testing();
}
