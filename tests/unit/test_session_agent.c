/*
 * Tests of sandrun-session-agent (runner/session_agent.c), run directly as
 * a child process over its stdin/stdout frames, without Redis, nginx or a
 * sandbox: what an agent author relies on from a session's exec (one
 * persistent shell and interpreter, each call's own output, timeouts that
 * spare the session) and that bad frames get error answers while the
 * agent lives on. Also the pure protocol functions (session_proto.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "session_proto.h"
#include "tap.h"

#ifndef SESSION_AGENT_BUILD_PATH
#define SESSION_AGENT_BUILD_PATH "./sandrun-session-agent"
#endif

struct agent {
	pid_t pid;
	int to, from;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int agent_start(struct agent *a)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	a->pid = fork();
	if (a->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(SESSION_AGENT_BUILD_PATH, "sandrun-session-agent", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	a->to = in[1];
	a->from = out[0];
	return a->pid > 0 ? 0 : -1;
}

static void agent_stop(struct agent *a)
{
	close(a->to);
	close(a->from);
	waitpid(a->pid, NULL, 0);
}

static int send_raw(struct agent *a, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(a->to, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_frame(struct agent *a, const char *body, size_t len)
{
	unsigned char hdr[4];
	session_frame_header((uint32_t)len, hdr);
	return send_raw(a, hdr, 4) < 0 ? -1 : send_raw(a, body, len);
}

/* Reads exactly n bytes within the deadline. */
static int read_within(int fd, void *p, size_t n, int64_t deadline)
{
	char *c = p;
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		r = read(fd, c, n);
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The next response, parsed by root's parser (NULL on timeout or a bad one). */
static struct session_response *recv_response(struct agent *a, int timeout_ms)
{
	static struct session_response resp;
	unsigned char hdr[4];
	uint32_t len;
	char err[256], *body;
	int64_t deadline = now_ms() + timeout_ms;

	session_response_free(&resp);
	if (read_within(a->from, hdr, 4, deadline) < 0 || session_frame_length(hdr, &len, err, sizeof err) < 0)
		return NULL;
	body = malloc(len);
	if (body == NULL || read_within(a->from, body, len, deadline) < 0) {
		free(body);
		return NULL;
	}
	if (session_response_parse(body, len, &resp, err, sizeof err) < 0) {
		printf("# bad response: %s: %.*s\n", err, (int)len, body);
		free(body);
		return NULL;
	}
	free(body);
	return &resp;
}

static int next_id = 1;

/* Sends {"id", "op": "exec"} + the members of `extra` (a JSON object text). */
static struct session_response *call(struct agent *a, const char *extra, int timeout_ms)
{
	json_t *o = json_loads(extra, 0, NULL);
	char *body;
	int id = next_id++;
	struct session_response *r;

	if (o == NULL) {
		printf("# bad test JSON: %s\n", extra);
		return NULL;
	}
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "op", json_string("exec"));
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (send_frame(a, body, strlen(body)) < 0) {
		free(body);
		return NULL;
	}
	free(body);
	r = recv_response(a, timeout_ms);
	if (r != NULL && r->id != id) {
		printf("# id %lld, want %d\n", (long long)r->id, id);
		return NULL;
	}
	if (r != NULL && !r->ok)
		printf("# error: %s\n", r->error);
	return r;
}

/* Shell text as a request (escaped by jansson). */
static struct session_response *sh(struct agent *a, const char *cmd, int timeout_ms)
{
	json_t *o = json_pack("{s:s}", "command", cmd);
	char *s = json_dumps(o, JSON_COMPACT);
	struct session_response *r = call(a, s, timeout_ms);
	free(s);
	json_decref(o);
	return r;
}

static struct session_response *py(struct agent *a, const char *code)
{
	json_t *o = json_pack("{s:s, s:s}", "code", code, "language", "python3");
	char *s = json_dumps(o, JSON_COMPACT);
	struct session_response *r = call(a, s, 20000);
	free(s);
	json_decref(o);
	return r;
}

#define OUT(r) ((r) && (r)->ok ? (r)->result.out : NULL)
#define ERRS(r) ((r) && (r)->ok ? (r)->result.err : NULL)

static void test_proto(void)
{
	unsigned char hdr[4];
	uint32_t len;
	char err[256], *s;
	size_t n;
	struct session_request q;
	struct session_response resp;
	struct session_result r = { .exit_code = 3, .out = "a\xff", .out_len = 2, .err = "", .cwd = "/x" };

	session_frame_header(SESSION_FRAME_MAX + 1, hdr);
	ok(session_frame_length(hdr, &len, err, sizeof err) < 0 && strstr(err, "bound"), "frame over the bound: %s", err);
	session_frame_header(0, hdr);
	ok(session_frame_length(hdr, &len, err, sizeof err) < 0, "empty frame refused");
	s = session_response_encode_result(5, &r, &n);
	ok(s && session_response_parse(s, n, &resp, err, sizeof err) == 0 && resp.ok && resp.id == 5
		   && resp.result.exit_code == 3 && strcmp(resp.result.out, "a\xef\xbf\xbd") == 0,
	   "result encodes and parses back; a bad UTF-8 byte becomes U+FFFD");
	session_response_free(&resp);
	free(s);
#define REQ_BAD(json, want) do { \
	int rc_ = session_request_parse(json, strlen(json), &q, err, sizeof err); \
	ok(rc_ < 0 && strstr(err, want) != NULL, "request %s -> %s", json, err); \
	session_request_free(&q); \
} while (0)
	REQ_BAD("{\"op\":\"exec\",\"command\":\"x\"}", "id is missing");
	REQ_BAD("{\"id\":\"1\",\"op\":\"exec\",\"command\":\"x\"}", "id must be an integer");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":3}", "command must be");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":[]}", "empty array");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":\"x\",\"timeout\":0}", "timeout");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":\"x\",\"bogus\":1}", "unknown field 'bogus'");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"code\":\"x\"}", "language is required");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":\"x\",\"code\":\"y\"}", "exactly one");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":\"x\",\"max_output\":99999999999}", "max_output");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":\"x\",\"max_output\":4194305}", "max_output must be an integer from 0 to 4194304");
	REQ_BAD("{\"id\":1,\"op\":\"rm\"}", "op must be one of");
	REQ_BAD("{\"id\":1,\"op\":\"write\",\"path\":\"a\"}", "needs \"binary\"");
	REQ_BAD("{\"id\":1,\"op\":\"read\"}", "path is required");
	REQ_BAD("{\"id\":1,\"op\":\"read\",\"path\":\"a\",\"recursive\":true}", "unknown field 'recursive' for op read");
	REQ_BAD("{\"id\":1,\"op\":\"write\",\"path\":\"a\",\"binary\":1,\"mode\":\"0x1\"}", "mode must be an octal");
	REQ_BAD("{\"id\":1,\"op\":\"write\",\"path\":\"a\",\"binary\":1073741825}", "binary must be an integer");
	REQ_BAD("{\"id\":1,\"op\":\"delete\",\"path\":\"a\",\"recursive\":1}", "recursive must be a boolean");
	REQ_BAD("{\"id\":1,\"op\":\"init\",\"env\":{\"A=B\":\"x\"}}", "not a variable name");
	REQ_BAD("{\"id\":1,\"op\":\"exec\",\"command\":\"x\",\"stream\":\"yes\"}", "stream must be a boolean");
	{
		const char *w = "{\"id\":3,\"op\":\"write\",\"path\":\"a\",\"binary\":7,\"x\":1}";
		ok(session_request_parse(w, strlen(w), &q, err, sizeof err) < 0 && q.binary == 7 && q.id == 3,
		   "a refused request still tells the raw frame's length (%s)", err);
		session_request_free(&q);
		w = "{\"id\":4,\"op\":\"unpack\",\"binary\":0}";
		ok(session_request_parse(w, strlen(w), &q, err, sizeof err) == 0 && q.op == SESSION_OP_UNPACK
			   && strcmp(q.path, "/work") == 0 && q.binary == 0 && q.max_files == SESSION_UNPACK_FILES_DEFAULT,
		   "unpack: path defaults to /work");
		session_request_free(&q);
		w = "{\"id\":5,\"op\":\"write\",\"path\":\"a\",\"binary\":2,\"mode\":\"0755\"}";
		ok(session_request_parse(w, strlen(w), &q, err, sizeof err) == 0 && q.mode == 0755, "write: mode \"0755\"");
		session_request_free(&q);
	}
	{
		unsigned char h[4];
		session_frame_header(0, h);
		ok(session_binary_length(h, 0, &len, err, sizeof err) == 0, "a raw frame may be empty");
		session_frame_header(5, h);
		ok(session_binary_length(h, 6, &len, err, sizeof err) < 0 && len == 5, "a raw frame of the wrong length: refused");
	}
	{
		struct session_reply rep;
		const char *a = "{\"id\":1,\"ok\":true,\"size\":3,\"binary\":3}";
		ok(session_reply_parse(a, strlen(a), SESSION_OP_READ, &rep, err, sizeof err) == 0 && rep.binary == 3
			   && strcmp(rep.body, "{\"ok\":true,\"size\":3,\"binary\":3}") == 0,
		   "reply of a read: binary, and the body without id");
		session_reply_free(&rep);
		a = "{\"id\":1,\"ok\":true,\"size\":3,\"binary\":4}";
		ok(session_reply_parse(a, strlen(a), SESSION_OP_ARCHIVE, &rep, err, sizeof err) < 0, "size and binary differ: refused");
		a = "{\"id\":1,\"ok\":false,\"status\":404,\"error\":\"x\",\"reason\":\"not_found\"}";
		ok(session_reply_parse(a, strlen(a), SESSION_OP_DELETE, &rep, err, sizeof err) == 0 && !rep.ok
			   && rep.status == 404 && strcmp(rep.reason, "not_found") == 0, "a failure reply");
		session_reply_free(&rep);
		a = "{\"id\":1,\"ok\":false,\"status\":200,\"error\":\"x\",\"reason\":\"x\"}";
		ok(session_reply_parse(a, strlen(a), SESSION_OP_DELETE, &rep, err, sizeof err) < 0, "a failure with status 200: refused");
		a = "{\"id\":1,\"ok\":true,\"path\":\"/work\",\"entries\":[{\"name\":\"a\",\"type\":\"bogus\",\"size\":1,\"mode\":\"0644\",\"mtime\":\"2026-01-01T00:00:00.000Z\"}],\"truncated\":false}";
		ok(session_reply_parse(a, strlen(a), SESSION_OP_READ, &rep, err, sizeof err) < 0 && strstr(err, "type"),
		   "a listing entry of an unknown type: refused");
	}
#define RESP_BAD(json) do { \
	ok(session_response_parse(json, strlen(json), &resp, err, sizeof err) < 0, "response refused: %s (%s)", json, err); \
} while (0)
	RESP_BAD("{\"id\":1,\"ok\":true,\"exit_code\":300,\"signal\":0,\"stdout\":\"\",\"stderr\":\"\",\"truncated\":false,\"timed_out\":false,\"shell_restarted\":false,\"duration_ms\":1,\"cwd\":\"/\"}");
	RESP_BAD("{\"id\":1,\"ok\":true,\"exit_code\":0,\"signal\":0,\"stdout\":\"\",\"stderr\":\"\",\"truncated\":false,\"timed_out\":false,\"shell_restarted\":false,\"duration_ms\":1,\"cwd\":\"rel\"}");
	RESP_BAD("{\"id\":1,\"ok\":true,\"exit_code\":0}");
	RESP_BAD("{\"id\":1,\"ok\":false,\"error\":\"x\",\"more\":1}");
	RESP_BAD("[1]");
}

static void test_shell(struct agent *a)
{
	struct session_response *r;
	int64_t t0;

	r = sh(a, "cd /tmp", 10000);
	ok(r && r->ok && strcmp(r->result.cwd, "/tmp") == 0, "cd /tmp: the response's cwd is /tmp");
	r = sh(a, "pwd", 10000);
	is_str(OUT(r), "/tmp\n", "then pwd prints /tmp");
	sh(a, "export X=1", 10000);
	r = sh(a, "echo $X", 10000);
	is_str(OUT(r), "1\n", "export X=1, then echo $X prints 1");
	sh(a, "greet() { echo \"hello $1\"; }", 10000);
	r = sh(a, "greet you", 10000);
	is_str(OUT(r), "hello you\n", "a function defined in one call works in the next");
	r = sh(a, "sleep 1000 & echo $! > /tmp/sr-agent-bg.pid", 10000);
	ok(r && r->ok && r->result.duration_ms < 3000, "sleep 1000 & returns at once (%lld ms)",
	   r ? (long long)r->result.duration_ms : -1LL);
	r = sh(a, "kill -0 $(cat /tmp/sr-agent-bg.pid) && echo alive", 10000);
	is_str(OUT(r), "alive\n", "the background sleep still runs in the next call");
	sh(a, "kill $(cat /tmp/sr-agent-bg.pid); rm -f /tmp/sr-agent-bg.pid", 10000);

	r = sh(a, "echo out; echo err >&2", 10000);
	ok(r && r->ok && strcmp(r->result.out, "out\n") == 0 && strcmp(r->result.err, "err\n") == 0,
	   "stdout and stderr come apart");
	r = sh(a, "false", 10000);
	ok(r && r->ok && r->result.exit_code == 1, "false: exit_code 1");
	r = sh(a, "(exit 42)", 10000);
	ok(r && r->ok && r->result.exit_code == 42, "(exit 42): exit_code 42");
	r = call(a, "{\"command\": \"cat\", \"stdin\": \"line1\\nline2\"}", 10000);
	is_str(OUT(r), "line1\nline2", "cat gets the request's stdin, then EOF");
	r = sh(a, "cat", 10000);
	ok(r && r->ok && r->result.out_len == 0 && r->result.duration_ms < 3000, "cat without stdin reads EOF at once");

	/* it starts writing once this call is over */
	r = sh(a, "(sleep 0.3; while :; do echo x; sleep 0.01; done) & echo started", 10000);
	is_str(OUT(r), "started\n", "a background writer starts");
	usleep(600000);
	r = sh(a, "echo mine", 10000);
	is_str(OUT(r), "mine\n", "its later output does not leak into the next call");
	r = sh(a, "kill %1 2>/dev/null || kill $(jobs -p); echo killed", 10000);
	ok(r && r->ok && strstr(r->result.out, "killed") != NULL, "the writer did not block the shell");

	sh(a, "export KEEP=yes", 10000);
	t0 = now_ms();
	r = call(a, "{\"command\": \"sleep 100\", \"timeout\": 500}", 10000);
	ok(r && r->ok && r->result.timed_out && now_ms() - t0 < 3000 && !r->result.shell_restarted,
	   "timeout 500 ms kills sleep 100 in %lld ms, shell kept", (long long)(now_ms() - t0));
	r = sh(a, "echo $KEEP", 10000);
	is_str(OUT(r), "yes\n", "the exported variable survives the timeout");

	t0 = now_ms();
	r = call(a, "{\"command\": \"while :; do :; done\", \"timeout\": 300}", 10000);
	ok(r && r->ok && r->result.timed_out && r->result.shell_restarted, "a builtin loop: shell restarted (%lld ms)",
	   (long long)(now_ms() - t0));
	r = sh(a, "echo back", 10000);
	is_str(OUT(r), "back\n", "the agent and a new shell answer after the restart");
	r = sh(a, "exit 7", 10000);
	ok(r && r->ok && r->result.exit_code == 7 && r->result.shell_restarted, "exit 7: code 7, shell restarted");
	r = sh(a, "echo again", 10000);
	is_str(OUT(r), "again\n", "and the next call works");

	r = sh(a, "printf 'deadbeef 0 /\\0'; builtin printf '%s 0 /\\0' x >&3; sleep 0.3; echo after", 10000);
	ok(r && r->ok && memmem(r->result.out, r->result.out_len, "after\n", 6) != NULL, "a fake end marker does not end the call early");
	ok(r && r->ok && r->result.out_len > 13 && memcmp(r->result.out, "deadbeef 0 /\0", 13) == 0,
	   "a NUL byte in output comes back as one");

	r = call(a, "{\"command\": \"head -c 5000 /dev/zero | tr '\\\\0' a; echo; echo e >&2\", \"max_output\": 1000}", 10000);
	ok(r && r->ok && r->result.truncated && r->result.out_len == 1000 && strcmp(r->result.err, "e\n") == 0,
	   "output past max_output is cut and truncated is true");
	r = sh(a, "yes | head -c 3000000", 20000);
	ok(r && r->ok && r->result.truncated && r->result.out_len == SESSION_OUTPUT_DEFAULT && r->result.exit_code == 0,
	   "default bound: 1 MiB of 3 MB, the command not blocked");
	r = sh(a, "if then", 10000);
	ok(r && r->ok && r->result.exit_code != 0 && strstr(r->result.err, "syntax") != NULL,
	   "a syntax error is the call's stderr and exit code");
	r = sh(a, "echo fine", 10000);
	is_str(OUT(r), "fine\n", "the shell lives on after a syntax error");
	r = sh(a, "rm -rf \"$(dirname \"$BASH_SOURCE\")\"; echo gone", 10000);
	ok(r && r->ok && strcmp(r->result.out, "gone\n") == 0, "a command removes the agent's directory");
	r = sh(a, "echo still", 10000);
	is_str(OUT(r), "still\n", "the agent makes its directory again when a command removed it");
	r = sh(a, "set -e; false", 10000);
	ok(r && r->ok && r->result.exit_code == 1 && r->result.shell_restarted, "set -e; false: the shell exits 1 and is restarted");
	r = sh(a, "pwd", 10000);
	ok(r && r->ok && strcmp(r->result.out, "/tmp\n") == 0, "the restarted shell starts in the last cwd");
}

static void test_argv_code(struct agent *a)
{
	struct session_response *r;

	sh(a, "cd /tmp", 10000);
	r = call(a, "{\"command\": [\"/bin/sh\", \"-c\", \"pwd; echo $0 \\\"$1\\\"; echo e >&2; exit 3\", \"zero\", \"a b\"]}", 10000);
	ok(r && r->ok && strcmp(r->result.out, "/tmp\nzero a b\n") == 0 && strcmp(r->result.err, "e\n") == 0
		   && r->result.exit_code == 3,
	   "argv form: no shell parsing, the shell's cwd, exit code");
	r = call(a, "{\"command\": [\"env\"], \"env\": {\"SR_A\": \"1\"}, \"cwd\": \"/\"}", 10000);
	ok(r && r->ok && strstr(r->result.out, "SR_A=1\n") != NULL, "argv form: env");
	r = call(a, "{\"command\": [\"/nonexistent/prog\"]}", 10000);
	ok(r && r->ok && r->result.exit_code == 127 && strstr(r->result.err, "cannot run") != NULL,
	   "argv form: a missing program is exit 127 with a message");
	r = call(a, "{\"command\": [\"sleep\", \"100\"], \"timeout\": 300}", 10000);
	ok(r && r->ok && r->result.timed_out && r->result.signal == SIGKILL, "argv form: timeout kills it");
	r = call(a, "{\"command\": [\"cat\"], \"stdin\": \"in\"}", 10000);
	is_str(OUT(r), "in", "argv form: stdin");
	r = call(a, "{\"command\": [\"sh\", \"-c\", \"sleep 5 & echo hi\"]}", 10000);
	ok(r && r->ok && strcmp(r->result.out, "hi\n") == 0 && r->result.duration_ms < 2000,
	   "argv form: a background child holding the pipes does not hold the call (%lld ms)",
	   r ? (long long)r->result.duration_ms : -1LL);
	r = py(a, "import os\nprint(os.get_inheritable(3), os.get_inheritable(4))");
	is_str(OUT(r), "False False\n", "python3: the driver's pipes are not inherited by the code's children");
	if (access("/usr/bin/node", X_OK) == 0 || access("/usr/local/bin/node", X_OK) == 0) {
		r = call(a, "{\"code\": \"console.log(6 * 7)\", \"language\": \"node\"}", 20000);
		is_str(OUT(r), "42\n", "node code runs as a file");
	} else {
		ok(1, "# SKIP node is not installed");
	}

	r = py(a, "x = 42");
	ok(r && r->ok && r->result.exit_code == 0, "python3: x = 42");
	r = py(a, "print(x)");
	is_str(OUT(r), "42\n", "python3: then print(x) prints 42");
	r = py(a, "import sys\nprint('e', file=sys.stderr)\n1/0");
	ok(r && r->ok && r->result.exit_code == 1 && strstr(r->result.err, "e\n") != NULL
		   && strstr(r->result.err, "ZeroDivisionError") != NULL,
	   "python3: an exception is a traceback on stderr and exit 1");
	r = py(a, "print(x + 1)");
	is_str(OUT(r), "43\n", "python3: the interpreter lives on after it");
	r = call(a, "{\"code\": \"import sys\\nprint(sys.stdin.read().upper())\", \"language\": \"python3\", \"stdin\": \"abc\"}", 10000);
	is_str(OUT(r), "ABC\n", "python3: stdin");
	r = call(a, "{\"code\": \"import time\\nwhile True: time.sleep(0.01)\", \"language\": \"python3\", \"timeout\": 300}", 10000);
	ok(r && r->ok && r->result.timed_out && !r->result.shell_restarted && strstr(r->result.err, "KeyboardInterrupt"),
	   "python3: timeout interrupts the cell, the interpreter stays");
	r = py(a, "print(x)");
	is_str(OUT(r), "42\n", "python3: state kept after the timeout");
	r = call(a, "{\"code\": \"import subprocess\\nsubprocess.run(['sleep', '100'])\", \"language\": \"python3\", \"timeout\": 300}", 10000);
	ok(r && r->ok && r->result.timed_out && !r->result.shell_restarted && r->result.duration_ms < 2000,
	   "python3: timeout kills the subprocess the cell waits for (%lld ms)", r ? (long long)r->result.duration_ms : -1LL);
	r = py(a, "raise SystemExit(5)");
	ok(r && r->ok && r->result.exit_code == 5 && !r->result.shell_restarted, "python3: SystemExit(5) is exit 5, no restart");
	r = call(a, "{\"code\": \"import time\\nwhile True:\\n  try:\\n    time.sleep(1)\\n  except KeyboardInterrupt:\\n    pass\", \"language\": \"python3\", \"timeout\": 300}", 10000);
	ok(r && r->ok && r->result.timed_out && r->result.shell_restarted,
	   "python3: a cell that swallows the interrupt: interpreter restarted");
	r = py(a, "print('x' in globals())");
	is_str(OUT(r), "False\n", "python3: a fresh interpreter answers after the restart");
	r = py(a, "import os\nos._exit(3)");
	ok(r && r->ok && r->result.exit_code == 3 && r->result.shell_restarted, "python3: os._exit(3) is exit 3, restarted");
	r = py(a, "print('up')");
	is_str(OUT(r), "up\n", "python3: and it starts again");
	r = call(a, "{\"code\": \"echo from bash; exit 4\", \"language\": \"bash\"}", 10000);
	ok(r && r->ok && strcmp(r->result.out, "from bash\n") == 0 && r->result.exit_code == 4, "bash code runs as a file");
	r = call(a, "{\"code\": \"x\", \"language\": \"cobol\"}", 10000);
	ok(r && !r->ok && strstr(r->error, "cobol") != NULL, "unknown language: an error naming it");
}

static void test_bad_frames(struct agent *a)
{
	struct session_response *r;
	unsigned char hdr[4];

	send_frame(a, "not json", 8);
	r = recv_response(a, 5000);
	ok(r && !r->ok && r->id == -1 && strstr(r->error, "not JSON"), "not JSON: error response (%s)", r ? r->error : "none");
	send_frame(a, "{}", 2);
	r = recv_response(a, 5000);
	ok(r && !r->ok && strstr(r->error, "id is missing"), "{}: id is missing");
	{
		const char *wrong = "{\"id\":9,\"op\":\"exec\",\"command\":{}}";
		send_frame(a, wrong, strlen(wrong));
	}
	r = recv_response(a, 5000);
	ok(r && !r->ok && r->id == 9 && strstr(r->error, "command must be"), "wrong type: error with the request's id");
	{
		const char *pty = "{\"id\":11,\"op\":\"pty\",\"cols\":80,\"rows\":24}";
		send_frame(a, pty, strlen(pty));
	}
	r = recv_response(a, 5000);
	ok(r && !r->ok && r->id == 11 && r->status == 409 && strstr(r->error, "terminal channel"),
	   "pty without a terminal channel: 409 (%s)", r && r->error ? r->error : "none");
	{
		const char *pty = "{\"id\":12,\"op\":\"pty\",\"cols\":0,\"rows\":24}";
		send_frame(a, pty, strlen(pty));
	}
	r = recv_response(a, 5000);
	ok(r && !r->ok && r->id == 12 && strstr(r->error, "cols must be"), "pty with 0 columns: refused");
	session_frame_header(0, hdr);
	send_raw(a, hdr, 4);
	r = recv_response(a, 5000);
	ok(r && !r->ok && strstr(r->error, "empty frame"), "empty frame: error");
	/* over the bound: refused, its body skipped, the next frame still served */
	session_frame_header(SESSION_FRAME_MAX + 10, hdr);
	send_raw(a, hdr, 4);
	{
		char *junk = calloc(1, SESSION_FRAME_MAX + 10);
		pid_t w = fork();
		if (w == 0) {
			send_raw(a, junk, SESSION_FRAME_MAX + 10);
			_exit(0);
		}
		r = recv_response(a, 30000);
		ok(r && !r->ok && strstr(r->error, "bound"), "oversized frame: error (%s)", r ? r->error : "none");
		waitpid(w, NULL, 0);
		free(junk);
	}
	r = sh(a, "echo alive", 10000);
	is_str(OUT(r), "alive\n", "the agent serves the next frame");
}

int main(void)
{
	struct agent a;
	struct session_response *r;
	int status;

	signal(SIGPIPE, SIG_IGN);
	test_proto();
	if (access(SESSION_AGENT_BUILD_PATH, X_OK) != 0) {
		printf("1..0 # SKIP %s is not built\n", SESSION_AGENT_BUILD_PATH);
		return 0;
	}
	if (agent_start(&a) < 0)
		return 1;
	test_shell(&a);
	test_argv_code(&a);
	test_bad_frames(&a);
	agent_stop(&a);

	/* end of input inside a frame: an error answer, then a clean exit */
	if (agent_start(&a) == 0) {
		unsigned char hdr[4];
		session_frame_header(100, hdr);
		send_raw(&a, hdr, 4);
		send_raw(&a, "{\"id\":", 6);
		close(a.to);
		r = recv_response(&a, 5000);
		ok(r && !r->ok && strstr(r->error, "truncated"), "a frame cut short: error (%s)", r ? r->error : "none");
		close(a.from);
		waitpid(a.pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "and the agent exits cleanly");
	}
	return done_testing();
}
