/*
 * The job's sandbox (SECURITY.md, "The sandbox"). sandbox_start() creates the job's init
 * process in new PID, mount, network, IPC, UTS and cgroup namespaces;
 * init builds the job's root on a tmpfs, pivots into it, becomes the job's
 * user, forks the job process, which unpacks the upload and execs the job,
 * and stays behind as the namespace's reaper, summing the CPU of everything
 * it reaps. When the job process exits, init kills what is left, reaps
 * it, writes one report to a pipe and exits, which tears down the PID
 * namespace; the tmpfs lives only in init's mount namespace, so the kernel
 * frees it too.
 * Nothing to clean up on the host but the job's cgroup, which the caller
 * made (runner/cgroup.h) and removes: init is born in it, its limits bind
 * every process of the job, and sandbox_kill and the figures go through it.
 *
 *   supervisor (root, host)          init (pid 1, job's uid after f)   children
 *   sandbox_start ── clone3 ───────▶ born in the job's cgroup (v2; v1: enters it)
 *     spec, upload: sealed memfds    execve sandrun-init: a fresh image
 *        │ ── "go" ───────────────▶ mounts, pivot_root, drop privileges
 *        │  ◀── stdout/stderr ────── fork ─────────────────────────▶ job: seccomp,
 *        │                                                             unpack, execve
 *   sandbox_kill ── cgroup kill ───▶ every process of the cgroup, init too
 *        │  ◀── report pipe ──────── report {outcome, status, cpu}, _exit
 *   sandbox_wait: wait4(init), read the report and the cgroup's figures
 *
 * Init starts as a copy of the caller, and stays one for a few system
 * calls only (sandbox_exec_init): it sets its parent-death signal, enters
 * the job's cgroup where the clone could not place it, puts its
 * descriptors at fixed numbers, closes every other one, and execs the
 * sandrun-init program (runner/init_main.c), which runs
 * sandbox_init_exec_main(). So nothing of the caller's memory -- the
 * supervisor's Redis password and connection buffers, the runner's
 * configuration -- reaches init or the job process, which unpacks the
 * user's upload with libarchive before it execs the job: they start from
 * a fresh image, with the spec decoded from a sealed memfd
 * (runner/sandbox_spec.h) and the upload in another.
 *
 * Init never returns into anyone's code (every path ends in _exit), it
 * resets every signal handler first thing, and it closes every descriptor
 * it does not need before touching anything. Every failure inside is a
 * report {outcome, message}, never a log line: the supervisor decides what
 * to say. Init dies with the thread that created it (PR_SET_PDEATHSIG),
 * so a dead supervisor leaves no sandbox.
 *
 * The caller must be single-threaded (init is made by a raw clone, like
 * fork()): the runner's per-job supervisor is.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>        /* struct clone_args, CLONE_INTO_CGROUP */
#include <net/if.h>             /* struct ifreq, IFF_UP: a session's loopback */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "cgroup.h"
#include "sandbox.h"
#include "sandbox_outputs.h"
#include "sandbox_spec.h"
#include "seccomp_filter.h"
#include "session_agent.h"
#include "unpack.h"
#include "util.h"

/* The namespaces every job gets: its own process tree (and a fresh /proc),
 * mount table, network stack (loopback left down: no network at all), SysV
 * IPC and host name, all made by the clone; and its cgroup view, which init
 * makes itself once it is in the job's cgroup (sandbox_enter_cgroup_namespace:
 * one made by the clone would be rooted at the supervisor's cgroup, and was
 * replaced at once). No user namespace: init is real root until it drops
 * privileges, which is what mounting needs. */
#define SANDBOX_CLONE_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET \
	| CLONE_NEWIPC | CLONE_NEWUTS)

/* What `hostname` says inside: the same for every job, nothing of the host. */
#define SANDBOX_HOSTNAME "sandrun"

/* The job's working directory, where the upload is unpacked; also the
 * sandrun user's home in the generated /etc/passwd. */
#define SANDBOX_WORKDIR_NAME "work"
#define SANDBOX_WORKDIR "/" SANDBOX_WORKDIR_NAME
/* A session's second name for it (SPEC §7). */
#define SANDBOX_WORKSPACE_NAME "workspace"

/* Inodes the job may create on its tmpfs beyond the upload's files: room
 * for honest scratch files, a bound on the kernel memory that inodes use
 * (the size= option counts only file data). */
#define SANDBOX_JOB_INODES 100000

/* Built with AddressSanitizer (gcc says so one way, clang another)? */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifndef SANDBOX_ASAN
#define SANDBOX_ASAN 0
#endif

/* Stack for the clone() fallback (kernels without clone3): init and the
 * job process it forks (unpacking with libarchive) run on it, so be
 * generous; it is a private mapping of the child and costs only the pages
 * touched. */
#define SANDBOX_CLONE_STACK (1024 * 1024)

/* How long sandbox_kill lets init kill and reap the sandbox's processes
 * before it SIGKILLs init itself: init answers in a millisecond or two,
 * dying processes need a few more to free their memory; a wedged init
 * must not hold up the deadline noticeably. */
#define SANDBOX_KILL_GRACE_MS 500

/* The job's exit code when its program cannot be executed: the shell's
 * convention for "command not found", which users recognise. */
#define SANDBOX_EXEC_FAILED 127

/* Open files per process: the classic default, what select() can handle
 * (FD_SETSIZE), and with pids_max a bound on the kernel memory that open
 * files take, which the memory cgroup does not fully count. */
#define SANDBOX_NOFILE 1024

/* How long sandbox_go waits for a prepared init still building (it is
 * done in milliseconds; one stuck longer is discarded by the caller). */
#define SANDBOX_READY_TIMEOUT_MS 10000

/* What sandbox_go sends a prepared sandbox: its spec, upload, stdin, outputs. */
#define SANDBOX_GO_FDS 4

/* The heap the job process faults in at once before it unpacks
 * (sandbox_heap_prefault): what libarchive's reader and writer take for
 * a small upload (128 kB left ~8 faults more a start). */
#define SANDBOX_UNPACK_HEAP (256 * 1024)

/* RLIMIT_NPROC sits this far above the cgroup's pids.max, so that a fork
 * bomb meets the cgroup's limit first (pids.events reports it); NPROC is
 * the backstop, per uid, should the cgroup's limit ever be missing. */
#define SANDBOX_NPROC_ABOVE_PIDS 1

/* The report init writes once, in a single write() (atomic: it is smaller
 * than PIPE_BUF), before it exits. Missing report = init was killed. */
struct sandbox_report {
	int32_t outcome;             /* enum sandbox_outcome */
	int32_t wait_status;         /* the job process's wait status, for SANDBOX_EXITED */
	double cpu_seconds;          /* user+system of every process init reaped, unpacking included */
	int64_t memory_peak_bytes;   /* largest ru_maxrss among the processes init reaped */
	char message[sizeof(((struct sandbox_result *)0)->message)];
};
_Static_assert(sizeof(struct sandbox_report) <= PIPE_BUF, "the report must be written atomically");

/* The child's ends of the pipes, as init holds them. */
struct sandbox_fds {
	int report;                  /* write end of the report pipe */
	int stdin_data;              /* the sealed memfd with stdin_data, or -1 for /dev/null */
	int stdout_w;
	int stderr_w;
	int start;                   /* init's end of the start channel: init waits on it first, and a
	                                prepared sandbox's init again for its job (sandbox_wait_for_job) */
	int outputs;                 /* write end of the outputs stream, or -1 (no outputs) */
	int upload;                  /* the sealed memfd with the upload, or -1 (none): the job process's */
	int pty;                     /* a session's end of the terminal channel, or -1: the agent's */
};

/*
 * Where sandbox_exec_init puts init's descriptors for the exec, and where
 * the fresh image (sandbox_init_exec_main) finds them. An optional one
 * that is absent is closed; which are present, the spec says.
 */
enum sandbox_init_fd {
	SANDBOX_INIT_FD_SPEC = 3,    /* sealed memfd: the encoded spec (runner/sandbox_spec.h) */
	SANDBOX_INIT_FD_REPORT,      /* write end of the report pipe */
	SANDBOX_INIT_FD_START,       /* init's end of the start channel (a socket: sandbox_go's descriptors) */
	SANDBOX_INIT_FD_STDOUT,      /* write ends of the job's output pipes */
	SANDBOX_INIT_FD_STDERR,
	SANDBOX_INIT_FD_STDIN,       /* sealed memfd with stdin_data (stdin_len > 0) */
	SANDBOX_INIT_FD_OUTPUTS,     /* write end of the outputs stream (noutputs > 0) */
	SANDBOX_INIT_FD_UPLOAD,      /* sealed memfd with the upload (upload_len > 0) */
	SANDBOX_INIT_FD_NETNS,       /* the slot's network namespace (SANDBOX_SPEC_NETNS) */
	SANDBOX_INIT_FD_PTY,         /* a session's end of the terminal channel (sandbox.pty_fd) */
	SANDBOX_INIT_FD_PROGRAM,     /* the sandrun-init program, for execveat; close-on-exec */
	SANDBOX_INIT_FD_COUNT,       /* everything from here on is closed before the exec */
};

/* A session's devpts instance: ptys at most (one terminal needs one; a
 * user's own `script` or ssh-less tools a few more). */
#define SANDBOX_PTY_MAX "16"
/* The sandbox's send buffer on the terminal channel: a few output
 * messages (runner/pty_proto.h), so backpressure reaches the program
 * within ~64 KiB. */
#define SANDBOX_PTY_SNDBUF (64 * 1024)

/* The sandrun-init program's name, beside the runner or in pkglibexecdir. */
#define SANDBOX_INIT_PROGRAM "sandrun-init"

/* Device nodes the job gets: what programs open without asking (no tty,
 * nothing that reaches hardware or the kernel's innards). */
static const char *const sandbox_dev_nodes[] = { "null", "zero", "full", "random", "urandom" };

/* Top-level names that are symlinks into usr on a merged-/usr system (Debian
 * 12); in an environment where one is a real directory it is bound read-only. */
static const char *const sandbox_root_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

/*
 * What the named interpreters (bash, python3, node, perl, ruby, Rscript,
 * php, java) need from /etc, bound read-only from the environment's /etc
 * when present (glob patterns); with the default environment that is the
 * host's, so each entry is one a package put there for its program, no
 * more. Never the whole /etc: the host's holds the service's secrets
 * (Redis passwords, the worker key) and its own configuration. Left out
 * on purpose: perl (only Net::Config and CPAN read it, never perl itself),
 * python3 and python3.x (Debian's build configuration and an apport hook;
 * Python ignores the dangling sitecustomize.py link), localtime (the
 * host's zone: every job gets UTC instead, sandbox_make_etc), ssl/certs
 * and ca-certificates (a job has no network to check a certificate on).
 */
static const char *const sandbox_etc_binds[] = {
	"ld.so.cache",       /* the dynamic linker's index of library paths */
	"alternatives",      /* /usr/bin/node, awk, java, ... are symlinks through it */
	"ssl/openssl.cnf",   /* read by OpenSSL at start-up, node included */
	"java-*-openjdk",    /* the JDK's jvm.cfg and conf/security/java.security are symlinks into it */
	"R",                 /* R's Renviron and ldpaths (/usr/lib/R/etc links here): no R without them */
	"matplotlibrc",      /* Debian's Matplotlib reads its defaults only here: without it, no import */
	"fonts",             /* fontconfig's configuration, for anything that draws text (R's png()) */
	"os-release",        /* which distribution (R reads it at start); a link to /usr/lib/os-release */
};

/* The job's time zone: the same for every job, nothing of the host's. */
#define SANDBOX_LOCALTIME "/usr/share/zoneinfo/Etc/UTC"

/* snprintf into a path buffer; -1 with err set when it does not fit. */
static int __attribute__((format(printf, 5, 6)))
sandbox_path(char *buf, size_t buflen, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, buflen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= buflen) {
		error_format(err, errlen, "a sandbox path is too long");
		return -1;
	}
	return 0;
}

/* env_root without a trailing slash ("/" becomes ""), so "%s/usr" is clean. */
static size_t sandbox_root_len(const char *env_root)
{
	size_t len = strlen(env_root);

	while (len > 0 && env_root[len - 1] == '/')
		len--;
	return len;
}

/*
 * The signals the process ignores, from /proc/self/status's SigIgn (a
 * hexadecimal mask, bit n-1 for signal n); false if it cannot be read.
 */
static bool sandbox_ignored_signals(uint64_t *mask)
{
	char buf[4096], *line;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	line = strstr(buf, "\nSigIgn:\t");
	return line != NULL && sscanf(line + strlen("\nSigIgn:\t"), "%" SCNx64, mask) == 1;
}

/*
 * Every disposition back to the default, so the job inherits none of the
 * supervisor's. After the exec into this fresh image only the ignored ones
 * can differ (the kernel resets every handled one), so those are reset,
 * as SigIgn lists them: one read instead of a call per signal (64 system
 * calls, ~0.1 ms on a host where a system call is dear). Where the list
 * cannot be read, every signal is reset.
 */
static void sandbox_reset_signal_dispositions(void)
{
	uint64_t ignored;
	int sig;

	if (sandbox_ignored_signals(&ignored)) {
		for (sig = 1; sig < NSIG && sig <= 64; sig++)
			if (ignored & (UINT64_C(1) << (sig - 1)))
				signal(sig, SIG_DFL);
		return;
	}
	/* SIGKILL, SIGSTOP and the C library's reserved signals refuse; fine */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
}

/* Init's last words. Never fails loudly: if the supervisor is gone, so is the point. */
static void sandbox_report_send(int fd, enum sandbox_outcome outcome, int wait_status,
				double cpu_seconds, int64_t memory_peak_bytes, const char *message)
{
	struct sandbox_report report;

	memset(&report, 0, sizeof report);
	report.outcome = (int32_t)outcome;
	report.wait_status = wait_status;
	report.cpu_seconds = cpu_seconds;
	report.memory_peak_bytes = memory_peak_bytes;
	if (message != NULL)
		snprintf(report.message, sizeof report.message, "%s", message);
	(void)fd_write_all(fd, &report, sizeof report);
}

/* ------------------------------------------------------------------ */
/* Init's steps, in the order sandbox_init_main() runs them. Each returns
 * 0, or -1 with a sentence in err; init turns that into its report.   */

/*
 * Keeps exactly the descriptors init needs, moved above 2, and puts
 * /dev/null on 0, 1 and 2: what the exec brought along and init no longer
 * needs (the spec's memfd, the slot's network namespace once joined) is
 * closed before init mounts anything. (The supervisor's own descriptors,
 * its Redis connection among them, were closed before the exec.)
 */
static int sandbox_isolate_fds(struct sandbox_fds *fds, char *err, size_t errlen)
{
	int *keep[] = { &fds->report, &fds->stdin_data, &fds->stdout_w, &fds->stderr_w, &fds->outputs,
			&fds->upload, &fds->pty, &fds->start };
	int sorted[8], n = 0, i, j, next, null_fd;

	for (i = 0; i < 8; i++) {
		int fd = *keep[i];

		if (fd < 0)
			continue;
		if (fd <= STDERR_FILENO) {
			int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

			if (moved < 0) {
				error_format(err, errlen, "cannot move a pipe above stderr: %s", strerror(errno));
				return -1;
			}
			close(fd);
			*keep[i] = moved;
		}
	}
	for (i = 0; i < 8; i++) {
		if (*keep[i] < 0)
			continue;
		for (j = n; j > 0 && sorted[j - 1] > *keep[i]; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = *keep[i];
		n++;
	}
	/* close the gaps between the kept descriptors, and everything above */
	next = 0;
	for (i = 0; i < n; i++) {
		if (sorted[i] > next && close_range((unsigned)next, (unsigned)sorted[i] - 1, 0) < 0)
			goto fail;
		next = sorted[i] + 1;
	}
	if (close_range((unsigned)next, ~0U, 0) < 0)
		goto fail;

	null_fd = open("/dev/null", O_RDWR);    /* lowest free: 0 */
	if (null_fd != STDIN_FILENO || dup2(null_fd, STDOUT_FILENO) < 0
	    || dup2(null_fd, STDERR_FILENO) < 0) {
		error_format(err, errlen, "cannot open /dev/null for init: %s", strerror(errno));
		return -1;
	}
	return 0;

fail:
	error_format(err, errlen, "cannot close the supervisor's descriptors: %s", strerror(errno));
	return -1;
}

/*
 * Step 0, once in the job's cgroup and exec'd: the supervisor's go,
 * normally written already (it writes it right after the clone). EOF
 * instead of the byte means the supervisor gave up or died: end quietly,
 * nothing was done.
 */
static void sandbox_wait_for_start(struct sandbox_fds *fds, bool prepared)
{
	ssize_t n;
	char go;

	/* the supervisor's end was closed before the exec: EOF is the supervisor's */
	while ((n = read(fds->start, &go, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(1);
	if (prepared)
		return;         /* its job comes on it later (sandbox_wait_for_job) */
	close(fds->start);
	fds->start = -1;
}

/* Step 0, once placed: a cgroup namespace rooted at the job's own cgroup.
 * Not the clone's: one made there is rooted where the supervisor was (the
 * kernel takes it before CLONE_INTO_CGROUP moves us, and v1 moves us later
 * still), so /proc/self/cgroup would show the runner's tree. Until here init
 * runs only its own steps, none of the job's. */
static int sandbox_enter_cgroup_namespace(char *err, size_t errlen)
{
	if (unshare(CLONE_NEWCGROUP) < 0) {
		error_format(err, errlen, "cannot make the job's cgroup namespace: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Step a: nothing mounted from here on propagates back to the host. */
static int sandbox_private_mounts(char *err, size_t errlen)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		error_format(err, errlen, "cannot make the mount namespace private: %s", strerror(errno));
		return -1;
	}
	if (sethostname(SANDBOX_HOSTNAME, strlen(SANDBOX_HOSTNAME)) < 0) {
		error_format(err, errlen, "cannot set the host name: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Step b: the job's whole writable world, size-limited, then cd into it. */
static int sandbox_mount_tmpfs(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	char options[128];
	int64_t inodes = spec->files_max;

	inodes = inodes > INT64_MAX - SANDBOX_JOB_INODES ? INT64_MAX : inodes + SANDBOX_JOB_INODES;
	snprintf(options, sizeof options, "size=%" PRId64 ",nr_inodes=%" PRId64 ",mode=0755",
		 spec->tmpfs_bytes, inodes);
	if (mount("sandrun", spec->mount_point, "tmpfs", MS_NOSUID | MS_NODEV, options) < 0) {
		error_format(err, errlen, "cannot mount the job's tmpfs on %s: %s",
			      spec->mount_point, strerror(errno));
		return -1;
	}
	if (chdir(spec->mount_point) < 0) {
		error_format(err, errlen, "cannot enter the job's tmpfs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Bind-mounts src on dst (recursively), then sets attrs (MOUNT_ATTR_*) on
 * the whole bound tree: a read-only bind must be read-only all the way down. */
static int sandbox_bind(const char *src, const char *dst, uint64_t attrs, char *err, size_t errlen)
{
	struct mount_attr attr = { .attr_set = attrs };

	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
		error_format(err, errlen, "cannot bind %s into the sandbox: %s", src, strerror(errno));
		return -1;
	}
	if (mount_setattr(AT_FDCWD, dst, AT_RECURSIVE, &attr, sizeof attr) == 0)
		return 0;
	if (errno == ENOSYS) {
		/* before Linux 5.12: remount the top of the bind (its submounts keep their flags) */
		unsigned long flags = MS_BIND | MS_REMOUNT
			| (attrs & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0)
			| (attrs & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0)
			| (attrs & MOUNT_ATTR_NODEV ? MS_NODEV : 0)
			| (attrs & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);

		if (mount(NULL, dst, NULL, flags, NULL) == 0)
			return 0;
	}
	error_format(err, errlen, "cannot restrict the bind of %s: %s", src, strerror(errno));
	return -1;
}

#define SANDBOX_READ_ONLY (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

/* A directory with exactly `mode`: init builds the root with umask 0
 * (sandbox_mount_root), so only one that was already there needs a chmod. */
static int sandbox_mkdir(const char *path, mode_t mode, char *err, size_t errlen)
{
	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST) {
		error_format(err, errlen, "cannot create /%s in the sandbox: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, mode) < 0) {
		error_format(err, errlen, "cannot set the mode of /%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int sandbox_write_file(const char *path, const char *content, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0 || fd_write_all(fd, content, strlen(content)) < 0) {
		error_format(err, errlen, "cannot write /%s in the sandbox: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Makes an empty file to bind something on. */
static int sandbox_mount_target_file(const char *path, char *err, size_t errlen)
{
	/* mknod of a regular file: one call where open and close were two */
	if (mknodat(AT_FDCWD, path, S_IFREG | 0600, 0) < 0 && errno != EEXIST) {
		error_format(err, errlen, "cannot create /%s in the sandbox: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Recreates the host entry src at dst (relative): a symlink is copied as a
 * symlink (it then resolves inside the sandbox), a directory or a regular
 * file is bound read-only; anything else, or nothing, is left out. */
static int sandbox_mirror_read_only(const char *src, const char *dst, char *err, size_t errlen)
{
	struct stat st;
	char target[PATH_MAX];
	ssize_t n;

	if (lstat(src, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(src, target, sizeof target - 1);
		if (n < 0) {
			error_format(err, errlen, "cannot read the link %s: %s", src, strerror(errno));
			return -1;
		}
		target[n] = '\0';
		if (symlink(target, dst) < 0) {
			error_format(err, errlen, "cannot create the link /%s: %s", dst, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (sandbox_mkdir(dst, 0755, err, errlen) < 0)
			return -1;
	} else if (S_ISREG(st.st_mode)) {
		if (sandbox_mount_target_file(dst, err, errlen) < 0)
			return -1;
	} else {
		return 0;
	}
	return sandbox_bind(src, dst, SANDBOX_READ_ONLY, err, errlen);
}

/* An empty read-only tmpfs is all a hidden directory shows; MS_RDONLY from
 * the start, so its size never matters (the smallest tmpfs there is). */
#define SANDBOX_HIDE_TMPFS_OPTIONS "size=4k,nr_inodes=1,mode=0755"

/* What a hidden file shows: /dev/null, read-only, nosuid, noexec, nodev. */
#define SANDBOX_HIDE_FILE_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV)

/*
 * The two masks sandbox_hide puts over what it hides, each made once per
 * sandbox (the first hidden directory's empty tmpfs, the first hidden
 * file's /dev/null bind) and bound again over every further path: a bind
 * copies its source mount's flags (read-only, nosuid, nodev, noexec), so
 * each further mask is one mount(2), where it was a bind and a
 * mount_setattr, or a new tmpfs superblock. The paths are relative to the
 * root being built; "" until the first one is made.
 */
struct sandbox_masks {
	char file[64];
	char dir[64];
};

/* Puts the mask of its kind over path: a bind of the first one made, or
 * the first one itself (kept in masks when its path fits). -1 with errno
 * from the mount (the caller words the error). */
static int sandbox_mask_dir(struct sandbox_masks *masks, const char *path)
{
	if (masks->dir[0] != '\0')
		return mount(masks->dir, path, NULL, MS_BIND, NULL);
	if (mount("sandrun-hidden", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  SANDBOX_HIDE_TMPFS_OPTIONS) < 0)
		return -1;
	if (strlen(path) < sizeof masks->dir)
		strcpy(masks->dir, path);
	return 0;
}

static int sandbox_mask_file(struct sandbox_masks *masks, const char *path)
{
	struct mount_attr attr = { .attr_set = SANDBOX_HIDE_FILE_ATTRS };

	if (masks->file[0] != '\0')
		return mount(masks->file, path, NULL, MS_BIND, NULL);
	if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0)
		return -1;
	if (mount_setattr(AT_FDCWD, path, 0, &attr, sizeof attr) < 0) {
		/* before Linux 5.12: the classic remount of the bind */
		if (errno != ENOSYS || mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
					    | MS_NOEXEC | MS_NODEV, NULL) < 0) {
			int saved = errno;

			umount2(path, MNT_DETACH);      /* never leave it half masked */
			errno = saved;
			return -1;
		}
	}
	if (strlen(path) < sizeof masks->file)
		strcpy(masks->file, path);
	return 0;
}

/*
 * Hides what lies at path (relative, inside the root being built): a
 * directory under an empty read-only tmpfs, a file under /dev/null bound
 * read-only (struct sandbox_masks). Nothing there: nothing to hide. A
 * symlink is left alone: it is resolved only inside the sandbox, where it
 * reaches nothing of the host (mounting on it would follow it, outside
 * the root being built).
 */
static int sandbox_hide(struct sandbox_masks *masks, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
		return 0;
	if ((S_ISDIR(st.st_mode) ? sandbox_mask_dir(masks, path) : sandbox_mask_file(masks, path)) < 0) {
		error_format(err, errlen, "cannot hide /%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * What the environment's /usr holds that is the host's and not a
 * program's: the operator's configuration and certificates, which come
 * with the read-only bind of /usr and no interpreter needs to run.
 */
static const char *const sandbox_usr_hidden[] = {
	/* npm's global config is {prefix}/etc/npmrc, and Debian's node has
	 * prefix /usr: where registry tokens are written. Debian ships
	 * nothing in /usr/etc. (A job's own .npmrc in /work still counts.) */
	"usr/etc",
	/* the same for everything installed under /usr/local (npm, pip,
	 * gem and the rest read their site config here); empty on Debian */
	"usr/local/etc",
	/* the host's own CA certificates (update-ca-certificates takes them
	 * from here): a job has no network, so checks no certificate */
	"usr/local/share/ca-certificates",
	/* ...and the packaged bundle, which operators extend too; the
	 * bundle file interpreters open (/etc/ssl/certs) is not bound either */
	"usr/share/ca-certificates",
};

/* Step c, /usr and the merged-/usr links: the environment's programs, read-only,
 * without the host's configuration and certificates (sandbox_usr_hidden). */
static int sandbox_mount_usr(const struct sandbox_spec *spec, struct sandbox_masks *masks,
			     char *err, size_t errlen)
{
	size_t root_len = sandbox_root_len(spec->env_root);
	char src[PATH_MAX];
	size_t i;

	if (sandbox_mkdir("usr", 0755, err, errlen) < 0
	    || sandbox_path(src, sizeof src, err, errlen, "%.*s/usr", (int)root_len, spec->env_root) < 0
	    || sandbox_bind(src, "usr", SANDBOX_READ_ONLY, err, errlen) < 0)
		return -1;
	for (i = 0; i < sizeof sandbox_root_links / sizeof sandbox_root_links[0]; i++) {
		if (sandbox_path(src, sizeof src, err, errlen, "%.*s/%s", (int)root_len,
				 spec->env_root, sandbox_root_links[i]) < 0
		    || sandbox_mirror_read_only(src, sandbox_root_links[i], err, errlen) < 0)
			return -1;
	}
	for (i = 0; i < sizeof sandbox_usr_hidden / sizeof sandbox_usr_hidden[0]; i++)
		if (sandbox_hide(masks, sandbox_usr_hidden[i], err, errlen) < 0)
			return -1;
	return 0;
}

/* Names in a directory listing read at a time (getdents64): /etc holds
 * a few hundred entries, a few reads. */
#define SANDBOX_DIRENTS_BYTES 8192

/* An entry of sandbox_etc_binds with a wildcard, matched against the names in /etc. */
static bool sandbox_etc_is_pattern(const char *entry)
{
	return strpbrk(entry, "*?[") != NULL;
}

/*
 * The entries of the environment's /etc (etc_dir) that a pattern of
 * sandbox_etc_binds matches, mirrored read-only into etc/. One pass over
 * the directory; a name is given to fnmatch only when it starts with the
 * pattern's literal prefix, so most of the few hundred names cost a
 * comparison. (glob(3) per pattern read the directory again each time and
 * cost more than all the binds together.)
 */
static int sandbox_etc_bind_patterns(const char *etc_dir, char *err, size_t errlen)
{
	const char *patterns[sizeof sandbox_etc_binds / sizeof sandbox_etc_binds[0]];
	size_t prefix[sizeof sandbox_etc_binds / sizeof sandbox_etc_binds[0]];
	char names[SANDBOX_DIRENTS_BYTES], src[PATH_MAX], dst[PATH_MAX];
	size_t npatterns = 0, i;
	ssize_t got;
	int fd, rc = 0;

	for (i = 0; i < sizeof sandbox_etc_binds / sizeof sandbox_etc_binds[0]; i++) {
		if (!sandbox_etc_is_pattern(sandbox_etc_binds[i]))
			continue;
		patterns[npatterns] = sandbox_etc_binds[i];
		prefix[npatterns++] = strcspn(sandbox_etc_binds[i], "*?[");
	}
	if (npatterns == 0)
		return 0;
	fd = open(etc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;       /* an environment without /etc: nothing to bind */
	while (rc == 0 && (got = getdents64(fd, names, sizeof names)) > 0) {
		for (ssize_t off = 0; rc == 0 && off < got;) {
			const struct dirent64 *de = (const struct dirent64 *)(names + off);

			off += de->d_reclen;
			for (i = 0; i < npatterns; i++) {
				/* FNM_PERIOD: a leading dot is never matched by a wildcard, as with glob */
				if (strncmp(de->d_name, patterns[i], prefix[i]) != 0
				    || fnmatch(patterns[i], de->d_name, FNM_PERIOD) != 0)
					continue;
				if (sandbox_path(src, sizeof src, err, errlen, "%s/%s", etc_dir, de->d_name) < 0
				    || sandbox_path(dst, sizeof dst, err, errlen, "etc/%s", de->d_name) < 0
				    || sandbox_mirror_read_only(src, dst, err, errlen) < 0)
					rc = -1;
				break;
			}
		}
	}
	close(fd);
	return rc;
}

/* Step c, /etc: generated files for the job's identity, plus the few
 * read-only pieces of the environment's /etc that interpreters need. */
static int sandbox_make_etc(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	size_t root_len = sandbox_root_len(spec->env_root);
	char text[512], src[PATH_MAX], dst[PATH_MAX];
	size_t i;

	if (sandbox_mkdir("etc", 0755, err, errlen) < 0)
		return -1;
	snprintf(text, sizeof text,
		 "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		 "sandrun:x:%u:%u:sandrun:" SANDBOX_WORKDIR ":/bin/sh\n",
		 (unsigned)spec->uid, (unsigned)spec->gid);
	if (sandbox_write_file("etc/passwd", text, err, errlen) < 0)
		return -1;
	snprintf(text, sizeof text, "root:x:0:\nsandrun:x:%u:\n", (unsigned)spec->gid);
	if (sandbox_write_file("etc/group", text, err, errlen) < 0
	    || sandbox_write_file("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", err, errlen) < 0
	    || sandbox_write_file("etc/hostname", SANDBOX_HOSTNAME "\n", err, errlen) < 0
	    || sandbox_write_file("etc/nsswitch.conf",
				  "passwd: files\ngroup: files\nshadow: files\nhosts: files\n",
				  err, errlen) < 0)
		return -1;
	/* a link, as on Debian: programs that name the zone (Java, R) read it from the target */
	if (symlink(SANDBOX_LOCALTIME, "etc/localtime") < 0) {
		error_format(err, errlen, "cannot create /etc/localtime: %s", strerror(errno));
		return -1;
	}

	/* plain names one by one (sandbox_mirror_read_only leaves out what is
	 * missing), then the patterns in one pass over the directory */
	for (i = 0; i < sizeof sandbox_etc_binds / sizeof sandbox_etc_binds[0]; i++) {
		const char *entry = sandbox_etc_binds[i], *slash = strchr(entry, '/');

		if (sandbox_etc_is_pattern(entry))
			continue;
		if (slash != NULL) {
			/* "ssl/openssl.cnf": its directory, empty but for the bound file */
			if (sandbox_path(dst, sizeof dst, err, errlen, "etc/%.*s", (int)(slash - entry), entry) < 0
			    || sandbox_mkdir(dst, 0755, err, errlen) < 0)
				return -1;
		}
		if (sandbox_path(src, sizeof src, err, errlen, "%.*s/etc/%s", (int)root_len, spec->env_root,
				 entry) < 0
		    || sandbox_path(dst, sizeof dst, err, errlen, "etc/%s", entry) < 0
		    || sandbox_mirror_read_only(src, dst, err, errlen) < 0)
			return -1;
	}
	if (sandbox_path(src, sizeof src, err, errlen, "%.*s/etc", (int)root_len, spec->env_root) < 0)
		return -1;
	return sandbox_etc_bind_patterns(src, err, errlen);
}

/* Step c, /dev: the host's harmless nodes bound onto empty files (mknod
 * would need the tmpfs to allow devices), the usual fd symlinks, and the
 * devices the job was given (a GPU's nodes), those only. */
static int sandbox_make_dev(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	static const char *const links[][2] = {
		{ "dev/fd", "/proc/self/fd" },
		{ "dev/stdin", "/proc/self/fd/0" },
		{ "dev/stdout", "/proc/self/fd/1" },
		{ "dev/stderr", "/proc/self/fd/2" },
	};
	char src[64], dst[64];
	size_t i;

	/* dev/shm: POSIX shared memory and semaphores (python's multiprocessing) */
	if (sandbox_mkdir("dev", 0755, err, errlen) < 0 || sandbox_mkdir("dev/shm", 01777, err, errlen) < 0)
		return -1;
	for (i = 0; i < sizeof sandbox_dev_nodes / sizeof sandbox_dev_nodes[0]; i++) {
		snprintf(src, sizeof src, "/dev/%s", sandbox_dev_nodes[i]);
		snprintf(dst, sizeof dst, "dev/%s", sandbox_dev_nodes[i]);
		if (sandbox_mount_target_file(dst, err, errlen) < 0
		    || sandbox_bind(src, dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err, errlen) < 0)
			return -1;
	}
	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		if (symlink(links[i][1], links[i][0]) < 0) {
			error_format(err, errlen, "cannot create /%s: %s", links[i][0], strerror(errno));
			return -1;
		}
	}
	/* a session's terminal (runner/session_pty.h): a devpts instance of its
	 * own, so its ptys are the only ones it sees and counts (max), nothing
	 * of the host's; nosuid, noexec like every device here */
	if (spec->session) {
		if (sandbox_mkdir("dev/pts", 0755, err, errlen) < 0)
			return -1;
		if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0666,mode=0620,max=" SANDBOX_PTY_MAX) < 0) {
			error_format(err, errlen, "cannot mount /dev/pts: %s", strerror(errno));
			return -1;
		}
		if (symlink("pts/ptmx", "dev/ptmx") < 0) {
			error_format(err, errlen, "cannot create /dev/ptmx: %s", strerror(errno));
			return -1;
		}
	}
	for (i = 0; i < spec->ndevices; i++) {
		const char *name = strrchr(spec->devices[i], '/');
		char node[PATH_MAX];
		struct stat st;

		name = name ? name + 1 : spec->devices[i];
		if (stat(spec->devices[i], &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) || !*name) {
			error_format(err, errlen, "the device %s is missing or not a device", spec->devices[i]);
			return -1;
		}
		if (sandbox_path(node, sizeof node, err, errlen, "dev/%s", name) < 0
		    || sandbox_mount_target_file(node, err, errlen) < 0
		    || sandbox_bind(spec->devices[i], node, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/*
 * Step c, /proc: what identifies or describes the host, or exposes the
 * kernel's innards, is hidden (sandbox_hide): runc's and nsjail's lists,
 * and more. Defence in depth for most: the job's uid could not read the
 * root-only ones anyway. Kept, because programs need them: cpuinfo,
 * meminfo, stat, uptime, loadavg (runtimes size their pools and heaps by
 * them), filesystems (libselinux), mounts and self/ (the job's own),
 * modules and driver/ (NVIDIA's libraries look for their driver there),
 * and version, which says no more than uname(2) does.
 */
static const struct {
	const char *path;
	bool directory;         /* what the kernel has there: the mask to try first */
} sandbox_proc_hidden[] = {
	{ "proc/cmdline", false },      /* the host's boot arguments: root disk, console, sometimes secrets */
	{ "proc/config.gz", false },    /* the host kernel's whole build configuration */
	{ "proc/sys/kernel/random/boot_id", false }, /* one per host boot: would tie every job on a host together */
	{ "proc/kcore", false },        /* kernel memory (root-only, but the cheapest mask there is) */
	{ "proc/kallsyms", false },     /* kernel symbol addresses: a KASLR map for root */
	{ "proc/kpagecount", false },   /* physical page state (root-only) */
	{ "proc/kpageflags", false },
	{ "proc/kpagecgroup", false },
	{ "proc/keys", false },         /* key names across the host's keyrings */
	{ "proc/timer_list", false },   /* timers and the host processes that set them */
	{ "proc/timer_stats", false },
	{ "proc/sched_debug", false },  /* every task on the host, by name */
	{ "proc/latency_stats", false }, /* latency per host call stack */
	{ "proc/sysrq-trigger", false }, /* magic SysRq (root-only write) */
	{ "proc/partitions", false },   /* the host's disks and their sizes */
	{ "proc/diskstats", false },
	{ "proc/swaps", false },        /* the host's swap devices */
	{ "proc/iomem", false },        /* the host's physical memory and device maps */
	{ "proc/ioports", false },
	{ "proc/acpi", true },          /* directories: firmware and hardware of the host */
	{ "proc/asound", true },
	{ "proc/bus", true },           /* PCI and input devices */
	{ "proc/fs", true },            /* per-disk ext4/xfs/jbd2 state, nfsd's exports */
	{ "proc/irq", true },
	{ "proc/scsi", true },
};

/*
 * The masks go on by the kind the table says, with no look first: the
 * procfs is the one just mounted, its entries are the kernel's (no
 * symlink among them), so a missing entry is ENOENT from the mount, and
 * only an entry of another kind than expected (a mask refused) costs the
 * look that sandbox_hide takes.
 */
static int sandbox_mask_proc(struct sandbox_masks *masks, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof sandbox_proc_hidden / sizeof sandbox_proc_hidden[0]; i++) {
		const char *path = sandbox_proc_hidden[i].path;

		if ((sandbox_proc_hidden[i].directory ? sandbox_mask_dir(masks, path)
						      : sandbox_mask_file(masks, path)) == 0 || errno == ENOENT)
			continue;
		if (sandbox_hide(masks, path, err, errlen) < 0)
			return -1;
	}
	/* read-only, its masks included (the bind is recursive) */
	return sandbox_bind("proc/sys", "proc/sys", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
			    | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV, err, errlen);
}

/* Step c: the whole root, built in the tmpfs we are standing in. */
static int sandbox_mount_root(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	/* the modes given below are the modes meant, with no chmod after each
	 * mkdir; sandbox_drop_privileges sets the job's umask (022) */
	struct sandbox_masks masks = { "", "" };

	umask(0);
	if (sandbox_mount_usr(spec, &masks, err, errlen) < 0
	    || sandbox_make_etc(spec, err, errlen) < 0
	    || sandbox_make_dev(spec, err, errlen) < 0
	    || sandbox_mkdir("proc", 0555, err, errlen) < 0)
		return -1;
	/* The operator's package mirror, read-only: requirements install from it, offline. */
	if (spec->mirror_dir && (sandbox_mkdir("mirror", 0555, err, errlen) < 0
				 || sandbox_bind(spec->mirror_dir, "mirror", SANDBOX_READ_ONLY | MOUNT_ATTR_NOEXEC,
						 err, errlen) < 0))
		return -1;
	/* A procfs of our own PID namespace: the job sees only its own processes.
	 * hidepid=invisible also hides init (root), whose command line is the
	 * runner's; kernels before 5.8 know only the number. */
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") < 0
	    && mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0) {
		error_format(err, errlen, "cannot mount /proc: %s", strerror(errno));
		return -1;
	}
	if (sandbox_mask_proc(&masks, err, errlen) < 0)
		return -1;
	if (sandbox_mkdir("tmp", 01777, err, errlen) < 0
	    || sandbox_mkdir(SANDBOX_WORKDIR_NAME, 0700, err, errlen) < 0)
		return -1;
	if (chown(SANDBOX_WORKDIR_NAME, spec->uid, spec->gid) < 0) {
		error_format(err, errlen, "cannot give " SANDBOX_WORKDIR " to the job's user: %s",
			      strerror(errno));
		return -1;
	}
	/* a session's /workspace: the same directory as /work (a bind, not a
	 * link: the agent resolves paths with RESOLVE_NO_SYMLINKS) */
	if (spec->session && (sandbox_mkdir(SANDBOX_WORKSPACE_NAME, 0755, err, errlen) < 0
			      || mount(SANDBOX_WORKDIR_NAME, SANDBOX_WORKSPACE_NAME, NULL, MS_BIND, NULL) < 0)) {
		if (err[0] == '\0')
			error_format(err, errlen, "cannot bind /" SANDBOX_WORKSPACE_NAME ": %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Step e, a session's: lo UP in the fresh network namespace, and nothing
 * else (no address but loopback's, no route out), while init still holds
 * CAP_NET_ADMIN. */
static int sandbox_loopback_up(char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		error_format(err, errlen, "cannot open a socket to bring lo up: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		error_format(err, errlen, "cannot read lo's flags: %s", strerror(errno));
		close(fd);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		error_format(err, errlen, "cannot bring lo up: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Step d: the tmpfs becomes "/", the host's tree is detached for good. */
static int sandbox_pivot_root(char *err, size_t errlen)
{
	/* new and old root both ".": the old one ends up stacked on top, and
	 * unmounting "." removes it without needing a directory for it */
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		error_format(err, errlen, "cannot pivot_root into the sandbox: %s", strerror(errno));
		return -1;
	}
	if (umount2(".", MNT_DETACH) < 0) {
		error_format(err, errlen, "cannot detach the host's root: %s", strerror(errno));
		return -1;
	}
	if (chdir("/") < 0 || chdir(SANDBOX_WORKDIR) < 0) {
		error_format(err, errlen, "cannot enter " SANDBOX_WORKDIR ": %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Step f: the job's user, for good. The bounding set goes first (while we
 * still hold CAP_SETPCAP), then groups, gid and uid; each is checked, since
 * a half-dropped identity is worse than a failed job. no_new_privs means no
 * exec can ever gain anything back, and libcap clears the (already empty)
 * sets for good measure. Changing uid resets the parent-death signal and
 * makes the process non-dumpable; both are set again explicitly.
 */
static int sandbox_drop_privileges(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	cap_t caps = NULL;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int cap;

	/* every capability the running kernel knows, which may be more than CAP_LAST_CAP */
	for (cap = 0;; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL && cap > 0)
			break;  /* past the last capability this kernel has (one call, not a read and a drop) */
		error_format(err, errlen, "cannot drop capability %d from the bounding set: %s",
			      cap, strerror(errno));
		goto fail;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		error_format(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		goto fail;
	}
	/* a session's init and agent: real and saved uid agent_uid, effective uid
	 * (what files and permissions see) the session's (struct sandbox_spec) */
	uid_t keep = spec->session ? spec->agent_uid : spec->uid;

	if (setgroups(0, NULL) < 0 || setresgid(spec->gid, spec->gid, spec->gid) < 0
	    || setresuid(keep, spec->uid, keep) < 0) {
		error_format(err, errlen, "cannot become uid %u gid %u: %s",
			      (unsigned)spec->uid, (unsigned)spec->gid, strerror(errno));
		goto fail;
	}
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0
	    || ruid != keep || euid != spec->uid || suid != keep
	    || rgid != spec->gid || egid != spec->gid || sgid != spec->gid
	    || getgroups(0, NULL) != 0 || setuid(0) == 0) {
		error_format(err, errlen, "the job's identity did not take (uid %u gid %u)",
			      (unsigned)spec->uid, (unsigned)spec->gid);
		goto fail;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		error_format(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		goto fail;
	}
	caps = cap_init();
	if (caps == NULL || cap_clear(caps) < 0 || cap_set_proc(caps) < 0) {
		error_format(err, errlen, "cannot clear the capabilities: %s", strerror(errno));
		goto fail;
	}
	cap_free(caps);
	caps = NULL;
	/* non-dumpable: the job, running as the same uid, cannot ptrace init
	 * nor read its memory, which is a copy of the supervisor's */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		error_format(err, errlen, "cannot protect init: %s", strerror(errno));
		goto fail;
	}
	umask(022);
	return 0;

fail:
	if (caps != NULL)
		cap_free(caps);
	return -1;
}

/*
 * Step h: limits for init and everything it forks, unpacking included.
 * Memory, CPU and the number of tasks are the cgroup's limits; these bound
 * what the cgroup does not, per process. Soft and hard alike, so the job
 * cannot raise them; never above what the runner itself was given.
 * RLIMIT_STACK keeps its default (8 MiB soft): what programs expect, and
 * the memory it could take is the cgroup's to bound.
 */
static int sandbox_set_limits(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	const struct {
		int resource;
		const char *name;
		rlim_t value;
	} limits[] = {
		/* no core files: they would fill the tmpfs, and a core_pattern pipe
		 * would hand the job's memory to a helper on the host */
		{ RLIMIT_CORE, "RLIMIT_CORE", 0 },
		{ RLIMIT_NOFILE, "RLIMIT_NOFILE", SANDBOX_NOFILE },
		/* the largest file the job may write: its whole tmpfs. The tmpfs
		 * bounds its own files already; this bounds any other writable
		 * place, should one ever be mounted in */
		{ RLIMIT_FSIZE, "RLIMIT_FSIZE", (rlim_t)spec->tmpfs_bytes },
		/* counted per real uid across the host: each slot has a uid of
		 * its own, so this counts this job's tasks only */
		{ RLIMIT_NPROC, "RLIMIT_NPROC", (rlim_t)spec->pids_max + SANDBOX_NPROC_ABOVE_PIDS },
	};
	size_t i;

	for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		struct rlimit rl;

		if (getrlimit(limits[i].resource, &rl) < 0) {
			error_format(err, errlen, "cannot read %s: %s", limits[i].name, strerror(errno));
			return -1;
		}
		if (rl.rlim_max == RLIM_INFINITY || limits[i].value < rl.rlim_max)
			rl.rlim_max = limits[i].value;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(limits[i].resource, &rl) < 0) {
			error_format(err, errlen, "cannot set %s: %s", limits[i].name, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Init as the namespace's reaper. Every process that exits in the sandbox
 * ends up reaped here (orphans are reparented to us), and each rusage
 * already includes the descendants that process reaped itself, so summing
 * what we reap counts every process exactly once.
 *
 * Init sleeps on a signalfd (SIGCHLD, SIGTERM; all signals stay blocked in
 * init). SIGTERM sent with kill() from outside the namespace (SI_USER, no
 * sender pid in our namespace: only the supervisor's sandbox_kill) is the
 * kill request: init SIGKILLs every other process of the namespace and
 * keeps reaping, so a killed job's CPU is still counted. The kernel would
 * not count it if init itself were killed: pid 1's exit auto-reaps.
 */
struct sandbox_reaper {
	int signals;                 /* signalfd for SIGCHLD and SIGTERM */
	double cpu_seconds;          /* of every process reaped so far */
	int64_t memory_peak_bytes;   /* largest ru_maxrss reaped so far */
	bool kill_requested;
};

static double sandbox_rusage_cpu(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6
		+ (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

static void sandbox_account(struct sandbox_reaper *r, const struct rusage *ru)
{
	r->cpu_seconds += sandbox_rusage_cpu(ru);
	if ((int64_t)ru->ru_maxrss * 1024 > r->memory_peak_bytes)
		r->memory_peak_bytes = (int64_t)ru->ru_maxrss * 1024;   /* ru_maxrss is in KiB */
}

static int sandbox_reaper_open(struct sandbox_reaper *r, char *err, size_t errlen)
{
	sigset_t set;

	memset(r, 0, sizeof *r);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	r->signals = signalfd(-1, &set, SFD_CLOEXEC);
	if (r->signals < 0) {
		error_format(err, errlen, "cannot create init's signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reaps whatever exits until `target` has, and stores its wait status.
 * False only if target is not ours or the signalfd broke. */
static bool sandbox_reap_until(struct sandbox_reaper *r, pid_t target, int *target_status)
{
	for (;;) {
		struct signalfd_siginfo si;
		struct rusage ru;
		int status;
		pid_t pid;
		ssize_t n;

		while ((pid = wait4(-1, &status, __WALL | WNOHANG, &ru)) > 0) {
			sandbox_account(r, &ru);
			if (pid == target) {
				*target_status = status;
				return true;
			}
		}
		if (pid < 0 && errno != EINTR)
			return false;   /* ECHILD: target is not our child */
		/* a SIGCHLD that came after the wait4 above is pending: no lost wake-up */
		n = read(r->signals, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			return false;
		if (si.ssi_signo == SIGTERM && si.ssi_code == SI_USER && si.ssi_pid == 0
		    && !r->kill_requested) {
			r->kill_requested = true;
			kill(-1, SIGKILL);      /* everyone but us: same uid, so allowed */
		}
	}
}

/* The end: kill what is left, reap it (its CPU counts), collect the
 * outputs (outputs_fd >= 0: init is the only process left), report, exit. */
static _Noreturn void sandbox_finish(struct sandbox_reaper *r, int report_fd, int job_status,
				     const struct sandbox_spec *spec, int outputs_fd)
{
	struct rusage ru;
	int status;

	kill(-1, SIGKILL);
	for (;;) {
		if (wait4(-1, &status, __WALL, &ru) > 0)
			sandbox_account(r, &ru);
		else if (errno != EINTR)
			break;          /* ECHILD: nobody left */
	}
	if (outputs_fd >= 0) {
		sandbox_outputs_collect(spec, SANDBOX_WORKDIR, spec->files_max + SANDBOX_JOB_INODES, outputs_fd);
		close(outputs_fd);      /* EOF for the supervisor before the report */
	}
	sandbox_report_send(report_fd, SANDBOX_EXITED, job_status, r->cpu_seconds,
			    r->memory_peak_bytes, NULL);
	_exit(0);
}

/*
 * Steps g and i share one process: the job process unpacks the upload
 * into /work itself, then execs the job's program. Unpacking needs a
 * process of its own, apart from init (libarchive parses the user's bytes
 * and must not run where a bug could forge init's report), but not one
 * apart from the job: it runs as the job's user, under the job's seccomp
 * filter, with nothing but the job's standard streams and the upload's
 * sealed memfd open, which is all the job itself will have, and with
 * nothing of the runner's memory (init is a fresh image: sandbox_exec_init)
 * -- a bug there reaches nothing the job could not. So one fork, one exit
 * and one filter installation fewer per job.
 *
 * What unpacking leaves behind does not reach the job: execve replaces
 * the memory (the upload, libarchive's state) and drops the page shared
 * with init; descriptors libarchive might have left open are closed, and
 * the working directory and umask are set again, right before the exec.
 *
 * The shared page tells init how far the process got, so that a failed
 * or crashed unpack is reported as SANDBOX_UNPACK_FAILED with its reason,
 * not as the job's exit status.
 */
enum sandbox_job_phase {
	SANDBOX_PHASE_SETUP = 0,     /* streams, signals, seccomp, unpacking */
	SANDBOX_PHASE_UNPACK_FAILED, /* the upload could not be unpacked: message says why */
	SANDBOX_PHASE_EXEC,          /* unpacked: execve is next (what happens now is the job's) */
};

struct sandbox_job_state {
	int32_t phase;               /* enum sandbox_job_phase, written by the job process only */
	char message[sizeof(((struct sandbox_report *)0)->message)];
};

/*
 * Grows the heap by `bytes` and faults its pages in with one madvise(2):
 * the unpacker's allocations (registering its formats, libarchive zeroes
 * tens of kB of private state for 7zip, rar and rar5 alone) then land on pages that are
 * there, instead of taking a page fault each (~10 us apiece on a
 * paravirtualized host, where the kernel's own work per page is a small
 * part of that). The pages stay with the process (no trim) until its exec.
 * Best effort: a kernel without MADV_POPULATE_WRITE (before 5.14) just
 * faults them in one by one, as before.
 */
static void sandbox_heap_prefault(size_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t from, to;
	char *p;

	mallopt(M_MMAP_THRESHOLD, (int)(2 * bytes));  /* from the heap, not a mapping of its own */
	mallopt(M_TRIM_THRESHOLD, (int)(2 * bytes));  /* freed, it stays */
	p = malloc(bytes);
	if (p == NULL)
		return;
	from = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	to = ((uintptr_t)p + bytes) & ~((uintptr_t)page - 1);
	if (to > from)
		(void)madvise((void *)from, to - from, MADV_POPULATE_WRITE);
	free(p);
}

/* Step g, in the job process, under its seccomp filter: the upload into
 * the working directory. Returns only when it is unpacked; otherwise the
 * reason goes on the shared page and the process ends. */
static void sandbox_unpack_in_job(const struct sandbox_spec *spec, int upload_fd, struct sandbox_job_state *state)
{
	/* the memfd is sealed: its size is the spec's, and nobody can change it */
	void *upload = mmap(NULL, spec->upload_len, PROT_READ, MAP_PRIVATE, upload_fd, 0);

	if (upload == MAP_FAILED) {
		snprintf(state->message, sizeof state->message, "cannot map the upload: %s", strerror(errno));
		state->phase = SANDBOX_PHASE_UNPACK_FAILED;
		_exit(1);
	}
	close(upload_fd);
	/* libarchive's reader is made here, in this process: the fresh image has none to inherit */
	sandbox_heap_prefault(SANDBOX_UNPACK_HEAP);
	if (unpack_archive_with(NULL, upload, spec->upload_len, spec->unpacked_max_bytes,
				spec->files_max, state->message, sizeof state->message) < 0) {
		state->message[sizeof state->message - 1] = '\0';
		state->phase = SANDBOX_PHASE_UNPACK_FAILED;
		_exit(1);
	}
	/* what libarchive may have changed in this process, back as the job expects it */
	if (close_range(STDERR_FILENO + 1, ~0U, 0) < 0 || chdir(SANDBOX_WORKDIR) < 0) {
		snprintf(state->message, sizeof state->message, "cannot prepare the job after unpacking: %s",
			 strerror(errno));
		state->phase = SANDBOX_PHASE_UNPACK_FAILED;
		_exit(1);
	}
	umask(022);
}

/* After the job process has been reaped: did its unpacking fail (message
 * into err)? A process that died before it reached its exec was still
 * unpacking (the steps before it do not crash): a crash of libarchive. */
static bool sandbox_unpack_failed(const struct sandbox_job_state *state, int status, char *err, size_t errlen)
{
	if (state->phase == SANDBOX_PHASE_UNPACK_FAILED) {
		/* bounded: the page is the job process's to write, terminated or not */
		if (state->message[0] != '\0')
			error_format(err, errlen, "%.*s", (int)sizeof state->message - 1, state->message);
		else
			error_format(err, errlen, "the upload could not be unpacked");
		return true;
	}
	if (state->phase == SANDBOX_PHASE_SETUP && WIFSIGNALED(status)) {
		error_format(err, errlen, "unpacking the upload crashed (signal %d)", WTERMSIG(status));
		return true;
	}
	return false;
}

/*
 * Steps g and i, in the job process (pid 2): its descriptors, a clean
 * signal state, seccomp, the upload unpacked (state != NULL), exec.
 */
static _Noreturn void sandbox_exec_job(const struct sandbox_spec *spec, const struct sandbox_fds *fds,
				       int signals, struct sandbox_job_state *state)
{
	char msg[sizeof(((struct sandbox_report *)0)->message)];
	sigset_t none;

	close(signals);         /* fds->report stays until the seccomp filter is in */
	if (fds->outputs >= 0)
		close(fds->outputs);
	if (fds->upload >= 0 && state == NULL)
		close(fds->upload);     /* cannot happen: an upload comes with a state page */
	/* all sources are above 2 (sandbox_isolate_fds), so no dup2 clobbers another;
	 * with no stdin_data, fd 0 stays init's /dev/null */
	if ((fds->stdin_data >= 0 && dup2(fds->stdin_data, STDIN_FILENO) < 0)
	    || dup2(fds->stdout_w, STDOUT_FILENO) < 0 || dup2(fds->stderr_w, STDERR_FILENO) < 0) {
		dprintf(fds->stderr_w, "sandrun: cannot set up standard streams: %s\n", strerror(errno));
		_exit(SANDBOX_EXEC_FAILED);
	}
	if (fds->stdin_data >= 0)
		close(fds->stdin_data);
	close(fds->stdout_w);
	close(fds->stderr_w);
	/* every disposition is the default already: init reset them first thing
	 * (step 0) and installs no handler; only its mask, all blocked, is undone */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * seccomp, before anything of the user's is read (the upload) and so
	 * before the job's first instruction (runner/seccomp_policy.c: what is
	 * allowed, and why). A filter that cannot be built or loaded must
	 * neither let the job run unfiltered nor pass for the job's own
	 * failure: this process reports an internal error on init's pipe
	 * itself. That report comes first in the pipe and sandbox_wait reads
	 * only the first; init's own, written once it has reaped us, stays unread.
	 */
	if ((spec->seccomp ? seccomp_program_apply(spec->seccomp, msg, sizeof msg)
			   : seccomp_policy_load(msg, sizeof msg)) < 0) {
		sandbox_report_send(fds->report, SANDBOX_INTERNAL_ERROR, 0, 0.0, 0, msg);
		_exit(SANDBOX_EXEC_FAILED);
	}
	close(fds->report);
	if (spec->session) {
		/* the agent, in-process: this image is sandrun-init's, which carries
		 * what it needs (an environment tree need not have our libraries);
		 * its children get the job's environment */
		clearenv();
		for (size_t i = 0; spec->envp[i] != NULL; i++)
			putenv((char *)spec->envp[i]);
		_exit(session_agent_serve(STDIN_FILENO, STDOUT_FILENO, fds->pty));
	}
	if (state != NULL) {
		sandbox_unpack_in_job(spec, fds->upload, state);
		state->phase = SANDBOX_PHASE_EXEC;
	}
	execve(spec->argv[0], (char *const *)spec->argv, (char *const *)spec->envp);
	dprintf(STDERR_FILENO, "sandrun: cannot execute %s: %s\n", spec->argv[0], strerror(errno));
	_exit(SANDBOX_EXEC_FAILED);
}

static int sandbox_spec_load(int fd, struct sandbox_spec_decoded *d, char *err, size_t errlen);

/*
 * A prepared sandbox's init, built (steps a-e done from the shape), still
 * root in its namespaces: its job, in one message on the start channel (sandbox_go).
 * The message carries, as descriptors, the job's whole spec in a sealed
 * memfd, then its upload, its stdin and the outputs stream's write end,
 * each only when the spec has one. The spec must be of the shape the
 * sandbox was built for (the supervisor checked; init checks again).
 * EOF instead: the sandbox was discarded, init ends quietly. Returns the
 * job's spec (in *d), or NULL with err.
 */
static const struct sandbox_spec *sandbox_wait_for_job(const struct sandbox_spec *shape, struct sandbox_fds *fds,
							struct sandbox_spec_decoded *d, char *err, size_t errlen)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(SANDBOX_GO_FDS * sizeof(int))];
	} ctl;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	struct cmsghdr *c;
	int got[SANDBOX_GO_FDS], n = 0, want, k = 1;
	const char *differs;
	ssize_t r;

	memset(&ctl, 0, sizeof ctl);
	(void)send(fds->start, "r", 1, MSG_NOSIGNAL);    /* ready (sandbox_prepared_ready) */
	while ((r = recvmsg(fds->start, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (r == 0)
		_exit(1);       /* discarded (sandbox_discard): nothing was done for anyone */
	c = r == 1 ? CMSG_FIRSTHDR(&m) : NULL;
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(got, CMSG_DATA(c), (size_t)n * sizeof(int));
	}
	close(fds->start);
	fds->start = -1;
	if (r < 0) {
		error_format(err, errlen, "cannot receive the job: %s", strerror(errno));
		return NULL;
	}
	if (n < 1 || (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || byte != 'j') {
		error_format(err, errlen, "the job's message is malformed");
		return NULL;
	}
	if (sandbox_spec_load(got[0], d, err, errlen) < 0)
		return NULL;
	close(got[0]);
	if (d->flags & SANDBOX_SPEC_NETNS)
		d->spec.netns_fd = SANDBOX_INIT_FD_NETNS;      /* joined already, at step e */
	if (d->spec.prepared || d->spec.session) {
		error_format(err, errlen, "the job's spec is not a job's");
		return NULL;
	}
	if ((differs = sandbox_spec_shape_differs(shape, &d->spec)) != NULL) {
		error_format(err, errlen, "the job's spec is not of the prepared sandbox's shape (%s)", differs);
		return NULL;
	}
	want = 1 + (d->spec.upload_len > 0) + (d->spec.stdin_len > 0) + (d->spec.noutputs > 0);
	if (n != want) {
		error_format(err, errlen, "the job came with %d descriptors, not %d", n, want);
		return NULL;
	}
	if (d->spec.upload_len > 0)
		fds->upload = got[k++];
	if (d->spec.stdin_len > 0)
		fds->stdin_data = got[k++];
	if (d->spec.noutputs > 0)
		fds->outputs = got[k++];
	return &d->spec;
}

/*
 * The job's init, pid 1 of its namespaces, in its fresh image
 * (sandbox_init_exec_main: in the job's cgroup already, the spec decoded).
 * Never returns.
 *
 *   0. take the supervisor's go; reset signal handlers (all signals stay
 *      blocked: init has no handler, the job cannot kill it; the reaper
 *      reads SIGCHLD and the supervisor's SIGTERM from a signalfd), die
 *      with the supervisor, leave its session, keep only our descriptors;
 *      a cgroup namespace rooted at the job's cgroup
 *   a. make every mount private, set the host name
 *   b. mount the job's tmpfs on mount_point and cd into it
 *   c. build the root: usr (ro, the host's configuration and certificates
 *      under it hidden), bin/lib links, etc (generated, plus what the
 *      interpreters need), dev, proc (what describes the host masked), tmp, work
 *   d. pivot_root into it, detach the host's tree, cd /work
 *   e. network: nothing to do, the new namespace has only a down loopback
 *   f. drop privileges: bounding set, groups, gid, uid, no_new_privs, caps
 *   h. rlimits: CORE, NOFILE, FSIZE, NPROC -- before g, so they bind the
 *      unpacking too (and a crashing libarchive dumps no core)
 *   g, i. fork the job process: stdio, signals, seccomp, then unpack the
 *      upload into /work (as the job's user, under its filter), execve
 *   j. reap everything until the job is gone; kill and reap the rest;
 *   k. collect the outputs on the outputs pipe (nobody left to race it);
 *      report; exit, which ends the namespace
 */
static _Noreturn void sandbox_init_main(const struct sandbox_spec *spec, struct sandbox_fds fds)
{
	enum sandbox_outcome outcome = SANDBOX_INTERNAL_ERROR;
	char msg[sizeof(((struct sandbox_report *)0)->message)] = "";
	struct sandbox_reaper reaper = { .signals = -1 };
	struct sandbox_job_state *state = NULL;    /* shared with the job process: with an upload only */
	struct sandbox_spec_decoded job_spec;       /* a prepared sandbox's job (never freed: init execs or exits) */
	int job_status = 0;
	pid_t job;

	/* 0 */
	sandbox_wait_for_start(&fds, spec->prepared);
	/* e, early: the slot's own network namespace (made by the runner, loopback
	 * down, nothing else in it), joined before its fd is closed with the rest */
	if (spec->netns_fd > 0 && setns(spec->netns_fd, CLONE_NEWNET) < 0) {
		error_format(msg, sizeof msg, "cannot enter the slot's network namespace: %s", strerror(errno));
		sandbox_report_send(fds.report, outcome, 0, 0.0, 0, msg);
		_exit(1);
	}
	sandbox_reset_signal_dispositions();
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	setsid();
	if (sandbox_isolate_fds(&fds, msg, sizeof msg) < 0
	    || sandbox_reaper_open(&reaper, msg, sizeof msg) < 0
	    || sandbox_enter_cgroup_namespace(msg, sizeof msg) < 0)
		goto fail;
	/* a */
	if (sandbox_private_mounts(msg, sizeof msg) < 0)
		goto fail;
	/* b */
	if (sandbox_mount_tmpfs(spec, msg, sizeof msg) < 0)
		goto fail;
	/* c */
	if (sandbox_mount_root(spec, msg, sizeof msg) < 0)
		goto fail;
	/* d */
	if (sandbox_pivot_root(msg, sizeof msg) < 0)
		goto fail;
	/* e: our network namespace (CLONE_NEWNET, or the slot's) has only a loopback, down: leave it so,
	 * but for a session's, whose lo comes up (a fresh namespace of its own: never the slot's) */
	if (spec->loopback_up && sandbox_loopback_up(msg, sizeof msg) < 0)
		goto fail;
	/* a prepared sandbox: built, it waits here for its job (sandbox_go), whose spec serves from
	 * now on; still root in its namespaces, so that no process of the job's uid exists before
	 * the job does (the slot's uid is the next job's alone) */
	if (spec->prepared && (spec = sandbox_wait_for_job(spec, &fds, &job_spec, msg, sizeof msg)) == NULL)
		goto fail;
	/* f */
	if (sandbox_drop_privileges(spec, msg, sizeof msg) < 0)
		goto fail;
	/* h */
	if (sandbox_set_limits(spec, msg, sizeof msg) < 0)
		goto fail;
	/* g, i: the job process, which unpacks the upload first (sandbox_exec_job) */
	if (spec->upload_len > 0) {
		state = mmap(NULL, sizeof *state, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (state == MAP_FAILED) {
			error_format(msg, sizeof msg, "cannot map the job process's state page: %s", strerror(errno));
			goto fail;
		}
		state->phase = SANDBOX_PHASE_SETUP;
		state->message[0] = '\0';
	}
	job = fork();
	if (job < 0) {
		error_format(msg, sizeof msg, "cannot fork the job process: %s", strerror(errno));
		goto fail;
	}
	if (job == 0)
		sandbox_exec_job(spec, &fds, reaper.signals, state);
	/* j: the job holds the streams now; ours must go so the reader sees EOF */
	if (fds.stdin_data >= 0)
		close(fds.stdin_data);
	if (fds.upload >= 0)
		close(fds.upload);
	if (fds.pty >= 0)
		close(fds.pty);
	close(fds.stdout_w);
	close(fds.stderr_w);
	if (!sandbox_reap_until(&reaper, job, &job_status)) {
		error_format(msg, sizeof msg, "init lost track of the job process");
		goto fail;
	}
	/* killed while unpacking: the job counts as killed, like any killed job */
	if (state != NULL && !reaper.kill_requested && sandbox_unpack_failed(state, job_status, msg, sizeof msg)) {
		outcome = SANDBOX_UNPACK_FAILED;
		goto fail;
	}
	/* k: collect the outputs, now that init is the only process left (sandbox_finish) */
	sandbox_finish(&reaper, fds.report, job_status, spec, reaper.kill_requested ? -1 : fds.outputs);

fail:
	kill(-1, SIGKILL);      /* whatever is left behind (kill(-1) reaches only our PID namespace) */
	sandbox_report_send(fds.report, outcome, 0, reaper.cpu_seconds, reaper.memory_peak_bytes, msg);
	_exit(1);
}

/* The spec from its sealed memfd, decoded into *d. 0, or -1 with err. */
static int sandbox_spec_load(int fd, struct sandbox_spec_decoded *d, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int rc;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || st.st_size > SANDBOX_SPEC_MAX)
		return error_format(err, errlen, "init got no readable sandbox spec");
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL)
		return error_format(err, errlen, "out of memory for the sandbox spec");
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return error_format(err, errlen, "cannot read the sandbox spec: %s",
					    n < 0 ? strerror(errno) : "short read");
		}
		got += (size_t)n;
	}
	rc = sandbox_spec_decode(buf, got, d, err, errlen);
	free(buf);
	return rc;
}

/*
 * Init's fresh image: main() of the sandrun-init program (runner/init_main.c),
 * exec'd by sandbox_exec_init with its descriptors at the numbers of enum
 * sandbox_init_fd, already in the job's cgroup. Reads the spec, sets the
 * locale libarchive converts names with where it will (its files are the
 * host's: they are gone after step d), and goes on with the steps
 * (sandbox_init_main).
 * Anything but the clone of a supervisor -- pid 1 of a new PID namespace,
 * a spec and a report pipe at their numbers -- is told this is no command.
 */
_Noreturn void sandbox_init_exec_main(int argc, char **argv)
{
	struct sandbox_fds fds = {
		.report = SANDBOX_INIT_FD_REPORT, .start = SANDBOX_INIT_FD_START,
		.stdout_w = SANDBOX_INIT_FD_STDOUT, .stderr_w = SANDBOX_INIT_FD_STDERR,
		.stdin_data = -1, .outputs = -1, .upload = -1, .pty = -1,
	};
	char msg[sizeof(((struct sandbox_report *)0)->message)] = "";
	struct sandbox_spec_decoded d;

	if (argc != 1 || getpid() != 1 || fcntl(SANDBOX_INIT_FD_SPEC, F_GETFD) < 0
	    || fcntl(SANDBOX_INIT_FD_REPORT, F_GETFD) < 0) {
		fprintf(stderr, "%s: the init of a sandrun job's sandbox, started by sandrun-runner; "
			"not a command\n", argc > 0 ? argv[0] : SANDBOX_INIT_PROGRAM);
		_exit(2);
	}
	/* an exec from a descriptor names the process after the descriptor on older kernels */
	prctl(PR_SET_NAME, SANDBOX_INIT_PROGRAM, 0, 0, 0);
	if (sandbox_spec_load(SANDBOX_INIT_FD_SPEC, &d, msg, sizeof msg) < 0) {
		sandbox_report_send(fds.report, SANDBOX_INTERNAL_ERROR, 0, 0.0, 0, msg);
		_exit(1);
	}
	close(SANDBOX_INIT_FD_SPEC);
	if (d.spec.stdin_len > 0 || d.spec.session)
		fds.stdin_data = SANDBOX_INIT_FD_STDIN;     /* a memfd, or a session's request pipe */
	if (d.spec.session)
		fds.pty = SANDBOX_INIT_FD_PTY;
	if (d.spec.noutputs > 0)
		fds.outputs = SANDBOX_INIT_FD_OUTPUTS;
	if (d.spec.upload_len > 0)
		fds.upload = SANDBOX_INIT_FD_UPLOAD;
	if (d.flags & SANDBOX_SPEC_NETNS)
		d.spec.netns_fd = SANDBOX_INIT_FD_NETNS;
	/* only where libarchive will convert names: the job process unpacking
	 * an upload, a session's agent packing and unpacking files; loading the
	 * locale (the alias file, LC_CTYPE, the gconv cache) is ~15 system calls
	 * and their pages, for nothing in any other job */
	if (d.spec.upload_len > 0 || d.spec.session || d.spec.prepared)
		(void)locale_use_utf8_names();  /* the runner warned at start if this cannot work */
	sandbox_init_main(&d.spec, fds);
}

/* ------------------------------------------------------------------ */
/* The supervisor's side.                                              */

/*
 * A network namespace for one slot: only a loopback, down. Made once by the
 * runner and joined by each of the slot's jobs in turn (one job at a time; nothing
 * of a job outlives its PID namespace), which saves every job the cost of
 * making and tearing down a namespace. Returns its fd, or -1 with err set.
 */
int sandbox_netns_create(char *err, size_t errlen)
{
	int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), slot = -1;

	if (host < 0 || unshare(CLONE_NEWNET) < 0 ||
	    (slot = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		error_format(err, errlen, "cannot make a network namespace: %s", strerror(errno));
		if (host >= 0)
			close(host);
		return -1;
	}
	if (setns(host, CLONE_NEWNET) < 0) {
		/* The runner would now talk to Redis from the empty namespace: stop. */
		error_format(err, errlen, "cannot return to the host's network namespace: %s", strerror(errno));
		close(host);
		close(slot);
		return -1;
	}
	close(host);
	return slot;
}


/*
 * The clone, still a copy of the supervisor (root, in the job's new
 * namespaces), for the few steps before it execs init's fresh image
 * (sandbox_init_exec_main); never returns:
 *   - die with the supervisor (PR_SET_PDEATHSIG, kept across the exec)
 *   - step 0: into the job's cgroup where the clone could not put us (v1;
 *     v2 before Linux 5.7): we move ourselves, which on v1 takes no
 *     global lock (cgroup_job_enter), and the supervisor need not place
 *     us and then wake us up; so even the exec is the job's
 *   - init's descriptors at their numbers (plan[n] is the one for n, or
 *     -1), /dev/null on 0-2, and every other descriptor closed: the
 *     supervisor's Redis connection, the signer's socket, anything
 *   - execveat of the sandrun-init program, with an empty environment
 * A failure is a report on the report pipe, like any of init's.
 */
static _Noreturn void sandbox_exec_init(const struct sandbox_spec *spec, const int plan[SANDBOX_INIT_FD_COUNT],
					bool born_placed)
{
	char arg0[] = SANDBOX_INIT_PROGRAM, msg[sizeof(((struct sandbox_report *)0)->message)] = "";
	char *argv[] = { arg0, NULL }, *envp[] = { NULL };
	int moved[SANDBOX_INIT_FD_COUNT], report = plan[SANDBOX_INIT_FD_REPORT], null_fd, n;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		error_format(msg, sizeof msg, "cannot tie init to its supervisor: %s", strerror(errno));
		goto fail;
	}
	if (!born_placed && cgroup_job_enter(spec->cgroup, msg, sizeof msg) < 0)
		goto fail;
	/* first every source out of the way, above the numbers they go to */
	for (n = SANDBOX_INIT_FD_SPEC; n < SANDBOX_INIT_FD_COUNT; n++) {
		moved[n] = plan[n] < 0 ? -1 : fcntl(plan[n], F_DUPFD_CLOEXEC, SANDBOX_INIT_FD_COUNT);
		if (plan[n] >= 0 && moved[n] < 0) {
			error_format(msg, sizeof msg, "cannot move init's descriptors: %s", strerror(errno));
			goto fail;
		}
	}
	report = moved[SANDBOX_INIT_FD_REPORT];
	null_fd = open("/dev/null", O_RDWR);    /* replaced or closed below, wherever it lands */
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0
	    || dup2(null_fd, STDERR_FILENO) < 0) {
		error_format(msg, sizeof msg, "cannot open /dev/null for init: %s", strerror(errno));
		goto fail;
	}
	for (n = SANDBOX_INIT_FD_SPEC; n < SANDBOX_INIT_FD_COUNT; n++) {
		if (moved[n] < 0) {
			close(n);
			continue;
		}
		/* dup2 clears close-on-exec; the program's descriptor keeps it */
		if ((n == SANDBOX_INIT_FD_PROGRAM ? dup3(moved[n], n, O_CLOEXEC) : dup2(moved[n], n)) < 0) {
			error_format(msg, sizeof msg, "cannot place init's descriptors: %s", strerror(errno));
			goto fail;
		}
	}
	report = SANDBOX_INIT_FD_REPORT;
	if (close_range(SANDBOX_INIT_FD_COUNT, ~0U, 0) < 0) {
		error_format(msg, sizeof msg, "cannot close the supervisor's descriptors: %s", strerror(errno));
		goto fail;
	}
	syscall(SYS_execveat, SANDBOX_INIT_FD_PROGRAM, "", argv, envp, AT_EMPTY_PATH);
	error_format(msg, sizeof msg, "cannot execute the " SANDBOX_INIT_PROGRAM " program: %s", strerror(errno));
fail:
	sandbox_report_send(report, SANDBOX_INTERNAL_ERROR, 0, 0.0, 0, msg);
	_exit(1);
}

struct sandbox_clone_context {
	const struct sandbox_spec *spec;
	const int *plan;
};

static int sandbox_clone_entry(void *arg)
{
	struct sandbox_clone_context *ctx = arg;

	sandbox_exec_init(ctx->spec, ctx->plan, false);
}

/*
 * Creates init without a copy of our memory: the child borrows it (CLONE_VM)
 * and a stack of its own until execveat of sandrun-init, while we wait
 * (CLONE_VFORK), as posix_spawn does. sandbox_exec_init writes nothing of
 * ours but its own stack (and errno). Copying the supervisor's page tables
 * for a child that execs at once, and the copy-on-write faults that follow
 * in the supervisor, cost more than the rest of init's start on a host
 * where page faults are dear (a paravirtualized MMU). Used where init must
 * move itself into its cgroup anyway (v1, and v2 before CLONE_INTO_CGROUP).
 */
static pid_t __attribute__((unused)) sandbox_clone_vfork(const struct sandbox_spec *spec, const int plan[SANDBOX_INIT_FD_COUNT],
				 char *err, size_t errlen)
{
	/*
	 * The child's stack, mapped at the first start and kept for the next
	 * ones: one child at a time runs on it (the caller is single-threaded
	 * and waits, CLONE_VFORK, until the child has exec'd or died), and a
	 * fresh mapping per start cost page faults on its first pages and a
	 * TLB flush at its munmap, every start. What a child leaves on it is
	 * of our own memory, which the child shared anyway.
	 */
	static void *stack;
	struct sandbox_clone_context ctx = { spec, plan };
	int flags = SANDBOX_CLONE_FLAGS | CLONE_VM | CLONE_VFORK | SIGCHLD;
	pid_t pid;

	if (spec->netns_fd > 0)
		flags &= ~CLONE_NEWNET;         /* init joins the slot's namespace instead */
	if (stack == NULL) {
		void *mapped = mmap(NULL, SANDBOX_CLONE_STACK, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (mapped == MAP_FAILED) {
			error_format(err, errlen, "cannot allocate a stack for the sandbox: %s", strerror(errno));
			return -1;
		}
		stack = mapped;
	}
	pid = clone(sandbox_clone_entry, (char *)stack + SANDBOX_CLONE_STACK, flags, &ctx);
	if (pid < 0)
		error_format(err, errlen, "cannot create the sandbox (clone): %s", strerror(errno));
	return pid;
}

/*
 * Creates init. clone3 in fork-like mode (no stack: the child continues
 * here on a copy of ours); plain clone() with a stack of its own only where
 * the kernel has no clone3. Returns init's pid, or -1 with err set.
 */
static pid_t sandbox_clone(const struct sandbox_spec *spec, const int plan[SANDBOX_INIT_FD_COUNT],
			   char *err, size_t errlen)
{
	struct clone_args args;
	struct sandbox_clone_context ctx = { spec, plan };
	int cgroup_fd = spec->cgroup->fd;
	void *stack;
	pid_t pid;

	memset(&args, 0, sizeof args);
	args.flags = SANDBOX_CLONE_FLAGS;
	if (spec->netns_fd > 0)
		args.flags &= ~(uint64_t)CLONE_NEWNET;  /* init joins the slot's namespace instead */
	args.exit_signal = SIGCHLD;
	/*
	 * Cgroup placement: on v2, init is born inside the job's cgroup, with
	 * no window in which it runs unlimited. A v1 cgroup has no fd (-1),
	 * and a kernel before 5.7 refuses the flag (E2BIG, EINVAL): then init
	 * is born outside and moves itself in as the first thing it does
	 * (sandbox_exec_init, step 0). Either way it runs no step of its own
	 * outside the cgroup.
	 */
#if !SANDBOX_ASAN
	/* (AddressSanitizer takes a child running on another stack in our memory
	 * for a stack overflow: its builds keep the fork-like clone3 below) */
	if (cgroup_fd < 0)
		return sandbox_clone_vfork(spec, plan, err, errlen);
#endif
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0 && cgroup_fd >= 0 && (errno == E2BIG || errno == EINVAL)) {
		args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
		args.cgroup = 0;
		pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	}
	if (pid == 0)
		sandbox_exec_init(spec, plan, (args.flags & CLONE_INTO_CGROUP) != 0);
	if (pid > 0)
		return pid;
	if (errno != ENOSYS) {
		error_format(err, errlen, "cannot create the sandbox (clone3): %s", strerror(errno));
		return -1;
	}

	stack = mmap(NULL, SANDBOX_CLONE_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		error_format(err, errlen, "cannot allocate a stack for the sandbox: %s", strerror(errno));
		return -1;
	}
	pid = clone(sandbox_clone_entry, (char *)stack + SANDBOX_CLONE_STACK,
		    (spec->netns_fd > 0 ? SANDBOX_CLONE_FLAGS & ~CLONE_NEWNET : SANDBOX_CLONE_FLAGS) | SIGCHLD, &ctx);
	if (pid < 0)
		error_format(err, errlen, "cannot create the sandbox (clone): %s", strerror(errno));
	munmap(stack, SANDBOX_CLONE_STACK);     /* ours; the child has its own copy */
	return pid;
}

int sandbox_init_program_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return error_format(err, errlen, "cannot open %s, the sandbox's init program: %s", path,
				    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
		close(fd);
		return error_format(err, errlen, "%s, the sandbox's init program, is not an executable file", path);
	}
	/* root runs it for every job: nobody but its owner may have changed it */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return error_format(err, errlen, "%s, the sandbox's init program, is writable by others than "
				    "its owner: refusing to run it as root", path);
	}
	return fd;
}

int sandbox_init_program_find(const char *installed, char *path, size_t pathlen, char *err, size_t errlen)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (snprintf(path, pathlen, "%s/" SANDBOX_INIT_PROGRAM, self) < (int)pathlen
			    && access(path, F_OK) == 0)
				return sandbox_init_program_open(path, err, errlen);
		}
	}
	if (snprintf(path, pathlen, "%s", installed) >= (int)pathlen)
		return error_format(err, errlen, "the init program's path is too long");
	return sandbox_init_program_open(path, err, errlen);
}

/* A sealed memfd holding data (the job's stdin, its upload, init's spec):
 * it cannot change under init or the job, and needs no writer process. */
static int sandbox_sealed_memfd(const char *name, const void *data, size_t len, char *err, size_t errlen)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0) {
		error_format(err, errlen, "cannot create %s: %s", name, strerror(errno));
		return -1;
	}
	if (fd_write_all(fd, data, len) < 0
	    || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0
	    || lseek(fd, 0, SEEK_SET) != 0) {
		error_format(err, errlen, "cannot fill %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The spec, encoded (runner/sandbox_spec.h), in a sealed memfd for init. */
static int sandbox_spec_memfd(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	size_t len;
	char *bytes;
	int fd;

	if (sandbox_spec_encode(spec, &bytes, &len, err, errlen) < 0)
		return -1;
	fd = sandbox_sealed_memfd("sandrun-spec", bytes, len, err, errlen);
	free(bytes);
	return fd;
}

static const char *sandbox_spec_problem(const struct sandbox_spec *spec)
{
	if (spec->uid == 0 || spec->gid == 0)
		return "a job may not run as root";
	if (spec->mount_point == NULL || spec->mount_point[0] != '/')
		return "the sandbox mount point must be an absolute path";
	if (spec->env_root == NULL || spec->env_root[0] != '/')
		return "the environment root must be an absolute path";
	if (spec->tmpfs_bytes <= 0 || spec->unpacked_max_bytes < 0 || spec->files_max < 0)
		return "the sandbox sizes must be positive";
	if (spec->session || spec->prepared) {
		if (spec->argv == NULL || spec->argv[0] != NULL)
			return "a session runs no program: argv must be empty";
		if (spec->upload_len > 0 || spec->stdin_len > 0 || spec->noutputs > 0)
			return "a session takes no upload, stdin or outputs";
	} else if (spec->argv == NULL || spec->argv[0] == NULL || spec->argv[0][0] != '/') {
		return "the job's program must be an absolute path";
	}
	if (spec->loopback_up && spec->netns_fd > 0)
		return "loopback_up needs a fresh network namespace, not a slot's";
	if (spec->envp == NULL)
		return "the job's environment is missing";
	if (spec->stdin_len > 0 && spec->stdin_data == NULL)
		return "the job's stdin is missing";
	if (spec->upload_len > 0 && spec->upload == NULL)
		return "the upload is missing";
	if (spec->cgroup == NULL)
		return "the job has no cgroup: refusing to run it without limits";
	if (spec->pids_max <= 0)
		return "the job's process limit must be positive";
	if (spec->init_fd < 0)
		return "the " SANDBOX_INIT_PROGRAM " program is not open (sandbox_init_program_open)";
	return NULL;
}

static void sandbox_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The outputs stream (sandbox_outputs.h): read end non-blocking, a large
 * buffer. 0, or -1 with err. */
static int sandbox_outputs_pipe(int p[2], char *err, size_t errlen)
{
	if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		return error_format(err, errlen, "cannot create the outputs pipe: %s", strerror(errno));
	(void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);       /* fewer wake-ups; best effort */
	return 0;
}

/*
 * In the supervisor:
 *   1. check the spec; make the stdout, stderr and report pipes (ours
 *      non-blocking, all close-on-exec), the outputs pipe, and the sealed
 *      memfds init gets: the stdin, the upload, the encoded spec
 *   2. block every signal so none of the supervisor's handlers can run in
 *      the child before it resets them; clone init (into the job's cgroup
 *      on v2), which execs its fresh image (sandbox_exec_init); restore
 *      the mask
 *   3. let it go: one byte on the start pipe (init, when it was not born
 *      in the job's cgroup, has moved itself there first: step 0)
 *   4. close the child's ends, fill *sb
 * Init does the rest (sandbox_init_exec_main, sandbox_init_main).
 */
static int sandbox_spawn(const struct sandbox_spec *spec, struct sandbox *sb, char *err, size_t errlen)
{
	int report[2] = { -1, -1 }, out[2] = { -1, -1 }, errs[2] = { -1, -1 }, start[2] = { -1, -1 };
	int outputs[2] = { -1, -1 }, requests[2] = { -1, -1 }, pty[2] = { -1, -1 };
	int stdin_fd = -1, upload_fd = -1, spec_fd = -1;
	int plan[SANDBOX_INIT_FD_COUNT];
	sigset_t all, old;
	const char *problem;
	pid_t pid = -1;

	if (spec == NULL || sb == NULL) {
		error_format(err, errlen, "no sandbox spec");
		goto fail;
	}
	problem = sandbox_spec_problem(spec);
	if (problem != NULL) {
		error_format(err, errlen, "%s", problem);
		goto fail;
	}
	/* the start channel is a socket: a prepared sandbox gets its job's descriptors on it */
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0
	    || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, start) < 0) {
		error_format(err, errlen, "cannot create the sandbox's pipes: %s", strerror(errno));
		goto fail;
	}
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(errs[0], F_SETFL, O_NONBLOCK) < 0) {
		error_format(err, errlen, "cannot make the output pipes non-blocking: %s", strerror(errno));
		goto fail;
	}
	if (spec->session) {
		/* the agent's requests: init gets the read end as the job's stdin */
		if (pipe2(requests, O_CLOEXEC) < 0) {
			error_format(err, errlen, "cannot create the session's request pipe: %s", strerror(errno));
			goto fail;
		}
		stdin_fd = requests[0];
		requests[0] = -1;
		/* the terminal's channel (runner/pty_proto.h): messages keep their
		 * bounds; the sandbox's send buffer is small, so a terminal that
		 * prints faster than root reads blocks soon (root's rate bound) */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pty) < 0) {
			error_format(err, errlen, "cannot create the session's terminal channel: %s", strerror(errno));
			goto fail;
		}
		(void)setsockopt(pty[1], SOL_SOCKET, SO_SNDBUF, &(int){ SANDBOX_PTY_SNDBUF }, sizeof(int));
	}
	if (spec->stdin_len > 0
	    && (stdin_fd = sandbox_sealed_memfd("sandrun-stdin", spec->stdin_data, spec->stdin_len, err, errlen)) < 0)
		goto fail;
	if (spec->upload_len > 0
	    && (upload_fd = sandbox_sealed_memfd("sandrun-upload", spec->upload, spec->upload_len, err, errlen)) < 0)
		goto fail;
	if ((spec_fd = sandbox_spec_memfd(spec, err, errlen)) < 0)
		goto fail;
	if (spec->noutputs > 0 && sandbox_outputs_pipe(outputs, err, errlen) < 0)
		goto fail;

	plan[SANDBOX_INIT_FD_SPEC] = spec_fd;
	plan[SANDBOX_INIT_FD_REPORT] = report[1];
	plan[SANDBOX_INIT_FD_START] = start[0];
	plan[SANDBOX_INIT_FD_STDOUT] = out[1];
	plan[SANDBOX_INIT_FD_STDERR] = errs[1];
	plan[SANDBOX_INIT_FD_STDIN] = stdin_fd;
	plan[SANDBOX_INIT_FD_OUTPUTS] = outputs[1];
	plan[SANDBOX_INIT_FD_UPLOAD] = upload_fd;
	plan[SANDBOX_INIT_FD_NETNS] = spec->netns_fd > 0 ? spec->netns_fd : -1;
	plan[SANDBOX_INIT_FD_PTY] = pty[1];
	plan[SANDBOX_INIT_FD_PROGRAM] = spec->init_fd;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = sandbox_clone(spec, plan, err, errlen);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		goto fail;
	if (fd_write_all(start[1], "g", 1) < 0) {
		error_format(err, errlen, "cannot start the sandbox: %s", strerror(errno));
		goto fail;
	}

	sandbox_close(&start[0]);
	sb->go_fd = -1;
	sb->go_ready = false;
	if (spec->prepared) {
		sb->go_fd = start[1];
		start[1] = -1;
	}
	sandbox_close(&start[1]);
	sandbox_close(&report[1]);
	sandbox_close(&out[1]);
	sandbox_close(&errs[1]);
	sandbox_close(&stdin_fd);
	sandbox_close(&upload_fd);
	sandbox_close(&spec_fd);
	sandbox_close(&outputs[1]);
	sandbox_close(&pty[1]);
	sb->pid = pid;
	sb->stdin_fd = requests[1];
	sb->stdout_fd = out[0];
	sb->stderr_fd = errs[0];
	sb->report_fd = report[0];
	sb->outputs_fd = outputs[0];
	sb->pty_fd = pty[0];
	sb->cgroup = spec->cgroup;
	return 0;

fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	sandbox_close(&report[0]);
	sandbox_close(&report[1]);
	sandbox_close(&out[0]);
	sandbox_close(&out[1]);
	sandbox_close(&errs[0]);
	sandbox_close(&errs[1]);
	sandbox_close(&start[0]);
	sandbox_close(&start[1]);
	sandbox_close(&stdin_fd);
	sandbox_close(&upload_fd);
	sandbox_close(&spec_fd);
	sandbox_close(&outputs[0]);
	sandbox_close(&outputs[1]);
	sandbox_close(&requests[1]);
	sandbox_close(&pty[0]);
	sandbox_close(&pty[1]);
	return -1;
}

int sandbox_start(const struct sandbox_spec *spec, struct sandbox *sb, char *err, size_t errlen)
{
	if (spec != NULL && spec->prepared)
		return error_format(err, errlen, "a spec marked prepared is sandbox_prepare's own");
	return sandbox_spawn(spec, sb, err, errlen);
}

int sandbox_prepare(const struct sandbox_spec *shape, struct sandbox *sb, char *err, size_t errlen)
{
	static const char *const none[] = { NULL };
	struct sandbox_spec s;

	if (shape == NULL || shape->session)
		return error_format(err, errlen, "a session's sandbox is never prepared");
	s = *shape;
	s.prepared = true;
	s.argv = none;
	s.envp = none;
	s.upload = NULL;
	s.upload_len = 0;
	s.stdin_data = NULL;
	s.stdin_len = 0;
	s.outputs = NULL;
	s.noutputs = 0;
	return sandbox_spawn(&s, sb, err, errlen);
}

int sandbox_go(struct sandbox *sb, const struct sandbox_spec *spec, char *err, size_t errlen)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(SANDBOX_GO_FDS * sizeof(int))];
	} ctl;
	int fds[SANDBOX_GO_FDS], n = 0, outputs[2] = { -1, -1 }, rc = -1;
	struct iovec iov = { .iov_base = "j", .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf };
	struct cmsghdr *c;
	const char *problem;
	ssize_t w;

	if (sb->go_fd < 0)
		return error_format(err, errlen, "the sandbox was not prepared, or has its job already");
	if (spec->prepared || spec->session)
		return error_format(err, errlen, "a prepared sandbox takes a job's spec");
	if ((problem = sandbox_spec_problem(spec)) != NULL)
		return error_format(err, errlen, "%s", problem);
	if ((fds[n++] = sandbox_spec_memfd(spec, err, errlen)) < 0)
		goto out;
	if (spec->upload_len > 0
	    && (fds[n++] = sandbox_sealed_memfd("sandrun-upload", spec->upload, spec->upload_len, err, errlen)) < 0)
		goto out;
	if (spec->stdin_len > 0
	    && (fds[n++] = sandbox_sealed_memfd("sandrun-stdin", spec->stdin_data, spec->stdin_len, err, errlen)) < 0)
		goto out;
	if (spec->noutputs > 0) {
		if (sandbox_outputs_pipe(outputs, err, errlen) < 0)
			goto out;
		fds[n++] = outputs[1];
	}
	memset(&ctl, 0, sizeof ctl);
	m.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	while ((w = sendmsg(sb->go_fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (w != 1) {
		error_format(err, errlen, "the prepared sandbox is gone: %s", w < 0 ? strerror(errno) : "short send");
		goto out;
	}
	/*
	 * Its ready sign must be read before the channel is closed: a unix
	 * socket closed with a message unread resets its peer, whose next
	 * receive then fails (ECONNRESET) even with the job queued before it.
	 * Init sends the sign before it waits for the job, so this waits only
	 * while init still builds (the job could not start before that). An
	 * init that died building, or is stuck, ran nothing of the job: the
	 * caller discards it and starts the job in a new sandbox.
	 */
	if (!sb->go_ready && sandbox_prepared_ready(sb, SANDBOX_READY_TIMEOUT_MS) != 1) {
		error_format(err, errlen, "the prepared sandbox's init did not get ready");
		goto out;
	}
	sandbox_close(&sb->go_fd);
	sb->outputs_fd = outputs[0];
	outputs[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0 && fds[i] != outputs[1])
			close(fds[i]);
	sandbox_close(&outputs[0]);
	sandbox_close(&outputs[1]);
	return rc;
}

int sandbox_prepared_ready(struct sandbox *sb, int timeout_ms)
{
	struct pollfd p = { .fd = sb->go_fd, .events = POLLIN };
	char byte;
	int n;

	if (sb->go_fd < 0)
		return -1;
	while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (n == 0)
		return 0;
	if (n > 0 && recv(sb->go_fd, &byte, 1, MSG_DONTWAIT) == 1 && byte == 'r') {
		sb->go_ready = true;
		return 1;
	}
	return -1;
}

void sandbox_discard(struct sandbox *sb)
{
	sandbox_close(&sb->go_fd);       /* init reads EOF and ends; the kill makes sure */
	sandbox_kill(sb);
	sandbox_reap(sb);
	sandbox_close(&sb->report_fd);
	sandbox_close(&sb->stdout_fd);
	sandbox_close(&sb->stderr_fd);
	sandbox_close(&sb->outputs_fd);
}

/*
 * Through the cgroup first: every process in it, init, the job and
 * whatever double-forked its way out of the job's tree, at once
 * (cgroup.kill on v2, freeze-kill-thaw on v1); cgroup_job_kill returns
 * when the cgroup is empty. The job then counts as killed by SIGKILL, and
 * its figures come from the cgroup, so init's report is not missed.
 *
 * Should that fail, the namespace still ends in two stages. A kill
 * request (SIGTERM) to init, which SIGKILLs every other process of the
 * namespace, reaps them, counts their CPU and reports. If init has not
 * exited within SANDBOX_KILL_GRACE_MS, it gets SIGKILL, and its death
 * makes the kernel SIGKILL whatever is left in the namespace.
 * Init is left a zombie for sandbox_wait; after that sb->pid is -1, so a
 * late call hits nobody else.
 */
void sandbox_kill(struct sandbox *sb)
{
	struct pollfd exited;
	int pidfd;

	if (sb == NULL || sb->pid <= 0)
		return;
	if (sb->cgroup != NULL && cgroup_job_kill(sb->cgroup, NULL, 0) == 0) {
		kill(sb->pid, SIGKILL);         /* a no-op: init was in the cgroup */
		return;
	}
	/* init is our unreaped child: its pid cannot have been reused */
	pidfd = (int)syscall(SYS_pidfd_open, sb->pid, 0);
	kill(sb->pid, SIGTERM);
	if (pidfd >= 0) {
		exited.fd = pidfd;
		exited.events = POLLIN;         /* readable once init has exited */
		while (poll(&exited, 1, SANDBOX_KILL_GRACE_MS) < 0 && errno == EINTR)
			;
		close(pidfd);
	}
	/* a no-op on the zombie of an init that obeyed */
	kill(sb->pid, SIGKILL);
}

/* The cgroup's figures replace init's wherever the kernel has them: they
 * count every process and thread, reaped by init or not, and the tmpfs. */
static void sandbox_cgroup_figures(const struct sandbox *sb, struct sandbox_result *res)
{
	struct cgroup_stats st;

	if (sb->cgroup == NULL)
		return;
	cgroup_job_stats(sb->cgroup, &st, NULL, 0);
	if (st.cpu_seconds >= 0)
		res->cpu_seconds = st.cpu_seconds;
	if (st.memory_peak_bytes >= 0)
		res->memory_peak_bytes = st.memory_peak_bytes;
	res->oom_killed = st.oom_killed;
	res->pids_limit_hit = st.pids_limit_hit;
}

/*
 * Reads init's report; reaps init only where there is none. Without a
 * report, init was killed (by sandbox_kill, the OOM killer, or a crash):
 * the job counts as killed by init's signal. Either way the figures are
 * then the cgroup's: init's rusage holds only what init reaped before it
 * died (a dying pid 1 lets the kernel auto-reap the rest, uncounted), and
 * is the fallback only where the cgroup cannot be read.
 *
 * Init sends its report when the job's processes are all reaped, and only
 * exits after: the report is the result. Its exit (tearing down the mount
 * table, the PID and network namespaces, ~1 ms and an RCU grace period) is
 * left to sandbox_reap, so that the caller can record the result first.
 */
int sandbox_wait_result(struct sandbox *sb, struct sandbox_result *res)
{
	struct sandbox_report report;
	struct rusage ru;
	size_t got = 0;
	int status;
	pid_t pid;

	memset(res, 0, sizeof *res);
	res->outcome = SANDBOX_INTERNAL_ERROR;
	res->exit_code = -1;
	if (sb->pid <= 0) {
		snprintf(res->message, sizeof res->message, "the sandbox was not started");
		return -1;
	}
	/* init holds the only write end: a whole report, or EOF once it is gone */
	while (sb->report_fd >= 0 && got < sizeof report) {
		ssize_t n = read(sb->report_fd, (char *)&report + got, sizeof report - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	sandbox_close(&sb->report_fd);

	if (got == sizeof report && report.outcome >= SANDBOX_EXITED
	    && report.outcome <= SANDBOX_INTERNAL_ERROR) {
		report.message[sizeof report.message - 1] = '\0';
		res->outcome = (enum sandbox_outcome)report.outcome;
		res->cpu_seconds = report.cpu_seconds;
		res->memory_peak_bytes = report.memory_peak_bytes;
		if (res->outcome == SANDBOX_EXITED) {
			if (WIFEXITED(report.wait_status))
				res->exit_code = WEXITSTATUS(report.wait_status);
			else if (WIFSIGNALED(report.wait_status))
				res->term_signal = WTERMSIG(report.wait_status);
		} else {
			snprintf(res->message, sizeof res->message, "%s", report.message);
		}
		sandbox_cgroup_figures(sb, res);
		return 0;
	}
	while ((pid = wait4(sb->pid, &status, __WALL, &ru)) < 0 && errno == EINTR)
		;
	if (pid < 0) {
		snprintf(res->message, sizeof res->message, "cannot wait for the sandbox: %s",
			 strerror(errno));
		return -1;
	}
	sb->pid = -1;
	res->cpu_seconds = sandbox_rusage_cpu(&ru);
	res->memory_peak_bytes = (int64_t)ru.ru_maxrss * 1024;
	if (WIFSIGNALED(status)) {
		res->outcome = SANDBOX_EXITED;
		res->term_signal = WTERMSIG(status);
	} else {
		snprintf(res->message, sizeof res->message,
			 "the sandbox's init ended without a report (exit status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	sandbox_cgroup_figures(sb, res);
	return 0;
}

void sandbox_reap(struct sandbox *sb)
{
	if (sb->pid <= 0)
		return;
	while (waitpid(sb->pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	sb->pid = -1;
}

int sandbox_wait(struct sandbox *sb, struct sandbox_result *res)
{
	int rc = sandbox_wait_result(sb, res);

	sandbox_reap(sb);
	return rc;
}
