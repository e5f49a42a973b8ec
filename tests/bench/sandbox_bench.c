/*
 * sandbox_bench: what one short job costs to start and end, bare and in
 * our sandbox (and under any other wrapper command line), measured side
 * by side in one process so every row sees the same machine.
 *
 *   sandbox_bench [-r ROUNDS] [-n ITERATIONS] [-w WARMUP] [-t SECONDS]
 *                 [-l LABEL] MODE... -- COMMAND [ARG...]
 *
 *   MODE  bare             fork, execve COMMAND, drain its stdout and
 *                          stderr pipes to EOF, waitpid
 *         sandbox          the runner's own sequence: make the job's cgroup
 *                          (runner/cgroup.h, the runner's default limits),
 *                          sandbox_start() with a one-file tar upload (as
 *                          every real job has one), the seccomp filter built
 *                          and the sandrun-init program opened once beforehand
 *                          (as the runner does at start), drain both pipes to
 *                          EOF, sandbox_wait_result(): timed to the result;
 *                          then, untimed but in the loop, init's exit and
 *                          the cgroup's removal, which the runner does after
 *                          recording the result
 *         sandbox-empty    the same without an upload (no unpacker)
 *         exec:NAME=WRAPPER  like bare, but execve WRAPPER (split at
 *                          spaces, absolute path first) followed by COMMAND:
 *                          bubblewrap, firejail, ... timed by this same code
 *
 * Rounds are interleaved: round 1 runs ITERATIONS of each mode in turn,
 * then round 2, ..., so a burst of noise on a shared machine lands on every
 * mode alike instead of on whichever ran during it. WARMUP runs of each
 * mode come first and are not counted. -t stops after the round in which
 * the time budget ran out (a bound for slow wrappers; n says how many ran).
 *
 * Output, one line per mode, key=value, for run.sh to read:
 *   result label=L mode=M n=N failures=F median_us=X p90_us=X min_us=X mean_us=X
 * Failures (an exit status other than 0, a sandbox error) are not counted
 * in the figures; the first one of each mode is described on stderr.
 *
 * The sandbox's mount point is a fresh directory in $TMPDIR (or /tmp),
 * removed at the end; the job mounts on it only in its own namespace.
 *
 * Exit status: 0 when every mode has figures, 1 otherwise, 2 usage.
 * The sandbox modes need root (namespaces, mounts), like the runner.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "job_command.h"
#include "sandbox.h"
#include "seccomp_filter.h"
#include "unpack.h"

/* The job's uid and gid: far above any real account, like the runner's
 * slots (job_uid_base 1900000 + slot); not a slot a local runner uses. */
#define BENCH_UID 1900999
#define BENCH_GID 1900999

/* The job's tmpfs and bounds: the runner's defaults (512 MiB memory,
 * 512 MB unpacked, 10,000 files). A size costs nothing until used. */
#define BENCH_TMPFS_BYTES     (512LL * 1024 * 1024)
#define BENCH_UNPACKED_MAX    (512LL * 1000 * 1000)
#define BENCH_FILES_MAX       10000
/* The job cgroup's limits: the runner's defaults (docs/api.md §4), as
 * tests/unit/test_sandbox.c uses them: 512 MiB, one CPU, 64 tasks. */
static const struct cgroup_limits bench_limits = {
	.memory_bytes = 512LL * 1024 * 1024,
	.cpu_quota_us = 100000,
	.cpu_period_us = 100000,
	.pids_max = 64,
};

#define BENCH_MODES_MAX       8
#define BENCH_WRAPPER_ARGS    64
#define BENCH_COMMAND_ARGS    64
/* A run that has not ended after this long is hung: kill it, count a failure. */
#define BENCH_RUN_TIMEOUT_MS  30000
/* Output is drained and dropped; a trivial command prints nothing anyway. */
#define BENCH_READ_CHUNK      65536

enum bench_kind { BENCH_BARE, BENCH_SANDBOX, BENCH_SANDBOX_EMPTY, BENCH_SANDBOX_PREPARED, BENCH_EXEC };

struct bench_mode {
	enum bench_kind kind;
	char name[64];                          /* "bare", "sandbox", or NAME of exec:NAME=... */
	char *wrapper_text;                     /* exec: the WRAPPER string, split in place */
	const char *argv[BENCH_WRAPPER_ARGS + BENCH_COMMAND_ARGS + 1];
	int64_t *samples_ns;                    /* successful runs only */
	size_t nsamples, failures;
	bool failure_told;
};

struct bench_upload {
	char *data;
	size_t len;
};

static const char *mount_point;                 /* for the sandbox modes */
static struct bench_upload upload;
static struct cgroup_runner cgroups;            /* the parent of every run's job cgroup */
static bool cgroups_made;
static struct seccomp_program filter;           /* built once, as the runner does at start */
static int init_fd = -1;                        /* sandrun-init, opened once, as the runner does at start */
static int slot_netns;                          /* one network namespace, as a runner slot has */
static unsigned long cgroup_serial;             /* job cgroups are named bench-1, bench-2, ... */

static int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sandbox_bench [-r ROUNDS] [-n ITERATIONS] [-w WARMUP] [-t SECONDS] [-l LABEL]\n"
		   "                     MODE... -- COMMAND [ARG...]\n"
		   "  MODE: bare | sandbox | sandbox-empty | exec:NAME=/abs/wrapper arg...\n");
}

/* A ustar archive holding one small script, the shape of a real upload. */
static int bench_make_upload(struct bench_upload *u)
{
	static const char script[] = "exit 0\n";
	size_t cap = 64 * 1024, used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int rc = -1;

	u->data = malloc(cap);
	if (a == NULL || e == NULL || u->data == NULL)
		goto done;
	if (archive_write_set_format_ustar(a) != ARCHIVE_OK
	    || archive_write_add_filter_none(a) != ARCHIVE_OK
	    || archive_write_open_memory(a, u->data, cap, &used) != ARCHIVE_OK)
		goto done;
	archive_entry_set_pathname(e, "true.sh");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0755);
	archive_entry_set_size(e, (la_int64_t)(sizeof script - 1));
	if (archive_write_header(a, e) != ARCHIVE_OK
	    || archive_write_data(a, script, sizeof script - 1) != (la_ssize_t)(sizeof script - 1)
	    || archive_write_close(a) != ARCHIVE_OK)
		goto done;
	u->len = used;
	rc = 0;
done:
	if (rc < 0 && a != NULL)
		fprintf(stderr, "sandbox_bench: cannot build the upload: %s\n", archive_error_string(a));
	archive_entry_free(e);
	if (a != NULL)
		archive_write_free(a);
	return rc;
}

/* Reads both pipes until EOF on each (the job and init have closed them),
 * or until the deadline. 0, or -1 on a timeout or read error. */
static int bench_drain(int out_fd, int err_fd, int64_t deadline_ns)
{
	struct pollfd fds[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN } };
	char chunk[BENCH_READ_CHUNK];

	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		int64_t left_ms = (deadline_ns - bench_now_ns()) / 1000000;
		int n;

		if (left_ms <= 0)
			return -1;
		n = poll(fds, 2, (int)left_ms);
		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < 2; i++) {
			ssize_t got;

			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			got = read(fds[i].fd, chunk, sizeof chunk);
			if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
				fds[i].fd = -1;
		}
	}
	return 0;
}

static void bench_fail(struct bench_mode *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bench_fail(struct bench_mode *m, const char *fmt, ...)
{
	va_list ap;

	m->failures++;
	if (m->failure_told)
		return;
	m->failure_told = true;
	fprintf(stderr, "sandbox_bench: %s: ", m->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * bare and exec: fork, execve, drain, waitpid. The child gets /dev/null
 * on stdin and pipes on stdout and stderr, as the sandbox's job does.
 * Returns the elapsed time in ns, or -1 (a failure, already counted).
 */
static int64_t bench_run_exec(struct bench_mode *m, int devnull)
{
	int out[2] = { -1, -1 }, errs[2] = { -1, -1 }, status;
	int64_t t0, t1 = -1;
	bool killed = false;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0) {
		bench_fail(m, "pipe: %s", strerror(errno));
		goto done;
	}
	t0 = bench_now_ns();
	pid = fork();
	if (pid < 0) {
		bench_fail(m, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0
		    || dup2(errs[1], STDERR_FILENO) < 0)
			_exit(126);
		/* every mode runs in the runner's fixed environment (runner/job_command.h),
		 * so no mode reads more of the host's than another */
		execve(m->argv[0], (char *const *)m->argv, (char *const *)job_command_base_env);
		dprintf(STDERR_FILENO, "cannot execute %s: %s\n", m->argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(errs[1]);
	out[1] = errs[1] = -1;
	if (bench_drain(out[0], errs[0], t0 + (int64_t)BENCH_RUN_TIMEOUT_MS * 1000000) < 0) {
		kill(pid, SIGKILL);
		bench_fail(m, "no EOF within %d ms: killed", BENCH_RUN_TIMEOUT_MS);
		killed = true;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed)
		goto done;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		t1 = bench_now_ns() - t0;
	else
		bench_fail(m, "exit status %d, signal %d (run it by hand to see why)",
			   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
done:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errs[i] >= 0)
			close(errs[i]);
	}
	return t1;
}

/*
 * sandbox: the runner's sequence (runner/job.c) without Redis: make the
 * job's cgroup, start, drain both pipes to EOF, wait for init's report:
 * that is the result, what a client waits for, and the time. Then, as the
 * runner does once the result is recorded, init's exit (its namespaces torn
 * down) and the cgroup's removal: not in the time, but in the loop, so that
 * their CPU weighs on the next run as it does in the runner.
 */
static int64_t bench_run_sandbox(struct bench_mode *m)
{
	struct cgroup_job cgroup;
	char name[CGROUP_NAME_MAX];
	struct sandbox_spec spec = {
		.job_id = "bench",
		.uid = BENCH_UID,
		.gid = BENCH_GID,
		.mount_point = mount_point,
		.env_root = "/",
		.tmpfs_bytes = BENCH_TMPFS_BYTES,
		.upload = m->kind != BENCH_SANDBOX_EMPTY ? upload.data : NULL,
		.upload_len = m->kind != BENCH_SANDBOX_EMPTY ? upload.len : 0,
		.init_fd = init_fd,
		.unpacked_max_bytes = BENCH_UNPACKED_MAX,
		.files_max = BENCH_FILES_MAX,
		.argv = m->argv,
		.envp = job_command_base_env,
		.stdin_data = NULL,
		.stdin_len = 0,
		.cgroup = &cgroup,
		.pids_max = bench_limits.pids_max,
		.seccomp = &filter,
		.netns_fd = slot_netns,
	};
	struct sandbox sb = { .pid = -1, .stdout_fd = -1, .stderr_fd = -1, .report_fd = -1 };
	struct sandbox_result res;
	char err[256] = "";
	bool prepared = m->kind == BENCH_SANDBOX_PREPARED;
	int64_t t0 = bench_now_ns(), elapsed;

	snprintf(name, sizeof name, "bench-%lu", ++cgroup_serial);
	if (cgroup_job_create(&cgroups, name, &bench_limits, &cgroup, err, sizeof err) < 0) {
		bench_fail(m, "cgroup_job_create: %s", err);
		return -1;
	}
	/* prepared: built ahead and waiting, as a runner's idle slot has it; the time starts at the job */
	if (prepared && (sandbox_prepare(&spec, &sb, err, sizeof err) < 0
			 || sandbox_prepared_ready(&sb, BENCH_RUN_TIMEOUT_MS) != 1)) {
		bench_fail(m, "sandbox_prepare: %s", *err ? err : "init did not get ready");
		if (sb.pid > 0)
			sandbox_discard(&sb);
		cgroup_job_destroy(&cgroup, NULL, 0);
		return -1;
	}
	if (prepared)
		t0 = bench_now_ns();
	if (prepared ? sandbox_go(&sb, &spec, err, sizeof err) < 0 : sandbox_start(&spec, &sb, err, sizeof err) < 0) {
		bench_fail(m, "sandbox_start: %s", err);
		if (prepared)
			sandbox_discard(&sb);
		cgroup_job_destroy(&cgroup, NULL, 0);
		return -1;
	}
	if (bench_drain(sb.stdout_fd, sb.stderr_fd, t0 + (int64_t)BENCH_RUN_TIMEOUT_MS * 1000000) < 0) {
		sandbox_kill(&sb);
		bench_fail(m, "no EOF within %d ms: killed", BENCH_RUN_TIMEOUT_MS);
	}
	sandbox_wait_result(&sb, &res);
	elapsed = bench_now_ns() - t0;
	sandbox_reap(&sb);
	if (cgroup_job_destroy(&cgroup, err, sizeof err) < 0)
		bench_fail(m, "cgroup_job_destroy: %s", err);
	close(sb.stdout_fd);
	close(sb.stderr_fd);
	if (res.outcome != SANDBOX_EXITED) {
		bench_fail(m, "outcome %d: %s", (int)res.outcome, res.message);
		return -1;
	}
	if (res.exit_code != 0 || res.term_signal != 0) {
		bench_fail(m, "the job ended with exit %d, signal %d", res.exit_code, res.term_signal);
		return -1;
	}
	return elapsed;
}

static int64_t bench_run(struct bench_mode *m, int devnull)
{
	return m->kind == BENCH_BARE || m->kind == BENCH_EXEC ? bench_run_exec(m, devnull)
							      : bench_run_sandbox(m);
}

static int bench_compare_ns(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples; the median averages the middle two. */
static double bench_percentile_us(const int64_t *s, size_t n, int p)
{
	size_t rank;

	if (p == 50 && n % 2 == 0)
		return (double)(s[n / 2 - 1] + s[n / 2]) / 2000.0;
	rank = (size_t)((p * n + 99) / 100);
	return (double)s[rank > 0 ? rank - 1 : 0] / 1000.0;
}

static void bench_report(const char *label, struct bench_mode *m)
{
	double sum = 0;

	printf("result label=%s mode=%s n=%zu failures=%zu", label, m->name, m->nsamples, m->failures);
	if (m->nsamples == 0) {
		printf(" median_us=NA p90_us=NA min_us=NA mean_us=NA\n");
		return;
	}
	qsort(m->samples_ns, m->nsamples, sizeof m->samples_ns[0], bench_compare_ns);
	for (size_t i = 0; i < m->nsamples; i++)
		sum += (double)m->samples_ns[i];
	printf(" median_us=%.0f p90_us=%.0f min_us=%.0f mean_us=%.0f\n",
	       bench_percentile_us(m->samples_ns, m->nsamples, 50),
	       bench_percentile_us(m->samples_ns, m->nsamples, 90),
	       (double)m->samples_ns[0] / 1000.0, sum / (double)m->nsamples / 1000.0);
}

/* Parses MODE into m; the command is appended later. 0, or -1 (usage). */
static int bench_parse_mode(char *text, struct bench_mode *m)
{
	memset(m, 0, sizeof *m);
	if (strcmp(text, "bare") == 0) {
		m->kind = BENCH_BARE;
	} else if (strcmp(text, "sandbox") == 0) {
		m->kind = BENCH_SANDBOX;
	} else if (strcmp(text, "sandbox-empty") == 0) {
		m->kind = BENCH_SANDBOX_EMPTY;
	} else if (strcmp(text, "sandbox-prepared") == 0) {
		m->kind = BENCH_SANDBOX_PREPARED;
	} else if (strncmp(text, "exec:", 5) == 0 && strchr(text, '=') != NULL) {
		char *eq = strchr(text, '='), *save = NULL, *word;
		size_t n = 0;

		m->kind = BENCH_EXEC;
		snprintf(m->name, sizeof m->name, "%.*s", (int)(eq - text - 5), text + 5);
		m->wrapper_text = eq + 1;
		for (word = strtok_r(m->wrapper_text, " ", &save); word != NULL;
		     word = strtok_r(NULL, " ", &save)) {
			if (n == BENCH_WRAPPER_ARGS) {
				fprintf(stderr, "sandbox_bench: %s: more than %d wrapper arguments\n",
					m->name, BENCH_WRAPPER_ARGS);
				return -1;
			}
			m->argv[n++] = word;
		}
		if (n == 0 || m->argv[0][0] != '/' || m->name[0] == '\0') {
			fprintf(stderr, "sandbox_bench: exec:NAME=WRAPPER needs a name and an absolute path\n");
			return -1;
		}
		return 0;
	} else {
		fprintf(stderr, "sandbox_bench: unknown mode %s\n", text);
		return -1;
	}
	snprintf(m->name, sizeof m->name, "%s", text);
	return 0;
}

static void bench_append_command(struct bench_mode *m, char **command, int ncommand)
{
	size_t n = 0;

	while (m->argv[n] != NULL)
		n++;
	for (int i = 0; i < ncommand; i++)
		m->argv[n++] = command[i];
	m->argv[n] = NULL;
}

int main(int argc, char **argv)
{
	struct bench_mode modes[BENCH_MODES_MAX];
	long rounds = 10, iterations = 20, warmup = 5;
	double budget_s = 0;
	const char *label = "run";
	char mount_template[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	int nmodes = 0, opt, devnull, ncommand, rc = 0;
	bool need_sandbox = false;
	int64_t started;

	while ((opt = getopt(argc, argv, "+r:n:w:t:l:h")) != -1) {
		switch (opt) {
		case 'r': rounds = strtol(optarg, NULL, 10); break;
		case 'n': iterations = strtol(optarg, NULL, 10); break;
		case 'w': warmup = strtol(optarg, NULL, 10); break;
		case 't': budget_s = strtod(optarg, NULL); break;
		case 'l': label = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (rounds < 1 || iterations < 1 || warmup < 0 || rounds * iterations > 1000000) {
		usage(stderr);
		return 2;
	}
	for (; optind < argc && strcmp(argv[optind], "--") != 0; optind++) {
		if (nmodes == BENCH_MODES_MAX || bench_parse_mode(argv[optind], &modes[nmodes]) < 0) {
			usage(stderr);
			return 2;
		}
		need_sandbox |= modes[nmodes].kind == BENCH_SANDBOX || modes[nmodes].kind == BENCH_SANDBOX_EMPTY
				|| modes[nmodes].kind == BENCH_SANDBOX_PREPARED;
		nmodes++;
	}
	ncommand = argc - optind - 1;
	if (nmodes == 0 || optind >= argc || ncommand < 1 || ncommand > BENCH_COMMAND_ARGS
	    || argv[optind + 1][0] != '/') {
		usage(stderr);
		return 2;
	}
	for (int i = 0; i < nmodes; i++) {
		bench_append_command(&modes[i], argv + optind + 1, ncommand);
		modes[i].samples_ns = calloc((size_t)(rounds * iterations), sizeof(int64_t));
		if (modes[i].samples_ns == NULL)
			return 1;
	}
	if (need_sandbox) {
		if (geteuid() != 0) {
			fprintf(stderr, "sandbox_bench: the sandbox modes need root\n");
			return 1;
		}
		struct cgroup_host host;
		char err[1024], name[CGROUP_NAME_MAX];

		if (bench_make_upload(&upload) < 0)
			return 1;
		/* what the runner does at start: find the cgroups, make a parent for the jobs' */
		if (cgroup_detect(&host, err, sizeof err) < 0) {
			fprintf(stderr, "sandbox_bench: no usable cgroups, and jobs never run without: %s\n", err);
			return 1;
		}
		snprintf(name, sizeof name, "sandrun-bench-%d", (int)getpid());
		if (cgroup_runner_init(&cgroups, &host, name, err, sizeof err) < 0) {
			fprintf(stderr, "sandbox_bench: cannot make a cgroup for the runs: %s\n", err);
			return 1;
		}
		cgroups_made = true;
		if (seccomp_program_build(&filter, err, sizeof err) < 0) {
			fprintf(stderr, "sandbox_bench: cannot build the seccomp filter: %s\n", err);
			return 1;
		}
		/* the build tree's, beside which this driver is built */
		if ((init_fd = sandbox_init_program_open(SANDRUN_INIT_BUILD_PATH, err, sizeof err)) < 0) {
			fprintf(stderr, "sandbox_bench: %s\n", err);
			return 1;
		}
		if ((slot_netns = sandbox_netns_create(err, sizeof err)) < 0) {
			fprintf(stderr, "sandbox_bench: %s\n", err);
			return 1;
		}
		/* only the job's private mount namespace mounts on it; empty again afterwards */
		snprintf(mount_template, sizeof mount_template, "%s/sandbox-bench.XXXXXX",
			 tmpdir != NULL && tmpdir[0] == '/' ? tmpdir : "/tmp");
		mount_point = mkdtemp(mount_template);
		if (mount_point == NULL) {
			fprintf(stderr, "sandbox_bench: mkdtemp: %s\n", strerror(errno));
			return 1;
		}
		chmod(mount_point, 0755);
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);

	for (int i = 0; i < nmodes; i++) {
		for (long w = 0; w < warmup; w++)
			(void)bench_run(&modes[i], devnull);
		modes[i].failures = 0;          /* a warm-up failure shows again in the rounds */
		modes[i].failure_told = false;
	}
	started = bench_now_ns();
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < nmodes; i++) {
			for (long k = 0; k < iterations; k++) {
				int64_t ns = bench_run(&modes[i], devnull);

				if (ns >= 0)
					modes[i].samples_ns[modes[i].nsamples++] = ns;
			}
		}
		if (budget_s > 0 && (double)(bench_now_ns() - started) / 1e9 > budget_s) {
			fprintf(stderr, "sandbox_bench: %s: time budget of %.0f s spent after round %ld of %ld\n",
				label, budget_s, r + 1, rounds);
			break;
		}
	}
	for (int i = 0; i < nmodes; i++) {
		bench_report(label, &modes[i]);
		if (modes[i].nsamples == 0)
			rc = 1;
		free(modes[i].samples_ns);
	}
	if (cgroups_made) {
		char err[512] = "";

		if (cgroup_runner_cleanup(&cgroups, err, sizeof err) < 0)
			fprintf(stderr, "sandbox_bench: cgroups left behind: %s\n", err);
	}
	if (mount_point != NULL)
		rmdir(mount_point);
	seccomp_program_free(&filter);
	if (init_fd >= 0)
		close(init_fd);
	free(upload.data);
	close(devnull);
	return rc;
}
