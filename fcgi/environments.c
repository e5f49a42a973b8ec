/*
 * GET /environments, and what submit asks of it: which interpreters the
 * live runners have. Runners announce the interpreters installed in their
 * environment tree with every heartbeat (sr:runner:NAME, field
 * "interpreters"); a language no live runner has is refused at submit
 * rather than queued to fail later.
 */
#include "config.h"
#include "keys.h"
#include "manifest.h"
#include "routes.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define RUNNERS_LISTED_MAX 256 /* more live runners than this are not all asked */

/*
 * The union of the live runners' interpreters, comma-separated, into out.
 * Returns the number of live runners, or -1 when Redis failed.
 */
static int runners_interpreters(struct request *req, char *out, size_t outlen)
{
	char since[24];
	redisReply *names;
	int live = 0;

	out[0] = '\0';
	snprintf(since, sizeof since, "%lld", (long long)(time_now_ms() - LEASE_MS));
	names = rconn_command(&req->srv->redis, "ZRANGEBYSCORE %s %s +inf LIMIT 0 %d", KEY_RUNNERS, since,
			      RUNNERS_LISTED_MAX);
	if (!names || names->type != REDIS_REPLY_ARRAY) {
		if (names)
			freeReplyObject(names);
		return -1;
	}
	for (size_t i = 0; i < names->elements; i++) {
		char key[KEY_MAX + 200];
		redisReply *r;

		if (names->element[i]->type != REDIS_REPLY_STRING)
			continue;
		live++;
		snprintf(key, sizeof key, KEY_RUNNER_FMT, names->element[i]->str);
		r = rconn_command(&req->srv->redis, "HGET %s interpreters", key);
		if (r && r->type == REDIS_REPLY_STRING) {
			/* Add each name not yet in the union. */
			for (size_t j = 0; manifest_interpreter_name(j); j++) {
				const char *name = manifest_interpreter_name(j);
				char padded[160], have[160];

				snprintf(padded, sizeof padded, ",%s,", r->str);
				snprintf(have, sizeof have, ",%s,", name);
				if (strstr(padded, have) && !strstr(out, have + 1)) {
					size_t used = strlen(out);
					snprintf(out + used, outlen - used, "%s%s", used ? "," : "", name);
				}
			}
		}
		if (r)
			freeReplyObject(r);
	}
	freeReplyObject(names);
	return live;
}

int environment_interpreter_available(struct request *req, const char *name)
{
	char have[160], padded[170], want[80];
	int live = runners_interpreters(req, have, sizeof have);

	if (live <= 0)
		return -1;      /* nobody to ask (no runner yet, or Redis down): let the queue decide */
	snprintf(padded, sizeof padded, ",%s,", have);
	snprintf(want, sizeof want, ",%s,", name);
	return strstr(padded, want) != NULL;
}

void handle_environments(struct request *req, const char *unused)
{
	char have[160];
	json_t *interpreters = json_array(), *env;
	int live;

	(void)unused;
	live = runners_interpreters(req, have, sizeof have);
	if (live < 0) {
		json_decref(interpreters);
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	for (char *p = have, *comma; *p; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		json_array_append_new(interpreters, json_string(p));
		if (!comma)
			break;
	}
	env = json_pack("{s:s, s:s, s:o, s:[]}", "name", "default",
			"description", "the runner host's Debian tree (/usr), read-only",
			"interpreters", interpreters, "packages");
	respond_json(req, 200, json_pack("{s:[o], s:i}", "environments", env, "runners", live), NULL);
}
