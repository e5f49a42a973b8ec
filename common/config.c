/*
 * sandrun.conf(5): `key = value` lines, `#` comments, blank lines. Keys
 * are the field names of struct sandrun_config and struct sandrun_limits;
 * an unknown key or a value out of range is an error naming the line, so a
 * typo never silently leaves a limit at its default.
 *
 * The file holds both daemons' Redis passwords. Nothing read from it is
 * left behind in freed memory (every buffer the text passes through is
 * wiped before it is freed, and stdio's buffer is never used), so that
 * config_keep_role() can leave a daemon holding its own password only.
 */
#include "config.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A sandrun.conf is a few KB; anything this large is not one. */
#define CONFIG_FILE_MAX (1024 * 1024)

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_UINT, CONFIG_INT64, CONFIG_DOUBLE };

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	int64_t min, max;
};

#define CFG_STR(f)            { #f, CONFIG_STRING, offsetof(struct sandrun_config, f), 0, 0 }
#define CFG_INT(f, lo, hi)    { #f, CONFIG_INT, offsetof(struct sandrun_config, f), lo, hi }
#define CFG_UINT(f, lo, hi)   { #f, CONFIG_UINT, offsetof(struct sandrun_config, f), lo, hi }
#define CFG_LIMIT(f, lo, hi)  { #f, CONFIG_INT64, offsetof(struct sandrun_config, limits.f), lo, hi }
#define CFG_REAL(f, lo, hi)   { #f, CONFIG_DOUBLE, offsetof(struct sandrun_config, limits.f), lo, hi }
#define CFG_RUNNER_REAL(f, lo, hi) { #f, CONFIG_DOUBLE, offsetof(struct sandrun_config, f), lo, hi }

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

static const struct config_key config_keys[] = {
	CFG_STR(redis_address),
	CFG_STR(redis_responder_user),
	CFG_STR(redis_responder_password),
	CFG_STR(redis_runner_user),
	CFG_STR(redis_runner_password),
	CFG_STR(redis_ws_user),
	CFG_STR(redis_ws_password),
	CFG_INT(redis_timeout_ms, 10, 60000),
	CFG_STR(fcgi_listen),
	CFG_STR(fcgi_user),
	CFG_STR(fcgi_socket_group),
	CFG_INT(fcgi_workers, 1, 256),
	/* Each thread costs a small stack and, once used, a Redis connection; two
	 * at least, so a held request can never take the last one. */
	CFG_INT(fcgi_threads, 2, 4096),
	CFG_INT(fcgi_hold_max, 0, 4095),
	CFG_STR(ws_listen),
	CFG_STR(ws_user),
	/* Each costs a thread (two for a terminal) and a Redis connection or two. */
	CFG_INT(ws_max_connections, 1, 65536),
	CFG_INT(runner_slots, 0, 1024),
	CFG_STR(runner_state_dir),
	CFG_STR(runner_name),
	/* Job uids must not collide with real users: keep them far above 65535. */
	CFG_UINT(job_uid_base, 65536, 4000000000LL),
	CFG_UINT(session_uid_base, 65536, 4000000000LL),
	CFG_STR(environments_dir),
	CFG_STR(worker_key),
	CFG_STR(requirements_mirror_dir),
	CFG_STR(gpu_detect),
	CFG_STR(gpu_name),
	CFG_RUNNER_REAL(gpu_vram_gb, 0, 100000),
	CFG_STR(gpu_cuda_version),
	CFG_STR(gpu_devices),
	CFG_STR(cors_origins),
	CFG_STR(api_keys_file),
	CFG_LIMIT(upload_max_bytes, 1 * KIB, 4 * GIB),
	CFG_LIMIT(unpacked_max_bytes, 1 * KIB, 64 * GIB),
	CFG_LIMIT(files_max, 1, 10000000),
	CFG_LIMIT(manifest_max_bytes, 1 * KIB, 64 * MIB),
	CFG_LIMIT(log_max_bytes, 1 * KIB, 1 * GIB),
	CFG_LIMIT(timeout_default, 1, 7 * 86400),
	CFG_LIMIT(timeout_max, 1, 7 * 86400),
	CFG_LIMIT(memory_mb_default, 1, 1024 * 1024),
	CFG_LIMIT(memory_mb_min, 1, 1024 * 1024),
	CFG_LIMIT(memory_mb_max, 1, 1024 * 1024),
	CFG_LIMIT(outputs_max_bytes, 0, 64 * GIB),
	CFG_LIMIT(pids_max, 1, 1000000),
	CFG_LIMIT(retention_seconds, 1, 30 * 86400),
	CFG_LIMIT(failed_retention_seconds, 1, 30 * 86400),
	CFG_LIMIT(queued_max_seconds, 1, 30 * 86400),
	CFG_LIMIT(quota_jobs_max, 1, 100000),
	CFG_REAL(quota_cpu_seconds, 0, 1000000),
	CFG_LIMIT(quota_window_seconds, 1, 86400),
	CFG_LIMIT(quota_idle_seconds, 1, 30 * 86400),
	CFG_LIMIT(quota_storage_bytes, 1 * MIB, 1024 * GIB),
	CFG_LIMIT(quota_running_max, 0, 100000),
	CFG_LIMIT(redis_memory_high_water_percent, 1, 100),
	CFG_LIMIT(redis_memory_results_percent, 1, 100),
	CFG_LIMIT(sessions_per_client, 0, 100000),
	CFG_LIMIT(sessions_max, 0, 1000),
	CFG_LIMIT(session_pool_size, 0, 1000),
	CFG_LIMIT(session_ttl_default, 1, 30 * 86400),
	CFG_LIMIT(session_ttl_max, 1, 30 * 86400),
	CFG_LIMIT(session_idle_default, 1, 30 * 86400),
	CFG_LIMIT(session_idle_max, 1, 30 * 86400),
	CFG_LIMIT(session_file_max_bytes, 1, 64 * GIB),
	CFG_LIMIT(snapshot_max_bytes, 1, 64 * GIB),
	CFG_LIMIT(snapshot_ttl_seconds, 1, 30 * 86400),
	CFG_LIMIT(session_create_wait, 1, 3600),
	CFG_LIMIT(pty_output_bytes_per_second, 1024, 64 * MIB),
};

/* Frees a string that may be a secret, wiping it first; NULL afterwards. */
static void string_wipe_free(char **slot)
{
	if (!*slot)
		return;
	explicit_bzero(*slot, strlen(*slot));
	free(*slot);
	*slot = NULL;
}

/* A key given twice: the first value (maybe a password) is wiped too. */
static void config_set_string(char **slot, const char *value)
{
	string_wipe_free(slot);
	*slot = xstrdup(value);
}

void config_defaults(struct sandrun_config *c)
{
	memset(c, 0, sizeof *c);
	config_set_string(&c->redis_address, "127.0.0.1:6379");
	config_set_string(&c->redis_responder_user, "sandrun-fcgi");
	config_set_string(&c->redis_responder_password, "");
	config_set_string(&c->redis_runner_user, "sandrun-runner");
	config_set_string(&c->redis_runner_password, "");
	config_set_string(&c->redis_ws_user, "sandrun-ws");
	config_set_string(&c->redis_ws_password, "");
	c->redis_timeout_ms = 2000;
	config_set_string(&c->fcgi_listen, "unix:/run/sandrun-fcgi/fcgi.sock");
	config_set_string(&c->fcgi_user, "sandrun");
	config_set_string(&c->fcgi_socket_group, "www-data");
	c->fcgi_workers = 4;
	c->fcgi_threads = 64;
	c->fcgi_hold_max = 0;  /* resolved by config_check: 48 of 64 */
	config_set_string(&c->ws_listen, "127.0.0.1:9100");
	config_set_string(&c->ws_user, "sandrun");
	c->ws_max_connections = 512;
	c->runner_slots = 0;
	config_set_string(&c->runner_state_dir, "/run/sandrun-runner");
	config_set_string(&c->runner_name, "");
	config_set_string(&c->worker_key, "");
	c->job_uid_base = 1900000;
	c->session_uid_base = 1950000;
	config_set_string(&c->environments_dir, LOCALSTATEDIR "/lib/sandrun/environments");
	config_set_string(&c->requirements_mirror_dir, LOCALSTATEDIR "/lib/sandrun/mirror");
	config_set_string(&c->gpu_detect, "auto");
	config_set_string(&c->gpu_name, "");
	config_set_string(&c->gpu_cuda_version, "");
	config_set_string(&c->gpu_devices, "");
	config_set_string(&c->cors_origins, "");
	config_set_string(&c->api_keys_file, "");

	/* docs/api.md §4 and §5 defaults. */
	c->limits.upload_max_bytes = 100 * 1000 * 1000;
	c->limits.unpacked_max_bytes = 512 * MIB;
	c->limits.files_max = 10000;
	c->limits.manifest_max_bytes = 2 * MIB; /* stdin (1 MiB) travels inside it */
	c->limits.log_max_bytes = 1 * MIB;
	c->limits.timeout_default = 300;
	c->limits.timeout_max = 3600;
	c->limits.memory_mb_default = 512;
	c->limits.memory_mb_min = 16;
	c->limits.memory_mb_max = 4096;
	c->limits.outputs_max_bytes = 100 * 1000 * 1000;
	c->limits.pids_max = 64;
	c->limits.retention_seconds = 3600;
	c->limits.failed_retention_seconds = 300;
	c->limits.queued_max_seconds = 3600;
	c->limits.quota_jobs_max = 2;
	c->limits.quota_cpu_seconds = 10.0;
	c->limits.quota_window_seconds = 60;
	c->limits.quota_idle_seconds = 3600;
	c->limits.quota_storage_bytes = INT64_C(256) * 1024 * 1024;
	c->limits.quota_running_max = 0;
	c->limits.redis_memory_high_water_percent = 80;
	c->limits.redis_memory_results_percent = 95;
	c->limits.sessions_per_client = 2;
	c->limits.sessions_max = 8;
	c->limits.session_pool_size = 2;
	c->limits.session_ttl_default = 1800;
	c->limits.session_ttl_max = 3600;
	c->limits.session_idle_default = 300;
	c->limits.session_idle_max = 3600;
	c->limits.session_file_max_bytes = 100 * 1000 * 1000;
	c->limits.snapshot_max_bytes = 64 * MIB;
	c->limits.snapshot_ttl_seconds = 3600;
	c->limits.session_create_wait = 20;
	c->limits.pty_output_bytes_per_second = 262144;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int config_set(struct sandrun_config *c, const char *key, const char *value,
		      unsigned lineno, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
		const struct config_key *k = &config_keys[i];
		char *field = (char *)c + k->offset;
		int64_t v;

		if (strcmp(k->name, key) != 0)
			continue;
		if (k->type == CONFIG_STRING) {
			config_set_string((char **)field, value);
			return 0;
		}
		if (k->type == CONFIG_DOUBLE) {
			char *end;
			double d = strtod(value, &end);

			if (!*value || *end || !(d >= (double)k->min && d <= (double)k->max))
				return error_format(err, errlen, "line %u: %s must be a number from %lld to %lld",
						    lineno, key, (long long)k->min, (long long)k->max);
			*(double *)field = d;
			return 0;
		}
		if (parse_int64(value, k->min, k->max, &v) < 0)
			return error_format(err, errlen, "line %u: %s must be an integer from %lld to %lld",
					    lineno, key, (long long)k->min, (long long)k->max);
		if (k->type == CONFIG_INT)
			*(int *)field = (int)v;
		else if (k->type == CONFIG_UINT)
			*(unsigned *)field = (unsigned)v;
		else
			*(int64_t *)field = v;
		return 0;
	}
	return error_format(err, errlen, "line %u: unknown key '%s'", lineno, key);
}

static int config_check(struct sandrun_config *c, char *err, size_t errlen)
{
	const struct sandrun_limits *l = &c->limits;

	/* Held requests may take at most 3/4 of the threads: the rest answers
	 * quick requests (/health, /submit, /status) however many wait. */
	if (c->fcgi_hold_max == 0)
		c->fcgi_hold_max = c->fcgi_threads - (c->fcgi_threads / 4 > 1 ? c->fcgi_threads / 4 : 1);
	if (c->fcgi_hold_max >= c->fcgi_threads)
		return error_format(err, errlen, "fcgi_hold_max must be below fcgi_threads (%d), leaving threads for "
				    "quick requests", c->fcgi_threads);

	if (l->timeout_default > l->timeout_max)
		return error_format(err, errlen, "timeout_default is above timeout_max");
	if (l->memory_mb_min > l->memory_mb_max ||
	    l->memory_mb_default < l->memory_mb_min || l->memory_mb_default > l->memory_mb_max)
		return error_format(err, errlen, "memory_mb_default must lie within memory_mb_min..memory_mb_max");
	if (l->session_ttl_default > l->session_ttl_max)
		return error_format(err, errlen, "session_ttl_default is above session_ttl_max");
	if (l->session_idle_default > l->session_idle_max)
		return error_format(err, errlen, "session_idle_default is above session_idle_max");
	/* Job slots (runner_slots; 0: the CPUs, up to 1024) and session sandboxes never share a uid. */
	if ((int64_t)c->session_uid_base < (int64_t)c->job_uid_base + (c->runner_slots ? c->runner_slots : 1024) &&
	    (int64_t)c->job_uid_base < (int64_t)c->session_uid_base + 2 * l->sessions_max)
		return error_format(err, errlen, "session_uid_base .. + 2 x sessions_max (sessions, their agents) overlaps the job uids "
				    "(job_uid_base .. + runner_slots)");
	return 0;
}

int config_parse(const char *text, size_t len, struct sandrun_config *out, char *err, size_t errlen)
{
	char *copy = xstrndup(text, len), *line, *next;
	unsigned lineno = 0;
	int rc = -1;

	config_defaults(out);
	if (memchr(text, '\0', len)) {
		error_format(err, errlen, "the file holds a NUL byte");
		goto fail;
	}
	for (line = copy; line; line = next) {
		char *eq, *key, *value, *hash;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		line = trim(line);
		if (!*line)
			continue;
		if (!(eq = strchr(line, '='))) {
			error_format(err, errlen, "line %u: expected 'key = value'", lineno);
			goto fail;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if (config_set(out, key, value, lineno, err, errlen) < 0)
			goto fail;
	}
	rc = config_check(out, err, errlen);
fail:
	explicit_bzero(copy, len);   /* it held every value, passwords too */
	free(copy);
	if (rc < 0)
		config_free(out);
	return rc;
}

/*
 * Reads the whole file into a buffer of its own (*text, *len; NUL-ended).
 * With read(2), not stdio: fclose frees stdio's buffer without wiping it,
 * and growing the buffer wipes what it leaves behind (realloc would not).
 * Who frees: the caller, wiping *len bytes first.
 */
static int config_read_file(int fd, const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	size_t cap = 0;

	*text = NULL;
	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len + 1 >= cap) {
			size_t grown = cap ? cap * 2 : 4096;
			char *bigger;

			if (*len > CONFIG_FILE_MAX)
				return error_format(err, errlen, "%s is larger than 1 MiB", path);
			bigger = xmalloc(grown);
			if (*text) {
				memcpy(bigger, *text, *len);
				explicit_bzero(*text, *len);
				free(*text);
			}
			*text = bigger;
			cap = grown;
		}
		n = read(fd, *text + *len, cap - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_format(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (*len > CONFIG_FILE_MAX)
		return error_format(err, errlen, "%s is larger than 1 MiB", path);
	(*text)[*len] = '\0';
	return 0;
}

int config_load(const char *path, struct sandrun_config *out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return error_format(err, errlen, "cannot open %s: %s", path, strerror(errno));
	rc = config_read_file(fd, path, &text, &len, err, errlen);
	close(fd);
	if (rc == 0)
		rc = config_parse(text, len, out, err, errlen);
	if (text)
		explicit_bzero(text, len);
	free(text);
	if (rc == 0)
		out->path = xstrdup(path);
	return rc;
}

void config_keep_role(struct sandrun_config *c, enum config_role role)
{
	/* Only the passwords are secret: the rest (paths, names, limits) is
	 * harmless in either daemon, and the worker key's bytes are read by
	 * the runner alone (runner/sign.c), never by config_load. */
	if (role != CONFIG_ROLE_RESPONDER)
		string_wipe_free(&c->redis_responder_password);
	if (role != CONFIG_ROLE_RUNNER)
		string_wipe_free(&c->redis_runner_password);
	if (role != CONFIG_ROLE_WS)
		string_wipe_free(&c->redis_ws_password);
}

void config_free(struct sandrun_config *c)
{
	free(c->path);
	free(c->redis_address);
	free(c->redis_responder_user);
	string_wipe_free(&c->redis_responder_password);
	free(c->redis_runner_user);
	string_wipe_free(&c->redis_runner_password);
	free(c->redis_ws_user);
	string_wipe_free(&c->redis_ws_password);
	free(c->ws_listen);
	free(c->ws_user);
	free(c->fcgi_listen);
	free(c->fcgi_user);
	free(c->fcgi_socket_group);
	free(c->runner_state_dir);
	free(c->runner_name);
	free(c->worker_key);
	free(c->environments_dir);
	free(c->gpu_detect);
	free(c->gpu_name);
	free(c->gpu_cuda_version);
	free(c->gpu_devices);
	free(c->cors_origins);
	free(c->api_keys_file);
	free(c->requirements_mirror_dir);
	memset(c, 0, sizeof *c);
}
