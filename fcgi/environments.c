/*
 * GET /environments: what the live runners offer (fcgi/fleet.c merges
 * their heartbeats), each environment with the interpreters installed in
 * its tree and its packages, and how many live runners have it.
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
	respond_json(req, 200, json_pack("{s:O, s:i, s:O}", "environments", f.environments, "runners", f.live,
					 "gpus", f.gpus), NULL);
	fleet_free(&f);
}
