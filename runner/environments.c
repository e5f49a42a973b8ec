/*
 * The environments this runner offers: see environments.h. The metadata is
 * the operator's, but it is still parsed with bounds (jansson, sizes
 * checked) and only the fields the service announces are kept.
 */
#include "environments.h"
#include "log.h"
#include "manifest.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>      /* struct open_how, RESOLVE_IN_ROOT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENVIRONMENT_META        "environment.json"
#define ENVIRONMENT_META_MAX    (256 * 1024)  /* a package list, not a database */
#define ENVIRONMENT_DESC_MAX    300           /* bytes of description announced */
#define ENVIRONMENT_PACKAGES_MAX 200          /* package names announced: the heartbeat stays small */
#define ENVIRONMENT_MISSING_MAX  50           /* {package, why} entries announced */
#define ENVIRONMENT_MISSING_TEXT 200          /* bytes of each of their strings, at most */

/*
 * An executable file at path inside the tree at env_root, resolved as the
 * sandbox will see it: absolute links (/usr/bin/node -> /etc/alternatives/
 * node -> ...) are followed inside the tree, never into the host's.
 */
static int environment_tree_executable(const char *env_root, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	struct stat st;
	int root, fd, ok;

	if (strcmp(env_root, "/") == 0)
		return access(path, X_OK) == 0;
	if ((root = open(env_root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
	close(root);
	if (fd < 0)
		return 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH));
	close(fd);
	return ok;
}

const char *runner_environment_interpreter_path(const char *env_root, const char *name, char *out,
						size_t outlen)
{
	static const char *const dirs[] = { "/usr/local/bin/", "/usr/bin/" };

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(out, outlen, "%s%s", dirs[i], name);
		if (environment_tree_executable(env_root, out))
			return out;
	}
	return NULL;
}

/* The manifest's interpreters installed in the tree, comma-separated ("python3,node,bash"). */
static void environment_interpreters_installed(const char *env_root, char *out, size_t outlen)
{
	char path[64];
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; manifest_interpreter_name(i); i++) {
		const char *name = manifest_interpreter_name(i);

		if (runner_environment_interpreter_path(env_root, name, path, sizeof path) &&
		    used + strlen(name) + 2 < outlen)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? "," : "", name);
	}
}

/* A tree jobs may run from: a directory of root's that nobody else can change. */
static int environment_tree_trusted(const char *path, char *why, size_t whylen)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		error_format(why, whylen, "%s: %s", path, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		error_format(why, whylen, "%s is not a directory", path);
		return 0;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		error_format(why, whylen, "%s must belong to root and be writable by nobody else", path);
		return 0;
	}
	return 1;
}

/* The metadata's description and packages into e; 0, or -1 with why. */
static int environment_meta_load(const char *path, struct runner_environment *e, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *meta, *name, *desc, *pkgs, *kept, *missing, *m;
	struct stat st;
	size_t i;
	int rc = -1;

	if (stat(path, &st) < 0) {
		error_format(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_size > ENVIRONMENT_META_MAX) {
		error_format(why, whylen, "%s is larger than %d bytes", path, ENVIRONMENT_META_MAX);
		return -1;
	}
	if (!(meta = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
		error_format(why, whylen, "%s: line %d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	name = json_object_get(meta, "name");
	desc = json_object_get(meta, "description");
	pkgs = json_object_get(meta, "packages");
	if (name && (!json_is_string(name) || strcmp(json_string_value(name), e->name) != 0)) {
		error_format(why, whylen, "%s: \"name\" must be the directory's name, %s", path, e->name);
		goto out;
	}
	if (desc && !json_is_string(desc)) {
		error_format(why, whylen, "%s: \"description\" must be a string", path);
		goto out;
	}
	if (pkgs && !json_is_array(pkgs)) {
		error_format(why, whylen, "%s: \"packages\" must be an array of strings", path);
		goto out;
	}
	kept = json_array();
	for (i = 0; pkgs && i < json_array_size(pkgs) && i < ENVIRONMENT_PACKAGES_MAX; i++)
		if (json_is_string(json_array_get(pkgs, i)))
			json_array_append(kept, json_array_get(pkgs, i));
	e->packages_json = json_dumps(kept, JSON_COMPACT);
	json_decref(kept);
	/* what the environment's documentation promises and Debian lacks: shown to users as is */
	missing = json_object_get(meta, "missing");
	kept = json_array();
	json_array_foreach(missing, i, m) {
		const char *package = json_string_value(json_object_get(m, "package"));
		const char *because = json_string_value(json_object_get(m, "why"));

		if (json_array_size(kept) == ENVIRONMENT_MISSING_MAX)
			break;
		if (package && because && strlen(package) <= ENVIRONMENT_MISSING_TEXT &&
		    strlen(because) <= ENVIRONMENT_MISSING_TEXT)
			json_array_append_new(kept, json_pack("{s:s, s:s}", "package", package, "why", because));
	}
	e->missing_json = json_dumps(kept, JSON_COMPACT);
	json_decref(kept);
	{
		/* cut to a bound, then made whole again: a cut may split a character */
		const char *text = desc ? json_string_value(desc) : "";
		size_t len = strlen(text), kept_len;

		e->description = utf8_sanitize(text, len < ENVIRONMENT_DESC_MAX ? len : ENVIRONMENT_DESC_MAX,
					       &kept_len);
	}
	rc = e->packages_json && e->missing_json ? 0 : -1;
out:
	json_decref(meta);
	return rc;
}

static int environment_name_compare(const void *a, const void *b)
{
	return strcmp(((const struct runner_environment *)a)->name, ((const struct runner_environment *)b)->name);
}

void runner_environments_load(const char *dir, struct runner_environments *envs)
{
	struct runner_environment *def;
	DIR *d;
	struct dirent *de;

	envs->v = xmalloc((ENVIRONMENTS_MAX + 1) * sizeof *envs->v);
	memset(envs->v, 0, (ENVIRONMENTS_MAX + 1) * sizeof *envs->v);
	envs->n = 1;
	def = &envs->v[0];
	snprintf(def->name, sizeof def->name, "default");
	def->root = xstrdup("/");
	def->description = xstrdup("the runner host's Debian tree (/usr), read-only");
	def->packages_json = xstrdup("[]");
	def->missing_json = xstrdup("[]");

	d = dir && *dir ? opendir(dir) : NULL;
	if (!d) {
		if (dir && *dir && errno != ENOENT)
			log_warn(NULL, "environments: %s: %s", dir, strerror(errno));
		goto interpreters;
	}
	while ((de = readdir(d)) != NULL) {
		struct runner_environment e = { 0 };
		char path[4096], why[512];
		int is_default;

		if (de->d_name[0] == '.')
			continue;      /* ".", "..", and trees still being built (.NAME.building-PID) */
		if (!manifest_environment_name_valid(de->d_name, strlen(de->d_name))) {
			log_warn(NULL, "environments: %s/%s: not a valid environment name, left out", dir, de->d_name);
			continue;
		}
		is_default = strcmp(de->d_name, "default") == 0;
		if (!is_default && envs->n >= ENVIRONMENTS_MAX) {
			log_warn(NULL, "environments: more than %d in %s: %s left out", ENVIRONMENTS_MAX, dir,
				 de->d_name);
			continue;
		}
		snprintf(e.name, sizeof e.name, "%s", de->d_name);
		snprintf(path, sizeof path, "%s/%s/root", dir, de->d_name);
		if (!environment_tree_trusted(path, why, sizeof why)) {
			log_warn(NULL, "environment %s left out: %s", e.name, why);
			continue;
		}
		e.root = xstrdup(path);
		snprintf(path, sizeof path, "%s/%s/root/usr", dir, de->d_name);
		if (!environment_tree_trusted(path, why, sizeof why)) {
			log_warn(NULL, "environment %s left out: %s", e.name, why);
			free(e.root);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s/" ENVIRONMENT_META, dir, de->d_name);
		if (environment_meta_load(path, &e, why, sizeof why) < 0) {
			log_warn(NULL, "environment %s left out: %s", e.name, why);
			free(e.root);
			free(e.description);
			free(e.packages_json);
			free(e.missing_json);
			continue;
		}
		if (is_default) {
			/* the operator's own default replaces the host's tree */
			free(def->root);
			free(def->description);
			free(def->packages_json);
			free(def->missing_json);
			*def = e;
		} else {
			envs->v[envs->n++] = e;
		}
	}
	closedir(d);
	qsort(envs->v + 1, envs->n - 1, sizeof *envs->v, environment_name_compare);
interpreters:
	for (size_t i = 0; i < envs->n; i++)
		environment_interpreters_installed(envs->v[i].root, envs->v[i].interpreters,
						   sizeof envs->v[i].interpreters);
}

void runner_environments_free(struct runner_environments *envs)
{
	for (size_t i = 0; i < envs->n; i++) {
		free(envs->v[i].root);
		free(envs->v[i].description);
		free(envs->v[i].packages_json);
		free(envs->v[i].missing_json);
	}
	free(envs->v);
	envs->v = NULL;
	envs->n = 0;
}

const struct runner_environment *runner_environment_find(const struct runner_environments *envs,
							 const char *name)
{
	for (size_t i = 0; i < envs->n; i++)
		if (strcmp(envs->v[i].name, name) == 0)
			return &envs->v[i];
	return NULL;
}

char *runner_environments_announce(const struct runner_environments *envs)
{
	json_t *list = json_array();
	char *text;

	for (size_t i = 0; i < envs->n; i++) {
		const struct runner_environment *e = &envs->v[i];
		json_t *interp = json_array(), *pkgs = json_loads(e->packages_json, 0, NULL);
		json_t *missing = json_loads(e->missing_json, 0, NULL);
		char names[sizeof e->interpreters], *p, *next;

		snprintf(names, sizeof names, "%s", e->interpreters);
		for (p = names; *p; p = next) {
			next = strchr(p, ',');
			if (next)
				*next++ = '\0';
			else
				next = p + strlen(p);
			json_array_append_new(interp, json_string(p));
		}
		json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", e->name, "description",
						      e->description, "interpreters", interp, "packages",
						      pkgs ? pkgs : json_array(), "missing",
						      missing ? missing : json_array()));
	}
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return text;
}
