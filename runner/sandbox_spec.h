/*
 * The sandbox spec as bytes (runner/sandbox.c): the supervisor encodes
 * what the job's init needs, and init, a fresh image of the sandrun-init
 * program that carries nothing of the supervisor's memory, decodes it
 * from a sealed memfd it inherits. The descriptors (pipes, memfds, the
 * slot's network namespace) travel beside it at fixed numbers, and the
 * job's cgroup is entered before the exec, so neither is in here.
 *
 * Only root writes it, for init to read, but init parses it as carefully
 * as anything read from outside: every length is checked against what is
 * left, counts and the total are bounded, strings hold no NUL, and
 * nothing that would make init run a job as root or outside a tree of
 * absolute paths decodes at all. Pure functions: no I/O, no logging.
 *
 * The format (native byte order: both ends are the same binary's build),
 * in this order:
 *
 *   magic        8 bytes "SRSPEC1\n"
 *   u32 uid, u32 gid
 *   i64 tmpfs_bytes, unpacked_max_bytes, files_max, pids_max, outputs_max_bytes
 *   u64 upload_len, stdin_len    the contents come as memfds
 *   u32 flags    SANDBOX_SPEC_NETNS, SANDBOX_SPEC_MIRROR, SANDBOX_SPEC_SECCOMP,
 *                SANDBOX_SPEC_SESSION, SANDBOX_SPEC_LOOPBACK, SANDBOX_SPEC_PREPARED
 *   str job_id, mount_point, env_root, [mirror_dir: with SANDBOX_SPEC_MIRROR]
 *   strv argv, envp, devices, outputs
 *   [blob seccomp: with SANDBOX_SPEC_SECCOMP, whole struct sock_filter instructions]
 *
 * str: u32 length, then the bytes (no NUL). strv: u32 count, then count
 * strs. blob: u32 length, then the bytes. Nothing may follow.
 */
#ifndef SANDRUN_SANDBOX_SPEC_H
#define SANDRUN_SANDBOX_SPEC_H

#include <stddef.h>

#include "sandbox.h"
#include "seccomp_filter.h"

/* The largest spec that decodes: argv and envp come from a manifest, which
 * the responder bounds far below this. */
#define SANDBOX_SPEC_MAX (16 * 1024 * 1024)

enum {
	SANDBOX_SPEC_NETNS = 1,      /* init joins the slot's network namespace (its descriptor is passed) */
	SANDBOX_SPEC_MIRROR = 2,     /* mirror_dir follows */
	SANDBOX_SPEC_SECCOMP = 4,    /* the built filter follows; without it, the job process builds it */
	SANDBOX_SPEC_SESSION = 8,    /* session mode: the job process serves the agent, argv is empty,
	                                no upload, stdin nor outputs (sandbox.h, spec.session) */
	SANDBOX_SPEC_LOOPBACK = 16,  /* init brings lo up in its fresh network namespace (not with NETNS) */
	SANDBOX_SPEC_PREPARED = 32,  /* a prepared sandbox's shape (sandbox.h, sandbox_prepare): argv,
	                                envp, outputs empty, no upload nor stdin; the job's whole spec
	                                comes later over the start channel, without this flag */
};

/* A decoded spec: spec's strings, arrays and filter all live in arena. */
struct sandbox_spec_decoded {
	struct sandbox_spec spec;    /* cgroup NULL; upload and stdin_data NULL (their memfds carry them);
	                                netns_fd 0 (the caller sets it, with SANDBOX_SPEC_NETNS) */
	unsigned flags;              /* SANDBOX_SPEC_* */
	struct seccomp_program seccomp; /* spec.seccomp points here when a filter came; never freed alone */
	void *arena;
};

/* Encodes spec into a new buffer (*out, *outlen; the caller frees it). 0, or -1 with err. */
int sandbox_spec_encode(const struct sandbox_spec *spec, char **out, size_t *outlen, char *err, size_t errlen);

/* Decodes len bytes at buf into *d (free with sandbox_spec_decoded_free). 0, or -1 with err and *d empty. */
int sandbox_spec_decode(const void *buf, size_t len, struct sandbox_spec_decoded *d, char *err, size_t errlen);

void sandbox_spec_decoded_free(struct sandbox_spec_decoded *d);

/* NULL when a job of spec `job` may run in a sandbox prepared from
 * `shape` (sandbox.h, sandbox_prepare): the same uids, tmpfs, process
 * limit, paths, devices, network and filter; else the name of the first
 * field where they differ. The job's own fields are not looked at. */
const char *sandbox_spec_shape_differs(const struct sandbox_spec *shape, const struct sandbox_spec *job);

#endif
