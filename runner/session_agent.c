/*
 * The session agent: runs inside a session's sandbox as the session's
 * user, in place of a job's command, and serves the root supervisor's
 * requests (runner/session_proto.h) over two fds, one at a time.
 * session_agent_serve() (session_agent.h) is called in-process by the
 * sandbox's job process; sandrun-session-agent (session_agent_main.c) is
 * the same over stdin/stdout, for tests. Nothing here exits the process
 * or keeps a global symbol but the two entry points; the only fds it
 * relies on are the two it is given (and 2 for nothing but diagnostics).
 *
 * File ops (write, read, delete, unpack, archive) are session_files.c;
 * init exports its env into the agent's own environment, which every
 * shell, interpreter and command started afterwards inherits: it is
 * refused (409) once the first exec ran.
 *
 * Streamed exec ("stream": true): while the call runs, what its stdout
 * and stderr produced since the last event goes out as an event frame
 * (session_proto.h) at most every SESSION_STREAM_INTERVAL_MS per stream,
 * or as soon as SESSION_STREAM_CHUNK bytes wait; an event ends at a
 * UTF-8 character boundary (the rest of a character waits for the next).
 * The final response then has "streamed": true and empty stdout/stderr:
 * its bytes were all in the events.
 *
 * Shell text runs in ONE persistent `bash --norc --noprofile` (started
 * with `set -m`, so each foreground pipeline has a process group of its
 * own). Per call the agent writes the command to a file and two FIFOs
 * (stdout, stderr) in its private directory, opens their read ends, and
 * sends bash one wrapper line:
 *
 *   { . CMDFILE; } <IN >OUT 2>ERR 3>&- ; builtin printf '%s %d ' NONCE $? >&3; builtin pwd >&3; builtin printf '\0' >&3
 *
 * fd 3 of bash is the marker pipe to the agent; the command runs with fd
 * 3 closed, and the marker carries a fresh 128-bit nonce, so the command
 * cannot end its call early by printing something. The agent reads both
 * FIFOs while it waits (output past max_output is read and dropped, so
 * the command never blocks), and when the marker comes drains what is
 * buffered. The FIFOs' read ends then go to a drain set, read and
 * dropped while the agent idles, until their last writer (a background
 * job) closes them: a background writer neither leaks into the next call
 * nor blocks, and nothing fills the disk.
 *
 * Timeout: the process groups of bash's children born during the call
 * get SIGKILL (the shell and older background jobs do not; a background
 * job the timed-out call started is killed with it). If no
 * marker follows within a grace period, bash itself is busy (a builtin
 * loop): it is killed and started again in the last known cwd, and the
 * response says shell_restarted. Same when the command ran `exit`.
 *
 * python3 code runs in ONE persistent interpreter running the driver
 * below (code blocks over fd 3, marker over fd 4, exec() in one globals
 * dict); timeout kills the children the cell started (their process
 * groups, or them alone when they share the interpreter's) and sends the
 * interpreter SIGINT, then SIGKILL and a restart. Other
 * languages and argv commands are fork/exec'd with pipes, in their own
 * process group (killed on timeout), in the shell's cwd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session_agent.h"
#include "session_files.h"
#include "session_proto.h"
#include "session_pty.h"

#define BASH_PATH "/bin/bash"
#define PYTHON_PATH "/usr/bin/python3"
/* How long a killed command's shell gets to print its marker before the
 * shell itself is taken as stuck. */
#define GRACE_MS 1000
/* Old calls' FIFOs still held by background jobs; past this, the oldest is
 * closed (its writers get EPIPE). */
#define DRAIN_MAX 64
#define MARKER_MAX (SESSION_PATH_MAX + 128)

static const char python_driver[] =
	"import os, sys, signal, traceback\n"
	"def _sr_read(n):\n"
	"    b = bytearray()\n"
	"    while len(b) < n:\n"
	"        c = os.read(3, n - len(b))\n"
	"        if not c:\n"
	"            os._exit(0)\n"
	"        b += c\n"
	"    return bytes(b)\n"
	"def _sr_line():\n"
	"    b = bytearray()\n"
	"    while True:\n"
	"        c = _sr_read(1)\n"
	"        if c == b'\\n':\n"
	"            return b.decode()\n"
	"        b += c\n"
	"def _sr_main():\n"
	"    os.set_inheritable(3, False)\n"
	"    os.set_inheritable(4, False)\n"
	"    g = {'__name__': '__main__', '__builtins__': __builtins__}\n"
	"    null = os.open('/dev/null', os.O_RDWR)\n"
	"    while True:\n"
	"        signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
	"        nonce, outp, errp, inp, n = _sr_line().split(' ')\n"
	"        code = _sr_read(int(n)).decode('utf-8', 'replace')\n"
	"        for fd, p, fl in ((0, inp, os.O_RDONLY), (1, outp, os.O_WRONLY), (2, errp, os.O_WRONLY)):\n"
	"            f = os.open(p, fl)\n"
	"            os.dup2(f, fd)\n"
	"            os.close(f)\n"
	"        sys.stdin = open(0, 'r', closefd=False)\n"
	"        rc = 0\n"
	"        try:\n"
	"            signal.signal(signal.SIGINT, signal.default_int_handler)\n"
	"            exec(compile(code, '<cell>', 'exec'), g)\n"
	"        except SystemExit as e:\n"
	"            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)\n"
	"            if not isinstance(e.code, int) and e.code is not None:\n"
	"                print(e.code, file=sys.stderr)\n"
	"        except BaseException:\n"
	"            traceback.print_exc()\n"
	"            rc = 1\n"
	"        signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
	"        for s in (sys.stdout, sys.stderr):\n"
	"            try:\n"
	"                s.flush()\n"
	"            except BaseException:\n"
	"                pass\n"
	"        for fd in (0, 1, 2):\n"
	"            os.dup2(null, fd)\n"
	"        try:\n"
	"            cwd = os.getcwd()\n"
	"        except OSError:\n"
	"            cwd = '/'\n"
	"        os.write(4, ('%s %d %s\\0' % (nonce, rc & 255, cwd)).encode('utf-8', 'surrogateescape'))\n"
	"_sr_main()\n";

/* A persistent shell or interpreter. */
struct child {
	pid_t pid;          /* 0: not running */
	int pidfd;          /* readable when it exits */
	int in_fd;          /* its input: wrapper lines or code blocks */
	int marker_fd;      /* its markers */
};

static struct {
	struct child shell, python;
	char dir[64];       /* private directory for FIFOs and files */
	unsigned long seq;
	char cwd[SESSION_PATH_MAX + 1];        /* the shell's, after its last call */
	char python_cwd[SESSION_PATH_MAX + 1]; /* the interpreter's */
	int drain[DRAIN_MAX];
	size_t ndrain;
	int in_fd, out_fd;   /* the supervisor's requests, our answers */
	int pty_fd;          /* the terminal's channel (session_pty.h), or -1 */
	int out_broken;      /* the answers cannot be written: stop serving */
	struct session_roots roots;
	unsigned long execs; /* exec calls served (init is refused after the first) */
	int64_t stream_id;   /* the streamed exec's id; -1: not streaming */
} agent;

static void send_frame(const char *body, size_t len);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes from fd; 0, or -1 on EOF or error. */
static int read_all(int fd, void *data, size_t len)
{
	char *p = data;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- the drain set ---- */

static void drain_add(int fd)
{
	if (fd < 0)
		return;
	if (agent.ndrain == DRAIN_MAX) {
		close(agent.drain[0]);
		memmove(agent.drain, agent.drain + 1, (DRAIN_MAX - 1) * sizeof agent.drain[0]);
		agent.ndrain--;
	}
	agent.drain[agent.ndrain++] = fd;
}

/* Reads and drops what the drain fds in pfd[0..n) have; closes those at EOF. */
static void drain_service(struct pollfd *pfd, size_t n)
{
	char junk[65536];
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		int keep = 1;
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(pfd[i].fd, junk, sizeof junk);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				keep = 0;
		}
		if (keep)
			agent.drain[j++] = pfd[i].fd;
		else
			close(pfd[i].fd);
	}
	agent.ndrain = j;
}

/* ---- one call's output ---- */

struct stream {
	int fd;
	char *buf;
	size_t len, max;
	int truncated, eof;
	int which;          /* 1 stdout, 2 stderr (events) */
	size_t sent;        /* streamed: buf[0..sent) went out in events */
	int64_t last_event;
};

static int stream_init(struct stream *s, int fd, size_t max, int which)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->max = max;
	s->which = which;
	s->buf = malloc(max + 1);
	return s->buf ? 0 : -1;
}

/* How much of p[0..n) ends at a UTF-8 character boundary: an incomplete
 * sequence at the end is held back (at most 3 bytes). */
static size_t utf8_whole(const char *p, size_t n)
{
	size_t i = n, back = 0;

	while (i > 0 && back < 4) {
		unsigned char c = (unsigned char)p[i - 1];
		if ((c & 0xc0) != 0x80) {
			size_t need = c < 0xc0 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			return n - (i - 1) < need ? i - 1 : n;
		}
		i--;
		back++;
	}
	return n;
}

/* Streamed exec: sends what s has that was not sent, when it is time
 * (or all of it with force), in events of at most SESSION_STREAM_CHUNK
 * bytes. */
static void stream_event(struct stream *s, int force)
{
	int64_t now = now_ms();

	while (agent.stream_id >= 0 && s->len > s->sent && !agent.out_broken) {
		size_t pending = s->len - s->sent, n, len;
		char *body;
		if (!force && pending < SESSION_STREAM_CHUNK && now - s->last_event < SESSION_STREAM_INTERVAL_MS)
			return;
		n = pending < SESSION_STREAM_CHUNK ? pending : SESSION_STREAM_CHUNK;
		/* a character cut at the end waits for its rest (unless this is all there is) */
		if (!(force && n == pending))
			n = utf8_whole(s->buf + s->sent, n);
		if (n == 0)
			return; /* only the start of a character so far */
		body = session_response_encode_event(agent.stream_id, s->which, s->buf + s->sent, n, &len);
		if (body == NULL)
			return; /* out of memory: the bytes go with the next event */
		send_frame(body, len);
		free(body);
		s->sent += n;
		s->last_event = now;
	}
}

/* Streamed exec: how long poll may sleep before an event is due. */
static int stream_poll_ms(const struct stream *s, int ms)
{
	int64_t due;

	if (agent.stream_id < 0 || s->len == s->sent)
		return ms;
	due = s->last_event + SESSION_STREAM_INTERVAL_MS - now_ms();
	if (due < 1)
		due = 1;
	return due < ms ? (int)due : ms;
}

/* Reads what is there (non-blocking fd); past max, reads and drops. */
static void stream_read(struct stream *s)
{
	char junk[65536];

	while (!s->eof) {
		size_t room = s->max - s->len;
		ssize_t n = room ? read(s->fd, s->buf + s->len, room) : read(s->fd, junk, sizeof junk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN */
		if (n == 0) {
			s->eof = 1;
			return;
		}
		if (room)
			s->len += (size_t)n;
		else
			s->truncated = 1;
	}
}

struct marker {
	char nonce[33];
	char buf[MARKER_MAX];
	size_t len;
	int done, rc;
	char cwd[SESSION_PATH_MAX + 1];
};

static void marker_init(struct marker *m)
{
	unsigned char r[16];
	size_t got = 0;

	memset(m, 0, sizeof *m);
	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(m->nonce + 2 * i, 3, "%02x", r[i]);
}

/* Reads the marker fd; sets done when "NONCE rc cwd\0" has come. Anything
 * without the nonce is dropped. Returns -1 at EOF (the child died). */
static int marker_read(struct marker *m, int fd)
{
	for (;;) {
		ssize_t n = read(fd, m->buf + m->len, sizeof m->buf - 1 - m->len);
		char *nul, *p;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 0;
		if (n == 0)
			return -1;
		m->len += (size_t)n;
		m->buf[m->len] = '\0';
		while ((nul = memchr(m->buf, '\0', m->len)) != NULL) {
			size_t nlen = strlen(m->nonce);
			if (strncmp(m->buf, m->nonce, nlen) == 0 && m->buf[nlen] == ' ') {
				p = m->buf + nlen + 1;
				m->rc = (int)strtol(p, &p, 10);
				if (*p == ' ')
					p++;
				snprintf(m->cwd, sizeof m->cwd, "%s", p);
				m->cwd[strcspn(m->cwd, "\n")] = '\0'; /* pwd's newline */
				m->done = 1;
				return 0;
			}
			m->len -= (size_t)(nul + 1 - m->buf);
			memmove(m->buf, nul + 1, m->len);
		}
		if (m->len == sizeof m->buf - 1)
			m->len = 0; /* garbage without NUL: drop it */
	}
}

enum wait_end { END_MARKER, END_EXITED, END_TIMEOUT };

/* Reads out and err (and services the drain set) until the marker is
 * whole, pidfd is readable, or the deadline. */
static enum wait_end capture_wait(struct stream *out, struct stream *err, struct marker *m, int marker_fd, int pidfd,
				  int64_t deadline)
{
	struct pollfd pfd[4 + DRAIN_MAX];

	for (;;) {
		size_t n = 0, base, i;
		int64_t left = deadline - now_ms();
		int pidfd_at = -1, marker_at = -1, wait_ms;

		if (left <= 0)
			return END_TIMEOUT;
		wait_ms = stream_poll_ms(err, stream_poll_ms(out, left > 1000 ? 1000 : (int)left));
		pfd[n++] = (struct pollfd){ .fd = out->eof ? -1 : out->fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = err->eof ? -1 : err->fd, .events = POLLIN };
		if (m != NULL) {
			marker_at = (int)n;
			pfd[n++] = (struct pollfd){ .fd = marker_fd, .events = POLLIN };
		}
		pidfd_at = (int)n;
		pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		base = n;
		for (i = 0; i < agent.ndrain; i++)
			pfd[n++] = (struct pollfd){ .fd = agent.drain[i], .events = POLLIN };
		if (poll(pfd, n, wait_ms) < 0 && errno != EINTR)
			return END_TIMEOUT;
		if (pfd[0].revents)
			stream_read(out);
		if (pfd[1].revents)
			stream_read(err);
		stream_event(out, 0);
		stream_event(err, 0);
		drain_service(pfd + base, n - base);
		if (marker_at >= 0 && pfd[marker_at].revents) {
			if (marker_read(m, marker_fd) < 0)
				return END_EXITED;
			if (m->done)
				return END_MARKER;
		}
		if (pfd[pidfd_at].revents)
			return END_EXITED;
		if (m == NULL && pidfd < 0 && out->eof && err->eof)
			return END_EXITED;
	}
}

/* ---- children ---- */

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * In a child, before it runs anything of the session's: signals back to
 * their defaults, and the session's uid alone. Inside the sandbox the
 * agent keeps a real and saved uid of its own with the session's as its
 * effective one (runner/sandbox.h, agent_uid), so that no process of the
 * session can signal or trace it; its children drop that uid for good.
 * Outside a sandbox (the tests) the three are one, and nothing changes.
 */
static void child_reset_signals(void)
{
	uid_t euid = geteuid();

	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (getuid() != euid && setresuid(euid, euid, euid) < 0)
		_exit(127);
}

static void child_stop(struct child *c)
{
	if (c->pid <= 0)
		return;
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->pidfd);
	close(c->in_fd);
	close(c->marker_fd);
	c->pid = 0;
}

/* Starts a persistent child: `in` on fd in_at, marker on fd marker_at,
 * /dev/null on the rest of 0..2, own session. Returns 0 or -1. */
static int child_start(struct child *c, char *const argv[], int in_at, int marker_at)
{
	int inp[2], mark[2];
	pid_t pid;

	if (pipe2(inp, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(mark, O_CLOEXEC) < 0) {
		close(inp[0]), close(inp[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		/* first out of the way of 0..4, so no dup2 below clobbers a source */
		int in_hi = fcntl(inp[0], F_DUPFD_CLOEXEC, 10), mark_hi = fcntl(mark[1], F_DUPFD_CLOEXEC, 10);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC), null_hi = fcntl(null, F_DUPFD_CLOEXEC, 10);
		child_reset_signals();
		setsid();
		if (in_hi < 0 || mark_hi < 0 || null_hi < 0 || dup2(null_hi, 0) < 0 || dup2(null_hi, 1) < 0
		    || dup2(null_hi, 2) < 0 || dup2(in_hi, in_at) < 0 || dup2(mark_hi, marker_at) < 0)
			_exit(127);
		if (chdir(agent.cwd) < 0 && chdir("/") < 0)
			_exit(127);
		unsetenv("BASH_ENV");
		unsetenv("ENV");
		execv(argv[0], argv);
		_exit(127);
	}
	close(inp[0]);
	close(mark[1]);
	if (pid < 0) {
		close(inp[1]), close(mark[0]);
		return -1;
	}
	c->pid = pid;
	c->in_fd = inp[1];
	c->marker_fd = mark[0];
	fcntl(c->marker_fd, F_SETFL, O_NONBLOCK);
	c->pidfd = pidfd_open_(pid);
	if (c->pidfd < 0) {
		child_stop(c);
		return -1;
	}
	return 0;
}

static int shell_start(void)
{
	static char *const argv[] = { BASH_PATH, "--norc", "--noprofile", NULL };
	/* bash's commands on fd 0, its marker on fd 3 */
	if (child_start(&agent.shell, argv, 0, 3) < 0)
		return -1;
	if (write_all(agent.shell.in_fd, "set -m\n", 7) < 0) {
		child_stop(&agent.shell);
		return -1;
	}
	return 0;
}

static int python_start(void)
{
	static char *const argv[] = { PYTHON_PATH, "-u", "-c", (char *)python_driver, NULL };
	return child_start(&agent.python, argv, 3, 4);
}

/* Returns the status of a child that died (reaped), and forgets it. */
static int child_reap(struct child *c, int *sig)
{
	int status = 0;

	waitpid(c->pid, &status, 0);
	close(c->pidfd);
	close(c->in_fd);
	close(c->marker_fd);
	c->pid = 0;
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Children of ppid now (pids, up to max). */
static size_t children_of(pid_t ppid, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		char path[300], buf[512], *p;
		int fd;
		ssize_t r;
		long pp;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		p = strrchr(buf, ')'); /* the command name may hold anything */
		if (p == NULL || sscanf(p + 1, " %*c %ld", &pp) != 1 || pp != ppid)
			continue;
		out[n++] = (pid_t)atol(e->d_name);
	}
	closedir(d);
	return n;
}

#define CHILDREN_MAX 4096

/* SIGKILLs the process group of each child of ppid not in before[0..nb). */
static void kill_new_groups(pid_t ppid, const pid_t *before, size_t nb)
{
	static pid_t now[CHILDREN_MAX];
	size_t n = children_of(ppid, now, CHILDREN_MAX), i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nb && before[j] != now[i]; j++)
			;
		if (j < nb)
			continue;
		pid_t pg = getpgid(now[i]);
		if (pg > 0 && pg != getpgid(ppid))
			kill(-pg, SIGKILL);
		kill(now[i], SIGKILL);
	}
}

/* ---- per-call files ---- */

struct call_files {
	char cmd[128], out[128], err[128], in[128];
	int have_cmd, have_out, have_err, have_in;
};

static int ensure_dir(void)
{
	if (mkdir(agent.dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc;

	if (fd < 0)
		return -1;
	rc = write_all(fd, data, len);
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Makes the call's FIFOs and opens their read ends (non-blocking). */
static int call_fifos(struct call_files *f, int *out_fd, int *err_fd)
{
	snprintf(f->out, sizeof f->out, "%s/o.%lu", agent.dir, agent.seq);
	snprintf(f->err, sizeof f->err, "%s/e.%lu", agent.dir, agent.seq);
	if (mkfifo(f->out, 0600) < 0)
		return -1;
	f->have_out = 1;
	if (mkfifo(f->err, 0600) < 0)
		return -1;
	f->have_err = 1;
	*out_fd = open(f->out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	*err_fd = open(f->err, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return *out_fd < 0 || *err_fd < 0 ? -1 : 0;
}

static int call_stdin(struct call_files *f, const struct session_request *req)
{
	if (req->stdin_data == NULL) {
		snprintf(f->in, sizeof f->in, "/dev/null");
		return 0;
	}
	snprintf(f->in, sizeof f->in, "%s/i.%lu", agent.dir, agent.seq);
	if (write_file(f->in, req->stdin_data, req->stdin_len) < 0)
		return -1;
	f->have_in = 1;
	return 0;
}

static void call_files_remove(struct call_files *f)
{
	if (f->have_cmd)
		unlink(f->cmd);
	if (f->have_out)
		unlink(f->out);
	if (f->have_err)
		unlink(f->err);
	if (f->have_in)
		unlink(f->in);
}

static void finish_streams(struct stream *out, struct stream *err, struct session_result *r)
{
	stream_read(out);
	stream_read(err);
	r->out = out->buf;
	r->out_len = out->len;
	r->err = err->buf;
	r->err_len = err->len;
	if (agent.stream_id >= 0) {
		stream_event(out, 1);
		stream_event(err, 1);
		r->out_len = r->err_len = 0; /* all went out in events */
		r->streamed = 1;
	}
	r->truncated = out->truncated || err->truncated;
	if (!out->eof)
		drain_add(out->fd);
	else
		close(out->fd);
	if (!err->eof)
		drain_add(err->fd);
	else
		close(err->fd);
}

/* ---- the three ways to run ---- */

/* Runs through a persistent child (bash or python) whose input takes
 * `msg`. Fills r; returns 0, or -1 with errbuf set. */
static int run_persistent(struct child *c, int is_shell, const struct session_request *req, struct call_files *f,
			  struct marker *m, const char *msg, size_t msglen, struct stream *out, struct stream *err,
			  struct session_result *r)
{
	static pid_t before[CHILDREN_MAX];
	size_t nb = children_of(c->pid, before, CHILDREN_MAX);
	int64_t start = now_ms(), deadline = start + req->timeout_ms;
	enum wait_end end;
	int sig = 0;

	(void)f;
	if (write_all(c->in_fd, msg, msglen) < 0)
		end = END_EXITED;
	else
		end = capture_wait(out, err, m, c->marker_fd, c->pidfd, deadline);
	if (end == END_TIMEOUT) {
		r->timed_out = 1;
		kill_new_groups(c->pid, before, nb);
		if (!is_shell)
			kill(c->pid, SIGINT);
		end = capture_wait(out, err, m, c->marker_fd, c->pidfd, now_ms() + GRACE_MS);
	}
	if (end == END_MARKER) {
		r->exit_code = m->rc;
		if (r->timed_out)
			r->signal = is_shell ? SIGKILL : SIGINT;
		if (m->cwd[0] == '/' && is_shell)
			snprintf(agent.cwd, sizeof agent.cwd, "%s", m->cwd);
		if (m->cwd[0] == '/' && !is_shell)
			snprintf(agent.python_cwd, sizeof agent.python_cwd, "%s", m->cwd);
	} else {
		/* it exited (`exit`, a crash) or is stuck: start a fresh one */
		if (end == END_TIMEOUT) {
			child_stop(c);
			r->exit_code = -1;
			r->signal = SIGKILL;
		} else {
			r->exit_code = child_reap(c, &sig);
			r->signal = sig;
		}
		r->shell_restarted = 1;
		if (is_shell)
			shell_start();
		/* python starts again on its next use */
	}
	r->duration_ms = now_ms() - start;
	finish_streams(out, err, r);
	return 0;
}

/* A persistent child that died between calls (a `kill -9 -1` from the
 * session's terminal) is reaped, so the call starts a fresh one instead
 * of being lost on the dead one. */
static void child_reap_if_dead(struct child *c)
{
	struct pollfd p = { c->pidfd, POLLIN, 0 };
	int sig;

	if (c->pid != 0 && poll(&p, 1, 0) == 1)
		child_reap(c, &sig);
}

static int run_shell(const struct session_request *req, struct session_result *r, char *errbuf, size_t errlen)
{
	struct call_files f = { 0 };
	struct stream out, err;
	struct marker m;
	char line[1024];
	int out_fd = -1, err_fd = -1, n, rc = -1;

	child_reap_if_dead(&agent.shell);
	if (agent.shell.pid == 0 && shell_start() < 0) {
		snprintf(errbuf, errlen, "cannot start %s: %s", BASH_PATH, strerror(errno));
		return -1;
	}
	snprintf(f.cmd, sizeof f.cmd, "%s/c.%lu", agent.dir, agent.seq);
	if (write_file(f.cmd, req->command, strlen(req->command)) < 0)
		goto io_fail;
	f.have_cmd = 1;
	if (call_stdin(&f, req) < 0 || call_fifos(&f, &out_fd, &err_fd) < 0)
		goto io_fail;
	marker_init(&m);
	n = snprintf(line, sizeof line,
		     "{ . %s; } <%s >%s 2>%s 3>&- ; builtin printf '%%s %%d ' %s $? >&3; builtin pwd >&3; builtin printf '\\0' >&3\n",
		     f.cmd, f.in, f.out, f.err, m.nonce);
	if (stream_init(&out, out_fd, req->max_output, 1) < 0 || stream_init(&err, err_fd, req->max_output, 2) < 0) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	out_fd = err_fd = -1;
	rc = run_persistent(&agent.shell, 1, req, &f, &m, line, (size_t)n, &out, &err, r);
	call_files_remove(&f);
	return rc;
io_fail:
	snprintf(errbuf, errlen, "cannot prepare the call's files in %s: %s", agent.dir, strerror(errno));
fail:
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	call_files_remove(&f);
	return -1;
}

static int run_python(const struct session_request *req, struct session_result *r, char *errbuf, size_t errlen)
{
	struct call_files f = { 0 };
	struct stream out, err;
	struct marker m;
	char hdr[600], *msg = NULL;
	int out_fd = -1, err_fd = -1, n, rc = -1;

	child_reap_if_dead(&agent.python);
	if (agent.python.pid == 0 && python_start() < 0) {
		snprintf(errbuf, errlen, "cannot start %s: %s", PYTHON_PATH, strerror(errno));
		return -1;
	}
	if (call_stdin(&f, req) < 0 || call_fifos(&f, &out_fd, &err_fd) < 0) {
		snprintf(errbuf, errlen, "cannot prepare the call's files in %s: %s", agent.dir, strerror(errno));
		goto fail;
	}
	marker_init(&m);
	n = snprintf(hdr, sizeof hdr, "%s %s %s %s %zu\n", m.nonce, f.out, f.err, f.in, req->code_len);
	msg = malloc((size_t)n + req->code_len);
	if (msg == NULL || stream_init(&out, out_fd, req->max_output, 1) < 0
	    || stream_init(&err, err_fd, req->max_output, 2) < 0) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	memcpy(msg, hdr, (size_t)n);
	memcpy(msg + n, req->code, req->code_len);
	out_fd = err_fd = -1;
	rc = run_persistent(&agent.python, 0, req, &f, &m, msg, (size_t)n + req->code_len, &out, &err, r);
	if (r->timed_out && !r->shell_restarted)
		r->exit_code = r->exit_code ? r->exit_code : 1;
	free(msg);
	call_files_remove(&f);
	return rc;
fail:
	free(msg);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	call_files_remove(&f);
	return -1;
}

static int run_argv(char *const argv[], const struct session_request *req, struct session_result *r, char *errbuf,
		    size_t errlen)
{
	struct call_files f = { 0 };
	struct stream out, err;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, in_fd = -1, pidfd = -1, status = 0;
	int64_t start = now_ms();
	enum wait_end end;
	pid_t pid;

	if (call_stdin(&f, req) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(errbuf, errlen, "cannot prepare the call: %s", strerror(errno));
		goto fail;
	}
	in_fd = open(f.in, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0 || stream_init(&out, outp[0], req->max_output, 1) < 0
	    || stream_init(&err, errp[0], req->max_output, 2) < 0) {
		snprintf(errbuf, errlen, "cannot prepare the call: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid == 0) {
		child_reset_signals();
		setpgid(0, 0);
		if (dup2(in_fd, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(127);
		if (chdir(req->cwd ? req->cwd : agent.cwd) < 0) {
			dprintf(2, "cannot enter %s: %s\n", req->cwd ? req->cwd : agent.cwd, strerror(errno));
			_exit(127);
		}
		if (req->envp)
			for (size_t i = 0; req->envp[i]; i++)
				putenv(req->envp[i]);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	close(in_fd);
	in_fd = -1;
	if (pid < 0) {
		snprintf(errbuf, errlen, "fork: %s", strerror(errno));
		close(outp[0]), close(errp[0]);
		free(out.buf), free(err.buf);
		call_files_remove(&f);
		return -1;
	}
	setpgid(pid, pid); /* also here: no race with the kill below */
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	pidfd = pidfd_open_(pid);
	end = capture_wait(&out, &err, NULL, -1, pidfd, start + req->timeout_ms);
	if (end == END_TIMEOUT) {
		r->timed_out = 1;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
	/* what it wrote before it exited is in the pipes: finish_streams reads it */
	if (pidfd >= 0)
		close(pidfd);
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	r->duration_ms = now_ms() - start;
	finish_streams(&out, &err, r);
	call_files_remove(&f);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (in_fd >= 0)
		close(in_fd);
	call_files_remove(&f);
	return -1;
}

/* Other languages: the code as a file, run by its interpreter. */
static int run_code_file(const struct session_request *req, struct session_result *r, char *errbuf, size_t errlen)
{
	static const struct {
		const char *language, *interpreter, *ext;
	} langs[] = { { "bash", BASH_PATH, "sh" }, { "sh", "/bin/sh", "sh" }, { "node", "node", "js" },
		      { "python3-script", PYTHON_PATH, "py" } };
	char path[128];
	char *argv[3];
	size_t i;
	int rc;

	for (i = 0; i < sizeof langs / sizeof langs[0] && strcmp(langs[i].language, req->language) != 0; i++)
		;
	if (i == sizeof langs / sizeof langs[0]) {
		snprintf(errbuf, errlen, "language '%s' is not one of python3, python3-script, bash, sh, node",
			 req->language);
		return -1;
	}
	snprintf(path, sizeof path, "%s/code.%lu.%s", agent.dir, agent.seq, langs[i].ext);
	if (write_file(path, req->code, req->code_len) < 0) {
		snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	argv[0] = (char *)langs[i].interpreter;
	argv[1] = path;
	argv[2] = NULL;
	rc = run_argv(argv, req, r, errbuf, errlen);
	unlink(path);
	return rc;
}

/* ---- frames ---- */

static void send_bytes(const void *data, size_t len)
{
	if (agent.out_broken || write_all(agent.out_fd, data, len) < 0)
		agent.out_broken = 1; /* the supervisor is gone: the loop ends */
}

static void send_frame(const char *body, size_t len)
{
	unsigned char hdr[4];

	session_frame_header((uint32_t)len, hdr);
	send_bytes(hdr, 4);
	send_bytes(body, len);
}

static void send_failure(int64_t id, int status, const char *reason, const char *msg)
{
	size_t len;
	char *body = session_response_encode_failure(id, status, reason, msg, &len);

	if (body == NULL) {
		/* out of memory: a fixed answer keeps the supervisor in step */
		static const char oom[] = "{\"id\":null,\"ok\":false,\"status\":500,\"error\":\"out of memory\",\"reason\":\"internal\"}";
		send_frame(oom, sizeof oom - 1);
		return;
	}
	send_frame(body, len);
	free(body);
}

static void send_error(int64_t id, const char *msg)
{
	send_failure(id, 400, "bad_request", msg);
}

/* Reads and drops n bytes of the input; 0, or -1 at its end. */
static int skip_input(uint32_t n)
{
	char junk[65536];

	while (n > 0) {
		size_t k = n < sizeof junk ? n : sizeof junk;
		if (read_all(agent.in_fd, junk, k) < 0)
			return -1;
		n -= (uint32_t)k;
	}
	return 0;
}

/* The raw frame a request announced: 0 with *n its length (the bytes are
 * next on the input), 1 when it was refused and skipped (answered), -1
 * when the input ended. */
static int binary_header(const struct session_request *req, uint32_t *n)
{
	unsigned char hdr[4];
	char err[256];

	if (read_all(agent.in_fd, hdr, 4) < 0)
		return -1;
	if (session_binary_length(hdr, (uint32_t)req->binary, n, err, sizeof err) == 0)
		return 0;
	/* answered first: the supervisor need not wait for the skipping */
	send_failure(req->id, *n > SESSION_BINARY_MAX ? 413 : 400, *n > SESSION_BINARY_MAX ? "too_large" : "bad_request",
		     err);
	return skip_input(*n) < 0 ? -1 : 1;
}

/* Sends a files op's reply: {id, ok: true, fields..., binary?} + raw frame. */
static void send_files_reply(int64_t id, struct session_files_reply *fr)
{
	unsigned char hdr[4];
	char *body;

	if (fr->status != 0) {
		send_failure(id, fr->status, fr->reason, fr->error);
		return;
	}
	if (json_object_set_new(fr->result, "id", json_integer(id)) < 0
	    || json_object_set_new(fr->result, "ok", json_true()) < 0
	    || (fr->has_binary && json_object_set_new(fr->result, "binary", json_integer((json_int_t)fr->binary_len)) < 0)
	    || (body = json_dumps(fr->result, JSON_COMPACT)) == NULL) {
		send_failure(id, 500, "internal", "out of memory encoding the reply");
		return;
	}
	if (strlen(body) > SESSION_FRAME_MAX) {
		send_failure(id, 500, "internal", "the reply is over the frame bound");
	} else {
		send_frame(body, strlen(body));
		if (fr->has_binary) {
			session_frame_header((uint32_t)fr->binary_len, hdr);
			send_bytes(hdr, 4);
			send_bytes(fr->binary, fr->binary_len);
		}
	}
	free(body);
}

static void serve_exec(struct session_request *req)
{
	struct session_result r;
	char err[512];
	int rc;

	memset(&r, 0, sizeof r);
	agent.seq++;
	agent.execs++;
	agent.stream_id = req->stream ? req->id : -1;
	if (ensure_dir() < 0) {
		snprintf(err, sizeof err, "cannot make %s: %s", agent.dir, strerror(errno));
		rc = -1;
	} else if (req->kind == SESSION_SHELL)
		rc = run_shell(req, &r, err, sizeof err);
	else if (req->kind == SESSION_ARGV)
		rc = run_argv(req->argv, req, &r, err, sizeof err);
	else if (strcmp(req->language, "python3") == 0)
		rc = run_python(req, &r, err, sizeof err);
	else
		rc = run_code_file(req, &r, err, sizeof err);
	agent.stream_id = -1;
	if (rc < 0) {
		send_failure(req->id, strstr(err, "language") ? 400 : 500, strstr(err, "language") ? "bad_request" : "internal",
			     err);
	} else {
		size_t blen;
		char *body;
		r.cwd = req->kind == SESSION_CODE && strcmp(req->language, "python3") == 0 && agent.python_cwd[0] == '/'
				? agent.python_cwd : agent.cwd;
		body = session_response_encode_result(req->id, &r, &blen);
		if (body == NULL)
			send_failure(req->id, 500, "internal", "out of memory encoding the response");
		else if (blen > SESSION_FRAME_MAX) /* cannot happen with the bounds above; never send one root refuses */
			send_failure(req->id, 500, "internal", "the response is over the frame bound");
		else
			send_frame(body, blen);
		free(body);
	}
	free(r.out);
	free(r.err);
}

static void serve_init(const struct session_request *req)
{
	size_t i;

	if (agent.execs > 0 || agent.shell.pid != 0 || agent.python.pid != 0) {
		send_failure(req->id, 409, "too_late", "init comes before the first exec");
		return;
	}
	for (i = 0; req->envp && req->envp[i]; i++) {
		char *eq = strchr(req->envp[i], '=');
		*eq = '\0';
		if (setenv(req->envp[i], eq + 1, 1) < 0) {
			*eq = '=';
			send_failure(req->id, 500, "internal", "cannot set the environment: out of memory");
			return;
		}
		*eq = '=';
	}
	{
		char ok[64];
		int n = snprintf(ok, sizeof ok, "{\"id\":%lld,\"ok\":true}", (long long)req->id);
		send_frame(ok, (size_t)n);
	}
}

/* The terminal (session_pty.h): started in the shell's cwd, with our environment. */
static void serve_pty(const struct session_request *req)
{
	char err[256], ok[80];
	bool started;
	int status = 500, n;

	if (session_pty_open(agent.pty_fd, (unsigned)req->cols, (unsigned)req->rows, req->reap != 0, agent.cwd,
			     &started, &status, err, sizeof err) < 0) {
		send_failure(req->id, status, status == 409 ? "bad_request" : "internal", err);
		return;
	}
	n = snprintf(ok, sizeof ok, "{\"id\":%lld,\"ok\":true,\"started\":%s}", (long long)req->id,
		     started ? "true" : "false");
	send_frame(ok, (size_t)n);
}

/* Serves one request frame; returns -1 when the input ended inside it. */
static int serve(const void *frame, size_t len)
{
	struct session_request req;
	struct session_files_reply fr;
	char err[512], *data = NULL;
	uint32_t n = 0;
	int rc = 0;

	memset(&fr, 0, sizeof fr);
	if (session_request_parse(frame, len, &req, err, sizeof err) < 0) {
		/* a raw frame it announced is skipped, to stay in step */
		if (req.binary >= 0) {
			unsigned char hdr[4];
			if (read_all(agent.in_fd, hdr, 4) < 0)
				rc = -1;
			else {
				n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
				rc = skip_input(n);
			}
		}
		send_error(req.id, err);
		session_request_free(&req);
		return rc;
	}
	switch (req.op) {
	case SESSION_OP_EXEC:
		serve_exec(&req);
		break;
	case SESSION_OP_INIT:
		serve_init(&req);
		break;
	case SESSION_OP_WRITE:
		if ((rc = binary_header(&req, &n)) != 0)
			break;
		rc = session_files_write(&agent.roots, &req, agent.in_fd, n, &fr);
		if (rc == 0)
			send_files_reply(req.id, &fr);
		break;
	case SESSION_OP_UNPACK:
		if ((rc = binary_header(&req, &n)) != 0)
			break;
		data = malloc(n ? n : 1);
		if (data == NULL) {
			rc = skip_input(n);
			send_failure(req.id, 500, "internal", "out of memory for the archive");
			break;
		}
		if ((rc = read_all(agent.in_fd, data, n)) < 0)
			break;
		session_files_unpack(&agent.roots, &req, data, n, &fr);
		send_files_reply(req.id, &fr);
		break;
	case SESSION_OP_READ:
		session_files_read(&agent.roots, &req, &fr);
		send_files_reply(req.id, &fr);
		break;
	case SESSION_OP_DELETE:
		session_files_delete(&agent.roots, &req, &fr);
		send_files_reply(req.id, &fr);
		break;
	case SESSION_OP_ARCHIVE:
		session_files_archive(&agent.roots, &req, &fr);
		send_files_reply(req.id, &fr);
		break;
	case SESSION_OP_PTY:
		serve_pty(&req);
		break;
	}
	free(data);
	session_files_reply_free(&fr);
	session_request_free(&req);
	return rc < 0 ? -1 : 0;
}

/* Waits for the input to be readable, servicing the drain set meanwhile. */
static void wait_input(void)
{
	struct pollfd pfd[1 + DRAIN_MAX];

	for (;;) {
		size_t n = 0, i;
		pfd[n++] = (struct pollfd){ .fd = agent.in_fd, .events = POLLIN };
		for (i = 0; i < agent.ndrain; i++)
			pfd[n++] = (struct pollfd){ .fd = agent.drain[i], .events = POLLIN };
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			return;
		drain_service(pfd + 1, n - 1);
		if (pfd[0].revents)
			return;
	}
}

int session_agent_serve_roots(int in_fd, int out_fd, int pty_fd, const char *work_root, const char *tmp_root)
{
	unsigned char hdr[4];
	char err[256], *body;
	uint32_t len;
	size_t i;

	memset(&agent, 0, sizeof agent);
	agent.in_fd = in_fd;
	agent.out_fd = out_fd;
	agent.pty_fd = pty_fd;
	agent.stream_id = -1;
	agent.roots.work = work_root;
	agent.roots.tmp = tmp_root;
	/* no command inherits the supervisor's pipes */
	fcntl(in_fd, F_SETFD, FD_CLOEXEC);
	fcntl(out_fd, F_SETFD, FD_CLOEXEC);
	if (pty_fd >= 0)
		fcntl(pty_fd, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN); /* a dead reader is an error return, not a death */
	if (getcwd(agent.cwd, sizeof agent.cwd) == NULL)
		snprintf(agent.cwd, sizeof agent.cwd, "/");
	snprintf(agent.dir, sizeof agent.dir, "%s/.sandrun-session-XXXXXX", "/tmp");
	if (mkdtemp(agent.dir) == NULL) {
		dprintf(2, "sandrun-session-agent: mkdtemp %s: %s\n", agent.dir, strerror(errno));
		return 1;
	}
	while (!agent.out_broken) {
		wait_input();
		if (read_all(agent.in_fd, hdr, 1) < 0)
			break; /* EOF between frames: the supervisor is done */
		if (read_all(agent.in_fd, hdr + 1, 3) < 0) {
			send_error(-1, "truncated frame header");
			break;
		}
		if (session_frame_length(hdr, &len, err, sizeof err) < 0) {
			/* skip the body to stay in step with the frames */
			int cut = skip_input(len) < 0;
			if (len > SESSION_FRAME_MAX)
				send_failure(-1, 413, "too_large", err);
			else
				send_error(-1, err);
			if (cut)
				break;
			continue;
		}
		body = malloc(len);
		if (body == NULL) {
			send_failure(-1, 500, "internal", "out of memory");
			break;
		}
		if (read_all(agent.in_fd, body, len) < 0) {
			send_error(-1, "truncated frame: end of input inside a frame");
			free(body);
			break;
		}
		if (serve(body, len) < 0) {
			send_error(-1, "truncated frame: end of input inside a raw frame");
			free(body);
			break;
		}
		free(body);
	}
	session_pty_stop();
	child_stop(&agent.shell);
	child_stop(&agent.python);
	for (i = 0; i < agent.ndrain; i++)
		close(agent.drain[i]);
	agent.ndrain = 0;
	/* what is left of the private directory (it held only our files) */
	{
		DIR *d = opendir(agent.dir);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			char p[sizeof agent.dir + 260];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", agent.dir, e->d_name);
			unlink(p);
		}
		if (d)
			closedir(d);
		rmdir(agent.dir);
	}
	return 0;
}

int session_agent_serve(int in_fd, int out_fd, int pty_fd)
{
	return session_agent_serve_roots(in_fd, out_fd, pty_fd, "/work", "/tmp");
}
