/*
 * The signer process (runner/signer.c), for real: this test's own binary
 * is the signer's image (main hands over to signer_main, as the runner's
 * does). A key in a temporary file; signatures compared with the ones
 * this process makes itself (Ed25519 is deterministic); concurrent
 * supervisors that must never get each other's answers; malformed
 * requests the signer survives; what the signer keeps (descriptors,
 * uid, filter); a signer that dies, one restarted, one whose key file
 * changed, and one that ends when nobody is left to ask it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sign.h"
#include "signer.h"
#include "tap.h"

/* Concurrent clients, and requests each: enough for replies to cross if
 * they could. */
#define TEST_CLIENTS 6
#define TEST_REQUESTS 40

static char keydir[] = "/tmp/sandrun-signer-XXXXXX";
static char keypath[256], otherpath[256];

static bool same_signature(EVP_PKEY *key, const void *msg, size_t len, const char *sig)
{
	char want[SIGN_SIGNATURE_LEN + 1];

	return sign_bytes(key, msg, len, want) == 0 && strcmp(want, sig) == 0;
}

/* "Name:\tvalue" of /proc/PID/status, first field, into out. */
static void proc_status_field(pid_t pid, const char *name, char *out, size_t outlen)
{
	char path[64], line[256];
	size_t nlen = strlen(name);
	FILE *f;

	snprintf(out, outlen, "?");
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, name, nlen) == 0 && line[nlen] == ':') {
			char word[256];

			if (sscanf(line + nlen + 1, "%255s", word) == 1)
				snprintf(out, outlen, "%.63s", word);
			break;
		}
	fclose(f);
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Sends one raw request: the header given, and the descriptors given. */
static void send_raw(int fd, const struct signer_request *req, size_t reqlen, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = reqlen };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&control, 0, sizeof control);
	if (nfds > 0) {
		struct cmsghdr *c;

		m.msg_control = control.buf;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	if (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
		printf("#   sendmsg: %s\n", strerror(errno));
}

/* A raw request with an unsealed memfd of len bytes: the signer's answer. */
static struct signer_reply ask_unsealed(int fd, uint64_t claimed)
{
	struct signer_request req = { .magic = SIGNER_MAGIC, .len = claimed };
	struct signer_reply reply;
	int sv[2], fds[2], memfd = memfd_create("test", MFD_CLOEXEC);
	struct pollfd p;

	memset(&reply, 0, sizeof reply);
	if (memfd < 0 || write(memfd, "hello", 5) != 5 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return reply;
	fds[0] = memfd;
	fds[1] = sv[1];
	send_raw(fd, &req, sizeof req, fds, 2);
	close(sv[1]);
	close(memfd);
	p.fd = sv[0];
	p.events = POLLIN;
	if (poll(&p, 1, 5000) == 1 && recv(sv[0], &reply, sizeof reply, 0) != (ssize_t)sizeof reply)
		memset(&reply, 0, sizeof reply);
	close(sv[0]);
	reply.error[sizeof reply.error - 1] = '\0';
	return reply;
}

/* Waits up to ms for pid to end; its wait status, or -1. */
static int wait_for(pid_t pid, int ms)
{
	int status;

	for (int i = 0; i < ms / 10; i++) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		usleep(10000);
	}
	return -1;
}

static void test_start_and_sign(EVP_PKEY *key, const char *wid, struct signer *s)
{
	char err[512], sig[SIGN_SIGNATURE_LEN + 1], value[64];
	static char big[3 * 1024 * 1024];
	const char *small = "sandrun-result-v1\njob_id=job-abc\n";

	if (!ok(signer_start(s, keypath, err, sizeof err) == 0, "the signer starts"))
		printf("#   %s\n", err);
	is_str(s->worker_id, wid, "... and reports the key's worker id");
	ok(s->pid > 0 && s->fd >= 0 && (fcntl(s->fd, F_GETFD) & FD_CLOEXEC), "... its socket is close-on-exec here");

	ok(signer_sign(s->fd, small, strlen(small), sig, err, sizeof err) == 0 &&
	   same_signature(key, small, strlen(small), sig), "a message is signed, as the key signs it");
	ok(signer_sign(s->fd, "", 0, sig, err, sizeof err) == 0 && same_signature(key, "", 0, sig),
	   "an empty message is signed");
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	ok(signer_sign(s->fd, big, sizeof big, sig, err, sizeof err) == 0 && same_signature(key, big, sizeof big, sig),
	   "a 3 MiB message is signed (the memfd is mapped, not copied through the socket)");
	ok(signer_sign(s->fd, "", (size_t)SIGNER_MESSAGE_MAX + 1, sig, err, sizeof err) == -1 &&
	   strstr(err, "longer") && *sig == '\0', "a message over SIGNER_MESSAGE_MAX is refused before it is sent");

	/* what the signer process keeps */
	/* it closes a request's memfd and reply socket after sending the reply,
	 * so right after the last one they may still be open for a moment */
	{
		int n = count_fds(s->pid);

		for (int i = 0; i < 100 && n != 4; i++) {
			usleep(10000);
			n = count_fds(s->pid);
		}
		is_int(n, 4, "the signer keeps descriptors 0-3 only");
	}
	proc_status_field(s->pid, "NoNewPrivs", value, sizeof value);
	is_str(value, "1", "the signer has no_new_privs");
	proc_status_field(s->pid, "Seccomp", value, sizeof value);
	is_str(value, "2", "the signer runs under a seccomp filter");
	proc_status_field(s->pid, "Uid", value, sizeof value);
	is_str(value, "65534", "the signer runs as nobody, not root");
	proc_status_field(s->pid, "CapEff", value, sizeof value);
	is_str(value, "0000000000000000", "... with no capability");
}

/* TEST_CLIENTS processes share the socket, each signing TEST_REQUESTS
 * messages of its own: every signature must be of the asker's message. */
static void test_concurrent(EVP_PKEY *key, const struct signer *s)
{
	pid_t kids[TEST_CLIENTS];
	int bad = 0;

	for (int k = 0; k < TEST_CLIENTS; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			int wrong = 0;

			for (int r = 0; r < TEST_REQUESTS; r++) {
				char msg[128], sig[SIGN_SIGNATURE_LEN + 1], err[256];
				int len = snprintf(msg, sizeof msg, "client %d request %d %*s", k, r, (r * 37) % 60, "x");

				if (signer_sign(s->fd, msg, (size_t)len, sig, err, sizeof err) < 0 ||
				    !same_signature(key, msg, (size_t)len, sig))
					wrong++;
			}
			_exit(wrong ? 1 : 0);
		}
	}
	for (int k = 0; k < TEST_CLIENTS; k++) {
		int status = -1;

		if (kids[k] < 0 || waitpid(kids[k], &status, 0) != kids[k] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad++;
	}
	is_int(bad, 0, "%d concurrent clients x %d requests: each gets the signature of its own message",
	       TEST_CLIENTS, TEST_REQUESTS);
}

static void test_malformed(EVP_PKEY *key, const struct signer *s)
{
	struct signer_request req = { .magic = SIGNER_MAGIC, .len = 5 };
	struct signer_reply reply;
	char sig[SIGN_SIGNATURE_LEN + 1], err[256];
	int memfd = memfd_create("test", MFD_CLOEXEC), fds[4];

	send_raw(s->fd, &req, sizeof req, NULL, 0);
	send_raw(s->fd, &req, 3, NULL, 0);
	fds[0] = fds[1] = fds[2] = memfd;
	send_raw(s->fd, &req, sizeof req, fds, 3);
	req.magic = 0;
	send_raw(s->fd, &req, sizeof req, fds, 2);
	close(memfd);
	ok(signer_sign(s->fd, "after", 5, sig, err, sizeof err) == 0 && same_signature(key, "after", 5, sig),
	   "requests without descriptors, too short, with three, or with a bad magic are dropped: the signer serves on");

	reply = ask_unsealed(s->fd, 5);
	ok(reply.magic == SIGNER_MAGIC && !reply.ok && strstr(reply.error, "sealed"),
	   "a message in an unsealed memfd is refused (it could change while signed)");
	if (!reply.ok)
		printf("#   %s\n", reply.error);
	reply = ask_unsealed(s->fd, (uint64_t)SIGNER_MESSAGE_MAX + 1);
	ok(reply.magic == SIGNER_MAGIC && !reply.ok && strstr(reply.error, "longer"),
	   "a request claiming more than SIGNER_MESSAGE_MAX is refused");
	ok(signer_sign(s->fd, "still", 5, sig, err, sizeof err) == 0 && same_signature(key, "still", 5, sig),
	   "... and the signer serves on");
}

static void test_death_and_restart(EVP_PKEY *key, struct signer *s)
{
	char sig[SIGN_SIGNATURE_LEN + 1] = "x", err[512];
	EVP_PKEY *other;
	pid_t old = s->pid;
	int status;

	kill(s->pid, SIGKILL);
	status = wait_for(s->pid, 5000);
	ok(status != -1 && WIFSIGNALED(status), "a killed signer is reaped by its parent");
	ok(signer_sign(s->fd, "lost", 4, sig, err, sizeof err) == -1 && *sig == '\0',
	   "signing through a dead signer fails, with no signature");
	printf("#   %s\n", err);

	ok(signer_restart(s, err, sizeof err) == 0 && s->pid != old && s->pid > 0, "signer_restart starts another");
	ok(signer_sign(s->fd, "again", 5, sig, err, sizeof err) == 0 && same_signature(key, "again", 5, sig),
	   "... which signs with the same key");

	/* the key file now holds another key: a restart must refuse it */
	other = sign_key_generate();
	unlink(keypath);
	if (!other || sign_key_save(other, keypath, err, sizeof err) < 0)
		printf("#   cannot write the other key: %s\n", err);
	EVP_PKEY_free(other);
	kill(s->pid, SIGKILL);
	wait_for(s->pid, 5000);
	ok(signer_restart(s, err, sizeof err) == -1 && strstr(err, "now holds the key of worker") && s->fd == -1 &&
	   s->pid == 0, "a restart whose key file holds another key is refused");
	printf("#   %s\n", err);
	ok(signer_sign(s->fd, "none", 4, sig, err, sizeof err) == -1 && strstr(err, "not running"),
	   "... and signing then fails, saying the signer is not running");
}

int main(int argc, char **argv)
{
	char err[512], wid[SIGN_WORKER_ID_LEN + 1], sig[SIGN_SIGNATURE_LEN + 1];
	struct signer s, t;
	EVP_PKEY *key;
	int status, fd;

	if (argc > 1 && strcmp(argv[1], SIGNER_PROCESS_ARG) == 0)
		signer_main(argc, argv);        /* this binary is the signer's image too */
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (the signer reads a root-only key and becomes nobody)\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);   /* as the runner */
	if (!mkdtemp(keydir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(keypath, sizeof keypath, "%s/worker.pem", keydir);
	snprintf(otherpath, sizeof otherpath, "%s/garbage.pem", keydir);
	key = sign_key_generate();
	if (!key || sign_key_save(key, keypath, err, sizeof err) < 0 || sign_worker_id(key, wid) < 0) {
		printf("Bail out! cannot make a key: %s\n", err);
		return 1;
	}

	test_start_and_sign(key, wid, &s);
	test_concurrent(key, &s);
	test_malformed(key, &s);

	/* nobody left to ask: the signer ends by itself */
	{
		pid_t pid = s.pid;

		close(s.fd);
		s.fd = -1;
		status = wait_for(pid, 5000);
		ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "the signer exits (status 0) once every copy of the request socket is closed");
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			printf("#   wait status %d (%s %d)\n", status, WIFSIGNALED(status) ? "signal" : "exit",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		s.pid = 0;
	}

	ok(signer_start(&t, keypath, err, sizeof err) == 0, "a second signer starts");
	test_death_and_restart(key, &t);
	signer_stop(&t);

	ok(signer_start(&t, "/nonexistent/worker.pem", err, sizeof err) == -1 && strstr(err, "/nonexistent/worker.pem"),
	   "a missing key file fails the start, naming it");
	printf("#   %s\n", err);
	fd = open(otherpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)!write(fd, "not a key\n", 10);
		close(fd);
	}
	ok(signer_start(&t, otherpath, err, sizeof err) == -1 && strstr(err, "not a PEM private key"),
	   "a file that is no key fails the start, saying so");
	ok(signer_sign(-1, "x", 1, sig, err, sizeof err) == -1, "no signer, no signature");

	unlink(keypath);
	unlink(otherpath);
	rmdir(keydir);
	EVP_PKEY_free(key);
	return done_testing();
}
