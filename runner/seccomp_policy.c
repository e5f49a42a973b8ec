/*
 * The job's system-call policy, as data (read by seccomp_filter.c).
 *
 * Default: kill the whole process (SIGSYS). What is allowed is what the
 * runtimes we host need -- python3, node, bash/sh, perl, ruby, R, php, the
 * JDK -- measured with `strace -f` on each, plus the ordinary POSIX calls a
 * user's program in them makes (files, processes, signals, time, sockets).
 * What is not here is the kernel's larger attack surface, which no job
 * needs: mount and the new mount API, unshare/setns and namespace flags on
 * clone, ptrace and process_vm_*, bpf, perf_event_open, userfaultfd,
 * io_uring, keyctl/add_key/request_key, kexec_*, *_module, open_by_handle_at,
 * personality changes, SysV IPC and POSIX message queues, NUMA page moving,
 * time setting, swap, reboot, quotas, accounting, the raw port I/O calls
 * and the 32-bit ABIs (seccomp_filter.c kills those at the architecture check).
 *
 * Three kinds of entries:
 *   groups  allowed outright, each with the reason it is needed;
 *   rules   allowed only for some arguments (clone without namespace
 *           flags, socket for a few families, prctl for a few options...);
 *   errnos  answered with an errno instead of a kill, because runtimes
 *           probe them and go on without (clone3, io_uring_setup, NUMA).
 * Every errno choice says which runtime probes and what it does instead.
 *
 * A call missing here that a runtime turns out to need shows up as a job
 * killed by SIGSYS: run the runtime under `strace -f` outside the sandbox,
 * find the call, and add it to the group whose reason fits (or to a new
 * group with its own reason) -- never to "misc".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* CLONE_NEW* */
#endif
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include "seccomp_filter.h"

#define SYSCALLS(...) ((const char *const[]){ __VA_ARGS__, NULL })

const struct seccomp_group seccomp_policy_groups[] = {
	/* exec and exit: the job's program starting and ending (execveat is
	 * fexecve); threads end with exit, processes with exit_group */
	{ "exec and exit", SYSCALLS("execve", "execveat", "exit", "exit_group") },

	/* start-up: what the dynamic loader and libc do before main --
	 * thread-local storage (arch_prctl also grants AMX state, acting on
	 * the caller alone), the robust-futex list, restartable sequences */
	{ "start-up", SYSCALLS("arch_prctl", "set_tid_address", "set_robust_list", "rseq") },

	/* memory: every runtime's allocator and garbage collector, the loader
	 * mapping libraries, JIT code pages (node, the JDK); memory protection
	 * keys, which V8 probes for and uses to guard its JIT memory where the
	 * CPU has them; mlock for libsodium and GnuPG keeping secrets out of
	 * swap (bounded by RLIMIT_MEMLOCK); memfd_create for an anonymous file
	 * counted against the job's memory like any tmpfs page */
	{ "memory", SYSCALLS("brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync",
			     "mlock", "mlock2", "munlock",
			     "pkey_alloc", "pkey_free", "pkey_mprotect", "memfd_create") },

	/* threads: every runtime is multi-threaded (node's and the JDK's
	 * workers, python's threading, R's and OpenMP's pools); clone itself is
	 * a rule below. Affinity: libuv and the JDK size their pools by it,
	 * OpenMP pins threads (the cgroup's cpuset still bounds them). The
	 * scheduler queries are read-only (python's os.sched_*, thread
	 * libraries). Setting a policy is allowed because libzmq's threads set
	 * SCHED_OTHER as they start (Jupyter kernels die without it); without
	 * CAP_SYS_NICE the kernel refuses real-time policies and raised
	 * priorities, so a job can only ask for what it already has or less */
	{ "threads", SYSCALLS("futex", "gettid", "sched_yield", "sched_getaffinity",
			      "sched_setaffinity", "sched_getparam", "sched_getscheduler",
			      "sched_setscheduler", "sched_setparam",
			      "sched_get_priority_max", "sched_get_priority_min") },

	/* processes: subprocess, child_process, system(), shell pipelines and
	 * job control; pidfds for python's asyncio child watcher. Signals reach
	 * only the job's own processes: the PID namespace holds nothing else
	 * (its init ignores them, see sandbox.c). setpriority can only lower
	 * the priority without CAP_SYS_NICE */
	{ "processes", SYSCALLS("fork", "vfork", "wait4", "waitid",
				"getpid", "getppid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
				"kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal",
				"getpriority", "setpriority",
				"getrlimit", "setrlimit", "getrusage", "times") },

	/* signals: handlers, masks, alternate stacks (the JDK, ruby, R and
	 * python's faulthandler), waiting for signals, signalfd */
	{ "signals", SYSCALLS("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
			      "rt_sigsuspend", "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
			      "sigaltstack", "pause", "restart_syscall", "signalfd", "signalfd4") },

	/* time: reading clocks (mostly the vDSO, but not always), sleeping,
	 * interval and POSIX timers (ruby's timer thread), timerfds for event
	 * loops. Nothing that sets a clock */
	{ "time", SYSCALLS("clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "time",
			   "nanosleep", "alarm", "getitimer", "setitimer",
			   "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
			   "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime") },

	/* descriptors: reading and writing whatever is open (stdio, files,
	 * pipes, sockets), duplicating, flags, locks, zero-copy copies
	 * (python's shutil uses sendfile, coreutils copy_file_range, Go's
	 * io.Copy splice). ioctl is allowed whole: runtimes probe stdio with
	 * TCGETS/TIOCGWINSZ and set FIONBIO/FIOCLEX; the terminal-injection
	 * commands (TIOCSTI, TIOCLINUX) find no terminal (init has no
	 * controlling tty and /dev holds none, stdio are pipes, a memfd or
	 * /dev/null) -- but in a session's terminal, whose pty is of the
	 * sandbox's own devpts: TIOCSTI there types into the session's own
	 * shell (what its user types anyway), TIOCLINUX is for consoles only;
	 * the terminal needs TIOCSCTTY, TIOCSWINSZ, TIOCGPTN, TIOCSPTLCK --
	 * and libseccomp cannot express "any command but these"
	 * on the 32-bit command the kernel reads. vmsplice is left out: it
	 * lends user pages to a pipe, the 2008 local root, and no runtime uses it */
	{ "descriptors", SYSCALLS("read", "write", "readv", "writev", "pread64", "pwrite64",
				  "preadv", "pwritev", "preadv2", "pwritev2", "lseek",
				  "close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl",
				  "pipe", "pipe2", "flock", "fadvise64", "fsync", "fdatasync",
				  "ftruncate", "fallocate",
				  "sendfile", "copy_file_range", "splice", "tee") },

	/* polling: every event loop -- libuv (node), asyncio, ruby's and the
	 * JDK's selectors; eventfd for wake-ups between threads, inotify for
	 * file watchers (fs.watch) */
	{ "polling", SYSCALLS("poll", "ppoll", "select", "pselect6",
			      "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
			      "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
			      "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch") },

	/* files by path: the job's own tree (a tmpfs) and the read-only
	 * environment; the permission checks are the kernel's, as the job's
	 * unprivileged user. chown without CAP_CHOWN can only pick among the
	 * job's own groups; extended attributes because shutil.copy2, cp -a
	 * and tar copy them (user.* only, without capabilities) */
	{ "files", SYSCALLS("open", "openat", "openat2", "creat",
			    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
			    "access", "faccessat", "faccessat2", "readlink", "readlinkat",
			    "getdents", "getdents64", "getcwd", "chdir", "fchdir",
			    "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
			    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
			    "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
			    "truncate", "umask", "utime", "utimes", "futimesat", "utimensat",
			    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
			    "setxattr", "lsetxattr", "fsetxattr",
			    "removexattr", "lremovexattr", "fremovexattr") },

	/* identity, read-only: who am I (bash, perl, ruby and node check for
	 * setuid-ness at start; node reads its capabilities with capget).
	 * Nothing that changes an identity: the job has one uid and no
	 * capabilities, so there is nothing to change to */
	{ "identity", SYSCALLS("getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
			       "getgroups", "capget") },

	/* identity, given up: a session's agent keeps a real and saved uid of
	 * its own (runner/sandbox.h, agent_uid) that its children drop with
	 * setresuid to the session's uid alone. Without CAP_SETUID setresuid
	 * only picks among the ids a process already has: for a job (one uid)
	 * it changes nothing, and nothing can reach the agent's uid but the
	 * agent itself. setuid, setreuid and the gid calls stay refused */
	{ "identity, given up", SYSCALLS("setresuid") },

	/* system information: uname, sysinfo (runtimes size heaps and pools by
	 * it), the current CPU, and randomness (hash seeds, ssl, uuid) */
	{ "system information", SYSCALLS("uname", "sysinfo", "getcpu", "getrandom") },

	/* sockets, once made (socket and socketpair are rules below): local
	 * IPC (multiprocessing, the JDK's attach socket, glibc asking for nscd)
	 * and TCP/UDP on the loopback. Not a network boundary: the job's
	 * network namespace has only a loopback, and it is down */
	{ "sockets", SYSCALLS("connect", "bind", "listen", "accept", "accept4",
			      "getsockname", "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg",
			      "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt") },
};
const size_t seccomp_policy_group_count = sizeof seccomp_policy_groups / sizeof seccomp_policy_groups[0];

/* An int argument equals v (the kernel ignores the upper 32 bits). */
#define ARG32_IS(n, v) { .arg = (n), .op = SECCOMP_MATCH_MASKED_EQ, .mask = 0xffffffffu, .value = (uint32_t)(v) }
/* None of `bits` is set in the argument. */
#define ARG_HAS_NONE(n, bits) { .arg = (n), .op = SECCOMP_MATCH_MASKED_EQ, .mask = (bits), .value = 0 }
/* A mode argument's file type (S_IFMT bits) is `type`. */
#define ARG_FILE_TYPE_IS(n, type) { .arg = (n), .op = SECCOMP_MATCH_MASKED_EQ, .mask = S_IFMT, .value = (type) }
/* The argument is anything but v. */
#define ARG_IS_NOT(n, v) { .arg = (n), .op = SECCOMP_MATCH_NE, .value = (v) }

#define ALLOW_IF(name, ...) { .syscall = (name), .errno_value = 0, \
	.match_count = sizeof((struct seccomp_match[]){ __VA_ARGS__ }) / sizeof(struct seccomp_match), \
	.match = { __VA_ARGS__ } }
#define ERRNO(name, e) { .syscall = (name), .errno_value = (e), .match_count = 0 }
#define ERRNO_IF(name, e, ...) { .syscall = (name), .errno_value = (e), \
	.match_count = sizeof((struct seccomp_match[]){ __VA_ARGS__ }) / sizeof(struct seccomp_match), \
	.match = { __VA_ARGS__ } }

/* Every namespace flag clone() takes (CLONE_NEWTIME exists only for
 * unshare and clone3: on clone its bit is part of the exit signal). */
#define SECCOMP_CLONE_NAMESPACE_FLAGS ((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS \
	| CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET))

/* The query value of personality(2): returns the persona, changes nothing. */
#define SECCOMP_PERSONALITY_QUERY 0xffffffffu

const struct seccomp_rule seccomp_policy_rules[] = {
	/* clone: fork() and pthread_create() (glibc's fallback from clone3),
	 * posix_spawn's vfork-style clone; never a new namespace -- a user
	 * namespace is where most unprivileged kernel exploits start */
	ALLOW_IF("clone", ARG_HAS_NONE(0, SECCOMP_CLONE_NAMESPACE_FLAGS)),

	/* clone3: ENOSYS, not kill. glibc (2.34+) tries clone3 first for every
	 * thread and posix_spawn and falls back to clone on ENOSYS; node, the
	 * JDK, python and R all start threads that way. clone3 passes its
	 * flags in memory, which seccomp cannot read, so it cannot be filtered
	 * like clone: refusing it moves every caller to clone, which can */
	ERRNO("clone3", ENOSYS),

	/* socket: local sockets, and TCP/UDP (protocol 0 or named) over IPv4
	 * and IPv6 -- made even without a network: glibc asks nscd over a
	 * local socket and getaddrinfo connects a UDP socket to sort
	 * addresses, node and the JDK talk to their children, tests serve on
	 * the loopback. Other protocols of those families are killed: a rare
	 * protocol number makes the kernel autoload its module (SCTP, DCCP) */
	ALLOW_IF("socket", ARG32_IS(0, AF_UNIX), ARG32_IS(2, 0)),
	ALLOW_IF("socket", ARG32_IS(0, AF_INET), ARG32_IS(2, 0)),
	ALLOW_IF("socket", ARG32_IS(0, AF_INET), ARG32_IS(2, IPPROTO_TCP)),
	ALLOW_IF("socket", ARG32_IS(0, AF_INET), ARG32_IS(2, IPPROTO_UDP)),
	ALLOW_IF("socket", ARG32_IS(0, AF_INET6), ARG32_IS(2, 0)),
	ALLOW_IF("socket", ARG32_IS(0, AF_INET6), ARG32_IS(2, IPPROTO_TCP)),
	ALLOW_IF("socket", ARG32_IS(0, AF_INET6), ARG32_IS(2, IPPROTO_UDP)),
	/* route netlink: glibc's getaddrinfo(AI_ADDRCONFIG) and getifaddrs,
	 * node's os.networkInterfaces() and python's if_nameindex() list the
	 * interfaces through it, and node throws if it cannot. Without
	 * CAP_NET_ADMIN it only reads, and the namespace holds one loopback */
	ALLOW_IF("socket", ARG32_IS(0, AF_NETLINK), ARG32_IS(2, NETLINK_ROUTE)),
	/* other netlink protocols: EPERM, not kill. Some libraries probe them
	 * (audit, uevents, sock_diag) and carry on without; generic netlink
	 * autoloads modules by family name, so it stays shut. Every other
	 * family (packet, alg, vsock, bluetooth, ...) is killed */
	ERRNO_IF("socket", EPERM, ARG32_IS(0, AF_NETLINK), ARG_IS_NOT(2, NETLINK_ROUTE)),

	/* socketpair: local pairs only (multiprocessing, libuv, the JDK) */
	ALLOW_IF("socketpair", ARG32_IS(0, AF_UNIX)),

	/* personality: the query and the plain Linux persona only (some
	 * programs read it, or reset it to PER_LINUX). Anything else changes
	 * how the kernel treats the process (READ_IMPLIES_EXEC,
	 * ADDR_NO_RANDOMIZE, PER_LINUX32): killed */
	ALLOW_IF("personality", ARG32_IS(0, SECCOMP_PERSONALITY_QUERY)),
	ALLOW_IF("personality", ARG32_IS(0, PER_LINUX)),

	/* prctl: the options runtimes use, each harmless to the kernel --
	 * thread names (the JDK, node's workers), naming anonymous memory
	 * (php's allocator, glibc 2.38+), transparent huge pages (ruby,
	 * jemalloc), parent-death signals and subreapers (process supervisors),
	 * dumpability (programs guarding secrets), no_new_privs and the
	 * capability / securebits / seccomp queries (libcap, self-checks), and
	 * timer slack. Every other option (PR_SET_MM, PR_SET_SECCOMP, ...) kills */
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_NAME)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_NAME)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_VMA)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_THP_DISABLE)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_THP_DISABLE)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_PDEATHSIG)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_PDEATHSIG)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_CHILD_SUBREAPER)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_CHILD_SUBREAPER)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_DUMPABLE)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_DUMPABLE)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_NO_NEW_PRIVS)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_NO_NEW_PRIVS)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_CAPBSET_READ)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_KEEPCAPS)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_SECUREBITS)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_SECCOMP)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_SET_TIMERSLACK)),
	ALLOW_IF("prctl", ARG32_IS(0, PR_GET_TIMERSLACK)),

	/* prlimit64: the calling process's own limits only (glibc's getrlimit
	 * and setrlimit, bash's ulimit). Raising a hard limit needs
	 * CAP_SYS_RESOURCE anyway; pid 0 keeps a job from lowering init's */
	ALLOW_IF("prlimit64", ARG32_IS(0, 0)),

	/* mknod: FIFOs only (mkfifo, python's os.mkfifo); device nodes need
	 * CAP_MKNOD, which the job lacks, and have no business here */
	ALLOW_IF("mknod", ARG_FILE_TYPE_IS(1, S_IFIFO)),
	ALLOW_IF("mknodat", ARG_FILE_TYPE_IS(2, S_IFIFO)),

	/* io_uring_setup: ENOSYS, not kill. libuv makes rings when its event
	 * loop starts: 1.45-1.48 for file I/O on kernels >= 5.10.186 (node 20
	 * before its February 2024 security release, node 21, uvloop), and
	 * 1.50 on again for batching epoll_ctl (newer node); every version
	 * falls back to plain epoll and its thread pool when setup fails. (The
	 * node 20.20 measured here has it patched out and never asks.) With no
	 * ring ever made, io_uring_enter and io_uring_register have nothing to
	 * act on, and stay killed */
	ERRNO("io_uring_setup", ENOSYS),

	/* NUMA memory policy: ENOSYS, not kill. libnuma's numa_available()
	 * and what is built on it (OpenBLAS, OpenMP runtimes, hwloc, the JDK
	 * with -XX:+UseNUMA) probe get_mempolicy and take ENOSYS for a kernel
	 * without NUMA. A job has no say in memory placement, and mempolicy
	 * code has had its use-after-frees (CVE-2018-10675). move_pages and
	 * migrate_pages act on other processes' pages by pid: killed */
	ERRNO("get_mempolicy", ENOSYS),
	ERRNO("set_mempolicy", ENOSYS),
	ERRNO("mbind", ENOSYS),
};
const size_t seccomp_policy_rule_count = sizeof seccomp_policy_rules / sizeof seccomp_policy_rules[0];
