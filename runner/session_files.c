/*
 * The session agent's file operations (session_files.h). Each op parses
 * its path (session_path.c), opens the root, then walks down with
 * openat2() and the RESOLVE_* flags below; below a directory it holds by
 * fd it only uses *at() calls with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW.
 *
 *   write   parents made 0755 one by one (mkdirat, then openat2 of it),
 *           the file opened O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_NONBLOCK
 *           (a FIFO without a reader fails at once instead of blocking)
 *           and checked on the fd to be a regular file; its mode set
 *           with fchmod (the umask does not apply). The bytes are copied
 *           from the agent's input as they come (never all in memory).
 *   read    opened O_RDONLY|O_NONBLOCK|O_NOFOLLOW and judged by fstat on
 *           the fd: a regular file's bytes (at most max_bytes, else 413),
 *           a directory's listing, anything else 400 -- opening a FIFO
 *           this way never blocks, and nothing is read from it.
 *   delete  a file, a link itself, an empty directory, or a tree with
 *           recursive (never following a link; at most
 *           SESSION_TREE_DEPTH_MAX deep).
 *   unpack  the job upload's code (runner/unpack.c: common/upload_reader.h
 *           and upload_entry.h rules, libarchive's secure-extract flags),
 *           run with the target directory as the current directory, then
 *           the agent's old one back. An archive refused half-way leaves
 *           what it unpacked before the bad entry.
 *   archive the directory as a .tar.gz (pax) in memory, at most max_bytes:
 *           links stored as links, FIFOs, sockets and devices skipped,
 *           hard links stored as files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "session_files.h"
#include "session_path.h"
#include "unpack.h"
#include "util.h"

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
/* A listing's JSON stays well inside one frame (SESSION_FRAME_MAX): an
 * entry is counted at its worst-case size, and the listing stops here. */
#define LIST_BYTES_MAX (48u << 20)
#define COPY_CHUNK 65536

static __attribute__((format(printf, 4, 5))) void fail(struct session_files_reply *r, int status,
							const char *reason, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->reason = reason;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
}

/* The path as the user sees it, for messages and replies: "/work/a/b".
 * Control characters are shown as '?'. */
static void shown_path(const struct session_path *p, char *out, size_t outlen)
{
	size_t i;

	snprintf(out, outlen, "%s%s%s", session_root_name(p->root), p->rel[0] ? "/" : "", p->rel);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20)
			out[i] = '?';
}

/* Fails `r` by errno, for `what` done to `shown`. */
static void fail_errno(struct session_files_reply *r, int e, const char *shown, const char *what)
{
	switch (e) {
	case ELOOP:
		fail(r, 400, "symlink", "%s: a symbolic link is on the way or at the target (links are not followed)",
		     shown);
		break;
	case EXDEV:
		fail(r, 400, "bad_path", "%s: the path leaves its root", shown);
		break;
	case ENOENT:
		fail(r, 404, "not_found", "%s: no such file or directory", shown);
		break;
	case ENOTDIR:
		fail(r, 409, "not_directory", "%s: a part of the path is not a directory", shown);
		break;
	case EISDIR:
		fail(r, 409, "is_directory", "%s is a directory", shown);
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		fail(r, 409, "permission_denied", "%s: permission denied (cannot %s it)", shown, what);
		break;
	case ENXIO:
	case ENODEV:
	case ETXTBSY:
		fail(r, 400, "special_file", "%s is not a regular file or a directory", shown);
		break;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		fail(r, 413, "no_space", "%s: no space left to %s it", shown, what);
		break;
	case ENAMETOOLONG:
		fail(r, 400, "bad_path", "%s: a name is too long", shown);
		break;
	case ENOTEMPTY:
	case EEXIST:
		fail(r, 409, "not_empty", "%s is a directory that is not empty (delete it with recursive)", shown);
		break;
	default:
		fail(r, 500, "internal", "%s: cannot %s it: %s", shown, what, strerror(e));
	}
}

static int resolve(int dirfd, const char *rel, uint64_t flags, mode_t mode)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode, .resolve = RESOLVE_FLAGS };

	return (int)syscall(SYS_openat2, dirfd, rel[0] ? rel : ".", &how, sizeof how);
}

/* Parses the request's path and opens its root. Returns the root's fd, or
 * -1 with r failed. */
static int path_open_root(const struct session_roots *roots, const struct session_request *req,
			  struct session_path *p, char *shown, size_t shownlen, struct session_files_reply *r)
{
	const char *root;
	char err[512];
	int fd;

	if (session_path_parse(req->path, req->path_len, p, err, sizeof err) < 0) {
		fail(r, 400, "bad_path", "%s", err);
		return -1;
	}
	shown_path(p, shown, shownlen);
	root = p->root == SESSION_ROOT_TMP ? roots->tmp : roots->work;
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail(r, 500, "internal", "cannot open %s (the session's %s): %s", root, session_root_name(p->root),
		     strerror(errno));
	return fd;
}

/* Opens (O_PATH) the directory rel[0..n) below rootfd, making each missing
 * one 0755 when `make`. Returns the fd, or -1 with errno set. */
static int open_dir(int rootfd, const char *rel, size_t n, int make)
{
	char comp[SESSION_NAME_BYTES_MAX + 1], prefix[SESSION_PATH_BYTES_MAX + 1];
	size_t i = 0;
	int cur, next;

	if (!make) {
		memcpy(prefix, rel, n);
		prefix[n] = '\0';
		return resolve(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
	}
	cur = resolve(rootfd, "", O_PATH | O_DIRECTORY, 0);
	while (cur >= 0 && i < n) {
		size_t k = 0;
		while (i + k < n && rel[i + k] != '/')
			k++;
		memcpy(comp, rel + i, k);
		comp[k] = '\0';
		i += k + 1;
		if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			close(cur);
			errno = e;
			return -1;
		}
		next = resolve(cur, comp, O_PATH | O_DIRECTORY, 0);
		{
			int e = errno;
			close(cur);
			errno = e;
		}
		cur = next;
	}
	return cur;
}

void session_files_reply_free(struct session_files_reply *reply)
{
	json_decref(reply->result);
	free(reply->binary);
	memset(reply, 0, sizeof *reply);
}

/* Reads and drops n bytes of fd; 0, or -1 at EOF/error. */
static int skip_bytes(int fd, uint32_t n)
{
	char junk[COPY_CHUNK];

	while (n > 0) {
		ssize_t k = read(fd, junk, n < sizeof junk ? n : sizeof junk);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		n -= (uint32_t)k;
	}
	return 0;
}

/* ---- write ---- */

int session_files_write(const struct session_roots *roots, const struct session_request *req, int in_fd,
			uint32_t n, struct session_files_reply *r)
{
	struct session_path p;
	char shown[SESSION_PATH_BYTES_MAX + 16], *buf = NULL;
	struct stat st;
	int rootfd, dirfd = -1, fd = -1, write_errno = 0;
	uint32_t left = n;

	memset(r, 0, sizeof *r);
	rootfd = path_open_root(roots, req, &p, shown, sizeof shown, r);
	if (rootfd < 0)
		return skip_bytes(in_fd, n);
	if (p.rel[0] == '\0') {
		fail(r, 409, "is_directory", "%s is a directory", shown);
		goto skip;
	}
	dirfd = open_dir(rootfd, p.rel, p.last ? p.last - 1 : 0, 1);
	if (dirfd < 0) {
		fail_errno(r, errno, shown, "make the directories of");
		goto skip;
	}
	fd = resolve(dirfd, p.rel + p.last, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) {
		fail_errno(r, errno, shown, "write");
		goto skip;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail(r, 400, "special_file", "%s is not a regular file: it is not written", shown);
		goto skip;
	}
	/* the mode asked for, whatever the umask; a file of another user
	 * (writable to us) keeps its own */
	if (fchmod(fd, (mode_t)req->mode) < 0 && errno != EPERM) {
		fail_errno(r, errno, shown, "set the mode of");
		goto skip;
	}
	buf = malloc(COPY_CHUNK);
	if (buf == NULL) {
		fail(r, 500, "internal", "out of memory");
		goto skip;
	}
	while (left > 0) {
		ssize_t k = read(in_fd, buf, left < COPY_CHUNK ? left : COPY_CHUNK);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			goto broken;
		left -= (uint32_t)k;
		if (write_errno == 0 && fd_write_all(fd, buf, (size_t)k) < 0)
			write_errno = errno ? errno : ENOSPC; /* keep reading: the frames stay in step */
	}
	if (write_errno == 0 && close(fd) < 0)
		write_errno = errno;
	else if (write_errno != 0)
		close(fd);
	fd = -1;
	if (write_errno != 0) {
		fail_errno(r, write_errno, shown, "write");
	} else {
		r->result = json_pack("{s:s, s:I}", "path", shown, "size", (json_int_t)n);
		if (r->result == NULL)
			fail(r, 500, "internal", "out of memory");
	}
	free(buf);
	close(dirfd);
	close(rootfd);
	return 0;
skip:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	close(rootfd);
	free(buf);
	return skip_bytes(in_fd, left);
broken:
	if (fd >= 0)
		close(fd);
	close(dirfd);
	close(rootfd);
	free(buf);
	fail(r, 400, "bad_request", "the input ended inside the file's bytes");
	return -1;
}

/* ---- read ---- */

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "link";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR:
	case S_IFBLK: return "device";
	default: return "other";
	}
}

static char *base64(const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[s[i] >> 2];
		*o++ = tab[(s[i] & 3) << 4 | s[i + 1] >> 4];
		*o++ = tab[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		*o++ = tab[s[i + 2] & 63];
	}
	if (i < n) {
		*o++ = tab[s[i] >> 2];
		if (i + 1 < n) {
			*o++ = tab[(s[i] & 3) << 4 | s[i + 1] >> 4];
			*o++ = tab[(s[i + 1] & 15) << 2];
		} else {
			*o++ = tab[(s[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *list_entry(int dirfd, const char *name)
{
	struct stat st;
	char mode[8], mtime[40];
	size_t n = strlen(name), clean_len;
	char *clean;
	json_t *e;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL; /* gone meanwhile */
	snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
	time_format_rfc3339((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000, mtime, sizeof mtime);
	clean = session_utf8_sanitize(name, n, &clean_len);
	if (clean == NULL)
		return NULL;
	e = json_pack("{s:s%, s:s, s:I, s:s, s:s}", "name", clean, clean_len, "type", type_name(st.st_mode), "size",
		      (json_int_t)st.st_size, "mode", mode, "mtime", mtime);
	if (e != NULL && (clean_len != n || memcmp(clean, name, n) != 0)) {
		/* not UTF-8: the raw bytes too, so nothing is lost */
		char *b = base64((const unsigned char *)name, n);
		if (b == NULL || json_object_set_new(e, "name_b64", json_string(b)) < 0) {
			json_decref(e);
			e = NULL;
		}
		free(b);
	}
	free(clean);
	return e;
}

static void list_dir(int fd, const char *shown, struct session_files_reply *r)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i, bytes = 0;
	int truncated = 0, dfd;
	json_t *entries;

	dfd = dup(fd); /* closedir closes it */
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		if (dfd >= 0)
			close(dfd);
		fail_errno(r, errno, shown, "list");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* each name's worst case: escaped 6 bytes a byte, base64, the rest */
		if (n == SESSION_LIST_MAX || bytes + len * 6 + len * 4 / 3 + 200 > LIST_BYTES_MAX) {
			truncated = 1;
			break;
		}
		bytes += len * 6 + len * 4 / 3 + 200;
		if (n == cap) {
			char **more = realloc(names, (cap ? cap * 2 : 256) * sizeof *names);
			if (more == NULL)
				goto oom;
			names = more;
			cap = cap ? cap * 2 : 256;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL)
			goto oom;
		n++;
	}
	qsort(names, n, sizeof *names, name_compare);
	entries = json_array();
	if (entries == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		json_t *e = list_entry(dirfd(d), names[i]);
		if (e != NULL && json_array_append_new(entries, e) < 0) {
			json_decref(entries);
			goto oom;
		}
	}
	r->result = json_pack("{s:s, s:o, s:b}", "path", shown, "entries", entries, "truncated", truncated);
	if (r->result == NULL)
		goto oom;
	goto out;
oom:
	fail(r, 500, "internal", "out of memory listing %s", shown);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

void session_files_read(const struct session_roots *roots, const struct session_request *req,
			struct session_files_reply *r)
{
	struct session_path p;
	char shown[SESSION_PATH_BYTES_MAX + 16];
	struct stat st;
	int rootfd, fd = -1;
	size_t len = 0, cap;

	memset(r, 0, sizeof *r);
	rootfd = path_open_root(roots, req, &p, shown, sizeof shown, r);
	if (rootfd < 0)
		return;
	fd = resolve(rootfd, p.rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
	if (fd < 0) {
		fail_errno(r, errno, shown, "read");
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		fail_errno(r, errno, shown, "read");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		list_dir(fd, shown, r);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(r, 400, "special_file", "%s is a %s, not a regular file or a directory: it is not read", shown,
		     type_name(st.st_mode));
		goto out;
	}
	if (st.st_size > req->max_bytes) {
		fail(r, 413, "too_large", "%s has %lld bytes, over the %lld-byte bound", shown, (long long)st.st_size,
		     (long long)req->max_bytes);
		goto out;
	}
	/* the size may change while it is read: read to EOF, bounded */
	cap = (size_t)st.st_size + 1;
	r->binary = malloc(cap);
	if (r->binary == NULL) {
		fail(r, 500, "internal", "out of memory reading %s", shown);
		goto out;
	}
	for (;;) {
		ssize_t k;
		if (len == cap) {
			char *more;
			if ((int64_t)cap > req->max_bytes) {
				fail(r, 413, "too_large", "%s grew over the %lld-byte bound while it was read", shown,
				     (long long)req->max_bytes);
				goto out;
			}
			more = realloc(r->binary, cap * 2);
			if (more == NULL) {
				fail(r, 500, "internal", "out of memory reading %s", shown);
				goto out;
			}
			r->binary = more;
			cap *= 2;
		}
		k = read(fd, r->binary + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fail_errno(r, errno, shown, "read");
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if ((int64_t)len > req->max_bytes) {
		fail(r, 413, "too_large", "%s grew over the %lld-byte bound while it was read", shown,
		     (long long)req->max_bytes);
		goto out;
	}
	r->binary_len = len;
	r->has_binary = 1;
	r->result = json_pack("{s:I}", "size", (json_int_t)len);
	if (r->result == NULL)
		fail(r, 500, "internal", "out of memory");
out:
	if (r->status != 0) {
		free(r->binary);
		r->binary = NULL;
		r->has_binary = 0;
	}
	if (fd >= 0)
		close(fd);
	close(rootfd);
}

/* ---- delete ---- */

/* Removes what is in the directory `name` of parent, then it. 0 or -1 (errno). */
static int remove_tree(int parent, const char *name, int depth)
{
	int fd, pass;

	if (depth > SESSION_TREE_DEPTH_MAX) {
		errno = ELOOP;
		return -1;
	}
	for (pass = 0; pass < 3; pass++) {
		DIR *d;
		struct dirent *de;
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -1;
		d = fdopendir(fd);
		if (d == NULL) {
			close(fd);
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(st.st_mode)) {
				if (remove_tree(fd, de->d_name, depth + 1) < 0 && errno != ENOENT) {
					int e = errno;
					closedir(d);
					errno = e;
					return -1;
				}
			} else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
				int e = errno;
				closedir(d);
				errno = e;
				return -1;
			}
		}
		closedir(d);
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0)
			return 0;
		if (errno != ENOTEMPTY)
			return -1;
		/* something made a file meanwhile: once more */
	}
	return -1;
}

void session_files_delete(const struct session_roots *roots, const struct session_request *req,
			  struct session_files_reply *r)
{
	struct session_path p;
	char shown[SESSION_PATH_BYTES_MAX + 16];
	struct stat st;
	int rootfd, dirfd = -1;
	const char *name;

	memset(r, 0, sizeof *r);
	rootfd = path_open_root(roots, req, &p, shown, sizeof shown, r);
	if (rootfd < 0)
		return;
	if (p.rel[0] == '\0') {
		fail(r, 400, "bad_path", "%s is a root: it cannot be deleted", shown);
		goto out;
	}
	name = p.rel + p.last;
	dirfd = open_dir(rootfd, p.rel, p.last ? p.last - 1 : 0, 0);
	if (dirfd < 0) {
		fail_errno(r, errno == ENOTDIR ? ENOENT : errno, shown, "delete");
		goto out;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		fail_errno(r, errno, shown, "delete");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		/* dirfd is O_PATH: the *at calls below take it */
		if (req->recursive ? remove_tree(dirfd, name, 0) < 0 : unlinkat(dirfd, name, AT_REMOVEDIR) < 0) {
			if (errno == ELOOP && req->recursive)
				fail(r, 400, "bad_path", "%s is deeper than %d levels (or a link appeared in it)", shown,
				     SESSION_TREE_DEPTH_MAX);
			else
				fail_errno(r, errno, shown, "delete");
			goto out;
		}
	} else if (unlinkat(dirfd, name, 0) < 0) {
		fail_errno(r, errno, shown, "delete");
		goto out;
	}
	r->result = json_object();
	if (r->result == NULL)
		fail(r, 500, "internal", "out of memory");
out:
	if (dirfd >= 0)
		close(dirfd);
	close(rootfd);
}

/* ---- unpack ---- */

void session_files_unpack(const struct session_roots *roots, const struct session_request *req, const void *data,
			  size_t len, struct session_files_reply *r)
{
	struct session_path p;
	char shown[SESSION_PATH_BYTES_MAX + 16], err[1024];
	int rootfd, dirfd = -1, here = -1, rc;

	memset(r, 0, sizeof *r);
	rootfd = path_open_root(roots, req, &p, shown, sizeof shown, r);
	if (rootfd < 0)
		return;
	dirfd = open_dir(rootfd, p.rel, strlen(p.rel), 1);
	if (dirfd < 0) {
		fail_errno(r, errno, shown, "make the directory");
		goto out;
	}
	here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (here < 0 || fchdir(dirfd) < 0) {
		fail(r, 500, "internal", "cannot enter %s: %s", shown, strerror(errno));
		goto out;
	}
	rc = unpack_archive(data, len, req->max_bytes, req->max_files, err, sizeof err);
	if (fchdir(here) < 0) {
		/* the agent's own directory went away: stay at the root */
		if (chdir("/") < 0)
			(void)0;
	}
	if (rc < 0) {
		if (strstr(err, "(the limit)") != NULL || strstr(err, "bytes an upload may unpack to") != NULL)
			fail(r, 413, "too_large", "%s", err);
		else
			fail(r, 400, "bad_archive", "%s", err);
		goto out;
	}
	r->result = json_pack("{s:s}", "path", shown);
	if (r->result == NULL)
		fail(r, 500, "internal", "out of memory");
out:
	if (here >= 0)
		close(here);
	if (dirfd >= 0)
		close(dirfd);
	close(rootfd);
}

/* ---- archive ---- */

struct archive_out {
	char *data;
	size_t len, cap, max;
	int over;
};

static la_ssize_t archive_out_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct archive_out *o = ctx;

	(void)a;
	if (n > o->max - o->len) {
		o->over = 1;
		return -1;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 65536;
		char *more;
		while (cap < o->len + n)
			cap *= 2;
		if (cap > o->max)
			cap = o->max;
		more = realloc(o->data, cap);
		if (more == NULL)
			return -1;
		o->data = more;
		o->cap = cap;
	}
	memcpy(o->data + o->len, buf, n);
	o->len += n;
	return (la_ssize_t)n;
}

struct archive_walk {
	struct archive *a;
	char name[SESSION_PATH_BYTES_MAX + 1];
	char *buf;
	const char *shown;
	struct session_files_reply *r;
};

static void entry_times(struct archive_entry *e, const struct stat *st)
{
	archive_entry_set_perm(e, st->st_mode & 0777);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static int walk_fail_archive(struct archive_walk *w)
{
	fail(w->r, 500, "internal", "cannot write the archive of %s at \"%s\": %s", w->shown, w->name,
	     archive_error_string(w->a));
	return -1;
}

/* Adds what is in the directory dirfd (named w->name[0..plen), "" for
 * the top) to the archive. 0, or -1 with w->r failed. */
static int archive_dir(struct archive_walk *w, int dirfd, size_t plen, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd), rc = 0;

	if (depth > SESSION_TREE_DEPTH_MAX) {
		fail(w->r, 400, "bad_path", "%s is deeper than %d levels", w->shown, SESSION_TREE_DEPTH_MAX);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		fail_errno(w->r, errno, w->shown, "archive");
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		struct archive_entry *e;
		size_t n = strlen(de->d_name);
		int cfd = -1;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
			continue; /* FIFOs, sockets, devices: an upload could not carry them back */
		if (plen + 1 + n >= sizeof w->name) {
			fail(w->r, 400, "bad_path", "%s has a path over %d bytes inside", w->shown,
			     SESSION_PATH_BYTES_MAX);
			rc = -1;
			break;
		}
		if (plen > 0)
			w->name[plen] = '/';
		memcpy(w->name + plen + (plen > 0), de->d_name, n + 1);
		e = archive_entry_new();
		if (e == NULL) {
			fail(w->r, 500, "internal", "out of memory");
			rc = -1;
			break;
		}
		archive_entry_copy_pathname(e, w->name);
		if (S_ISLNK(st.st_mode)) {
			char target[SESSION_PATH_BYTES_MAX + 1];
			ssize_t k = readlinkat(dirfd, de->d_name, target, sizeof target - 1);
			if (k >= 0) {
				target[k] = '\0';
				archive_entry_set_filetype(e, AE_IFLNK);
				archive_entry_copy_symlink(e, target);
				entry_times(e, &st);
				if (archive_write_header(w->a, e) < ARCHIVE_WARN)
					rc = walk_fail_archive(w);
			}
		} else if (S_ISDIR(st.st_mode)) {
			cfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0 && fstat(cfd, &st) == 0) {
				archive_entry_set_filetype(e, AE_IFDIR);
				entry_times(e, &st);
				if (archive_write_header(w->a, e) < ARCHIVE_WARN)
					rc = walk_fail_archive(w);
				else
					rc = archive_dir(w, cfd, plen + (plen > 0) + n, depth + 1);
			}
		} else {
			cfd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (cfd >= 0 && fstat(cfd, &st) == 0 && S_ISREG(st.st_mode)) {
				int64_t left = st.st_size;
				archive_entry_set_filetype(e, AE_IFREG);
				archive_entry_set_size(e, st.st_size);
				entry_times(e, &st);
				if (archive_write_header(w->a, e) < ARCHIVE_WARN)
					rc = walk_fail_archive(w);
				/* exactly the size given: a file that shrank meanwhile is padded by libarchive */
				while (rc == 0 && left > 0) {
					ssize_t k = read(cfd, w->buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
					if (k < 0 && errno == EINTR)
						continue;
					if (k <= 0)
						break;
					if (archive_write_data(w->a, w->buf, (size_t)k) < 0)
						rc = walk_fail_archive(w);
					left -= k;
				}
			}
		}
		if (cfd >= 0)
			close(cfd);
		archive_entry_free(e);
		w->name[plen] = '\0';
	}
	closedir(d);
	return rc;
}

void session_files_archive(const struct session_roots *roots, const struct session_request *req,
			   struct session_files_reply *r)
{
	struct session_path p;
	char shown[SESSION_PATH_BYTES_MAX + 16];
	struct archive_out out = { .max = (size_t)req->max_bytes };
	struct archive_walk w = { 0 };
	struct stat st;
	int rootfd, fd = -1, rc;

	memset(r, 0, sizeof *r);
	rootfd = path_open_root(roots, req, &p, shown, sizeof shown, r);
	if (rootfd < 0)
		return;
	/* not O_DIRECTORY: with it, a link at the target is ENOTDIR, not ELOOP */
	fd = resolve(rootfd, p.rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0) {
		fail_errno(r, errno, shown, "archive");
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fail(r, 409, "not_directory", "%s is not a directory: only a directory is archived", shown);
		goto out;
	}
	w.a = archive_write_new();
	w.buf = malloc(COPY_CHUNK);
	w.shown = shown;
	w.r = r;
	if (w.a == NULL || w.buf == NULL || archive_write_add_filter_gzip(w.a) != ARCHIVE_OK
	    || archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK
	    || archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK) {
		fail(r, 500, "internal", "cannot set up libarchive: %s", w.a ? archive_error_string(w.a) : "out of memory");
		goto out;
	}
	if (archive_write_open2(w.a, &out, NULL, archive_out_write, NULL, NULL) != ARCHIVE_OK) {
		fail(r, out.over ? 413 : 500, out.over ? "too_large" : "internal", "cannot start the archive of %s: %s",
		     shown, archive_error_string(w.a));
		goto out;
	}
	rc = archive_dir(&w, fd, 0, 0);
	if (archive_write_close(w.a) != ARCHIVE_OK && rc == 0) {
		rc = -1;
		fail(r, 500, "internal", "cannot finish the archive of %s: %s", shown, archive_error_string(w.a));
	}
	if (out.over) {
		fail(r, 413, "too_large", "the archive of %s is over the %lld-byte bound", shown,
		     (long long)req->max_bytes);
		goto out;
	}
	if (rc < 0)
		goto out;
	r->result = json_pack("{s:I}", "size", (json_int_t)out.len);
	if (r->result == NULL) {
		fail(r, 500, "internal", "out of memory");
		goto out;
	}
	r->binary = out.data;
	r->binary_len = out.len;
	r->has_binary = 1;
	out.data = NULL;
out:
	if (w.a != NULL)
		archive_write_free(w.a);
	free(w.buf);
	free(out.data);
	if (fd >= 0)
		close(fd);
	close(rootfd);
}
