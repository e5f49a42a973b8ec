/*
 * The agent's side of a session's terminal: the `pty` op and the relay
 * (session_pty.h says what each does; pty_proto.h the messages).
 *
 * Processes, inside the session's sandbox:
 *   agent (real/saved uid agent_uid, effective the session's)
 *     relay   the same uids; holds the master and the channel, nothing else
 *       bash  the session's uid alone; setsid, the slave as its controlling
 *             tty on 0, 1, 2
 * The relay is single-threaded, one poll loop: it never blocks on one
 * side while the other waits (both fds non-blocking), holds at most one
 * input message for the master and one output message for the channel.
 */
#include "session_pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pty_proto.h"

#define PTY_SHELL "/bin/bash"
/* After the shell's exit, what is still in the master goes out for this
 * long at most (a background job that keeps writing does not hold the
 * relay). */
#define PTY_DRAIN_MS 500
/* Before root's 'g', a relay whose shell died waits this long for it. */
#define PTY_GO_WAIT_MS 10000
/* A relay root said is done gets this long to exit by itself. */
#define PTY_REAP_WAIT_MS 1000

static struct {
	pid_t relay;     /* 0: no terminal */
	int pidfd;
} pty = { 0, -1 };

static int64_t pty_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pty_forget(void)
{
	if (pty.pidfd >= 0)
		close(pty.pidfd);
	pty.pidfd = -1;
	pty.relay = 0;
}

void session_pty_stop(void)
{
	if (pty.relay <= 0)
		return;
	kill(pty.relay, SIGKILL);
	waitpid(pty.relay, NULL, 0);
	pty_forget();
}

/* Sends one message, waiting (the channel is non-blocking) until it fits. -1: root is gone. */
static int relay_send_all(int chan, const char *msg, size_t len)
{
	for (;;) {
		struct pollfd p = { chan, POLLOUT, 0 };

		if (send(chan, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -1;
	}
}

static _Noreturn void shell_exec(const char *slave, const char *cwd)
{
	uid_t euid = geteuid();
	char *const argv[] = { PTY_SHELL, "--norc", "--noprofile", "-i", NULL };
	int fd;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* the session's uid alone (session_agent.c, child_reset_signals) */
	if (getuid() != euid && setresuid(euid, euid, euid) < 0)
		_exit(127);
	if (setsid() < 0)
		_exit(127);
	fd = open(slave, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
		_exit(127);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	if (chdir(cwd) < 0 && chdir("/work") < 0 && chdir("/") < 0)
		_exit(127);
	unsetenv("BASH_ENV");
	unsetenv("ENV");
	setenv("TERM", "xterm-256color", 1);
	setenv("PS1", "\\w\\$ ", 1);
	execv(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", PTY_SHELL, strerror(errno));
	_exit(127);
}

/* The relay's loop (session_pty.h); master and chan at fds 3 and 4. */
static _Noreturn void relay_main(int master, int chan, pid_t shell)
{
	static char out[PTY_MSG_MAX], msg[PTY_MSG_MAX + 1];
	char in[PTY_INPUT_MAX], xmsg[PTY_STATUS_MAX + 1];
	size_t out_len = 0, in_len = 0, in_off = 0;
	bool go = false, exited = false, master_dead = false;
	int64_t exit_at = 0;
	int status = 0, shellfd = (int)syscall(SYS_pidfd_open, shell, 0);

	fcntl(master, F_SETFL, O_NONBLOCK);
	fcntl(chan, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p[3] = {
			{ chan, (short)((in_len == in_off ? POLLIN : 0) | (out_len ? POLLOUT : 0)), 0 },
			{ master_dead ? -1 : master,
			  (short)((go && !out_len && !master_dead ? POLLIN : 0) | (in_len > in_off ? POLLOUT : 0)), 0 },
			{ exited ? -1 : shellfd, POLLIN, 0 },
		};
		int wait_ms = -1, n;
		bool master_quiet = true, asked = (p[1].events & POLLIN) != 0;

		/* nothing wanted of an fd: out of the poll, or its HUP would spin us */
		if (!p[0].events)
			p[0].fd = -1;
		if (!p[1].events)
			p[1].fd = -1;

		if (exited)
			wait_ms = go ? 50 : 200;
		n = poll(p, 3, wait_ms);
		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n < 0)
			continue;
		if ((p[0].revents & (POLLHUP | POLLERR)) && !(p[0].revents & POLLIN))
			break;                  /* root is gone: so is the terminal */
		if ((p[0].revents & POLLIN) && in_len == in_off) {
			ssize_t r = recv(chan, msg, sizeof msg, MSG_DONTWAIT);
			struct pty_input i;
			bool g;

			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;          /* root is gone: so is the terminal */
			if (r > 0 && pty_chan_parse(msg, (size_t)r, &g, &i) == 0) {
				if (g) {
					go = true;
				} else if (!go) {
					/* before 'g': a former terminal's, dropped */
				} else if (i.kind == PTY_INPUT_DATA) {
					memcpy(in, i.data, i.len);
					in_len = i.len;
					in_off = 0;
				} else {
					struct winsize ws = { .ws_row = (unsigned short)i.rows,
							      .ws_col = (unsigned short)i.cols };

					ioctl(master, TIOCSWINSZ, &ws);
				}
			}
		}
		if (in_len > in_off && (p[1].revents & POLLOUT)) {
			ssize_t w = write(master, in + in_off, in_len - in_off);

			if (w > 0)
				in_off += (size_t)w;
			if (in_off == in_len)
				in_len = in_off = 0;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = go && !out_len ? read(master, out + 1, PTY_OUTPUT_CHUNK) : -1;

			if (r > 0) {
				out[0] = 'o';
				out_len = 1 + (size_t)r;
				master_quiet = false;
			} else if (r == 0 || (r < 0 && errno == EIO)) {
				master_dead = true;     /* no one holds the slave any more */
				in_len = in_off = 0;
			}
		}
		if (out_len) {
			if (send(chan, out, out_len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
				out_len = 0;
			else if (errno != EAGAIN && errno != EINTR)
				break;
		}
		if (!exited && (p[2].revents & POLLIN) && waitpid(shell, &status, WNOHANG) == shell) {
			exited = true;
			exit_at = pty_now_ms();
		}
		if (exited) {
			int64_t since = pty_now_ms() - exit_at;

			if (!go && since >= PTY_GO_WAIT_MS)
				break;
			if (go && !out_len && (master_dead || (asked && master_quiet) || since >= PTY_DRAIN_MS)) {
				size_t xl = pty_relay_exit_encode(status, xmsg);

				fcntl(chan, F_SETFL, 0);
				relay_send_all(chan, xmsg, xl);
				_exit(0);
			}
		}
	}
	if (!exited) {
		kill(shell, SIGKILL);
		waitpid(shell, NULL, 0);
	}
	_exit(0);
}

int session_pty_open(int chan, unsigned cols, unsigned rows, bool reap, const char *cwd, bool *started,
		     int *status, char *err, size_t errlen)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	char slave[64];
	int master = -1;
	pid_t relay;

	*started = false;
	if (chan < 0) {
		*status = 409;
		snprintf(err, errlen, "this session has no terminal channel");
		return -1;
	}
	if (pty.relay > 0) {
		pid_t r = waitpid(pty.relay, NULL, WNOHANG);

		if (r == 0 && reap) {
			struct pollfd p = { pty.pidfd, POLLIN, 0 };

			if (pty.pidfd < 0 || poll(&p, 1, PTY_REAP_WAIT_MS) <= 0)
				kill(pty.relay, SIGKILL);
			r = waitpid(pty.relay, NULL, 0);
		}
		if (r == 0)
			return 0;               /* it runs: the caller attaches to it */
		pty_forget();
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, slave, sizeof slave) != 0
	    || ioctl(master, TIOCSWINSZ, &ws) < 0) {
		*status = 500;
		snprintf(err, errlen, "cannot make a terminal: %s", strerror(errno));
		if (master >= 0)
			close(master);
		return -1;
	}
	relay = fork();
	if (relay == 0) {
		pid_t shell;

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, "sandrun-pty", 0, 0, 0);
		signal(SIGPIPE, SIG_IGN);
		/* the master and the channel at 3 and 4, /dev/null on 0..2, nothing else of the agent's */
		if (dup3(master, 10, 0) < 0 || dup3(chan, 11, 0) < 0 || dup2(10, 3) < 0 || dup2(11, 4) < 0)
			_exit(1);
		{
			int null = open("/dev/null", O_RDWR);

			if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
				_exit(1);
		}
		close_range(5, ~0U, 0);
		shell = fork();
		if (shell == 0) {
			close(3);
			close(4);
			shell_exec(slave, cwd);
		}
		if (shell < 0)
			_exit(1);
		relay_main(3, 4, shell);
	}
	close(master);
	if (relay < 0) {
		*status = 500;
		snprintf(err, errlen, "cannot start the terminal: %s", strerror(errno));
		return -1;
	}
	pty.relay = relay;
	pty.pidfd = (int)syscall(SYS_pidfd_open, relay, 0);
	*started = true;
	return 0;
}
