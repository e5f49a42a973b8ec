/*
 * The job's cgroup: detection, the runner's parent, one cgroup per job with
 * its limits set before anything runs in it, the kill, the figures, the
 * cleanup. cgroup.h has the design (versions, layout, placement); this
 * file is in the same two halves: pure helpers on text first, then the
 * code that touches /sys/fs/cgroup and /proc.
 *
 * Nothing here logs or exits: every function returns a status and, where
 * it can fail, a sentence in err. Every wait is bounded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

/* What each version needs to limit a job. v2 counts CPU (cpu.stat) and
 * kills (cgroup.kill, cgroup.freeze) in every cgroup without a controller;
 * v1 needs a hierarchy for each, cpuacct and freezer included. */
#define CGROUP_NEED_V2 (CGROUP_BIT(CGROUP_MEMORY) | CGROUP_BIT(CGROUP_CPU) | CGROUP_BIT(CGROUP_PIDS))
#define CGROUP_NEED_V1 (CGROUP_BIT(CGROUP_NCONTROLLERS) - 1)
#define CGROUP_V2_BUILTIN (CGROUP_BIT(CGROUP_CPUACCT) | CGROUP_BIT(CGROUP_FREEZER))

/* Where the runner itself goes on v2 before it hands controllers down:
 * the no-internal-processes rule wants its own cgroup empty. */
#define CGROUP_SUPERVISOR_LEAF "supervisor"

/* Small control and statistics files (cpu.stat, memory.events,
 * /proc/self/cgroup, cgroup.controllers) are well under this. */
#define CGROUP_FILE_MAX 8192

/* A mountinfo line longer than this (a path of thousands of characters)
 * is not a cgroup mount we would use: skipped. */
#define CGROUP_LINE_MAX 4096

/* mountinfo has ten fields plus optional tags (shared:N, master:N, ...). */
#define CGROUP_MOUNT_FIELDS 32

/* /proc/self/mountinfo of a host with thousands of mounts (containers)
 * stays far below this; beyond it something is wrong: refuse. */
#define CGROUP_MOUNTINFO_MAX (16 * 1024 * 1024)

/* cgroup.procs is read in one buffer of this size: ~9000 pids, far more
 * than any pids.max we set; a larger cgroup just takes more kill rounds. */
#define CGROUP_PROCS_BYTES (64 * 1024)
#define CGROUP_KILL_BATCH 4096

/* Polling step while a cgroup freezes or empties: killed processes are
 * gone within a millisecond or two, so a short step keeps the deadline
 * path quick without spinning. */
#define CGROUP_POLL_MS 1

/* A freeze takes microseconds; a task in an uninterruptible sleep can hold
 * it up. After this the kill goes ahead anyway (and repeats until empty). */
#define CGROUP_FREEZE_WAIT_MS 500

/* One kill round waits this long for the cgroup to empty before the next
 * round (a process that escaped an incomplete freeze gets killed again). */
#define CGROUP_ROUND_MS 100

/* SIGKILLed processes free their memory and leave within milliseconds; a
 * process stuck in the kernel can take longer. Past this, give up and say so. */
#define CGROUP_EMPTY_WAIT_MS 5000

static const char *const cgroup_names[CGROUP_NCONTROLLERS] = {
	[CGROUP_MEMORY] = "memory",
	[CGROUP_CPU] = "cpu",
	[CGROUP_CPUACCT] = "cpuacct",
	[CGROUP_PIDS] = "pids",
	[CGROUP_FREEZER] = "freezer",
};

/* ================================================================== */
/* Pure helpers: text in, verdict out.                                 */

const char *cgroup_controller_name(enum cgroup_controller c)
{
	return c < CGROUP_NCONTROLLERS ? cgroup_names[c] : "?";
}

/* The names of the controllers in mask, space-separated, into out. */
static void cgroup_list_names(unsigned mask, char *out, size_t outlen)
{
	size_t used = 0;
	int c;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (c = 0; c < CGROUP_NCONTROLLERS; c++) {
		int n;

		if (!(mask & CGROUP_BIT(c)))
			continue;
		n = snprintf(out + used, outlen - used, "%s%s", used ? " " : "", cgroup_names[c]);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}

static bool cgroup_is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/* Copies a mountinfo field, undoing the kernel's octal escapes ("\040" is
 * a space). false when it does not fit. */
static bool cgroup_unescape(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len) {
		char c = s[i];

		if (c == '\\' && len - i >= 4 && cgroup_is_octal(s[i + 1]) && cgroup_is_octal(s[i + 2])
		    && cgroup_is_octal(s[i + 3])) {
			c = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 4;
		} else {
			i++;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = c;
	}
	if (outlen == 0)
		return false;
	out[o] = '\0';
	return true;
}

static bool cgroup_field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(f, word, len) == 0;
}

static void cgroup_set_mount(struct cgroup_mount *m, const char *root, size_t root_len,
			     const char *path, size_t path_len)
{
	struct cgroup_mount found;

	if (m->path[0] != '\0')
		return;         /* the first mount of a hierarchy wins */
	if (!cgroup_unescape(root, root_len, found.root, sizeof found.root)
	    || !cgroup_unescape(path, path_len, found.path, sizeof found.path) || found.path[0] != '/')
		return;
	*m = found;
}

/* One line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS". */
static void cgroup_parse_mount_line(const char *line, size_t len, struct cgroup_host *host)
{
	const char *f[CGROUP_MOUNT_FIELDS], *p = line, *end = line + len;
	size_t fl[CGROUP_MOUNT_FIELDS], n = 0, sep, i;

	while (p < end && n < CGROUP_MOUNT_FIELDS) {
		const char *q = memchr(p, ' ', (size_t)(end - p));

		if (q == NULL)
			q = end;
		f[n] = p;
		fl[n++] = (size_t)(q - p);
		p = q + 1;
	}
	for (sep = 6; sep < n && !cgroup_field_is(f[sep], fl[sep], "-"); sep++)
		;
	if (sep + 3 >= n)
		return;         /* not a well-formed line */
	if (cgroup_field_is(f[sep + 1], fl[sep + 1], "cgroup2")) {
		cgroup_set_mount(&host->v2, f[3], fl[3], f[4], fl[4]);
		return;
	}
	if (!cgroup_field_is(f[sep + 1], fl[sep + 1], "cgroup"))
		return;
	/* a v1 hierarchy: its controllers are among the super options ("rw,cpu,cpuacct") */
	p = f[sep + 3];
	end = p + fl[sep + 3];
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t olen = (size_t)((comma ? comma : end) - p);

		for (i = 0; i < CGROUP_NCONTROLLERS; i++)
			if (cgroup_field_is(p, olen, cgroup_names[i]))
				cgroup_set_mount(&host->v1[i], f[3], fl[3], f[4], fl[4]);
		p += olen + 1;
	}
}

void cgroup_parse_mountinfo(const char *mountinfo, struct cgroup_host *host)
{
	const char *line = mountinfo;

	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len < CGROUP_LINE_MAX)
			cgroup_parse_mount_line(line, len, host);
		line = nl ? nl + 1 : NULL;
	}
}

unsigned cgroup_parse_controllers(const char *text)
{
	unsigned mask = 0;
	const char *p = text;

	while (p != NULL && *p != '\0') {
		size_t len;
		int c;

		p += strspn(p, " \t\n");
		len = strcspn(p, " \t\n");
		for (c = 0; c < CGROUP_NCONTROLLERS; c++)
			if (len > 0 && cgroup_field_is(p, len, cgroup_names[c]))
				mask |= CGROUP_BIT(c);
		p += len;
	}
	return mask;
}

enum cgroup_version cgroup_choose(struct cgroup_host *host)
{
	unsigned v1 = 0, v2_missing = CGROUP_NEED_V2 & ~host->v2_available;
	char missing[128];
	int c;

	for (c = 0; c < CGROUP_NCONTROLLERS; c++)
		if (host->v1[c].path[0] != '\0')
			v1 |= CGROUP_BIT(c);
	host->version = CGROUP_NONE;
	host->hybrid = false;
	host->why[0] = '\0';
	if (host->v2.path[0] != '\0' && v2_missing == 0) {
		host->version = CGROUP_V2;
	} else if (v1 == CGROUP_NEED_V1) {
		host->version = CGROUP_V1;
		host->hybrid = host->v2.path[0] != '\0';
	} else if (v1 == 0 && host->v2.path[0] == '\0') {
		snprintf(host->why, sizeof host->why, "no cgroup file system is mounted");
	} else if (v1 == 0) {
		cgroup_list_names(v2_missing, missing, sizeof missing);
		snprintf(host->why, sizeof host->why,
			 "cgroup v2 at %s does not offer the runner's cgroup the %s controller(s) "
			 "(needed: memory cpu pids; delegate them to the service)", host->v2.path, missing);
	} else {
		cgroup_list_names(CGROUP_NEED_V1 & ~v1, missing, sizeof missing);
		snprintf(host->why, sizeof host->why,
			 "cgroup v1 without the %s controller(s) (needed: memory cpu cpuacct pids freezer)%s",
			 missing, host->v2.path[0] ? ", and cgroup v2 without memory cpu pids" : "");
	}
	return host->version;
}

enum cgroup_version cgroup_detect_text(const char *mountinfo, const char *v2_controllers,
				       struct cgroup_host *host)
{
	memset(host, 0, sizeof *host);
	cgroup_parse_mountinfo(mountinfo, host);
	host->v2_available = v2_controllers ? cgroup_parse_controllers(v2_controllers) : 0;
	return cgroup_choose(host);
}

/* Is `name` one of the comma-separated entries of list[0..len)? */
static bool cgroup_list_has(const char *list, size_t len, const char *name)
{
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = (size_t)((comma ? comma : end) - p);

		if (cgroup_field_is(p, n, name))
			return true;
		p += n + 1;
	}
	return false;
}

int cgroup_own_path(const char *proc_cgroup, enum cgroup_version version,
		    enum cgroup_controller controller, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *line = proc_cgroup;

	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', len), *c2 = NULL, *path;
		size_t plen;
		bool match;

		if (c1 != NULL)
			c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
		if (c2 != NULL) {
			path = c2 + 1;
			plen = len - (size_t)(path - line);
			if (version == CGROUP_V2)
				match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
			else
				match = controller < CGROUP_NCONTROLLERS
					&& cgroup_list_has(c1 + 1, (size_t)(c2 - c1 - 1), cgroup_names[controller]);
			if (match) {
				if (plen == 0 || path[0] != '/' || plen >= outlen)
					return error_format(err, errlen, "/proc/self/cgroup has an unusable path: %.*s",
							    (int)(plen > 200 ? 200 : plen), path);
				memcpy(out, path, plen);
				out[plen] = '\0';
				return 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (version == CGROUP_V2)
		return error_format(err, errlen, "/proc/self/cgroup has no cgroup v2 line");
	return error_format(err, errlen, "/proc/self/cgroup has no line for the %s controller",
			    cgroup_controller_name(controller));
}

int cgroup_mount_dir(const struct cgroup_mount *m, const char *path, char *out, size_t outlen,
		     char *err, size_t errlen)
{
	size_t root_len = strlen(m->root);
	const char *rest = path;
	int n;

	if (m->path[0] == '\0')
		return error_format(err, errlen, "that cgroup hierarchy is not mounted");
	if (strcmp(m->root, "/") != 0) {
		/* a bound subtree (a container without a cgroup namespace): the
		 * mount shows m->root, so the path must lie below it */
		if (strncmp(path, m->root, root_len) != 0 || (path[root_len] != '/' && path[root_len] != '\0'))
			return error_format(err, errlen, "the cgroup %s is outside what %s shows (%s)",
					    path, m->path, m->root);
		rest = path + root_len;
	}
	if (strcmp(rest, "/") == 0)
		rest = "";
	n = snprintf(out, outlen, "%s%s", m->path, rest);
	if (n < 0 || (size_t)n >= outlen)
		return error_format(err, errlen, "the cgroup path %s%s is too long", m->path, rest);
	return 0;
}

int64_t cgroup_stat_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line != NULL && *line != '\0') {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(line + klen + 1, &end, 10);
			if (errno == 0 && end != line + klen + 1 && (*end == '\n' || *end == '\0') && v >= 0)
				return (int64_t)v;
			return -1;
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return -1;
}

bool cgroup_swap_listed(const char *proc_swaps)
{
	const char *nl = strchr(proc_swaps, '\n');      /* the first line is the header */

	return nl != NULL && nl[1] != '\0' && nl[1] != '\n';
}

bool cgroup_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= CGROUP_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

void cgroup_describe(const struct cgroup_host *host, char *out, size_t outlen)
{
	char names[128];

	switch (host->version) {
	case CGROUP_V2:
		cgroup_list_names(host->v2_available, names, sizeof names);
		snprintf(out, outlen, "cgroup v2 at %s: %s", host->v2.path, names);
		break;
	case CGROUP_V1:
		cgroup_list_names(CGROUP_NEED_V1, names, sizeof names);
		snprintf(out, outlen, "cgroup v1%s: %s", host->hybrid ? " (hybrid)" : "", names);
		break;
	default:
		snprintf(out, outlen, "no usable cgroups: %s", host->why[0] ? host->why : "not detected");
		break;
	}
}

/* ================================================================== */
/* What touches the system.                                            */

static void cgroup_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int cgroup_file_path(char *out, size_t outlen, const char *dir, const char *file)
{
	int n = snprintf(out, outlen, "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static bool cgroup_exists(const char *dir, const char *file)
{
	char path[CGROUP_PATH_MAX + 64];

	return cgroup_file_path(path, sizeof path, dir, file) == 0 && access(path, F_OK) == 0;
}

/* Reads a whole file into buf (NUL-terminated). The length, or -1 with errno set. */
static ssize_t cgroup_read_path(const char *path, char *buf, size_t buflen)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (got + 1 < buflen) {
		ssize_t n = read(fd, buf + got, buflen - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static ssize_t cgroup_read(const char *dir, const char *file, char *buf, size_t buflen)
{
	char path[CGROUP_PATH_MAX + 64];

	if (cgroup_file_path(path, sizeof path, dir, file) < 0)
		return -1;
	return cgroup_read_path(path, buf, buflen);
}

/* A file holding one number (cpuacct.usage, memory.peak). 0, or -1 with errno set. */
static int cgroup_read_number(const char *dir, const char *file, int64_t *out)
{
	char text[64], *end;
	long long v;

	if (cgroup_read(dir, file, text, sizeof text) < 0)
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\n' && *end != '\0') || v < 0) {
		errno = EINVAL;
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* Writes value to dir/file in one write(), as control files want it.
 * 0, or -1 with err set and errno kept (EBUSY, ENOENT... tell callers why). */
static int cgroup_write(const char *dir, const char *file, const char *value, char *err, size_t errlen)
{
	char path[CGROUP_PATH_MAX + 64];
	size_t len = strlen(value);
	ssize_t n;
	int fd, saved;

	if (cgroup_file_path(path, sizeof path, dir, file) < 0)
		return error_format(err, errlen, "the cgroup path %s/%s is too long", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		error_format(err, errlen, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	n = write(fd, value, len);
	saved = n < 0 ? errno : EIO;
	close(fd);
	if (n != (ssize_t)len) {
		error_format(err, errlen, "cannot write \"%s\" to %s: %s", value, path, strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}

static int cgroup_write_number(const char *dir, const char *file, int64_t v, char *err, size_t errlen)
{
	char value[32];

	snprintf(value, sizeof value, "%" PRId64, v);
	return cgroup_write(dir, file, value, err, errlen);
}

/* A whole file of unknown size, for /proc/self/mountinfo. Caller frees. */
static char *cgroup_slurp(const char *path)
{
	size_t cap = 64 * 1024, got = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (buf == NULL || fd < 0)
		goto fail;
	for (;;) {
		ssize_t n;

		if (got + 1 == cap) {
			char *bigger;

			if (cap >= CGROUP_MOUNTINFO_MAX) {
				errno = EFBIG;
				goto fail;
			}
			bigger = realloc(buf, cap * 2);
			if (bigger == NULL)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return buf;

fail:
	{
		int saved = errno;

		if (fd >= 0)
			close(fd);
		free(buf);
		errno = saved;
	}
	return NULL;
}

int cgroup_detect(struct cgroup_host *host, char *err, size_t errlen)
{
	char proc_cgroup[CGROUP_FILE_MAX], own[CGROUP_PATH_MAX], dir[CGROUP_PATH_MAX], text[1024];
	char *mountinfo;

	memset(host, 0, sizeof *host);
	mountinfo = cgroup_slurp("/proc/self/mountinfo");
	if (mountinfo == NULL) {
		snprintf(host->why, sizeof host->why, "cannot read /proc/self/mountinfo: %s", strerror(errno));
		return error_format(err, errlen, "%s", host->why);
	}
	cgroup_parse_mountinfo(mountinfo, host);
	free(mountinfo);
	/* v2 controllers are offered per cgroup: read the list of our own */
	if (host->v2.path[0] != '\0'
	    && cgroup_read_path("/proc/self/cgroup", proc_cgroup, sizeof proc_cgroup) >= 0
	    && cgroup_own_path(proc_cgroup, CGROUP_V2, CGROUP_NCONTROLLERS, own, sizeof own, NULL, 0) == 0
	    && cgroup_mount_dir(&host->v2, own, dir, sizeof dir, NULL, 0) == 0
	    && cgroup_read(dir, "cgroup.controllers", text, sizeof text) >= 0)
		host->v2_available = cgroup_parse_controllers(text);
	if (cgroup_choose(host) == CGROUP_NONE)
		return error_format(err, errlen, "%s", host->why);
	return 0;
}

/* The distinct non-empty paths of dirs[] (co-mounted v1 controllers share
 * one directory): fills out[] and returns how many. */
static int cgroup_distinct(const char (*dirs)[CGROUP_PATH_MAX], const char *out[CGROUP_NCONTROLLERS])
{
	int n = 0, c, j;

	for (c = 0; c < CGROUP_NCONTROLLERS; c++) {
		bool seen = false;

		if (dirs[c][0] == '\0')
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(out[j], dirs[c]) == 0)
				seen = true;
		if (!seen)
			out[n++] = dirs[c];
	}
	return n;
}

static int cgroup_join(char *out, size_t outlen, const char *dir, const char *name, char *err, size_t errlen)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen)
		return error_format(err, errlen, "the cgroup path %s/%s is too long", dir, name);
	return 0;
}

/* rmdir that tolerates "already gone" and waits out a cgroup that is
 * still being emptied (EBUSY right after its last process exited). */
static int cgroup_rmdir(const char *dir)
{
	int64_t give_up = time_mono_ms() + CGROUP_EMPTY_WAIT_MS;

	for (;;) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || time_mono_ms() >= give_up)
			return -1;
		cgroup_sleep_ms(CGROUP_POLL_MS);
	}
}

/*
 * Removes what runners killed with SIGKILL left beside ours: their cgroups
 * (named sandrun-runner-PID, the PID no longer a process) and the empty job
 * cgroups in them. Only empty cgroups can go, so a job still running in one
 * (it cannot be: its supervisor dies with its runner) keeps it. Best effort.
 */
static int cgroup_read_pids(const char *dir, pid_t *pids, int max, char *err, size_t errlen);

/* What a dead runner left running in one of its cgroups (a session's
 * sandbox whose supervisor was killed before it could kill it): killed,
 * a few rounds, so the cgroup can go. v2: cgroup.kill when there is one. */
static void cgroup_sweep_kill(const char *dir)
{
	pid_t pids[256];
	int n, round;

	if (cgroup_exists(dir, "cgroup.kill"))
		(void)cgroup_write(dir, "cgroup.kill", "1", NULL, 0);
	for (round = 0; round < 50 && (n = cgroup_read_pids(dir, pids, 256, NULL, 0)) > 0; round++) {
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		/* a paused session's are frozen: SIGKILL takes effect once thawed */
		if (cgroup_exists(dir, "freezer.state"))
			(void)cgroup_write(dir, "freezer.state", "THAWED", NULL, 0);
		if (cgroup_exists(dir, "cgroup.freeze"))
			(void)cgroup_write(dir, "cgroup.freeze", "0", NULL, 0);
		cgroup_sleep_ms(10);
	}
}

static void cgroup_sweep_stale(const char *runner_dir)
{
	char parent[CGROUP_PATH_MAX], path[CGROUP_PATH_MAX + 256], child[CGROUP_PATH_MAX + 512];
	const char *slash = strrchr(runner_dir, '/');
	struct dirent *de, *job;
	DIR *d, *jobs;

	if (!slash || (size_t)(slash - runner_dir) >= sizeof parent)
		return;
	snprintf(parent, sizeof parent, "%.*s", (int)(slash - runner_dir), runner_dir);
	if (!(d = opendir(parent)))
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "sandrun-runner-", 15) != 0)
			continue;
		pid = strtol(de->d_name + 15, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;       /* not a runner's name, or its runner may be alive */
		snprintf(path, sizeof path, "%s/%s", parent, de->d_name);
		if ((jobs = opendir(path)) != NULL) {
			while ((job = readdir(jobs)) != NULL) {
				if (job->d_type != DT_DIR || job->d_name[0] == '.')
					continue;
				snprintf(child, sizeof child, "%s/%s", path, job->d_name);
				cgroup_sweep_kill(child);
				rmdir(child);
			}
			closedir(jobs);
		}
		rmdir(path);
	}
	closedir(d);
}

/* Writes "+memory", "+cpu", "+pids" (those in mask) to dir's subtree_control. */
static int cgroup_enable(const char *dir, unsigned mask, char *err, size_t errlen)
{
	char value[32];
	int c;

	for (c = 0; c < CGROUP_NCONTROLLERS; c++) {
		if (!(mask & CGROUP_BIT(c)))
			continue;
		snprintf(value, sizeof value, "+%s", cgroup_names[c]);
		if (cgroup_write(dir, "cgroup.subtree_control", value, NULL, 0) < 0) {
			int saved = errno;

			return error_format(err, errlen, "cannot enable the %s controller in %s/cgroup.subtree_control: %s%s",
					    cgroup_names[c], dir, strerror(saved),
					    saved == EBUSY ? " (other processes share the runner's cgroup: run it "
							     "as a service of its own with Delegate=yes)" : "");
		}
	}
	return 0;
}

static int cgroup_runner_init_v2(struct cgroup_runner *r, const struct cgroup_host *host,
				 const char *proc_cgroup, char *err, size_t errlen)
{
	char own_path[CGROUP_PATH_MAX], own[CGROUP_PATH_MAX], leaf[CGROUP_PATH_MAX], text[1024];
	unsigned available, enabled;

	if (cgroup_own_path(proc_cgroup, CGROUP_V2, CGROUP_NCONTROLLERS, own_path, sizeof own_path, err, errlen) < 0
	    || cgroup_mount_dir(&host->v2, own_path, own, sizeof own, err, errlen) < 0)
		return -1;
	if (cgroup_read(own, "cgroup.controllers", text, sizeof text) < 0)
		return error_format(err, errlen, "cannot read %s/cgroup.controllers: %s", own, strerror(errno));
	available = cgroup_parse_controllers(text) & CGROUP_NEED_V2;
	if (cgroup_read(own, "cgroup.subtree_control", text, sizeof text) < 0)
		return error_format(err, errlen, "cannot read %s/cgroup.subtree_control: %s", own, strerror(errno));
	enabled = cgroup_parse_controllers(text);
	if ((available & ~enabled) != 0) {
		/* no internal processes: a cgroup other than the root that
		 * hands controllers down may hold no process, so the runner
		 * steps into a leaf of its own first (the root has no cgroup.type) */
		if (cgroup_exists(own, "cgroup.type")) {
			if (cgroup_join(leaf, sizeof leaf, own, CGROUP_SUPERVISOR_LEAF, err, errlen) < 0)
				return -1;
			if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
				return error_format(err, errlen, "cannot create %s: %s", leaf, strerror(errno));
			if (cgroup_write_number(leaf, "cgroup.procs", getpid(), err, errlen) < 0)
				return -1;
		}
		if (cgroup_enable(own, available & ~enabled, err, errlen) < 0)
			return -1;
	}
	if (cgroup_join(r->v2, sizeof r->v2, own, r->name, err, errlen) < 0)
		return -1;
	if (mkdir(r->v2, 0755) < 0 && errno != EEXIST)
		return error_format(err, errlen, "cannot create the runner's cgroup %s: %s", r->v2, strerror(errno));
	if (cgroup_enable(r->v2, available, err, errlen) < 0) {
		cgroup_rmdir(r->v2);
		return -1;
	}
	cgroup_sweep_stale(r->v2);
	r->controllers = available | CGROUP_V2_BUILTIN;
	r->version = CGROUP_V2;
	return 0;
}

static int cgroup_runner_init_v1(struct cgroup_runner *r, const struct cgroup_host *host,
				 const char *proc_cgroup, char *err, size_t errlen)
{
	char own_path[CGROUP_PATH_MAX], own[CGROUP_PATH_MAX], missing[128];
	unsigned mounted = 0;
	int c;

	for (c = 0; c < CGROUP_NCONTROLLERS; c++)
		if (host->v1[c].path[0] != '\0')
			mounted |= CGROUP_BIT(c);
	if (mounted != CGROUP_NEED_V1) {
		cgroup_list_names(CGROUP_NEED_V1 & ~mounted, missing, sizeof missing);
		return error_format(err, errlen, "cgroup v1 without the %s controller(s): refusing to run jobs", missing);
	}
	for (c = 0; c < CGROUP_NCONTROLLERS; c++) {
		if (cgroup_own_path(proc_cgroup, CGROUP_V1, (enum cgroup_controller)c, own_path, sizeof own_path,
				    err, errlen) < 0
		    || cgroup_mount_dir(&host->v1[c], own_path, own, sizeof own, err, errlen) < 0
		    || cgroup_join(r->v1[c], sizeof r->v1[c], own, r->name, err, errlen) < 0)
			goto fail;
		if (mkdir(r->v1[c], 0755) < 0 && errno != EEXIST) {
			error_format(err, errlen, "cannot create the runner's cgroup %s: %s", r->v1[c], strerror(errno));
			goto fail;
		}
	}
	for (c = 0; c < CGROUP_NCONTROLLERS; c++)
		cgroup_sweep_stale(r->v1[c]);   /* co-mounted controllers: swept twice, harmless */
	r->controllers = CGROUP_NEED_V1;
	r->version = CGROUP_V1;
	return 0;

fail:
	for (c = 0; c < CGROUP_NCONTROLLERS; c++)
		if (r->v1[c][0] != '\0')
			cgroup_rmdir(r->v1[c]);
	return -1;
}

int cgroup_runner_init(struct cgroup_runner *r, const struct cgroup_host *host, const char *name,
		       char *err, size_t errlen)
{
	char proc_cgroup[CGROUP_FILE_MAX];
	int rc;

	memset(r, 0, sizeof *r);
	if (!cgroup_name_valid(name))
		return error_format(err, errlen, "\"%s\" is not a plain cgroup name", name);
	snprintf(r->name, sizeof r->name, "%s", name);
	if (host->version == CGROUP_NONE)
		return error_format(err, errlen, "no usable cgroups: %s", host->why);
	if (cgroup_read_path("/proc/self/cgroup", proc_cgroup, sizeof proc_cgroup) < 0)
		return error_format(err, errlen, "cannot read /proc/self/cgroup: %s", strerror(errno));
	if (host->version == CGROUP_V2)
		rc = cgroup_runner_init_v2(r, host, proc_cgroup, err, errlen);
	else
		rc = cgroup_runner_init_v1(r, host, proc_cgroup, err, errlen);
	if (rc < 0)
		r->version = CGROUP_NONE;
	return rc;
}

/* The paths of job `name` below the runner's parent; creates nothing. */
static int cgroup_job_locate(const struct cgroup_runner *r, const char *name, struct cgroup_job *job,
			     char *err, size_t errlen)
{
	int c;

	memset(job, 0, sizeof *job);
	job->fd = -1;
	if (r->version == CGROUP_V2) {
		if (cgroup_join(job->v2, sizeof job->v2, r->v2, name, err, errlen) < 0)
			return -1;
	} else {
		for (c = 0; c < CGROUP_NCONTROLLERS; c++)
			if (r->v1[c][0] != '\0' && cgroup_join(job->v1[c], sizeof job->v1[c], r->v1[c], name, err, errlen) < 0)
				return -1;
	}
	job->version = r->version;
	return 0;
}

int cgroup_runner_cleanup(struct cgroup_runner *r, char *err, size_t errlen)
{
	const char *parents[CGROUP_NCONTROLLERS];
	int n, i, rc = 0;

	if (r == NULL || r->version == CGROUP_NONE)
		return 0;
	if (r->version == CGROUP_V2) {
		parents[0] = r->v2;
		n = 1;
	} else {
		n = cgroup_distinct((const char (*)[CGROUP_PATH_MAX])r->v1, parents);
	}
	for (i = 0; i < n; i++) {
		DIR *d = opendir(parents[i]);
		struct dirent *de;

		if (d == NULL)
			continue;       /* gone already */
		/* job cgroups a dead supervisor left behind */
		while ((de = readdir(d)) != NULL) {
			struct cgroup_job job;

			if (de->d_type != DT_DIR || !cgroup_name_valid(de->d_name)
			    || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (cgroup_job_locate(r, de->d_name, &job, err, errlen) < 0
			    || cgroup_job_destroy(&job, rc == 0 ? err : NULL, errlen) < 0)
				rc = -1;
		}
		closedir(d);
	}
	for (i = 0; i < n; i++) {
		if (cgroup_rmdir(parents[i]) < 0 && rc == 0)
			rc = error_format(err, errlen, "cannot remove the runner's cgroup %s: %s", parents[i], strerror(errno));
	}
	r->version = CGROUP_NONE;
	return rc;
}

/* Fails closed: every limit asked for needs its controller. */
static int cgroup_limits_check(const struct cgroup_runner *r, const struct cgroup_limits *l,
			       char *err, size_t errlen)
{
	if (l->memory_bytes < 0 || l->cpu_quota_us < 0 || l->cpu_period_us < 0 || l->pids_max < 0
	    || (l->cpu_quota_us > 0 && l->cpu_period_us <= 0))
		return error_format(err, errlen, "the job's cgroup limits are invalid");
	if (l->memory_bytes > 0 && !(r->controllers & CGROUP_BIT(CGROUP_MEMORY)))
		return error_format(err, errlen, "memory controller unavailable: refusing to run without a memory limit");
	if (l->cpu_quota_us > 0 && !(r->controllers & CGROUP_BIT(CGROUP_CPU)))
		return error_format(err, errlen, "cpu controller unavailable: refusing to run without a CPU limit");
	if (l->pids_max > 0 && !(r->controllers & CGROUP_BIT(CGROUP_PIDS)))
		return error_format(err, errlen, "pids controller unavailable: refusing to run without a process limit");
	if (!(r->controllers & CGROUP_BIT(CGROUP_FREEZER)))
		return error_format(err, errlen, "freezer controller unavailable: the job's processes could not all be killed");
	if (!(r->controllers & CGROUP_BIT(CGROUP_CPUACCT)))
		return error_format(err, errlen, "cpuacct controller unavailable: the job's CPU time could not be counted");
	return 0;
}

/* Where swap cannot be limited per cgroup, it must be off. 0 when off. */
static int cgroup_swap_must_be_off(const char *missing_file, char *err, size_t errlen)
{
	char text[CGROUP_FILE_MAX];

	if (cgroup_read_path("/proc/swaps", text, sizeof text) < 0)
		return error_format(err, errlen, "cannot read /proc/swaps to see that swap is off: %s", strerror(errno));
	if (cgroup_swap_listed(text))
		return error_format(err, errlen, "swap is on and this kernel cannot limit it per cgroup (no %s): "
				    "refusing to run with unbounded swap", missing_file);
	return 0;
}

static int cgroup_limit_v2(const struct cgroup_job *job, const struct cgroup_limits *l, char *err, size_t errlen)
{
	char value[64];

	if (l->memory_bytes > 0) {
		if (cgroup_write_number(job->v2, "memory.max", l->memory_bytes, err, errlen) < 0)
			return -1;
		if (cgroup_exists(job->v2, "memory.swap.max")) {
			if (cgroup_write(job->v2, "memory.swap.max", "0", err, errlen) < 0)
				return -1;
		} else if (cgroup_swap_must_be_off("memory.swap.max", err, errlen) < 0) {
			return -1;
		}
		/* one OOM kill takes the whole job (Linux 4.19+): no half-killed
		 * job runs on; the runner reports memory_limit */
		if (cgroup_exists(job->v2, "memory.oom.group")
		    && cgroup_write(job->v2, "memory.oom.group", "1", err, errlen) < 0)
			return -1;
	}
	if (l->cpu_quota_us > 0) {
		snprintf(value, sizeof value, "%" PRId64 " %" PRId64, l->cpu_quota_us, l->cpu_period_us);
		if (cgroup_write(job->v2, "cpu.max", value, err, errlen) < 0)
			return -1;
	}
	if (l->pids_max > 0 && cgroup_write_number(job->v2, "pids.max", l->pids_max, err, errlen) < 0)
		return -1;
	return 0;
}

static int cgroup_limit_v1(const struct cgroup_job *job, const struct cgroup_limits *l, char *err, size_t errlen)
{
	const char *memory = job->v1[CGROUP_MEMORY], *cpu = job->v1[CGROUP_CPU];

	if (l->memory_bytes > 0) {
		if (cgroup_write_number(memory, "memory.limit_in_bytes", l->memory_bytes, err, errlen) < 0)
			return -1;
		/* memory + swap, set after the memory limit (it may not be lower);
		 * no such file (swap accounting off): then swap must be off */
		if (cgroup_write_number(memory, "memory.memsw.limit_in_bytes", l->memory_bytes, err, errlen) < 0
		    && (errno != ENOENT || cgroup_swap_must_be_off("memory.memsw.limit_in_bytes", err, errlen) < 0))
			return -1;
	}
	if (l->cpu_quota_us > 0
	    && (cgroup_write_number(cpu, "cpu.cfs_period_us", l->cpu_period_us, err, errlen) < 0
		|| cgroup_write_number(cpu, "cpu.cfs_quota_us", l->cpu_quota_us, err, errlen) < 0))
		return -1;
	if (l->pids_max > 0 && cgroup_write_number(job->v1[CGROUP_PIDS], "pids.max", l->pids_max, err, errlen) < 0)
		return -1;
	return 0;
}

static int cgroup_job_dirs(const struct cgroup_job *job, const char *dirs[CGROUP_NCONTROLLERS])
{
	if (job->version == CGROUP_V2) {
		dirs[0] = job->v2;
		return 1;
	}
	return cgroup_distinct((const char (*)[CGROUP_PATH_MAX])job->v1, dirs);
}

int cgroup_job_create(const struct cgroup_runner *r, const char *name, const struct cgroup_limits *limits,
		      struct cgroup_job *job, char *err, size_t errlen)
{
	const char *dirs[CGROUP_NCONTROLLERS];
	bool replaced = false;
	int n, i;

	memset(job, 0, sizeof *job);
	job->fd = -1;
	if (r == NULL || r->version == CGROUP_NONE)
		return error_format(err, errlen, "no usable cgroups: refusing to run a job without limits");
	if (!cgroup_name_valid(name))
		return error_format(err, errlen, "\"%s\" is not a plain cgroup name", name);
	if (cgroup_limits_check(r, limits, err, errlen) < 0 || cgroup_job_locate(r, name, job, err, errlen) < 0)
		return -1;
	n = cgroup_job_dirs(job, dirs);
	for (i = 0; i < n; i++) {
		if (mkdir(dirs[i], 0755) == 0)
			continue;
		if (errno == EEXIST && !replaced) {
			/* a leftover of a supervisor that died: its processes go, then
			 * it does, and the job's are made again (found by mkdir, not by
			 * looking first: the look cost a lookup per hierarchy per job) */
			struct cgroup_job old = *job;

			if (cgroup_job_destroy(&old, err, errlen) < 0)
				goto fail;
			replaced = true;
			i = -1;
			continue;
		}
		error_format(err, errlen, "cannot create the job's cgroup %s: %s", dirs[i], strerror(errno));
		goto fail;
	}
	if ((job->version == CGROUP_V2 ? cgroup_limit_v2(job, limits, err, errlen)
					: cgroup_limit_v1(job, limits, err, errlen)) < 0)
		goto fail;
	if (job->version == CGROUP_V2) {
		/* O_RDONLY, not O_PATH: clone3 wants a real open file */
		job->fd = open(job->v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (job->fd < 0) {
			error_format(err, errlen, "cannot open the job's cgroup %s: %s", job->v2, strerror(errno));
			goto fail;
		}
	}
	return 0;

fail:
	cgroup_job_destroy(job, NULL, 0);       /* keeps the first error */
	return -1;
}

int cgroup_job_place(const struct cgroup_job *job, pid_t pid, char *err, size_t errlen)
{
	const char *dirs[CGROUP_NCONTROLLERS];
	int n, i;

	if (job == NULL || job->version == CGROUP_NONE)
		return error_format(err, errlen, "the job has no cgroup to be placed in");
	n = cgroup_job_dirs(job, dirs);
	for (i = 0; i < n; i++)
		if (cgroup_write_number(dirs[i], "cgroup.procs", pid, err, errlen) < 0)
			return -1;
	return 0;
}

int cgroup_job_enter(const struct cgroup_job *job, char *err, size_t errlen)
{
	const char *dirs[CGROUP_NCONTROLLERS];
	int n, i;

	if (job == NULL || job->version == CGROUP_NONE)
		return error_format(err, errlen, "the job has no cgroup to enter");
	n = cgroup_job_dirs(job, dirs);
	for (i = 0; i < n; i++)
		if (cgroup_write(dirs[i], job->version == CGROUP_V1 ? "tasks" : "cgroup.procs", "0", err, errlen) < 0)
			return -1;
	return 0;
}

/* The directory whose cgroup.procs lists the job's processes (every v1
 * hierarchy holds all of them; the freezer's is the one we freeze). */
static const char *cgroup_procs_dir(const struct cgroup_job *job)
{
	const char *dirs[CGROUP_NCONTROLLERS];

	if (job->version == CGROUP_V2)
		return job->v2;
	if (job->v1[CGROUP_FREEZER][0] != '\0')
		return job->v1[CGROUP_FREEZER];
	return cgroup_job_dirs(job, dirs) > 0 ? dirs[0] : "";
}

/* Up to max pids from dir/cgroup.procs into pids (NULL: just count them).
 * A directory that is gone holds nobody: 0. -1 with err on a read error. */
static int cgroup_read_pids(const char *dir, pid_t *pids, int max, char *err, size_t errlen)
{
	char *text = malloc(CGROUP_PROCS_BYTES), *p, *end;
	int n = 0;

	if (text == NULL)
		return error_format(err, errlen, "out of memory reading %s/cgroup.procs", dir);
	if (cgroup_read(dir, "cgroup.procs", text, CGROUP_PROCS_BYTES) < 0) {
		int saved = errno;

		free(text);
		if (saved == ENOENT)
			return 0;
		return error_format(err, errlen, "cannot read %s/cgroup.procs: %s", dir, strerror(saved));
	}
	for (p = text; *p != '\0'; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > 0 && (pids == NULL || n < max)) {
			if (pids != NULL)
				pids[n] = (pid_t)v;
			n++;
		}
	}
	free(text);
	return n;
}

int cgroup_job_pids(const struct cgroup_job *job, pid_t *pids, int max, char *err, size_t errlen)
{
	if (job == NULL || job->version == CGROUP_NONE)
		return error_format(err, errlen, "the job has no cgroup");
	return cgroup_read_pids(cgroup_procs_dir(job), pids, max, err, errlen);
}

/* Freezes (or thaws) the job's cgroup; on freezing, waits up to
 * CGROUP_FREEZE_WAIT_MS for it to be frozen, and goes on if it is not
 * (the caller's kill rounds cope). 0, or -1 with err. */
static int cgroup_freeze(const struct cgroup_job *job, bool frozen, char *err, size_t errlen)
{
	bool v2 = job->version == CGROUP_V2;
	const char *dir = v2 ? job->v2 : job->v1[CGROUP_FREEZER];
	int64_t give_up = time_mono_ms() + CGROUP_FREEZE_WAIT_MS;
	char state[256];

	if (cgroup_write(dir, v2 ? "cgroup.freeze" : "freezer.state",
			 v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED"), err, errlen) < 0)
		return -1;
	while (frozen && time_mono_ms() < give_up) {
		if (v2 ? cgroup_read(dir, "cgroup.events", state, sizeof state) >= 0
			 && cgroup_stat_value(state, "frozen") == 1
		       : cgroup_read(dir, "freezer.state", state, sizeof state) >= 0
			 && strcmp(state, "FROZEN\n") == 0)
			break;
		cgroup_sleep_ms(CGROUP_POLL_MS);
	}
	return 0;
}

/*
 * One round of killing. v2 from 5.14: cgroup.kill, one write, the kernel
 * kills every process, no pid list involved. Otherwise freeze first: a
 * frozen process can neither fork nor exit, so the list read from
 * cgroup.procs is complete and none of its pids can be freed and reused
 * by another process before the kill reaches it; thaw, and SIGKILL takes
 * effect as they wake.
 */
static int cgroup_kill_round(const struct cgroup_job *job, char *err, size_t errlen)
{
	pid_t pids[CGROUP_KILL_BATCH];
	int n, i, rc = 0;

	if (job->version == CGROUP_V2 && cgroup_exists(job->v2, "cgroup.kill"))
		return cgroup_write(job->v2, "cgroup.kill", "1", err, errlen);
	if (cgroup_freeze(job, true, err, errlen) < 0)
		rc = -1;        /* kill anyway */
	n = cgroup_read_pids(cgroup_procs_dir(job), pids, CGROUP_KILL_BATCH, rc == 0 ? err : NULL, errlen);
	if (n < 0)
		rc = -1;
	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	if (cgroup_freeze(job, false, rc == 0 ? err : NULL, errlen) < 0)
		rc = -1;
	return rc;
}

/* Whether the job's cgroup says it is frozen now. */
static bool cgroup_is_frozen(const struct cgroup_job *job)
{
	char state[256];

	if (job->version == CGROUP_V2)
		return cgroup_read(job->v2, "cgroup.events", state, sizeof state) >= 0
		       && cgroup_stat_value(state, "frozen") == 1;
	return cgroup_read(job->v1[CGROUP_FREEZER], "freezer.state", state, sizeof state) >= 0
	       && strcmp(state, "FROZEN\n") == 0;
}

int cgroup_job_freeze(const struct cgroup_job *job, bool frozen, char *err, size_t errlen)
{
	int64_t give_up;

	if (job == NULL || job->version == CGROUP_NONE)
		return error_format(err, errlen, "the job has no cgroup to freeze");
	if (job->version == CGROUP_V1 && job->v1[CGROUP_FREEZER][0] == '\0')
		return error_format(err, errlen, "no freezer hierarchy: the session cannot be paused");
	if (job->version == CGROUP_V2 && !cgroup_exists(job->v2, "cgroup.freeze"))
		return error_format(err, errlen, "this kernel has no cgroup.freeze (Linux 5.2+): the session "
				    "cannot be paused");
	if (cgroup_freeze(job, frozen, err, errlen) < 0)
		return -1;
	if (!frozen)
		return 0;
	/* cgroup_freeze waited CGROUP_FREEZE_WAIT_MS; a busy cgroup may take longer */
	give_up = time_mono_ms() + CGROUP_EMPTY_WAIT_MS;
	while (!cgroup_is_frozen(job)) {
		if (time_mono_ms() >= give_up) {
			cgroup_freeze(job, false, NULL, 0);
			return error_format(err, errlen, "the cgroup did not freeze within %d ms", CGROUP_EMPTY_WAIT_MS);
		}
		cgroup_sleep_ms(CGROUP_POLL_MS * 5);
	}
	return 0;
}

int cgroup_job_set_memory(const struct cgroup_job *job, int64_t bytes, char *err, size_t errlen)
{
	if (job == NULL || job->version == CGROUP_NONE || bytes <= 0)
		return error_format(err, errlen, "no cgroup or no memory limit to set");
	if (job->version == CGROUP_V2)
		return cgroup_write_number(job->v2, "memory.max", bytes, err, errlen);
	/* v1: memsw may not go below memory, nor memory above memsw: order by direction */
	{
		const char *memory = job->v1[CGROUP_MEMORY];
		int64_t now = -1;
		bool memsw = cgroup_exists(memory, "memory.memsw.limit_in_bytes");

		if (cgroup_read_number(memory, "memory.limit_in_bytes", &now) < 0)
			return error_format(err, errlen, "cannot read %s/memory.limit_in_bytes: %s", memory,
					    strerror(errno));
		if (bytes > now) {
			if (memsw && cgroup_write_number(memory, "memory.memsw.limit_in_bytes", bytes, err, errlen) < 0)
				return -1;
			return cgroup_write_number(memory, "memory.limit_in_bytes", bytes, err, errlen);
		}
		if (cgroup_write_number(memory, "memory.limit_in_bytes", bytes, err, errlen) < 0)
			return -1;
		return memsw ? cgroup_write_number(memory, "memory.memsw.limit_in_bytes", bytes, err, errlen) : 0;
	}
}

int64_t cgroup_job_memory_current(const struct cgroup_job *job)
{
	int64_t v;

	if (job == NULL || job->version == CGROUP_NONE)
		return -1;
	if (job->version == CGROUP_V2)
		return cgroup_read_number(job->v2, "memory.current", &v) == 0 ? v : -1;
	return cgroup_read_number(job->v1[CGROUP_MEMORY], "memory.usage_in_bytes", &v) == 0 ? v : -1;
}

int cgroup_job_kill(const struct cgroup_job *job, char *err, size_t errlen)
{
	const char *dir;
	int64_t give_up;
	int n;

	if (job == NULL || job->version == CGROUP_NONE)
		return error_format(err, errlen, "the job has no cgroup to kill");
	dir = cgroup_procs_dir(job);
	n = cgroup_read_pids(dir, NULL, 0, err, errlen);
	if (n <= 0)
		return n;       /* empty already (or unreadable) */
	give_up = time_mono_ms() + CGROUP_EMPTY_WAIT_MS;
	for (;;) {
		/* what counts is that the cgroup empties: a round that failed
		 * halfway (a freeze refused) may still have killed everyone */
		bool round_failed = cgroup_kill_round(job, err, errlen) < 0;
		int64_t round_end = time_mono_ms() + CGROUP_ROUND_MS;

		while ((n = cgroup_read_pids(dir, NULL, 0, err, errlen)) > 0 && time_mono_ms() < round_end)
			cgroup_sleep_ms(CGROUP_POLL_MS);
		if (n <= 0)
			return n;
		if (time_mono_ms() >= give_up) {
			if (!round_failed)
				error_format(err, errlen, "%d process(es) still in the job's cgroup %s after SIGKILL",
					     n, dir);
			return -1;
		}
	}
}

int cgroup_job_stats(const struct cgroup_job *job, struct cgroup_stats *st, char *err, size_t errlen)
{
	char text[CGROUP_FILE_MAX];
	int64_t v;

	st->cpu_seconds = -1;
	st->memory_peak_bytes = -1;
	st->oom_killed = false;
	st->oom_source = "none";
	st->pids_limit_hit = false;
	if (job == NULL || job->version == CGROUP_NONE)
		return error_format(err, errlen, "the job has no cgroup to read");
	if (job->version == CGROUP_V2) {
		const char *dir = job->v2;

		if (cgroup_read(dir, "cpu.stat", text, sizeof text) >= 0
		    && (v = cgroup_stat_value(text, "usage_usec")) >= 0)
			st->cpu_seconds = (double)v / 1e6;
		if (cgroup_read_number(dir, "memory.peak", &v) == 0)       /* Linux 5.19+ */
			st->memory_peak_bytes = v;
		if (cgroup_read(dir, "memory.events", text, sizeof text) >= 0) {
			st->oom_killed = cgroup_stat_value(text, "oom_kill") > 0;
			st->oom_source = "memory.events oom_kill";
		}
		if (cgroup_read(dir, "pids.events", text, sizeof text) >= 0)
			st->pids_limit_hit = cgroup_stat_value(text, "max") > 0;
	} else {
		const char *memory = job->v1[CGROUP_MEMORY];

		if (cgroup_read_number(job->v1[CGROUP_CPUACCT], "cpuacct.usage", &v) == 0)
			st->cpu_seconds = (double)v / 1e9;
		if (cgroup_read_number(memory, "memory.max_usage_in_bytes", &v) == 0)
			st->memory_peak_bytes = v;
		if (cgroup_read(memory, "memory.oom_control", text, sizeof text) >= 0
		    && (v = cgroup_stat_value(text, "oom_kill")) >= 0) {               /* Linux 4.13+ */
			st->oom_killed = v > 0;
			st->oom_source = "memory.oom_control oom_kill";
		} else if (cgroup_read_number(memory, "memory.failcnt", &v) == 0) {
			/* older kernels count only that the limit was reached */
			st->oom_killed = v > 0;
			st->oom_source = "memory.failcnt (the limit was reached; this kernel does not count OOM kills)";
		}
		if (cgroup_read(job->v1[CGROUP_PIDS], "pids.events", text, sizeof text) >= 0)
			st->pids_limit_hit = cgroup_stat_value(text, "max") > 0;
	}
	if (st->cpu_seconds < 0)
		return error_format(err, errlen, "cannot read the job's CPU time from its cgroup");
	return 0;
}

int cgroup_job_destroy(struct cgroup_job *job, char *err, size_t errlen)
{
	const char *dirs[CGROUP_NCONTROLLERS];
	int n, i, rc = 0;

	if (job == NULL || job->version == CGROUP_NONE)
		return 0;
	if (cgroup_job_kill(job, err, errlen) < 0)
		rc = -1;
	if (job->fd >= 0) {
		close(job->fd);
		job->fd = -1;
	}
	n = cgroup_job_dirs(job, dirs);
	for (i = 0; i < n; i++) {
		if (cgroup_rmdir(dirs[i]) < 0 && rc == 0)
			rc = error_format(err, errlen, "cannot remove the job's cgroup %s: %s", dirs[i], strerror(errno));
	}
	job->version = CGROUP_NONE;
	return rc;
}
