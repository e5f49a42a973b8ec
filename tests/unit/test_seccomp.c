/*
 * The job's seccomp policy (runner/seccomp_filter.c, runner/seccomp_policy.c).
 * The filter is built once; each check forks a child that applies it and
 * then does one thing, and the parent looks at how the child ended: exit 0
 * for an allowed call, SIGSYS for a killed one, or the documented errno.
 * Every call expected to die is given arguments that would make it fail
 * harmlessly if the filter let it through (the test runs as root: a
 * reboot that slipped through must still do nothing). Last, the real
 * runtimes start under the filter and print "ok"; one that is not
 * installed is a visible skip. Root is not needed: no_new_privs suffices.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include "seccomp_filter.h"
#include "tap.h"

/* A child still running after this long is a hung check: SIGALRM ends it. */
#define TEST_CHILD_TIMEOUT_S 60

/* Output kept from a runtime: far more than "ok\n". */
#define TEST_OUTPUT_MAX 4096

/* x86-64's x32 ABI marker on the system call number (asm/unistd.h). */
#define TEST_X32_SYSCALL_BIT 0x40000000L

/* getpid in the i386 ABI. */
#define TEST_I386_NR_GETPID 20L

/* Exit codes a child uses to tell the parent what went wrong. */
#define CHILD_APPLY_FAILED 100
#define CHILD_WRONG_RESULT 101

static struct seccomp_program program;
static char scratch_dir[64];

/* ------------------------------------------------------------------ */
/* Running one check in a filtered child.                              */

typedef int (*check_fn)(void);

/* Forks; the child applies the filter (or, with one_shot, builds and
 * loads it itself) and exits with fn's result. Returns the wait status. */
static int run_filtered(check_fn fn, bool one_shot)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		char err[256];

		alarm(TEST_CHILD_TIMEOUT_S);
		if ((one_shot ? seccomp_policy_load(err, sizeof err)
			      : seccomp_program_apply(&program, err, sizeof err)) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(CHILD_APPLY_FAILED);
		}
		_exit(fn());
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static void describe(int status)
{
	char line[96];

	if (status == -1)
		snprintf(line, sizeof line, "cannot fork or wait: %s", strerror(errno));
	else if (WIFEXITED(status))
		snprintf(line, sizeof line, "child exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(line, sizeof line, "child killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(line, sizeof line, "child status %#x", (unsigned)status);
	diag(line);
}

static void expect_allowed(check_fn fn, const char *what)
{
	int status = run_filtered(fn, false);

	if (!ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "allowed: %s", what))
		describe(status);
}

static void expect_killed(check_fn fn, const char *what)
{
	int status = run_filtered(fn, false);

	if (!ok(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "killed: %s", what))
		describe(status);
}

/* fn returns 0 when its call failed with the documented errno. */
static void expect_errno(check_fn fn, const char *what)
{
	int status = run_filtered(fn, false);

	if (!ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "refused with an errno: %s", what))
		describe(status);
}

static int failed_with(long rc, int want)
{
	return rc == -1 && errno == want ? 0 : CHILD_WRONG_RESULT;
}

/* ------------------------------------------------------------------ */
/* Allowed.                                                            */

static int do_write(void)
{
	return write(STDOUT_FILENO, "", 0) == 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_pipe(void)
{
	int fds[2];
	char c = 0;

	if (pipe2(fds, O_CLOEXEC) < 0 || write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1)
		return CHILD_WRONG_RESULT;
	close(fds[0]);
	close(fds[1]);
	return c == 'x' ? 0 : CHILD_WRONG_RESULT;
}

/* glibc's fork() is clone(SIGCHLD | CLONE_CHILD_*): no namespace flags */
static int do_fork_wait(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return CHILD_WRONG_RESULT;
	if (pid == 0)
		_exit(7);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
		return CHILD_WRONG_RESULT;
	return 0;
}

static int do_raw_clone(void)
{
	int status;
	long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);

	if (pid < 0)
		return CHILD_WRONG_RESULT;
	if (pid == 0)
		_exit(0);
	return waitpid((pid_t)pid, &status, 0) == pid && WIFEXITED(status) ? 0 : CHILD_WRONG_RESULT;
}

static int do_mmap(void)
{
	size_t len = 1 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return CHILD_WRONG_RESULT;
	memset(p, 1, len);
	if (mprotect(p, len, PROT_READ) < 0 || munmap(p, len) < 0)
		return CHILD_WRONG_RESULT;
	return 0;
}

static void *thread_main(void *arg)
{
	return arg;
}

/* glibc tries clone3 first (ENOSYS here), then clone without namespace flags */
static int do_threads(void)
{
	pthread_t t;
	void *ret = NULL;
	int marker;

	if (pthread_create(&t, NULL, thread_main, &marker) != 0 || pthread_join(t, &ret) != 0)
		return CHILD_WRONG_RESULT;
	return ret == &marker ? 0 : CHILD_WRONG_RESULT;
}

static int do_clock(void)
{
	struct timespec ts;
	struct timespec nap = { 0, 1000 };

	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0 || nanosleep(&nap, NULL) < 0)
		return CHILD_WRONG_RESULT;
	return 0;
}

static int do_getrandom(void)
{
	char buf[16];

	return syscall(SYS_getrandom, buf, sizeof buf, 0) == (long)sizeof buf ? 0 : CHILD_WRONG_RESULT;
}

static int do_exec_true(void)
{
	char *const argv[] = { "true", NULL };

	execv("/bin/true", argv);
	return CHILD_WRONG_RESULT;
}

static int do_socket_inet(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	return fd >= 0 && fd6 >= 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_socket_high_bits(void)
{
	/* the kernel reads an int: the stray upper half must not matter either way */
	long fd = syscall(SYS_socket, (1L << 32) | AF_UNIX, (long)SOCK_STREAM, 0L);

	return fd >= 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_socketpair_unix(void)
{
	int sv[2];

	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_netlink_route(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) >= 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_ioctl_tty_probe(void)
{
	int fds[2], n = 0;

	if (pipe(fds) < 0)
		return CHILD_WRONG_RESULT;
	/* a pipe is no terminal: isatty() says so through TCGETS */
	if (isatty(fds[0]) || errno != ENOTTY || ioctl(fds[0], FIONREAD, &n) < 0)
		return CHILD_WRONG_RESULT;
	return 0;
}

static int do_personality_query(void)
{
	return personality(0xffffffff) >= 0 && personality(PER_LINUX) >= 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_prctl_name(void)
{
	char name[16];

	if (prctl(PR_SET_NAME, "sandrun-test", 0, 0, 0) < 0 || prctl(PR_GET_NAME, name, 0, 0, 0) < 0)
		return CHILD_WRONG_RESULT;
	return strcmp(name, "sandrun-test") == 0 ? 0 : CHILD_WRONG_RESULT;
}

static int do_own_rlimit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || setrlimit(RLIMIT_NOFILE, &rl) < 0
	    || prlimit(0, RLIMIT_STACK, NULL, &rl) < 0)
		return CHILD_WRONG_RESULT;
	return 0;
}

static int do_mkfifo(void)
{
	char path[128];

	snprintf(path, sizeof path, "%s/fifo-%d", scratch_dir, (int)getpid());
	if (mkfifo(path, 0600) < 0 || unlink(path) < 0)
		return CHILD_WRONG_RESULT;
	return 0;
}

static int do_files(void)
{
	char path[128], other[128];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "%s/file-%d", scratch_dir, (int)getpid());
	snprintf(other, sizeof other, "%s/renamed-%d", scratch_dir, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) < 0 || fstat(fd, &st) < 0 || close(fd) < 0
	    || chmod(path, 0644) < 0 || rename(path, other) < 0 || unlink(other) < 0)
		return CHILD_WRONG_RESULT;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Killed. Arguments chosen so that each would fail harmlessly anyway. */

static int do_mount(void)
{
	mount("none", "/nonexistent-sandrun", "tmpfs", 0, NULL);
	return 0;
}

static int do_umount2(void)
{
	umount2("/nonexistent-sandrun", 0);
	return 0;
}

static int do_fsopen(void)
{
	syscall(SYS_fsopen, "sandrun-no-such-fs", 0);
	return 0;
}

static int do_unshare_user(void)
{
	unshare(CLONE_NEWUSER);
	return 0;
}

static int do_unshare_mount(void)
{
	unshare(CLONE_NEWNS);
	return 0;
}

static int do_setns(void)
{
	setns(-1, 0);
	return 0;
}

static int do_ptrace(void)
{
	syscall(SYS_ptrace, 0L /* PTRACE_TRACEME */, 0L, 0L, 0L);
	return 0;
}

static int do_bpf(void)
{
	syscall(SYS_bpf, -1L, NULL, 0L);
	return 0;
}

static int do_keyctl(void)
{
	syscall(SYS_keyctl, -1L, 0L, 0L, 0L, 0L);
	return 0;
}

static int do_add_key(void)
{
	syscall(SYS_add_key, NULL, NULL, NULL, 0L, 0L);
	return 0;
}

static int do_request_key(void)
{
	syscall(SYS_request_key, NULL, NULL, NULL, 0L);
	return 0;
}

static int do_perf_event_open(void)
{
	syscall(SYS_perf_event_open, NULL, 0L, -1L, -1L, 0L);
	return 0;
}

static int do_userfaultfd(void)
{
	syscall(SYS_userfaultfd, -1L);
	return 0;
}

static int do_io_uring_enter(void)
{
	syscall(SYS_io_uring_enter, -1L, 0L, 0L, 0L, NULL, 0L);
	return 0;
}

static int do_io_uring_register(void)
{
	syscall(SYS_io_uring_register, -1L, 0L, NULL, 0L);
	return 0;
}

static int do_kexec_load(void)
{
	syscall(SYS_kexec_load, 0L, 0L, NULL, 0xffffffffL);
	return 0;
}

static int do_kexec_file_load(void)
{
	syscall(SYS_kexec_file_load, -1L, -1L, 0L, NULL, 0xffffffffL);
	return 0;
}

static int do_init_module(void)
{
	syscall(SYS_init_module, NULL, 0L, "");
	return 0;
}

static int do_finit_module(void)
{
	syscall(SYS_finit_module, -1L, "", 0L);
	return 0;
}

static int do_delete_module(void)
{
	syscall(SYS_delete_module, "sandrun_no_such_module", (long)O_NONBLOCK);
	return 0;
}

static int do_open_by_handle_at(void)
{
	syscall(SYS_open_by_handle_at, -1L, NULL, 0L);
	return 0;
}

static int do_name_to_handle_at(void)
{
	syscall(SYS_name_to_handle_at, -1L, "", NULL, NULL, 0L);
	return 0;
}

static int do_personality_linux32(void)
{
	personality(PER_LINUX32);
	return 0;
}

static int do_personality_read_implies_exec(void)
{
	personality(PER_LINUX | READ_IMPLIES_EXEC);
	return 0;
}

static int do_personality_high_bits(void)
{
	/* PER_LINUX32 with stray upper bits: the kernel would read PER_LINUX32 */
	syscall(SYS_personality, (1L << 32) | PER_LINUX32);
	return 0;
}

/* CLONE_THREAD without CLONE_SIGHAND: EINVAL if the filter let it through */
static int clone_with(unsigned long ns_flag)
{
	syscall(SYS_clone, ns_flag | CLONE_THREAD | SIGCHLD, NULL, NULL, NULL, 0UL);
	return 0;
}

static int do_clone_newns(void)
{
	return clone_with(CLONE_NEWNS);
}

static int do_clone_newuser(void)
{
	return clone_with(CLONE_NEWUSER);
}

static int do_clone_newpid(void)
{
	return clone_with(CLONE_NEWPID);
}

static int do_clone_newnet(void)
{
	return clone_with(CLONE_NEWNET);
}

static int do_reboot(void)
{
	syscall(SYS_reboot, 0L, 0L, 0L, NULL);         /* bad magic: EINVAL */
	return 0;
}

static int do_swapon(void)
{
	syscall(SYS_swapon, "/nonexistent-sandrun", 0L);
	return 0;
}

static int do_pivot_root(void)
{
	syscall(SYS_pivot_root, "/nonexistent-sandrun", "/nonexistent-sandrun");
	return 0;
}

static int do_chroot(void)
{
	syscall(SYS_chroot, "/nonexistent-sandrun");
	return 0;
}

static int do_acct(void)
{
	syscall(SYS_acct, "/nonexistent-sandrun");
	return 0;
}

static int do_settimeofday(void)
{
	syscall(SYS_settimeofday, NULL, NULL);          /* sets nothing */
	return 0;
}

static int do_clock_settime(void)
{
	syscall(SYS_clock_settime, -1L, NULL);
	return 0;
}

static int do_syslog(void)
{
	syscall(SYS_syslog, 10L /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0L);
	return 0;
}

static int do_quotactl(void)
{
	syscall(SYS_quotactl, 0L, NULL, 0L, NULL);
	return 0;
}

static int do_iopl(void)
{
	syscall(SYS_iopl, 0L);
	return 0;
}

static int do_ioperm(void)
{
	syscall(SYS_ioperm, 0L, 0L, 0L);
	return 0;
}

static int do_process_vm_readv(void)
{
	syscall(SYS_process_vm_readv, (long)getpid(), NULL, 0L, NULL, 0L, 0L);
	return 0;
}

static int do_kcmp(void)
{
	syscall(SYS_kcmp, (long)getpid(), (long)getpid(), -1L, 0L, 0L);
	return 0;
}

static int do_fanotify_init(void)
{
	syscall(SYS_fanotify_init, 0xffffffffL, 0L);
	return 0;
}

static int do_lookup_dcookie(void)
{
	syscall(SYS_lookup_dcookie, 0L, NULL, 0L);
	return 0;
}

static int do_move_pages(void)
{
	syscall(SYS_move_pages, -1L, 0L, NULL, NULL, NULL, 0L);
	return 0;
}

static int do_migrate_pages(void)
{
	syscall(SYS_migrate_pages, -1L, 0L, NULL, NULL);
	return 0;
}

static int do_vmsplice(void)
{
	syscall(SYS_vmsplice, -1L, NULL, 0L, 0L);
	return 0;
}

static int do_modify_ldt(void)
{
	syscall(SYS_modify_ldt, 0L, NULL, 0L);
	return 0;
}

static int do_seccomp(void)
{
	syscall(SYS_seccomp, -1L, 0L, NULL);
	return 0;
}

/* what a session agent's child does: keep only the effective uid */
static int do_setresuid_drop(void)
{
	uid_t e = geteuid();

	return syscall(SYS_setresuid, (long)e, (long)e, (long)e) == 0 ? 0 : 1;
}

static int do_setuid(void)
{
	syscall(SYS_setuid, (long)getuid());
	return 0;
}

static int do_socket_packet(void)
{
	socket(AF_PACKET, SOCK_RAW, 0);
	return 0;
}

static int do_socket_alg(void)
{
	socket(AF_ALG, SOCK_SEQPACKET, 0);
	return 0;
}

static int do_socket_sctp(void)
{
	socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
	return 0;
}

static int do_socketpair_inet(void)
{
	int sv[2];

	socketpair(AF_INET, SOCK_STREAM, 0, sv);
	return 0;
}

static int do_prctl_set_mm(void)
{
	prctl(PR_SET_MM, -1L, 0L, 0L, 0L);
	return 0;
}

static int do_prctl_seccomp(void)
{
	prctl(PR_SET_SECCOMP, -1L, 0L, 0L, 0L);
	return 0;
}

static int do_prlimit_other(void)
{
	struct rlimit rl;

	prlimit(getppid(), RLIMIT_NOFILE, NULL, &rl);
	return 0;
}

static int do_mknod_char(void)
{
	char path[128];

	snprintf(path, sizeof path, "%s/null-%d", scratch_dir, (int)getpid());
	mknod(path, S_IFCHR | 0600, makedev(1, 3));
	unlink(path);
	return 0;
}

static void *thread_mount(void *arg)
{
	mount("none", "/nonexistent-sandrun", "tmpfs", 0, NULL);
	return arg;
}

/* kill-process, not kill-thread: the thread's call ends the whole process */
static int do_thread_mount(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_mount, NULL) != 0)
		return CHILD_WRONG_RESULT;
	pthread_join(t, NULL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The documented errnos.                                              */

static int do_clone3(void)
{
	return failed_with(syscall(SYS_clone3, NULL, 0L), ENOSYS);
}

static int do_io_uring_setup(void)
{
	return failed_with(syscall(SYS_io_uring_setup, 0L, NULL), ENOSYS);
}

static int do_get_mempolicy(void)
{
	int mode;

	return failed_with(syscall(SYS_get_mempolicy, &mode, NULL, 0L, NULL, 0L), ENOSYS);
}

static int do_set_mempolicy(void)
{
	return failed_with(syscall(SYS_set_mempolicy, 0L, NULL, 0L), ENOSYS);
}

static int do_mbind(void)
{
	return failed_with(syscall(SYS_mbind, NULL, 0L, 0L, NULL, 0L, 0L), ENOSYS);
}

static int do_netlink_audit(void)
{
	return failed_with(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT), EPERM);
}

/* ------------------------------------------------------------------ */
/* The other ABIs.                                                     */

/* getpid through the i386 entry point, from this 64-bit process */
static long int80_getpid(void)
{
	long ret;

	__asm__ volatile ("int $0x80" : "=a"(ret) : "a"(TEST_I386_NR_GETPID)
			  : "memory", "cc", "r8", "r9", "r10", "r11");
	return ret;
}

static int do_int80(void)
{
	int80_getpid();
	return 0;
}

static int do_x32_getpid(void)
{
	syscall(TEST_X32_SYSCALL_BIT | SYS_getpid);
	return 0;
}

static void *thread_x32(void *arg)
{
	syscall(TEST_X32_SYSCALL_BIT | SYS_getpid);
	return arg;
}

static int do_thread_x32(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_x32, NULL) != 0)
		return CHILD_WRONG_RESULT;
	pthread_join(t, NULL);
	return 0;
}

/* Does this kernel run i386 code at all (CONFIG_IA32_EMULATION, and not
 * ia32_emulation=0)? Without it `int $0x80` faults before seccomp sees it. */
static bool kernel_has_ia32(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(int80_getpid() == (long)getpid() ? 0 : 1);
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_other_abis(void)
{
	if (kernel_has_ia32())
		expect_killed(do_int80, "int $0x80 (the i386 ABI) from a 64-bit process");
	else
		printf("ok %d - # SKIP the kernel runs no i386 code (int $0x80 faults before seccomp)\n",
		       ++tap_count);
	expect_killed(do_x32_getpid, "getpid with the x32 bit (the x32 ABI)");
	expect_killed(do_thread_x32, "an x32 call in a thread kills the whole process");
}

/* ------------------------------------------------------------------ */
/* The policy table.                                                   */

static void test_table(void)
{
	char err[1024];
	int problems = seccomp_policy_check(err, sizeof err);

	if (!ok(problems == 0, "every name in the policy resolves, none is listed twice"))
		diag(err);
	ok(seccomp_policy_group_count > 0 && seccomp_policy_rule_count > 0, "the policy has groups and rules");
	ok(program.filter != NULL && program.len > 0 && program.len < 4096,
	   "the compiled filter fits the kernel's limit (%u instructions)", (unsigned)program.len);
}

static void test_one_shot(void)
{
	int status = run_filtered(do_pipe, true);

	if (!ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "seccomp_policy_load: allowed calls work"))
		describe(status);
	status = run_filtered(do_mount, true);
	if (!ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "seccomp_policy_load: mount is killed"))
		describe(status);
}

static void test_apply_without_program(void)
{
	struct seccomp_program empty = { NULL, 0 };
	char err[256] = "";

	ok(seccomp_program_apply(&empty, err, sizeof err) == -1 && err[0] != '\0',
	   "applying an empty program fails with a sentence");
}

/* ------------------------------------------------------------------ */
/* Real runtimes under the filter.                                     */

/* Runs argv under the filter; true when it exits 0 having printed exactly
 * want on stdout (stderr passes through to the test log). */
static void expect_runtime(const char *what, const char *const *argv, const char *want)
{
	char out[TEST_OUTPUT_MAX];
	size_t got = 0;
	int fds[2], status;
	pid_t pid;

	if (access(argv[0], X_OK) < 0) {
		printf("ok %d - # SKIP %s: %s not installed\n", ++tap_count, what, argv[0]);
		return;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		ok(0, "%s: cannot make a pipe", what);
		return;
	}
	pid = fork();
	if (pid == 0) {
		char err[256];

		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(CHILD_WRONG_RESULT);
		alarm(TEST_CHILD_TIMEOUT_S);
		if (seccomp_program_apply(&program, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(CHILD_APPLY_FAILED);
		}
		execv(argv[0], (char *const *)argv);
		_exit(CHILD_WRONG_RESULT);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], out + got, sizeof out - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof out - 1)
			break;
	}
	out[got] = '\0';
	close(fds[0]);
	status = -1;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!ok(pid > 0 && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0
		&& strcmp(out, want) == 0, "runtime under the filter: %s", what)) {
		describe(status);
		printf("#   output: '%s'\n", out);
	}
}

static void test_runtimes(void)
{
	static const char *const python[] = { "/usr/bin/python3", "-c",
		"import os, socket, threading, subprocess, json, hashlib, ssl, multiprocessing.pool; "
		"print('ok')", NULL };
	static const char *const python_busy[] = { "/usr/bin/python3", "-c",
		"import os, socket, threading, subprocess, tempfile, shutil, asyncio\n"
		"d = tempfile.mkdtemp(); open(d + '/a', 'w').write('x')\n"
		"shutil.copy2(d + '/a', d + '/b'); os.mkfifo(d + '/f'); shutil.rmtree(d)\n"
		"subprocess.run(['/bin/true'], check=True)\n"
		"t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
		"a, b = socket.socketpair(); a.send(b'x'); assert b.recv(1) == b'x'\n"
		"socket.getaddrinfo('localhost', 80); socket.if_nameindex()\n"
		"asyncio.run(asyncio.sleep(0))\n"
		"print('ok')", NULL };
	static const char *const node[] = { "/usr/bin/node", "-e",
		"require('fs'); require('child_process').execSync('true'); console.log('ok')", NULL };
	static const char *const node_busy[] = { "/usr/bin/node", "-e",
		"const fs = require('fs'), os = require('os');"
		"const { Worker } = require('worker_threads');"
		"os.networkInterfaces(); require('crypto').randomBytes(8);"
		"fs.promises.readFile('/proc/self/status').then(() => {"
		"  new Worker('1', { eval: true }).on('exit', () => {"
		"    require('dns').lookup('localhost', () => console.log('ok')); }); });", NULL };
	static const char *const bash[] = { "/bin/bash", "-c", "x=$(echo ok); echo $x", NULL };
	static const char *const perl[] = { "/usr/bin/perl", "-e", "print \"ok\\n\"", NULL };
	static const char *const sh[] = { "/bin/sh", "-c", "echo ok | cat", NULL };
	static const char *const ruby[] = { "/usr/bin/ruby", "-e",
		"t = Thread.new { 1 }; t.join; puts `echo ok`", NULL };
	static const char *const rscript[] = { "/usr/bin/Rscript", "-e",
		"x <- system('echo ok', intern = TRUE); cat(x, '\\n', sep = '')", NULL };
	static const char *const php[] = { "/usr/bin/php", "-r", "echo shell_exec('echo ok');", NULL };
	static const char *const java[] = { "/usr/bin/java", "-Xshare:auto", "-XX:+UseSerialGC",
		"-version", NULL };

	expect_runtime("python3 (the standard modules)", python, "ok\n");
	expect_runtime("python3 (files, subprocess, threads, sockets, asyncio)", python_busy, "ok\n");
	expect_runtime("node (child_process)", node, "ok\n");
	expect_runtime("node (worker, fs.promises, networkInterfaces, dns)", node_busy, "ok\n");
	expect_runtime("bash", bash, "ok\n");
	expect_runtime("perl", perl, "ok\n");
	expect_runtime("sh with a pipeline", sh, "ok\n");
	expect_runtime("ruby (a thread, a subshell)", ruby, "ok\n");
	expect_runtime("Rscript (system())", rscript, "ok\n");
	expect_runtime("php (shell_exec)", php, "ok\n");
	expect_runtime("java -version (the JVM starting)", java, "");
}

int main(void)
{
	char err[256];

	snprintf(scratch_dir, sizeof scratch_dir, "/tmp/sandrun-seccomp-XXXXXX");
	if (mkdtemp(scratch_dir) == NULL) {
		printf("Bail out! cannot make a scratch directory: %s\n", strerror(errno));
		return 1;
	}
	if (!ok(seccomp_program_build(&program, err, sizeof err) == 0, "the filter builds")) {
		diag(err);
		rmdir(scratch_dir);
		return done_testing();
	}
	test_table();

	expect_allowed(do_write, "write");
	expect_allowed(do_pipe, "a pipe");
	expect_allowed(do_fork_wait, "fork and wait");
	expect_allowed(do_raw_clone, "clone without namespace flags");
	expect_allowed(do_mmap, "mmap, mprotect, munmap");
	expect_allowed(do_threads, "pthread_create (clone3 falls back to clone)");
	expect_allowed(do_clock, "clock_gettime, nanosleep");
	expect_allowed(do_getrandom, "getrandom");
	expect_allowed(do_exec_true, "execve /bin/true");
	expect_allowed(do_files, "open, write, fsync, chmod, rename, unlink");
	expect_allowed(do_socket_inet, "TCP and UDP sockets (IPv4, IPv6)");
	expect_allowed(do_socket_high_bits, "socket with stray upper bits in an int argument");
	expect_allowed(do_socketpair_unix, "socketpair(AF_UNIX)");
	expect_allowed(do_netlink_route, "a route netlink socket");
	expect_allowed(do_ioctl_tty_probe, "ioctl: isatty, FIONREAD");
	expect_allowed(do_personality_query, "personality: query, PER_LINUX");
	expect_allowed(do_prctl_name, "prctl: PR_SET_NAME, PR_GET_NAME");
	expect_allowed(do_own_rlimit, "getrlimit, setrlimit, prlimit on itself");
	expect_allowed(do_mkfifo, "mkfifo");

	expect_killed(do_mount, "mount");
	expect_killed(do_umount2, "umount2");
	expect_killed(do_fsopen, "fsopen (the new mount API)");
	expect_killed(do_unshare_user, "unshare(CLONE_NEWUSER)");
	expect_killed(do_unshare_mount, "unshare(CLONE_NEWNS)");
	expect_killed(do_setns, "setns");
	expect_killed(do_ptrace, "ptrace(PTRACE_TRACEME)");
	expect_killed(do_bpf, "bpf");
	expect_killed(do_keyctl, "keyctl");
	expect_killed(do_add_key, "add_key");
	expect_killed(do_request_key, "request_key");
	expect_killed(do_perf_event_open, "perf_event_open");
	expect_killed(do_userfaultfd, "userfaultfd");
	expect_killed(do_io_uring_enter, "io_uring_enter");
	expect_killed(do_io_uring_register, "io_uring_register");
	expect_killed(do_kexec_load, "kexec_load");
	expect_killed(do_kexec_file_load, "kexec_file_load");
	expect_killed(do_init_module, "init_module");
	expect_killed(do_finit_module, "finit_module");
	expect_killed(do_delete_module, "delete_module");
	expect_killed(do_open_by_handle_at, "open_by_handle_at");
	expect_killed(do_name_to_handle_at, "name_to_handle_at");
	expect_killed(do_personality_linux32, "personality(PER_LINUX32)");
	expect_killed(do_personality_read_implies_exec, "personality(READ_IMPLIES_EXEC)");
	expect_killed(do_personality_high_bits, "personality(PER_LINUX32) with stray upper bits");
	expect_killed(do_clone_newns, "clone(CLONE_NEWNS)");
	expect_killed(do_clone_newuser, "clone(CLONE_NEWUSER)");
	expect_killed(do_clone_newpid, "clone(CLONE_NEWPID)");
	expect_killed(do_clone_newnet, "clone(CLONE_NEWNET)");
	expect_killed(do_reboot, "reboot");
	expect_killed(do_swapon, "swapon");
	expect_killed(do_pivot_root, "pivot_root");
	expect_killed(do_chroot, "chroot");
	expect_killed(do_acct, "acct");
	expect_killed(do_settimeofday, "settimeofday");
	expect_killed(do_clock_settime, "clock_settime");
	expect_killed(do_syslog, "syslog");
	expect_killed(do_quotactl, "quotactl");
	expect_killed(do_iopl, "iopl");
	expect_killed(do_ioperm, "ioperm");
	expect_killed(do_modify_ldt, "modify_ldt");
	expect_killed(do_process_vm_readv, "process_vm_readv");
	expect_killed(do_kcmp, "kcmp");
	expect_killed(do_fanotify_init, "fanotify_init");
	expect_killed(do_lookup_dcookie, "lookup_dcookie");
	expect_killed(do_move_pages, "move_pages");
	expect_killed(do_migrate_pages, "migrate_pages");
	expect_killed(do_vmsplice, "vmsplice");
	expect_killed(do_seccomp, "seccomp (no filters of its own)");
	expect_killed(do_setuid, "setuid");
	expect_allowed(do_setresuid_drop, "setresuid to the ids it has (a session agent's child dropping the agent's uid)");
	expect_killed(do_socket_packet, "socket(AF_PACKET)");
	expect_killed(do_socket_alg, "socket(AF_ALG)");
	expect_killed(do_socket_sctp, "socket(AF_INET, IPPROTO_SCTP)");
	expect_killed(do_socketpair_inet, "socketpair(AF_INET)");
	expect_killed(do_prctl_set_mm, "prctl(PR_SET_MM)");
	expect_killed(do_prctl_seccomp, "prctl(PR_SET_SECCOMP)");
	expect_killed(do_prlimit_other, "prlimit on another process");
	expect_killed(do_mknod_char, "mknod of a character device");
	expect_killed(do_thread_mount, "a killed call in a thread kills the whole process");

	expect_errno(do_clone3, "clone3 -> ENOSYS (glibc falls back to clone)");
	expect_errno(do_io_uring_setup, "io_uring_setup -> ENOSYS (libuv falls back)");
	expect_errno(do_get_mempolicy, "get_mempolicy -> ENOSYS (libnuma: no NUMA)");
	expect_errno(do_set_mempolicy, "set_mempolicy -> ENOSYS");
	expect_errno(do_mbind, "mbind -> ENOSYS");
	expect_errno(do_netlink_audit, "socket(AF_NETLINK, NETLINK_AUDIT) -> EPERM");

	test_other_abis();
	test_one_shot();
	test_apply_without_program();
	test_runtimes();

	seccomp_program_free(&program);
	rmdir(scratch_dir);
	return done_testing();
}
