/*
 * The sandbox and the unpacker, end to end (needs root: it mounts and
 * makes namespaces). Each case builds an upload in memory with libarchive's
 * writer, starts a real sandbox on a temporary mount point, drains its
 * pipes until EOF, reaps it, and checks what the job saw or what went
 * wrong. A few unpacker cases also run unpack_archive() directly in a
 * temporary directory, to see that nothing lands outside it.
 *
 * Every job runs in a cgroup of its own, made here as the runner makes it
 * (runner/cgroup.h) below a parent for this test process: the last cases
 * check the limits (OOM, pids), the cgroup kill and the CPU figure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "sandbox.h"
#include "tap.h"
#include "unpack.h"
#include "util.h"

/* A uid and gid nobody on a test machine uses, so files and processes of
 * the job cannot be confused with anything else. */
#define TEST_UID 61234
#define TEST_GID 61234

/* The process-limit cases run as a uid of this test process's own (base
 * + pid, far above any range a system hands out): RLIMIT_NPROC counts a
 * uid's tasks across the host, and other copies of this test may run
 * sandboxes at the same time (in production each slot has its own uid). */
#define TEST_PIDS_UID_BASE 1900000000u

/* Output kept per stream: more than any case prints. */
#define TEST_OUTPUT_MAX 65536

/* A job that has not finished after this long is a hung test: kill it. */
#define TEST_JOB_TIMEOUT_MS 30000

/* Room for the archives built here (the largest holds a few KiB). */
#define TEST_ARCHIVE_MAX (1024 * 1024)

static char mount_point[64];

/* The parent of every job cgroup of this test, and the limits each job
 * gets unless a case changes them: the runner's defaults (docs/api.md §4). */
static struct cgroup_runner test_cgroups;
/* the sandrun-init program of the build tree, opened once as the runner opens it */
static int init_fd = -1;
static struct cgroup_limits job_limits = { 512LL << 20, 100000, 100000, 64 };

struct test_entry {
	const char *name;
	char type;                  /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device, 'p' FIFO */
	const char *data;           /* file contents */
	const char *link;           /* symlink or hard link target */
	int mode;                   /* permission bits; 0 for the default */
};

enum test_format { TEST_TAR, TEST_TGZ, TEST_ZIP };

struct test_upload {
	char *data;
	size_t len;
};

struct test_job {
	struct sandbox_result res;
	char out[TEST_OUTPUT_MAX], errout[TEST_OUTPUT_MAX];
	size_t outlen, errlen;
	double wall_seconds;
	int start_rc;
	char start_err[256];
	bool reaped;                 /* sandbox_reap left no child of ours behind */
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds an archive in memory; the caller frees upload->data. */
static struct test_upload make_archive(const struct test_entry *entries, size_t n, enum test_format format)
{
	struct test_upload up = { malloc(TEST_ARCHIVE_MAX), 0 };
	struct archive *a = archive_write_new();
	size_t i;

	if (format == TEST_ZIP) {
		archive_write_set_format_zip(a);
	} else {
		archive_write_set_format_pax_restricted(a);
		if (format == TEST_TGZ)
			archive_write_add_filter_gzip(a);
	}
	archive_write_open_memory(a, up.data, TEST_ARCHIVE_MAX, &up.len);
	for (i = 0; i < n; i++) {
		const struct test_entry *e = &entries[i];
		struct archive_entry *ae = archive_entry_new();
		size_t len = e->data ? strlen(e->data) : 0;

		archive_entry_set_pathname(ae, e->name);
		archive_entry_set_mtime(ae, 1700000000, 0);
		switch (e->type) {
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e->link);
			archive_entry_set_perm(ae, 0777);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e->link);
			archive_entry_set_perm(ae, 0644);
			break;
		case 'c':
			archive_entry_set_filetype(ae, AE_IFCHR);
			archive_entry_set_rdev(ae, makedev(1, 3));
			archive_entry_set_perm(ae, 0666);
			break;
		case 'p':
			archive_entry_set_filetype(ae, AE_IFIFO);
			archive_entry_set_perm(ae, 0644);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
			archive_entry_set_size(ae, (la_int64_t)len);
			break;
		}
		archive_write_header(a, ae);
		if (len > 0)
			archive_write_data(a, e->data, len);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return up;
}

static const char *const default_env[] = { "PATH=/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8", NULL };

static const struct test_entry hello_files[] = {
	{ "hello.py", 'f', "print('hello from python')\n", NULL, 0 },
};

static void base_spec(struct sandbox_spec *spec, const struct test_upload *up, const char *const *argv)
{
	memset(spec, 0, sizeof *spec);
	spec->job_id = "test";
	spec->uid = TEST_UID;
	spec->gid = TEST_GID;
	spec->mount_point = mount_point;
	spec->env_root = "/";
	spec->tmpfs_bytes = 64 << 20;           /* plenty for these jobs */
	spec->upload = up ? up->data : NULL;
	spec->upload_len = up ? up->len : 0;
	spec->init_fd = init_fd;
	spec->unpacked_max_bytes = 16 << 20;
	spec->files_max = 100;
	spec->argv = argv;
	spec->envp = default_env;
	spec->pids_max = job_limits.pids_max;
}

static void drain(int fd, char *buf, size_t *len, bool *open_)
{
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n > 0) {
			size_t keep = (size_t)n;

			if (keep > TEST_OUTPUT_MAX - 1 - *len)
				keep = TEST_OUTPUT_MAX - 1 - *len;
			memcpy(buf + *len, chunk, keep);
			*len += keep;
			buf[*len] = '\0';
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			*open_ = false;
		return;
	}
}

/* Starts the sandbox in a new job cgroup with job_limits; if
 * kill_after_ms >= 0, kills it that long after start. */
static void run_job_killing(const struct sandbox_spec *spec_in, struct test_job *job, int kill_after_ms)
{
	static unsigned jobs;
	struct sandbox_spec with_cgroup = *spec_in, *spec = &with_cgroup;
	struct cgroup_job cg;
	struct sandbox sb;
	bool out_open = true, err_open = true, killed = false;
	double start = now_seconds();
	char name[32];

	memset(job, 0, sizeof *job);
	snprintf(name, sizeof name, "job-%u", ++jobs);
	job->start_rc = cgroup_job_create(&test_cgroups, name, &job_limits, &cg, job->start_err,
					  sizeof job->start_err);
	if (job->start_rc < 0)
		return;
	with_cgroup.cgroup = &cg;
	job->start_rc = sandbox_start(spec, &sb, job->start_err, sizeof job->start_err);
	if (job->start_rc < 0) {
		cgroup_job_destroy(&cg, NULL, 0);
		return;
	}
	while (out_open || err_open) {
		struct pollfd p[2] = { { sb.stdout_fd, POLLIN, 0 }, { sb.stderr_fd, POLLIN, 0 } };
		double elapsed_ms = (now_seconds() - start) * 1000;

		if (!out_open)
			p[0].fd = -1;
		if (!err_open)
			p[1].fd = -1;
		if (!killed && ((kill_after_ms >= 0 && elapsed_ms >= kill_after_ms)
				|| elapsed_ms >= TEST_JOB_TIMEOUT_MS)) {
			sandbox_kill(&sb);
			killed = true;
		}
		poll(p, 2, 50);
		if (out_open)
			drain(sb.stdout_fd, job->out, &job->outlen, &out_open);
		if (err_open)
			drain(sb.stderr_fd, job->errout, &job->errlen, &err_open);
	}
	/* the runner's order: the result first, init's exit after (sandbox_wait
	 * is the two at once, as sessions call it) */
	sandbox_wait_result(&sb, &job->res);
	sandbox_reap(&sb);
	job->reaped = sb.pid == -1 && waitpid(-1, NULL, WNOHANG | __WALL) <= 0;
	sandbox_kill(&sb);              /* after wait: must be a harmless no-op */
	close(sb.stdout_fd);
	close(sb.stderr_fd);
	job->wall_seconds = now_seconds() - start;
	if (cgroup_job_destroy(&cg, job->start_err, sizeof job->start_err) < 0)
		printf("#   cgroup: %s\n", job->start_err);
}

static void run_job(const struct sandbox_spec *spec, struct test_job *job)
{
	run_job_killing(spec, job, -1);
}

/* Runs argv on the default hello upload; returns the job (static storage). */
static struct test_job *run_argv(const char *const *argv)
{
	static struct test_job job;
	struct test_upload up = make_archive(hello_files, 1, TEST_TAR);
	struct sandbox_spec spec;

	base_spec(&spec, &up, argv);
	run_job(&spec, &job);
	free(up.data);
	return &job;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool exited_with(const struct test_job *job, int code)
{
	return job->start_rc == 0 && job->res.outcome == SANDBOX_EXITED && job->res.exit_code == code;
}

static void show(const struct test_job *job)
{
	printf("#   start_rc %d (%s) outcome %d exit %d signal %d cpu %.3f message '%s'\n",
	       job->start_rc, job->start_err, job->res.outcome, job->res.exit_code,
	       job->res.term_signal, job->res.cpu_seconds, job->res.message);
	printf("#   stdout '%s'\n#   stderr '%s'\n", job->out, job->errout);
}

static void check(bool cond, const struct test_job *job, const char *name)
{
	if (!ok(cond, "%s", name))
		show(job);
}

static void test_basics(void)
{
	struct test_job *job;

	job = run_argv((const char *const[]){ "/usr/bin/python3", "hello.py", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "hello from python\n") == 0, job,
	      "python3 hello.py prints its line and exits 0");
	check(job->res.memory_peak_bytes > 1 << 20, job, "a memory peak is reported");

	job = run_argv((const char *const[]){ "/bin/sh", "-c", "exit 3", NULL });
	check(exited_with(job, 3), job, "sh -c 'exit 3' gives exit code 3");
	check(job->reaped, job, "sandbox_wait_result, then sandbox_reap: init is reaped, no child is left");

	/* the result comes before init's exit: a background process that
	 * outlives the job must not hold it back, nor survive */
	job = run_argv((const char *const[]){ "/bin/sh", "-c", "sleep 30 & exit 4", NULL });
	check(exited_with(job, 4) && job->wall_seconds < 5 && job->reaped, job,
	      "a job that leaves a process behind: its result at once, init reaped after");

	job = run_argv((const char *const[]){ "/bin/sh", "-c", "kill -9 $$", NULL });
	check(job->start_rc == 0 && job->res.outcome == SANDBOX_EXITED && job->res.term_signal == SIGKILL
	      && job->res.exit_code == -1, job, "a job killed by a signal reports term_signal");

	job = run_argv((const char *const[]){ "/nonexistent", NULL });
	check(exited_with(job, 127) && strstr(job->errout, "sandrun: cannot execute /nonexistent") != NULL,
	      job, "a program that cannot be executed gives 127 and a message");

	job = run_argv((const char *const[]){ "/usr/bin/env", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "PATH=/usr/bin:/bin\nHOME=/work\nLANG=C.UTF-8\n") == 0,
	      job, "the environment is exactly the one given");

	job = run_argv((const char *const[]){ "/bin/sh", "-c", "pwd; stat -c '%u %g %a' /work; stat -c %a /tmp; uname -n", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "/work\n61234 61234 700\n1777\nsandrun\n") == 0, job,
	      "cwd is /work (job's, 0700), /tmp is 1777, hostname is sandrun");
}

static void test_stdin(void)
{
	struct test_upload up = make_archive(hello_files, 1, TEST_TAR);
	struct sandbox_spec spec;
	static struct test_job job;
	const char *const cat[] = { "/bin/cat", NULL };
	const char *const probe[] = { "/bin/sh", "-c", "echo x >> /dev/stdin; echo $?", NULL };

	base_spec(&spec, &up, cat);
	spec.stdin_data = "line one\nline two\n";
	spec.stdin_len = strlen(spec.stdin_data);
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "line one\nline two\n") == 0, &job, "stdin is fed");

	spec.argv = probe;
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "1\n") == 0, &job, "stdin cannot be written");

	spec.argv = cat;
	spec.stdin_data = NULL;
	spec.stdin_len = 0;
	run_job(&spec, &job);
	check(exited_with(&job, 0) && job.outlen == 0, &job, "no stdin reads as /dev/null");
	free(up.data);
}

static void test_isolation(void)
{
	struct test_job *job;
	char secret[] = "/tmp/sandrun-secret-XXXXXX", script[512];
	int fd = mkstemp(secret), leak;

	job = run_argv((const char *const[]){ "/bin/sh", "-c", "echo $$", NULL });
	check(exited_with(job, 0) && atoi(job->out) > 0 && atoi(job->out) <= 3, job, "the job's pid is small");

	job = run_argv((const char *const[]){ "/bin/ls", "/proc", NULL });
	{
		int numeric = 0;
		const char *p = job->out;

		while (*p) {
			if (*p >= '0' && *p <= '9')
				numeric++;
			p = strchr(p, '\n');
			p = p ? p + 1 : "";
		}
		check(exited_with(job, 0) && numeric >= 1 && numeric <= 2, job,
		      "/proc shows only the sandbox's processes");
	}

	job = run_argv((const char *const[]){ "/bin/sh", "-c", "id -u; id -g; id -G", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "61234\n61234\n61234\n") == 0, job,
	      "the job runs as the given uid and gid, no supplementary groups");

	job = run_argv((const char *const[]){ "/bin/grep", "-E", "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)",
					      "/proc/self/status", NULL });
	check(exited_with(job, 0) && strcmp(job->out,
		"CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
		"CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n") == 0,
	      job, "no capabilities at all, no_new_privs set");

	snprintf(script, sizeof script, "for f in %s %s /etc/shadow /etc/redis /etc/ssh /root /home /var /sys; do "
		 "test -e $f && echo $f; done; true", secret, mount_point);
	job = run_argv((const char *const[]){ "/bin/sh", "-c", script, NULL });
	check(exited_with(job, 0) && job->outlen == 0, job, "nothing of the host's files is visible");
	if (fd >= 0) {
		close(fd);
		unlink(secret);
	}

	job = run_argv((const char *const[]){ "/bin/ls", "/", "/etc", NULL });
	check(exited_with(job, 0) && strstr(job->out, "/:\nbin\ndev\netc\nlib\nlib32\nlib64\nproc\nsbin\ntmp\nusr\nwork\n")
	      && !strstr(job->out, "shadow") && strstr(job->out, "passwd\n"), job,
	      "the root holds only what the sandbox made, /etc no secrets");

	{
		/* runner/sandbox.c's sandbox_etc_binds, top-level names: what the
		 * sandbox's /etc must hold besides the files it generates, each
		 * present there exactly when the host's /etc has it */
		static const char *const binds[] = { "ld.so.cache", "alternatives", "ssl", "java-*-openjdk", "R",
						     "matplotlibrc", "fonts", "os-release" };
		char want[4096] = "group\nhostname\nhosts\nlocaltime\nnsswitch.conf\npasswd\n", pattern[64];
		glob_t found;

		for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
			snprintf(pattern, sizeof pattern, "/etc/%s", binds[i]);
			if (glob(pattern, 0, NULL, &found) != 0)
				continue;
			for (size_t j = 0; j < found.gl_pathc; j++) {
				struct stat st;

				/* what the sandbox binds or copies: directories, files, symlinks */
				if (lstat(found.gl_pathv[j], &st) == 0
				    && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
					snprintf(want + strlen(want), sizeof want - strlen(want), "%s\n",
						 found.gl_pathv[j] + 5);
			}
			globfree(&found);
		}
		if (strstr(want, "ssl\n") == NULL)
			strcat(want, "ssl\n");          /* always made, for ssl/openssl.cnf */
		job = run_argv((const char *const[]){ "/bin/sh", "-c", "ls -A /etc | LC_ALL=C sort", NULL });
		{
			/* the same names, sorted alike */
			char sorted[4096], *names[128], *save = NULL, *name;
			size_t n = 0;

			for (name = strtok_r(want, "\n", &save); name != NULL && n < 128; name = strtok_r(NULL, "\n", &save))
				names[n++] = name;
			qsort(names, n, sizeof names[0], compare_strings);
			sorted[0] = '\0';
			for (size_t i = 0; i < n; i++)
				snprintf(sorted + strlen(sorted), sizeof sorted - strlen(sorted), "%s\n", names[i]);
			check(exited_with(job, 0) && strcmp(job->out, sorted) == 0, job,
			      "/etc holds the generated files and the host's entries the bind list names, no more");
			if (strcmp(job->out, sorted) != 0)
				printf("#   want '%s'\n", sorted);
		}
	}

	/* the host's under /usr and in /proc: hidden (runner/sandbox.c, sandbox_usr_hidden and
	 * sandbox_proc_hidden); a path the host lacks passes trivially */
	job = run_argv((const char *const[]){ "/bin/sh", "-c",
		"for d in /usr/etc /usr/local/etc /usr/local/share/ca-certificates /usr/share/ca-certificates"
		" /proc/acpi /proc/bus /proc/fs /proc/irq /proc/scsi; do"
		" [ -z \"$(ls -A $d 2>/dev/null)\" ] || echo lists $d; done;"
		" for f in /proc/cmdline /proc/config.gz /proc/sys/kernel/random/boot_id /proc/partitions"
		" /proc/swaps /proc/keys /proc/sched_debug; do"
		" [ -z \"$(head -c 16 $f 2>/dev/null | tr -d '\\0')\" ] || echo reads $f; done;"
		" readlink /etc/localtime; test -e /etc/perl && echo perl; test -e /etc/python3 && echo python3; true",
		NULL });
	check(exited_with(job, 0) && strcmp(job->out, "/usr/share/zoneinfo/Etc/UTC\n") == 0, job,
	      "the host's configuration and certificates under /usr, its /proc files, its time zone: hidden");

	/* every mask is read-only, nosuid, nodev and noexec, the ones bound from
	 * the first mask of their kind (struct sandbox_masks) as much as the first */
	job = run_argv((const char *const[]){ "/bin/sh", "-c",
		"awk '$5 ~ /^\\/(usr\\/etc|usr\\/local\\/etc|usr\\/local\\/share\\/ca-certificates|"
		"usr\\/share\\/ca-certificates|proc\\/(acpi|bus|fs|irq|scsi|cmdline|config\\.gz|kallsyms|keys|"
		"partitions|swaps|sys\\/kernel\\/random\\/boot_id))$/ {"
		" n++; split($6, o, \",\"); f = \"\"; for (i in o) if (o[i] ~ /^(ro|nosuid|nodev|noexec)$/) f = f o[i] \" \";"
		" if (length(f) != length(\"ro nosuid nodev noexec \")) print \"weak\", $5, $6 }"
		" END { print (n >= 5 ? \"masks\" : \"too few masks: \" n) }' /proc/self/mountinfo", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "masks\n") == 0, job,
	      "every mask over a hidden path is read-only, nosuid, nodev and noexec");

	job = run_argv((const char *const[]){ "/usr/bin/stat", "-c", "%a %U %n", "/", "/tmp", "/work", "/dev",
					      "/dev/shm", "/etc", "/etc/ssl", "/etc/passwd", "/etc/hosts", "/proc", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "755 root /\n1777 root /tmp\n700 sandrun /work\n"
			"755 root /dev\n1777 root /dev/shm\n755 root /etc\n755 root /etc/ssl\n"
			"644 root /etc/passwd\n644 root /etc/hosts\n555 root /proc\n") == 0, job,
	      "the root's directories and files have their modes and owners");

	job = run_argv((const char *const[]){ "/bin/sh", "-c",
		"touch /usr/x 2>/dev/null && echo wrote; awk '$2==\"/usr\"{print substr($4,1,3)}' /proc/self/mounts", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "ro,\n") == 0, job, "/usr is read-only");

	job = run_argv((const char *const[]){ "/bin/ls", "-A", "/dev", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "fd\nfull\nnull\nrandom\nshm\nstderr\nstdin\nstdout\nurandom\nzero\n") == 0,
	      job, "/dev holds only the listed nodes");

	job = run_argv((const char *const[]){ "/bin/sh", "-c",
		"echo x > /dev/null && head -c 8 /dev/urandom | wc -c && head -c 3 /dev/zero | wc -c", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "8\n3\n") == 0, job, "the /dev nodes work");

	job = run_argv((const char *const[]){ "/bin/sh", "-c", "grep -c : /proc/net/dev", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "1\n") == 0, job, "only the loopback interface exists");

	job = run_argv((const char *const[]){ "/usr/bin/python3", "-c",
		"import socket\ntry:\n socket.create_connection(('127.0.0.1', 80), 2)\n print('connected')\n"
		"except OSError as e:\n print(e.errno)\n", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "101\n") == 0, job,
	      "connecting to 127.0.0.1 fails: network unreachable (loopback down)");

	/* a descriptor the supervisor holds must not reach the job */
	leak = open("/", O_RDONLY | O_DIRECTORY);
	job = run_argv((const char *const[]){ "/bin/ls", "/proc/self/fd", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "0\n1\n2\n3\n") == 0, job,
	      "the job gets only fds 0, 1 and 2");
	close(leak);

	job = run_argv((const char *const[]){ "/bin/sh", "-c",
		"cat /proc/1/environ >/dev/null 2>&1 && echo readable; kill -KILL 1; kill -TERM 1; echo alive", NULL });
	check(exited_with(job, 0) && strcmp(job->out, "alive\n") == 0, job,
	      "init's memory is unreadable and the job cannot kill it");
}

static void test_interpreters(void)
{
	static const struct {
		const char *path;
		const char *const argv[4];
		const char *want;
	} cases[] = {
		{ "/usr/bin/bash", { "/usr/bin/bash", "-c", "echo $((6*7))", NULL }, "42\n" },
		{ "/usr/bin/perl", { "/usr/bin/perl", "-e", "print 6*7, qq{\\n}", NULL }, "42\n" },
		{ "/usr/bin/node", { "/usr/bin/node", "-e", "console.log(6*7)", NULL }, "42\n" },
		{ "/usr/bin/python3", { "/usr/bin/python3", "-c", "import json, ssl; print(6*7)", NULL }, "42\n" },
		{ "/usr/bin/java", { "/usr/bin/java", "-Xshare:auto", "-version", NULL }, "" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct test_job *job;

		if (access(cases[i].path, X_OK) != 0) {
			ok(1, "# SKIP %s is not installed", cases[i].path);
			continue;
		}
		job = run_argv(cases[i].argv);
		check(exited_with(job, 0) && strcmp(job->out, cases[i].want) == 0, job, cases[i].path);
	}
}

static void test_uploads(void)
{
	static const struct test_entry project[] = {
		{ "./", 'd', NULL, NULL, 0 },
		{ "./main.py", 'f', "import utils\nprint(utils.greet('tar'))\n", NULL, 0 },
		{ "./utils.py", 'f', "def greet(who):\n    return 'hello ' + who\n", NULL, 0 },
	};
	static const struct test_entry modes[] = {
		{ "hello.py", 'f', "print('x')\n", NULL, 0 },
		{ "suid.sh", 'f', "#!/bin/sh\necho hi\n", NULL, 06755 },
		{ "sticky", 'd', NULL, NULL, 01777 },
		{ "link", 'l', NULL, "hello.py", 0 },
		{ "sub/", 'd', NULL, NULL, 0 },
		{ "sub/up", 'l', NULL, "../hello.py", 0 },
		{ "hard", 'h', NULL, "hello.py", 0 },
	};
	static const struct test_entry unicode[] = {
		{ "données.py", 'f', "print(open('données/entrée.txt', encoding='utf-8').read(), end='')\n", NULL, 0 },
		{ "données/entrée.txt", 'f', "ça marche\n", NULL, 0 },
	};
	const char *const unicode_argv[] = { "/usr/bin/python3", "données.py", NULL };
	const char *const main_py[] = { "/usr/bin/python3", "main.py", NULL };
	const char *const stat_argv[] = { "/bin/sh", "-c",
		"stat -c '%n %a' suid.sh sticky; cat link sub/up hard; ./suid.sh", NULL };
	struct test_upload up;
	struct sandbox_spec spec;
	static struct test_job job;

	up = make_archive(project, 3, TEST_TGZ);
	base_spec(&spec, &up, main_py);
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "hello tar\n") == 0, &job,
	      "a `tar czf x.tgz .` upload unpacks and main.py imports utils");
	free(up.data);

	up = make_archive(project + 1, 2, TEST_ZIP);
	base_spec(&spec, &up, main_py);
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "hello tar\n") == 0, &job, "a zip upload unpacks");
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "hello tar\n") == 0, &job,
	      "... and again: with no reader made beforehand, the job process makes its own");
	free(up.data);

	/* UTF-8 names (pax headers, the zip's UTF-8 flag), as Python's tarfile
	 * and zipfile write them whatever the process's locale: unpacked inside
	 * the sandbox with the LC_CTYPE the runner set at start (main below does
	 * the same), where no locale file is visible. */
	for (int zip = 0; zip <= 1; zip++) {
		locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), before;

		if (utf8 == (locale_t)0) {
			ok(0, "no C.UTF-8 locale to write the UTF-8 test archive in");
			continue;
		}
		before = uselocale(utf8);     /* libarchive's writer reads nl_langinfo */
		up = make_archive(unicode, sizeof unicode / sizeof unicode[0], zip ? TEST_ZIP : TEST_TAR);
		uselocale(before);
		freelocale(utf8);
		base_spec(&spec, &up, unicode_argv);
		run_job(&spec, &job);
		check(exited_with(&job, 0) && strcmp(job.out, "ça marche\n") == 0, &job,
		      zip ? "a zip upload with UTF-8 names unpacks, and python3 données.py runs"
			  : "a pax tar upload with UTF-8 names unpacks, and python3 données.py runs");
		free(up.data);
	}

	up = make_archive(modes, sizeof modes / sizeof modes[0], TEST_TAR);
	base_spec(&spec, &up, stat_argv);
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "suid.sh 755\nsticky 777\nprint('x')\nprint('x')\nprint('x')\nhi\n") == 0,
	      &job, "setuid/setgid/sticky bits are stripped; links inside the tree work");
	free(up.data);

	base_spec(&spec, NULL, (const char *const[]){ "/bin/ls", "-A", NULL });
	run_job(&spec, &job);
	check(exited_with(&job, 0) && job.outlen == 0, &job, "an empty upload gives an empty /work");

	/* The job process unpacks before it execs (sandbox.c, steps g and i):
	 * nothing of the unpacking may reach the job, and what the job does
	 * after its exec is the job's, never an unpack failure. */
	up = make_archive(project, 3, TEST_TGZ);
	base_spec(&spec, &up, (const char *const[]){ "/bin/sh", "-c",
		"pwd; umask; ls /proc/self/fd; grep '^SigBlk' /proc/self/status; grep -c libarchive /proc/self/maps",
		NULL });
	run_job(&spec, &job);
	check(exited_with(&job, 1)
	      && strcmp(job.out, "/work\n0022\n0\n1\n2\n3\nSigBlk:\t0000000000000000\n0\n") == 0,
	      &job, "after unpacking, the job starts in /work, umask 022, fds 0-2, no signal blocked, "
	      "no libarchive mapped");
	/* what the supervisor ignores (the runner ignores SIGPIPE) does not reach
	 * the job: init resets the dispositions SigIgn lists (sandbox.c, step 0) */
	{
		struct sigaction ign = { .sa_handler = SIG_IGN }, old[3];
		const int sigs[3] = { SIGPIPE, SIGHUP, SIGUSR2 };

		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &ign, &old[i]);
		base_spec(&spec, &up, (const char *const[]){ "/bin/grep", "^SigIgn", "/proc/self/status", NULL });
		run_job(&spec, &job);
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		/* (the C library's reserved signals, 32 and 33, refuse any change,
		 * as they always did: whatever ran the test may have ignored them) */
		unsigned long long ignored = ~0ULL;

		if (strncmp(job.out, "SigIgn:\t", 8) == 0)
			ignored = strtoull(job.out + 8, NULL, 16);
		check(exited_with(&job, 0) && (ignored & ((1ULL << (SIGPIPE - 1)) | (1ULL << (SIGHUP - 1))
							  | (1ULL << (SIGUSR2 - 1)))) == 0
		      && (ignored & ~(3ULL << 31)) == 0, &job,
		      "signals the supervisor ignores are the default again in the job");
	}
	base_spec(&spec, &up, (const char *const[]){ "/bin/sh", "-c", "kill -SEGV $$", NULL });
	run_job(&spec, &job);
	check(job.start_rc == 0 && job.res.outcome == SANDBOX_EXITED && job.res.term_signal == SIGSEGV, &job,
	      "a job killed by a signal after an upload is the job's signal, not an unpack crash");
	base_spec(&spec, &up, (const char *const[]){ "/work/missing", NULL });
	run_job(&spec, &job);
	check(exited_with(&job, 127) && strstr(job.errout, "cannot execute /work/missing") != NULL, &job,
	      "a program that cannot be executed after an upload exits 127, not an unpack failure");
	free(up.data);
}

static void test_bad_uploads(void)
{
	static const struct test_entry dotdot[] = { { "../x", 'f', "x\n", NULL, 0 } };
	static const struct test_entry deep_dotdot[] = { { "a/../../x", 'f', "x\n", NULL, 0 } };
	static const struct test_entry absolute[] = { { "/abs", 'f', "x\n", NULL, 0 } };
	static const struct test_entry abs_link[] = { { "pw", 'l', NULL, "/etc/passwd", 0 } };
	static const struct test_entry climb_link[] = { { "sub/", 'd', NULL, NULL, 0 }, { "sub/l", 'l', NULL, "../../x", 0 } };
	static const struct test_entry hard_out[] = { { "h", 'h', NULL, "../../etc/passwd", 0 } };
	static const struct test_entry device[] = { { "null", 'c', NULL, NULL, 0 } };
	static const struct test_entry fifo[] = { { "fifo", 'p', NULL, NULL, 0 } };
	static const struct test_entry chain_out[] = {
		{ "x", 'l', NULL, ".", 0 }, { "l", 'l', NULL, "x/..", 0 },
	};
	static const struct test_entry through_link[] = {
		{ "d", 'l', NULL, ".", 0 }, { "d/x", 'f', "x\n", NULL, 0 },
	};
	static const struct {
		const struct test_entry *entries;
		size_t n;
		const char *name;
	} cases[] = {
		{ dotdot, 1, "an entry \"../x\"" },
		{ deep_dotdot, 1, "an entry \"a/../../x\"" },
		{ absolute, 1, "an entry \"/abs\"" },
		{ abs_link, 1, "a symlink to /etc/passwd" },
		{ climb_link, 2, "a symlink climbing out with ../.." },
		{ hard_out, 1, "a hard link to ../../etc/passwd" },
		{ device, 1, "a device node" },
		{ fifo, 1, "a FIFO" },
		{ through_link, 2, "an entry written through a symlink" },
		{ chain_out, 2, "a symlink chain x -> . and l -> x/.. (the tree's parent)" },
	};
	const char *const ls[] = { "/bin/ls", NULL };
	struct sandbox_spec spec;
	static struct test_job job;
	struct test_upload up;
	char random_bytes[4096];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[128];

		up = make_archive(cases[i].entries, cases[i].n, TEST_TAR);
		base_spec(&spec, &up, ls);
		run_job(&spec, &job);
		snprintf(name, sizeof name, "%s fails the unpack", cases[i].name);
		check(job.start_rc == 0 && job.res.outcome == SANDBOX_UNPACK_FAILED && job.res.message[0] != '\0'
		      && job.outlen == 0, &job, name);
		free(up.data);
	}

	base_spec(&spec, NULL, ls);
	spec.upload = "just some text, not an archive\n";
	spec.upload_len = strlen(spec.upload);
	run_job(&spec, &job);
	check(job.res.outcome == SANDBOX_UNPACK_FAILED
	      && strstr(job.res.message, "upload is not an archive libarchive can read") != NULL,
	      &job, "plain text is not an archive");

	srand(42);
	for (i = 0; i < sizeof random_bytes; i++)
		random_bytes[i] = (char)rand();
	spec.upload = random_bytes;
	spec.upload_len = sizeof random_bytes;
	run_job(&spec, &job);
	check(job.res.outcome == SANDBOX_UNPACK_FAILED, &job, "random bytes are not an archive");

	{
		static const struct test_entry five[] = {
			{ "a", 'f', "1", NULL, 0 }, { "b", 'f', "2", NULL, 0 }, { "c", 'f', "3", NULL, 0 },
			{ "d", 'f', "4", NULL, 0 }, { "e", 'f', "5", NULL, 0 },
		};
		static char big[5001];
		struct test_entry large[1] = { { "big", 'f', big, NULL, 0 } };

		up = make_archive(five, 5, TEST_TAR);
		base_spec(&spec, &up, ls);
		spec.files_max = 3;
		run_job(&spec, &job);
		check(job.res.outcome == SANDBOX_UNPACK_FAILED && strstr(job.res.message, "more than 3 entries"),
		      &job, "files_max is enforced");
		spec.files_max = 5;
		run_job(&spec, &job);
		check(exited_with(&job, 0) && strcmp(job.out, "a\nb\nc\nd\ne\n") == 0, &job,
		      "exactly files_max entries is fine");
		free(up.data);

		memset(big, 'x', sizeof big - 1);
		up = make_archive(large, 1, TEST_TGZ);
		base_spec(&spec, &up, ls);
		spec.unpacked_max_bytes = 1000;
		run_job(&spec, &job);
		check(job.res.outcome == SANDBOX_UNPACK_FAILED && strstr(job.res.message, "1000 bytes"), &job,
		      "unpacked_max_bytes is enforced");
		free(up.data);
	}
}

/* Counts the entries of a directory, "." and ".." aside. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* unpack_archive() on its own, in <tmp>/work: nothing may appear in <tmp>. */
static void test_unpack_direct(void)
{
	static const struct test_entry dotdot[] = { { "ok", 'f', "fine\n", NULL, 0 }, { "../escaped", 'f', "x\n", NULL, 0 } };
	static const struct test_entry link_then_write[] = {
		{ "up", 'l', NULL, "..", 0 }, { "up/escaped", 'f', "x\n", NULL, 0 },
	};
	char top[] = "/tmp/sandrun-unpack-XXXXXX", work[64], err[256], cwd[4096];
	struct test_upload up;
	int rc;

	if (mkdtemp(top) == NULL || getcwd(cwd, sizeof cwd) == NULL) {
		ok(0, "cannot make a temporary directory");
		return;
	}
	snprintf(work, sizeof work, "%s/work", top);
	mkdir(work, 0700);
	if (chdir(work) < 0) {
		ok(0, "cannot enter %s", work);
		return;
	}

	up = make_archive(dotdot, 2, TEST_TAR);
	err[0] = '\0';
	rc = unpack_archive(up.data, up.len, 1 << 20, 100, err, sizeof err);
	ok(rc == -1 && strstr(err, "../escaped") != NULL, "unpack_archive refuses \"../escaped\", naming it");
	printf("#   %s\n", err);
	ok(count_entries(top) == 1, "nothing was written beside the working directory");
	free(up.data);

	up = make_archive(link_then_write, 2, TEST_TAR);
	rc = unpack_archive(up.data, up.len, 1 << 20, 100, err, sizeof err);
	ok(rc == -1 && count_entries(top) == 1, "a symlink to \"..\" is refused and nothing written through it");
	printf("#   %s\n", err);
	free(up.data);

	rc = unpack_archive("", 0, 1 << 20, 100, err, sizeof err);
	ok(rc == 0, "an empty upload unpacks to nothing");

	{
		/* mtree takes file contents from the unpacking machine: not an upload */
		const char *mtree = "#mtree\nleak type=file contents=/etc/hostname\n";

		rc = unpack_archive(mtree, strlen(mtree), 1 << 20, 100, err, sizeof err);
		ok(rc == -1 && access("leak", F_OK) != 0, "an mtree listing is refused");
	}

	if (chdir(cwd) < 0)
		ok(0, "cannot go back to %s", cwd);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf %s", top);
		if (system(cmd) != 0)
			diag("cannot remove the temporary directory");
	}
}

static void test_lifetime(void)
{
	struct test_upload up = make_archive(hello_files, 1, TEST_TAR);
	struct sandbox_spec spec;
	static struct test_job job;
	const char *const orphan[] = { "/bin/sh", "-c", "sleep 100 & echo done", NULL };
	const char *const sleeper[] = { "/bin/sleep", "100", NULL };
	const char *const busy[] = { "/usr/bin/python3", "-c",
		"import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n", NULL };
	const char *const spin[] = { "/bin/sh", "-c", "while :; do :; done", NULL };

	base_spec(&spec, &up, orphan);
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "done\n") == 0 && job.wall_seconds < 5, &job,
	      "an orphan left behind does not keep the sandbox alive");

	spec.argv = sleeper;
	run_job_killing(&spec, &job, 300);
	check(job.res.outcome == SANDBOX_EXITED && job.res.term_signal == SIGKILL && job.wall_seconds < 5, &job,
	      "sandbox_kill ends a sleeping job");

	spec.argv = orphan;
	run_job_killing(&spec, &job, 0);
	check(job.res.outcome == SANDBOX_EXITED && job.res.term_signal == SIGKILL && job.outlen == 0
	      && job.wall_seconds < 2, &job, "sandbox_kill right after the start ends it before the job runs");

	spec.argv = busy;
	run_job(&spec, &job);
	check(exited_with(&job, 0) && job.res.cpu_seconds >= 0.3 && job.res.cpu_seconds <= 1.0, &job,
	      "a 0.5 s busy loop is charged between 0.3 and 1.0 CPU seconds");
	printf("#   cpu %.3f\n", job.res.cpu_seconds);

	spec.argv = spin;
	/* ~0.8 s of spinning on a quiet machine; a dead-init kill would report
	 * a few milliseconds, so 0.25 separates the two even on a busy one */
	run_job_killing(&spec, &job, 1000);
	check(job.res.term_signal == SIGKILL && job.res.cpu_seconds >= 0.25 && job.res.cpu_seconds <= 1.5, &job,
	      "a killed job's CPU is still counted");
	printf("#   cpu %.3f\n", job.res.cpu_seconds);
	free(up.data);
}

/* How many times needle occurs in the readable memory of process pid
 * (through /proc/PID/maps and /proc/PID/mem), or -1 when it cannot be read. */
static long memory_count(pid_t pid, const char *needle)
{
	size_t nlen = strlen(needle), chunk = 1 << 20;
	char path[64], line[512];
	long count = 0;
	char *buf;
	FILE *maps;
	int mem;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	buf = malloc(chunk + nlen);
	if (maps == NULL || mem < 0 || buf == NULL) {
		count = -1;
		goto out;
	}
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8];
		size_t carry = 0;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r'
		    || strstr(line, "[vvar") || strstr(line, "[vsyscall]") || hi - lo > (1UL << 32))
			continue;
		for (unsigned long at = lo; at < hi;) {
			size_t want = hi - at < chunk ? hi - at : chunk;
			ssize_t n = pread(mem, buf + carry, want, (off_t)at);
			const char *p, *end;

			if (n <= 0)
				break;
			end = buf + carry + n;
			for (p = buf; (p = memmem(p, (size_t)(end - p), needle, nlen)) != NULL; p++)
				count++;
			/* keep the tail, so a needle across two chunks is seen once */
			carry = (size_t)(end - buf) < nlen - 1 ? (size_t)(end - buf) : nlen - 1;
			memmove(buf, end - carry, carry);
			at += (unsigned long)n;
		}
	}
out:
	if (maps)
		fclose(maps);
	if (mem >= 0)
		close(mem);
	free(buf);
	return count;
}

/*
 * Init is a fresh image of the sandrun-init program, not a copy of the
 * supervisor: a secret in the supervisor's memory (here, this process's)
 * is nowhere in init's, nor are the supervisor's descriptors or its
 * environment, while the job sleeps.
 */
static void test_fresh_image(void)
{
	const char *const sleeper[] = { "/bin/sh", "-c", "echo ready; exec sleep 30", NULL };
	struct test_upload up = make_archive(hello_files, 1, TEST_TAR);
	char marker[96], *heap_copy, path[64], link[PATH_MAX], out[256] = "", err[256];
	struct sandbox_spec spec;
	struct sandbox_result res;
	struct cgroup_job cg;
	struct sandbox sb;
	size_t outlen = 0;
	int leak = open("/", O_RDONLY | O_DIRECTORY), environ_bytes = -1, found_leak = 0;
	double start = now_seconds();
	ssize_t n;
	DIR *fds;
	struct dirent *de;
	FILE *f;

	/* made at run time: in no file, only in this process's stack and heap */
	snprintf(marker, sizeof marker, "sandrun-supervisor-secret-%d-%ld", (int)getpid(), (long)time(NULL) * 7919);
	heap_copy = strdup(marker);
	base_spec(&spec, &up, sleeper);
	if (cgroup_job_create(&test_cgroups, "job-fresh", &job_limits, &cg, err, sizeof err) < 0
	    || (spec.cgroup = &cg, sandbox_start(&spec, &sb, err, sizeof err)) < 0) {
		ok(0, "a sleeping job starts: %s", err);
		goto out;
	}
	while (strstr(out, "ready") == NULL && now_seconds() - start < 10) {
		struct pollfd p = { sb.stdout_fd, POLLIN, 0 };

		poll(&p, 1, 100);
		n = read(sb.stdout_fd, out + outlen, sizeof out - 1 - outlen);
		if (n > 0)
			out[outlen += (size_t)n] = '\0';
	}
	ok(strstr(out, "ready") != NULL, "a sleeping job runs");

	snprintf(path, sizeof path, "/proc/%d/exe", (int)sb.pid);
	n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = '\0';
	ok(n > 0 && strcmp(strrchr(link, '/') ? strrchr(link, '/') + 1 : link, "sandrun-init") == 0,
	   "init runs the sandrun-init program (%s), not a copy of the supervisor", link);
	snprintf(path, sizeof path, "/proc/%d/environ", (int)sb.pid);
	if ((f = fopen(path, "r")) != NULL) {
		environ_bytes = 0;
		while (fgetc(f) != EOF)
			environ_bytes++;
		fclose(f);
	}
	is_int(environ_bytes, 0, "init's environment is empty");
	snprintf(path, sizeof path, "/proc/%d/fd", (int)sb.pid);
	if ((fds = opendir(path)) != NULL) {
		while ((de = readdir(fds)) != NULL) {
			char fdpath[320];

			snprintf(fdpath, sizeof fdpath, "/proc/%d/fd/%s", (int)sb.pid, de->d_name);
			n = readlink(fdpath, link, sizeof link - 1);
			link[n > 0 ? n : 0] = '\0';
			found_leak |= n > 0 && strcmp(link, "/") == 0;
		}
		closedir(fds);
	}
	ok(fds != NULL && !found_leak, "init holds none of the supervisor's descriptors");
	ok(memory_count(getpid(), marker) >= 2, "the scanner finds the secret in the supervisor (stack and heap)");
	is_int(memory_count(sb.pid, marker), 0, "the supervisor's secret is nowhere in init's memory");

	sandbox_kill(&sb);
	while (read(sb.stdout_fd, out, sizeof out) > 0)
		;
	sandbox_wait(&sb, &res);
	close(sb.stdout_fd);
	close(sb.stderr_fd);
	cgroup_job_destroy(&cg, NULL, 0);
out:
	close(leak);
	free(heap_copy);
	free(up.data);
}

static void test_errors(void)
{
	const struct cgroup_job unused_cgroup = { .fd = -1 };
	const char *const ls[] = { "/bin/ls", NULL };
	struct sandbox_spec spec;
	static struct test_job job;
	struct sandbox sb;
	char err[256] = "";

	base_spec(&spec, NULL, ls);
	spec.uid = 0;
	ok(sandbox_start(&spec, &sb, err, sizeof err) == -1 && strstr(err, "root"), "a job may not run as root");

	base_spec(&spec, NULL, (const char *const[]){ "ls", NULL });
	ok(sandbox_start(&spec, &sb, err, sizeof err) == -1 && err[0] != '\0', "argv[0] must be absolute");

	base_spec(&spec, NULL, ls);
	spec.mount_point = "/nonexistent-sandrun-mount-point";
	run_job(&spec, &job);
	check(job.start_rc == 0 && job.res.outcome == SANDBOX_INTERNAL_ERROR && strstr(job.res.message, "tmpfs"),
	      &job, "a broken mount point is an internal error with a message");

	base_spec(&spec, NULL, ls);
	spec.env_root = "/nonexistent-sandrun-env";
	run_job(&spec, &job);
	check(job.res.outcome == SANDBOX_INTERNAL_ERROR && strstr(job.res.message, "/nonexistent-sandrun-env/usr"),
	      &job, "a missing environment is an internal error naming it");

	/* init's program */
	base_spec(&spec, NULL, ls);
	spec.cgroup = &unused_cgroup;   /* refused before it is used */
	spec.init_fd = -1;
	ok(sandbox_start(&spec, &sb, err, sizeof err) == -1 && strstr(err, "sandrun-init"),
	   "a spec without the init program is refused: %s", err);
	ok(sandbox_init_program_open("/nonexistent/sandrun-init", err, sizeof err) == -1 && strstr(err, "/nonexistent"),
	   "a missing init program is refused, naming it");
	{
		char file[] = "/tmp/sandrun-init-XXXXXX";
		int fd = mkstemp(file);    /* mode 0600: not executable */

		ok(fd >= 0 && sandbox_init_program_open(file, err, sizeof err) == -1 && strstr(err, "not an executable"),
		   "an init program that is not an executable file is refused");
		if (fd >= 0)
			fchmod(fd, 0775);
		ok(fd >= 0 && sandbox_init_program_open(file, err, sizeof err) == -1 && strstr(err, "writable"),
		   "an init program others may write is refused (root runs it for every job)");
		if (fd >= 0) {
			close(fd);
			unlink(file);
		}
	}
	base_spec(&spec, NULL, ls);
	spec.init_fd = open("/bin/true", O_PATH | O_CLOEXEC);
	run_job(&spec, &job);
	check(job.start_rc == 0 && job.res.outcome == SANDBOX_INTERNAL_ERROR && strstr(job.res.message, "without a report"),
	      &job, "an init program that is not sandrun-init fails the job as an internal error");
	close(spec.init_fd);
	{
		FILE *p = popen(SANDRUN_INIT_BUILD_PATH " 2>&1", "r");
		char text[256] = "";
		size_t got = p ? fread(text, 1, sizeof text - 1, p) : 0;
		int status = p ? pclose(p) : -1;

		text[got] = '\0';
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 2 && strstr(text, "not a command"),
		   "sandrun-init run by hand refuses, exit status 2");
	}
}

/* Kills the sandbox once the job has printed `ready`; before the kill,
 * opens a pidfd on every process of its cgroup (init, the job, orphans),
 * so that after it we can tell whether each of them died: within 2 s, as
 * the cgroup empties when each has passed cgroup_exit() in the kernel, a
 * moment before exit_notify() makes its pidfd readable (init waits there
 * for the rest of its namespace). */
static void run_job_kill_when_ready(const struct sandbox_spec *spec_in, struct test_job *job,
				    int *processes, int *survivors)
{
	struct sandbox_spec spec = *spec_in;
	struct cgroup_job cg;
	struct sandbox sb;
	pid_t pids[64];
	int pidfds[64], n = 0, i;
	double start = now_seconds();
	bool open_ = true;

	memset(job, 0, sizeof *job);
	*processes = *survivors = -1;
	job->start_rc = cgroup_job_create(&test_cgroups, "job-ready", &job_limits, &cg, job->start_err,
					  sizeof job->start_err);
	if (job->start_rc < 0)
		return;
	spec.cgroup = &cg;
	job->start_rc = sandbox_start(&spec, &sb, job->start_err, sizeof job->start_err);
	if (job->start_rc < 0) {
		cgroup_job_destroy(&cg, NULL, 0);
		return;
	}
	while (open_ && strstr(job->out, "ready\n") == NULL && now_seconds() - start < 10) {
		struct pollfd p = { sb.stdout_fd, POLLIN, 0 };

		poll(&p, 1, 50);
		drain(sb.stdout_fd, job->out, &job->outlen, &open_);
	}
	n = cgroup_job_pids(&cg, pids, 64, job->start_err, sizeof job->start_err);
	for (i = 0; i < n; i++)
		pidfds[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
	sandbox_kill(&sb);
	*processes = n;
	*survivors = 0;
	for (i = 0; i < n; i++) {
		struct pollfd p = { pidfds[i], POLLIN, 0 };

		if (pidfds[i] >= 0 && poll(&p, 1, 2000) != 1)
			(*survivors)++;
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	}
	sandbox_wait(&sb, &job->res);
	close(sb.stdout_fd);
	close(sb.stderr_fd);
	job->wall_seconds = now_seconds() - start;
	cgroup_job_destroy(&cg, NULL, 0);
}

/* The job's cgroup at work: rlimits and the cgroup view inside, runaway
 * jobs ended with the right figures, a kill that reaches an orphan, and
 * the CPU of a busy loop counted from the cgroup. */
static void test_limits(void)
{
	struct test_upload up = make_archive(hello_files, 1, TEST_TAR);
	const struct cgroup_limits defaults = job_limits;
	struct sandbox_spec spec;
	static struct test_job job;
	struct sandbox sb;
	char err[256] = "";
	int processes, survivors;
	const char *const rlimits[] = { "/bin/sh", "-c", "awk '/^Max (file size|core file size|processes|open files)/ "
		"{ print $(NF-2), $(NF-1) }' /proc/self/limits", NULL };
	const char *const cgroup_view[] = { "/bin/cat", "/proc/self/cgroup", NULL };
	const char *const hog[] = { "/usr/bin/python3", "-c",
		"blocks = []\nwhile True:\n    blocks.append(b'x' * (16 << 20))\n", NULL };
	const char *const fork_loop[] = { "/usr/bin/python3", "-c",
		"import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
		"            time.sleep(60)\n            os._exit(0)\n        n += 1\n"
		"except OSError as e:\n    print(n, e.errno)\n", NULL };
	/* exec: the job's own process must not need a fork once the bomb has used them all */
	const char *const bomb[] = { "/bin/sh", "-c", "b() { b | b & }; b; exec sleep 100", NULL };
	const char *const orphan[] = { "/bin/sh", "-c", "sh -c 'setsid sleep 1000 &'; sleep 1000 & echo ready; wait", NULL };
	const char *const busy[] = { "/usr/bin/python3", "-c",
		"import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass\n", NULL };
	const char *const hello[] = { "/usr/bin/python3", "hello.py", NULL };

	base_spec(&spec, &up, rlimits);
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "67108864 67108864\n0 0\n65 65\n1024 1024\n") == 0, &job,
	      "rlimits: FSIZE = the tmpfs, CORE 0, NPROC pids_max + 1, NOFILE 1024, soft = hard");

	spec.argv = cgroup_view;
	run_job(&spec, &job);
	{
		const char *p = job.out;
		bool rooted = job.outlen > 0;

		while (*p != '\0') {
			const char *nl = strchr(p, '\n');

			if (nl == NULL || nl - p < 2 || strncmp(nl - 2, ":/", 2) != 0)
				rooted = false;
			p = nl ? nl + 1 : "";
		}
		check(exited_with(&job, 0) && rooted, &job,
		      "the job's /proc/self/cgroup shows its own cgroup as / (nothing of the runner's tree)");
	}

	job_limits.memory_bytes = 64 << 20;
	spec.argv = hog;
	run_job(&spec, &job);
	check(job.res.outcome == SANDBOX_EXITED && job.res.term_signal == SIGKILL && job.res.oom_killed
	      && job.res.memory_peak_bytes >= 50 << 20 && job.res.memory_peak_bytes <= 80 << 20 && job.wall_seconds < 20,
	      &job, "a job allocating past its 64 MB is OOM-killed, reported so, its peak about the limit");
	printf("#   peak %lld bytes\n", (long long)job.res.memory_peak_bytes);
	job_limits = defaults;

	spec.uid = spec.gid = TEST_PIDS_UID_BASE + (unsigned)getpid();
	spec.argv = fork_loop;
	run_job(&spec, &job);
	{
		int made = -1, e = 0;

		sscanf(job.out, "%d %d", &made, &e);
		check(exited_with(&job, 0) && made > 50 && made < 64 && e == EAGAIN && job.res.pids_limit_hit, &job,
		      "a fork loop stops below pids_max (64) with EAGAIN, pids_limit_hit is reported");
	}

	spec.argv = bomb;
	run_job_killing(&spec, &job, 2000);
	check(job.res.outcome == SANDBOX_EXITED && job.res.term_signal == SIGKILL && job.res.pids_limit_hit
	      && job.wall_seconds < 10, &job, "a fork bomb meets pids_max and sandbox_kill still ends it");
	spec.argv = hello;
	run_job(&spec, &job);
	check(exited_with(&job, 0) && strcmp(job.out, "hello from python\n") == 0, &job,
	      "the next job runs normally after the fork bomb");
	spec.uid = spec.gid = TEST_UID;

	spec.argv = orphan;
	run_job_kill_when_ready(&spec, &job, &processes, &survivors);
	check(processes >= 4 && survivors == 0 && job.res.term_signal == SIGKILL, &job,
	      "a setsid double-forked orphan does not survive sandbox_kill (checked by pidfd)");
	printf("#   %d processes in the cgroup, %d survived\n", processes, survivors);

	spec.argv = busy;
	run_job(&spec, &job);
	check(exited_with(&job, 0) && job.res.cpu_seconds >= 0.7 && job.res.cpu_seconds <= 1.5, &job,
	      "a 1 s busy loop is charged 0.7 to 1.5 CPU seconds by the cgroup");
	printf("#   cpu %.3f\n", job.res.cpu_seconds);

	base_spec(&spec, &up, hello);
	ok(sandbox_start(&spec, &sb, err, sizeof err) == -1 && strstr(err, "no cgroup") != NULL,
	   "a spec without a cgroup is refused: %s", err);
	free(up.data);
}

static bool mounted_anywhere(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	bool found = false;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, path) != NULL)
			found = true;
	fclose(f);
	return found;
}

/* The outputs globs (docs/api.md §3): "*" stays in one directory, a trailing "/"
 * takes a whole tree, "**" any depth (none included). */
static void test_output_globs(void)
{
	static const struct { const char *glob, *path; int want; } cases[] = {
		{ "*.png", "a.png", 1 }, { "*.png", "results/a.png", 0 },
		{ "results/", "results/a.png", 1 }, { "results/", "results/sub/x.txt", 1 },
		{ "results/", "results", 0 }, { "results/", "resultsx/a", 0 },
		{ "model.pkl", "model.pkl", 1 }, { "model.pkl", "model.pkl.bak", 0 },
		{ "**/*.png", "a.png", 1 }, { "**/*.png", "x/y/a.png", 1 }, { "**", "x/y/z", 1 },
		{ "a/**/b.txt", "a/b.txt", 1 }, { "a/**/b.txt", "a/x/y/b.txt", 1 },
		{ "res*/", "results/q", 1 }, { "results", "results/q", 1 }, { "*.txt", "d/etc.txt", 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(sandbox_output_matches(cases[i].glob, cases[i].path) == cases[i].want,
		   "output glob %s %s %s", cases[i].glob, cases[i].want ? "matches" : "does not match",
		   cases[i].path);
}

int main(void)
{
	int fds_before, fds_after;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	if (locale_use_utf8_names() < 0)   /* as the runner does first: UTF-8 names */
		diag("no C.UTF-8 locale: the UTF-8 upload tests will fail");
	{
		struct cgroup_host host;
		char err[1024], name[64];

		if (cgroup_detect(&host, err, sizeof err) < 0) {
			printf("1..0 # SKIP no usable cgroups here, and jobs never run without: %s\n", err);
			return 0;
		}
		snprintf(name, sizeof name, "sandrun-test-sandbox-%d", (int)getpid());
		if (cgroup_runner_init(&test_cgroups, &host, name, err, sizeof err) < 0) {
			printf("1..0 # SKIP cannot make a cgroup for the test's jobs here: %s\n", err);
			return 0;
		}
	}
	snprintf(mount_point, sizeof mount_point, "/tmp/sandrun-root-XXXXXX");
	if (mkdtemp(mount_point) == NULL) {
		printf("Bail out! cannot create a mount point: %s\n", strerror(errno));
		return 1;
	}
	{
		char err[512];

		init_fd = sandbox_init_program_open(SANDRUN_INIT_BUILD_PATH, err, sizeof err);
		if (init_fd < 0) {
			printf("Bail out! %s\n", err);
			return 1;
		}
	}
	fds_before = count_entries("/proc/self/fd");

	test_output_globs();
	test_basics();
	test_stdin();
	test_isolation();
	test_interpreters();
	test_uploads();
	test_bad_uploads();
	test_unpack_direct();
	test_lifetime();
	test_errors();
	test_fresh_image();
	test_limits();

	fds_after = count_entries("/proc/self/fd");
	if (fds_after != fds_before) {
		char cmd[64];

		snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd | sed 's/^/#   /'", (int)getpid());
		if (system(cmd) != 0)
			diag("cannot list the descriptors");
	}
	is_int(fds_after, fds_before, "the supervisor leaks no descriptors");
	ok(count_entries(mount_point) == 0 && !mounted_anywhere(mount_point),
	   "the host's mount point is still empty and unmounted");
	rmdir(mount_point);
	close(init_fd);
	{
		char err[512] = "";

		if (!ok(cgroup_runner_cleanup(&test_cgroups, err, sizeof err) == 0, "every job cgroup is gone, and the parent"))
			printf("#   %s\n", err);
	}
	return done_testing();
}
