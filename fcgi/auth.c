/*
 * Optional API keys (sandrun.conf's api_keys_file; common/api_keys.h).
 * Anonymous is the default: with no file, nothing here runs and quotas
 * count per address. With one, every request but the few that hold no
 * client data (GET / and /health, /metrics, a CORS preflight) needs
 * "Authorization: Bearer KEY" of a key in the file: else 401 in the API's
 * error shape. The client is then the key, "key:NAME": its jobs, sessions
 * and quotas count under that name, with the key's own quotas where the
 * file gives any.
 *
 * The key is hashed (SHA-256) and compared with every entry in constant
 * time (api_keys_find); it is never logged, and the request's copy of the
 * header is nginx's, freed with the request. The file is read again when
 * it changes (its mtime, size or inode, looked at once a second at most by
 * each responder), so a key is added or revoked without a restart; a file
 * that no longer parses keeps the last good table, and says why in the log.
 * The WebSocket routes (live log streams and terminals, sandrun-ws) take no
 * key: they need the id of a job or session, which only its creator holds.
 */
#include "auth.h"
#include "api_keys.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUTH_RECHECK_SECONDS 1
#define AUTH_FILE_MAX (4 * 1024 * 1024)

static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;
static struct api_keys auth_table;
static bool auth_loaded;                /* auth_table holds a file that parsed */
static time_t auth_checked;
static struct stat auth_stat;

/* The whole file of `fd` (its fstat in *st), or NULL. */
static char *auth_file_read(int fd, const struct stat *st, size_t *len)
{
	char *text;
	size_t got = 0;

	if (st->st_size < 0 || st->st_size > AUTH_FILE_MAX)
		return NULL;
	text = xmalloc((size_t)st->st_size + 1);
	while (got < (size_t)st->st_size) {
		ssize_t n = read(fd, text + got, (size_t)st->st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	*len = got;
	return text;
}

/* Reads and parses the file again if it changed (auth_lock held). */
static void auth_refresh(const char *path)
{
	time_t now = time(NULL);
	struct api_keys fresh;
	struct stat st;
	char err[300], *text;
	size_t len;
	int fd;

	if (auth_loaded && now - auth_checked < AUTH_RECHECK_SECONDS)
		return;
	auth_checked = now;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error(NULL, "api_keys_file %s: %s; %s", path, strerror(errno),
			  auth_loaded ? "the keys read before stay in force" : "every request is refused");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (auth_loaded && st.st_mtim.tv_sec == auth_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == auth_stat.st_mtim.tv_nsec && st.st_size == auth_stat.st_size &&
	    st.st_ino == auth_stat.st_ino) {
		close(fd);
		return;
	}
	text = auth_file_read(fd, &st, &len);
	close(fd);
	if (!text) {
		log_error(NULL, "api_keys_file %s: cannot read it (at most %d bytes)", path, AUTH_FILE_MAX);
		return;
	}
	if (api_keys_parse(text, len, &fresh, err, sizeof err) < 0) {
		log_error(NULL, "api_keys_file %s: %s; %s", path, err,
			  auth_loaded ? "the keys read before stay in force" : "every request is refused");
	} else {
		api_keys_free(&auth_table);
		auth_table = fresh;
		auth_stat = st;
		if (auth_loaded)
			log_info(NULL, "api_keys_file %s read again: %zu keys", path, fresh.n);
		auth_loaded = true;
	}
	explicit_bzero(text, len);
	free(text);
}

/* Routes that need no key: what they answer names no client's data. */
static bool auth_exempt(const struct request *req)
{
	return strcmp(req->method, "OPTIONS") == 0 ||
	       ((strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) &&
		(strcmp(req->path, "/") == 0 || strcmp(req->path, "/health") == 0 ||
		 strcmp(req->path, "/metrics") == 0));
}

static void auth_refuse(struct request *req, const char *reason)
{
	json_t *body = json_object();

	request_drain(req);
	json_object_set_new(body, "error", json_string("Unauthorized"));
	json_object_set_new(body, "reason", json_string(reason));
	respond_json(req, 401, body, "WWW-Authenticate: Bearer realm=\"sandrun\"\r\n");
}

bool auth_admit(struct request *req)
{
	const char *path = req->srv->cfg->api_keys_file, *token;
	const struct api_key *key;
	struct sandrun_limits *l = &req->key_limits;
	size_t len;
	bool ok = false;

	if (!path || !*path || !req->fcgx || auth_exempt(req))
		return true;
	token = api_keys_bearer(request_param(req, "HTTP_AUTHORIZATION"), &len);
	if (!token) {
		auth_refuse(req, "this service needs an API key: send Authorization: Bearer KEY");
		return false;
	}
	pthread_mutex_lock(&auth_lock);
	auth_refresh(path);
	key = auth_loaded ? api_keys_find(&auth_table, token, len) : NULL;
	if (key) {
		*l = req->srv->cfg->limits;
		if (key->quota_jobs_max >= 0)
			l->quota_jobs_max = key->quota_jobs_max;
		if (key->quota_storage_bytes >= 0)
			l->quota_storage_bytes = key->quota_storage_bytes;
		if (key->sessions_per_client >= 0)
			l->sessions_per_client = key->sessions_per_client;
		if (key->quota_cpu_seconds >= 0)
			l->quota_cpu_seconds = key->quota_cpu_seconds;
		snprintf(req->client_key_buf, sizeof req->client_key_buf, "key:%s", key->name);
		ok = true;
	}
	pthread_mutex_unlock(&auth_lock);
	if (!ok) {
		auth_refuse(req, "this API key is not valid (unknown or revoked)");
		return false;
	}
	req->client_key = req->client_key_buf;
	req->limits = l;
	return true;
}
