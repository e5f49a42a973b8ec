/*
 * The sandbox spec as bytes, for the job's init (runner/sandbox_spec.h
 * has the format and why). Encoding and decoding each run in two passes
 * over the same code: the first measures, the second writes, so each
 * makes exactly one allocation and a decoded spec is freed in one call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>       /* struct sock_filter */

#include "sandbox_spec.h"
#include "util.h"

static const char sandbox_spec_magic[8] = { 'S', 'R', 'S', 'P', 'E', 'C', '1', '\n' };

/* The kernel's limit on a filter's length (BPF_MAXINSNS). */
#define SANDBOX_SPEC_FILTER_MAX 4096

/* ------------------------------------------------------------------ */
/* Encoding.                                                          */

struct spec_writer {
	char *out;                   /* NULL: only measure */
	size_t len;
};

static void put(struct spec_writer *w, const void *data, size_t len)
{
	if (w->out && len)
		memcpy(w->out + w->len, data, len);
	w->len += len;
}

static void put_u32(struct spec_writer *w, uint32_t v) { put(w, &v, sizeof v); }
static void put_u64(struct spec_writer *w, uint64_t v) { put(w, &v, sizeof v); }
static void put_i64(struct spec_writer *w, int64_t v) { put(w, &v, sizeof v); }

static void put_str(struct spec_writer *w, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	put_u32(w, (uint32_t)len);
	put(w, s, len);
}

/* argv-style (NULL-terminated, n < 0) or counted (n >= 0). */
static void put_strv(struct spec_writer *w, const char *const *v, long n)
{
	uint32_t count = 0;

	if (n < 0)
		while (v && v[count])
			count++;
	else
		count = (uint32_t)n;
	put_u32(w, count);
	for (uint32_t i = 0; i < count; i++)
		put_str(w, v[i]);
}

static void sandbox_spec_write(struct spec_writer *w, const struct sandbox_spec *spec)
{
	uint32_t flags = (spec->netns_fd > 0 ? SANDBOX_SPEC_NETNS : 0) | (spec->mirror_dir ? SANDBOX_SPEC_MIRROR : 0)
		| (spec->seccomp ? SANDBOX_SPEC_SECCOMP : 0) | (spec->session ? SANDBOX_SPEC_SESSION : 0)
		| (spec->loopback_up ? SANDBOX_SPEC_LOOPBACK : 0) | (spec->prepared ? SANDBOX_SPEC_PREPARED : 0);

	put(w, sandbox_spec_magic, sizeof sandbox_spec_magic);
	put_u32(w, spec->uid);
	put_u32(w, spec->gid);
	put_u32(w, spec->agent_uid);
	put_i64(w, spec->tmpfs_bytes);
	put_i64(w, spec->unpacked_max_bytes);
	put_i64(w, spec->files_max);
	put_i64(w, spec->pids_max);
	put_i64(w, spec->outputs_max_bytes);
	put_u64(w, spec->upload_len);
	put_u64(w, spec->stdin_len);
	put_u32(w, flags);
	put_str(w, spec->job_id);
	put_str(w, spec->mount_point);
	put_str(w, spec->env_root);
	if (spec->mirror_dir)
		put_str(w, spec->mirror_dir);
	put_strv(w, spec->argv, -1);
	put_strv(w, spec->envp, -1);
	put_strv(w, spec->devices, (long)spec->ndevices);
	put_strv(w, spec->outputs, (long)spec->noutputs);
	if (spec->seccomp) {
		put_u32(w, (uint32_t)(spec->seccomp->len * sizeof(struct sock_filter)));
		put(w, spec->seccomp->filter, spec->seccomp->len * sizeof(struct sock_filter));
	}
}

int sandbox_spec_encode(const struct sandbox_spec *spec, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct spec_writer w = { NULL, 0 };

	*out = NULL;
	*outlen = 0;
	if (spec->seccomp && (spec->seccomp->filter == NULL || spec->seccomp->len == 0))
		return error_format(err, errlen, "the seccomp filter is empty");
	sandbox_spec_write(&w, spec);
	if (w.len > SANDBOX_SPEC_MAX)
		return error_format(err, errlen, "the job's spec takes %zu bytes, more than %d (its arguments "
				    "or environment are too large)", w.len, SANDBOX_SPEC_MAX);
	w.out = malloc(w.len);
	if (w.out == NULL)
		return error_format(err, errlen, "out of memory for the job's spec");
	*outlen = w.len;
	w.len = 0;
	sandbox_spec_write(&w, spec);
	*out = w.out;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Decoding.                                                          */

struct spec_reader {
	const unsigned char *p;
	size_t left;
	char *arena;                 /* NULL: only measure */
	size_t used;                 /* arena bytes taken (or needed) */
	const char *problem;         /* the first thing wrong, or NULL */
};

static void fail(struct spec_reader *r, const char *problem)
{
	if (r->problem == NULL)
		r->problem = problem;
	r->left = 0;
}

static void get(struct spec_reader *r, void *out, size_t len, const char *what)
{
	if (r->problem != NULL || len > r->left) {
		fail(r, what);
		memset(out, 0, len);
		return;
	}
	memcpy(out, r->p, len);
	r->p += len;
	r->left -= len;
}

static uint32_t get_u32(struct spec_reader *r, const char *what)
{
	uint32_t v;

	get(r, &v, sizeof v, what);
	return v;
}

static uint64_t get_u64(struct spec_reader *r, const char *what)
{
	uint64_t v;

	get(r, &v, sizeof v, what);
	return v;
}

static int64_t get_i64(struct spec_reader *r, const char *what)
{
	int64_t v;

	get(r, &v, sizeof v, what);
	return v;
}

/* Room for n bytes in the arena, aligned to align (a power of two); NULL while measuring. */
static void *take(struct spec_reader *r, size_t n, size_t align)
{
	size_t at = (r->used + align - 1) & ~(align - 1);

	r->used = at + n;
	return r->arena ? r->arena + at : NULL;
}

static const char *get_str(struct spec_reader *r, const char *what)
{
	uint32_t len = get_u32(r, what);
	char *s;

	if (r->problem != NULL)
		return "";
	if (len > r->left || memchr(r->p, '\0', len) != NULL) {
		fail(r, what);
		return "";
	}
	s = take(r, (size_t)len + 1, 1);
	if (s) {
		memcpy(s, r->p, len);
		s[len] = '\0';
	}
	r->p += len;
	r->left -= len;
	return s ? s : "";
}

/* A NULL-terminated array of count strings (*count when counted is non-NULL). */
static const char *const *get_strv(struct spec_reader *r, size_t *count, const char *what)
{
	uint32_t n = get_u32(r, what);
	const char **v;

	/* each string takes at least its 4-byte length: a count past that is a lie */
	if (r->problem != NULL || n > r->left / sizeof(uint32_t)) {
		fail(r, what);
		n = 0;
	}
	v = take(r, ((size_t)n + 1) * sizeof *v, alignof(const char *));
	for (uint32_t i = 0; i < n; i++) {
		const char *s = get_str(r, what);

		if (v)
			v[i] = s;
	}
	if (v)
		v[n] = NULL;
	if (count)
		*count = n;
	return v;
}

static bool absolute(const char *path)
{
	return path != NULL && path[0] == '/';
}

static void sandbox_spec_read(struct spec_reader *r, struct sandbox_spec_decoded *d)
{
	struct sandbox_spec *spec = &d->spec;
	char magic[sizeof sandbox_spec_magic];
	uint32_t filter_bytes;

	memset(spec, 0, sizeof *spec);
	get(r, magic, sizeof magic, "not a sandbox spec (no magic)");
	if (r->problem == NULL && memcmp(magic, sandbox_spec_magic, sizeof magic) != 0)
		fail(r, "not a sandbox spec of this version (bad magic)");
	spec->uid = get_u32(r, "uid");
	spec->gid = get_u32(r, "gid");
	spec->agent_uid = get_u32(r, "agent_uid");
	spec->tmpfs_bytes = get_i64(r, "tmpfs_bytes");
	spec->unpacked_max_bytes = get_i64(r, "unpacked_max_bytes");
	spec->files_max = get_i64(r, "files_max");
	spec->pids_max = get_i64(r, "pids_max");
	spec->outputs_max_bytes = get_i64(r, "outputs_max_bytes");
	spec->upload_len = (size_t)get_u64(r, "upload_len");
	spec->stdin_len = (size_t)get_u64(r, "stdin_len");
	d->flags = get_u32(r, "flags");
	if (d->flags & ~(unsigned)(SANDBOX_SPEC_NETNS | SANDBOX_SPEC_MIRROR | SANDBOX_SPEC_SECCOMP
				   | SANDBOX_SPEC_SESSION | SANDBOX_SPEC_LOOPBACK | SANDBOX_SPEC_PREPARED))
		fail(r, "unknown flags");
	/* a slot's shared namespace is never brought up: only a fresh one of a session's */
	if ((d->flags & SANDBOX_SPEC_LOOPBACK) && (d->flags & SANDBOX_SPEC_NETNS))
		fail(r, "loopback_up with a shared network namespace");
	spec->session = (d->flags & SANDBOX_SPEC_SESSION) != 0;
	spec->loopback_up = (d->flags & SANDBOX_SPEC_LOOPBACK) != 0;
	spec->prepared = (d->flags & SANDBOX_SPEC_PREPARED) != 0;
	spec->job_id = get_str(r, "job_id");
	spec->mount_point = get_str(r, "mount_point");
	spec->env_root = get_str(r, "env_root");
	if (d->flags & SANDBOX_SPEC_MIRROR)
		spec->mirror_dir = get_str(r, "mirror_dir");
	spec->argv = get_strv(r, NULL, "argv");
	spec->envp = get_strv(r, NULL, "envp");
	spec->devices = get_strv(r, &spec->ndevices, "devices");
	spec->outputs = get_strv(r, &spec->noutputs, "outputs");
	if (d->flags & SANDBOX_SPEC_SECCOMP) {
		filter_bytes = get_u32(r, "seccomp");
		if (r->problem == NULL && (filter_bytes == 0 || filter_bytes % sizeof(struct sock_filter) != 0
					   || filter_bytes / sizeof(struct sock_filter) > SANDBOX_SPEC_FILTER_MAX
					   || filter_bytes > r->left))
			fail(r, "seccomp");
		if (r->problem == NULL) {
			struct sock_filter *f = take(r, filter_bytes, alignof(struct sock_filter));

			if (f)
				memcpy(f, r->p, filter_bytes);
			r->p += filter_bytes;
			r->left -= filter_bytes;
			d->seccomp.filter = f;
			d->seccomp.len = (unsigned short)(filter_bytes / sizeof(struct sock_filter));
			spec->seccomp = &d->seccomp;
		}
	}
	if (r->problem == NULL && r->left != 0)
		fail(r, "bytes after the end");
	if (r->problem != NULL || r->arena == NULL)
		return;         /* the strings are there to check on the second pass only */
	/* what init must never be asked to do */
	if (spec->uid == 0 || spec->gid == 0)
		fail(r, "a job may not run as root");
	else if (spec->session ? (spec->agent_uid == 0 || spec->agent_uid == spec->uid) : spec->agent_uid != 0)
		fail(r, "a session's agent needs a uid of its own (never root, never the session's), a job none");
	else if (!absolute(spec->mount_point) || !absolute(spec->env_root)
		 || (spec->mirror_dir != NULL && !absolute(spec->mirror_dir)))
		fail(r, "a path is not absolute");
	else if (spec->prepared && (spec->session || spec->argv[0] != NULL || spec->envp[0] != NULL
				    || spec->upload_len != 0 || spec->stdin_len != 0 || spec->noutputs != 0))
		fail(r, "a prepared sandbox's shape carries no part of a job");
	else if (!spec->session && !spec->prepared && (spec->argv[0] == NULL || !absolute(spec->argv[0])))
		fail(r, "the job's program is not an absolute path");
	else if (spec->session && (spec->argv[0] != NULL || spec->upload_len != 0 || spec->stdin_len != 0
				   || spec->noutputs != 0))
		fail(r, "a session runs no program and takes no upload, stdin or outputs");
	else if (spec->tmpfs_bytes <= 0 || spec->unpacked_max_bytes < 0 || spec->files_max < 0
		 || spec->pids_max <= 0 || spec->outputs_max_bytes < 0)
		fail(r, "a size is out of range");
}

int sandbox_spec_decode(const void *buf, size_t len, struct sandbox_spec_decoded *d, char *err, size_t errlen)
{
	struct spec_reader r = { .p = buf, .left = len };

	memset(d, 0, sizeof *d);
	if (len > SANDBOX_SPEC_MAX)
		return error_format(err, errlen, "the sandbox spec is larger than %d bytes", SANDBOX_SPEC_MAX);
	sandbox_spec_read(&r, d);       /* measures, and checks the shape */
	if (r.problem == NULL) {
		size_t need = r.used;

		r = (struct spec_reader){ .p = buf, .left = len, .arena = malloc(need ? need : 1) };
		if (r.arena == NULL)
			return error_format(err, errlen, "out of memory for the sandbox spec");
		sandbox_spec_read(&r, d);
	}
	if (r.problem != NULL) {
		free(r.arena);
		memset(d, 0, sizeof *d);
		return error_format(err, errlen, "a malformed sandbox spec: %s", r.problem);
	}
	d->arena = r.arena;
	return 0;
}

void sandbox_spec_decoded_free(struct sandbox_spec_decoded *d)
{
	free(d->arena);
	memset(d, 0, sizeof *d);
}

static bool shape_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

const char *sandbox_spec_shape_differs(const struct sandbox_spec *shape, const struct sandbox_spec *job)
{
	if (job->session || shape->session)
		return "session";
	if (shape->uid != job->uid || shape->gid != job->gid || shape->agent_uid != job->agent_uid)
		return "uid";
	if (shape->tmpfs_bytes != job->tmpfs_bytes)
		return "tmpfs_bytes";
	if (shape->pids_max != job->pids_max)
		return "pids_max";
	if (shape_str_differs(shape->mount_point, job->mount_point))
		return "mount_point";
	if (shape_str_differs(shape->env_root, job->env_root))
		return "env_root";
	if (shape_str_differs(shape->mirror_dir, job->mirror_dir))
		return "mirror_dir";
	if (shape->ndevices != job->ndevices)
		return "devices";
	for (size_t i = 0; i < job->ndevices; i++)
		if (shape_str_differs(shape->devices[i], job->devices[i]))
			return "devices";
	if ((shape->netns_fd > 0) != (job->netns_fd > 0) || shape->loopback_up != job->loopback_up)
		return "network";
	if ((shape->seccomp == NULL) != (job->seccomp == NULL)
	    || (shape->seccomp != NULL && (shape->seccomp->len != job->seccomp->len
					   || memcmp(shape->seccomp->filter, job->seccomp->filter,
						     shape->seccomp->len * sizeof *shape->seccomp->filter) != 0)))
		return "seccomp";
	return NULL;
}
