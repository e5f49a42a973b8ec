/*
 * The job's cgroup (docs/api.md §4; SECURITY.md, "The sandbox"): the memory, CPU and process limits, a
 * kill that reaches every process of the job, and the figures read back
 * after it (CPU of every process and thread, memory peak, OOM kills).
 *
 * Two halves, kept apart as minijail keeps util.c from system.c:
 *   - pure helpers that take text and return a verdict (which cgroup
 *     version this host offers, where the runner's own cgroup is, what a
 *     statistics file says): tested on fixtures, no side effects;
 *   - the code that changes the system (mkdir, control files, kill,
 *     rmdir). It returns a status and a sentence, never logs, never exits:
 *     the runner decides what to say.
 *
 * Which version. cgroup v2 (the unified hierarchy) when the memory, cpu
 * and pids controllers are available to the runner's cgroup; else v1, when
 * every controller we need (memory, cpu, cpuacct, pids, freezer) has a v1
 * hierarchy of its own ("hybrid" when an empty cgroup2 is mounted beside
 * them); else none, and the runner takes no jobs. Detection never assumes:
 * it reads /proc/self/mountinfo, /proc/self/cgroup and cgroup.controllers.
 *
 * Layout, below the cgroup the runner was started in (<own>):
 *   v2  <own>/supervisor/          the runner moves itself here first: a
 *                                  cgroup that hands controllers down may
 *                                  hold no process (no internal processes)
 *       <own>/<runner>/            subtree_control: +memory +cpu +pids
 *       <own>/<runner>/<job>/      memory.max, memory.swap.max = 0,
 *                                  memory.oom.group = 1, cpu.max, pids.max
 *   v1  <own of each hierarchy>/<runner>/<job>/, the runner stays put:
 *       memory.limit_in_bytes (+ memsw), cpu.cfs_*, pids.max, freezer
 *
 * Placement without a window (sandbox.c): on v2 the job's init is born in
 * its cgroup by clone3(CLONE_INTO_CGROUP, cgroup_job.fd). v1 has no such
 * flag: init moves itself there first thing, before any step of its own,
 * with cgroup_job_enter().
 *
 * Fail closed: a limit that was asked for and cannot be set fails
 * cgroup_job_create(), so the job fails and never runs without it.
 */
#ifndef SANDRUN_CGROUP_H
#define SANDRUN_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_version {
	CGROUP_NONE,                 /* no usable cgroups: take no jobs */
	CGROUP_V1,
	CGROUP_V2,
};

/* The controllers the runner needs, as bit numbers of the masks below. */
enum cgroup_controller {
	CGROUP_MEMORY,
	CGROUP_CPU,
	CGROUP_CPUACCT,              /* v1 only: v2 counts CPU in every cgroup's cpu.stat */
	CGROUP_PIDS,
	CGROUP_FREEZER,              /* v1 only: v2 has cgroup.kill and cgroup.freeze built in */
	CGROUP_NCONTROLLERS,
};

#define CGROUP_BIT(c) (1u << (c))

/* Room for a cgroup directory: "/sys/fs/cgroup/" + a systemd slice path +
 * runner + job names is well under 200 characters; longer paths fail. */
#define CGROUP_PATH_MAX 512

/* A name the runner chooses for its parent cgroup or a job's: job ids
 * ("job-" + 26 characters) and "sandrun-runner-<pid>" fit. */
#define CGROUP_NAME_MAX 64

struct cgroup_mount {
	char path[CGROUP_PATH_MAX];  /* mount point, "" when not mounted */
	char root[CGROUP_PATH_MAX];  /* the hierarchy's directory shown there: "/" unless bound */
};

/* What the host offers (cgroup_detect). Plain data: copy it freely. */
struct cgroup_host {
	enum cgroup_version version; /* the one the runner uses */
	bool hybrid;                 /* v1 in use while a cgroup2 is mounted too */
	struct cgroup_mount v2;
	struct cgroup_mount v1[CGROUP_NCONTROLLERS];
	unsigned v2_available;       /* CGROUP_BITs listed in the runner's v2 cgroup.controllers */
	char why[1024];              /* CGROUP_NONE: the sentence saying why (paths included) */
};

/* The runner's parent of every job cgroup (cgroup_runner_init). */
struct cgroup_runner {
	enum cgroup_version version;
	unsigned controllers;        /* CGROUP_BITs a job cgroup can use (on v2, CPUACCT and
	                                FREEZER stand for cpu.stat and cgroup.kill: always) */
	char name[CGROUP_NAME_MAX];
	char v2[CGROUP_PATH_MAX];    /* v2: <own>/<runner> */
	char v1[CGROUP_NCONTROLLERS][CGROUP_PATH_MAX];  /* v1: per controller (co-mounted ones share) */
};

/* What a job may use; 0 in a field means "not asked for" (tests only: the
 * runner always asks for all three). */
struct cgroup_limits {
	int64_t memory_bytes;        /* RAM, tmpfs pages included; swap is 0 or off */
	int64_t cpu_quota_us;        /* CPU time the job may use per period, all cores together */
	int64_t cpu_period_us;
	int64_t pids_max;            /* tasks: processes and threads */
};

/* One job's cgroup (cgroup_job_create). Who frees: cgroup_job_destroy(). */
struct cgroup_job {
	enum cgroup_version version; /* CGROUP_NONE once destroyed */
	int fd;                      /* v2: O_DIRECTORY fd for CLONE_INTO_CGROUP; -1 on v1 */
	char v2[CGROUP_PATH_MAX];    /* v2: the job's directory */
	char v1[CGROUP_NCONTROLLERS][CGROUP_PATH_MAX];  /* v1: per controller, "" when unused */
};

struct cgroup_stats {
	double cpu_seconds;          /* user + system of every task ever in it; -1 if unknown */
	int64_t memory_peak_bytes;   /* -1 if unknown (v2 before Linux 5.19, no memory controller) */
	bool oom_killed;             /* the kernel's OOM killer killed a process of the job */
	const char *oom_source;      /* the counter oom_killed was read from (static text) */
	bool pids_limit_hit;         /* a fork or clone failed at pids.max */
};

/* ---- pure helpers ------------------------------------------------- */

const char *cgroup_controller_name(enum cgroup_controller c);

/* Fills host->v2 and host->v1[] from /proc/self/mountinfo text (the first
 * mount of each wins); leaves the rest of *host alone. */
void cgroup_parse_mountinfo(const char *mountinfo, struct cgroup_host *host);

/* The CGROUP_BITs named in cgroup.controllers or cgroup.subtree_control text. */
unsigned cgroup_parse_controllers(const char *text);

/* Decides host->version, ->hybrid and ->why from the mounts and
 * ->v2_available. Returns the version. */
enum cgroup_version cgroup_choose(struct cgroup_host *host);

/* Parse mountinfo and choose in one go (fixtures). */
enum cgroup_version cgroup_detect_text(const char *mountinfo, const char *v2_controllers,
				       struct cgroup_host *host);

/* The process's cgroup in one hierarchy, from /proc/self/cgroup text: the
 * "0::" line for v2, the line listing `controller` for v1. 0, or -1 with err. */
int cgroup_own_path(const char *proc_cgroup, enum cgroup_version version,
		    enum cgroup_controller controller, char *out, size_t outlen, char *err, size_t errlen);

/* The directory of hierarchy path `path` under mount m (its root taken off).
 * 0, or -1 with err when the path is not visible through that mount. */
int cgroup_mount_dir(const struct cgroup_mount *m, const char *path, char *out, size_t outlen,
		     char *err, size_t errlen);

/* The number after "key " on a line of a flat-keyed file (cpu.stat,
 * memory.events, memory.oom_control, pids.events), or -1 when absent. */
int64_t cgroup_stat_value(const char *text, const char *key);

/* true when /proc/swaps text lists a swap area. */
bool cgroup_swap_listed(const char *proc_swaps);

/* A plain directory name: letters, digits, '-', '_', '.', not "." or "..". */
bool cgroup_name_valid(const char *name);

/* "cgroup v2 at /sys/fs/cgroup: memory cpu pids", "cgroup v1 (hybrid):
 * memory cpu cpuacct pids freezer", or "no usable cgroups: <why>". */
void cgroup_describe(const struct cgroup_host *host, char *out, size_t outlen);

/* ---- what touches the system -------------------------------------- */

/* Reads this process's mounts and cgroups. 0 when v1 or v2 is usable,
 * else -1 with host->why copied into err. */
int cgroup_detect(struct cgroup_host *host, char *err, size_t errlen);

/*
 * Makes the runner's parent cgroup `name` (e.g. "sandrun-runner-<pid>")
 * below the caller's own cgroup, for host->version. On v2 the caller moves
 * itself into <own>/supervisor when controllers must be enabled, so call it
 * while single-threaded and before forking. 0, or -1 with err.
 */
int cgroup_runner_init(struct cgroup_runner *r, const struct cgroup_host *host, const char *name,
		       char *err, size_t errlen);

/* Kills and removes every job cgroup left below the parent, then the
 * parent itself (v2's supervisor/ stays: the caller is in it). */
int cgroup_runner_cleanup(struct cgroup_runner *r, char *err, size_t errlen);

/*
 * Makes the cgroup `name` for one job and sets every limit asked for in
 * *limits before anything runs in it. A leftover of the same name (a
 * supervisor that died) is killed and replaced. Fails, and leaves nothing
 * behind, when a limit cannot be set: "memory controller unavailable:
 * refusing to run without a memory limit".
 */
int cgroup_job_create(const struct cgroup_runner *r, const char *name, const struct cgroup_limits *limits,
		      struct cgroup_job *job, char *err, size_t errlen);

/* Moves process `pid` into the job's cgroup (every v1 hierarchy). For a
 * process that has not started yet: v1, or v2 without CLONE_INTO_CGROUP. */
int cgroup_job_place(const struct cgroup_job *job, pid_t pid, char *err, size_t errlen);

/*
 * Moves the calling process, which must be single-threaded, into the job's
 * cgroup: on v1 by writing "0" (the calling thread) to each hierarchy's
 * tasks file, on v2 to cgroup.procs. On v1 a thread moving itself takes no
 * global lock, where writing a pid to cgroup.procs write-locks
 * cgroup_threadgroup_rwsem, whose RCU grace period stalled a placement for
 * 5-25 ms now and then. 0, or -1 with err.
 */
int cgroup_job_enter(const struct cgroup_job *job, char *err, size_t errlen);

/*
 * Kills every process in the job's cgroup, including any that escaped its
 * parent (double forks), and waits until none is left (zombies aside: they
 * are no longer in a cgroup). v2: cgroup.kill; v1 (and v2 before 5.14):
 * freeze, SIGKILL each process listed, thaw. 0, or -1 with err.
 */
int cgroup_job_kill(const struct cgroup_job *job, char *err, size_t errlen);

/*
 * Freezes (frozen true) or thaws the job's cgroup: v2 cgroup.freeze, v1
 * the freezer hierarchy's freezer.state. Freezing waits until the kernel
 * says the cgroup is frozen (a paused session uses no CPU from then on).
 * 0, or -1 with err (not frozen in time: thawed again).
 */
int cgroup_job_freeze(const struct cgroup_job *job, bool frozen, char *err, size_t errlen);

/* Changes the job's memory limit (a session's memory_mb, set when it is
 * claimed): v2 memory.max; v1 memory.limit_in_bytes and memsw, in the
 * order the kernel accepts. 0, or -1 with err. */
int cgroup_job_set_memory(const struct cgroup_job *job, int64_t bytes, char *err, size_t errlen);

/* The job's memory in use now (v2 memory.current, v1 memory.usage_in_bytes), or -1. */
int64_t cgroup_job_memory_current(const struct cgroup_job *job);

/* Up to max pids of the job's processes (thread group ids). The count, or -1 with err. */
int cgroup_job_pids(const struct cgroup_job *job, pid_t *pids, int max, char *err, size_t errlen);

/* The job's figures, read after it ended. 0, or -1 with err when CPU time cannot be read. */
int cgroup_job_stats(const struct cgroup_job *job, struct cgroup_stats *st, char *err, size_t errlen);

/* Kills what is left and removes the job's cgroup (each v1 hierarchy's
 * directory). Safe to call twice. 0, or -1 with err (the directory stays). */
int cgroup_job_destroy(struct cgroup_job *job, char *err, size_t errlen);

#endif
