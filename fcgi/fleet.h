/*
 * What the live runners offer, read from their heartbeats (sr:runners,
 * sr:runner:NAME; runner/main.c writes them every LEASE_REFRESH_MS): the
 * environments with their interpreters, and the GPUs. The responders list
 * it (GET /environments) and refuse at submit what no live runner could
 * run, rather than queue a job to fail later. A heartbeat is the runner's
 * word: parsed with bounds, never trusted to be well formed.
 */
#ifndef SANDRUN_FLEET_H
#define SANDRUN_FLEET_H

#include <jansson.h>

#include "manifest.h"
#include "request.h"

struct fleet {
	int live;              /* runners whose heartbeat is younger than LEASE_MS */
	json_t *environments;  /* merged by name: [{name, description, interpreters, packages, missing, runners}] */
	json_t *gpus;          /* one per GPU runner: [{runner, name, vram_gb, cuda_version, queue}] */
	long long slots;       /* the live runners' slots, summed */
	long long busy;        /* of them, running a job now */
};

/* Reads the live runners' announcements; 0, or -1 when Redis failed. fleet_free frees. */
int fleet_load(struct request *req, struct fleet *f);
void fleet_free(struct fleet *f);

/* The merged environment called name, or NULL when no live runner has it. */
json_t *fleet_environment(const struct fleet *f, const char *name);

/* true when environment env (from fleet_environment) lists interpreter name. */
int fleet_environment_has_interpreter(const json_t *env, const char *name);

/*
 * The queue for a job that needs a GPU: that of the live GPU runner with
 * the least VRAM that still meets want (min_vram_gb, cuda_version), so the
 * big GPUs stay free for the jobs that need them. NULL when none matches
 * (why then says what the live GPUs are).
 */
const char *fleet_gpu_queue(const struct fleet *f, const struct manifest_gpu *want, char *why, size_t whylen);

#endif
