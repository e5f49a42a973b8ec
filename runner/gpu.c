/*
 * The runner's GPU: see gpu.h. Detection runs nvidia-smi with a fixed argv
 * (never a shell) and reads its CSV; nothing about a GPU is guessed.
 */
#include "gpu.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NVIDIA_SMI "/usr/bin/nvidia-smi"

/* Runs NVIDIA_SMI with args, its stdout (at most outlen - 1 bytes) into out; 0 on exit 0. */
static int gpu_run_smi(const char *const *args, char *out, size_t outlen)
{
	int pipefd[2], status;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	if (access(NVIDIA_SMI, X_OK) < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(pipefd[1], 1);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 2);
		}
		execv(NVIDIA_SMI, (char *const *)args);
		_exit(127);
	}
	close(pipefd[1]);
	while (used + 1 < outlen && (n = read(pipefd[0], out + used, outlen - 1 - used)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		used += (size_t)n;
	}
	out[used] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The first GPU as nvidia-smi reports it; 0 when found. */
static int gpu_detect_nvidia(struct runner_gpu *gpu)
{
	static const char *const query[] = { NVIDIA_SMI, "--query-gpu=index,name,memory.total",
					     "--format=csv,noheader,nounits", NULL };
	static const char *const plain[] = { NVIDIA_SMI, NULL };
	static const char *const nodes[] = { "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools" };
	char text[8192], *p, *q, *end;
	unsigned long index;
	double mib;
	struct stat st;

	if (gpu_run_smi(query, text, sizeof text) < 0)
		return -1;
	/* "0, NVIDIA A100-SXM4-40GB, 40960" */
	index = strtoul(text, &end, 10);
	if (end == text || *end != ',' || !(q = strrchr(text, ',')) || q == end)
		return -1;
	mib = strtod(q + 1, NULL);
	for (p = end + 1; *p == ' '; p++)
		;
	snprintf(gpu->name, sizeof gpu->name, "%.*s", (int)(q - p), p);
	gpu->vram_gb = mib / 1024.0;
	/* the CUDA version the driver supports is in the plain report's header */
	if (gpu_run_smi(plain, text, sizeof text) < 0 || !(p = strstr(text, "CUDA Version:")))
		return -1;
	for (p += strlen("CUDA Version:"); *p == ' '; p++)
		;
	for (q = p; isdigit((unsigned char)*q) || *q == '.'; q++)
		;
	snprintf(gpu->cuda_version, sizeof gpu->cuda_version, "%.*s", (int)(q - p), p);
	snprintf(gpu->devices[gpu->ndevices++], sizeof gpu->devices[0], "/dev/nvidia%lu", index);
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
		if (stat(nodes[i], &st) == 0 && S_ISCHR(st.st_mode))
			snprintf(gpu->devices[gpu->ndevices++], sizeof gpu->devices[0], "%s", nodes[i]);
	return *gpu->name && *gpu->cuda_version ? 0 : -1;
}

/* A CUDA version as the manifest writes them: digits and dots, "12.2". */
static int gpu_version_valid(const char *v)
{
	if (!isdigit((unsigned char)*v) || strlen(v) > 12)
		return 0;
	for (; *v; v++)
		if (!isdigit((unsigned char)*v) && *v != '.')
			return 0;
	return 1;
}

int gpu_load(const struct sandrun_config *cfg, struct runner_gpu *gpu, char *err, size_t errlen)
{
	memset(gpu, 0, sizeof *gpu);
	if (*cfg->gpu_name) {
		char list[1024], *save = NULL, *dev;

		snprintf(gpu->name, sizeof gpu->name, "%s", cfg->gpu_name);
		gpu->vram_gb = cfg->gpu_vram_gb;
		if (!gpu_version_valid(cfg->gpu_cuda_version))
			return error_format(err, errlen, "gpu_cuda_version must be a version such as 12.2");
		snprintf(gpu->cuda_version, sizeof gpu->cuda_version, "%s", cfg->gpu_cuda_version);
		snprintf(list, sizeof list, "%s", cfg->gpu_devices);
		for (dev = strtok_r(list, " \t,", &save); dev; dev = strtok_r(NULL, " \t,", &save)) {
			struct stat st;

			if (gpu->ndevices == GPU_DEVICES_MAX || strlen(dev) >= sizeof gpu->devices[0])
				return error_format(err, errlen, "gpu_devices: at most %d paths of under 64 bytes",
						    GPU_DEVICES_MAX);
			if (dev[0] != '/' || stat(dev, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
				return error_format(err, errlen, "gpu_devices: %s is not a device node", dev);
			snprintf(gpu->devices[gpu->ndevices++], sizeof gpu->devices[0], "%s", dev);
		}
		if (gpu->ndevices == 0)
			return error_format(err, errlen, "gpu_name is set but gpu_devices names no device");
	} else if (strcmp(cfg->gpu_detect, "auto") == 0) {
		if (gpu_detect_nvidia(gpu) < 0) {
			memset(gpu, 0, sizeof *gpu);
			return 0;       /* no GPU here */
		}
	} else if (strcmp(cfg->gpu_detect, "off") == 0) {
		return 0;
	} else {
		return error_format(err, errlen, "gpu_detect must be auto or off");
	}
	gpu->present = 1;
	if (store_key_gpu_queue(gpu->queue, sizeof gpu->queue, gpu->vram_gb, gpu->cuda_version) < 0)
		return error_format(err, errlen, "gpu_cuda_version is too long");
	return 0;
}

char *gpu_announce(const struct runner_gpu *gpu)
{
	json_t *o;
	char *text;

	if (!gpu->present)
		return xstrdup("");
	o = json_pack("{s:s, s:f, s:s, s:s}", "name", gpu->name, "vram_gb", gpu->vram_gb, "cuda_version",
		      gpu->cuda_version, "queue", gpu->queue);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;    /* NULL: a name that is not UTF-8 */
	json_decref(o);
	return text ? text : xstrdup("");
}
