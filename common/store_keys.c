/*
 * The job store's names (common/store.h): key names, job statuses and the
 * log stream's entries. Pure functions, no Redis: what both daemons and
 * the unit test (tests/unit/test_store.c) agree on. The key formats live
 * here and nowhere else in C; redis/job-lib.lua has the few that Lua
 * builds itself.
 */
#include "config.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_QUEUE_GPU_PREFIX "sr:queue:gpu:"   /* + a GPU profile */
#define KEY_GPU_QUEUE_MAX    100               /* a longer GPU queue name is not one (runner/gpu.h keeps 128) */

/* head + part + tail into a key buffer: 0, or -1 (and "") when it does not fit. */
static int key_join(char *out, size_t outlen, const char *head, const char *part, const char *tail)
{
	int n = snprintf(out, outlen, "%s%s%s", head, part, tail);

	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			*out = '\0';
		return -1;
	}
	return 0;
}

int job_keys_make(const char *id, struct job_keys *k)
{
	size_t len = strlen(id);

	memset(k, 0, sizeof *k);
	if (len == 0 || len >= STORE_ID_MAX)
		return -1;
	key_join(k->job, sizeof k->job, "sr:{", id, "}:job");
	key_join(k->upload, sizeof k->upload, "sr:{", id, "}:upload");
	key_join(k->manifest, sizeof k->manifest, "sr:{", id, "}:manifest");
	key_join(k->log, sizeof k->log, "sr:{", id, "}:log");
	key_join(k->out, sizeof k->out, "sr:{", id, "}:out");
	key_join(k->dl, sizeof k->dl, "sr:{", id, "}:dl");
	key_join(k->archive_lock, sizeof k->archive_lock, "sr:{", id, "}:archive-lock");
	return 0;
}

int client_keys_make(const char *client, struct client_keys *k)
{
	memset(k, 0, sizeof *k);
	if (strlen(client) >= STORE_CLIENT_MAX)
		return -1;
	key_join(k->inflight, sizeof k->inflight, "sr:inflight:{", client, "}");
	key_join(k->running, sizeof k->running, "sr:running:{", client, "}");
	key_join(k->cpu, sizeof k->cpu, "sr:cpu:{", client, "}");
	key_join(k->store, sizeof k->store, "sr:store:{", client, "}");
	key_join(k->parked, sizeof k->parked, "sr:parked:{", client, "}");
	key_join(k->sessions, sizeof k->sessions, "sr:sessions:{", client, "}");
	return 0;
}

int session_keys_make(const char *sid, struct session_keys *k)
{
	size_t len = strlen(sid);

	memset(k, 0, sizeof *k);
	if (len == 0 || len >= STORE_ID_MAX)
		return -1;
	key_join(k->ses, sizeof k->ses, "sr:{", sid, "}:ses");
	key_join(k->req, sizeof k->req, "sr:{", sid, "}:req");
	key_join(k->pty, sizeof k->pty, "sr:{", sid, "}:pty");
	key_join(k->pty_in, sizeof k->pty_in, "sr:{", sid, "}:pty:in");
	return 0;
}

static int session_key_with_rid(char *out, size_t outlen, const char *sid, const char *what, const char *rid)
{
	int n;

	if (strlen(sid) >= STORE_ID_MAX || strlen(rid) >= STORE_ID_MAX)
		n = -1;
	else
		n = snprintf(out, outlen, "sr:{%s}:%s:%s", sid, what, rid);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			*out = '\0';
		return -1;
	}
	return 0;
}

int store_key_session_data(char *out, size_t outlen, const char *sid, const char *rid)
{
	return session_key_with_rid(out, outlen, sid, "data", rid);
}

int store_key_session_reply(char *out, size_t outlen, const char *sid, const char *rid)
{
	return session_key_with_rid(out, outlen, sid, "rep", rid);
}

int store_key_session_pool(char *out, size_t outlen, const char *env)
{
	return key_join(out, outlen, "sr:sespool:", env, "");
}

int store_key_workspace(char *out, size_t outlen, const char *wid)
{
	return key_join(out, outlen, "sr:{", wid, "}:wsp");
}

int store_key_runner(char *out, size_t outlen, const char *name)
{
	return key_join(out, outlen, "sr:runner:", name, "");
}

int store_key_gpu_queue(char *out, size_t outlen, double vram_gb, const char *cuda)
{
	int n = snprintf(out, outlen, KEY_QUEUE_GPU_PREFIX "%.0fg-cuda%s", vram_gb, cuda);

	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			*out = '\0';
		return -1;
	}
	return 0;
}

bool store_key_is_gpu_queue(const char *name)
{
	size_t plen = strlen(KEY_QUEUE_GPU_PREFIX), len = strlen(name);

	if (len <= plen || len > KEY_GPU_QUEUE_MAX || strncmp(name, KEY_QUEUE_GPU_PREFIX, plen) != 0)
		return false;
	for (const char *p = name + plen; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

bool store_key_is_queue(const char *name)
{
	return strcmp(name, STORE_KEY_QUEUE) == 0 || store_key_is_gpu_queue(name);
}

int store_queue_taken_field(char *out, size_t outlen, const char *queue)
{
	return key_join(out, outlen, "", queue, STORE_QUEUE_SEQ_TAKEN);
}

static const char *const job_status_names[] = {
	[JOB_STATUS_QUEUED] = "queued",
	[JOB_STATUS_RUNNING] = "running",
	[JOB_STATUS_COMPLETED] = "completed",
	[JOB_STATUS_FAILED] = "failed",
	[JOB_STATUS_CANCELLED] = "cancelled",
};

const char *job_status_name(enum job_status st)
{
	if ((size_t)st >= sizeof job_status_names / sizeof job_status_names[0])
		return NULL;
	return job_status_names[st];
}

enum job_status job_status_parse(const char *s, size_t len)
{
	if (!s)
		return JOB_STATUS_NONE;
	for (size_t i = 0; i < sizeof job_status_names / sizeof job_status_names[0]; i++)
		if (job_status_names[i] && strlen(job_status_names[i]) == len && memcmp(job_status_names[i], s, len) == 0)
			return (enum job_status)i;
	return JOB_STATUS_UNKNOWN;
}

enum job_status job_status_from_reply(const redisReply *r)
{
	if (!r || r->type == REDIS_REPLY_NIL)
		return JOB_STATUS_NONE;
	if (r->type != REDIS_REPLY_STRING)
		return JOB_STATUS_UNKNOWN;
	return job_status_parse(r->str, r->len);
}

bool job_status_ended(enum job_status st)
{
	return st != JOB_STATUS_QUEUED && st != JOB_STATUS_RUNNING;
}

/* One part of a stream id: 1 to 20 digits that fit 64 bits. Its length, or 0. */
static size_t log_entry_id_part(const char *s)
{
	size_t n = strspn(s, "0123456789");
	char *end;

	if (n < 1 || n > 20)
		return 0;
	errno = 0;
	strtoull(s, &end, 10);
	return errno == 0 && end == s + n ? n : 0;
}

bool log_entry_id_valid(const char *s)
{
	size_t ms = log_entry_id_part(s), seq;

	if (!ms)
		return false;
	if (s[ms] == '\0')
		return true;
	if (s[ms] != '-' || !(seq = log_entry_id_part(s + ms + 1)))
		return false;
	return s[ms + 1 + seq] == '\0';
}

int log_entry_read(const redisReply *r, struct log_entry *e)
{
	const redisReply *id, *fields, *s = NULL, *d = NULL;

	memset(e, 0, sizeof *e);
	e->kind = LOG_OTHER;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return -1;
	id = r->element[0];
	if (id->type != REDIS_REPLY_STRING || id->len >= sizeof e->id || strlen(id->str) != id->len ||
	    !log_entry_id_valid(id->str))
		return -1;
	memcpy(e->id, id->str, id->len + 1);
	fields = r->element[1];
	if (fields->type != REDIS_REPLY_ARRAY)
		return 0;
	for (size_t j = 0; j + 1 < fields->elements; j += 2) {
		const redisReply *name = fields->element[j], *value = fields->element[j + 1];

		if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING || name->len != 1)
			continue;
		if (name->str[0] == 's')
			s = value;
		else if (name->str[0] == 'd')
			d = value;
	}
	if (!s || s->len != 1)
		return 0;
	if (s->str[0] == 'x') {
		e->kind = LOG_END;
	} else if ((s->str[0] == 'o' || s->str[0] == 'e') && d) {
		e->kind = s->str[0] == 'e' ? LOG_STDERR : LOG_STDOUT;
		e->data = d->str;
		e->len = d->len;
	}
	return 0;
}

const redisReply *log_xread_entries(const redisReply *r)
{
	const redisReply *stream;

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1)
		return NULL;
	stream = r->element[0];
	if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 || stream->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return stream->element[1];
}
