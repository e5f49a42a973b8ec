/*
 * One job's life in the runner, from claiming it in Redis to recording
 * its result. job_run() runs in the supervisor process of one slot, forked
 * by the runner's main loop and kept for the slot's next jobs (with its
 * Redis connection); a crash there fails that job, never the runner, and
 * the slot gets a new supervisor. job_reclaim() decides the fate of a job whose runner
 * was lost (redis/reclaim.lua).
 */
#ifndef SANDRUN_JOB_H
#define SANDRUN_JOB_H

#include <stdbool.h>

#include "cgroup.h"
#include "config.h"
#include "rconn.h"
#include "sandbox.h"

struct cgroup_runner;
struct seccomp_program;
struct runner_environments;
struct runner_gpu;

struct job_slot {
	const struct sandrun_config *cfg;
	const char *runner_name;     /* this runner's consumer name: who holds a running job */
	unsigned index;              /* slot number: uid/gid = job_uid_base + index */
	const char *mount_point;     /* the slot's empty directory for the sandbox root */
	const struct cgroup_runner *cgroup; /* the runner's parent of every job cgroup */
	const struct seccomp_program *seccomp; /* the job filter, built once at start */
	int init_fd;                 /* the sandrun-init program, opened once at start (sandbox_spec) */
	const struct runner_environments *environments; /* the trees jobs may run from */
	const struct runner_gpu *gpu;  /* the runner's GPU, given to the jobs that ask for one */
	int netns_fd;                /* the slot's network namespace (loopback down), made at start */
	/* When (monotonic ms) the runner's main loop last reset the idle time of
	 * this slot's queue entry: the job's lease runs LEASE_MS from then, after
	 * which another runner may take the job over. Written by the main loop,
	 * read by the supervisor (a shared mapping); NULL: no lease to keep. */
	const int64_t *lease_renewed_ms;
	/* --worker-key: the runner's worker id (NULL: results go unsigned) and
	 * its end of the signer's request socket (runner/signer.h), which
	 * alone holds the key; -1 when the signer is down: signing fails. */
	int signer_fd;
	const char *worker_id;
};

/*
 * The slot's next sandbox, built ahead of its job (sandbox_prepare) by the
 * slot's supervisor once the slot is free, so that a job on an idle slot
 * does not wait for its init, namespaces and mounts. It is built for the
 * environment of the slot's last job (default first), the default memory
 * limit, no GPU: a job of another shape discards it and starts cold. Its
 * cgroup is fresh (named next-<slot>), with that job's limits: nothing
 * is reused from one job to the next.
 */
struct job_prepared {
	bool ready;                  /* sb is built (or being built) and unused */
	struct sandbox sb;
	struct cgroup_job cg;
	struct sandbox_spec shape;   /* what it was built for; strings are the slot's and config's */
	const void *env;             /* the runner_environment it was built for */
};
/* Builds it; on failure logs why and leaves it not ready (the next job starts cold). */
void job_prepare(const struct job_slot *slot, struct job_prepared *p, const void *env);
/* Ends it unused: init killed and reaped, its cgroup removed. A no-op when not ready. */
void job_prepared_discard(struct job_prepared *p);

/*
 * Claims the queued job `id` (entry entry_id of stream queue), runs it in a sandbox and records the result,
 * speaking to Redis on `redis` (the supervisor's own connection, kept from job to job);
 * entry_client is the client the queue entry named ("" or NULL: none), unchecked: the claim
 * (start.lua) checks it against the record, and reads the record's when it differs;
 * the scripts that claim and record also acknowledge its queue entry.
 * While the job runs it is stopped (its whole cgroup killed) within
 * JOB_CHECK_MS of a cancel or a takeover, and, with nothing recorded, when
 * its lease has not been renewed for LEASE_MS minus a margin: the entry is
 * then left for another runner to take over.
 * prep (or NULL): the slot's prepared sandbox, used when the job is of its
 * shape, else discarded; either way not ready afterwards, and *prep->env
 * is set to the job's environment (for the next job_prepare).
 * Returns 0 when a result was recorded, dropped or left for a takeover, or
 * the job was not runnable (cancelled, expired, taken), -1 when Redis
 * failed (the caller fails the job once Redis is back).
 */
int job_run(const struct job_slot *slot, struct rconn *redis, const char *id, const char *queue,
	    const char *entry_id, const char *entry_client, struct job_prepared *prep);

/*
 * Marks job `id` failed with reason internal and `why`, if this runner still
 * holds it running, and acknowledges `entry_id` unless another runner took
 * the job over (redis/finish.lua). For a supervisor that died.
 */
void job_fail_internal(struct rconn *r, const struct job_slot *slot, const char *id, const char *queue,
		       const char *entry_id, const char *why);

enum job_reclaim_outcome {
	JOB_RECLAIM_RUN,             /* queued (again): start it like a new job */
	JOB_RECLAIM_FAILED,          /* every attempt used: failed with reason internal */
	JOB_RECLAIM_GONE,            /* ended, cancelled or expired: entry dropped */
	JOB_RECLAIM_ERROR,           /* Redis failed (r->error): the entry stays pending, tried again later */
};

/*
 * For queue entry `entry_id` of job `id`, just taken over from a runner
 * whose lease lapsed (XAUTOCLAIM): runs redis/reclaim.lua.
 */
enum job_reclaim_outcome job_reclaim(struct rconn *r, const struct sandrun_config *cfg, const char *id,
				     const char *queue, const char *entry_id);

#endif
