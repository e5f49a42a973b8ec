/*
 * GET /environments: what the live runners offer (fcgi/fleet.c merges
 * their heartbeats), each environment with the interpreters installed in
 * its tree and its packages, and how many live runners have it; also the
 * original Sandrun's "templates" (names) and "stats" keys, which its admin
 * console prints.
 */
#include "fleet.h"
#include "routes.h"

void handle_environments(struct request *req, const char *unused)
{
	struct fleet f;

	(void)unused;
	if (fleet_load(req, &f) < 0) {
		fleet_free(&f);
		respond_unavailable(req, "the job store is unreachable");
		return;
	}
	{
		/* the queue is the service's own business */
		size_t i;
		json_t *g;

		json_array_foreach(f.gpus, i, g)
			json_object_del(g, "queue");
	}
	{
		/* The original Sandrun's view beside ours: "templates" (the names) and "stats"
		 * (total_templates; the counts it kept of its cached trees have no meaning here). */
		json_t *templates = json_array(), *e;
		size_t i;

		json_array_foreach(f.environments, i, e)
			if (json_is_string(json_object_get(e, "name")))
				json_array_append(templates, json_object_get(e, "name"));
		respond_json(req, 200, json_pack("{s:O, s:i, s:O, s:o, s:{s:I, s:i}}", "environments", f.environments,
						 "runners", f.live, "gpus", f.gpus, "templates", templates, "stats",
						 "total_templates", (json_int_t)json_array_size(templates), "runners",
						 f.live), NULL);
	}
	fleet_free(&f);
}
