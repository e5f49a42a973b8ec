/*
 * One sandbox per job (SECURITY.md, "The sandbox"). sandbox_start() forks the job's init
 * process into new PID, mount, network, IPC, UTS and cgroup namespaces,
 * where it execs a fresh image (the sandrun-init program: nothing of the
 * caller's memory goes along), builds its root on a size-limited tmpfs
 * with the environment's tree read-only, unpacks the upload inside as the
 * job's user, drops every privilege and execs the job. The runner's job
 * supervisor then reads the pipes, enforces the deadline and reaps it with
 * sandbox_wait().
 *
 * Nothing of the sandbox lives outside its mount namespace: when its last
 * process exits the kernel frees the tmpfs, so there is nothing to clean.
 * The one exception is the job's cgroup (runner/cgroup.h): the caller makes
 * it, with its limits, before sandbox_start() and removes it after
 * sandbox_wait(); init is born inside it and the kill goes through it.
 */
#ifndef SANDRUN_SANDBOX_H
#define SANDRUN_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox_outputs.h"      /* the outputs stream (step k) */

struct cgroup_job;

struct seccomp_program;

struct sandbox_spec {
	const char *job_id;          /* for log lines only */
	uid_t uid;                   /* the job's uid and gid: unique per runner slot */
	gid_t gid;
	const char *mount_point;     /* an existing empty host directory; the tmpfs root is mounted
	                                on it inside the job's private mount namespace only */
	const char *env_root;        /* the environment tree: "/" for the default (host /usr) */
	int64_t tmpfs_bytes;         /* size of the job's tmpfs (root, /tmp, working dir) */

	const void *upload;          /* the archive as submitted (any format libarchive reads); copied
	                                into a sealed memfd, which the job process maps and unpacks */
	size_t upload_len;
	int64_t unpacked_max_bytes;  /* bounds enforced while unpacking */
	int64_t files_max;

	const char *const *argv;     /* argv[0]: absolute path inside the sandbox */
	const char *const *envp;     /* the job's whole environment (nothing of the runner's) */
	const char *stdin_data;      /* fed as standard input; may be NULL */
	size_t stdin_len;

	const struct cgroup_job *cgroup; /* the job's cgroup, limits set (cgroup_job_create): required,
	                                    a job never runs outside one; the caller destroys it */
	int64_t pids_max;            /* the cgroup's pids.max, for the RLIMIT_NPROC backstop */
	int netns_fd;                /* > 0: a network namespace made for this slot (loopback down,
	                                nothing else), joined instead of making one per job (that
	                                costs ~0.3 ms and a kernel cleanup); 0: a fresh one */
	const char *mirror_dir;      /* host directory bound read-only at /mirror (requirements), or NULL */
	const char *const *devices;  /* extra host device nodes bound at /dev/<name> (the runner's GPU,
	                                for a job that asked for one), ndevices of them */
	size_t ndevices;
	const struct seccomp_program *seccomp; /* the filter, built once by the runner
	                                (seccomp_program_build) and handed to init with the spec;
	                                NULL: the job process builds it (slower) */
	int init_fd;                 /* the sandrun-init program, init's fresh image: opened once by
	                                the caller (sandbox_init_program_open or _find) */

	const char *const *outputs;  /* the manifest's output globs (validated), noutputs of them */
	size_t noutputs;             /* 0: nothing is collected and outputs_fd is -1 */
	int64_t outputs_max_bytes;   /* bytes of outputs collected at most (then SANDBOX_OUT_TOO_LARGE) */

	/* Session mode (docs/sessions.md): the job process, once it is the job's
	 * user under the job's seccomp filter, serves the session agent's
	 * protocol in-process (session_agent_serve, runner/session_agent.h)
	 * instead of exec'ing argv (which is empty); its stdin stays a pipe whose
	 * write end the caller gets (sandbox.stdin_fd), its stdout carries the
	 * agent's frames. No upload, stdin_data nor outputs. /workspace is /work.
	 * It also gets a devpts instance of its own (/dev/pts, /dev/ptmx) and
	 * the terminal channel (sandbox.pty_fd; runner/session_pty.h). */
	bool session;
	/* A session's agent keeps this uid as its real and saved uid, with uid as its
	 * effective one; every process it starts is uid alone. The session's
	 * processes may then signal and ptrace only each other, never the agent
	 * (kill(2): a sender's uid must match the target's real or saved uid), so
	 * "kill -9 -1" in a command ends that command's processes, not the
	 * session. Never uid, never 0; 0 for a job. */
	uid_t agent_uid;
	bool loopback_up;            /* a fresh network namespace (netns_fd 0) whose lo init brings UP
	                                before it drops CAP_NET_ADMIN: 127.0.0.1 works, nothing else */
	bool prepared;               /* internal (sandbox_prepare sets it on its copy): a sandbox built
	                                ahead of its job, whose part comes later (sandbox_go) */
};

struct sandbox {
	pid_t pid;                   /* the job's init process, in the host PID namespace */
	int stdin_fd;                /* session mode: write end of the agent's stdin (O_CLOEXEC, blocking); else -1 */
	int stdout_fd;               /* read ends, O_NONBLOCK | O_CLOEXEC; the caller closes them */
	int stderr_fd;
	int report_fd;               /* internal: init's report pipe, read by sandbox_wait() */
	int outputs_fd;              /* read end of the outputs stream (sandbox_outputs.h), O_NONBLOCK | O_CLOEXEC,
	                                or -1 with no outputs; the caller reads and closes it */
	int pty_fd;                  /* session mode: root's end of the terminal channel, a SOCK_SEQPACKET
	                                socket (runner/pty_proto.h), blocking, O_CLOEXEC; else -1 */
	const struct cgroup_job *cgroup; /* internal: spec->cgroup, for the kill and the figures */
	int go_fd;                   /* internal: a prepared sandbox's start channel, until
	                                sandbox_go sends it its job; else -1 */
	bool go_ready;               /* internal: its init's ready sign was read */
};

enum sandbox_outcome {
	SANDBOX_EXITED,              /* the job ran; exit_code or term_signal is set */
	SANDBOX_UNPACK_FAILED,       /* the upload could not be unpacked (the user's fault): message says why */
	SANDBOX_INTERNAL_ERROR,      /* a sandbox step failed: the job never ran */
};

struct sandbox_result {
	enum sandbox_outcome outcome;
	int exit_code;               /* when exited normally, else -1 */
	int term_signal;             /* when killed by a signal, else 0 */
	double cpu_seconds;          /* user+system of every process and thread (the cgroup's count;
	                                what init reaped if the cgroup cannot be read) */
	int64_t memory_peak_bytes;   /* the cgroup's peak, tmpfs included (largest RSS where the
	                                kernel has no peak: v2 before 5.19) */
	bool oom_killed;             /* the cgroup's OOM killer killed a process of the job */
	bool pids_limit_hit;         /* a fork failed at the cgroup's pids.max */
	char message[256];           /* for UNPACK_FAILED / INTERNAL_ERROR */
};

/*
 * Makes a network namespace with only a loopback, down, for one runner slot
 * (sandbox_spec.netns_fd); the caller stays in its own. Returns the fd, or
 * -1 with a sentence in err. Call it while single-threaded.
 */
int sandbox_netns_create(char *err, size_t errlen);

/*
 * The sandrun-init program (runner/init_main.c), which every sandbox's
 * init execs (so that nothing of the caller's memory reaches the job):
 * an O_PATH descriptor for sandbox_spec.init_fd, close-on-exec, or -1
 * with err (missing, not an executable file, writable by others than its
 * owner). Open it once, at start: a runner then keeps using the program
 * it started with even if an upgrade replaces the file.
 */
int sandbox_init_program_open(const char *path, char *err, size_t errlen);

/* The same, for the program beside the calling binary (a build tree)
 * when there is one, else at installed; the path taken goes into path. */
int sandbox_init_program_find(const char *installed, char *path, size_t pathlen, char *err, size_t errlen);

/* Returns 0 and fills *sb, or -1 with a sentence in err (the job fails with reason internal). */
int sandbox_start(const struct sandbox_spec *spec, struct sandbox *sb, char *err, size_t errlen);

/*
 * A sandbox built ahead of its job (runner/job.c keeps one per slot, so
 * that a job on an idle slot does not wait for it): sandbox_prepare()
 * does all that sandbox_start() does up to dropping init's privileges --
 * init's exec, its namespaces, mounts, /etc and /dev -- from a spec of the
 * slot's shape: the job's fields
 * (argv, envp, upload, stdin, outputs) are left out and ignored. Init
 * then waits. sandbox_go() hands it the job: the whole spec, whose shape
 * (sandbox_spec_shape_differs) must be the one prepared, its upload and
 * stdin, over a socket with the descriptors, and init goes on as a
 * started sandbox does; from then on *sb is a started sandbox's. The
 * cgroup was made before sandbox_prepare, with the job's limits: the
 * caller prepares only for a job whose limits it knows (the slot's
 * defaults) and starts any other cold. Not for sessions. A prepared
 * sandbox that gets no job is ended with sandbox_discard().
 */
int sandbox_prepare(const struct sandbox_spec *shape, struct sandbox *sb, char *err, size_t errlen);
/* 0, or -1 with err: the sandbox is then of no use (its init died, or
 * the spec is not of its shape), and the caller discards it. */
int sandbox_go(struct sandbox *sb, const struct sandbox_spec *spec, char *err, size_t errlen);
/* Waits up to timeout_ms for a prepared sandbox's init to be built and
 * waiting (once: the sign is consumed): 1, 0 (not yet), -1 (it is gone). */
int sandbox_prepared_ready(struct sandbox *sb, int timeout_ms);
/* Ends a prepared sandbox that got no job: its init killed and reaped,
 * its descriptors closed. The caller then removes its cgroup. */
void sandbox_discard(struct sandbox *sb);
/* Kills every process of the sandbox, through its cgroup (the deadline, a
 * cancel): orphans that escaped init die too. Safe to call twice. */
void sandbox_kill(struct sandbox *sb);

/* Reaps the init process (blocking) and fills *res. Closes report_fd.
 * The same as sandbox_wait_result() then sandbox_reap(). */
int sandbox_wait(struct sandbox *sb, struct sandbox_result *res);

/* Fills *res as soon as the result is known: init's report, sent once every
 * process of the sandbox has been reaped and the outputs collected, or init's
 * death without one (then init is reaped here). The figures are the
 * cgroup's, final by then. Init may still be exiting (its namespaces torn
 * down, ~1 ms): sandbox_reap() waits for that, and must come before the
 * cgroup is removed. Closes report_fd. */
int sandbox_wait_result(struct sandbox *sb, struct sandbox_result *res);

/* Reaps init (blocking until its exit is complete); a no-op once done. */
void sandbox_reap(struct sandbox *sb);

/* main() of the sandrun-init program: init, exec'd by sandbox_start's clone. */
_Noreturn void sandbox_init_exec_main(int argc, char **argv);

#endif
