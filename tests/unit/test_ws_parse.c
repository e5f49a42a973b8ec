/* The WebSocket gateway's parsers (ws/parse.h): routes, terminal messages, input entries, SSE line ends. */
#include "parse.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define JOB "job-abcdefghijklmnopqrstuvwxyz"
#define SES "ses-abcdefghijklmnopqrstuvwxyz"

static void test_routes(void)
{
	struct ws_route r;
	char err[160];

	is_int(ws_route_parse("/logs/" JOB "/stream", NULL, &r, err, sizeof err), 0, "the log stream route");
	ok(r.kind == WS_ROUTE_LOGS && strcmp(r.id, JOB) == 0 && !r.json, "... its id, text by default");
	is_int(ws_route_parse("/logs/" JOB "/stream", "format=json", &r, err, sizeof err), 0, "?format=json");
	ok(r.json, "... is JSON");
	is_int(ws_route_parse("/logs/" JOB "/stream", "format=xml", &r, err, sizeof err), 400, "?format=xml: 400");
	is_int(ws_route_parse("/logs/" JOB "/stream", "wait=1", &r, err, sizeof err), 400, "an unknown parameter: 400");
	ok(strstr(err, "wait") != NULL, "... naming it");
	is_int(ws_route_parse("/logs/job-abc123/stream", NULL, &r, err, sizeof err), 0, "the seed's id parses");
	ok(r.kind == WS_ROUTE_LOGS && !r.id_valid, "... as an id of no job's shape (answered as unknown)");
	is_int(ws_route_parse("/logs//stream", NULL, &r, err, sizeof err), 404, "no id: 404");
	is_int(ws_route_parse("/logs/a/b/stream", NULL, &r, err, sizeof err), 404, "an id with a slash: 404");
	is_int(ws_route_parse("/status/" JOB, NULL, &r, err, sizeof err), 404, "another route: 404");
	is_int(ws_route_parse("/sessions/" SES "/pty", "cols=120&rows=40", &r, err, sizeof err), 0, "the terminal");
	ok(r.kind == WS_ROUTE_PTY && r.id_valid && r.cols == 120 && r.rows == 40, "... its id and size");
	is_int(ws_route_parse("/sessions/" SES "/pty", "", &r, err, sizeof err), 0, "no size");
	ok(r.cols == 80 && r.rows == 24, "... is 80x24");
	is_int(ws_route_parse("/sessions/" SES "/pty", "cols=1001", &r, err, sizeof err), 400, "cols 1001: 400");
	is_int(ws_route_parse("/sessions/" SES "/pty", "rows=0", &r, err, sizeof err), 400, "rows 0: 400");
	is_int(ws_route_parse("/sessions/" SES "/pty", "rows", &r, err, sizeof err), 400, "a parameter without value");
	is_int(ws_route_parse("/sessions/" SES "/pty", "format=json", &r, err, sizeof err), 400,
	       "format is the log route's, not the terminal's");
	is_int(ws_route_parse("/sessions/" JOB "/pty", NULL, &r, err, sizeof err), 0, "a job id as a session id");
	ok(!r.id_valid, "... is no session's shape");
}

static int text_parse(const char *text, struct ws_pty_message *m, char *err)
{
	return ws_pty_message_parse(false, text, strlen(text), m, err, 160);
}

static void test_messages(void)
{
	struct ws_pty_message m;
	char err[160], entry[WS_PTY_ENTRY_MAX], big[10000];
	size_t off = 0, take, entries = 0;

	ok(ws_pty_message_parse(true, "ls\r", 3, &m, err, sizeof err) == 0 && m.kind == WS_PTY_INPUT && m.len == 3 &&
	   memcmp(m.data, "ls\r", 3) == 0, "binary: keystrokes as they are");
	ws_pty_message_free(&m);
	ok(text_parse("{\"type\":\"input\",\"data\":\"a\\u0000\\u00e9\"}", &m, err) == 0 &&
	   m.len == 4 && memcmp(m.data, "a\0\xc3\xa9", 4) == 0, "input: the string's UTF-8 bytes, NUL included");
	ws_pty_message_free(&m);
	ok(text_parse("{\"type\":\"resize\",\"cols\":100,\"rows\":30}", &m, err) == 0 &&
	   m.kind == WS_PTY_RESIZE && m.cols == 100 && m.rows == 30, "resize");
	ok(text_parse("{\"type\":\"resize\",\"cols\":100}", &m, err) < 0,
	   "resize without rows is refused");
	ok(text_parse("{\"type\":\"resize\",\"cols\":100,\"rows\":1001}", &m, err) < 0,
	   "resize past 1000 is refused");
	ok(text_parse("{\"type\":\"input\",\"data\":1}", &m, err) < 0,
	   "input data that is no string is refused");
	ok(text_parse("{\"type\":\"kill\"}", &m, err) < 0 && strstr(err, "kill"),
	   "an unknown type is refused, named");
	ok(text_parse("ls", &m, err) < 0, "text that is not JSON is refused");
	ok(text_parse("{\"type\":\"input\",\"data\":\"a\",\"type\":\"x\"}", &m, err) < 0,
	   "a duplicate key is refused");

	is_int(ws_pty_entry_resize(80, 24, entry, sizeof entry), 6, "a resize entry");
	ok(memcmp(entry, "r80 24", 6) == 0, "... is r80 24");
	is_int(ws_pty_entry_resize(0, 24, entry, sizeof entry), -1, "cols 0 makes no entry");
	memset(big, 'x', sizeof big);
	big[4096] = 'y';
	while ((take = ws_pty_entry_input(big, sizeof big, off, entry)) > 0) {
		ok(entry[0] == 'd' && take <= WS_PTY_INPUT_MAX, "entry %zu: d and at most 4096 bytes", entries);
		if (off == 4096)
			ok(entry[1] == 'y', "... the second starts where the first stopped");
		off += take;
		entries++;
	}
	ok(entries == 3 && off == sizeof big, "10000 bytes: three entries, every byte");
}

static void test_lines(void)
{
	char t[] = "a\r\nb\rc\nd\r";
	size_t n = ws_text_sse_lines(t, strlen(t));

	ok(n == 8 && memcmp(t, "a\nb\nc\nd\n", 8) == 0, "CRLF, CR and LF all end a line as LF (as SSE's client reads)");
}

int main(void)
{
	test_routes();
	test_messages();
	test_lines();
	return done_testing();
}
