/*
 * A session's supervisor (runner/session.h; docs/sessions.md). One process,
 * single-threaded, in states:
 *
 *   warm     cgroup made (memory_mb_default), sandbox started in session
 *            mode (the agent runs in its job process, a fresh network
 *            namespace with lo up), BLPOP sr:sespool:ENV with 1 s timeouts
 *   claimed  session_claim.lua (record `starting`, no runner yet), else the
 *            entry is dropped and the same unused sandbox waits on
 *   init     memory_mb into the cgroup, the agent's `init` (env) when there
 *            is an env, the workspace unpacked (sr:{WID}:wsp) when asked
 *   ready    session_ready.lua, then {"final":true,"ok":true} on sr:{SID}:rep:create
 *   serving  BLPOP sr:{SID}:req (1 s); exec and files ops go to the agent
 *            (frames translated both ways, binary frames and streamed events
 *            included: runner/session_control.h); pause/resume through the
 *            cgroup's freezer; snapshot: the agent's archive of /work, kept
 *            by session_snapshot.lua; each second session_charge.lua (CPU
 *            delta charged to sr:cpu:{C}, usage into the record; its answer
 *            ends the session at idle timeout, TTL, or when the record is
 *            ended or gone); `pty`: the terminal, whose bytes two pumps
 *            move beside this loop (runner/pty_relay.h)
 *   ending   cgroup killed, init reaped, cgroup removed, session_end.lua,
 *            then the pending `end` request answered
 *
 * The agent is untrusted (it runs as the session's user, who can kill or
 * replace nothing of ours but can make it misbehave): every frame from it
 * is bounded and parsed strictly, and an agent that answers nonsense or
 * nothing in time ends the session (reason internal).
 */
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "jobid.h"
#include "log.h"
#include "pty_proto.h"
#include "pty_relay.h"
#include "rconn.h"
#include "sandbox.h"
#include "session_control.h"
#include "session_proto.h"
#include "store.h"
#include "store_sessions_runner.h"
#include "util.h"

#define SES_BLOCK_S        1         /* BLPOP timeouts (pool, requests) */
#define SES_CHARGE_MS      1000      /* session_charge.lua's period */
#define SES_REPLY_TTL_MS   120000    /* a reply list lives this long after each push */
#define SES_AGENT_GRACE_MS 30000     /* past an exec's timeout, the agent must have answered by then */
#define SES_FILES_WAIT_MS  300000    /* files ops, init, unpack, archive: the agent answers within this */
#define SES_CPU_PERIOD_US  100000    /* one core, as a job (runner/job.c) */
#define SES_TMPFS_DIVISOR  4         /* a quarter of the largest memory stays for processes */
#define SES_REDIS_RETRY_MS 1000

static volatile sig_atomic_t ses_stop;

static void ses_on_term(int sig)
{
	(void)sig;
	ses_stop = 1;
}

struct ses {
	const struct session_slot *slot;
	const struct sandrun_config *cfg;
	struct rconn redis;
	struct cgroup_job cg;
	struct sandbox sb;
	struct sandbox_result last;      /* the sandbox's end, as the teardown read it */
	bool sandbox_up;
	char pool_key[STORE_KEY_MAX];
	char label[STORE_ID_MAX];        /* the session id once claimed, for log lines */
	struct session_create c;
	bool claimed;
	struct session_keys keys;
	int64_t next_id;                 /* agent frame ids */
	struct buf in;                   /* bytes read from the agent, not yet a whole frame */
	double cpu_charged;              /* CPU seconds already charged */
	int64_t charge_n, charge_due;
	bool paused;
	bool in_call;                    /* an agent call is running: the session is not idle */
	int64_t memory_peak;
	const char *end_reason;          /* set: end the session */
	char end_error[256];
	struct pty_pumps pty;            /* the terminal's pumps, from the first `pty` on (pty_relay.h) */
	int32_t pty_starts;              /* terminals started */
	char pty_since[64];              /* the last one's `s` entry id */
};

/* ---- the main loop's view */

static void ses_set_state(struct ses *s, enum session_sup_state st)
{
	if (!s->slot->state)
		return;
	__atomic_store_n(s->slot->state, (int32_t)st, __ATOMIC_RELEASE);
	if (getppid() == s->slot->main_pid)
		kill(s->slot->main_pid, SIGUSR1);
}

/* ---- the agent's frames */

static int ses_agent_write(struct ses *s, const void *data, size_t len)
{
	unsigned char hdr[4];

	session_frame_header((uint32_t)len, hdr);
	if (fd_write_all(s->sb.stdin_fd, hdr, 4) < 0 || fd_write_all(s->sb.stdin_fd, data, len) < 0)
		return -1;
	return 0;
}

/* Throws away what the agent writes on stderr (its own complaints; never the user's output). */
static void ses_drain_stderr(struct ses *s)
{
	char junk[4096];

	while (read(s->sb.stderr_fd, junk, sizeof junk) > 0)
		;
}

/*
 * The next frame from the agent, waiting up to wait_ms: 1 with *body
 * (malloc'd, *len bytes), 0 when none came in time, -1 when the agent is
 * gone or sent a frame over the bound (err says which).
 */
static int ses_agent_read(struct ses *s, int wait_ms, char **body, uint32_t *len, char *err, size_t errlen)
{
	int64_t until = time_mono_ms() + wait_ms;

	for (;;) {
		struct pollfd pfd[2] = { { s->sb.stdout_fd, POLLIN, 0 }, { s->sb.stderr_fd, POLLIN, 0 } };
		char chunk[65536];
		int64_t left;
		ssize_t n;

		if (s->in.len >= 4) {
			if (session_frame_length((const unsigned char *)s->in.data, len, err, errlen) < 0)
				return -1;
			if (s->in.len >= 4 + (size_t)*len) {
				*body = xmalloc(*len ? *len : 1);
				memcpy(*body, s->in.data + 4, *len);
				memmove(s->in.data, s->in.data + 4 + *len, s->in.len - 4 - *len);
				s->in.len -= 4 + *len;
				return 1;
			}
		}
		left = until - time_mono_ms();
		if (left <= 0)
			return 0;
		if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
			return error_format(err, errlen, "poll: %s", strerror(errno));
		if (pfd[1].revents)
			ses_drain_stderr(s);
		if (!pfd[0].revents)
			continue;
		n = read(s->sb.stdout_fd, chunk, sizeof chunk);
		if (n == 0)
			return error_format(err, errlen, "the session's agent ended");
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return error_format(err, errlen, "reading the agent: %s", strerror(errno));
		}
		buf_append(&s->in, chunk, (size_t)n);
	}
}

/*
 * The raw frame that follows an answer with "binary":expected (its 4-byte
 * length must be expected; 0 allowed). keep: into *out (malloc'd); else
 * read and dropped (an answer over what root keeps, which then becomes a
 * 413), so the agent stays in step. 0, or -1 with err (gone, late, wrong
 * length).
 */
static int ses_agent_read_raw(struct ses *s, uint64_t expected, bool keep, char **out, int64_t deadline,
			      char *err, size_t errlen)
{
	uint64_t got = 0;
	uint32_t len;

	*out = NULL;
	while (s->in.len < 4) {
		struct pollfd pfd = { s->sb.stdout_fd, POLLIN, 0 };
		char chunk[4096];
		int64_t left = deadline - time_mono_ms();
		ssize_t n;

		if (left <= 0)
			return error_format(err, errlen, "the session's agent did not send its binary in time");
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		n = read(s->sb.stdout_fd, chunk, sizeof chunk);
		if (n == 0)
			return error_format(err, errlen, "the session's agent ended");
		if (n > 0)
			buf_append(&s->in, chunk, (size_t)n);
	}
	len = (uint32_t)(((unsigned char)s->in.data[0] << 24) | ((unsigned char)s->in.data[1] << 16)
			 | ((unsigned char)s->in.data[2] << 8) | (unsigned char)s->in.data[3]);
	if (len != expected)
		return error_format(err, errlen, "the agent's binary frame is not the length it announced");
	if (keep)
		*out = xmalloc(len ? len : 1);
	/* what is buffered already */
	got = s->in.len - 4 < len ? s->in.len - 4 : len;
	if (keep)
		memcpy(*out, s->in.data + 4, got);
	memmove(s->in.data, s->in.data + 4 + got, s->in.len - 4 - got);
	s->in.len -= 4 + got;
	while (got < len) {
		struct pollfd pfd = { s->sb.stdout_fd, POLLIN, 0 };
		char chunk[65536];
		int64_t left = deadline - time_mono_ms();
		size_t want = len - got < sizeof chunk ? (size_t)(len - got) : sizeof chunk;
		ssize_t n;

		if (left <= 0) {
			error_format(err, errlen, "the session's agent did not send its binary in time");
			goto fail;
		}
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		n = read(s->sb.stdout_fd, keep ? *out + got : chunk, want);
		if (n == 0) {
			error_format(err, errlen, "the session's agent ended inside a binary frame");
			goto fail;
		}
		if (n > 0)
			got += (uint64_t)n;
	}
	return 0;
fail:
	free(*out);
	*out = NULL;
	return -1;
}

/* ---- Redis */

static int ses_push(struct ses *s, const char *rid, const char *frame, size_t len, const char *raw, size_t rawlen)
{
	char key[STORE_KEY_MAX], ttl[16];
	const char *argv[4] = { "RPUSH", key, frame, raw };
	size_t lens[4] = { 5, 0, len, rawlen };
	redisReply *reply;
	int rc = 0;

	if (store_key_session_reply(key, sizeof key, s->c.session_id, rid) < 0)
		return -1;
	lens[1] = strlen(key);
	reply = rconn_argv(&s->redis, 0, raw ? 4 : 3, argv, lens);
	if (!reply || reply->type == REDIS_REPLY_ERROR)
		rc = -1;
	if (reply)
		freeReplyObject(reply);
	snprintf(ttl, sizeof ttl, "%d", SES_REPLY_TTL_MS);
	reply = rconn_command(&s->redis, "PEXPIRE %s %s", key, ttl);
	if (reply)
		freeReplyObject(reply);
	if (rc < 0)
		log_warn(s->label, "cannot push a reply to %s: %s", rid, s->redis.error);
	return rc;
}

static void ses_push_error(struct ses *s, const char *rid, int status, const char *error, const char *reason,
			   const char *field)
{
	size_t len;
	char *f = session_ctl_error_frame(status, error, reason, field, &len);

	if (f)
		ses_push(s, rid, f, len, NULL, 0);
	free(f);
}

/*
 * Pushes a final frame with the bytes that follow it (a file read, an
 * archive) once session_reply.lua has reserved them in the client's
 * storage ledger: they sit in Redis until the responder pops them, so
 * they count against the address as a write's payload does. Over the
 * quota the request is answered 429 instead (the session lives on);
 * Redis too full, 503.
 */
static void ses_push_reserved(struct ses *s, const char *rid, const char *frame, size_t len, const char *raw,
			      size_t rawlen)
{
	const struct store_session_reply p = {
		.sid = s->c.session_id, .rid = rid, .client = s->c.client, .frame = frame, .frame_len = len,
		.data = raw, .len = rawlen, .now_ms = time_now_ms(), .life_ms = SES_REPLY_TTL_MS,
		.quota_bytes = s->cfg->limits.quota_storage_bytes,
		.results_percent = s->cfg->limits.redis_memory_results_percent,
	};
	enum store_reply_verdict v;
	int64_t retry_ms = 0;
	char reason[160];
	json_t *o;
	char *f;

	if (store_session_reply(&s->redis, &p, &v, &retry_ms) < 0) {
		log_warn(s->label, "cannot push a reply to %s: %s", rid, s->redis.error);
		ses_push_error(s, rid, 503, "the job store is unreachable", NULL, NULL);
		return;
	}
	switch (v) {
	case STORE_REPLY_PUSHED:
		return;
	case STORE_REPLY_OVER_QUOTA:
		snprintf(reason, sizeof reason, "storage quota exhausted: the answer's %zu bytes do not fit in what "
			 "this address may hold in the job store", rawlen);
		o = json_pack("{s:b, s:b, s:i, s:s, s:s, s:I}", "final", 1, "ok", 0, "status", 429, "error",
			      "Rate limit exceeded", "reason", reason, "retry_after",
			      (json_int_t)(retry_ms > 0 ? (retry_ms + 999) / 1000 : 30));
		f = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (f)
			ses_push(s, rid, f, strlen(f), NULL, 0);
		free(f);
		json_decref(o);
		return;
	case STORE_REPLY_FULL:
		ses_push_error(s, rid, 503, "the job store is full", "store_full", NULL);
		return;
	case STORE_REPLY_GONE:
		ses_push_error(s, rid, 410, "the session ended", NULL, NULL);
		return;
	}
}

static void ses_push_ok(struct ses *s, const char *rid, const char *extra)
{
	char frame[512];

	snprintf(frame, sizeof frame, "{\"final\":true,\"ok\":true%s%s}", extra && *extra ? "," : "",
		 extra ? extra : "");
	ses_push(s, rid, frame, strlen(frame), NULL, 0);
}

/* BLPOP key with SES_BLOCK_S: 1 with *out (malloc'd), 0 none, -1 Redis failed. */
static int ses_blpop(struct ses *s, const char *key, char **out, size_t *outlen)
{
	char block[8];
	const char *argv[3] = { "BLPOP", key, block };
	redisReply *reply;
	int rc = 0;

	snprintf(block, sizeof block, "%d", SES_BLOCK_S);
	reply = rconn_argv(&s->redis, SES_BLOCK_S * 1000, 3, argv, NULL);
	if (!reply)
		return -1;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply->element[1]->type == REDIS_REPLY_STRING) {
		*out = xmalloc(reply->element[1]->len + 1);
		memcpy(*out, reply->element[1]->str, reply->element[1]->len);
		(*out)[reply->element[1]->len] = '\0';
		*outlen = reply->element[1]->len;
		rc = 1;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(s->redis.error, sizeof s->redis.error, "BLPOP %s: %s", key, reply->str);
		rc = -1;
	}
	freeReplyObject(reply);
	return rc;
}

/* GET (or GETDEL) of a binary value: 1 with *out, 0 none, -1 Redis failed. */
static int ses_get(struct ses *s, const char *cmd, const char *key, char **out, size_t *outlen)
{
	const char *argv[2] = { cmd, key };
	redisReply *reply = rconn_argv(&s->redis, 0, 2, argv, NULL);
	int rc = 0;

	if (!reply)
		return -1;
	if (reply->type == REDIS_REPLY_STRING) {
		*out = xmalloc(reply->len + 1);
		memcpy(*out, reply->str, reply->len);
		*outlen = reply->len;
		rc = 1;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(s->redis.error, sizeof s->redis.error, "%s: %s", cmd, reply->str);
		rc = -1;
	}
	freeReplyObject(reply);
	return rc;
}

/* ---- the sandbox */

static const char *const ses_envp[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/work", "USER=sandrun", "LOGNAME=sandrun", "SHELL=/bin/bash", "LANG=C.UTF-8", "TMPDIR=/tmp",
	"TERM=dumb", NULL,
};

static int ses_sandbox_start(struct ses *s)
{
	const struct sandrun_config *cfg = s->cfg;
	const struct session_slot *slot = s->slot;
	char name[CGROUP_NAME_MAX], err[512];
	const char *no_argv[] = { NULL };
	const struct cgroup_limits limits = {
		.memory_bytes = cfg->limits.memory_mb_default * 1024 * 1024,
		.cpu_quota_us = SES_CPU_PERIOD_US,
		.cpu_period_us = SES_CPU_PERIOD_US,
		.pids_max = cfg->limits.pids_max,
	};
	int64_t max_bytes = cfg->limits.memory_mb_max * 1024 * 1024;

	/* the supervisor's pid too: a sandbox's cgroup is never a predecessor's */
	snprintf(name, sizeof name, "session-%u-%d", slot->index, (int)getpid());
	if (cgroup_job_create(slot->cgroup, name, &limits, &s->cg, err, sizeof err) < 0) {
		log_error(NULL, "session sandbox %u: cgroup: %s", slot->index, err);
		return -1;
	}
	{
		struct sandbox_spec spec = {
			.job_id = name,
			.uid = cfg->session_uid_base + slot->index,
			.gid = cfg->session_uid_base + slot->index,
			/* the agent's own: no session process may signal it (sandbox.h) */
			.agent_uid = cfg->session_uid_base + (unsigned)cfg->limits.sessions_max + slot->index,
			.mount_point = slot->mount_point,
			.env_root = slot->env_root,
			.tmpfs_bytes = max_bytes - max_bytes / SES_TMPFS_DIVISOR,
			.unpacked_max_bytes = cfg->limits.unpacked_max_bytes,
			.files_max = cfg->limits.files_max,
			.argv = no_argv,
			.envp = ses_envp,
			.cgroup = &s->cg,
			.pids_max = cfg->limits.pids_max,
			.seccomp = slot->seccomp,
			.init_fd = slot->init_fd,
			.session = true,
			.loopback_up = true,
		};

		if (sandbox_start(&spec, &s->sb, err, sizeof err) < 0) {
			log_error(NULL, "session sandbox %u: %s", slot->index, err);
			cgroup_job_destroy(&s->cg, NULL, 0);
			return -1;
		}
	}
	s->sandbox_up = true;
	return 0;
}

/* The cgroup's CPU seconds so far, or -1. */
static double ses_cpu(struct ses *s, int64_t *memory_peak)
{
	struct cgroup_stats st;

	if (cgroup_job_stats(&s->cg, &st, NULL, 0) < 0)
		return -1;
	if (memory_peak)
		*memory_peak = st.memory_peak_bytes;
	return st.cpu_seconds;
}

static bool ses_sandbox_alive(struct ses *s)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (!s->sandbox_up)
		return false;
	return waitid(P_PID, (id_t)s->sb.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* ---- charging: the record's usage and the client's CPU */

/* Charges the CPU used since the last charge; fills *st. 0, or -1 (Redis failed: logged). */
static int ses_charge(struct ses *s, const char *set_status, struct store_session_state *st)
{
	int64_t peak = -1, mem = cgroup_job_memory_current(&s->cg);
	double cpu = ses_cpu(s, &peak), delta = 0;
	struct store_session_charge p;
	int rc;

	if (cpu >= 0 && cpu - s->cpu_charged >= 0.001)
		delta = cpu - s->cpu_charged;
	if (peak > s->memory_peak)
		s->memory_peak = peak;
	if (mem > s->memory_peak)
		s->memory_peak = mem;
	p = (struct store_session_charge){
		.sid = s->c.session_id, .client = s->c.client, .runner = s->slot->runner_name,
		.now_ms = time_now_ms(), .cpu_delta = delta, .n = s->charge_n + 1,
		.quota_idle_ms = s->cfg->limits.quota_idle_seconds * 1000,
		.cpu_total = cpu >= 0 ? cpu : s->cpu_charged,
		.memory_bytes = mem > 0 ? mem : 0, .memory_peak_bytes = s->memory_peak > 0 ? s->memory_peak : 0,
		.set_status = set_status,
	};
	rc = store_session_charge(&s->redis, &p, st);
	if (rc < 0) {
		log_warn(s->label, "charge: %s", s->redis.error);
		return -1;
	}
	if (delta > 0) {
		/* the charge's member carries its rounded figure: count what was charged */
		s->cpu_charged += (double)(int64_t)(delta * 1000) / 1000.0;
		s->charge_n++;
	}
	s->charge_due = time_mono_ms() + SES_CHARGE_MS;
	return 0;
}

/* After a charge: should the session end, and why? */
static void ses_check_end(struct ses *s, const struct store_session_state *st)
{
	int64_t now = time_now_ms();

	if (s->end_reason)
		return;
	if (strcmp(st->status, "ended") == 0 || strcmp(st->status, "gone") == 0 || strcmp(st->status, "lost") == 0) {
		s->end_reason = "deleted";      /* the record keeps its own reason (session_end.lua) */
		return;
	}
	if (st->expires_at > 0 && now >= st->expires_at) {
		s->end_reason = "ttl";
		return;
	}
	if (!s->in_call && st->idle_timeout_seconds > 0 && st->last_used_at > 0
	    && now - st->last_used_at >= st->idle_timeout_seconds * 1000)
		s->end_reason = "idle_timeout";
}

/* Charges when due; during a long agent call too. */
static void ses_tick(struct ses *s)
{
	struct store_session_state st;

	if (!s->claimed || time_mono_ms() < s->charge_due)
		return;
	if (ses_charge(s, "", &st) == 0)
		ses_check_end(s, &st);
	else
		s->charge_due = time_mono_ms() + SES_CHARGE_MS;
}

/* ---- one call to the agent */

/*
 * Sends frame (+ payload when data != NULL) to the agent and translates
 * what comes back into reply frames for rid until the final one, which is
 * pushed with the binary that follows it when there is one (or handed back
 * in *final and *raw when keep_final: the snapshot). 0 answered; -1 the agent
 * failed (s->end_reason set, the request answered 500).
 */
static int ses_agent_call(struct ses *s, const char *rid, int64_t id, const char *frame, size_t flen,
			  const char *data, size_t dlen, int64_t wait_ms, int64_t bound, bool keep_final, char **final_out,
			  char **raw_out, size_t *raw_len)
{
	int64_t deadline = time_mono_ms() + wait_ms;
	char err[256] = "";

	if (ses_agent_write(s, frame, flen) < 0 || (data && ses_agent_write(s, data, dlen) < 0)) {
		snprintf(err, sizeof err, "cannot write to the session's agent: %s", strerror(errno));
		goto broken;
	}
	for (;;) {
		enum session_ctl_kind kind;
		int64_t binary_len;
		char *body = NULL, *reply = NULL;
		uint32_t len;
		size_t rlen;
		int got;

		if (time_mono_ms() >= deadline) {
			snprintf(err, sizeof err, "the session's agent did not answer in time");
			goto broken;
		}
		got = ses_agent_read(s, SES_CHARGE_MS, &body, &len, err, sizeof err);
		if (got < 0)
			goto broken;
		if (got == 0 && ses_stop) {
			/* the runner is stopping: the call dies with the sandbox */
			ses_push_error(s, rid, 503, "the session's runner was stopped", "runner_lost", NULL);
			s->end_reason = "runner_lost";
			return 0;
		}
		if (got == 0) {
			s->in_call = true;
			ses_tick(s);
			s->in_call = false;
			if (s->end_reason) {
				/* ended meanwhile (DELETE elsewhere, TTL): the call dies with the sandbox */
				ses_push_error(s, rid, 410, "the session ended during the request", s->end_reason, NULL);
				return 0;
			}
			continue;
		}
		if (session_ctl_translate(body, len, id, &kind, &reply, &rlen, &binary_len, err, sizeof err) < 0) {
			free(body);
			goto broken;
		}
		free(body);
		if (kind == SESSION_CTL_EVENT) {
			ses_push(s, rid, reply, rlen, NULL, 0);
			free(reply);
			continue;
		}
		if (binary_len >= 0) {
			char *raw = NULL;
			uint32_t rawn = (uint32_t)binary_len;

			if (binary_len > bound) {
				/* more than root keeps: dropped as it comes, answered 413 */
				free(reply);
				if (ses_agent_read_raw(s, (uint64_t)binary_len, false, &raw, deadline, err, sizeof err) < 0)
					goto broken;
				snprintf(err, sizeof err, "the answer is %lld bytes, over the limit of %lld bytes",
					 (long long)binary_len, (long long)bound);
				ses_push_error(s, rid, 413, err, "too_large", NULL);
				return 0;
			}
			if (ses_agent_read_raw(s, (uint64_t)binary_len, true, &raw, deadline, err, sizeof err) < 0) {
				free(reply);
				goto broken;
			}
			if (keep_final) {
				*final_out = reply;
				if (raw_out) {
					*raw_out = raw;
					*raw_len = rawn;
				} else {
					free(raw);
				}
				return 0;
			}
			ses_push_reserved(s, rid, reply, rlen, raw, rawn);
			free(raw);
		} else if (keep_final) {
			*final_out = reply;
			return 0;
		} else {
			ses_push(s, rid, reply, rlen, NULL, 0);
		}
		free(reply);
		return 0;
	}
broken:
	log_error(s->label, "agent: %s", err);
	ses_push_error(s, rid, 500, "the session's sandbox failed: it is ended", "internal", NULL);
	s->end_reason = "internal";
	snprintf(s->end_error, sizeof s->end_error, "%s", err);
	return -1;
}

/* ---- requests */

static void ses_forward(struct ses *s, const struct session_ctl_request *req)
{
	char *data = NULL, *frame, err[256];
	size_t dlen = 0, flen;
	const char *field;
	int64_t wait_ms = SES_FILES_WAIT_MS, id = ++s->next_id;

	if (s->paused) {
		ses_push_error(s, req->rid, 409, "session is paused", NULL, NULL);
		return;
	}
	if (req->has_data) {
		char key[STORE_KEY_MAX];
		int got;

		if (store_key_session_data(key, sizeof key, s->c.session_id, req->rid) < 0)
			return;
		got = ses_get(s, "GETDEL", key, &data, &dlen);
		if (got <= 0) {
			ses_push_error(s, req->rid, got < 0 ? 503 : 400, got < 0 ? "the job store is unreachable"
					: "the request's data is missing (expired)", NULL, NULL);
			return;
		}
	}
	frame = session_ctl_agent_frame(req, id, req->has_data ? (int64_t)dlen : -1, &flen, err, sizeof err, &field);
	if (!frame) {
		ses_push_error(s, req->rid, 400, err, NULL, field);
		free(data);
		return;
	}
	if (req->op == SESSION_CTL_OP_EXEC) {
		/* the exec's own timeout, from the frame we built (ms), bounds the wait */
		const char *t = strstr(frame, "\"timeout\":");
		int64_t ms = t ? strtoll(t + 10, NULL, 10) : SESSION_TIMEOUT_DEFAULT_MS;

		wait_ms = (ms > 0 ? ms : SESSION_TIMEOUT_DEFAULT_MS) + SES_AGENT_GRACE_MS;
	}
	ses_agent_call(s, req->rid, id, frame, flen, data, dlen, wait_ms, s->cfg->limits.session_file_max_bytes, false,
		       NULL, NULL, NULL);
	free(frame);
	free(data);
}

static void ses_pause(struct ses *s, const char *rid, bool pause)
{
	struct store_session_state st;
	char err[256];

	if (pause != s->paused) {
		if (cgroup_job_freeze(&s->cg, pause, err, sizeof err) < 0) {
			log_error(s->label, "%s: %s", pause ? "pause" : "resume", err);
			ses_push_error(s, rid, 500, err, "internal", NULL);
			return;
		}
		s->paused = pause;
	}
	if (ses_charge(s, pause ? "paused" : "ready", &st) == 0)
		ses_check_end(s, &st);
	ses_push_ok(s, rid, pause ? "\"status\":\"paused\"" : "\"status\":\"ready\"");
}

static void ses_snapshot(struct ses *s, const char *rid)
{
	char *frame, *final = NULL, *raw = NULL, wid[JOBID_LEN + 1], extra[160], err[256];
	size_t flen, rawlen = 0;
	int64_t id = ++s->next_id, expires = 0;
	bool refreeze = s->paused;
	enum store_snapshot_verdict v;

	if (refreeze && cgroup_job_freeze(&s->cg, false, err, sizeof err) < 0) {
		ses_push_error(s, rid, 500, err, "internal", NULL);
		return;
	}
	frame = session_ctl_workspace_frame(id, false, -1, &flen);
	if (!frame) {
		ses_push_error(s, rid, 500, "out of memory", "internal", NULL);
		goto out;
	}
	if (ses_agent_call(s, rid, id, frame, flen, NULL, 0, SES_FILES_WAIT_MS, s->cfg->limits.snapshot_max_bytes, true,
			   &final, &raw, &rawlen) < 0)
		goto out;
	if (!final)
		goto out;              /* answered already (the session ended meanwhile) */
	if (!raw) {
		/* the agent refused: its final frame is the answer */
		ses_push(s, rid, final, strlen(final), NULL, 0);
		goto out;
	}
	if ((int64_t)rawlen > s->cfg->limits.snapshot_max_bytes) {
		snprintf(err, sizeof err, "the workspace's archive is %zu bytes, over the snapshot limit of %lld bytes",
			 rawlen, (long long)s->cfg->limits.snapshot_max_bytes);
		ses_push_error(s, rid, 413, err, "too_large", NULL);
		goto out;
	}
	if (prefixed_id_generate(WSPID_PREFIX, wid) < 0) {
		ses_push_error(s, rid, 500, "cannot make a workspace id", "internal", NULL);
		goto out;
	}
	{
		const struct store_session_snapshot p = {
			.sid = s->c.session_id, .wid = wid, .client = s->c.client, .data = raw, .len = rawlen,
			.now_ms = time_now_ms(), .ttl_s = s->cfg->limits.snapshot_ttl_seconds,
			.quota_bytes = s->cfg->limits.quota_storage_bytes,
			.results_percent = s->cfg->limits.redis_memory_results_percent,
		};

		if (store_session_snapshot(&s->redis, &p, &v, &expires) < 0) {
			ses_push_error(s, rid, 503, "the job store is unreachable", NULL, NULL);
			goto out;
		}
	}
	switch (v) {
	case STORE_SNAPSHOT_KEPT:
		snprintf(extra, sizeof extra, "\"workspace_id\":\"%s\",\"size\":%zu,\"expires_at\":%" PRId64, wid,
			 rawlen, expires);
		ses_push_ok(s, rid, extra);
		log_info(s->label, "snapshot %s: %zu bytes", wid, rawlen);
		break;
	case STORE_SNAPSHOT_OVER_QUOTA:
		ses_push_error(s, rid, 429, "this address's storage quota is used up", "storage_quota", NULL);
		break;
	case STORE_SNAPSHOT_FULL:
		ses_push_error(s, rid, 503, "the job store is full", "store_full", NULL);
		break;
	case STORE_SNAPSHOT_GONE:
		ses_push_error(s, rid, 410, "the session ended", NULL, NULL);
		break;
	}
out:
	if (refreeze && !s->end_reason && cgroup_job_freeze(&s->cg, true, err, sizeof err) < 0)
		log_error(s->label, "pause again after the snapshot: %s", err);
	free(frame);
	free(final);
	free(raw);
}

/*
 * The terminal's open (docs/sessions.md, "Terminal"): the pumps from the
 * first on, the agent's `pty` (reap: the output pump saw the last
 * terminal's 'x'), then for a new terminal its `s` entry and only then
 * 'g' to the relay (its output lands after the entry); for a running one
 * its new size. The reply's since is the terminal's `s` entry.
 */
static void ses_pty(struct ses *s, const struct session_ctl_request *req)
{
	char err[256], *frame, *final = NULL, extra[160];
	const char *field;
	unsigned cols, rows;
	size_t flen;
	bool started, reap;
	int64_t id = ++s->next_id;

	if (s->paused) {
		ses_push_error(s, req->rid, 409, "session is paused", NULL, NULL);
		return;
	}
	if (pty_open_request_size(req->json, &cols, &rows, err, sizeof err, &field) < 0) {
		ses_push_error(s, req->rid, 400, err, NULL, field);
		return;
	}
	if (s->pty.in_pid == 0) {
		const struct pty_pump_config pc = {
			.redis_address = s->cfg->redis_address, .redis_user = s->cfg->redis_runner_user,
			.redis_password = s->cfg->redis_runner_password, .redis_timeout_ms = s->cfg->redis_timeout_ms,
			.keys = &s->keys, .label = s->label, .chan = s->sb.pty_fd,
			.bytes_per_second = s->cfg->limits.pty_output_bytes_per_second,
		};

		if (pty_pumps_start(&s->pty, &pc, err, sizeof err) < 0) {
			log_error(s->label, "terminal: %s", err);
			ses_push_error(s, req->rid, 500, "the terminal could not be started", "internal", NULL);
			return;
		}
	}
	reap = s->pty_starts > 0 && pty_pumps_exits(&s->pty) >= s->pty_starts;
	frame = pty_agent_frame(id, cols, rows, reap, &flen);
	if (ses_agent_call(s, req->rid, id, frame, flen, NULL, 0, SES_FILES_WAIT_MS, 0, true, &final, NULL, NULL) < 0
	    || !final) {
		free(frame);
		return;                 /* answered */
	}
	free(frame);
	if (strstr(final, "\"ok\":false")) {
		ses_push(s, req->rid, final, strlen(final), NULL, 0);
		free(final);
		return;
	}
	if (pty_open_reply_parse(final, strlen(final), &started, err, sizeof err) < 0) {
		log_error(s->label, "terminal: %s", err);
		ses_push_error(s, req->rid, 500, "the session's agent answered nonsense", "internal", NULL);
		free(final);
		return;
	}
	free(final);
	if (started) {
		if (pty_stream_add(&s->redis, &s->keys, "s", "", 0, s->pty_since, sizeof s->pty_since) < 0) {
			log_error(s->label, "terminal: %s", s->redis.error);
			ses_push_error(s, req->rid, 503, "the job store is unreachable", NULL, NULL);
			return;
		}
		s->pty_starts++;
		if (pty_chan_send(s->sb.pty_fd, "g", 1) < 0)
			log_warn(s->label, "terminal: the relay does not take its start: %s", strerror(errno));
		log_info(s->label, "terminal started (%ux%u)", cols, rows);
	} else {
		char r[5];
		const struct pty_input in = { .kind = PTY_INPUT_RESIZE, .cols = cols, .rows = rows };

		pty_chan_send(s->sb.pty_fd, r, pty_chan_encode(&in, r));
	}
	snprintf(extra, sizeof extra, "\"started\":%s,\"since\":\"%s\"", started ? "true" : "false",
		 s->pty_since[0] ? s->pty_since : "0-0");
	ses_push_ok(s, req->rid, extra);
}

/* One request from the session's request list. Returns true for `end` (answered after the end). */
static bool ses_request(struct ses *s, const char *body, size_t len, char *end_rid)
{
	struct session_ctl_request req;
	char err[256];
	bool end = false;

	if (session_ctl_request_parse(body, len, &req, err, sizeof err) < 0) {
		log_warn(s->label, "a request that does not parse: %s", err);
		if (req.rid[0])
			ses_push_error(s, req.rid, 400, err, NULL, NULL);
		session_ctl_request_free(&req);
		return false;
	}
	log_debug(s->label, "request %s: %s", req.rid, session_ctl_op_name(req.op));
	switch (req.op) {
	case SESSION_CTL_OP_PAUSE:
		ses_pause(s, req.rid, true);
		break;
	case SESSION_CTL_OP_RESUME:
		ses_pause(s, req.rid, false);
		break;
	case SESSION_CTL_OP_SNAPSHOT:
		ses_snapshot(s, req.rid);
		break;
	case SESSION_CTL_OP_PTY:
		ses_pty(s, &req);
		break;
	case SESSION_CTL_OP_END:
		snprintf(end_rid, SESSION_CTL_RID_LEN + 1, "%s", req.rid);
		s->end_reason = "deleted";
		end = true;
		break;
	default:
		ses_forward(s, &req);
		break;
	}
	session_ctl_request_free(&req);
	return end;
}

/* ---- the end */

static void ses_teardown(struct ses *s)
{
	struct sandbox_result res = { 0 };
	char err[512];

	if (!s->sandbox_up)
		return;
	pty_pumps_stop(&s->pty);
	sandbox_kill(&s->sb);
	if (s->claimed) {
		struct store_session_state st;

		ses_charge(s, "", &st);       /* what the cgroup counted up to the kill */
	}
	sandbox_wait(&s->sb, &res);
	s->last = res;
	close(s->sb.stdin_fd);
	close(s->sb.stdout_fd);
	close(s->sb.stderr_fd);
	close(s->sb.pty_fd);
	if (cgroup_job_destroy(&s->cg, err, sizeof err) < 0)
		log_warn(s->label, "cgroup: %s", err);
	s->sandbox_up = false;
}

static void ses_end(struct ses *s, const char *reason, const char *error)
{
	char held[STORE_ID_MAX] = "";

	ses_teardown(s);
	if (!s->claimed)
		return;
	for (int64_t until = time_mono_ms() + 30000;;) {
		if (store_session_end(&s->redis, s->c.session_id, s->c.client, reason, time_now_ms(), error, held,
				      sizeof held) == 0)
			break;
		if (time_mono_ms() >= until) {
			log_error(s->label, "cannot record the end: %s", s->redis.error);
			return;
		}
		usleep(SES_REDIS_RETRY_MS * 1000);
	}
	if (s->slot->claim)
		s->slot->claim->session_id[0] = '\0';
	log_info(s->label, "ended: %s (%.3f s cpu)", held[0] ? held : reason, s->cpu_charged);
}

/* ---- create: init, ready */

/* Sends one agent call whose answer must be ok (init, unpack). 0, or -1 with err. */
static int ses_agent_setup(struct ses *s, const char *frame, size_t flen, const char *data, size_t dlen,
			   char *err, size_t errlen)
{
	char *final = NULL;
	int rc;

	if (ses_agent_call(s, STORE_SESSION_CREATE_RID, s->next_id, frame, flen, data, dlen, SES_FILES_WAIT_MS, 0,
			   true, &final, NULL, NULL) < 0)
		return error_format(err, errlen, "%s", s->end_error);
	rc = final && strstr(final, "\"ok\":true") ? 0 : -1;
	if (rc < 0)
		error_format(err, errlen, "the agent refused: %.200s", final ? final : "no answer");
	free(final);
	return rc;
}

/* From claimed to ready. 0, or -1 (the create answered, s->end_reason set). */
static int ses_init(struct ses *s)
{
	char err[512], *frame, *data = NULL, extra[64];
	size_t flen, dlen = 0;
	int64_t expires = 0;
	bool ready = false;

	if (cgroup_job_set_memory(&s->cg, s->c.memory_mb * 1024 * 1024, err, sizeof err) < 0)
		goto fail;
	/* always a round trip with the agent (an empty env when none is
	 * asked): "ready" is said only of a sandbox that answers, never of
	 * one that died building or was not built yet */
	{
		frame = session_ctl_init_frame(++s->next_id, s->c.nenv > 0 ? s->c.env_json : "{}", &flen);
		if (!frame || ses_agent_setup(s, frame, flen, NULL, 0, err, sizeof err) < 0) {
			free(frame);
			goto fail;
		}
		free(frame);
	}
	if (s->c.workspace_id[0]) {
		char key[STORE_KEY_MAX];
		int got;

		if (store_key_workspace(key, sizeof key, s->c.workspace_id) < 0
		    || (got = ses_get(s, "GET", key, &data, &dlen)) < 0) {
			error_format(err, sizeof err, "the job store is unreachable");
			goto fail;
		}
		if (got == 0) {
			ses_push_error(s, STORE_SESSION_CREATE_RID, 400, "the workspace does not exist (expired)", NULL,
				       "workspace_id");
			s->end_reason = "internal";
			snprintf(s->end_error, sizeof s->end_error, "the workspace %s expired", s->c.workspace_id);
			return -1;
		}
		frame = session_ctl_workspace_frame(++s->next_id, true, (int64_t)dlen, &flen);
		if (!frame || ses_agent_setup(s, frame, flen, data, dlen, err, sizeof err) < 0) {
			free(frame);
			free(data);
			goto fail;
		}
		free(frame);
		free(data);
	}
	if (store_session_ready(&s->redis, s->c.session_id, s->c.client, s->slot->runner_name, time_now_ms(),
				s->c.ttl_seconds, s->cfg->limits.quota_idle_seconds * 1000, &ready, &expires) < 0) {
		error_format(err, sizeof err, "session_ready: %s", s->redis.error);
		goto fail;
	}
	if (!ready) {
		/* abandoned meanwhile: the record is ended (no_sandbox) and the responder answered */
		log_info(s->label, "abandoned before it was ready");
		s->end_reason = "no_sandbox";
		return -1;
	}
	snprintf(extra, sizeof extra, "\"expires_at\":%" PRId64, expires);
	ses_push_ok(s, STORE_SESSION_CREATE_RID, extra);
	s->charge_due = time_mono_ms() + SES_CHARGE_MS;
	return 0;
fail:
	log_error(s->label, "create: %s", err);
	if (!s->end_reason)
		ses_push_error(s, STORE_SESSION_CREATE_RID, 500, "the session's sandbox could not be set up", "internal",
			       NULL);
	s->end_reason = "internal";
	snprintf(s->end_error, sizeof s->end_error, "%.200s", err);
	return -1;
}

/* ---- warm: wait for a create entry */

/* Puts a create entry taken from the pool list back at its end. */
static void ses_requeue(struct ses *s, const char *entry, size_t len)
{
	const char *argv[3] = { "RPUSH", s->pool_key, entry };
	size_t lens[3] = { 5, strlen(s->pool_key), len };
	redisReply *reply = rconn_argv(&s->redis, 0, 3, argv, lens);

	if (!reply || reply->type == REDIS_REPLY_ERROR)
		log_warn(NULL, "session pool %s: a create entry could not go back: %s", s->pool_key,
			 reply ? reply->str : s->redis.error);
	if (reply)
		freeReplyObject(reply);
}

/* 1 claimed (s->c filled), 0 asked to stop or gave up, -1 the sandbox died. */
static int ses_warm(struct ses *s)
{
	const struct session_ctl_limits lim = {
		.memory_mb_min = s->cfg->limits.memory_mb_min, .memory_mb_max = s->cfg->limits.memory_mb_max,
		.ttl_max = s->cfg->limits.session_ttl_max, .idle_max = s->cfg->limits.session_idle_max,
	};
	int64_t give_up = s->slot->warm_max_ms > 0 ? time_mono_ms() + s->slot->warm_max_ms : 0;

	ses_set_state(s, SESSION_SUP_WARM);
	while (!ses_stop) {
		char *entry = NULL, err[256];
		size_t len;
		bool claimed = false;
		int got;

		if (give_up && time_mono_ms() >= give_up)
			return 0;
		if (!ses_sandbox_alive(s))
			return -1;     /* session_run logs why, after the teardown reads it */
		ses_drain_stderr(s);
		got = ses_blpop(s, s->pool_key, &entry, &len);
		if (got < 0) {
			log_warn(NULL, "session pool %s: %s", s->pool_key, s->redis.error);
			usleep(SES_REDIS_RETRY_MS * 1000);
			continue;
		}
		if (got == 0)
			continue;
		if (!ses_sandbox_alive(s)) {
			/* it died while this waited: the entry goes back for another
			 * warm sandbox, never to a session that would end at once */
			ses_requeue(s, entry, len);
			free(entry);
			return -1;
		}
		if (session_create_parse(entry, len, &lim, &s->c, err, sizeof err) < 0) {
			log_warn(s->c.session_id[0] ? s->c.session_id : NULL, "a create entry in %s dropped: %s",
				 s->pool_key, err);
			free(entry);
			continue;
		}
		free(entry);
		if (strcmp(s->c.environment, s->slot->environment) != 0) {
			log_warn(s->c.session_id, "create entry for %s found in %s: dropped", s->c.environment, s->pool_key);
			session_create_free(&s->c);
			continue;
		}
		if (store_session_claim(&s->redis, s->c.session_id, s->slot->runner_name, time_now_ms(), &claimed) < 0) {
			/* the responder's wait ends in a 503 (session_abandon.lua) */
			log_error(s->c.session_id, "claim: %s: create entry dropped", s->redis.error);
			session_create_free(&s->c);
			continue;
		}
		if (!claimed) {
			log_info(s->c.session_id, "create entry dropped: the session is not starting any more");
			session_create_free(&s->c);
			continue;
		}
		return 1;
	}
	return 0;
}

int session_run(const struct session_slot *slot)
{
	struct sigaction term = { .sa_handler = ses_on_term };
	struct ses s = { .slot = slot, .cfg = slot->cfg, .cg = { .version = CGROUP_NONE, .fd = -1 } };
	char end_rid[SESSION_CTL_RID_LEN + 1] = "";
	int64_t started;
	int w;

	sigaction(SIGTERM, &term, NULL);
	sigaction(SIGINT, &term, NULL);
	signal(SIGPIPE, SIG_IGN);
	rconn_init(&s.redis, s.cfg->redis_address, s.cfg->redis_runner_user, s.cfg->redis_runner_password,
		   s.cfg->redis_timeout_ms);
	rconn_allow_script_load(&s.redis, NULL);
	store_key_session_pool(s.pool_key, sizeof s.pool_key, slot->environment);
	if (ses_sandbox_start(&s) < 0) {
		rconn_close(&s.redis);
		return 1;
	}
	w = ses_warm(&s);
	if (w <= 0) {
		ses_teardown(&s);
		if (w < 0)      /* what init reported: why the sandbox could not be built or live */
			log_error(NULL, "session sandbox %u ended while warm: %s", slot->index,
				  s.last.message[0] ? s.last.message : "no reason reported");
		rconn_close(&s.redis);
		return w < 0 ? 1 : 0;
	}
	/* claimed: the pool needs a refill now */
	s.claimed = true;
	if (slot->claim) {
		snprintf(slot->claim->client, sizeof slot->claim->client, "%s", s.c.client);
		snprintf(slot->claim->session_id, sizeof slot->claim->session_id, "%s", s.c.session_id);
	}
	snprintf(s.label, sizeof s.label, "%s", s.c.session_id);
	session_keys_make(s.c.session_id, &s.keys);
	ses_set_state(&s, SESSION_SUP_BUSY);
	started = time_mono_ms();
	if (ses_init(&s) == 0) {
		log_info(s.label, "ready in sandbox %u (uid %u, %s, %lld MB) %lld ms after the claim", slot->index,
			 s.cfg->session_uid_base + slot->index, slot->environment, (long long)s.c.memory_mb,
			 (long long)(time_mono_ms() - started));
		while (!s.end_reason) {
			char *body = NULL;
			size_t len;
			int got;

			if (ses_stop) {
				s.end_reason = "runner_lost";
				snprintf(s.end_error, sizeof s.end_error, "the runner was stopped");
				break;
			}
			if (!ses_sandbox_alive(&s)) {
				s.end_reason = "internal";
				snprintf(s.end_error, sizeof s.end_error, "the session's sandbox ended");
				break;
			}
			ses_drain_stderr(&s);
			got = ses_blpop(&s, s.keys.req, &body, &len);
			if (got < 0) {
				log_warn(s.label, "requests: %s", s.redis.error);
				usleep(SES_REDIS_RETRY_MS * 1000);
			} else if (got > 0) {
				bool end = ses_request(&s, body, len, end_rid);

				free(body);
				if (end)
					break;
				s.charge_due = 0;       /* charge after each request */
			}
			ses_tick(&s);
		}
	}
	ses_end(&s, s.end_reason ? s.end_reason : "internal", s.end_error);
	if (end_rid[0])
		ses_push_ok(&s, end_rid, "\"status\":\"ended\"");
	session_create_free(&s.c);
	free(s.in.data);
	rconn_close(&s.redis);
	return 0;
}
