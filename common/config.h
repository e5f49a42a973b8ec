/*
 * The one configuration file, read by responders and runners alike
 * (sandrun.conf(5)). Lines are `key = value`; `#` starts a comment.
 * Every limit of the service lives here, so an operator changes a limit
 * in one place and every process on every host agrees on it.
 */
#ifndef SANDRUN_CONFIG_H
#define SANDRUN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SANDRUN_DEFAULT_CONFIG SYSCONFDIR "/sandrun/sandrun.conf"

struct sandrun_limits {
	int64_t upload_max_bytes;      /* compressed archive as sent: 100 MB */
	int64_t unpacked_max_bytes;    /* sum of entry sizes: 512 MB */
	int64_t files_max;             /* archive entries: 10,000 */
	int64_t manifest_max_bytes;    /* manifest JSON text: 2 MiB (stdin is inside) */
	int64_t log_max_bytes;         /* per stream, then truncated: 1 MiB */
	int64_t timeout_default;       /* seconds: 300 */
	int64_t timeout_max;           /* seconds: 3600 */
	int64_t memory_mb_default;     /* 512 */
	int64_t memory_mb_min;         /* 16 */
	int64_t memory_mb_max;         /* 4096 */
	int64_t outputs_max_bytes;     /* 100 MB */
	int64_t pids_max;              /* 64 */
	int64_t retention_seconds;     /* after the end, at the latest: 3600 */
	int64_t failed_retention_seconds; /* after a failure: 300 */
	int64_t queued_max_seconds;    /* a job never started is dropped after: 3600 */

	/* Per client IP (an IPv6 client counts by its /64). */
	int64_t quota_jobs_max;        /* queued or running at once: 2 */
	double quota_cpu_seconds;      /* CPU-seconds charged in any sliding window: 10 */
	int64_t quota_window_seconds;  /* the window: 60 */
	int64_t quota_idle_seconds;    /* usage forgotten after this long without activity: 3600 */
	/* Bytes of Redis a client's jobs may hold at once (uploads, logs,
	 * outputs, records), reserved before they are written: 256 MiB, one
	 * largest job (100 MB upload + 100 MB outputs + logs) and room to spare. */
	int64_t quota_storage_bytes;
	/* Runner slots one client's jobs may hold at once: 0 = half the live
	 * fleet's slots (at least 1), so one client never holds them all. */
	int64_t quota_running_max;

	/* Redis memory (its maxmemory). Above high_water percent, new jobs are
	 * refused (503) and /health says degraded; what is already running keeps
	 * the rest for its results. Outputs are kept only while Redis stays under
	 * results percent, so logs, records and heartbeats always fit. */
	int64_t redis_memory_high_water_percent;  /* 80 */
	int64_t redis_memory_results_percent;     /* 95 */

	/* Sessions (SPEC §7, docs/sessions.md). */
	int64_t sessions_per_client;       /* live sessions one client address holds at once: 2 */
	int64_t sessions_max;              /* sessions one runner holds at once (warm ones included): 8 */
	int64_t session_pool_size;         /* warm sandboxes a runner keeps for `default`: 2 */
	int64_t session_ttl_default;       /* seconds: 1800 */
	int64_t session_ttl_max;           /* seconds: 3600 */
	int64_t session_idle_default;      /* seconds without a request before it ends: 300 */
	int64_t session_idle_max;          /* seconds: 3600 */
	int64_t session_file_max_bytes;    /* one file written or read through the files routes: 100 MB */
	int64_t snapshot_max_bytes;        /* a snapshot's .tar.gz: 64 MiB (then 413) */
	int64_t snapshot_ttl_seconds;      /* how long a snapshot is kept: 3600 */
	int64_t session_create_wait;       /* seconds a create waits for a sandbox before a 503: 20 */
	int64_t pty_output_bytes_per_second; /* a session terminal's output root reads, at most: 262144 */
};

struct sandrun_config {
	char *path;                    /* the file it came from */

	/* Redis: "host:port" or "unix:/path". Each role has its own ACL user. */
	char *redis_address;
	char *redis_responder_user;    /* default "sandrun-fcgi" */
	char *redis_responder_password;
	char *redis_runner_user;       /* default "sandrun-runner" */
	char *redis_runner_password;
	char *redis_ws_user;           /* default "sandrun-ws" (the WebSocket gateway) */
	char *redis_ws_password;
	int redis_timeout_ms;          /* connect and command timeout: 2000 */

	/* Responder (sandrun-fcgi). */
	char *fcgi_listen;             /* "unix:/run/sandrun-fcgi/fcgi.sock" or "127.0.0.1:9000" */
	char *fcgi_user;               /* unprivileged user it drops to: "sandrun" */
	char *fcgi_socket_group;       /* group that may connect to a unix socket (nginx's) */
	int fcgi_workers;              /* preforked responders: 4 */
	int fcgi_threads;              /* requests each responder serves at once (one thread each): 64 */
	int fcgi_hold_max;             /* held requests (?wait, live streams) per process, counted over the
	                                  pool: fcgi_workers x this at once; 0 = 3/4 of fcgi_threads */

	/* WebSocket gateway (sandrun-ws, ws/main.c): plain HTTP on loopback, behind nginx. */
	char *ws_listen;               /* "127.0.0.1:9100" */
	char *ws_user;                 /* unprivileged user it drops to: "sandrun" */
	int ws_max_connections;        /* WebSockets open at once (one thread and Redis connection each): 512 */

	/* Runner (sandrun-runner). */
	int runner_slots;              /* jobs at once; 0 = number of CPUs */
	char *runner_state_dir;        /* where sandbox roots are mounted: /run/sandrun-runner */
	char *runner_name;             /* consumer name in the queue; default hostname:pid */
	unsigned job_uid_base;         /* slot i runs as uid/gid base+i: 1900000 */
	unsigned session_uid_base;     /* session sandbox i runs as uid/gid base+i, its agent keeps
	                                  base+sessions_max+i: 1950000 (never a job's) */
	char *environments_dir;        /* named environment trees: /var/lib/sandrun/environments */
	char *worker_key;              /* Ed25519 key (PEM) results are signed with; "" = unsigned */
	char *requirements_mirror_dir; /* package mirror for requirements (pip/, npm/): /var/lib/sandrun/mirror */
	/* The runner's GPU (runner/gpu.h): detected ("auto": nvidia-smi) unless
	 * gpu_name declares one, with its memory, CUDA version and device nodes. */
	char *gpu_detect;              /* "auto" or "off" */
	char *gpu_name;                /* "" = detect; else the GPU this runner offers */
	double gpu_vram_gb;
	char *gpu_cuda_version;        /* "12.2" */
	char *gpu_devices;             /* device nodes given to GPU jobs, space-separated */
	/* Web origins ("scheme://host[:port]", space-separated) whose pages may call the API
	 * from a browser (CORS); a POST/PUT/DELETE from any other foreign origin is refused
	 * (fcgi/compat.c). "" = none. */
	char *cors_origins;
	/* Optional API keys (common/api_keys.h): "" = anonymous, quotas per
	 * address; else every request needs a key of this file, and quotas
	 * count per key. Read again when it changes (fcgi/auth.c). */
	char *api_keys_file;

	struct sandrun_limits limits;
};

/*
 * Parses the file at `path` into `out` (defaults for what it leaves out).
 * Returns 0, or -1 with a sentence naming the line in `err`.
 * Who frees: the caller, with config_free().
 */
int config_load(const char *path, struct sandrun_config *out, char *err, size_t errlen);
/* Same, from text in memory (tests, fuzzing). */
int config_parse(const char *text, size_t len, struct sandrun_config *out, char *err, size_t errlen);
void config_defaults(struct sandrun_config *out);
/* Wipes the passwords in it before freeing them. */
void config_free(struct sandrun_config *cfg);

enum config_role {
	CONFIG_ROLE_RESPONDER,  /* sandrun-fcgi: keeps redis_responder_password */
	CONFIG_ROLE_RUNNER,     /* sandrun-runner: keeps redis_runner_password */
	CONFIG_ROLE_WS,         /* sandrun-ws: keeps redis_ws_password */
};

/*
 * The file holds every role's Redis password; each daemon calls this right
 * after config_load, so a compromised responder cannot act as the runner
 * (whose ACL user writes results), nor the runner as a responder. Wipes
 * and frees the other role's password; that field is NULL afterwards, so
 * using it by mistake fails loudly instead of authenticating as the other.
 */
void config_keep_role(struct sandrun_config *cfg, enum config_role role);

#endif
