/*
 * sandrun-runner: the root service on each worker host.
 *
 * It never listens on a port. It reads job ids from the queue stream in
 * Redis as a member of the consumer group "runners", runs at most
 * runner_slots jobs at once, each in its slot's supervisor process
 * (runner/job.c), and leaves the rest to the scripts the supervisor calls
 * (redis/start.lua claims a job, redis/finish.lua records it and
 * acknowledges its entry). A slot's supervisor is forked for its first job
 * and kept: it gets each next job over a pipe (struct job_order) and keeps
 * its Redis connection, so a job costs no fork of the runner, no connect
 * and no AUTH. A supervisor that crashes fails the job it held with reason
 * internal and is replaced at the slot's next job; the runner keeps serving.
 *
 * Runners die (kill -9, a host gone), so nothing of a job depends on its
 * runner staying alive (common/store.h has the keys):
 *
 *   heartbeat  every LEASE_REFRESH_MS the main loop announces the runner
 *              (the runners' set and the runner's hash) and renews the
 *              lease of each running job: XCLAIM of its queue entry resets
 *              the entry's idle time. Dead runners are pruned then.
 *   takeover   a runner with a free slot takes over entries idle for
 *              LEASE_MS (XAUTOCLAIM): their runner stopped renewing.
 *              redis/reclaim.lua runs the job again (once) or fails it.
 *   fencing    a supervisor stops its job, without recording anything,
 *              once the lease has not been renewed for LEASE_MS minus a
 *              margin: before anyone may take the job over, so a job never
 *              runs twice at once. It also stops it within JOB_CHECK_MS of
 *              a cancel or a takeover it reads in the job record.
 *
 * The lease times live in a small shared mapping: the main loop writes when
 * it last renewed each slot's entry, the slot's supervisor reads it.
 *
 * At start it finds which cgroups the host offers (v2, or v1/hybrid) and
 * makes its parent of the jobs' cgroups; with none usable it takes no job
 * at all and exits, leaving the queue to runners that can limit them.
 * SIGTERM: it takes no new job, lets the running ones end, then removes
 * its announcement and exits.
 */
#include "cgroup.h"
#include "config.h"
#include "environments.h"
#include "gpu.h"
#include "job.h"
#include "jobid.h"
#include "session.h"
#include "log.h"
#include "rconn.h"
#include "store.h"
#include "store_sessions_runner.h"
#include "util.h"
#include "sandbox.h"
#include "seccomp_filter.h"
#include "sign.h"
#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_BLOCK_MS   1000  /* how long one XREADGROUP waits for a job, at most */
#define REDIS_BACKOFF_MS 1000  /* Redis down: try again after this */
#define SLOTS_MAX        1024
#define RUNNER_NAME_MAX  STORE_RUNNER_NAME_MAX /* its key (store_key_runner) must fit */
#define QUEUES_MAX       2     /* the main queue, and the GPU profile's queue on a GPU runner */
#define SESSION_DEMAND_MS 250  /* how often the pools of environments without a warm sandbox are looked at */
#define SESSION_RETRY_MIN_MS 500     /* a warm sandbox that died: the first wait before the next */
#define SESSION_RETRY_MAX_MS 30000   /* ... doubling up to this */
#define SESSION_WARM_ON_DEMAND_MS 60000 /* a sandbox started for waiting creates gives up after this unclaimed */

struct slot {
	pid_t supervisor;            /* the slot's supervisor process; 0 when there is none (yet) */
	int job_fd;                  /* the write end of its order pipe; -1 without a supervisor */
	int busy;                    /* a job was handed to it and is not done */
	int retire;                  /* replace the supervisor once it is done (it has a stale signer fd) */
	char queue[128];             /* the stream its entry is in */
	char job_id[64];
	char entry_id[64];           /* its queue entry: renewed while it runs, acknowledged at the end */
	char client[STORE_CLIENT_MAX]; /* the client the entry named ("": none; start.lua checks it) */
	char mount_point[512];
};

/* The main loop's state; one per process. */
struct runner {
	const struct sandrun_config *cfg;
	char name[RUNNER_NAME_MAX];  /* consumer name in the group, member of the runners' heartbeat set */
	char host[200];
	int64_t started_at;          /* epoch ms, announced */
	int nslots;
	struct slot *slots;
	struct job_slot *jslots;
	int64_t *leases;             /* shared with the supervisors: per slot, when (monotonic ms) the
	                                slot's entry last had its idle time reset; see job.h */
	size_t leases_len;           /* bytes mapped */
	int32_t *done;               /* shared with the supervisors: per slot, set by its supervisor once it
	                                is done with its job (see runner_reap) */
	size_t done_len;             /* bytes mapped */
	pid_t main_pid;              /* this process, whom a done supervisor tells (SIGUSR1) */
	pid_t *ending;               /* supervisors retired (order pipe closed), still exiting, reaped later */
	int nending;                 /* at most 2 * nslots + 4: a retirement per slot, and two more in one pass */
	struct rconn redis;
	const char *queues[QUEUES_MAX]; /* the streams it reads, its GPU's first */
	int nqueues;
	char reclaim_cursor[QUEUES_MAX][64]; /* per queue, where the next XAUTOCLAIM goes on in the pending list */
	/* Entries handed over by one read of several queues when fewer slots
	 * were free: pending to this runner, renewed like running ones, and
	 * started before anything new is read. */
	struct queue_entry {
		char queue[128], entry_id[64], job_id[64], client[STORE_CLIENT_MAX];
		int64_t since;       /* when (monotonic ms) its idle time was last reset */
	} held[QUEUES_MAX];
	int nheld;
	struct runner_gpu gpu;       /* present: announced, and its queue read */
	char *gpu_json;
	int announced;               /* the last heartbeat reached Redis */
	struct runner_environments environments; /* announced: the responders refuse the others */
	char *environments_json;     /* their announcement, made once */
	char worker_id[SIGN_WORKER_ID_LEN + 1]; /* announced; "" when results go unsigned */
	struct signer signer;        /* the only process holding the worker key (runner/signer.h) */
	/* Session sandboxes (docs/sessions.md): one supervisor each (runner/session.c),
	 * apart from the job slots. Index i runs as session_uid_base + i. */
	int nsessions;               /* sessions_max */
	struct session_sup {
		pid_t pid;           /* 0: free */
		size_t env;          /* index in environments */
		char mount_point[512];
	} *sessions;
	/* Per environment: sandboxes of it that died before they served a
	 * session, one after the other, and when the next may start. A
	 * sandbox that cannot be built here (a missing capability, a broken
	 * tree) is retried after 0.5 s, 1 s, 2 s ... up to 30 s, not at once
	 * and forever. */
	struct session_backoff {
		int failures;
		int64_t retry_at;    /* monotonic ms */
	} *session_backoff;
	int32_t *session_state;      /* shared with the supervisors: enum session_sup_state per index */
	size_t session_state_len;
	struct session_claim *session_claims; /* shared with the supervisors: the session each serves */
	size_t session_claims_len;
	int64_t session_demand_due;
	int64_t heartbeat_due;       /* when (monotonic ms) the next heartbeat is due */
	int64_t reclaim_due;         /* when the next takeover of lapsed entries is */
};

static volatile sig_atomic_t stop_requested;

static int session_sup_busy(const struct runner *rn);

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sandrun-runner [-c CONFIG] [-t] [-v] [--worker-key FILE]\n"
		   "       sandrun-runner --generate-key FILE\n"
		   "       sandrun-runner [-c CONFIG] --load-scripts\n"
		   "  -c CONFIG  configuration file (default " SANDRUN_DEFAULT_CONFIG ")\n"
		   "  -t         check the configuration and exit\n"
		   "  -v         log debug lines\n"
		   "  --worker-key FILE    sign every result with this Ed25519 key (config: worker_key)\n"
		   "  --generate-key FILE  write a new Ed25519 key (PEM, mode 0600), print its worker id\n"
		   "  --load-scripts       load Sandrun's scripts into Redis, print their SHA1s and names, exit\n");
}

/*
 * --load-scripts: every script into Redis, one "SHA1 NAME" line each on
 * stdout, then exit (0, or 1 when Redis failed). The responders may only
 * call scripts (redis/users.acl.in); the runner loads them at each
 * connect, and this lets a supervisor (contrib/sandrun-stack) load them as
 * soon as Redis is up, so that submits queue before any runner connects.
 */
static int runner_load_scripts(const struct sandrun_config *cfg)
{
	struct rconn redis;
	char sha[41];
	size_t n = 0;
	int rc;

	rconn_init(&redis, cfg->redis_address, cfg->redis_runner_user, cfg->redis_runner_password,
		   cfg->redis_timeout_ms);
	rconn_allow_script_load(&redis, NULL);
	rc = rconn_load_scripts(&redis, redis_scripts);
	if (rc < 0) {
		log_error(NULL, "loading the scripts: %s", redis.error);
	} else {
		for (; redis_scripts[n]; n++) {
			rconn_script_sha(redis_scripts[n], sha);
			printf("%s %s\n", sha, redis_script_names[n]);
		}
		log_info(NULL, "%zu scripts loaded into Redis at %s", n, cfg->redis_address);
	}
	rconn_close(&redis);
	return rc < 0 ? 1 : 0;
}

/* --generate-key FILE: a new Ed25519 key in a new file (mode 0600), its worker id printed. */
static int runner_generate_key(const char *path)
{
	char err[512], id[SIGN_WORKER_ID_LEN + 1];
	EVP_PKEY *key = sign_key_generate();

	if (!key || sign_worker_id(key, id) < 0) {
		fprintf(stderr, "sandrun-runner: cannot generate an Ed25519 key\n");
		EVP_PKEY_free(key);
		return 1;
	}
	if (sign_key_save(key, path, err, sizeof err) < 0) {
		fprintf(stderr, "sandrun-runner: %s\n", err);
		EVP_PKEY_free(key);
		return 1;
	}
	EVP_PKEY_free(key);
	printf("\xe2\x9c\x85 Saved worker key to: %s\n   Worker ID: %s\n", path, id);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The consumer groups must exist before XREADGROUP; "0" so jobs queued before any runner are seen. */
static int queue_groups_create(struct runner *rn)
{
	for (int q = 0; q < rn->nqueues; q++) {
		redisReply *reply = rconn_command(&rn->redis, "XGROUP CREATE %s %s 0 MKSTREAM", rn->queues[q],
						  STORE_QUEUE_GROUP);
		int failed;

		if (!reply)
			return -1;
		failed = reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0;
		if (failed)
			snprintf(rn->redis.error, sizeof rn->redis.error, "XGROUP CREATE %s: %s", rn->queues[q],
				 reply->str);
		freeReplyObject(reply);
		if (failed)
			return -1;
	}
	return 0;
}

static void queue_ack(struct rconn *r, const char *queue, const char *entry_id)
{
	redisReply *reply = rconn_command(r, "XACK %s %s %s", queue, STORE_QUEUE_GROUP, entry_id);

	if (reply)
		freeReplyObject(reply);
	reply = rconn_command(r, "XDEL %s %s", queue, entry_id);
	if (reply)
		freeReplyObject(reply);
}

/* A field of a stream entry ([id, [field, value, ...]]) into out; "" without one. */
static void queue_entry_field(const redisReply *entry, const char *name, char *out, size_t outlen)
{
	const redisReply *fields;

	*out = '\0';
	if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2)
		return;
	fields = entry->element[1];
	for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING && strcmp(fields->element[i]->str, name) == 0 &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			snprintf(out, outlen, "%s", fields->element[i + 1]->str);
}

/* The id field of a stream entry into job_id; "" without one. */
static void queue_entry_job_id(const redisReply *entry, char *job_id, size_t jlen)
{
	queue_entry_field(entry, "id", job_id, jlen);
}

/* An error reply from a queue command: NOGROUP means Redis restarted empty, so make the groups again. */
static void queue_error(struct runner *rn, const char *what, const redisReply *reply)
{
	char error[sizeof rn->redis.error];

	snprintf(error, sizeof error, "%s: %s", what, reply->str);
	if (strncmp(reply->str, "NOGROUP", 7) == 0)
		queue_groups_create(rn);
	snprintf(rn->redis.error, sizeof rn->redis.error, "%s", error);
}

/*
 * Waits up to block_ms for new entries, at most one from each queue.
 * Returns how many came (into got[]), 0 when none, -1 when Redis failed.
 */
static int queue_next(struct runner *rn, long block_ms, struct queue_entry *got)
{
	char block[16];
	const char *argv[9 + 2 * QUEUES_MAX] = { "XREADGROUP", "GROUP", STORE_QUEUE_GROUP, rn->name, "COUNT", "1",
						 "BLOCK", block, "STREAMS" };
	int argc = 9, n = 0;
	redisReply *reply;

	snprintf(block, sizeof block, "%ld", block_ms);
	for (int q = 0; q < rn->nqueues; q++)
		argv[argc++] = rn->queues[q];
	for (int q = 0; q < rn->nqueues; q++)
		argv[argc++] = ">";
	reply = rconn_argv(&rn->redis, (int)block_ms, argc, argv, NULL);
	if (!reply)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		queue_error(rn, "XREADGROUP", reply);
		freeReplyObject(reply);
		return -1;
	}
	/* [[queue, [[entry id, [field, value, ...]], ...]], ...] */
	for (size_t k = 0; reply->type == REDIS_REPLY_ARRAY && k < reply->elements && n < QUEUES_MAX; k++) {
		const redisReply *stream = reply->element[k], *entries, *entry;
		int q;

		if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2 ||
		    stream->element[0]->type != REDIS_REPLY_STRING)
			continue;
		for (q = 0; q < rn->nqueues && strcmp(rn->queues[q], stream->element[0]->str) != 0; q++)
			;
		entries = stream->element[1];
		if (q == rn->nqueues || entries->type != REDIS_REPLY_ARRAY || entries->elements < 1)
			continue;
		entry = entries->element[0];
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1 ||
		    entry->element[0]->type != REDIS_REPLY_STRING)
			continue;
		snprintf(got[n].queue, sizeof got[n].queue, "%s", rn->queues[q]);
		snprintf(got[n].entry_id, sizeof got[n].entry_id, "%s", entry->element[0]->str);
		queue_entry_job_id(entry, got[n].job_id, sizeof got[n].job_id);
		/* the client (submit.lua): the claim then needs no read of the record first;
		 * one too long for a key is none (the record's is read) */
		queue_entry_field(entry, "client", got[n].client, sizeof got[n].client);
		n++;
	}
	freeReplyObject(reply);
	return n;
}

/* What the main loop hands a slot's supervisor: one job (atomic in a pipe, < PIPE_BUF). */
struct job_order {
	char queue[128];
	char entry_id[64];
	char job_id[64];
	char client[STORE_CLIENT_MAX];   /* what the entry named, unchecked ("": none) */
};

/*
 * The life of slot i's supervisor: read a job order, run it, tell the
 * main loop (the done flag, then SIGUSR1), and again, until the pipe ends
 * (the runner stops or retires it). A job whose result could not be
 * recorded (Redis failed) ends the process with status 3: the main loop
 * fails that job once Redis is back, and the slot gets a new supervisor.
 */
static void supervisor_main(struct runner *rn, int i, int order_fd)
{
	struct rconn redis;
	struct job_order o;
	struct job_prepared prep = { .ready = false };

	rconn_init(&redis, rn->cfg->redis_address, rn->cfg->redis_runner_user, rn->cfg->redis_runner_password,
		   rn->cfg->redis_timeout_ms);
	rconn_allow_script_load(&redis, NULL);   /* the runner's user may EVAL a script Redis lost */
	for (;;) {
		ssize_t n;

		/* the slot's next sandbox, built while it waits for its job (runner/job.h) */
		job_prepare(&rn->jslots[i], &prep, prep.env);
		while ((n = read(order_fd, &o, sizeof o)) < 0 && errno == EINTR)
			;
		if (n == 0)
			break;                   /* the runner stops, or replaces this process */
		if (n != (ssize_t)sizeof o)
			_exit(4);
		o.queue[sizeof o.queue - 1] = o.entry_id[sizeof o.entry_id - 1] = o.job_id[sizeof o.job_id - 1] = '\0';
		o.client[sizeof o.client - 1] = '\0';
		if (job_run(&rn->jslots[i], &redis, o.job_id, o.queue, o.entry_id, o.client, &prep) != 0)
			_exit(3);
		/*
		 * Done: the result is recorded (or the entry left for a takeover),
		 * the sandbox and its cgroup are gone. Tell the main loop, which
		 * gives the slot its next job. The check of the parent keeps the
		 * signal from a reaper we were reparented to; PR_SET_PDEATHSIG has
		 * killed us by then anyway.
		 */
		__atomic_store_n(&rn->done[i], 1, __ATOMIC_RELEASE);
		if (getppid() == rn->main_pid)
			kill(rn->main_pid, SIGUSR1);
	}
	job_prepared_discard(&prep);
	rconn_close(&redis);
	_exit(0);
}

/* The order pipes of the slots' supervisors are the main loop's alone: closed in every child it forks. */
static void slot_order_fds_close(struct runner *rn)
{
	for (int k = 0; k < rn->nslots; k++)
		if (rn->slots[k].job_fd >= 0) {
			close(rn->slots[k].job_fd);
			rn->slots[k].job_fd = -1;
		}
}

/* Forks slot i's supervisor with its order pipe. 0, or -1 (errno). */
static int supervisor_start(struct runner *rn, int i)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigset_t none;

		close(p[1]);
		slot_order_fds_close(rn);
		/* The child must not speak on the parent's Redis connection. */
		if (rn->redis.ctx) {
			redisFree(rn->redis.ctx);
			rn->redis.ctx = NULL;
		}
		/* The supervisor only reads the lease times, and the sandbox it
		 * makes (a clone of it) gets none of them. */
		mprotect(rn->leases, rn->leases_len, PROT_READ);
		madvise(rn->leases, rn->leases_len, MADV_DONTFORK);
		madvise(rn->done, rn->done_len, MADV_DONTFORK);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGCHLD, &dfl, NULL);
		signal(SIGPIPE, SIG_IGN);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* A supervisor never outlives its runner: its sandbox dies with it,
		 * the lease lapses and another runner takes the job over. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != rn->main_pid)
			_exit(1);
		prctl(PR_SET_NAME, "sandrun-job");
		supervisor_main(rn, i, p[0]);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	rn->slots[i].supervisor = pid;
	rn->slots[i].job_fd = p[1];
	rn->slots[i].retire = 0;
	return 0;
}

/* Slot i's supervisor goes: its pipe closed (it exits once its job, if any, is done), reaped later. */
static void supervisor_retire(struct runner *rn, int i)
{
	struct slot *s = &rn->slots[i];

	if (!s->supervisor)
		return;
	if (s->job_fd >= 0)
		close(s->job_fd);
	s->job_fd = -1;
	if (!s->busy) {
		if (rn->nending < 2 * rn->nslots + 4)
			rn->ending[rn->nending++] = s->supervisor;  /* reaped by runner_reap */
		else    /* cannot happen (two retirements per slot between reaps at most); never overflow */
			while (waitpid(s->supervisor, NULL, 0) < 0 && errno == EINTR)
				;
		s->supervisor = 0;
	}
}

/* Hands the slot's job to its supervisor, forking one first when it has none. 0, or -1 (logged). */
static int supervisor_order(struct runner *rn, int i)
{
	struct slot *s = &rn->slots[i];
	struct job_order o;

	memset(&o, 0, sizeof o);
	snprintf(o.queue, sizeof o.queue, "%s", s->queue);
	snprintf(o.entry_id, sizeof o.entry_id, "%s", s->entry_id);
	snprintf(o.job_id, sizeof o.job_id, "%s", s->job_id);
	snprintf(o.client, sizeof o.client, "%s", s->client);
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;

		if (!s->supervisor && supervisor_start(rn, i) < 0) {
			log_error(s->job_id, "fork: %s", strerror(errno));
			return -1;
		}
		while ((n = write(s->job_fd, &o, sizeof o)) < 0 && errno == EINTR)
			;
		if (n == (ssize_t)sizeof o)
			return 0;
		/* it died meanwhile (EPIPE): reaped later; a new one takes the job */
		log_warn(s->job_id, "the slot's supervisor is gone (%s): starting another",
			 n < 0 ? strerror(errno) : "short write");
		supervisor_retire(rn, i);
	}
	return -1;
}

/*
 * Starts the job of queue entry entry_id in free slot i. lease_from: when
 * (monotonic ms, taken before the command) the entry was handed to this
 * runner, which reset its idle time: the lease runs from then.
 */
static void slot_start(struct runner *rn, int i, const char *queue, const char *entry_id, const char *job_id,
		       const char *client, int64_t lease_from)
{
	struct slot *s = &rn->slots[i];

	snprintf(s->client, sizeof s->client, "%s", client);
	snprintf(s->queue, sizeof s->queue, "%s", queue);
	snprintf(s->entry_id, sizeof s->entry_id, "%s", entry_id);
	snprintf(s->job_id, sizeof s->job_id, "%s", job_id);
	__atomic_store_n(&rn->leases[i], lease_from, __ATOMIC_RELEASE);
	__atomic_store_n(&rn->done[i], 0, __ATOMIC_RELEASE);
	if (supervisor_order(rn, i) == 0) {
		s->busy = 1;
	} else {
		/* Left pending in the group: its lease lapses and a runner takes it over. */
		*s->entry_id = '\0';
	}
}

static int slot_free(const struct runner *rn)
{
	for (int i = 0; i < rn->nslots; i++)
		if (!rn->slots[i].busy)
			return i;
	return -1;
}

/*
 * Renews the lease of every running (and held) job: XCLAIM with min-idle 0
 * resets each entry's idle time, one command per queue.
 */
static int runner_renew_leases(struct runner *rn, int64_t sent)
{
	const char **argv = xmalloc((size_t)(rn->nslots + QUEUES_MAX + 6) * sizeof *argv);
	int rc = 0;

	for (int q = 0; q < rn->nqueues && rc == 0; q++) {
		redisReply *reply;
		int argc = 0;

		argv[argc++] = "XCLAIM";
		argv[argc++] = rn->queues[q];
		argv[argc++] = STORE_QUEUE_GROUP;
		argv[argc++] = rn->name;
		argv[argc++] = "0";
		for (int i = 0; i < rn->nslots; i++)
			if (rn->slots[i].busy && *rn->slots[i].entry_id && strcmp(rn->slots[i].queue, rn->queues[q]) == 0)
				argv[argc++] = rn->slots[i].entry_id;
		for (int h = 0; h < rn->nheld; h++)
			if (strcmp(rn->held[h].queue, rn->queues[q]) == 0)
				argv[argc++] = rn->held[h].entry_id;
		if (argc == 5)
			continue;
		argv[argc++] = "JUSTID";
		reply = rconn_argv(&rn->redis, 0, argc, argv, NULL);
		if (!reply) {
			rc = -1;
			break;
		}
		if (reply->type == REDIS_REPLY_ERROR) {
			queue_error(rn, "XCLAIM", reply);
			rc = -1;
		}
		/* Only the entries still pending come back: one acknowledged by its
		 * finished job, or gone with a Redis restart, is not renewed. */
		for (size_t k = 0; reply->type == REDIS_REPLY_ARRAY && k < reply->elements; k++) {
			if (reply->element[k]->type != REDIS_REPLY_STRING)
				continue;
			for (int i = 0; i < rn->nslots; i++)
				if (rn->slots[i].busy && strcmp(rn->slots[i].entry_id, reply->element[k]->str) == 0 &&
				    strcmp(rn->slots[i].queue, rn->queues[q]) == 0)
					__atomic_store_n(&rn->leases[i], sent, __ATOMIC_RELEASE);
			for (int h = 0; h < rn->nheld; h++)
				if (strcmp(rn->held[h].entry_id, reply->element[k]->str) == 0 &&
				    strcmp(rn->held[h].queue, rn->queues[q]) == 0)
					rn->held[h].since = sent;
		}
		freeReplyObject(reply);
	}
	free(argv);
	return rc;
}

/* One command of the heartbeat; 0, or -1 when Redis failed or refused. */
static int runner_command(struct runner *rn, int argc, const char **argv)
{
	redisReply *reply = rconn_argv(&rn->redis, 0, argc, argv, NULL);
	int rc = 0;

	if (!reply)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(rn->redis.error, sizeof rn->redis.error, "%s: %s", argv[0], reply->str);
		rc = -1;
	}
	freeReplyObject(reply);
	return rc;
}

/*
 * The heartbeat: renews the running jobs' leases first (what keeps them
 * from being taken over), then announces this runner and prunes runners
 * whose heartbeat is older than LEASE_MS. 0, or -1 at the first failure.
 */
static int runner_heartbeat(struct runner *rn)
{
	int64_t sent = time_mono_ms(), now = time_now_ms();
	char key[STORE_RUNNER_KEY_MAX], score[24], stale[32], lease[24], slots[16], busy[16], pid[16],
		started[24], sessions_max[16], sessions[16];
	int nbusy = 0;

	for (int i = 0; i < rn->nslots; i++)
		nbusy += rn->slots[i].busy;
	if (runner_renew_leases(rn, sent) < 0)
		return -1;
	store_key_runner(key, sizeof key, rn->name);
	snprintf(score, sizeof score, "%lld", (long long)now);
	snprintf(stale, sizeof stale, "(%lld", (long long)(now - LEASE_MS));
	snprintf(lease, sizeof lease, "%d", LEASE_MS);
	snprintf(slots, sizeof slots, "%d", rn->nslots);
	snprintf(busy, sizeof busy, "%d", nbusy);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(started, sizeof started, "%lld", (long long)rn->started_at);
	snprintf(sessions_max, sizeof sessions_max, "%d", rn->nsessions);
	snprintf(sessions, sizeof sessions, "%d", session_sup_busy(rn));
	{
		const char *zadd[] = { "ZADD", STORE_KEY_RUNNERS, score, rn->name };
		const char *prune[] = { "ZREMRANGEBYSCORE", STORE_KEY_RUNNERS, "-inf", stale };
		const char *hset[] = { "HSET", key, "slots", slots, "busy", busy, "host", rn->host, "pid", pid,
				       "started_at", started, "heartbeat_at", score, "version", PACKAGE_VERSION,
				       "environments", rn->environments_json, "gpu", rn->gpu_json,
				       "worker_id", rn->worker_id, "sessions_max", sessions_max, "sessions", sessions };
		const char *expire[] = { "PEXPIRE", key, lease };

		if (runner_command(rn, 4, zadd) < 0 || runner_command(rn, 4, prune) < 0 ||
		    runner_command(rn, (int)(sizeof hset / sizeof hset[0]), hset) < 0 ||
		    runner_command(rn, 3, expire) < 0)
			return -1;
	}
	return 0;
}

/*
 * At a clean stop the runner's announcement goes (it counts as gone at
 * once), and so does its consumer in the group, if nothing is pending for
 * it any more: deleting a consumer drops its pending entries, and one left
 * by a supervisor whose failure could not be recorded must stay for a
 * takeover.
 */
static void runner_withdraw(struct runner *rn)
{
	char key[STORE_RUNNER_KEY_MAX];
	const char *zrem[] = { "ZREM", STORE_KEY_RUNNERS, rn->name };
	const char *del[] = { "DEL", key };

	store_key_runner(key, sizeof key, rn->name);
	if (runner_command(rn, 3, zrem) < 0 || runner_command(rn, 2, del) < 0)
		log_warn(NULL, "could not withdraw from %s: %s", STORE_KEY_RUNNERS, rn->redis.error);
	for (int q = 0; q < rn->nqueues; q++) {
		const char *pending[] = { "XPENDING", rn->queues[q], STORE_QUEUE_GROUP, "-", "+", "1", rn->name };
		const char *delconsumer[] = { "XGROUP", "DELCONSUMER", rn->queues[q], STORE_QUEUE_GROUP, rn->name };
		redisReply *reply = rconn_argv(&rn->redis, 0, 7, pending, NULL);

		if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 0 &&
		    runner_command(rn, 5, delconsumer) < 0)
			log_warn(NULL, "could not leave the group of %s: %s", rn->queues[q], rn->redis.error);
		if (reply)
			freeReplyObject(reply);
	}
}

/*
 * Takes over queue entries idle for LEASE_MS, at most as many as there are
 * free slots, and starts those redis/reclaim.lua says to run again. The
 * cursor goes on through the pending list from call to call, so a long list
 * of live entries does not hide a lost one at its end.
 */
static void runner_reclaim_queue(struct runner *rn, int q, int nfree)
{
	char count[16], min_idle[24];
	const char *argv[] = { "XAUTOCLAIM", rn->queues[q], STORE_QUEUE_GROUP, rn->name, min_idle,
			       rn->reclaim_cursor[q], "COUNT", count };
	int64_t sent = time_mono_ms();
	redisReply *reply, *entries;

	snprintf(count, sizeof count, "%d", nfree);
	snprintf(min_idle, sizeof min_idle, "%d", LEASE_MS);
	reply = rconn_argv(&rn->redis, 0, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
	if (!reply) {
		log_warn(NULL, "takeover: %s", rn->redis.error);
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		queue_error(rn, "XAUTOCLAIM", reply);
		log_warn(NULL, "takeover: %s", rn->redis.error);
		goto done;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_ARRAY)
		goto done;
	snprintf(rn->reclaim_cursor[q], sizeof rn->reclaim_cursor[q], "%s", reply->element[0]->str);
	entries = reply->element[1];
	for (size_t k = 0; k < entries->elements; k++) {
		const redisReply *e = entries->element[k];
		char entry_id[64], job_id[64];
		int busy_here = 0, i;

		/* Entries deleted while pending: nil (Redis 6.2) or listed apart (7). */
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		snprintf(entry_id, sizeof entry_id, "%s", e->element[0]->str);
		queue_entry_job_id(e, job_id, sizeof job_id);
		if (!jobid_valid(job_id, strlen(job_id))) {
			log_warn(NULL, "queue entry %s has no valid job id: dropped", entry_id);
			queue_ack(&rn->redis, rn->queues[q], entry_id);
			continue;
		}
		/* Our own slot still holds it (its supervisor stopped the job for a
		 * lapsed lease and is ending), or we hold it for a free slot: the
		 * next pass takes it. */
		for (i = 0; i < rn->nslots; i++)
			busy_here |= rn->slots[i].busy && strcmp(rn->slots[i].entry_id, entry_id) == 0 &&
				     strcmp(rn->slots[i].queue, rn->queues[q]) == 0;
		for (i = 0; i < rn->nheld; i++)
			busy_here |= strcmp(rn->held[i].entry_id, entry_id) == 0 &&
				     strcmp(rn->held[i].queue, rn->queues[q]) == 0;
		if (busy_here)
			continue;
		switch (job_reclaim(&rn->redis, rn->cfg, job_id, rn->queues[q], entry_id)) {
		case JOB_RECLAIM_RUN:
			i = slot_free(rn);
			if (i < 0)
				break;  /* cannot happen: COUNT is the number of free slots */
			log_info(job_id, "taken over from a lost runner (queue entry %s): running it again", entry_id);
			slot_start(rn, i, rn->queues[q], entry_id, job_id, "", sent);
			nfree--;
			break;
		case JOB_RECLAIM_FAILED:
			log_warn(job_id, "taken over from a lost runner: every attempt used, failed");
			break;
		case JOB_RECLAIM_GONE:
			log_info(job_id, "taken over from a lost runner: already ended, entry dropped");
			break;
		case JOB_RECLAIM_ERROR:
			log_warn(job_id, "takeover: %s", rn->redis.error);
			break;
		}
	}
done:
	freeReplyObject(reply);
}

/*
 * Takes over entries idle for LEASE_MS in each queue it reads, at most as
 * many as there are free slots, and starts those redis/reclaim.lua says to
 * run again. The cursor goes on through each pending list from call to
 * call, so a long list of live entries does not hide a lost one at its end.
 */
static void runner_reclaim(struct runner *rn)
{
	for (int q = 0; q < rn->nqueues; q++) {
		int nfree = 0;

		for (int i = 0; i < rn->nslots; i++)
			nfree += !rn->slots[i].busy;
		if (nfree == 0)
			break;
		runner_reclaim_queue(rn, q, nfree);
	}
}

/*
 * The signer ended (reaped): a signer ends only when the runner does, so
 * this is a crash. Another one is started, for the supervisors forked
 * from now on; the running ones sign through the dead one's socket and
 * fail, loudly, recording their results unsigned (job.c, job_sign).
 */
static void runner_signer_ended(struct runner *rn, int status)
{
	char err[512];

	log_error(NULL, "the signer (pid %d) ended (%s %d): starting another", (int)rn->signer.pid,
		  WIFSIGNALED(status) ? "signal" : "status",
		  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (signer_restart(&rn->signer, err, sizeof err) < 0)
		log_error(NULL, "signer: %s: results are recorded unsigned until the runner restarts", err);
	else
		log_info(NULL, "signer restarted (pid %d)", (int)rn->signer.pid);
	for (int i = 0; i < rn->nslots; i++) {
		rn->jslots[i].signer_fd = rn->signer.fd;
		/* a supervisor has the old fd in its copy: replaced once done */
		rn->slots[i].retire = 1;
		if (!rn->slots[i].busy)
			supervisor_retire(rn, i);
	}
}

/* ---- session sandboxes (docs/sessions.md; runner/session.c) */

/* Forks the supervisor of session sandbox i, for environment env. */
static void session_sup_start(struct runner *rn, int i, size_t env)
{
	struct session_sup *ss = &rn->sessions[i];
	pid_t pid;

	__atomic_store_n(&rn->session_state[i], SESSION_SUP_STARTING, __ATOMIC_RELEASE);
	rn->session_claims[i].session_id[0] = '\0';
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		struct session_slot slot = {
			.cfg = rn->cfg, .runner_name = rn->name, .index = (unsigned)i, .mount_point = ss->mount_point,
			.cgroup = rn->jslots[0].cgroup, .seccomp = rn->jslots[0].seccomp,
			.init_fd = rn->jslots[0].init_fd,
			.environment = rn->environments.v[env].name, .env_root = rn->environments.v[env].root,
			.warm_max_ms = env == 0 ? 0 : SESSION_WARM_ON_DEMAND_MS,
			.state = &rn->session_state[i], .claim = &rn->session_claims[i], .main_pid = rn->main_pid,
		};
		sigset_t none;

		slot_order_fds_close(rn);
		if (rn->redis.ctx) {
			redisFree(rn->redis.ctx);
			rn->redis.ctx = NULL;
		}
		madvise(rn->leases, rn->leases_len, MADV_DONTFORK);
		madvise(rn->done, rn->done_len, MADV_DONTFORK);
		sigaction(SIGCHLD, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* never outlives the runner: its sandbox dies with it (init's PDEATHSIG),
		 * and the next runner sweeps the cgroup (cgroup_runner_init) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != rn->main_pid)
			_exit(1);
		prctl(PR_SET_NAME, "sandrun-session");
		_exit(session_run(&slot));
	}
	if (pid < 0) {
		log_error(NULL, "session sandbox %d: fork: %s", i, strerror(errno));
		return;
	}
	ss->pid = pid;
	ss->env = env;
}

/*
 * A supervisor reaped while its session's end was not recorded (it
 * crashed or was killed; its sandbox died with it, PDEATHSIG): the end is
 * recorded here (reason internal), so the record does not stay "ready",
 * answering 504s and holding its client's slot until its TTL. One try:
 * Redis unreachable now, the session ends at its idle timeout or TTL.
 */
static void session_sup_orphan(struct runner *rn, int i)
{
	struct session_claim *c = &rn->session_claims[i];
	char held[STORE_ID_MAX] = "";

	c->session_id[sizeof c->session_id - 1] = '\0';
	c->client[sizeof c->client - 1] = '\0';
	if (c->session_id[0] == '\0')
		return;
	if (store_session_end(&rn->redis, c->session_id, c->client, "internal", time_now_ms(),
			      "the session's supervisor died", held, sizeof held) < 0)
		log_error(c->session_id, "cannot record the end after its supervisor died: %s", rn->redis.error);
	else
		log_warn(c->session_id, "ended: its supervisor died (%s)", held);
	c->session_id[0] = '\0';
}

/* A reaped pid that was a session supervisor: its sandbox index is free. */
static int session_sup_reaped(struct runner *rn, pid_t pid, int status)
{
	for (int i = 0; i < rn->nsessions; i++) {
		if (rn->sessions[i].pid != pid)
			continue;
		struct session_backoff *b = &rn->session_backoff[rn->sessions[i].env];
		bool served = __atomic_load_n(&rn->session_state[i], __ATOMIC_ACQUIRE) == SESSION_SUP_BUSY;

		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			log_warn(NULL, "session sandbox %d (%s) ended abnormally (%s %d)", i,
				 rn->environments.v[rn->sessions[i].env].name, WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			if (!served && !stop_requested) {
				int64_t wait = SESSION_RETRY_MIN_MS;

				for (int k = 0; k < b->failures && wait < SESSION_RETRY_MAX_MS; k++)
					wait *= 2;
				if (wait > SESSION_RETRY_MAX_MS)
					wait = SESSION_RETRY_MAX_MS;
				b->failures++;
				b->retry_at = time_mono_ms() + wait;
				if (b->failures > 1)
					log_warn(NULL, "session sandboxes of %s: %d died unused in a row, the next in %lld ms",
						 rn->environments.v[rn->sessions[i].env].name, b->failures, (long long)wait);
			}
		} else {
			b->failures = 0;
		}
		if (served)
			b->failures = 0;
		session_sup_orphan(rn, i);
		rn->sessions[i].pid = 0;
		return 1;
	}
	return 0;
}

static int session_sup_live(const struct runner *rn)
{
	int n = 0;

	for (int i = 0; i < rn->nsessions; i++)
		n += rn->sessions[i].pid != 0;
	return n;
}

static int session_sup_busy(const struct runner *rn)
{
	int n = 0;

	for (int i = 0; i < rn->nsessions; i++)
		n += rn->sessions[i].pid != 0
		     && __atomic_load_n(&rn->session_state[i], __ATOMIC_ACQUIRE) == SESSION_SUP_BUSY;
	return n;
}

/* Create entries waiting in environment env's pool list; 0 when none or Redis failed. */
static long long session_pool_waiting(struct runner *rn, size_t env)
{
	char key[STORE_KEY_MAX];
	redisReply *reply;
	long long n = 0;

	if (store_key_session_pool(key, sizeof key, rn->environments.v[env].name) < 0)
		return 0;
	reply = rconn_command(&rn->redis, "LLEN %s", key);
	if (reply && reply->type == REDIS_REPLY_INTEGER)
		n = reply->integer;
	if (reply)
		freeReplyObject(reply);
	return n;
}

/*
 * Keeps session_pool_size warm sandboxes for `default` (refilled as soon as
 * one is claimed) and, when an environment's pool list has entries that no
 * warm sandbox waits for, starts one more for it: at most sessions_max
 * supervisors in all. Asked to stop: tells every supervisor once.
 */
static void session_pool_step(struct runner *rn)
{
	int64_t now = time_mono_ms();
	bool demand = now >= rn->session_demand_due && rn->announced;

	if (rn->nsessions == 0)
		return;
	if (stop_requested) {
		for (int i = 0; i < rn->nsessions; i++)
			if (rn->sessions[i].pid > 0 && rn->session_state[i] >= 0) {
				kill(rn->sessions[i].pid, SIGTERM);
				rn->session_state[i] = -1;   /* told */
			}
		return;
	}
	if (demand)
		rn->session_demand_due = now + SESSION_DEMAND_MS;
	for (size_t e = 0; e < rn->environments.n; e++) {
		long long target = e == 0 ? rn->cfg->limits.session_pool_size : 0, warm = 0, waiting;
		int free_i = 0;

		for (int i = 0; i < rn->nsessions; i++)
			warm += rn->sessions[i].pid != 0 && rn->sessions[i].env == e
				&& __atomic_load_n(&rn->session_state[i], __ATOMIC_ACQUIRE) != SESSION_SUP_BUSY;
		if (demand && (waiting = session_pool_waiting(rn, e)) > warm)
			target = warm + 1 > target ? warm + 1 : target;
		if (now < rn->session_backoff[e].retry_at)
			continue;       /* its last sandbox died unused: not yet */
		while (warm < target) {
			while (free_i < rn->nsessions && rn->sessions[free_i].pid != 0)
				free_i++;
			if (free_i == rn->nsessions)
				return;         /* sessions_max reached */
			session_sup_start(rn, free_i, e);
			warm++;
		}
	}
}

/* The session sandboxes' state, mount points and shared words. 0, or -1 (logged). */
static int session_pool_init(struct runner *rn)
{
	rn->nsessions = (int)rn->cfg->limits.sessions_max;
	if (rn->nsessions == 0)
		return 0;
	rn->sessions = calloc((size_t)rn->nsessions, sizeof *rn->sessions);
	rn->session_backoff = calloc(rn->environments.n ? rn->environments.n : 1, sizeof *rn->session_backoff);
	rn->session_state_len = (size_t)rn->nsessions * sizeof *rn->session_state;
	rn->session_state = mmap(NULL, rn->session_state_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
	rn->session_claims_len = (size_t)rn->nsessions * sizeof *rn->session_claims;
	rn->session_claims = mmap(NULL, rn->session_claims_len, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!rn->sessions || !rn->session_backoff || rn->session_state == MAP_FAILED || rn->session_claims == MAP_FAILED) {
		log_error(NULL, "session pool: out of memory");
		return -1;
	}
	for (int i = 0; i < rn->nsessions; i++) {
		snprintf(rn->sessions[i].mount_point, sizeof rn->sessions[i].mount_point, "%s/session-%d",
			 rn->cfg->runner_state_dir, i);
		if (mkdir(rn->sessions[i].mount_point, 0755) < 0 && errno != EEXIST) {
			log_error(NULL, "mkdir %s: %s", rn->sessions[i].mount_point, strerror(errno));
			return -1;
		}
	}
	log_info(NULL, "sessions: up to %d sandboxes (uids %u-%u), %lld kept warm for default", rn->nsessions,
		 rn->cfg->session_uid_base, rn->cfg->session_uid_base + (unsigned)rn->nsessions - 1,
		 (long long)rn->cfg->limits.session_pool_size);
	return 0;
}

/*
 * Frees the slots whose supervisor is done with its job (rn->done): they can
 * take their next job now, from the same supervisor (unless it is to be
 * replaced). Then reaps ended supervisors; one that ended abnormally
 * before it was done fails its job (if it still holds it).
 */
static void runner_reap(struct runner *rn)
{
	int status;
	pid_t pid;

	for (int i = 0; i < rn->nslots; i++) {
		struct slot *s = &rn->slots[i];

		if (!s->busy || !__atomic_load_n(&rn->done[i], __ATOMIC_ACQUIRE))
			continue;
		s->busy = 0;
		*s->entry_id = '\0';
		if (s->retire || s->job_fd < 0)
			supervisor_retire(rn, i);
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int k;

		if (rn->signer.pid > 0 && pid == rn->signer.pid) {
			runner_signer_ended(rn, status);
			continue;
		}
		if (session_sup_reaped(rn, pid, status))
			continue;
		for (k = 0; k < rn->nending && rn->ending[k] != pid; k++)
			;
		if (k < rn->nending) {
			/* its job was over already: nothing to fail */
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn(NULL, "a supervisor ended abnormally after its job (%s %d)",
					 WIFSIGNALED(status) ? "signal" : "status",
					 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			rn->ending[k] = rn->ending[--rn->nending];
			continue;
		}
		for (int i = 0; i < rn->nslots; i++) {
			struct slot *s = &rn->slots[i];
			int abnormal = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

			if (s->supervisor != pid)
				continue;
			if (s->busy && !__atomic_load_n(&rn->done[i], __ATOMIC_ACQUIRE) && abnormal) {
				log_error(s->job_id, "supervisor ended abnormally (%s %d): failing the job",
					  WIFSIGNALED(status) ? "signal" : "status",
					  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				/* finish.lua acknowledges the entry, unless the job was taken over */
				job_fail_internal(&rn->redis, &rn->jslots[i], s->job_id, s->queue, s->entry_id,
						  "the runner lost this job's supervisor");
			} else if (abnormal) {
				log_warn(NULL, "slot %d: its supervisor ended abnormally between jobs (%s %d)", i,
					 WIFSIGNALED(status) ? "signal" : "status",
					 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			}
			/* else the supervisor's scripts acknowledged the entry, or it left it
			 * for a takeover (a lapsed lease) */
			if (s->job_fd >= 0)
				close(s->job_fd);
			s->job_fd = -1;
			s->supervisor = 0;
			s->busy = 0;
			*s->entry_id = '\0';
		}
	}
}

/* The command line: what main() was asked to do. */
struct runner_options {
	const char *config_path;
	const char *worker_key_path;     /* --worker-key, else the configuration's worker_key */
	int check_only;                  /* -t */
	int load_scripts_only;           /* --load-scripts */
	enum log_level level;
};

/*
 * What the process sets up once at start and tears down at the end, beside
 * the loop's state (struct runner): the job slots point into it, so it
 * lives as long as main().
 */
struct runner_resources {
	struct sandrun_config cfg;
	struct cgroup_host cg_host;
	struct cgroup_runner cg_runner;
	struct seccomp_program filter;
	int init_fd;                     /* the sandrun-init program every sandbox's init execs */
	char init_path[PATH_MAX];
	EVP_PKEY *worker_public;         /* the worker id's key, to warm OpenSSL up; NULL: unsigned */
};

/*
 * Reads the command line into o. Returns 0 to go on, or 1 when main() is
 * to exit at once with *exit_code: --generate-key, --help, a bad option.
 */
static int runner_options_parse(int argc, char **argv, struct runner_options *o, int *exit_code)
{
	static const struct option long_opts[] = {
		{ "generate-key", required_argument, NULL, 'G' },
		{ "worker-key", required_argument, NULL, 'K' },
		{ "load-scripts", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:tvh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'G': *exit_code = runner_generate_key(optarg); return 1;
		case 'K': o->worker_key_path = optarg; break;
		case 'L': o->load_scripts_only = 1; break;
		case 'c': o->config_path = optarg; break;
		case 't': o->check_only = 1; break;
		case 'v': o->level = LOG_LEVEL_DEBUG; break;
		case 'h': usage(stdout); *exit_code = 0; return 1;
		default: usage(stderr); *exit_code = 2; return 1;
		}
	}
	return 0;
}

/*
 * Logging, the locale, the configuration and the worker key. Returns 0 to
 * go on, or 1 when main() is to exit with *exit_code: the configuration or
 * the key is bad (logged), or -t found them good.
 */
static int runner_configure(struct runner_options *o, struct runner *rn, struct runner_resources *res,
			    int *exit_code)
{
	struct sandrun_config *cfg = &res->cfg;
	char err[1024];

	*exit_code = 1;
	log_init("sandrun-runner", o->level);
	if (locale_use_utf8_names() < 0)   /* UTF-8 file names in libarchive: common/util.h */
		log_warn(NULL, "no C.UTF-8 locale: archives with non-ASCII file names will be refused");
	if (config_load(o->config_path, cfg, err, sizeof err) < 0) {
		log_error(NULL, "%s: %s", o->config_path, err);
		return 1;
	}
	/* Wipes the responders' password: never needed here (common/config.h). */
	config_keep_role(cfg, CONFIG_ROLE_RUNNER);
	if (o->load_scripts_only) {
		*exit_code = runner_load_scripts(cfg);
		config_free(cfg);
		return 1;
	}
	if (!o->worker_key_path && *cfg->worker_key)
		o->worker_key_path = cfg->worker_key;
	if (o->worker_key_path) {
		/* First, before any other process: the key is read by the signer
		 * alone, never by this process (runner/signer.h). */
		if (signer_start(&rn->signer, o->worker_key_path, err, sizeof err) < 0) {
			log_error(NULL, "worker key: %s", err);
			return 1;
		}
		memcpy(rn->worker_id, rn->signer.worker_id, sizeof rn->worker_id);
		res->worker_public = sign_key_from_worker_id(rn->worker_id);
	}
	if (o->check_only) {
		signer_stop(&rn->signer);
		EVP_PKEY_free(res->worker_public);
		printf("%s: configuration ok\n", o->config_path);
		config_free(cfg);
		*exit_code = 0;
		return 1;
	}
	return 0;
}

/* The runner's name (runner_name, else HOST:PID) and slot count. 0, or -1 (logged). */
static int runner_identify(struct runner *rn)
{
	const struct sandrun_config *cfg = rn->cfg;

	rn->nslots = cfg->runner_slots > 0 ? cfg->runner_slots : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (rn->nslots < 1)
		rn->nslots = 1;
	if (rn->nslots > SLOTS_MAX)
		rn->nslots = SLOTS_MAX;
	gethostname(rn->host, sizeof rn->host);
	rn->host[sizeof rn->host - 1] = '\0';
	if (*cfg->runner_name) {
		if (strlen(cfg->runner_name) >= sizeof rn->name) {
			log_error(NULL, "runner_name is longer than %zu bytes", sizeof rn->name - 1);
			return -1;
		}
		snprintf(rn->name, sizeof rn->name, "%s", cfg->runner_name);
	} else {
		snprintf(rn->name, sizeof rn->name, "%.180s:%d", rn->host, (int)getpid());
	}
	rn->started_at = time_now_ms();
	return 0;
}

/* What the runner offers and announces: its environments, its GPU and the
 * queues it reads for them. 0, or -1 (logged). */
static int runner_offer(struct runner *rn)
{
	const struct sandrun_config *cfg = rn->cfg;
	char err[1024];

	runner_environments_load(cfg->environments_dir, &rn->environments);
	for (size_t i = 0; i < rn->environments.n; i++)
		log_info(NULL, "environment %s (%s): interpreters %s", rn->environments.v[i].name,
			 rn->environments.v[i].root,
			 *rn->environments.v[i].interpreters ? rn->environments.v[i].interpreters : "none");
	rn->environments_json = runner_environments_announce(&rn->environments);
	if (gpu_load(cfg, &rn->gpu, err, sizeof err) < 0) {
		log_error(NULL, "gpu: %s", err);
		return -1;
	}
	rn->gpu_json = gpu_announce(&rn->gpu);
	if (rn->gpu.present) {
		rn->queues[rn->nqueues++] = rn->gpu.queue;  /* first: a GPU job needs this runner, others do not */
		log_info(NULL, "GPU %s (%.0f GB, CUDA %s, %zu device nodes): reading %s too", rn->gpu.name,
			 rn->gpu.vram_gb, rn->gpu.cuda_version, rn->gpu.ndevices, rn->gpu.queue);
	}
	rn->queues[rn->nqueues++] = STORE_KEY_QUEUE;
	return 0;
}

/*
 * The slots: their state, the mappings shared with the supervisors, each
 * slot's mount point and network namespace, and the job_slot a supervisor
 * gets (pointing into res). 0, or -1 (logged).
 */
static int runner_slots_init(struct runner *rn, struct runner_resources *res)
{
	const struct sandrun_config *cfg = rn->cfg;
	char err[1024];

	if (mkdir(cfg->runner_state_dir, 0700) < 0 && errno != EEXIST) {
		log_error(NULL, "mkdir %s: %s", cfg->runner_state_dir, strerror(errno));
		return -1;
	}
	rn->slots = calloc((size_t)rn->nslots, sizeof *rn->slots);
	rn->jslots = calloc((size_t)rn->nslots, sizeof *rn->jslots);
	if (!rn->slots || !rn->jslots)
		return -1;
	/* Shared with the supervisors (forked later): one lease time and one
	 * done flag per slot. */
	rn->leases_len = (size_t)rn->nslots * sizeof *rn->leases;
	rn->leases = mmap(NULL, rn->leases_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	rn->done_len = (size_t)rn->nslots * sizeof *rn->done;
	rn->done = mmap(NULL, rn->done_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	rn->ending = calloc(2 * (size_t)rn->nslots + 4, sizeof *rn->ending);
	if (rn->leases == MAP_FAILED || rn->done == MAP_FAILED || !rn->ending) {
		log_error(NULL, "mmap: %s", strerror(errno));
		return -1;
	}
	rn->main_pid = getpid();
	for (int i = 0; i < rn->nslots; i++)
		rn->slots[i].job_fd = -1;
	for (int i = 0; i < rn->nslots; i++) {
		snprintf(rn->slots[i].mount_point, sizeof rn->slots[i].mount_point, "%s/slot-%d",
			 cfg->runner_state_dir, i);
		if (mkdir(rn->slots[i].mount_point, 0755) < 0 && errno != EEXIST) {
			log_error(NULL, "mkdir %s: %s", rn->slots[i].mount_point, strerror(errno));
			return -1;
		}
		rn->jslots[i] = (struct job_slot){ .cfg = cfg, .runner_name = rn->name, .index = (unsigned)i,
						   .mount_point = rn->slots[i].mount_point,
						   .cgroup = &res->cg_runner, .seccomp = &res->filter,
						   .lease_renewed_ms = &rn->leases[i],
						   .environments = &rn->environments, .gpu = &rn->gpu,
						   .signer_fd = rn->signer.fd,
						   .worker_id = rn->signer.pid > 0 ? rn->worker_id : NULL,
						   .netns_fd = sandbox_netns_create(err, sizeof err) };
		if (rn->jslots[i].netns_fd < 0) {
			log_error(NULL, "slot %d: %s", i, err);
			return -1;
		}
	}
	return 0;
}

/* What every job uses alike, made once before any fork: the seccomp filter
 * and the program each sandbox's init execs. 0, or -1 (logged). */
static int runner_job_tools_build(struct runner *rn, struct runner_resources *res)
{
	char err[1024];

	/* The seccomp filter is the same for every job: built once, applied per job. */
	if (seccomp_program_build(&res->filter, err, sizeof err) < 0) {
		log_error(NULL, "seccomp: %s: refusing to take jobs", err);
		return -1;
	}
	/* The program each sandbox's init execs, so that it starts from a fresh
	 * image (runner/sandbox.h): opened once, kept even if an upgrade
	 * replaces the file while jobs run. */
	if ((res->init_fd = sandbox_init_program_find(SANDRUN_INIT_PATH, res->init_path, sizeof res->init_path,
						      err, sizeof err)) < 0) {
		log_error(NULL, "sandbox: %s: refusing to take jobs", err);
		return -1;
	}
	log_info(NULL, "sandboxes start %s", res->init_path);
	for (int i = 0; i < rn->nslots; i++)
		rn->jslots[i].init_fd = res->init_fd;
	return 0;
}

/*
 * Fail closed: a job never runs without its cgroup limits. Made while
 * single-threaded and before any fork (on v2 the runner may move itself
 * into a leaf cgroup of its own). 0, or -1 (logged).
 */
static int runner_cgroups_init(struct runner_resources *res)
{
	char err[1024], cg_name[CGROUP_NAME_MAX], cg_text[1200];

	if (cgroup_detect(&res->cg_host, err, sizeof err) < 0) {
		log_error(NULL, "cgroups: %s: refusing to take jobs", err);
		return -1;
	}
	cgroup_describe(&res->cg_host, cg_text, sizeof cg_text);
	log_info(NULL, "%s", cg_text);
	snprintf(cg_name, sizeof cg_name, "sandrun-runner-%d", (int)getpid());
	if (cgroup_runner_init(&res->cg_runner, &res->cg_host, cg_name, err, sizeof err) < 0) {
		log_error(NULL, "cgroups: %s: refusing to take jobs", err);
		return -1;
	}
	if (res->cg_runner.version == CGROUP_V2)
		log_info(NULL, "job cgroups go below %s", res->cg_runner.v2);
	else
		log_info(NULL, "job cgroups go below %s (and %s in each v1 hierarchy)",
			 res->cg_runner.v1[CGROUP_MEMORY], cg_name);
	return 0;
}

/* Everything the runner needs before it takes a job, in order. 0, or -1 (logged). */
static int runner_setup(struct runner *rn, struct runner_resources *res)
{
	if (geteuid() != 0) {
		log_error(NULL, "the runner needs root to build sandboxes (namespaces, mounts, uids)");
		return -1;
	}
	/* Every job's supervisor is a fork of this process and hashes its
	 * result (and checks the signer's signature of it): OpenSSL's ~1 ms of
	 * first-use set-up is done here once, not again in each supervisor.
	 * Nothing secret is made here: the key is the signer's alone. */
	sign_preload(res->worker_public);
	if (runner_identify(rn) < 0 || runner_offer(rn) < 0 || runner_slots_init(rn, res) < 0 ||
	    runner_job_tools_build(rn, res) < 0 || runner_cgroups_init(res) < 0 || session_pool_init(rn) < 0)
		return -1;
	return 0;
}

/*
 * SIGTERM and SIGINT ask the loop to stop. SIGCHLD, and SIGUSR1 from a
 * supervisor done with its job, stay blocked in the loop, so one that comes
 * between the reaping and the wait is kept pending, not lost (supervisors
 * unblock them): `wake` is the set the loop waits for.
 */
static void runner_signals_init(sigset_t *wake)
{
	struct sigaction sa = { .sa_handler = on_term };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(wake);
	sigaddset(wake, SIGCHLD);
	sigaddset(wake, SIGUSR1);
	sigprocmask(SIG_BLOCK, wake, NULL);
}

/* Connects to Redis and waits (until stopped) for the queues' consumer groups. */
static void runner_connect(struct runner *rn, const struct runner_options *o,
			   const struct runner_resources *res)
{
	const struct sandrun_config *cfg = rn->cfg;

	rconn_init(&rn->redis, cfg->redis_address, cfg->redis_runner_user, cfg->redis_runner_password,
		   cfg->redis_timeout_ms);
	/* Every script, loaded at each (re)connect before the first command (the
	 * queue groups, then the heartbeat): after a Redis restart the responders,
	 * which may only call them, find them again by the time this runner is
	 * announced. */
	rconn_allow_script_load(&rn->redis, redis_scripts);
	log_info(NULL, "runner %s: %d slots, Redis at %s", rn->name, rn->nslots, cfg->redis_address);
	if (rn->signer.pid > 0)
		log_info(NULL, "results are signed by worker %s (%s, signer pid %d)", rn->worker_id,
			 o->worker_key_path, (int)rn->signer.pid);

	while (queue_groups_create(rn) < 0 && !stop_requested) {
		log_warn(NULL, "waiting for Redis: %s", rn->redis.error);
		sleep_ms(REDIS_BACKOFF_MS);
	}
}

/* Announces the runner when its heartbeat is due (at `now`); returns the time after it. */
static int64_t runner_heartbeat_if_due(struct runner *rn, int64_t now)
{
	if (now < rn->heartbeat_due)
		return now;
	if (runner_heartbeat(rn) == 0) {
		if (!rn->announced)
			log_info(NULL, "heartbeat in %s every %d ms", STORE_KEY_RUNNERS, LEASE_REFRESH_MS);
		rn->announced = 1;
		rn->heartbeat_due = now + LEASE_REFRESH_MS;
	} else {
		if (rn->announced)
			log_warn(NULL, "heartbeat: %s", rn->redis.error);
		rn->announced = 0;
		rn->heartbeat_due = now + REDIS_BACKOFF_MS;
	}
	return time_mono_ms();
}

/* Starts, in free slot i, the first entry an earlier read handed over beyond the free slots. */
static void runner_start_held(struct runner *rn, int i)
{
	slot_start(rn, i, rn->held[0].queue, rn->held[0].entry_id, rn->held[0].job_id, rn->held[0].client,
		   rn->held[0].since);
	memmove(&rn->held[0], &rn->held[1], (size_t)(--rn->nheld) * sizeof rn->held[0]);
}

/* Nothing to take: sleeps until a supervisor ends (a signal of `wake`) or
 * the heartbeat is due, QUEUE_BLOCK_MS at most. */
static void runner_wait_for_supervisors(const sigset_t *wake, int64_t until_heartbeat)
{
	long ms = until_heartbeat < QUEUE_BLOCK_MS ? (long)until_heartbeat : QUEUE_BLOCK_MS;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	sigtimedwait(wake, NULL, &ts);
}

/*
 * Reads the queues (waiting until the heartbeat is due, QUEUE_BLOCK_MS at
 * most) and starts what it got in free slots; what finds none is held for
 * the next pass. An entry without a valid job id is dropped.
 */
static void runner_take_jobs(struct runner *rn, int64_t until_heartbeat)
{
	struct queue_entry got[QUEUES_MAX];
	int64_t sent = time_mono_ms();
	long block_ms = until_heartbeat < QUEUE_BLOCK_MS ? (long)until_heartbeat : QUEUE_BLOCK_MS;
	int free_slot, n = queue_next(rn, block_ms, got);

	if (n < 0) {
		log_warn(NULL, "queue: %s", rn->redis.error);
		sleep_ms(REDIS_BACKOFF_MS);
		return;
	}
	for (int k = 0; k < n; k++) {
		if (!jobid_valid(got[k].job_id, strlen(got[k].job_id))) {
			log_warn(NULL, "queue entry %s has no valid job id: dropped", got[k].entry_id);
			queue_ack(&rn->redis, got[k].queue, got[k].entry_id);
			continue;
		}
		if ((free_slot = slot_free(rn)) >= 0) {
			slot_start(rn, free_slot, got[k].queue, got[k].entry_id, got[k].job_id, got[k].client, sent);
		} else {
			got[k].since = sent;
			rn->held[rn->nheld++] = got[k];
		}
	}
}

/*
 * One pass of the loop: reap, heartbeat when due, then the first thing to
 * do of: stop (asked to, and no job left), start a held entry, take over
 * lapsed entries when due (a free slot), wait for what comes first -- a
 * job (free slot), a supervisor's end (none free), or the next heartbeat.
 * No wait outlasts the time to the heartbeat, so heartbeats keep their
 * period whatever the loop is doing. Returns 0 when the runner may stop.
 */
static int runner_step(struct runner *rn, const sigset_t *wake)
{
	int busy = 0, free_slot;
	int64_t now, until_heartbeat;

	runner_reap(rn);
	for (int i = 0; i < rn->nslots; i++) {
		/* stopping: each supervisor ends once its job is done (its pipe closed) */
		if (stop_requested && rn->slots[i].job_fd >= 0)
			supervisor_retire(rn, i);
		busy += rn->slots[i].busy || rn->slots[i].supervisor != 0;
	}
	free_slot = slot_free(rn);
	now = runner_heartbeat_if_due(rn, time_mono_ms());
	session_pool_step(rn);
	if (stop_requested) {
		if (!busy && !rn->nending && !session_sup_live(rn))
			return 0;
	} else if (free_slot >= 0 && rn->nheld > 0) {
		runner_start_held(rn, free_slot);
		return 1;
	} else if (free_slot >= 0 && rn->announced && now >= rn->reclaim_due) {
		runner_reclaim(rn);
		rn->reclaim_due = now + LEASE_REFRESH_MS;
		return 1;
	}
	until_heartbeat = rn->heartbeat_due - now;
	if (until_heartbeat < 1)
		until_heartbeat = 1;
	/* with session sandboxes, a claimed warm one is replaced within
	 * SESSION_DEMAND_MS, not after a whole queue wait: a create that finds
	 * the pool empty waits for one sandbox build, not for this loop */
	if (rn->nsessions > 0 && until_heartbeat > SESSION_DEMAND_MS)
		until_heartbeat = SESSION_DEMAND_MS;
	if (stop_requested || free_slot < 0)
		runner_wait_for_supervisors(wake, until_heartbeat);
	else
		runner_take_jobs(rn, until_heartbeat);
	return 1;
}

/* Withdraws the runner's announcement and frees what setup made. */
static void runner_shutdown(struct runner *rn, struct runner_resources *res)
{
	char err[1024];

	runner_withdraw(rn);
	if (cgroup_runner_cleanup(&res->cg_runner, err, sizeof err) < 0)
		log_warn(NULL, "cgroups: %s", err);
	log_info(NULL, "stopped");
	rconn_close(&rn->redis);
	munmap(rn->leases, rn->leases_len);
	munmap(rn->done, rn->done_len);
	if (rn->session_state && rn->session_state != MAP_FAILED)
		munmap(rn->session_state, rn->session_state_len);
	if (rn->session_claims && rn->session_claims != MAP_FAILED)
		munmap(rn->session_claims, rn->session_claims_len);
	free(rn->sessions);
	free(rn->session_backoff);
	free(rn->ending);
	free(rn->slots);
	free(rn->jslots);
	seccomp_program_free(&res->filter);
	close(res->init_fd);
	runner_environments_free(&rn->environments);
	free(rn->environments_json);
	free(rn->gpu_json);
	EVP_PKEY_free(res->worker_public);
	signer_stop(&rn->signer);
	config_free(&res->cfg);
}

int main(int argc, char **argv)
{
	struct runner_options opts = { .config_path = SANDRUN_DEFAULT_CONFIG, .level = LOG_LEVEL_INFO };
	struct runner_resources res = { .filter = { 0 }, .init_fd = -1 };
	struct runner rn = { .cfg = &res.cfg, .reclaim_cursor = { "0-0", "0-0" }, .signer = { .fd = -1 } };
	sigset_t wake;
	int exit_code;

	/* The signer's fresh image: this binary, started by signer_start(). */
	if (argc > 1 && strcmp(argv[1], SIGNER_PROCESS_ARG) == 0)
		signer_main(argc, argv);
	if (runner_options_parse(argc, argv, &opts, &exit_code))
		return exit_code;            /* --generate-key, --help, a bad option */
	if (runner_configure(&opts, &rn, &res, &exit_code))
		return exit_code;            /* a bad configuration or key (logged), -t or --load-scripts */
	if (runner_setup(&rn, &res) < 0)
		return 1;                    /* logged: no job is taken without all of it */
	runner_signals_init(&wake);
	runner_connect(&rn, &opts, &res);
	while (runner_step(&rn, &wake))
		;
	runner_shutdown(&rn, &res);
	return 0;
}
