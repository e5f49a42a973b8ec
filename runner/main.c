/*
 * sandrun-runner: the root service on each worker host.
 *
 * It never listens on a port. It reads job ids from the queue stream in
 * Redis as a member of the consumer group "runners" (an entry stays
 * pending until acknowledged, so a job taken by a runner that dies is not
 * lost), runs at most runner_slots jobs at once, each in a supervisor
 * process of its own (runner/job.c), and acknowledges the entry when the
 * supervisor is done. A supervisor that crashes fails its job with reason
 * internal; the runner keeps serving.
 *
 * At start it finds which cgroups the host offers (v2, or v1/hybrid) and
 * makes its parent of the jobs' cgroups; with none usable it takes no job
 * at all and exits, leaving the queue to runners that can limit them.
 */
#include "cgroup.h"
#include "config.h"
#include "job.h"
#include "jobid.h"
#include "keys.h"
#include "log.h"
#include "rconn.h"
#include "util.h"
#include "sandbox.h"
#include "seccomp_filter.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_BLOCK_MS   1000  /* how long one XREADGROUP waits for a job */
#define REDIS_BACKOFF_MS 1000  /* Redis down: try again after this */
#define SLOTS_MAX        1024

struct slot {
	pid_t supervisor;            /* 0 when free */
	char job_id[64];
	char entry_id[64];           /* the queue entry to acknowledge */
	char mount_point[512];
};

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sandrun-runner [-c CONFIG] [-t] [-v]\n"
		   "  -c CONFIG  configuration file (default " SANDRUN_DEFAULT_CONFIG ")\n"
		   "  -t         check the configuration and exit\n"
		   "  -v         log debug lines\n");
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The consumer group must exist before XREADGROUP; "0" so jobs queued before any runner are seen. */
static int queue_group_create(struct rconn *r)
{
	redisReply *reply = rconn_command(r, "XGROUP CREATE %s %s 0 MKSTREAM", KEY_QUEUE, QUEUE_GROUP);
	int rc = -1;

	if (!reply)
		return -1;
	if (reply->type != REDIS_REPLY_ERROR || strncmp(reply->str, "BUSYGROUP", 9) == 0)
		rc = 0;
	else
		snprintf(r->error, sizeof r->error, "XGROUP CREATE: %s", reply->str);
	freeReplyObject(reply);
	return rc;
}

static void queue_ack(struct rconn *r, const char *entry_id)
{
	redisReply *reply = rconn_command(r, "XACK %s %s %s", KEY_QUEUE, QUEUE_GROUP, entry_id);

	if (reply)
		freeReplyObject(reply);
	reply = rconn_command(r, "XDEL %s %s", KEY_QUEUE, entry_id);
	if (reply)
		freeReplyObject(reply);
}

/*
 * Waits up to QUEUE_BLOCK_MS for one new queue entry. Returns 1 with the
 * entry and job ids, 0 when none came, -1 when Redis failed.
 */
static int queue_next(struct rconn *r, const char *consumer, char *entry_id, size_t elen,
		      char *job_id, size_t jlen)
{
	char block[16];
	const char *argv[] = { "XREADGROUP", "GROUP", QUEUE_GROUP, consumer, "COUNT", "1",
			       "BLOCK", block, "STREAMS", KEY_QUEUE, ">" };
	redisReply *reply, *entries, *entry, *fields;
	int rc = 0;

	snprintf(block, sizeof block, "%d", QUEUE_BLOCK_MS);
	reply = rconn_argv(r, QUEUE_BLOCK_MS, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
	if (!reply)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(r->error, sizeof r->error, "XREADGROUP: %s", reply->str);
		/* The stream or group vanished (Redis restarted empty): make them again. */
		if (strncmp(reply->str, "NOGROUP", 7) == 0)
			queue_group_create(r);
		rc = -1;
		goto done;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
		goto done;
	entries = reply->element[0]->element[1];
	if (entries->elements < 1)
		goto done;
	entry = entries->element[0];
	snprintf(entry_id, elen, "%s", entry->element[0]->str);
	*job_id = '\0';
	fields = entry->element[1];
	for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2)
		if (strcmp(fields->element[i]->str, "id") == 0)
			snprintf(job_id, jlen, "%s", fields->element[i + 1]->str);
	rc = 1;
done:
	freeReplyObject(reply);
	return rc;
}

static pid_t supervisor_start(struct rconn *r, const struct job_slot *js, const char *job_id,
			      const char *entry_id)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigset_t none;

		/* The child must not speak on the parent's Redis connection. */
		if (r->ctx) {
			redisFree(r->ctx);
			r->ctx = NULL;
		}
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGCHLD, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* A supervisor never outlives its runner: the job fails and is taken up again. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "sandrun-job");
		_exit(job_run(js, job_id, entry_id) == 0 ? 0 : 3);
	}
	return pid;
}

int main(int argc, char **argv)
{
	const char *config_path = SANDRUN_DEFAULT_CONFIG;
	struct sandrun_config cfg;
	struct cgroup_host cg_host;
	struct cgroup_runner cg_runner;
	struct seccomp_program filter = { 0 };
	struct slot *slots;
	struct job_slot *jslots;
	struct rconn redis;
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t chld;
	char err[1024], name[256], host[200], cg_name[CGROUP_NAME_MAX], cg_text[1200];
	int opt, check_only = 0, nslots;
	enum log_level level = LOG_LEVEL_INFO;

	while ((opt = getopt(argc, argv, "c:tvh")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 't': check_only = 1; break;
		case 'v': level = LOG_LEVEL_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("sandrun-runner", level);
	if (config_load(config_path, &cfg, err, sizeof err) < 0) {
		log_error(NULL, "%s: %s", config_path, err);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration ok\n", config_path);
		config_free(&cfg);
		return 0;
	}
	if (geteuid() != 0) {
		log_error(NULL, "the runner needs root to build sandboxes (namespaces, mounts, uids)");
		return 1;
	}
	nslots = cfg.runner_slots > 0 ? cfg.runner_slots : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nslots < 1)
		nslots = 1;
	if (nslots > SLOTS_MAX)
		nslots = SLOTS_MAX;
	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	if (*cfg.runner_name)
		snprintf(name, sizeof name, "%s", cfg.runner_name);
	else
		snprintf(name, sizeof name, "%s:%d", host, (int)getpid());

	if (mkdir(cfg.runner_state_dir, 0700) < 0 && errno != EEXIST) {
		log_error(NULL, "mkdir %s: %s", cfg.runner_state_dir, strerror(errno));
		return 1;
	}
	slots = calloc((size_t)nslots, sizeof *slots);
	jslots = calloc((size_t)nslots, sizeof *jslots);
	if (!slots || !jslots)
		return 1;
	for (int i = 0; i < nslots; i++) {
		snprintf(slots[i].mount_point, sizeof slots[i].mount_point, "%s/slot-%d", cfg.runner_state_dir, i);
		if (mkdir(slots[i].mount_point, 0755) < 0 && errno != EEXIST) {
			log_error(NULL, "mkdir %s: %s", slots[i].mount_point, strerror(errno));
			return 1;
		}
		jslots[i] = (struct job_slot){ .cfg = &cfg, .runner_name = name, .index = (unsigned)i,
					       .mount_point = slots[i].mount_point, .cgroup = &cg_runner,
					       .seccomp = &filter, .netns_fd = sandbox_netns_create(err, sizeof err) };
		if (jslots[i].netns_fd < 0) {
			log_error(NULL, "slot %d: %s", i, err);
			return 1;
		}
	}

	/* The seccomp filter is the same for every job: built once, applied per job. */
	if (seccomp_program_build(&filter, err, sizeof err) < 0) {
		log_error(NULL, "seccomp: %s: refusing to take jobs", err);
		return 1;
	}

	/* Fail closed: a job never runs without its cgroup limits. Made while
	 * single-threaded and before any fork (on v2 the runner may move
	 * itself into a leaf cgroup of its own). */
	if (cgroup_detect(&cg_host, err, sizeof err) < 0) {
		log_error(NULL, "cgroups: %s: refusing to take jobs", err);
		return 1;
	}
	cgroup_describe(&cg_host, cg_text, sizeof cg_text);
	log_info(NULL, "%s", cg_text);
	snprintf(cg_name, sizeof cg_name, "sandrun-runner-%d", (int)getpid());
	if (cgroup_runner_init(&cg_runner, &cg_host, cg_name, err, sizeof err) < 0) {
		log_error(NULL, "cgroups: %s: refusing to take jobs", err);
		return 1;
	}
	if (cg_runner.version == CGROUP_V2)
		log_info(NULL, "job cgroups go below %s", cg_runner.v2);
	else
		log_info(NULL, "job cgroups go below %s (and %s in each v1 hierarchy)",
			 cg_runner.v1[CGROUP_MEMORY], cg_name);

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* SIGCHLD stays blocked in the loop, so one that comes between the reaping
	 * and the wait is kept pending, not lost (supervisors unblock it). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	rconn_init(&redis, cfg.redis_address, cfg.redis_runner_user, cfg.redis_runner_password,
		   cfg.redis_timeout_ms);
	log_info(NULL, "runner %s: %d slots, Redis at %s", name, nslots, cfg.redis_address);

	while (queue_group_create(&redis) < 0 && !stop_requested) {
		log_warn(NULL, "waiting for Redis: %s", redis.error);
		sleep_ms(REDIS_BACKOFF_MS);
	}

	for (;;) {
		int busy = 0, free_slot = -1, status;
		pid_t pid;

		/* Reap finished supervisors; acknowledge their queue entries. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int i = 0; i < nslots; i++) {
				if (slots[i].supervisor != pid)
					continue;
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
					log_error(slots[i].job_id, "supervisor ended abnormally (%s %d): failing the job",
						  WIFSIGNALED(status) ? "signal" : "status",
						  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
					job_fail_internal(&redis, &jslots[i], slots[i].job_id,
							  "the runner lost this job's supervisor");
					queue_ack(&redis, slots[i].entry_id);
				}
				/* else the supervisor's scripts acknowledged the entry */
				slots[i].supervisor = 0;
			}
		}
		for (int i = 0; i < nslots; i++) {
			if (slots[i].supervisor)
				busy++;
			else if (free_slot < 0)
				free_slot = i;
		}
		if (stop_requested) {
			if (!busy)
				break;
			sleep_ms(50);
			continue;
		}
		if (free_slot < 0) {
			/* Every slot busy: sleep until a supervisor ends. */
			struct timespec ts = { 1, 0 };
			sigtimedwait(&chld, NULL, &ts);
			continue;
		}
		{
			struct slot *s = &slots[free_slot];
			int got = queue_next(&redis, name, s->entry_id, sizeof s->entry_id, s->job_id,
					     sizeof s->job_id);

			if (got < 0) {
				log_warn(NULL, "queue: %s", redis.error);
				sleep_ms(REDIS_BACKOFF_MS);
				continue;
			}
			if (got == 0)
				continue;
			if (!jobid_valid(s->job_id, strlen(s->job_id))) {
				log_warn(NULL, "queue entry %s has no valid job id: dropped", s->entry_id);
				queue_ack(&redis, s->entry_id);
				continue;
			}
			s->supervisor = supervisor_start(&redis, &jslots[free_slot], s->job_id, s->entry_id);
			if (s->supervisor < 0) {
				log_error(s->job_id, "fork: %s", strerror(errno));
				s->supervisor = 0;
				sleep_ms(REDIS_BACKOFF_MS);
				/* Left pending in the group: a later recovery pass takes it up. */
			}
		}
	}
	if (cgroup_runner_cleanup(&cg_runner, err, sizeof err) < 0)
		log_warn(NULL, "cgroups: %s", err);
	log_info(NULL, "stopped");
	rconn_close(&redis);
	free(slots);
	free(jslots);
	seccomp_program_free(&filter);
	config_free(&cfg);
	return 0;
}
