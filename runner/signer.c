/*
 * The signer process and its two clients, the runner (start, restart,
 * stop) and each supervisor (signer_sign); runner/signer.h has the design.
 *
 * The signer's own steps (signer_main), in order:
 *   1. read the key file (as root: it is mode 0600), compute the worker id
 *   2. warm OpenSSL up (its provider and configuration are read from
 *      files on first use, which the filter below would not allow)
 *   3. confine itself: every descriptor but 0-3 closed, uid and gid
 *      nobody (when started as root), non-dumpable, no_new_privs, and a
 *      seccomp filter allowing only the calls signing takes
 *   4. say hello to the runner: the worker id, or why there is none
 *   5. serve requests, one at a time, until the request socket's other
 *      end is closed everywhere
 * Nothing in it logs: errors go back to whoever asked, as sentences.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signer.h"
#include "util.h"

/* Where the signer finds its end of the request socket after the exec. */
#define SIGNER_FD 3

/* Who the signer runs as once the key is read: the kernel's overflow id
 * ("nobody"), which owns nothing. */
#define SIGNER_UID 65534
#define SIGNER_GID 65534

/* How long the runner waits for a new signer to read its key and say so:
 * an exec and one small file, milliseconds; a stuck one fails the start. */
#define SIGNER_HELLO_TIMEOUT_MS 10000

/* How long a supervisor waits for a signature: hashing SIGNER_MESSAGE_MAX
 * bytes twice takes about a second; a signer that does not answer in this
 * is broken, and the result is recorded unsigned. */
#define SIGNER_REPLY_TIMEOUT_MS 10000

/* Descriptors a request may carry (two are expected): room for a few more,
 * so that a request with too many is seen and refused, not truncated. */
#define SIGNER_REQUEST_FDS_MAX 4

/* The memfd must not change while it is signed: no write, no resize. */
#define SIGNER_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static void signer_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ------------------------------------------------------------------ */
/* The signer process.                                                */

/*
 * Step 3's filter: the calls a signer makes once its key is loaded, each
 * group with its reason; anything else kills it (the runner sees it die,
 * says so and starts another). No open, no exec, no socket, no ptrace:
 * a signer that is subverted can sign, and do nothing else.
 */
static const char *const signer_allowed[] = {
	/* requests: wait for one, receive it with its descriptors, answer, let go */
	"poll", "ppoll", "recvmsg", "sendto", "sendmsg", "close",
	/* the message: check the memfd (size, seals) and map it */
	"fstat", "newfstatat", "fcntl", "munmap",
	/* the C library's and OpenSSL's memory; getrandom for OpenSSL's
	 * generator, should anything ask it */
	"brk", "mremap", "madvise", "futex", "getrandom",
	/* time (the vDSO answers it, but not everywhere), ending */
	"clock_gettime", "exit", "exit_group", "rt_sigreturn",
	/* a fatal message on stderr and an abort (assertions); a sanitizer
	 * build's runtime also takes down its signal stack at exit */
	"write", "getpid", "gettid", "tgkill", "rt_sigprocmask", "sigaltstack",
};

static int signer_confine(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = NULL;
	int rc;

	if (close_range(SIGNER_FD + 1, ~0U, 0) < 0)
		return error_format(err, errlen, "cannot close the runner's descriptors: %s", strerror(errno));
	if (geteuid() == 0) {
		/* changing ids clears the capabilities and the parent-death signal:
		 * set again below */
		if (setgroups(0, NULL) < 0 || setresgid(SIGNER_GID, SIGNER_GID, SIGNER_GID) < 0 ||
		    setresuid(SIGNER_UID, SIGNER_UID, SIGNER_UID) < 0)
			return error_format(err, errlen, "cannot become uid %d: %s", SIGNER_UID, strerror(errno));
		if (setuid(0) == 0)
			return error_format(err, errlen, "could become root again after dropping it");
	}
	/* non-dumpable: no process of the same uid may ptrace it or read its memory */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_format(err, errlen, "cannot protect the signer: %s", strerror(errno));

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return error_format(err, errlen, "cannot make the signer's seccomp filter");
	for (size_t i = 0; i < sizeof signer_allowed / sizeof signer_allowed[0]; i++) {
		int nr = seccomp_syscall_resolve_name(signer_allowed[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;       /* not on this architecture: left out, so killed */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			goto fail;
	}
	/* mmap and mprotect, never executable: the message is data */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				   SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				   SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_load(ctx)) < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;

fail:
	seccomp_release(ctx);
	return error_format(err, errlen, "cannot load the signer's seccomp filter: %s", strerror(-rc));
}

/* The memfd of a request: a sealed regular file of exactly len bytes.
 * Mapped read-only into *data (NULL for an empty message). 0, or -1 with err. */
static int signer_map_message(int fd, uint64_t len, void **data, char *err, size_t errlen)
{
	struct stat st;
	int seals;

	*data = NULL;
	if (len > SIGNER_MESSAGE_MAX)
		return error_format(err, errlen, "the message is longer than %d bytes", SIGNER_MESSAGE_MAX);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_format(err, errlen, "the message is not in a regular file");
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & SIGNER_SEALS) != SIGNER_SEALS)
		return error_format(err, errlen, "the message's memfd is not sealed against changes");
	if ((uint64_t)st.st_size != len)
		return error_format(err, errlen, "the message's memfd holds %lld bytes, not %llu",
				    (long long)st.st_size, (unsigned long long)len);
	if (len == 0)
		return 0;
	*data = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (*data == MAP_FAILED) {
		*data = NULL;
		return error_format(err, errlen, "cannot map the message: %s", strerror(errno));
	}
	return 0;
}

/* Sends the reply and lets go of the reply socket. Never blocks: a fresh
 * socketpair has room for one datagram, and a peer gone is no matter. */
static void signer_answer(int *reply_fd, const char *signature, const char *error)
{
	struct signer_reply reply;

	if (*reply_fd < 0)
		return;
	memset(&reply, 0, sizeof reply);
	reply.magic = SIGNER_MAGIC;
	reply.ok = signature != NULL;
	if (signature)
		snprintf(reply.signature, sizeof reply.signature, "%s", signature);
	else
		snprintf(reply.error, sizeof reply.error, "%s", error);
	(void)send(*reply_fd, &reply, sizeof reply, MSG_DONTWAIT | MSG_NOSIGNAL);
	signer_close(reply_fd);
}

/*
 * One request. Returns 1 to go on, 0 when the request socket has no
 * writer left (the runner and its supervisors are gone), -1 when it broke.
 * A malformed request is answered (when it carried a reply socket) and
 * dropped; it never ends the signer.
 */
static int signer_serve_one(int sock, EVP_PKEY *key)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(SIGNER_REQUEST_FDS_MAX * sizeof(int))];
	} control;
	struct signer_request req;
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof req };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	int fds[SIGNER_REQUEST_FDS_MAX], nfds = 0, memfd = -1, reply_fd = -1;
	char err[SIGNER_ERROR_MAX], sig[SIGN_SIGNATURE_LEN + 1];
	void *data = NULL;
	ssize_t n;

	memset(&req, 0, sizeof req);
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && nfds < SIGNER_REQUEST_FDS_MAX; i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (nfds >= 2) {
		memfd = fds[0];
		reply_fd = fds[1];
	}
	for (int i = 2; i < nfds; i++)
		close(fds[i]);
	if (nfds == 1)
		close(fds[0]);

	if (n != (ssize_t)sizeof req || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds != 2 ||
	    req.magic != SIGNER_MAGIC || req.reserved != 0)
		signer_answer(&reply_fd, NULL, "a malformed request (one datagram and two descriptors expected)");
	else if (signer_map_message(memfd, req.len, &data, err, sizeof err) < 0)
		signer_answer(&reply_fd, NULL, err);
	else if (sign_bytes(key, data ? data : "", (size_t)req.len, sig) < 0)
		signer_answer(&reply_fd, NULL, "Ed25519 signing failed");
	else
		signer_answer(&reply_fd, sig, NULL);
	if (data)
		munmap(data, (size_t)req.len);
	signer_close(&memfd);
	signer_close(&reply_fd);
	return 1;
}

static void signer_hello_send(const char *worker_id, const char *error)
{
	struct signer_hello hello;

	memset(&hello, 0, sizeof hello);
	hello.magic = SIGNER_MAGIC;
	hello.ok = worker_id != NULL;
	if (worker_id)
		snprintf(hello.worker_id, sizeof hello.worker_id, "%s", worker_id);
	else
		snprintf(hello.error, sizeof hello.error, "%s", error);
	(void)send(SIGNER_FD, &hello, sizeof hello, MSG_NOSIGNAL);
}

_Noreturn void signer_main(int argc, char **argv)
{
	char err[SIGNER_ERROR_MAX], worker_id[SIGN_WORKER_ID_LEN + 1];
	struct pollfd request = { .fd = SIGNER_FD, .events = POLLIN };
	EVP_PKEY *key;

	prctl(PR_SET_NAME, "sandrun-signer", 0, 0, 0);
	if (argc != 3 || fcntl(SIGNER_FD, F_GETFD) < 0) {
		fprintf(stderr, "%s is started by sandrun-runner, not by hand\n", argv[0]);
		_exit(2);
	}
	/* 1 */
	key = sign_key_load(argv[2], err, sizeof err);
	if (key == NULL || sign_worker_id(key, worker_id) < 0) {
		signer_hello_send(NULL, key ? "cannot compute the worker id" : err);
		_exit(1);
	}
	/* 2 */
	sign_preload(key);
	/* 3 */
	if (signer_confine(err, sizeof err) < 0) {
		signer_hello_send(NULL, err);
		_exit(1);
	}
	/* 4 */
	signer_hello_send(worker_id, NULL);
	/* 5 (_exit, not exit: nothing to flush, and a sanitizer's exit-time
	 * leak check would make calls the filter does not allow) */
	for (;;) {
		int rc;

		if (poll(&request, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		rc = signer_serve_one(SIGNER_FD, key);
		if (rc == 0)
			_exit(0);
		if (rc < 0)
			_exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* The runner's side.                                                 */

/* The forked child: becomes the signer's fresh image. Never returns. */
static _Noreturn void signer_exec(int sock, pid_t runner, const char *key_path)
{
	char *const argv[] = { "sandrun-signer", SIGNER_PROCESS_ARG, (char *)key_path, NULL };
	char *const envp[] = { NULL };
	sigset_t none;
	int null_fd;

	/* dies with the runner from here on, also across the exec */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != runner)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (sock == SIGNER_FD ? fcntl(sock, F_SETFD, 0) < 0 : dup2(sock, SIGNER_FD) < 0)
		_exit(127);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0)
		_exit(127);
	/* stderr stays: a sanitizer's report, should there be one */
	close_range(SIGNER_FD + 1, ~0U, 0);
	execve("/proc/self/exe", argv, envp);
	_exit(127);
}

int signer_start(struct signer *s, const char *key_path, char *err, size_t errlen)
{
	struct pollfd hello_fd;
	struct signer_hello hello;
	int sv[2] = { -1, -1 }, rc;
	pid_t runner = getpid();
	ssize_t n;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	if (strlen(key_path) >= sizeof s->key_path)
		return error_format(err, errlen, "the key file's name is too long");
	snprintf(s->key_path, sizeof s->key_path, "%s", key_path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_format(err, errlen, "cannot make the signer's socket: %s", strerror(errno));
	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		error_format(err, errlen, "cannot start the signer: %s", strerror(errno));
		goto fail;
	}
	if (s->pid == 0)
		signer_exec(sv[1], runner, s->key_path);
	signer_close(&sv[1]);

	hello_fd.fd = sv[0];
	hello_fd.events = POLLIN;
	while ((rc = poll(&hello_fd, 1, SIGNER_HELLO_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (rc <= 0) {
		error_format(err, errlen, "the signer did not start within %d ms", SIGNER_HELLO_TIMEOUT_MS);
		goto fail;
	}
	memset(&hello, 0, sizeof hello);
	while ((n = recv(sv[0], &hello, sizeof hello, 0)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof hello || hello.magic != SIGNER_MAGIC) {
		error_format(err, errlen, "the signer ended before it had read the key");
		goto fail;
	}
	hello.worker_id[sizeof hello.worker_id - 1] = '\0';
	hello.error[sizeof hello.error - 1] = '\0';
	if (!hello.ok) {
		error_format(err, errlen, "%s", hello.error);
		goto fail;
	}
	if (strlen(hello.worker_id) != SIGN_WORKER_ID_LEN) {
		error_format(err, errlen, "the signer sent no worker id");
		goto fail;
	}
	memcpy(s->worker_id, hello.worker_id, sizeof s->worker_id);
	s->fd = sv[0];
	return 0;

fail:
	signer_close(&sv[0]);
	signer_close(&sv[1]);
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	s->pid = 0;
	return -1;
}

int signer_restart(struct signer *s, char *err, size_t errlen)
{
	struct signer fresh;

	signer_close(&s->fd);
	s->pid = 0;
	if (signer_start(&fresh, s->key_path, err, errlen) < 0)
		return -1;
	if (strcmp(fresh.worker_id, s->worker_id) != 0) {
		error_format(err, errlen, "%s now holds the key of worker %s, not %s: restart the runner to "
			     "sign as that worker", s->key_path, fresh.worker_id, s->worker_id);
		signer_stop(&fresh);
		return -1;
	}
	*s = fresh;
	return 0;
}

void signer_stop(struct signer *s)
{
	signer_close(&s->fd);
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	s->pid = 0;
}

/* ------------------------------------------------------------------ */
/* A supervisor's side.                                               */

/* A sealed memfd holding msg, or -1 with err. */
static int signer_message_memfd(const void *msg, size_t len, char *err, size_t errlen)
{
	int fd = memfd_create("sandrun-sign", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0) {
		error_format(err, errlen, "cannot make a memfd for the message: %s", strerror(errno));
		return -1;
	}
	if (fd_write_all(fd, msg, len) < 0) {
		error_format(err, errlen, "cannot write the message: %s", errno ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_ADD_SEALS, SIGNER_SEALS | F_SEAL_SEAL) < 0) {
		error_format(err, errlen, "cannot seal the message: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int signer_sign(int fd, const void *msg, size_t len, char sig[SIGN_SIGNATURE_LEN + 1], char *err,
		size_t errlen)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} control;
	struct signer_request req = { .magic = SIGNER_MAGIC, .len = len };
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof req };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = sizeof control.buf };
	struct signer_reply reply;
	struct pollfd answer;
	struct cmsghdr *c;
	int memfd = -1, reply_sv[2] = { -1, -1 }, rc = -1, polled;
	ssize_t n;

	*sig = '\0';
	if (fd < 0)
		return error_format(err, errlen, "the signer is not running");
	if (len > SIGNER_MESSAGE_MAX)
		return error_format(err, errlen, "the message is longer than %d bytes", SIGNER_MESSAGE_MAX);
	if ((memfd = signer_message_memfd(msg, len, err, errlen)) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, reply_sv) < 0) {
		error_format(err, errlen, "cannot make a reply socket: %s", strerror(errno));
		goto out;
	}
	memset(&control, 0, sizeof control);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), &memfd, sizeof(int));
	memcpy(CMSG_DATA(c) + sizeof(int), &reply_sv[1], sizeof(int));
	while ((n = sendmsg(fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof req) {
		error_format(err, errlen, "cannot reach the signer: %s", n < 0 ? strerror(errno) : "short send");
		goto out;
	}
	/* the signer holds the only other copy of the reply socket now: if it
	 * dies, the reply socket reads EOF */
	signer_close(&reply_sv[1]);
	signer_close(&memfd);

	answer.fd = reply_sv[0];
	answer.events = POLLIN;
	while ((polled = poll(&answer, 1, SIGNER_REPLY_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (polled == 0) {
		error_format(err, errlen, "the signer did not answer within %d ms", SIGNER_REPLY_TIMEOUT_MS);
		goto out;
	}
	memset(&reply, 0, sizeof reply);
	while ((n = recv(reply_sv[0], &reply, sizeof reply, MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof reply || reply.magic != SIGNER_MAGIC) {
		error_format(err, errlen, "the signer ended without an answer");
		goto out;
	}
	reply.signature[sizeof reply.signature - 1] = '\0';
	reply.error[sizeof reply.error - 1] = '\0';
	if (!reply.ok) {
		error_format(err, errlen, "the signer refused: %s", reply.error);
		goto out;
	}
	if (strlen(reply.signature) != SIGN_SIGNATURE_LEN) {
		error_format(err, errlen, "the signer's answer is not a signature");
		goto out;
	}
	memcpy(sig, reply.signature, SIGN_SIGNATURE_LEN + 1);
	rc = 0;
out:
	signer_close(&memfd);
	signer_close(&reply_sv[0]);
	signer_close(&reply_sv[1]);
	return rc;
}
