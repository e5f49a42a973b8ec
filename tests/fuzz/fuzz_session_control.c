/*
 * libFuzzer target: the control messages a session's supervisor (root)
 * reads from Redis and from its agent (runner/session_control.c). The
 * input goes to the create-entry parser, the request parser (and, when it
 * parses, to the agent-frame builder), and to the agent-frame translator.
 * Checked: what parses holds valid ids and numbers in their bounds; every
 * frame built is JSON again; a final reply says "final":true and an
 * error's status is 4xx/5xx. Every buffer is a heap copy of its exact
 * size, so ASan sees overreads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jobid.h"
#include "session_control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *s, size_t len)
{
	json_t *o = json_loadb(s, len, 0, NULL);

	if (!o || !json_is_object(o))
		abort();
	json_decref(o);
}

static void check_create(const char *copy, size_t size)
{
	const struct session_ctl_limits lim = { 16, 4096, 3600, 3600 };
	struct session_create c;
	char err[256] = "";

	if (session_create_parse(copy, size, &lim, &c, err, sizeof err) < 0) {
		if (!err[0] || c.env_json)
			abort();
		return;
	}
	if (!prefixed_id_valid(SESID_PREFIX, c.session_id, strlen(c.session_id)) || c.memory_mb < 16
	    || c.memory_mb > 4096 || c.ttl_seconds < 1 || c.ttl_seconds > 3600 || c.idle_timeout_seconds < 1
	    || !c.env_json || !c.client[0] || !c.environment[0])
		abort();
	{
		size_t len;
		char *f = session_ctl_init_frame(1, c.env_json, &len);

		if (!f)
			abort();
		check_json(f, len);
		free(f);
	}
	session_create_free(&c);
}

static void check_request(const char *copy, size_t size)
{
	struct session_ctl_request r;
	char err[256] = "", *f;
	const char *field;
	size_t len;

	if (session_ctl_request_parse(copy, size, &r, err, sizeof err) < 0) {
		if (!err[0])
			abort();
		session_ctl_request_free(&r);
		return;
	}
	if (strlen(r.rid) != 16 || r.op >= SESSION_CTL_OP_COUNT)
		abort();
	f = session_ctl_agent_frame(&r, 7, r.has_data ? 3 : -1, &len, err, sizeof err, &field);
	if (f) {
		check_json(f, len);
		free(f);
	} else if (!err[0]) {
		abort();
	}
	session_ctl_request_free(&r);
}

static void check_translate(const char *copy, size_t size)
{
	enum session_ctl_kind kind;
	char err[256] = "", *reply;
	size_t rlen;
	int64_t bin;

	if (session_ctl_translate(copy, size, 7, &kind, &reply, &rlen, &bin, err, sizeof err) < 0) {
		if (!err[0] || reply)
			abort();
		return;
	}
	check_json(reply, rlen);
	if (kind == SESSION_CTL_FINAL) {
		json_t *o = json_loadb(reply, rlen, 0, NULL), *st = json_object_get(o, "status");

		if (!json_is_true(json_object_get(o, "final")))
			abort();
		if (json_is_false(json_object_get(o, "ok"))
		    && (!json_is_integer(st) || json_integer_value(st) < 400 || json_integer_value(st) > 599 || bin != -1))
			abort();
		json_decref(o);
	} else if (bin != -1) {
		abort();
	}
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	check_create(copy, size);
	check_request(copy, size);
	check_translate(copy, size);
	free(copy);
	return 0;
}
