/*
 * The runner's GPU, for jobs whose manifest asks for one (docs/api.md §3 "gpu").
 * Declared in the configuration (gpu_name, gpu_vram_gb, gpu_cuda_version,
 * gpu_devices: an operator's word, and how the tests fake one), or found
 * with nvidia-smi when gpu_detect is "auto" (the first GPU: run one runner
 * per GPU to offer several). A runner with a GPU reads, besides sr:queue,
 * the queue of its GPU profile (memory and CUDA version): the responders
 * send a GPU job to the queue of the best-fitting live GPU, so it only ever
 * reaches a runner that has what it asked for. The job, and only a job that
 * asked, gets the GPU's device nodes in its /dev.
 */
#ifndef SANDRUN_RUNNER_GPU_H
#define SANDRUN_RUNNER_GPU_H

#include <stddef.h>

#include "config.h"

#define GPU_DEVICES_MAX 8

struct runner_gpu {
	int present;
	char name[128];
	double vram_gb;
	char cuda_version[16];
	char devices[GPU_DEVICES_MAX][64];  /* host device nodes: /dev/nvidia0, /dev/nvidiactl, ... */
	size_t ndevices;
	char queue[128];                   /* sr:queue:gpu:<vram>g-cuda<version> */
};

/*
 * Fills gpu from the configuration or by detection. Returns 0 (present or
 * not), or -1 with err when the configuration declares a GPU badly (a
 * device that is not one, no CUDA version): the runner then refuses to
 * start rather than announce what it cannot give.
 */
int gpu_load(const struct sandrun_config *cfg, struct runner_gpu *gpu, char *err, size_t errlen);

/* The heartbeat's "gpu" field: JSON {name, vram_gb, cuda_version, queue}, or "" without a GPU. Caller frees. */
char *gpu_announce(const struct runner_gpu *gpu);

#endif
