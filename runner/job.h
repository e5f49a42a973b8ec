/*
 * One job's life in the runner, from claiming it in Redis to recording
 * its result. job_run() runs in a supervisor process of its own, forked
 * by the runner's main loop for one slot; a crash there fails that job,
 * never the runner.
 */
#ifndef SANDRUN_JOB_H
#define SANDRUN_JOB_H

#include "config.h"
#include "rconn.h"

struct cgroup_runner;
struct seccomp_program;

struct job_slot {
	const struct sandrun_config *cfg;
	const char *runner_name;     /* this runner's consumer name: who holds a running job */
	unsigned index;              /* slot number: uid/gid = job_uid_base + index */
	const char *mount_point;     /* the slot's empty directory for the sandbox root */
	const struct cgroup_runner *cgroup; /* the runner's parent of every job cgroup */
	const struct seccomp_program *seccomp; /* the job filter, built once at start */
	int netns_fd;                /* the slot's network namespace (loopback down), made at start */
};

/*
 * Claims the queued job `id`, runs it in a sandbox and records the result;
 * the scripts that claim and record also acknowledge its queue entry.
 * Returns 0 when a result was recorded or the job was not runnable
 * (cancelled, expired, taken), -1 when Redis failed (the caller fails the
 * job once Redis is back).
 */
int job_run(const struct job_slot *slot, const char *id, const char *entry_id);

/*
 * Marks job `id` failed with reason internal and `why`, if this runner still
 * holds it running. For a supervisor that died.
 */
void job_fail_internal(struct rconn *r, const struct job_slot *slot, const char *id, const char *why);

#endif
