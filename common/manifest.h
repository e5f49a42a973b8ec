/*
 * The job manifest (docs/api.md §3): parsed from untrusted JSON with jansson,
 * validated field by field, and written back as canonical JSON with every
 * default filled in. The responder validates at submit; the runner
 * validates again what it reads from Redis (data from Redis is untrusted
 * input to the runner too). Never logs, never exits: returns a status and
 * names the field at fault, so the responder answers 400 with "field".
 */
#ifndef SANDRUN_MANIFEST_H
#define SANDRUN_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Bounds on what a manifest may hold (the text itself is bounded by limits.manifest_max_bytes). */
#define MANIFEST_ARGS_MAX        256
#define MANIFEST_ARG_MAX_BYTES   8192
#define MANIFEST_ENV_MAX         128
#define MANIFEST_ENV_VALUE_MAX   8192
#define MANIFEST_OUTPUTS_MAX     64
#define MANIFEST_GLOB_MAX_BYTES  256
#define MANIFEST_PATH_MAX_BYTES  1024 /* entrypoint, requirements */
#define MANIFEST_NAME_MAX_BYTES  64   /* environment name, env variable name */
#define MANIFEST_STDIN_MAX_BYTES (1024 * 1024)

struct manifest_gpu {
	bool present;          /* the manifest had a "gpu" object */
	bool required;
	double min_vram_gb;    /* 0 when not given */
	char *cuda_version;    /* "x.y" or NULL */
};

struct manifest {
	char *entrypoint;      /* normalized relative path, e.g. "src/main.py" */
	char *interpreter;     /* "python3", ...; NULL: run the entrypoint itself */
	char **args;           /* nargs strings */
	size_t nargs;
	char *stdin_data;      /* may hold NUL bytes; stdin_len bytes; NULL when empty */
	size_t stdin_len;
	char **env_names;      /* nenv names and values, in the order given */
	char **env_values;
	size_t nenv;
	char *environment;     /* "default" unless given */
	char *requirements;    /* normalized relative path or NULL */
	char **outputs;        /* noutputs globs */
	size_t noutputs;
	int64_t timeout;       /* seconds, 1 .. limits.timeout_max */
	int64_t memory_mb;     /* limits.memory_mb_min .. limits.memory_mb_max */
	struct manifest_gpu gpu;
};

struct manifest_error {
	char field[64];        /* the field at fault ("entrypoint", "env.FOO", "args[3]"), or "" */
	char reason[256];      /* a human sentence */
};

/*
 * Parses and validates `len` bytes of JSON. On success returns 0 and sets
 * *out (free with manifest_free()). On failure returns -1, *out is NULL and
 * `err` names the field and the reason. Unknown fields, wrong types, values
 * out of range, duplicate keys and paths with ".." or a leading "/" are
 * errors. When "interpreter" is absent it is derived from the entrypoint's
 * extension (manifest_interpreter_for_path()).
 */
int manifest_parse(const char *json, size_t len, const struct sandrun_limits *limits,
		   struct manifest **out, struct manifest_error *err);

/*
 * Validates a jansson object directly (the JSON-body submit, whose object
 * also carries "files": the caller removes that key first).
 * Same contract as manifest_parse(); `root` is not modified.
 */
struct json_t;
int manifest_from_json(const struct json_t *root, const struct sandrun_limits *limits,
		       struct manifest **out, struct manifest_error *err);

/*
 * The canonical JSON form: every field present with its value or default,
 * keys sorted, compact. manifest_parse(manifest_to_json(m)) gives back m.
 * Returns a malloc'd NUL-terminated string (caller frees) or NULL.
 */
char *manifest_to_json(const struct manifest *m);

void manifest_free(struct manifest *m);

/* "python3" for "x.py", "node" for .js/.mjs/.cjs, "bash" for .sh, "ruby" for .rb,
 * "Rscript" for .R/.r, "perl" for .pl, "php" for .php; NULL otherwise. */
const char *manifest_interpreter_for_path(const char *path);

/* The i-th interpreter name the manifest accepts, or NULL past the last (for listing them). */
const char *manifest_interpreter_name(size_t i);

/* true for the interpreter names the manifest accepts (docs/api.md §3). */
bool manifest_interpreter_known(const char *name);

/* true for a valid environment name: [a-z0-9][a-z0-9._-]*, at most MANIFEST_NAME_MAX_BYTES. */
bool manifest_environment_name_valid(const char *s, size_t len);

#endif
