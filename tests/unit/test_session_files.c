/*
 * Tests of the session agent's file ops and init and streamed exec
 * (runner/session_files.c, runner/session_agent.c), run against the built
 * sandrun-session-agent over its frames, with temporary directories as
 * its /work and /tmp (SANDRUN_AGENT_TEST_ROOTS), plus the pure path
 * parser (runner/session_path.c) and the root-side reply parser. What is
 * checked is what a session's user and the root supervisor rely on: no
 * link is ever followed, a FIFO never hangs the agent, big files and big
 * directories come through whole, archives obey the job upload's rules.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "session_path.h"
#include "session_proto.h"
#include "tap.h"

#ifndef SESSION_AGENT_BUILD_PATH
#define SESSION_AGENT_BUILD_PATH "./sandrun-session-agent"
#endif

static char base[128], work[160], tmp[160], outside[160];

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
	char roots[400];

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	snprintf(roots, sizeof roots, "%s:%s", work, tmp);
	a->pid = fork();
	if (a->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		setenv("SANDRUN_AGENT_TEST_ROOTS", roots, 1);
		if (chdir(work) < 0)
			_exit(127);
		execl(SESSION_AGENT_BUILD_PATH, "sandrun-session-agent", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	a->to = in[1];
	a->from = out[0];
	return a->pid > 0 ? 0 : -1;
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

static int send_frame(struct agent *a, const void *body, size_t len)
{
	unsigned char hdr[4];
	session_frame_header((uint32_t)len, hdr);
	return send_raw(a, hdr, 4) < 0 ? -1 : send_raw(a, body, len);
}

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

/* One frame (JSON or raw): malloc'd, NUL after *len bytes; NULL on timeout. */
static char *recv_frame(struct agent *a, size_t *len, int timeout_ms)
{
	unsigned char hdr[4];
	uint32_t n;
	char *body;
	int64_t deadline = now_ms() + timeout_ms;

	if (read_within(a->from, hdr, 4, deadline) < 0)
		return NULL;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	body = malloc((size_t)n + 1);
	if (body == NULL || read_within(a->from, body, n, deadline) < 0) {
		free(body);
		return NULL;
	}
	body[n] = '\0';
	*len = n;
	return body;
}

static int next_id = 1;
static json_t *last;      /* the last reply, parsed */
static char *last_binary; /* the raw frame after it */
static size_t last_binary_len;

/* Sends {"id", "op", fields of `fields`} (+ a raw frame when data != NULL)
 * and reads the reply (+ its raw frame). Checks the reply with root's
 * parser too. Returns the reply (owned by `last`) or NULL. */
static json_t *request(struct agent *a, const char *op, json_t *fields, const void *data, size_t datalen,
		       int timeout_ms)
{
	int id = next_id++;
	char *body, err[256];
	size_t len;
	struct session_reply rep;
	enum session_op sop = strcmp(op, "init") == 0 ? SESSION_OP_INIT : strcmp(op, "write") == 0 ? SESSION_OP_WRITE
		: strcmp(op, "read") == 0 ? SESSION_OP_READ : strcmp(op, "delete") == 0 ? SESSION_OP_DELETE
		: strcmp(op, "unpack") == 0 ? SESSION_OP_UNPACK : SESSION_OP_ARCHIVE;

	json_decref(last);
	last = NULL;
	free(last_binary);
	last_binary = NULL;
	last_binary_len = 0;
	if (fields == NULL)
		fields = json_object();
	json_object_set_new(fields, "id", json_integer(id));
	json_object_set_new(fields, "op", json_string(op));
	if (data != NULL)
		json_object_set_new(fields, "binary", json_integer((json_int_t)datalen));
	body = json_dumps(fields, JSON_COMPACT);
	json_decref(fields);
	if (send_frame(a, body, strlen(body)) < 0 || (data != NULL && send_frame(a, data, datalen) < 0)) {
		free(body);
		return NULL;
	}
	free(body);
	body = recv_frame(a, &len, timeout_ms);
	if (body == NULL) {
		printf("# no reply within %d ms\n", timeout_ms);
		return NULL;
	}
	if (session_reply_parse(body, len, sop, &rep, err, sizeof err) < 0) {
		printf("# root's parser refuses the reply: %s: %.300s\n", err, body);
		free(body);
		return NULL;
	}
	last = json_loadb(body, len, 0, NULL);
	free(body);
	if (last == NULL || json_integer_value(json_object_get(last, "id")) != id) {
		printf("# reply with the wrong id\n");
		session_reply_free(&rep);
		return NULL;
	}
	if (rep.binary >= 0) {
		last_binary = recv_frame(a, &last_binary_len, timeout_ms);
		if (last_binary == NULL || (int64_t)last_binary_len != rep.binary) {
			printf("# the raw frame is missing or of the wrong length\n");
			session_reply_free(&rep);
			return NULL;
		}
	}
	if (!rep.ok)
		printf("# %d %s: %s\n", rep.status, rep.reason, rep.error);
	session_reply_free(&rep);
	return last;
}

static int is_ok(json_t *r)
{
	return r != NULL && json_is_true(json_object_get(r, "ok"));
}

/* A failure with this status (and reason, when not NULL). */
static int is_fail(json_t *r, int status, const char *reason)
{
	return r != NULL && json_is_false(json_object_get(r, "ok"))
	       && json_integer_value(json_object_get(r, "status")) == status
	       && (reason == NULL || strcmp(json_string_value(json_object_get(r, "reason")), reason) == 0);
}

static json_t *file_write(struct agent *a, const char *path, const void *data, size_t len)
{
	return request(a, "write", json_pack("{s:s}", "path", path), data, len, 60000);
}

static json_t *file_read(struct agent *a, const char *path)
{
	return request(a, "read", json_pack("{s:s}", "path", path), NULL, 0, 60000);
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *b;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL || read(fd, b, (size_t)st.st_size) != st.st_size) {
		free(b);
		close(fd);
		return NULL;
	}
	b[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	close(fd);
	return b;
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		printf("# cannot write %s\n", path);
	if (fd >= 0)
		close(fd);
}

static int file_is(const char *path, const char *text)
{
	size_t n;
	char *b = slurp(path, &n);
	int same = b != NULL && n == strlen(text) && memcmp(b, text, n) == 0;
	free(b);
	return same;
}

static void sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

static void test_path(void)
{
	struct session_path p;
	char err[256], big[5000];

#define PATH_OK(in, want_root, want_rel) do { \
	int rc_ = session_path_parse(in, strlen(in), &p, err, sizeof err); \
	ok(rc_ == 0 && p.root == (want_root) && strcmp(p.rel, want_rel) == 0, "path '%s' -> %s '%s' (%s)", in, \
	   session_root_name(want_root), want_rel, rc_ == 0 ? p.rel : err); \
} while (0)
#define PATH_BAD(in, want) do { \
	int rc_ = session_path_parse(in, strlen(in), &p, err, sizeof err); \
	ok(rc_ < 0 && strstr(err, want) != NULL, "path '%s' refused: %s", in, err); \
} while (0)
	PATH_OK("a/b", SESSION_ROOT_WORK, "a/b");
	PATH_OK("./a//b/./", SESSION_ROOT_WORK, "a/b");
	PATH_OK("", SESSION_ROOT_WORK, "");
	PATH_OK(".", SESSION_ROOT_WORK, "");
	PATH_OK("/work", SESSION_ROOT_WORK, "");
	PATH_OK("/work/x", SESSION_ROOT_WORK, "x");
	PATH_OK("/workspace/x/y", SESSION_ROOT_WORK, "x/y");
	PATH_OK("/tmp/x", SESSION_ROOT_TMP, "x");
	PATH_OK("/tmp", SESSION_ROOT_TMP, "");
	PATH_OK("a\nb/c d", SESSION_ROOT_WORK, "a\nb/c d");
	PATH_OK("...", SESSION_ROOT_WORK, "...");
	PATH_BAD("a/../b", "'..'");
	PATH_BAD("..", "'..'");
	PATH_BAD("/work/..", "'..'");
	PATH_BAD("/etc/passwd", "outside");
	PATH_BAD("/workplace/x", "outside");
	PATH_BAD("/tmpx", "outside");
	PATH_BAD("/", "outside");
	ok(session_path_parse("a\0b", 3, &p, err, sizeof err) < 0 && strstr(err, "NUL"), "a NUL byte refused: %s", err);
	memset(big, 'a', sizeof big);
	ok(session_path_parse(big, 4097, &p, err, sizeof err) < 0 && strstr(err, "4096"), "4097 bytes refused: %.60s", err);
	for (int i = 100; i < 4096; i += 200)
		big[i] = '/';
	ok(session_path_parse(big, 4096, &p, err, sizeof err) == 0, "4096 bytes accepted (%s)", err);
	memset(big, 'b', 300);
	big[0] = 'x';
	big[1] = '/';
	ok(session_path_parse(big, 258, &p, err, sizeof err) < 0 && strstr(err, "255"), "a 256-byte name refused");
	ok(session_path_parse(big, 257, &p, err, sizeof err) == 0, "a 255-byte name accepted");
	session_path_parse("a/b/c", 5, &p, err, sizeof err);
	ok(p.last == 4, "the last component's offset");
}

static void test_write_read(struct agent *a)
{
	json_t *r;
	char path[400];
	struct stat st;

	r = file_write(a, "dir/sub/hello.txt", "hello\n", 6);
	ok(is_ok(r) && strcmp(json_string_value(json_object_get(r, "path")), "/work/dir/sub/hello.txt") == 0
		   && json_integer_value(json_object_get(r, "size")) == 6,
	   "write dir/sub/hello.txt: parents made, path and size in the reply");
	snprintf(path, sizeof path, "%s/dir/sub/hello.txt", work);
	ok(file_is(path, "hello\n") && stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "the file is there, mode 0644");
	snprintf(path, sizeof path, "%s/dir/sub", work);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0755, "its parents are 0755 directories");
	r = request(a, "write", json_pack("{s:s, s:i}", "path", "/workspace/run.sh", "mode", 0755), "#!/bin/sh\n", 10,
		    10000);
	snprintf(path, sizeof path, "%s/run.sh", work);
	ok(is_ok(r) && stat(path, &st) == 0 && (st.st_mode & 0777) == 0755, "/workspace/run.sh with mode 0755 lands in /work");
	r = request(a, "write", json_pack("{s:s, s:s}", "path", "m", "mode", "0600"), "", 0, 10000);
	snprintf(path, sizeof path, "%s/m", work);
	ok(is_ok(r) && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 0,
	   "mode as an octal string; an empty file");
	r = request(a, "write", json_pack("{s:s, s:i}", "path", "m", "mode", 04755), "", 0, 10000);
	ok(is_fail(r, 400, "bad_request"), "mode with setuid: 400");
	r = file_write(a, "dir/sub/hello.txt", "bye", 3);
	snprintf(path, sizeof path, "%s/dir/sub/hello.txt", work);
	ok(is_ok(r) && file_is(path, "bye"), "write replaces a file (truncated)");
	r = file_write(a, "/tmp/t.txt", "in tmp", 6);
	snprintf(path, sizeof path, "%s/t.txt", tmp);
	ok(is_ok(r) && file_is(path, "in tmp"), "/tmp/t.txt lands in the tmp root");

	r = file_read(a, "dir/sub/hello.txt");
	ok(is_ok(r) && json_integer_value(json_object_get(r, "size")) == 3 && last_binary_len == 3
		   && memcmp(last_binary, "bye", 3) == 0,
	   "read a file: size, binary and the bytes");
	r = file_read(a, "/tmp/t.txt");
	ok(is_ok(r) && last_binary_len == 6 && memcmp(last_binary, "in tmp", 6) == 0, "read /tmp/t.txt");
	r = request(a, "read", json_pack("{s:s, s:i}", "path", "/tmp/t.txt", "max_bytes", 5), NULL, 0, 10000);
	ok(is_fail(r, 413, "too_large"), "a file over max_bytes: 413");
	r = file_read(a, "nope");
	ok(is_fail(r, 404, "not_found"), "a missing file: 404");
	r = file_read(a, "dir/sub/hello.txt/x");
	ok(r && json_is_false(json_object_get(r, "ok")), "a file used as a directory: refused");
	r = file_write(a, "dir", "x", 1);
	ok(is_fail(r, 409, "is_directory"), "write over a directory: 409");
	r = file_write(a, "/work", "x", 1);
	ok(is_fail(r, 409, "is_directory"), "write over the root: 409");
	r = file_write(a, "dir/sub/hello.txt/x", "x", 1);
	ok(is_fail(r, 409, "not_directory"), "write below a file: 409");

	r = file_read(a, "dir");
	ok(is_ok(r) && json_array_size(json_object_get(r, "entries")) == 1
		   && json_is_false(json_object_get(r, "truncated")),
	   "read a directory: a listing");
	{
		json_t *e = json_array_get(json_object_get(r, "entries"), 0);
		ok(e && strcmp(json_string_value(json_object_get(e, "name")), "sub") == 0
			   && strcmp(json_string_value(json_object_get(e, "type")), "dir") == 0
			   && strcmp(json_string_value(json_object_get(e, "mode")), "0755") == 0
			   && strlen(json_string_value(json_object_get(e, "mtime"))) >= 20,
		   "an entry: name, type dir, mode 0755, an RFC 3339 mtime");
	}
	r = file_read(a, "");
	ok(is_ok(r) && strcmp(json_string_value(json_object_get(r, "path")), "/work") == 0, "read \"\": the /work listing");
}

static void test_links(struct agent *a)
{
	char path[400], target[400];
	json_t *r;
	struct stat before, after;
	int have_shadow = stat("/etc/shadow", &before) == 0;

	snprintf(target, sizeof target, "%s/secret", outside);
	put(target, "outside\n");
	snprintf(path, sizeof path, "%s/to-shadow", work);
	if (symlink("/etc/shadow", path) < 0)
		printf("# symlink: %s\n", strerror(errno));
	snprintf(path, sizeof path, "%s/to-outside", work);
	if (symlink(target, path) < 0)
		printf("# symlink: %s\n", strerror(errno));

	r = file_write(a, "to-shadow", "pwned\n", 6);
	ok(is_fail(r, 400, "symlink") && strstr(json_string_value(json_object_get(r, "error")), "/work/to-shadow"),
	   "write to a link at the target (-> /etc/shadow): 400 naming the path");
	ok(!have_shadow || (stat("/etc/shadow", &after) == 0 && after.st_size == before.st_size
			    && after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec),
	   "/etc/shadow untouched");
	r = file_write(a, "to-outside", "pwned\n", 6);
	ok(is_fail(r, 400, "symlink") && file_is(target, "outside\n"), "write to a link to a file outside: 400, the file untouched");
	r = file_read(a, "to-shadow");
	ok(is_fail(r, 400, "symlink") && last_binary == NULL, "read of a link -> /etc/shadow: 400, nothing read");
	r = file_read(a, "to-outside");
	ok(is_fail(r, 400, "symlink"), "read of a link to a file outside: 400");

	snprintf(path, sizeof path, "%s/linkdir", work);
	if (symlink(outside, path) < 0)
		printf("# symlink: %s\n", strerror(errno));
	r = file_write(a, "linkdir/secret", "pwned\n", 6);
	ok(is_fail(r, 400, "symlink") && file_is(target, "outside\n"), "write through a link in a parent: 400, untouched");
	r = file_write(a, "linkdir/new/deeper", "x", 1);
	snprintf(path, sizeof path, "%s/new", outside);
	ok(is_fail(r, 400, "symlink") && access(path, F_OK) != 0, "parents are not made through a link");
	r = file_read(a, "linkdir/secret");
	ok(is_fail(r, 400, "symlink"), "read through a link in a parent: 400");
	r = file_read(a, "linkdir");
	ok(is_fail(r, 400, "symlink"), "listing a link to a directory: 400");
	r = request(a, "archive", json_pack("{s:s}", "path", "linkdir"), NULL, 0, 10000);
	ok(is_fail(r, 400, "symlink"), "archive of a link to a directory: 400");
	r = request(a, "unpack", json_pack("{s:s}", "path", "linkdir"), "", 0, 10000);
	ok(is_fail(r, 400, "symlink"), "unpack into a link to a directory: 400");

	r = request(a, "delete", json_pack("{s:s}", "path", "to-outside"), NULL, 0, 10000);
	snprintf(path, sizeof path, "%s/to-outside", work);
	ok(is_ok(r) && lstat(path, &after) < 0 && file_is(target, "outside\n"), "delete a link: the link goes, its target stays");
	r = request(a, "delete", json_pack("{s:s, s:b}", "path", "linkdir", "recursive", 1), NULL, 0, 10000);
	ok(is_ok(r) && file_is(target, "outside\n"), "recursive delete of a link to a directory: only the link goes");
	r = request(a, "delete", json_pack("{s:s}", "path", "to-shadow"), NULL, 0, 10000);
	ok(is_ok(r) && (!have_shadow || stat("/etc/shadow", &after) == 0), "delete the /etc/shadow link: /etc/shadow stays");

	r = file_read(a, "../x");
	ok(is_fail(r, 400, "bad_path"), "'..': 400");
	r = file_write(a, "/etc/passwd", "x", 1);
	ok(is_fail(r, 400, "bad_path") && strstr(json_string_value(json_object_get(r, "error")), "/etc/passwd"),
	   "an absolute path outside the roots: 400 naming it");
	r = file_read(a, "/work/../etc/passwd");
	ok(is_fail(r, 400, "bad_path"), "/work/../etc/passwd: 400");
	r = request(a, "delete", json_pack("{s:s}", "path", "/tmp/../work"), NULL, 0, 10000);
	ok(is_fail(r, 400, "bad_path"), "delete with '..': 400");
}

static void test_fifo(struct agent *a)
{
	char path[400];
	int64_t t0;
	json_t *r;

	snprintf(path, sizeof path, "%s/fifo", work);
	if (mkfifo(path, 0644) < 0)
		printf("# mkfifo: %s\n", strerror(errno));
	t0 = now_ms();
	r = file_read(a, "fifo");
	ok(is_fail(r, 400, "special_file") && now_ms() - t0 < 1000, "read of a FIFO: 400 in %lld ms (under 1 s)",
	   (long long)(now_ms() - t0));
	t0 = now_ms();
	r = file_write(a, "fifo", "x", 1);
	ok(is_fail(r, 400, "special_file") && now_ms() - t0 < 1000, "write to a FIFO: 400 in %lld ms, never blocks",
	   (long long)(now_ms() - t0));
	r = file_read(a, "");
	{
		json_t *e;
		size_t i;
		int seen = 0;
		json_array_foreach(json_object_get(r, "entries"), i, e)
			if (strcmp(json_string_value(json_object_get(e, "name")), "fifo") == 0)
				seen = strcmp(json_string_value(json_object_get(e, "type")), "fifo") == 0;
		ok(seen, "the listing shows it as type fifo");
	}
	r = request(a, "delete", json_pack("{s:s}", "path", "fifo"), NULL, 0, 10000);
	ok(is_ok(r) && access(path, F_OK) != 0, "delete a FIFO");
}

static void test_big(struct agent *a)
{
	size_t n = 100u << 20, i;
	unsigned char *data = malloc(n), want[32], got[32];
	uint32_t x = 12345;
	json_t *r;
	int64_t t0;

	for (i = 0; i < n; i += 4) {
		x = x * 1103515245 + 12345;
		memcpy(data + i, &x, 4);
	}
	sha256(data, n, want);
	t0 = now_ms();
	r = request(a, "write", json_pack("{s:s}", "path", "big.bin"), data, n, 120000);
	ok(is_ok(r) && json_integer_value(json_object_get(r, "size")) == (json_int_t)n, "a 100 MiB file written (%lld ms)",
	   (long long)(now_ms() - t0));
	t0 = now_ms();
	r = request(a, "read", json_pack("{s:s, s:I}", "path", "big.bin", "max_bytes", (json_int_t)n), NULL, 0, 120000);
	if (last_binary != NULL)
		sha256(last_binary, last_binary_len, got);
	ok(is_ok(r) && last_binary_len == n && memcmp(want, got, 32) == 0, "and read back: same sha256 (%lld ms)",
	   (long long)(now_ms() - t0));
	free(last_binary);
	last_binary = NULL;
	r = request(a, "delete", json_pack("{s:s}", "path", "big.bin"), NULL, 0, 10000);
	ok(is_ok(r), "deleted");
	free(data);
}

static void test_listing(struct agent *a)
{
	char path[400];
	json_t *r, *e;
	size_t i;
	int newline = 0, bad = 0, sorted = 1;
	const char *prev = "";

	snprintf(path, sizeof path, "%s/many", work);
	mkdir(path, 0755);
	for (i = 0; i < 10000; i++) {
		char p[500];
		int fd;
		snprintf(p, sizeof p, "%s/many/f%05zu", work, i);
		fd = open(p, O_WRONLY | O_CREAT, 0644);
		if (fd >= 0)
			close(fd);
	}
	snprintf(path, sizeof path, "%s/many/line\nbreak", work);
	put(path, "x");
	snprintf(path, sizeof path, "%s/many/bad\xff\xfe name", work);
	put(path, "yz");
	r = file_read(a, "many");
	ok(is_ok(r) && json_array_size(json_object_get(r, "entries")) == 10002, "a 10,002-entry directory listed whole (%zu)",
	   r ? json_array_size(json_object_get(r, "entries")) : 0);
	json_array_foreach(json_object_get(r, "entries"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (strcmp(prev, name) > 0)
			sorted = 0;
		prev = name;
		if (strcmp(name, "line\nbreak") == 0)
			newline = json_object_get(e, "name_b64") == NULL && json_integer_value(json_object_get(e, "size")) == 1;
		if (strcmp(name, "bad\xef\xbf\xbd\xef\xbf\xbd name") == 0) {
			const char *b = json_string_value(json_object_get(e, "name_b64"));
			bad = b && strcmp(b, "YmFk//4gbmFtZQ==") == 0;
		}
	}
	ok(newline, "a name with a newline is listed as it is");
	ok(bad, "a name that is not UTF-8: U+FFFD in name, the raw bytes in name_b64");
	ok(sorted, "entries are sorted by name");
	r = request(a, "delete", json_pack("{s:s}", "path", "many"), NULL, 0, 10000);
	ok(is_fail(r, 409, "not_empty"), "delete of a full directory without recursive: 409");
	r = request(a, "delete", json_pack("{s:s, s:b}", "path", "many", "recursive", 1), NULL, 0, 60000);
	snprintf(path, sizeof path, "%s/many", work);
	ok(is_ok(r) && access(path, F_OK) != 0, "recursive delete removes the tree");
	snprintf(path, sizeof path, "%s/empty", work);
	mkdir(path, 0755);
	r = request(a, "delete", json_pack("{s:s}", "path", "empty"), NULL, 0, 10000);
	ok(is_ok(r) && access(path, F_OK) != 0, "delete of an empty directory");
	r = request(a, "delete", json_pack("{s:s}", "path", "/work"), NULL, 0, 10000);
	ok(is_fail(r, 400, "bad_path"), "delete of the root: 400");
	r = request(a, "delete", json_pack("{s:s}", "path", "nope"), NULL, 0, 10000);
	ok(is_fail(r, 404, "not_found"), "delete of nothing: 404");
}

/* A tar (in memory) of the given entries: name, type, content or link target. */
struct tar_entry {
	const char *name;
	mode_t type;
	const char *data;
	const char *hardlink;
};

static char *make_tar(const struct tar_entry *e, size_t n, size_t *len)
{
	struct archive *a = archive_write_new();
	size_t cap = 1 << 20, used = 0, i;
	char *buf = malloc(cap);

	archive_write_set_format_pax_restricted(a);
	archive_write_open_memory(a, buf, cap, &used);
	for (i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		if (e[i].hardlink) {
			archive_entry_set_hardlink(ae, e[i].hardlink);
		} else {
			archive_entry_set_filetype(ae, e[i].type);
			archive_entry_set_perm(ae, e[i].type == AE_IFDIR ? 0755 : 0644);
			if (e[i].type == AE_IFLNK)
				archive_entry_set_symlink(ae, e[i].data);
			else if (e[i].type == AE_IFREG)
				archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
		}
		archive_write_header(a, ae);
		if (e[i].type == AE_IFREG && !e[i].hardlink)
			archive_write_data(a, e[i].data, strlen(e[i].data));
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	*len = used;
	return buf;
}

static void test_unpack_archive(struct agent *a)
{
	static const struct tar_entry good[] = {
		{ "src", AE_IFDIR, NULL, NULL },
		{ "src/main.c", AE_IFREG, "int main(void) { return 0; }\n", NULL },
		{ "src/lib/util.h", AE_IFREG, "#pragma once\n", NULL },
		{ "src/link", AE_IFLNK, "main.c", NULL },
		{ "src/hard", AE_IFREG, NULL, "src/main.c" },
	};
	static const struct tar_entry dotdot[] = { { "ok.txt", AE_IFREG, "fine", NULL }, { "../escape.txt", AE_IFREG, "bad", NULL } };
	static const struct tar_entry absolute[] = { { "/etc/evil", AE_IFREG, "bad", NULL } };
	static const struct tar_entry linkout[] = { { "l", AE_IFLNK, "../../etc", NULL } };
	static const struct tar_entry linkabs[] = { { "l", AE_IFLNK, "/etc/shadow", NULL } };
	static const struct tar_entry fifo[] = { { "p", AE_IFIFO, NULL, NULL } };
	char *tar, path[400], path2[400];
	size_t len, n;
	json_t *r;
	char *tgz;
	size_t tgz_len;

	tar = make_tar(good, sizeof good / sizeof good[0], &len);
	r = request(a, "unpack", json_pack("{s:s}", "path", "proj"), tar, len, 20000);
	snprintf(path, sizeof path, "%s/proj/src/main.c", work);
	ok(is_ok(r) && file_is(path, "int main(void) { return 0; }\n"), "unpack into /work/proj (made)");
	snprintf(path, sizeof path, "%s/proj/src/link", work);
	{
		char t[64];
		ssize_t k = readlink(path, t, sizeof t - 1);
		ok(k == 6 && memcmp(t, "main.c", 6) == 0, "a link inside the tree is unpacked as a link");
	}
	free(tar);
	tar = make_tar(good, sizeof good / sizeof good[0], &len);
	r = request(a, "unpack", NULL, tar, len, 20000);
	snprintf(path, sizeof path, "%s/src/lib/util.h", work);
	ok(is_ok(r) && file_is(path, "#pragma once\n") && strcmp(json_string_value(json_object_get(r, "path")), "/work") == 0,
	   "unpack without a path: into /work");
	free(tar);
	tar = make_tar(good, sizeof good / sizeof good[0], &len);
	r = request(a, "unpack", json_pack("{s:s, s:i}", "path", "lim", "max_files", 2), tar, len, 20000);
	ok(is_fail(r, 413, "too_large"), "over max_files: 413");
	r = request(a, "unpack", json_pack("{s:s, s:i}", "path", "lim2", "max_bytes", 10), tar, len, 20000);
	ok(is_fail(r, 413, "too_large"), "over max_bytes: 413");
	free(tar);

#define UNPACK_BAD(entries, what) do { \
	tar = make_tar(entries, sizeof entries / sizeof entries[0], &len); \
	r = request(a, "unpack", json_pack("{s:s}", "path", "bad"), tar, len, 20000); \
	ok(is_fail(r, 400, "bad_archive"), "unpack of %s: 400 (%s)", what, \
	   r ? json_string_value(json_object_get(r, "error")) : "no reply"); \
	free(tar); \
} while (0)
	{
		/* a link planted in the target tree: the archive's entry below it is refused */
		static const struct tar_entry through[] = { { "planted/evil", AE_IFREG, "bad", NULL } };
		char t[400];
		snprintf(path, sizeof path, "%s/bad", work);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/bad/planted", work);
		if (symlink(outside, path) < 0)
			printf("# symlink: %s\n", strerror(errno));
		tar = make_tar(through, 1, &len);
		r = request(a, "unpack", json_pack("{s:s}", "path", "bad"), tar, len, 20000);
		snprintf(t, sizeof t, "%s/evil", outside);
		ok(is_fail(r, 400, "bad_archive") && access(t, F_OK) != 0,
		   "unpack through a link planted in the tree: refused, nothing written outside (%s)",
		   r ? json_string_value(json_object_get(r, "error")) : "no reply");
		free(tar);
		unlink(path);
	}
	UNPACK_BAD(dotdot, "a tar with a '..' name");
	snprintf(path, sizeof path, "%s/escape.txt", work);
	ok(access(path, F_OK) != 0, "nothing written above the directory");
	UNPACK_BAD(absolute, "an absolute name");
	UNPACK_BAD(linkout, "a link out of the tree");
	UNPACK_BAD(linkabs, "an absolute link");
	UNPACK_BAD(fifo, "a FIFO entry");
	r = request(a, "unpack", json_pack("{s:s}", "path", "bad"), "not an archive at all", 21, 20000);
	ok(is_fail(r, 400, "bad_archive"), "garbage: 400");

	/* archive round trip */
	r = request(a, "archive", json_pack("{s:s}", "path", "proj"), NULL, 0, 20000);
	ok(is_ok(r) && last_binary_len > 20 && (unsigned char)last_binary[0] == 0x1f && (unsigned char)last_binary[1] == 0x8b,
	   "archive of /work/proj: a gzip (%zu bytes)", last_binary_len);
	tgz = last_binary;
	tgz_len = last_binary_len;
	last_binary = NULL;
	r = request(a, "unpack", json_pack("{s:s}", "path", "/tmp/copy"), tgz, tgz_len, 20000);
	ok(is_ok(r), "unpacked into /tmp/copy");
	snprintf(path, sizeof path, "%s/copy/src/main.c", tmp);
	snprintf(path2, sizeof path2, "%s/proj/src/main.c", work);
	{
		size_t n1, n2;
		char *b1 = slurp(path, &n1), *b2 = slurp(path2, &n2);
		ok(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "round trip: the same bytes");
		free(b1);
		free(b2);
	}
	snprintf(path, sizeof path, "%s/copy/src/link", tmp);
	{
		char t[64];
		ssize_t k = readlink(path, t, sizeof t - 1);
		ok(k == 6 && memcmp(t, "main.c", 6) == 0, "round trip: the link is a link");
	}
	snprintf(path, sizeof path, "%s/copy/src/lib/util.h", tmp);
	ok(file_is(path, "#pragma once\n"), "round trip: a nested file");
	free(tgz);
	r = request(a, "archive", json_pack("{s:s, s:i}", "path", "proj", "max_bytes", 30), NULL, 0, 20000);
	ok(is_fail(r, 413, "too_large"), "archive over max_bytes: 413");
	r = request(a, "archive", json_pack("{s:s}", "path", "proj/src/main.c"), NULL, 0, 20000);
	ok(is_fail(r, 409, "not_directory"), "archive of a file: 409");
	(void)n;
}

/* Exec with the agent's own frames (this file's request() is for files ops). */
static json_t *exec(struct agent *a, json_t *fields, int timeout_ms)
{
	char *body;
	size_t len;

	json_object_set_new(fields, "id", json_integer(next_id++));
	json_object_set_new(fields, "op", json_string("exec"));
	body = json_dumps(fields, JSON_COMPACT);
	json_decref(fields);
	send_frame(a, body, strlen(body));
	free(body);
	body = recv_frame(a, &len, timeout_ms);
	json_decref(last);
	last = body ? json_loadb(body, len, 0, NULL) : NULL;
	free(body);
	return last;
}

static void test_init_stream(struct agent *a)
{
	json_t *r;
	char *body;
	size_t len;
	int64_t t0, t_a = -1, t_end = -1;
	int events = 0, order_ok = 1;
	struct session_response resp;
	char err[256];
	char out[64] = "";

	r = request(a, "init", json_pack("{s:{s:s, s:s}}", "env", "SR_GREETING", "hello world", "SR_Q", "it's \"q\""),
		    NULL, 0, 10000);
	ok(is_ok(r), "init with env");
	r = exec(a, json_pack("{s:s}", "command", "echo \"$SR_GREETING|$SR_Q\""), 10000);
	ok(r && strcmp(json_string_value(json_object_get(r, "stdout")), "hello world|it's \"q\"\n") == 0,
	   "the shell sees init's env");
	r = exec(a, json_pack("{s:s, s:s}", "code", "import os\nprint(os.environ['SR_GREETING'])", "language", "python3"),
		 20000);
	ok(r && strcmp(json_string_value(json_object_get(r, "stdout")), "hello world\n") == 0,
	   "python's os.environ sees init's env");
	r = request(a, "init", json_pack("{s:{s:s}}", "env", "X", "1"), NULL, 0, 10000);
	ok(is_fail(r, 409, "too_late"), "init after an exec: 409");
	r = request(a, "init", json_pack("{s:{s:s}}", "env", "1X", "1"), NULL, 0, 10000);
	ok(is_fail(r, 400, "bad_request"), "init with a bad name: 400");

	/* streamed: a's event comes before the end */
	body = NULL;
	{
		json_t *q = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)next_id, "op", "exec", "command",
				      "echo a; sleep 1; echo b; echo e >&2", "stream", 1);
		char *s = json_dumps(q, JSON_COMPACT);
		json_decref(q);
		t0 = now_ms();
		send_frame(a, s, strlen(s));
		free(s);
	}
	for (;;) {
		body = recv_frame(a, &len, 10000);
		if (body == NULL || session_response_parse(body, len, &resp, err, sizeof err) < 0) {
			printf("# bad frame: %s\n", body ? err : "none");
			free(body);
			order_ok = 0;
			break;
		}
		free(body);
		if (resp.id != next_id)
			order_ok = 0;
		if (resp.event) {
			events++;
			if (resp.event == 1) {
				if (strcmp(resp.result.out, "a\n") == 0 && t_a < 0)
					t_a = now_ms() - t0;
				strncat(out, resp.result.out, sizeof out - strlen(out) - 1);
			}
			session_response_free(&resp);
			continue;
		}
		t_end = now_ms() - t0;
		ok(resp.ok && resp.result.streamed && resp.result.out_len == 0 && resp.result.exit_code == 0,
		   "the final response says streamed, without the bytes again");
		session_response_free(&resp);
		break;
	}
	next_id++;
	ok(order_ok && t_a >= 0 && t_a < 800 && t_end >= 1000, "stream: 'a' came at %lld ms, the end at %lld ms",
	   (long long)t_a, (long long)t_end);
	ok(events >= 3 && strcmp(out, "a\nb\n") == 0, "stream: %d events, stdout 'a\\nb\\n' in them", events);
	{
		/* 200,000 bytes at once: events of at most 64 KiB, all of it in them */
		json_t *q = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)next_id, "op", "exec", "command",
				      "head -c 200000 /dev/zero | tr '\\0' x", "stream", 1);
		char *s = json_dumps(q, JSON_COMPACT);
		size_t total = 0, biggest = 0;
		int n_events = 0, final_ok = 0;
		json_decref(q);
		send_frame(a, s, strlen(s));
		free(s);
		while ((body = recv_frame(a, &len, 10000)) != NULL) {
			int parsed = session_response_parse(body, len, &resp, err, sizeof err) == 0;
			free(body);
			if (!parsed)
				break;
			if (resp.event == 1) {
				n_events++;
				total += resp.result.out_len;
				if (resp.result.out_len > biggest)
					biggest = resp.result.out_len;
				session_response_free(&resp);
				continue;
			}
			final_ok = resp.ok && resp.result.streamed && !resp.result.truncated;
			session_response_free(&resp);
			break;
		}
		next_id++;
		ok(final_ok && total == 200000 && biggest <= SESSION_STREAM_CHUNK && n_events >= 4,
		   "stream: 200,000 bytes in %d events of at most %zu bytes (total %zu)", n_events, biggest, total);
	}
	r = exec(a, json_pack("{s:s}", "command", "echo plain"), 10000);
	ok(r && strcmp(json_string_value(json_object_get(r, "stdout")), "plain\n") == 0
		   && json_object_get(r, "streamed") == NULL,
	   "the next exec without stream answers as before");
}

static void test_frames(struct agent *a)
{
	json_t *r;
	unsigned char hdr[4];
	char *body;
	size_t len;
	const char *q = "{\"id\":77,\"op\":\"write\",\"path\":\"f\",\"binary\":5}";

	/* a raw frame that does not match: refused, skipped, the agent lives on */
	send_frame(a, q, strlen(q));
	send_frame(a, "abc", 3);
	body = recv_frame(a, &len, 5000);
	ok(body && strstr(body, "\"ok\":false") && strstr(body, "the request said 5"), "a raw frame of the wrong length: refused");
	free(body);
	/* a bad request with a raw frame: the frame is skipped */
	q = "{\"id\":78,\"op\":\"write\",\"path\":\"f\",\"binary\":2,\"bogus\":1}";
	send_frame(a, q, strlen(q));
	send_frame(a, "xy", 2);
	body = recv_frame(a, &len, 5000);
	ok(body && strstr(body, "unknown field 'bogus'"), "a bad request's raw frame is skipped");
	free(body);
	session_frame_header(SESSION_BINARY_MAX + 1, hdr);
	q = "{\"id\":79,\"op\":\"write\",\"path\":\"f\",\"binary\":1}";
	send_frame(a, q, strlen(q));
	send_raw(a, hdr, 4);
	body = recv_frame(a, &len, 5000);
	ok(body && strstr(body, "\"status\":413") && strstr(body, "over the"),
	   "a raw frame over the protocol bound: 413 at once (%s)", body ? body : "none");
	free(body);
	(void)r;
}

int main(void)
{
	struct agent a;
	char cmd[300];

	signal(SIGPIPE, SIG_IGN);
	test_path();
	if (access(SESSION_AGENT_BUILD_PATH, X_OK) != 0) {
		printf("1..0 # SKIP %s is not built\n", SESSION_AGENT_BUILD_PATH);
		return 0;
	}
	snprintf(base, sizeof base, "/tmp/sr-files-test-XXXXXX");
	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(work, sizeof work, "%s/work", base);
	snprintf(tmp, sizeof tmp, "%s/tmp", base);
	snprintf(outside, sizeof outside, "%s/outside", base);
	mkdir(work, 0755);
	mkdir(tmp, 01777);
	mkdir(outside, 0755);
	if (agent_start(&a) < 0)
		return 1;
	test_write_read(&a);
	test_links(&a);
	test_fifo(&a);
	test_big(&a);
	test_listing(&a);
	test_unpack_archive(&a);
	test_init_stream(&a);
	{
		/* frames last: it leaves the agent reading a 1 GiB frame */
		json_t *r;
		test_frames(&a);
		(void)r;
	}
	{
		/* the end of input inside the skipped frame: the agent ends cleanly
		 * (under ASan, with no leak: LeakSanitizer would make it exit 23) */
		int status = -1;
		close(a.to);
		close(a.from);
		waitpid(a.pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the agent exits 0 at the end of its input (status %d)", status);
	}
	json_decref(last);
	free(last_binary);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", base);
	return done_testing();
}
