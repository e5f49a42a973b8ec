/*
 * One session's supervisor (docs/sessions.md, "The supervisor"): a process
 * of its own per session sandbox, forked by the runner's main loop
 * (runner/main.c), dying with it (PR_SET_PDEATHSIG), with its own Redis
 * connection. It builds the sandbox in session mode first (warm), waits on
 * sr:sespool:ENV for a create entry, claims the session, serves its
 * requests from sr:{SID}:req, charges its CPU each second, and ends it
 * (idle timeout, TTL, DELETE, a record ended elsewhere), leaving nothing:
 * the sandbox's cgroup is killed and removed before the record says ended.
 */
#ifndef SANDRUN_SESSION_H
#define SANDRUN_SESSION_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct cgroup_runner;
struct seccomp_program;

/* What a session supervisor tells the main loop, in its shared state word. */
enum session_sup_state {
	SESSION_SUP_STARTING = 0,    /* building the sandbox */
	SESSION_SUP_WARM,            /* waiting for a create entry: counts in the pool */
	SESSION_SUP_BUSY,            /* claimed: serving a session (the pool needs a refill) */
};

/* The session a supervisor serves, shared with the main loop (written once
 * claimed, before the state word says BUSY; cleared once its end is
 * recorded): a supervisor that dies without recording the end (a crash, a
 * kill) has it ended by the main loop when reaped (reason internal), so
 * its record does not stay "ready" and hold its client's slot until TTL. */
struct session_claim {
	char session_id[64];
	char client[64];
};

struct session_slot {
	const struct sandrun_config *cfg;
	const char *runner_name;     /* the record's runner */
	unsigned index;              /* uid/gid = session_uid_base + index, unique among live sandboxes */
	const char *mount_point;     /* an empty directory of its own for the sandbox root */
	const struct cgroup_runner *cgroup;
	const struct seccomp_program *seccomp;
	int init_fd;                 /* the sandrun-init program */
	const char *environment;     /* the environment served: its pool list is sr:sespool:<environment> */
	const char *env_root;
	int64_t warm_max_ms;         /* > 0: give up after this long warm and unclaimed (on-demand ones) */
	int32_t *state;              /* shared with the main loop (enum session_sup_state) */
	struct session_claim *claim; /* shared with the main loop (above) */
	pid_t main_pid;              /* told (SIGUSR1) when the state changes */
};

/* The supervisor's whole life; returns its exit status. Asked to stop
 * (SIGTERM): a warm sandbox goes, a live session ends (reason runner_lost). */
int session_run(const struct session_slot *slot);

#endif
