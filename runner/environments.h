/*
 * The environments this runner offers (docs/api.md §3 "environment"): "default",
 * the host's own tree, plus every named tree an operator built under
 * environments_dir with contrib/sandrun-env:
 *
 *   environments_dir/NAME/environment.json   {"name", "description", "packages": [...],
 *                                            "missing": [{"package", "why"}], ...}
 *   environments_dir/NAME/root/              the tree: usr/, the merged-/usr links, etc/
 *
 * Read once at start (restart the runner after adding one). A tree the
 * runner cannot trust (not root's, writable by others) or whose metadata
 * is broken is left out with a warning, never half-offered. The list is
 * announced with every heartbeat, so the responders list and check what
 * the live runners really have.
 */
#ifndef SANDRUN_RUNNER_ENVIRONMENTS_H
#define SANDRUN_RUNNER_ENVIRONMENTS_H

#include <stddef.h>

#define ENVIRONMENTS_MAX 64    /* more trees than this in environments_dir are not offered */

struct runner_environment {
	char name[65];
	char *root;            /* the tree: "/" for the host's */
	char *description;
	char interpreters[128];/* installed in the tree, comma-separated ("python3,bash,sh") */
	char *packages_json;   /* the metadata's package list, a JSON array */
	char *missing_json;    /* the metadata's [{package, why}]: what Debian lacks, a JSON array */
};

struct runner_environments {
	struct runner_environment *v;  /* v[0] is always "default" */
	size_t n;
};

/*
 * Reads dir (a missing dir is no error: only "default" then). Warnings
 * about trees left out go through log_warn; "default" is always offered.
 * runner_environments_free frees.
 */
void runner_environments_load(const char *dir, struct runner_environments *envs);
void runner_environments_free(struct runner_environments *envs);

/* The environment called name, or NULL. */
const struct runner_environment *runner_environment_find(const struct runner_environments *envs,
							 const char *name);

/*
 * The absolute path of interpreter `name` ("/usr/local/bin/NAME", else
 * "/usr/bin/NAME") inside the tree at env_root (into out), resolved as the
 * sandbox will see it, or NULL when it has no such executable file.
 */
const char *runner_environment_interpreter_path(const char *env_root, const char *name, char *out,
						size_t outlen);

/* The heartbeat's "environments" field: a JSON array of {name, description,
 * interpreters, packages, missing}. The caller frees. */
char *runner_environments_announce(const struct runner_environments *envs);

#endif
