/*
 * job_command_argv() and job_command_envp() (runner/job_command.c): the
 * command line and environment a job's sandbox executes, from manifests
 * parsed as the runner parses the stored one.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "job_command.h"
#include "manifest.h"
#include "tap.h"

static struct manifest *parse(const char *json)
{
	struct sandrun_config cfg;
	struct manifest *m = NULL;
	struct manifest_error err;

	config_defaults(&cfg);
	if (manifest_parse(json, strlen(json), &cfg.limits, &m, &err) < 0)
		printf("# %s: %s: %s\n", json, err.field, err.reason);
	config_free(&cfg);
	return m;
}

/* The vector joined with '|', for comparing whole. */
static const char *joined(const char *const *v)
{
	static char out[4096];
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; v[i] != NULL && n < sizeof out; i++)
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "", v[i]);
	return out;
}

static void test_argv(void)
{
	struct manifest *m = parse("{\"entrypoint\":\"src/main.py\",\"args\":[\"-v\",\"a b\"]}");
	char exe[PATH_MAX];
	const char **argv;

	if (!ok(m != NULL, "a python manifest parses"))
		return;
	argv = job_command_argv(m, "/usr/bin/python3", exe, sizeof exe);
	is_str(joined(argv), "/usr/bin/python3|src/main.py|-v|a b", "interpreter, entrypoint, args");
	free(argv);
	argv = job_command_argv(m, NULL, exe, sizeof exe);
	is_str(joined(argv), "/work/src/main.py|-v|a b", "no interpreter: the entrypoint itself, under /work");
	is_str(exe, "/work/src/main.py", "... written into exe");
	free(argv);
	manifest_free(m);

	m = parse("{\"entrypoint\":\"main.py\",\"requirements\":\"deps/requirements.txt\"}");
	if (!ok(m != NULL, "a manifest with requirements parses"))
		return;
	argv = job_command_argv(m, "/usr/bin/python3", exe, sizeof exe);
	ok(strcmp(argv[0], "/bin/sh") == 0 && strcmp(argv[1], "-c") == 0 && strcmp(argv[3], "sh") == 0
	   && strcmp(argv[4], "deps/requirements.txt") == 0 && strstr(argv[2], "pip install") != NULL
	   && strstr(argv[2], "exec \"$@\"") != NULL,
	   "requirements: sh -c PIP-SCRIPT sh FILE, which then execs the command");
	is_str(joined(argv + 5), "/usr/bin/python3|main.py", "... the command follows");
	free(argv);
	manifest_free(m);

	{
		/* the installer follows the requirements file's name */
		static const struct {
			const char *manifest, *interpreter, *installer;
		} kinds[] = {
			{ "{\"entrypoint\":\"index.js\",\"requirements\":\"package.json\"}", "/usr/bin/node",
			  "npm install --offline" },
			{ "{\"entrypoint\":\"main.rb\",\"requirements\":\"sub/Gemfile\"}", "/usr/bin/ruby",
			  "bundle install --local" },
			{ "{\"entrypoint\":\"main.py\",\"requirements\":\"deps.txt\"}", "/usr/bin/python3",
			  "pip install" },
		};

		for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
			if (!(m = parse(kinds[i].manifest)))
				continue;
			argv = job_command_argv(m, kinds[i].interpreter, exe, sizeof exe);
			ok(strstr(argv[2], kinds[i].installer) != NULL, "%s: %s", m->requirements,
			   kinds[i].installer);
			free(argv);
			manifest_free(m);
		}
	}
}

static void test_envp(void)
{
	struct manifest *m = parse("{\"entrypoint\":\"main.py\"}");
	char **envp;

	if (!ok(m != NULL, "a manifest without env parses"))
		return;
	envp = job_command_envp(m);
	is_str(joined((const char *const *)envp),
	       "PATH=/usr/local/bin:/usr/bin:/bin|HOME=/work|TMPDIR=/tmp|LANG=C.UTF-8|USER=sandrun|PYTHONUNBUFFERED=1",
	       "the fixed environment, nothing of the runner's");
	{
		char base[1024];

		snprintf(base, sizeof base, "%s", joined(job_command_base_env));
		is_str(joined((const char *const *)envp), base, "... which is job_command_base_env");
	}
	job_command_envp_free(envp);
	manifest_free(m);

	m = parse("{\"entrypoint\":\"main.py\",\"requirements\":\"requirements.txt\","
		  "\"env\":{\"HOME\":\"/tmp\",\"HOMEX\":\"1\",\"A\":\"x=y\"}}");
	if (!ok(m != NULL, "a manifest with env and requirements parses"))
		return;
	envp = job_command_envp(m);
	is_str(joined((const char *const *)envp),
	       "PATH=/usr/local/bin:/usr/bin:/bin|TMPDIR=/tmp|LANG=C.UTF-8|USER=sandrun|PYTHONUNBUFFERED=1"
	       "|PYTHONPATH=/work/.sandrun-deps|HOME=/tmp|HOMEX=1|A=x=y",
	       "env replaces a base variable of its name (HOME, not by the prefix HOMEX), "
	       "PYTHONPATH for requirements, env last");
	job_command_envp_free(envp);
	manifest_free(m);
	job_command_envp_free(NULL);
	ok(1, "job_command_envp_free(NULL) is a no-op");
}

int main(void)
{
	test_argv();
	test_envp();
	return done_testing();
}
