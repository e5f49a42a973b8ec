/*
 * The cgroup module. First the pure helpers on text fixtures: mountinfo
 * of a pure v2 host, of this project's hybrid CI machine (copied from its
 * /proc/self/mountinfo), of v1 without a freezer, of nothing; the runner's
 * own cgroup from /proc/self/cgroup; flat-keyed statistics files.
 *
 * Then, as root, the real thing on whatever this host has:
 *   - v1 (when the host uses it): a runner parent and a job cgroup, limits
 *     read back from the control files, placement of a process before it
 *     runs, a freezer kill that reaches a double-forked grandchild, CPU
 *     time of a busy child, memory peak, an OOM kill detected, a fork loop
 *     stopped at pids.max, a leftover replaced, nothing left behind;
 *   - v2 wherever a cgroup2 hierarchy is mounted (on a hybrid host the
 *     empty one beside v1, without controllers): CLONE_INTO_CGROUP
 *     placement, cgroup.kill of a double-forked tree, cpu.stat, rmdir, and
 *     a memory limit that fails closed when the controller is missing.
 * What the host cannot do is skipped, saying why.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>        /* struct clone_args, CLONE_INTO_CGROUP */

#include "cgroup.h"
#include "tap.h"

#define MIB (1024 * 1024)

/* Limits of the real v1 job: small enough to hit on purpose. */
#define TEST_MEMORY_BYTES (256LL * MIB)     /* room for the 50 MB peak case */
#define TEST_OOM_BYTES (32LL * MIB)         /* the OOM case allocates twice this */
#define TEST_CPU_QUOTA_US 50000             /* half a core: visibly not the default */
#define TEST_CPU_PERIOD_US 100000
#define TEST_PIDS_MAX 16                    /* a fork loop meets it quickly */

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */

/* This machine (Debian 12, hybrid): every v1 controller mounted on its
 * own, cpu and cpuacct apart, and an empty cgroup2 at .../unified. */
static const char mountinfo_hybrid[] =
	"23 1 0:22 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
	"24 23 0:23 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
	"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
	"38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char proc_cgroup_hybrid[] =
	"9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
	"4:memory:/process_api/499499e73edba34480e7bf37f990c12b\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

/* Debian 12 / Ubuntu 22.04: cgroup2 alone, with the usual optional tag. */
static const char mountinfo_v2[] =
	"22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
	"26 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
	"27 26 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot\n";

static const char proc_cgroup_v2[] = "0::/system.slice/sandrun-runner.service\n";

/* Ubuntu 18.04 style: cpu and cpuacct on one hierarchy, plus unified. */
static const char mountinfo_comounted[] =
	"30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw\n"
	"31 25 0:27 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
	"34 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup rw,cpu,cpuacct\n"
	"35 25 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory\n"
	"36 25 0:32 / /sys/fs/cgroup/pids rw,nosuid shared:17 - cgroup cgroup rw,pids\n"
	"37 25 0:33 / /sys/fs/cgroup/freezer rw,nosuid shared:18 - cgroup cgroup rw,freezer\n";

/* v1 without the freezer: a job's processes could not be killed at once. */
static const char mountinfo_v1_no_freezer[] =
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";

static const char mountinfo_none[] =
	"22 1 259:1 / / rw,relatime - ext4 /dev/root rw\n"
	"24 22 0:23 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n";

/* A container without a cgroup namespace: the host's subtree bound on, a
 * mount point with a space (escaped as \040), then broken lines. */
static const char mountinfo_odd[] =
	"garbage\n"
	"1 2 3\n"
	"50 40 0:26 /docker/abc /mnt/cg\\040v2 rw - cgroup2 cgroup2 rw\n"
	"51 40 0:27 / /other rw - cgroup2 cgroup2 rw\n"
	"52 40 0:28 / /trunc rw - cgroup\n";

static void test_detection_fixtures(void)
{
	struct cgroup_host h;
	char text[512];

	is_int(cgroup_detect_text(mountinfo_hybrid, "hugetlb\n", &h), CGROUP_V1,
	       "hybrid (this machine): v1 is used");
	ok(h.hybrid, "hybrid: said so");
	is_str(h.v1[CGROUP_MEMORY].path, "/sys/fs/cgroup/memory", "hybrid: memory hierarchy found");
	is_str(h.v1[CGROUP_CPU].path, "/sys/fs/cgroup/cpu", "hybrid: cpu found apart from cpuacct");
	is_str(h.v1[CGROUP_CPUACCT].path, "/sys/fs/cgroup/cpuacct", "hybrid: cpuacct found");
	is_str(h.v1[CGROUP_FREEZER].path, "/sys/fs/cgroup/freezer", "hybrid: freezer found");
	is_str(h.v2.path, "/sys/fs/cgroup/unified", "hybrid: the empty cgroup2 is noted");
	cgroup_describe(&h, text, sizeof text);
	is_str(text, "cgroup v1 (hybrid): memory cpu cpuacct pids freezer", "hybrid: described for the log");

	is_int(cgroup_detect_text(mountinfo_v2, "cpuset cpu io memory hugetlb pids rdma misc\n", &h), CGROUP_V2,
	       "pure v2 with memory cpu pids delegated: v2 is used");
	ok(!h.hybrid && strcmp(h.v2.root, "/") == 0, "pure v2: not hybrid, mount root /");
	cgroup_describe(&h, text, sizeof text);
	is_str(text, "cgroup v2 at /sys/fs/cgroup: memory cpu pids", "pure v2: described for the log");

	is_int(cgroup_detect_text(mountinfo_v2, "cpu io\n", &h), CGROUP_NONE,
	       "pure v2 without memory and pids for our cgroup: none");
	ok(strstr(h.why, "memory pids") != NULL && strstr(h.why, "/sys/fs/cgroup") != NULL,
	   "... and the reason names what is missing: %s", h.why);

	is_int(cgroup_detect_text(mountinfo_comounted, "", &h), CGROUP_V1, "co-mounted cpu,cpuacct: v1");
	ok(strcmp(h.v1[CGROUP_CPU].path, "/sys/fs/cgroup/cpu,cpuacct") == 0
	   && strcmp(h.v1[CGROUP_CPUACCT].path, h.v1[CGROUP_CPU].path) == 0, "... both on one hierarchy");

	is_int(cgroup_detect_text(mountinfo_v1_no_freezer, NULL, &h), CGROUP_NONE, "v1 without freezer: none");
	ok(strncmp(h.why, "cgroup v1 without the freezer controller(s)", 43) == 0,
	   "... the reason names the freezer only: %s", h.why);
	cgroup_describe(&h, text, sizeof text);
	ok(strncmp(text, "no usable cgroups: ", 19) == 0, "... and the log line says so");

	is_int(cgroup_detect_text(mountinfo_none, NULL, &h), CGROUP_NONE, "no cgroup mounts: none");
	is_str(h.why, "no cgroup file system is mounted", "... with a reason");

	/* a v2 mount offering memory cpu pids wins over partial v1 (freezer, cpuacct on v1) */
	{
		char mixed[1024];

		snprintf(mixed, sizeof mixed, "%s%s", mountinfo_v2,
			 "37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n");
		is_int(cgroup_detect_text(mixed, "cpu memory pids", &h), CGROUP_V2, "v2 with a stray v1 freezer: v2");
	}

	cgroup_detect_text(mountinfo_odd, NULL, &h);
	is_str(h.v2.path, "/mnt/cg v2", "an escaped mount point is unescaped; broken lines are skipped");
	is_str(h.v2.root, "/docker/abc", "a bound subtree's root is kept");

	is_int(cgroup_parse_controllers("cpuset cpu io memory pids\n"),
	       CGROUP_BIT(CGROUP_CPU) | CGROUP_BIT(CGROUP_MEMORY) | CGROUP_BIT(CGROUP_PIDS),
	       "cgroup.controllers parsed");
	is_int(cgroup_parse_controllers("cpuset hugetlb"), 0, "cpuset is not cpu");
}

static void test_path_fixtures(void)
{
	struct cgroup_mount m = { "/sys/fs/cgroup", "/" }, bound = { "/mnt/cg", "/docker/abc" };
	char out[CGROUP_PATH_MAX], err[256];

	ok(cgroup_own_path(proc_cgroup_hybrid, CGROUP_V1, CGROUP_MEMORY, out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/process_api/499499e73edba34480e7bf37f990c12b") == 0, "own v1 memory cgroup found");
	ok(cgroup_own_path(proc_cgroup_hybrid, CGROUP_V1, CGROUP_CPU, out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/") == 0, "own v1 cpu cgroup is / (not cpuacct's or cpuset's line)");
	ok(cgroup_own_path(proc_cgroup_hybrid, CGROUP_V2, CGROUP_NCONTROLLERS, out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/") == 0, "own v2 cgroup on the hybrid host is /");
	ok(cgroup_own_path(proc_cgroup_v2, CGROUP_V2, CGROUP_NCONTROLLERS, out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/system.slice/sandrun-runner.service") == 0, "own v2 cgroup of a service");
	ok(cgroup_own_path("2:cpu,cpuacct:/a\n", CGROUP_V1, CGROUP_CPUACCT, out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/a") == 0, "a co-mounted line serves both controllers");
	ok(cgroup_own_path(proc_cgroup_v2, CGROUP_V1, CGROUP_PIDS, out, sizeof out, err, sizeof err) == -1
	   && strstr(err, "pids") != NULL, "a missing line is an error naming the controller");

	ok(cgroup_mount_dir(&m, "/", out, sizeof out, err, sizeof err) == 0 && strcmp(out, "/sys/fs/cgroup") == 0,
	   "root cgroup: the mount point itself");
	ok(cgroup_mount_dir(&m, "/a/b", out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/sys/fs/cgroup/a/b") == 0, "a cgroup below the mount");
	ok(cgroup_mount_dir(&bound, "/docker/abc/x", out, sizeof out, err, sizeof err) == 0
	   && strcmp(out, "/mnt/cg/x") == 0, "a bound subtree: its root is taken off");
	ok(cgroup_mount_dir(&bound, "/docker/abcd", out, sizeof out, err, sizeof err) == -1
	   && cgroup_mount_dir(&bound, "/elsewhere", out, sizeof out, err, sizeof err) == -1,
	   "a cgroup outside the bound subtree is refused");
}

static void test_text_fixtures(void)
{
	static const char cpu_stat[] = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n";
	static const char events[] = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n";

	is_int(cgroup_stat_value(cpu_stat, "usage_usec"), 1234567, "cpu.stat usage_usec");
	is_int(cgroup_stat_value(events, "oom"), 1, "memory.events oom (not oom_kill's line)");
	is_int(cgroup_stat_value(events, "oom_kill"), 1, "memory.events oom_kill");
	is_int(cgroup_stat_value(events, "max"), 12, "pids.events max");
	is_int(cgroup_stat_value("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3,
	       "v1 memory.oom_control oom_kill");
	is_int(cgroup_stat_value(cpu_stat, "nope"), -1, "a missing key is -1");
	ok(!cgroup_swap_listed("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"), "/proc/swaps: swap off");
	ok(cgroup_swap_listed("Filename\tType\tSize\tUsed\tPriority\n/swap.img file 2097148 0 -2\n"),
	   "/proc/swaps: swap on");
	ok(cgroup_name_valid("job-abc123") && cgroup_name_valid("sandrun-runner-42"), "plain names are valid");
	ok(!cgroup_name_valid("") && !cgroup_name_valid(".") && !cgroup_name_valid("..")
	   && !cgroup_name_valid("a/b") && !cgroup_name_valid("../x") && !cgroup_name_valid("a b"),
	   "names that are not one plain path component are refused");
}

/* ------------------------------------------------------------------ */
/* Real cgroups                                                        */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void skip(const char *why)
{
	ok(1, "# SKIP %s", why);
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The first line of a file, without its newline ("" if unreadable). */
static const char *read_line(const char *dir, const char *file)
{
	static char text[256];
	char path[CGROUP_PATH_MAX + 64];
	FILE *f;

	text[0] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, file);
	f = fopen(path, "r");
	if (f == NULL)
		return text;
	if (fgets(text, sizeof text, f) == NULL)
		text[0] = '\0';
	fclose(f);
	text[strcspn(text, "\n")] = '\0';
	return text;
}

/* Child bodies. Each runs in a fresh child and ends in _exit or pause. */

static void body_busy(int report)
{
	struct timespec ts;

	(void)report;
	do
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	while ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 < 0.5);
	_exit(0);
}

/* volatile: the compiler must not drop stores to memory that is then freed */
static void touch_megabytes(long mb)
{
	volatile char *p = malloc((size_t)mb * MIB);
	long i;

	if (p == NULL)
		_exit(2);
	for (i = 0; i < mb * MIB; i += 4096)
		p[i] = 1;
	free((void *)p);
}

static void body_50mb(int report)
{
	(void)report;
	touch_megabytes(50);
	_exit(0);
}

static void body_oom(int report)
{
	(void)report;
	touch_megabytes(2 * TEST_OOM_BYTES / MIB);
	_exit(0);               /* not reached when the limit holds */
}

/* Forks until the kernel says no; reports how many children it made. */
static void body_fork_loop(int report)
{
	int made = 0, e = 0;

	for (;;) {
		pid_t pid = fork();

		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			e = errno;
			break;
		}
		made++;
	}
	dprintf(report, "%d %d\n", made, e);
	pause();
	_exit(0);
}

/* A double fork: the grandchild's parent exits, so nobody waits for it;
 * its pid goes to the report pipe. The child itself stays. */
static void body_double_fork(int report)
{
	pid_t middle = fork();

	if (middle == 0) {
		pid_t grandchild = fork();

		if (grandchild == 0) {
			setsid();
			dprintf(report, "%d\n", (int)getpid());
			pause();
			_exit(0);
		}
		_exit(0);
	}
	waitpid(middle, NULL, 0);
	pause();
	_exit(0);
}

struct child {
	pid_t pid;
	int go;                     /* write end: one byte lets the child run */
	int report;                 /* read end of the child's report pipe */
};

/*
 * Starts body in a child that first blocks on a pipe, as the sandbox's
 * init does. cgroup_fd >= 0: the child is born in that v2 cgroup by
 * clone3(CLONE_INTO_CGROUP); else the caller places it before child_go().
 */
static int child_start(struct child *c, int cgroup_fd, void (*body)(int))
{
	int go[2], report[2];
	char byte;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	if (cgroup_fd >= 0) {
		struct clone_args args;

		memset(&args, 0, sizeof args);
		args.flags = CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
		args.exit_signal = SIGCHLD;
		c->pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	} else {
		c->pid = fork();
	}
	if (c->pid == 0) {
		close(go[1]);
		close(report[0]);
		if (read(go[0], &byte, 1) != 1)
			_exit(3);
		body(report[1]);
		_exit(0);
	}
	close(go[0]);
	close(report[1]);
	c->go = go[1];
	c->report = report[0];
	if (c->pid < 0) {
		close(go[1]);
		close(report[0]);
		return -1;
	}
	return 0;
}

static void child_go(struct child *c)
{
	if (write(c->go, "g", 1) != 1)
		diag("cannot release the child");
	close(c->go);
	c->go = -1;
}

/* Reads the child's report (a line), waiting up to 10 s. */
static bool child_report(struct child *c, char *buf, size_t len)
{
	struct pollfd p = { c->report, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, 10000) != 1)
		return false;
	n = read(c->report, buf, len - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static int child_wait(struct child *c)
{
	int status = -1;

	if (c->go >= 0)
		close(c->go);
	close(c->report);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* true when the process behind pidfd has exited (a zombie or gone) within
 * 2 s. The cgroup is empty once each process has passed cgroup_exit() in
 * the kernel, a moment before exit_notify() makes its pidfd readable. */
static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return poll(&p, 1, 2000) == 1;
}

/* Orphans come to us (we are a subreaper): reap whatever is left. */
static void reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Runs body in a fresh job cgroup of r placed before it runs; returns its
 * wait status and fills *st. */
static int run_in_job(const struct cgroup_runner *r, const char *name, const struct cgroup_limits *l,
		      void (*body)(int), struct cgroup_stats *st)
{
	struct cgroup_job job;
	struct child c;
	char err[512];
	int status = -1;

	memset(st, 0, sizeof *st);
	if (cgroup_job_create(r, name, l, &job, err, sizeof err) < 0) {
		printf("#   %s\n", err);
		return -1;
	}
	if (child_start(&c, job.version == CGROUP_V2 ? job.fd : -1, body) == 0) {
		if (job.version == CGROUP_V1 && cgroup_job_place(&job, c.pid, err, sizeof err) < 0)
			printf("#   %s\n", err);
		child_go(&c);
		status = child_wait(&c);
		if (cgroup_job_stats(&job, st, err, sizeof err) < 0)
			printf("#   %s\n", err);
	}
	if (cgroup_job_destroy(&job, err, sizeof err) < 0)
		printf("#   %s\n", err);
	return status;
}

/* Starts a double-forked tree in job, kills the cgroup, checks all died. */
static void check_kill_tree(const struct cgroup_job *job, const char *what)
{
	struct child c;
	char buf[64], err[512];
	int grandchild_fd = -1, child_fd, status, n, i;
	pid_t pids[8];

	if (child_start(&c, job->version == CGROUP_V2 ? job->fd : -1, body_double_fork) < 0) {
		ok(0, "%s: cannot start a child", what);
		return;
	}
	if (job->version == CGROUP_V1)
		cgroup_job_place(job, c.pid, err, sizeof err);
	child_go(&c);
	if (child_report(&c, buf, sizeof buf))
		grandchild_fd = (int)syscall(SYS_pidfd_open, atoi(buf), 0);
	child_fd = (int)syscall(SYS_pidfd_open, c.pid, 0);
	/* the middle process may still be on its way out */
	for (i = 0; (n = cgroup_job_pids(job, pids, 8, err, sizeof err)) > 2 && i < 2000; i++)
		usleep(1000);
	ok(grandchild_fd >= 0 && n == 2, "%s: the child and its double-forked grandchild are in the cgroup (%d)",
	   what, n);
	if (!ok(cgroup_job_kill(job, err, sizeof err) == 0, "%s: the kill succeeds", what))
		printf("#   %s\n", err);
	ok(grandchild_fd >= 0 && pidfd_exited(grandchild_fd) && pidfd_exited(child_fd),
	   "%s: the orphaned grandchild died with the child", what);
	is_int(cgroup_job_pids(job, pids, 8, err, sizeof err), 0, "%s: the cgroup is empty", what);
	status = child_wait(&c);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "%s: the child was SIGKILLed", what);
	if (grandchild_fd >= 0)
		close(grandchild_fd);
	if (child_fd >= 0)
		close(child_fd);
	reap_orphans();
}

static void test_real_v1(const struct cgroup_host *host)
{
	struct cgroup_runner r;
	struct cgroup_job job;
	struct cgroup_limits l = { TEST_MEMORY_BYTES, TEST_CPU_QUOTA_US, TEST_CPU_PERIOD_US, TEST_PIDS_MAX };
	struct cgroup_stats st;
	struct child c;
	char name[64], err[512], buf[64];
	char job_dirs[CGROUP_NCONTROLLERS][CGROUP_PATH_MAX], parents[CGROUP_NCONTROLLERS][CGROUP_PATH_MAX];
	int status, i;

	if (host->version != CGROUP_V1) {
		skip("cgroup v1: this host does not use it (v1 cannot be mounted beside v2 controllers)");
		return;
	}
	snprintf(name, sizeof name, "sandrun-test-v1-%d", (int)getpid());
	if (!ok(cgroup_runner_init(&r, host, name, err, sizeof err) == 0, "v1: the runner's parent is made")) {
		printf("#   %s\n", err);
		return;
	}
	memcpy(parents, r.v1, sizeof parents);
	ok(path_exists(r.v1[CGROUP_MEMORY]) && path_exists(r.v1[CGROUP_FREEZER]) && path_exists(r.v1[CGROUP_PIDS]),
	   "v1: the parent exists in each hierarchy (%s)", r.v1[CGROUP_MEMORY]);

	/* limits */
	if (!ok(cgroup_job_create(&r, "job-limits", &l, &job, err, sizeof err) == 0, "v1: a job cgroup is made")) {
		printf("#   %s\n", err);
		cgroup_runner_cleanup(&r, NULL, 0);
		return;
	}
	memcpy(job_dirs, job.v1, sizeof job_dirs);
	is_str(read_line(job.v1[CGROUP_MEMORY], "memory.limit_in_bytes"), "268435456", "v1: memory.limit_in_bytes took");
	snprintf(buf, sizeof buf, "memory.memsw.limit_in_bytes");
	if (read_line(job.v1[CGROUP_MEMORY], buf)[0] != '\0')
		is_str(read_line(job.v1[CGROUP_MEMORY], "memory.memsw.limit_in_bytes"), "268435456",
		       "v1: memory.memsw.limit_in_bytes took (swap counted)");
	else
		skip("v1: no memory.memsw.* on this kernel (swap must be off, which the module checks)");
	ok(strcmp(read_line(job.v1[CGROUP_CPU], "cpu.cfs_quota_us"), "50000") == 0
	   && strcmp(read_line(job.v1[CGROUP_CPU], "cpu.cfs_period_us"), "100000") == 0, "v1: cpu quota and period took");
	is_str(read_line(job.v1[CGROUP_PIDS], "pids.max"), "16", "v1: pids.max took");

	/* placement before the child runs */
	if (child_start(&c, -1, body_busy) == 0) {
		char proc[64], line[4096];
		FILE *f;
		bool in_memory = false, in_freezer = false;

		ok(cgroup_job_place(&job, c.pid, err, sizeof err) == 0, "v1: a waiting child is placed");
		snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)c.pid);
		f = fopen(proc, "r");
		while (f != NULL && fgets(line, sizeof line, f) != NULL) {
			if (strstr(line, ":memory:") && strstr(line, "/job-limits\n"))
				in_memory = true;
			if (strstr(line, ":freezer:") && strstr(line, "/job-limits\n"))
				in_freezer = true;
		}
		if (f != NULL)
			fclose(f);
		ok(in_memory && in_freezer, "v1: before it runs, it is in the job's memory and freezer cgroups");
		child_go(&c);
		child_wait(&c);
	}
	/* a process that moves itself in, as the sandbox's init does on v1 */
	{
		int report[2];
		pid_t pid;

		if (pipe(report) == 0 && (pid = fork()) >= 0) {
			char got[8] = "";
			int n;

			if (pid == 0) {
				char e[256];
				int rc = cgroup_job_enter(&job, e, sizeof e);

				if (write(report[1], rc == 0 ? "y" : "n", 1) != 1)
					_exit(2);
				pause();        /* stays for the listing, killed below */
				_exit(0);
			}
			close(report[1]);
			n = (int)read(report[0], got, 1);
			close(report[0]);
			{
				pid_t pids[8];
				int m = cgroup_job_pids(&job, pids, 8, err, sizeof err), in_procs = 0;
				char proc[64], line[4096];
				int hierarchies = 0;
				FILE *f;

				for (int k = 0; k < m; k++)
					in_procs |= pids[k] == pid;
				snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)pid);
				f = fopen(proc, "r");
				while (f != NULL && fgets(line, sizeof line, f) != NULL)
					hierarchies += strstr(line, "/job-limits\n") != NULL;
				if (f != NULL)
					fclose(f);
				ok(n == 1 && got[0] == 'y' && in_procs && hierarchies >= 4,
				   "v1: cgroup_job_enter moves the calling process into every hierarchy (%d)", hierarchies);
			}
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	check_kill_tree(&job, "v1 freezer kill");
	is_str(read_line(job.v1[CGROUP_FREEZER], "freezer.state"), "THAWED", "v1: the freezer is thawed again");

	/* a leftover of the same name is killed and replaced */
	if (child_start(&c, -1, body_fork_loop) == 0) {
		struct cgroup_job again;

		cgroup_job_place(&job, c.pid, err, sizeof err);
		child_go(&c);
		child_report(&c, buf, sizeof buf);
		ok(cgroup_job_create(&r, "job-limits", &l, &again, err, sizeof err) == 0
		   && cgroup_job_pids(&again, NULL, 0, err, sizeof err) == 0,
		   "v1: a leftover job cgroup is killed and replaced by an empty one");
		status = child_wait(&c);
		ok(WIFSIGNALED(status), "v1: the leftover's process was killed");
		reap_orphans();
		job = again;
	}
	ok(cgroup_job_destroy(&job, err, sizeof err) == 0, "v1: the job cgroup is destroyed");
	{
		bool gone = true;

		for (i = 0; i < CGROUP_NCONTROLLERS; i++)
			if (job_dirs[i][0] != '\0' && path_exists(job_dirs[i]))
				gone = false;
		ok(gone, "v1: no directory of the job is left in any hierarchy");
	}
	ok(cgroup_job_destroy(&job, err, sizeof err) == 0, "v1: destroying twice is harmless");

	/* accounting */
	status = run_in_job(&r, "job-cpu", &l, body_busy, &st);
	ok(WIFEXITED(status) && st.cpu_seconds >= 0.3 && st.cpu_seconds <= 1.0,
	   "v1: a 0.5 s busy child is charged 0.3 to 1.0 s by cpuacct (%.3f)", st.cpu_seconds);
	status = run_in_job(&r, "job-peak", &l, body_50mb, &st);
	ok(WIFEXITED(status) && st.memory_peak_bytes >= 50LL * MIB && !st.oom_killed,
	   "v1: a child touching 50 MB peaks at >= 50 MB (%lld), no OOM", (long long)st.memory_peak_bytes);
	{
		struct cgroup_limits small = l;

		small.memory_bytes = TEST_OOM_BYTES;
		status = run_in_job(&r, "job-oom", &small, body_oom, &st);
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && st.oom_killed,
		   "v1: a child allocating past 32 MB is OOM-killed and that is detected (%s)", st.oom_source);
	}

	/* pids */
	if (cgroup_job_create(&r, "job-pids", &l, &job, err, sizeof err) == 0 && child_start(&c, -1, body_fork_loop) == 0) {
		int made = -1, e = 0;

		cgroup_job_place(&job, c.pid, err, sizeof err);
		child_go(&c);
		if (child_report(&c, buf, sizeof buf))
			sscanf(buf, "%d %d", &made, &e);
		ok(made == TEST_PIDS_MAX - 1 && e == EAGAIN, "v1: a fork loop stops at pids.max (%d children, errno %d)",
		   made, e);
		cgroup_job_stats(&job, &st, err, sizeof err);
		ok(st.pids_limit_hit, "v1: pids.events shows the limit was hit");
		ok(cgroup_job_kill(&job, err, sizeof err) == 0 && cgroup_job_pids(&job, NULL, 0, err, sizeof err) == 0,
		   "v1: the fork loop's %d processes are all killed", made + 1);
		child_wait(&c);
		reap_orphans();
		/* left for cgroup_runner_cleanup to sweep */
	} else {
		ok(0, "v1: cannot start the pids case: %s", err);
	}

	/* fail closed */
	{
		struct cgroup_runner no_memory = r;

		no_memory.controllers &= ~CGROUP_BIT(CGROUP_MEMORY);
		ok(cgroup_job_create(&no_memory, "job-x", &l, &job, err, sizeof err) == -1
		   && strcmp(err, "memory controller unavailable: refusing to run without a memory limit") == 0,
		   "v1: no memory controller, no job: %s", err);
		ok(cgroup_job_create(&r, "../escape", &l, &job, err, sizeof err) == -1, "v1: a job name with .. is refused");
	}

	ok(cgroup_runner_cleanup(&r, err, sizeof err) == 0, "v1: the runner's parent is removed, leftovers swept");
	{
		bool gone = true;

		for (i = 0; i < CGROUP_NCONTROLLERS; i++)
			if (parents[i][0] != '\0' && path_exists(parents[i]))
				gone = false;
		ok(gone, "v1: no directory of the runner is left");
	}
}

/* Moves this process into the v2 cgroup dir. */
static bool move_self(const char *dir)
{
	char path[CGROUP_PATH_MAX + 128], pid[32];
	int fd;
	bool moved;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	moved = write(fd, pid, strlen(pid)) == (ssize_t)strlen(pid);
	close(fd);
	return moved;
}

static void test_real_v2(const struct cgroup_host *detected)
{
	struct cgroup_host host = *detected;
	struct cgroup_runner r;
	struct cgroup_job job;
	struct cgroup_limits none = { 0, 0, 0, 0 };
	struct cgroup_limits memory = { TEST_MEMORY_BYTES, 0, 0, 0 };
	struct cgroup_stats st;
	struct child c;
	char name[64], err[512], parent[CGROUP_PATH_MAX], job_dir[CGROUP_PATH_MAX + 16];
	char own[CGROUP_PATH_MAX + 64], expect[CGROUP_PATH_MAX + 160];
	bool nested = false;
	int status;

	if (host.v2.path[0] == '\0') {
		skip("cgroup v2: no cgroup2 hierarchy is mounted here");
		return;
	}
	host.version = CGROUP_V2;
	snprintf(name, sizeof name, "sandrun-test-v2-%d", (int)getpid());
	/* a runner rarely sits in the root: when the hierarchy has no
	 * controllers to disturb (a hybrid host's), run from a nested cgroup */
	snprintf(own, sizeof own, "%s/sandrun-test-own-%d", host.v2.path, (int)getpid());
	if (host.v2_available == 0 && mkdir(own, 0755) == 0)
		nested = move_self(own);
	if (cgroup_runner_init(&r, &host, name, err, sizeof err) < 0) {
		char why[1200];

		snprintf(why, sizeof why, "cgroup v2 at %s: cannot make a parent here (%s)", host.v2.path, err);
		skip(why);
		return;
	}
	ok(1, "v2: the runner's parent is made on %s (%s)", host.v2.path, r.v2);
	if (nested) {
		snprintf(expect, sizeof expect, "%s/%s", own, name);
		is_str(r.v2, expect, "v2: from a nested cgroup, the parent goes below it (/proc/self/cgroup read)");
	}
	snprintf(parent, sizeof parent, "%s", r.v2);

	if (!ok(cgroup_job_create(&r, "job-a", &none, &job, err, sizeof err) == 0 && job.fd >= 0,
		"v2: a job cgroup without limits is made, with a directory fd")) {
		printf("#   %s\n", err);
		cgroup_runner_cleanup(&r, NULL, 0);
		return;
	}
	snprintf(job_dir, sizeof job_dir, "%s", job.v2);

	/* CLONE_INTO_CGROUP: born inside, before it runs */
	if (child_start(&c, job.fd, body_busy) == 0) {
		char proc[64], line[4096] = "";
		FILE *f;

		snprintf(proc, sizeof proc, "/proc/%d/cgroup", (int)c.pid);
		f = fopen(proc, "r");
		while (f != NULL && fgets(line, sizeof line, f) != NULL && strncmp(line, "0::", 3) != 0)
			;
		if (f != NULL)
			fclose(f);
		ok(strncmp(line, "0::", 3) == 0 && strstr(line, "/job-a\n") != NULL,
		   "v2: clone3(CLONE_INTO_CGROUP) starts the child inside the job's cgroup");
		child_go(&c);
		status = child_wait(&c);
		cgroup_job_stats(&job, &st, err, sizeof err);
		ok(WIFEXITED(status) && st.cpu_seconds >= 0.3 && st.cpu_seconds <= 1.0,
		   "v2: cpu.stat usage_usec charges the 0.5 s busy child 0.3 to 1.0 s (%.3f)", st.cpu_seconds);
		if (r.controllers & CGROUP_BIT(CGROUP_MEMORY))
			ok(!st.oom_killed, "v2: no OOM claimed for a busy child");
		else
			ok(st.memory_peak_bytes == -1 && !st.oom_killed,
			   "v2 without the memory controller: the peak is unknown (-1), no OOM claimed");
	} else {
		ok(0, "v2: clone3 with CLONE_INTO_CGROUP failed: %s", strerror(errno));
	}
	{
		char kill_file[CGROUP_PATH_MAX + 16];

		snprintf(kill_file, sizeof kill_file, "%s/cgroup.kill", job.v2);
		if (access(kill_file, F_OK) == 0)
			check_kill_tree(&job, "v2 cgroup.kill");
		else
			check_kill_tree(&job, "v2 freeze and kill (no cgroup.kill before Linux 5.14)");
	}
	ok(cgroup_job_destroy(&job, err, sizeof err) == 0 && !path_exists(job_dir),
	   "v2: the job cgroup is removed (rmdir)");

	/* fail closed: a memory limit without the memory controller */
	if (r.controllers & CGROUP_BIT(CGROUP_MEMORY)) {
		ok(cgroup_job_create(&r, "job-m", &memory, &job, err, sizeof err) == 0
		   && strcmp(read_line(job.v2, "memory.max"), "268435456") == 0, "v2: memory.max took");
		cgroup_job_destroy(&job, NULL, 0);
	} else {
		ok(cgroup_job_create(&r, "job-m", &memory, &job, err, sizeof err) == -1
		   && strcmp(err, "memory controller unavailable: refusing to run without a memory limit") == 0,
		   "v2 without the memory controller: a memory limit fails closed: %s", err);
		snprintf(job_dir, sizeof job_dir, "%s/job-m", parent);
		ok(!path_exists(job_dir), "v2: ... and leaves no cgroup behind");
	}

	ok(cgroup_runner_cleanup(&r, err, sizeof err) == 0 && !path_exists(parent), "v2: the runner's parent is removed");
	if (nested && (!move_self(host.v2.path) || rmdir(own) < 0))
		diag("cannot leave the nested test cgroup");
}

int main(void)
{
	struct cgroup_host host;
	char err[1024], text[1200];

	test_detection_fixtures();
	test_path_fixtures();
	test_text_fixtures();

	if (geteuid() != 0) {
		skip("real cgroups need root");
		return done_testing();
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);      /* double-forked orphans come back to us */
	if (cgroup_detect(&host, err, sizeof err) < 0)
		printf("# detection: %s\n", err);
	cgroup_describe(&host, text, sizeof text);
	printf("# this host: %s\n", text);
	{
		double t0 = now_seconds();

		test_real_v1(&host);
		test_real_v2(&host);
		printf("# real cgroup cases took %.1f s\n", now_seconds() - t0);
	}
	reap_orphans();
	return done_testing();
}
