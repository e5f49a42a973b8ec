/*
 * What a job's sandbox executes: argv and envp built from its manifest
 * (runner/job_command.c). The manifest comes from Redis and has been
 * validated again by manifest_parse() before it gets here.
 */
#ifndef SANDRUN_JOB_COMMAND_H
#define SANDRUN_JOB_COMMAND_H

#include <stddef.h>

struct manifest;

/* The environment every job starts from, NULL-terminated: fixed, nothing
 * of the runner's (the benchmark runs its commands in it too). */
extern const char *const job_command_base_env[];

/*
 * argv for the sandbox: interp_path (the interpreter's path inside the
 * environment, runner_environment_interpreter_path()) + entrypoint + args,
 * or, with interp_path NULL, the entrypoint itself as "/work/ENTRYPOINT"
 * (written into exe). With a requirements file, all of it behind the sh
 * wrapper that installs the requirements first. NULL-terminated; the
 * strings belong to m, exe and static storage.
 * Who frees: the caller, the array only (free()).
 */
const char **job_command_argv(const struct manifest *m, const char *interp_path, char *exe, size_t exelen);

/*
 * envp for the sandbox: the fixed base environment (PATH, HOME=/work,
 * TMPDIR, LANG=C.UTF-8, USER, PYTHONUNBUFFERED) less the names the manifest
 * sets, PYTHONPATH for installed requirements, then the manifest's env.
 * NULL-terminated. Who frees: the caller, with job_command_envp_free().
 */
char **job_command_envp(const struct manifest *m);
void job_command_envp_free(char **envp);

#endif
