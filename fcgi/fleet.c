/*
 * What the live runners offer: see fleet.h. One ZRANGEBYSCORE for the
 * live names, then one HMGET per runner (environments, gpu). The number
 * of runners asked is bounded; so is what is kept of each announcement.
 */
#include "fleet.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEET_RUNNERS_MAX     256        /* more live runners than this are not all asked */
#define FLEET_SLOTS_MAX       (1 << 20) /* one runner's slots figure above this is not believed */
#define FLEET_ANNOUNCE_MAX    (1024 * 1024) /* bytes of one runner's environments announcement (runner/environments.c bounds it) */

/* Adds the strings of `from` not yet in `into`. */
static void fleet_union(json_t *into, const json_t *from)
{
	size_t i, j;
	json_t *v, *w;

	json_array_foreach(from, i, v) {
		int have = 0;

		if (!json_is_string(v))
			continue;
		json_array_foreach(into, j, w)
			have |= json_equal(v, w);
		if (!have)
			json_array_append(into, v);
	}
}

/* Merges one runner's announced environments into f->environments. */
static void fleet_add_environments(struct fleet *f, const char *text, size_t len)
{
	json_t *list = len <= FLEET_ANNOUNCE_MAX ? json_loadb(text, len, 0, NULL) : NULL;
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *desc = json_string_value(json_object_get(e, "description"));
		json_t *interp = json_object_get(e, "interpreters"), *pkgs = json_object_get(e, "packages");
		json_t *missing = json_object_get(e, "missing"), *m;
		size_t k;
		json_t *have;

		if (!name || !manifest_environment_name_valid(name, strlen(name)) || !json_is_array(interp))
			continue;
		if ((have = fleet_environment(f, name)) != NULL) {
			fleet_union(json_object_get(have, "interpreters"), interp);
			json_object_set_new(have, "runners",
					    json_integer(json_integer_value(json_object_get(have, "runners")) + 1));
			continue;
		}
		have = json_pack("{s:s, s:s, s:[], s:[], s:[], s:i}", "name", name, "description", desc ? desc : "",
				 "interpreters", "packages", "missing", "runners", 1);
		fleet_union(json_object_get(have, "interpreters"), interp);
		if (json_is_array(pkgs))
			fleet_union(json_object_get(have, "packages"), pkgs);
		json_array_foreach(missing, k, m)
			if (json_is_string(json_object_get(m, "package")) && json_is_string(json_object_get(m, "why")))
				json_array_append_new(json_object_get(have, "missing"),
						      json_pack("{s:O, s:O}", "package", json_object_get(m, "package"),
								"why", json_object_get(m, "why")));
		json_array_append_new(f->environments, have);
	}
	json_decref(list);
}

/* Keeps one runner's announced GPU, if well formed. */
static void fleet_add_gpu(struct fleet *f, const char *runner, const char *text, size_t len)
{
	json_t *g = len <= 4096 ? json_loadb(text, len, 0, NULL) : NULL;
	const char *name = json_string_value(json_object_get(g, "name"));
	const char *cuda = json_string_value(json_object_get(g, "cuda_version"));
	const char *queue = json_string_value(json_object_get(g, "queue"));
	json_t *vram = json_object_get(g, "vram_gb");

	if (name && cuda && queue && json_is_number(vram) && store_key_is_gpu_queue(queue))
		json_array_append_new(f->gpus, json_pack("{s:s, s:s, s:f, s:s, s:s}", "runner", runner, "name", name,
							 "vram_gb", json_number_value(vram), "cuda_version", cuda,
							 "queue", queue));
	json_decref(g);
}

int fleet_load(struct request *req, struct fleet *f)
{
	char since[24];
	redisReply *names;

	f->live = 0;
	f->slots = f->busy = 0;
	f->environments = json_array();
	f->gpus = json_array();
	snprintf(since, sizeof since, "%lld", (long long)(time_now_ms() - LEASE_MS));
	names = rconn_command(&req->srv->redis, "ZRANGEBYSCORE %s %s +inf LIMIT 0 %d", STORE_KEY_RUNNERS, since,
			      FLEET_RUNNERS_MAX);
	if (!names || names->type != REDIS_REPLY_ARRAY) {
		if (names)
			freeReplyObject(names);
		return -1;
	}
	for (size_t i = 0; i < names->elements; i++) {
		const redisReply *name = names->element[i];
		char key[STORE_RUNNER_KEY_MAX];
		redisReply *r;

		if (name->type != REDIS_REPLY_STRING || name->len > STORE_RUNNER_NAME_MAX ||
		    store_key_runner(key, sizeof key, name->str) < 0)
			continue;
		r = rconn_command(&req->srv->redis, "HMGET %s environments gpu slots busy", key);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
			int64_t slots = 0, busy = 0;

			f->live++;
			if (r->element[0]->type == REDIS_REPLY_STRING)
				fleet_add_environments(f, r->element[0]->str, r->element[0]->len);
			if (r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len > 0)
				fleet_add_gpu(f, name->str, r->element[1]->str, r->element[1]->len);
			/* figures that do not parse count 0 */
			if (r->element[2]->type != REDIS_REPLY_STRING ||
			    parse_int64(r->element[2]->str, 0, FLEET_SLOTS_MAX, &slots) < 0)
				slots = 0;
			if (r->element[3]->type != REDIS_REPLY_STRING ||
			    parse_int64(r->element[3]->str, 0, slots, &busy) < 0)
				busy = 0;
			f->slots += slots;
			f->busy += busy;
		}
		if (r)
			freeReplyObject(r);
	}
	freeReplyObject(names);
	return 0;
}

void fleet_free(struct fleet *f)
{
	json_decref(f->environments);
	json_decref(f->gpus);
	f->environments = f->gpus = NULL;
}

json_t *fleet_environment(const struct fleet *f, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(f->environments, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
			return e;
	return NULL;
}

int fleet_environment_has_interpreter(const json_t *env, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(env, "interpreters"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

const char *fleet_gpu_queue(const struct fleet *f, const struct manifest_gpu *want, char *why, size_t whylen)
{
	const json_t *best = NULL, *g;
	size_t i, used = 0;

	json_array_foreach(f->gpus, i, g) {
		double vram = json_number_value(json_object_get(g, "vram_gb"));
		const char *cuda = json_string_value(json_object_get(g, "cuda_version"));

		if (vram < want->min_vram_gb)
			continue;
		if (want->cuda_version && version_compare(cuda, want->cuda_version) < 0)
			continue;
		if (!best || vram < json_number_value(json_object_get(best, "vram_gb")))
			best = g;
	}
	if (best)
		return json_string_value(json_object_get(best, "queue"));
	/* Say what there is, so the user can ask for something that exists. */
	used = (size_t)snprintf(why, whylen, "%s", json_array_size(f->gpus) ? "live GPUs: " : "no live runner has a GPU");
	json_array_foreach(f->gpus, i, g) {
		if (used >= whylen)
			break;
		used += (size_t)snprintf(why + used, whylen - used, "%s%s (%.0f GB, CUDA %s)", i ? ", " : "",
					 json_string_value(json_object_get(g, "name")),
					 json_number_value(json_object_get(g, "vram_gb")),
					 json_string_value(json_object_get(g, "cuda_version")));
	}
	return NULL;
}
