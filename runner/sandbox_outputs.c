/*
 * Step k of the sandbox (runner/sandbox.c): the job's outputs, collected
 * by init and streamed to the supervisor (the format is in
 * sandbox_outputs.h). Init runs it as the job's user, alone in the
 * namespace: every other process was killed and reaped, so no file can
 * change or be swapped while it is read. No link is followed: every open
 * is of one name beneath a directory fd we opened ourselves.
 *
 * Bounds: files_max records, outputs_max_bytes of content (the record
 * that would pass it says SANDBOX_OUT_TOO_LARGE and ends the walk), a
 * directory depth of SANDBOX_OUT_DEPTH_MAX and visited_max directory
 * entries looked at. A write error (the supervisor gone) stops the walk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>      /* struct open_how, RESOLVE_* */

#include "sandbox.h"
#include "sandbox_outputs.h"
#include "util.h"

#define SANDBOX_OUT_DEPTH_MAX 64
#define SANDBOX_OUT_CHUNK (64 * 1024)

struct sandbox_collect {
	const struct sandbox_spec *spec;
	int fd;                      /* the outputs pipe */
	int64_t visited_max;         /* directory entries looked at, at most */
	int64_t bytes;               /* content sent so far */
	int64_t listed;              /* records sent so far */
	int64_t visited;             /* directory entries looked at (bounds the walk) */
	bool stop;                   /* a limit was reached or the pipe broke */
	char *chunk;
};

const char *sandbox_out_kind_name(uint32_t kind)
{
	switch (kind) {
	case SANDBOX_OUT_FILE: return "file";
	case SANDBOX_OUT_SYMLINK: return "symlink";
	case SANDBOX_OUT_FIFO: return "fifo";
	case SANDBOX_OUT_DEVICE: return "device";
	case SANDBOX_OUT_SOCKET: return "socket";
	case SANDBOX_OUT_UNREADABLE: return "unreadable";
	case SANDBOX_OUT_TOO_LARGE: return "too_large";
	case SANDBOX_OUT_TOO_MANY: return "too_many";
	default: return "other";
	}
}

static int sandbox_fnmatch_glob(const char *glob, size_t glob_len, const char *path)
{
	char g[PATH_MAX], alt[PATH_MAX];
	size_t i, n = 0;

	if (glob_len == 0 || glob_len >= sizeof g)
		return 0;
	memcpy(g, glob, glob_len);
	g[glob_len] = '\0';
	if (strstr(g, "**") == NULL)
		return fnmatch(g, path, FNM_PATHNAME) == 0;
	/* "**": any depth, so '*' may cross '/'; and "**" + "/" may match nothing at all */
	if (fnmatch(g, path, 0) == 0)
		return 1;
	for (i = 0; g[i]; i++) {
		if (g[i] == '*' && g[i + 1] == '*' && g[i + 2] == '/') {
			i += 2;
			continue;
		}
		alt[n++] = g[i];
	}
	alt[n] = '\0';
	return n > 0 && fnmatch(alt, path, 0) == 0;
}

int sandbox_output_matches(const char *glob, const char *path)
{
	size_t glen = strlen(glob);
	bool dir_only = glen > 0 && glob[glen - 1] == '/';
	char prefix[PATH_MAX];
	size_t plen = strlen(path);

	if (dir_only)
		glen--;
	if (glen == 0 || plen >= sizeof prefix)
		return 0;
	if (!dir_only && sandbox_fnmatch_glob(glob, glen, path))
		return 1;
	/* a glob naming a directory takes its whole tree */
	for (size_t i = 0; i < plen; i++) {
		if (path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		if (sandbox_fnmatch_glob(glob, glen, prefix))
			return 1;
	}
	return 0;
}

static int sandbox_open_beneath(int dirfd, const char *name, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);

	/* before Linux 5.6: name is one component, so O_NOFOLLOW alone keeps us beneath */
	if (fd < 0 && errno == ENOSYS && strchr(name, '/') == NULL)
		fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static void sandbox_out_record(struct sandbox_collect *c, uint32_t kind, const char *path, uint64_t size)
{
	struct sandbox_out_header h = { .kind = kind, .path_len = (uint32_t)strlen(path), .size = size };

	if (c->stop && kind != SANDBOX_OUT_END)
		return;
	if (fd_write_all(c->fd, &h, sizeof h) < 0 || fd_write_all(c->fd, path, h.path_len) < 0)
		c->stop = true;
	c->listed++;
}

static uint32_t sandbox_out_kind_of(mode_t mode)
{
	if (S_ISLNK(mode))
		return SANDBOX_OUT_SYMLINK;
	if (S_ISFIFO(mode))
		return SANDBOX_OUT_FIFO;
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return SANDBOX_OUT_DEVICE;
	if (S_ISSOCK(mode))
		return SANDBOX_OUT_SOCKET;
	return SANDBOX_OUT_UNREADABLE;
}

/* One matching entry: a regular file is sent whole; anything else is listed. */
static void sandbox_out_entry(struct sandbox_collect *c, int dirfd, const char *name, const char *path,
			      const struct stat *lst)
{
	struct stat st;
	uint64_t left;
	int fd;

	if (c->listed >= c->spec->files_max) {
		sandbox_out_record(c, SANDBOX_OUT_TOO_MANY, path, 0);
		c->stop = true;
		return;
	}
	if (!S_ISREG(lst->st_mode)) {
		sandbox_out_record(c, sandbox_out_kind_of(lst->st_mode), path, 0);
		return;
	}
	fd = sandbox_open_beneath(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		sandbox_out_record(c, errno == ELOOP ? SANDBOX_OUT_SYMLINK : SANDBOX_OUT_UNREADABLE, path, 0);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		sandbox_out_record(c, sandbox_out_kind_of(st.st_mode), path, 0);
		close(fd);
		return;
	}
	if (st.st_size > c->spec->outputs_max_bytes - c->bytes) {
		sandbox_out_record(c, SANDBOX_OUT_TOO_LARGE, path, (uint64_t)st.st_size);
		c->stop = true;
		close(fd);
		return;
	}
	sandbox_out_record(c, SANDBOX_OUT_FILE, path, (uint64_t)st.st_size);
	c->bytes += st.st_size;
	/* exactly st_size bytes follow, whatever read() says (nobody can change
	 * the file now; a short read would be padded, a longer file cut) */
	for (left = (uint64_t)st.st_size; left > 0 && !c->stop;) {
		size_t want = left < SANDBOX_OUT_CHUNK ? (size_t)left : SANDBOX_OUT_CHUNK;
		ssize_t n = read(fd, c->chunk, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			memset(c->chunk, 0, want);
			n = (ssize_t)want;
		}
		if (fd_write_all(c->fd, c->chunk, (size_t)n) < 0)
			c->stop = true;
		left -= (uint64_t)n;
	}
	close(fd);
}

static bool sandbox_out_any_match(const struct sandbox_spec *spec, const char *path)
{
	for (size_t i = 0; i < spec->noutputs; i++)
		if (sandbox_output_matches(spec->outputs[i], path))
			return true;
	return false;
}

/* Walks the directory dirfd (its path rel, "" for /work); closes dirfd. */
static void sandbox_out_walk(struct sandbox_collect *c, int dirfd, const char *rel, int depth)
{
	DIR *dir = fdopendir(dirfd);
	struct dirent *de;

	if (dir == NULL) {
		close(dirfd);
		return;
	}
	while (!c->stop && (de = readdir(dir)) != NULL) {
		char path[PATH_MAX];
		struct stat lst;
		int n;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++c->visited > c->visited_max)
			break;
		n = snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (n < 0 || (size_t)n >= sizeof path)
			continue;
		if (fstatat(dirfd, de->d_name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(lst.st_mode)) {
			int sub;

			if (depth >= SANDBOX_OUT_DEPTH_MAX)
				continue;
			sub = sandbox_open_beneath(dirfd, de->d_name, O_RDONLY | O_DIRECTORY);
			if (sub >= 0)
				sandbox_out_walk(c, sub, path, depth + 1);
			continue;
		}
		if (sandbox_out_any_match(c->spec, path))
			sandbox_out_entry(c, dirfd, de->d_name, path, &lst);
	}
	closedir(dir);
}

void sandbox_outputs_collect(const struct sandbox_spec *spec, const char *workdir, int64_t visited_max,
			     int out_fd)
{
	struct sandbox_collect c = { .spec = spec, .fd = out_fd, .visited_max = visited_max };
	int root;

	c.chunk = malloc(SANDBOX_OUT_CHUNK);
	root = open(workdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.chunk != NULL && root >= 0)
		sandbox_out_walk(&c, root, "", 0);
	else if (root >= 0)
		close(root);
	c.stop = false;
	sandbox_out_record(&c, SANDBOX_OUT_END, "", 0);
	free(c.chunk);
}
