/*
 * The command line and environment a job's sandbox executes, built from
 * its (validated) manifest: the interpreter or the entrypoint itself, the
 * job's arguments, a fixed environment the manifest's env extends, and the
 * sh wrapper that installs a requirements file first. Nothing here runs
 * anything or touches Redis; job_run() (runner/job.c) hands the result to
 * the sandbox (runner/sandbox.h, sandbox_spec.argv and .envp).
 */
#include "job_command.h"
#include "manifest.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV_FIXED        2              /* interpreter and entrypoint */
#define ENV_FIXED         6              /* PATH HOME TMPDIR LANG USER PYTHONUNBUFFERED */
#define JOB_DEPS_DIR      "/work/.sandrun-deps" /* where pip installs requirements (on PYTHONPATH) */

const char *const job_command_base_env[ENV_FIXED + 1] = {
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/work",
	"TMPDIR=/tmp",
	"LANG=C.UTF-8",
	"USER=sandrun",
	/* Python buffers a pipe by default; unbuffered keeps stdout and stderr in order. */
	"PYTHONUNBUFFERED=1",
	NULL,
};

/*
 * Requirements are installed inside the sandbox, before the entrypoint and
 * as part of the job (its time and CPU count), without network, from the
 * operator's mirror bound read-only at /mirror (docs/mirror.md; filled with
 * contrib/sandrun-mirror). A small sh wrapper runs the installer for the
 * file's kind, its output on stderr, then execs the job's own command line:
 *   sh -c SCRIPT sh REQUIREMENTS-FILE COMMAND...
 * An installer that fails fails the job before the entrypoint runs.
 *
 * pip: wheels and sdists from /mirror/pip, into JOB_DEPS_DIR (on PYTHONPATH).
 *
 * npm: /mirror/npm is an npm cache (packuments and tarballs), and
 * `npm install --offline` never asks the network, only the cache. npm
 * rewrites the cache's index as it reads it, so it gets a writable cache on
 * the job's tmpfs: the index as a tree of symlinks into the mirror (a
 * rewritten bucket replaces its link), the content directory as one link
 * (only read). The cache holds responses by URL, so the registry is the
 * one the mirror's entries name, whatever an .npmrc says. node_modules goes
 * beside package.json.
 *
 * Gemfile: bundler takes .gem files from /mirror/gems (its cache path;
 * --no-cache keeps it from writing there) and installs into a GEM_HOME in
 * /work, which stays exported for the entrypoint, so a plain require finds
 * the gems (and BUNDLE_GEMFILE lets require "bundler/setup" find the Gemfile).
 */
static const char *job_command_requirements_script(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	if (strcmp(base, "package.json") == 0)
		return "set -e; c=/tmp/sandrun-npm-cache; m=/mirror/npm/_cacache; mkdir -p $c/_cacache;"
		       " [ ! -d $m/index-v5 ] || cp -Rs $m/index-v5 $c/_cacache/;"
		       " [ ! -d $m/content-v2 ] || ln -s $m/content-v2 $c/_cacache/content-v2;"
		       " (cd -- \"$(dirname -- \"$1\")\" && npm install --offline --cache $c"
		       " --registry=https://registry.npmjs.org/ --no-audit --no-fund --no-update-notifier"
		       " --logs-max=0 --loglevel=error) >&2; shift; exec \"$@\"";
	if (strcmp(base, "Gemfile") == 0)
		return "set -e; export GEM_HOME=/work/.sandrun-gems BUNDLE_GEMFILE=\"$PWD/$1\";"
		       " BUNDLE_CACHE_PATH=/mirror/gems bundle install --local --no-cache --quiet >&2;"
		       " shift; exec \"$@\"";
	/* requirements.txt and any other name: pip's requirements format */
	return "set -e; /usr/bin/python3 -m pip install --quiet --no-index --find-links /mirror/pip"
	       " --no-cache-dir --disable-pip-version-check --target " JOB_DEPS_DIR " -r \"$1\" >&2;"
	       " shift; exec \"$@\"";
}

const char **job_command_argv(const struct manifest *m, const char *interp_path, char *exe, size_t exelen)
{
	const char **argv = xmalloc((m->nargs + ARGV_FIXED + 6) * sizeof *argv);
	size_t n = 0;

	if (m->requirements) {
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = job_command_requirements_script(m->requirements);
		argv[n++] = "sh";
		argv[n++] = m->requirements;
	}
	if (interp_path) {
		argv[n++] = interp_path;
		argv[n++] = m->entrypoint;
	} else {
		snprintf(exe, exelen, "/work/%s", m->entrypoint);
		argv[n++] = exe;
	}
	for (size_t i = 0; i < m->nargs; i++)
		argv[n++] = m->args[i];
	argv[n] = NULL;
	return argv;
}

char **job_command_envp(const struct manifest *m)
{
	char **envp = xmalloc((m->nenv + ENV_FIXED + 2) * sizeof *envp);
	size_t n = 0;

	/* The job's own variables come last and win: a later duplicate overrides in every libc. */
	for (size_t i = 0; i < ENV_FIXED; i++) {
		const char *base = job_command_base_env[i], *eq = strchr(base, '=');
		int overridden = 0;

		for (size_t j = 0; j < m->nenv; j++)
			if (strlen(m->env_names[j]) == (size_t)(eq - base) &&
			    strncmp(m->env_names[j], base, (size_t)(eq - base)) == 0)
				overridden = 1;
		if (!overridden)
			envp[n++] = xstrdup(base);
	}
	if (m->requirements)
		envp[n++] = xstrdup("PYTHONPATH=" JOB_DEPS_DIR);
	for (size_t j = 0; j < m->nenv; j++) {
		size_t len = strlen(m->env_names[j]) + strlen(m->env_values[j]) + 2;
		envp[n] = xmalloc(len);
		snprintf(envp[n++], len, "%s=%s", m->env_names[j], m->env_values[j]);
	}
	envp[n] = NULL;
	return envp;
}

void job_command_envp_free(char **envp)
{
	if (envp == NULL)
		return;
	for (char **e = envp; *e; e++)
		free(*e);
	free(envp);
}
