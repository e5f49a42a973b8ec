/*
 * The job manifest (docs/api.md §3): untrusted JSON in, a validated struct out.
 *
 * Design:
 * - jansson parses (duplicate keys rejected, NUL allowed in strings so
 *   that "stdin" can carry any bytes jansson can encode); this file then
 *   checks every field by hand. Every other string field refuses NUL by
 *   comparing json_string_length() with strlen().
 * - Unknown top-level keys are looked for first, then the known fields in
 *   a fixed order, so the field named in an error does not depend on the
 *   order of keys in the text.
 * - Errors name the JSON field at fault and say what is allowed. Anything
 *   copied from the input into an error (a key, jansson's "near '...'") is
 *   made valid, printable UTF-8 so the responder can put it in its JSON
 *   answer as is.
 * - manifest_to_json() writes every field, defaults included, so what the
 *   runner reads from Redis never depends on the responder's defaults.
 *   "interpreter", "requirements", "gpu" and "gpu.cuda_version" are null
 *   when unset, and the parser accepts null for exactly those.
 *
 * No logging, no exit, no global state.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest.h"
#include "path.h"

/* A GPU with more memory than this does not exist; it bounds the number. */
#define MANIFEST_GPU_VRAM_MAX_GB 1024.0
/* "12.1"; a few digits each side is plenty. */
#define MANIFEST_CUDA_VERSION_MAX_BYTES 16

static const char *const manifest_fields[] = {
	"entrypoint", "interpreter", "args", "stdin", "env", "environment",
	"requirements", "outputs", "timeout", "memory_mb", "gpu",
};

static const char *const manifest_interpreters[] = {
	"python3", "node", "bash", "sh", "ruby", "Rscript", "perl", "php",
};

const char *manifest_interpreter_name(size_t i)
{
	return i < sizeof manifest_interpreters / sizeof manifest_interpreters[0] ? manifest_interpreters[i] : NULL;
}

static const char *const manifest_gpu_fields[] = {
	"required", "min_vram_gb", "cuda_version",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Makes `s` valid UTF-8 without control characters, in place: every byte
 * that is not part of a well-formed sequence (including a sequence cut
 * short by truncation) and every C0 control or DEL becomes '?'.
 */
static void text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n, k;
		unsigned char c = *p;

		if (c < 0x20 || c == 0x7f) {
			*p++ = '?';
			continue;
		}
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		else {
			*p++ = '?';
			continue;
		}
		for (k = 1; k < n; k++)
			if ((p[k] & 0xc0) != 0x80)
				break;
		if (k == n) {
			/* Overlong forms, surrogates and values past U+10FFFF. */
			if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
			    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
				k = 0;
		}
		if (k != n) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static __attribute__((format(printf, 3, 4))) int
manifest_fail(struct manifest_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	text_sanitize(err->field);
	text_sanitize(err->reason);
	return -1;
}

static int manifest_oom(struct manifest_error *err)
{
	return manifest_fail(err, "", "out of memory while reading the manifest");
}

/* A JSON string without NUL bytes, at most `max` bytes; NULL otherwise. */
static const char *json_plain_string(const json_t *v, size_t max, size_t *lenp)
{
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > max || strlen(s) != len)
		return NULL;
	if (lenp)
		*lenp = len;
	return s;
}

static char *dup_bytes(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

bool manifest_environment_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > MANIFEST_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

static bool env_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > MANIFEST_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return true;
}

/* "x.y": one or more digits, a dot, one or more digits. */
static bool cuda_version_valid(const char *s, size_t len)
{
	size_t i, dots = 0;

	if (len == 0 || len > MANIFEST_CUDA_VERSION_MAX_BYTES)
		return false;
	if (s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return dots == 1;
}

/* True when the string is exactly `name` (keys may hold NUL via json_object_setn). */
static bool key_is(const char *key, size_t keylen, const char *name)
{
	return keylen == strlen(name) && memcmp(key, name, keylen) == 0;
}

const char *manifest_interpreter_for_path(const char *path)
{
	static const struct {
		const char *ext;
		const char *interpreter;
	} map[] = {
		{ "py", "python3" }, { "js", "node" },  { "mjs", "node" }, { "cjs", "node" },
		{ "sh", "bash" },    { "rb", "ruby" },  { "R", "Rscript" }, { "r", "Rscript" },
		{ "pl", "perl" },    { "php", "php" },
	};
	const char *base, *dot;
	size_t i;

	if (path == NULL)
		return NULL;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	/* ".py" alone is a hidden file without an extension. */
	if (dot == NULL || dot == base)
		return NULL;
	for (i = 0; i < NELEM(map); i++)
		if (strcmp(dot + 1, map[i].ext) == 0)
			return map[i].interpreter;
	return NULL;
}

bool manifest_interpreter_known(const char *name)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; i < NELEM(manifest_interpreters); i++)
		if (strcmp(name, manifest_interpreters[i]) == 0)
			return true;
	return false;
}

void manifest_free(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->entrypoint);
	free(m->interpreter);
	for (i = 0; m->args && i < m->nargs; i++)
		free(m->args[i]);
	free(m->args);
	free(m->stdin_data);
	for (i = 0; m->env_names && i < m->nenv; i++)
		free(m->env_names[i]);
	for (i = 0; m->env_values && i < m->nenv; i++)
		free(m->env_values[i]);
	free(m->env_names);
	free(m->env_values);
	free(m->environment);
	free(m->requirements);
	for (i = 0; m->outputs && i < m->noutputs; i++)
		free(m->outputs[i]);
	free(m->outputs);
	free(m->gpu.cuda_version);
	free(m);
}

/*
 * A relative path field ("entrypoint", "requirements"): a string of at most
 * MANIFEST_PATH_MAX_BYTES, normalized. Sets *dst to a malloc'd copy.
 */
static int parse_path_field(const json_t *v, const char *field, char **dst,
			    struct manifest_error *err)
{
	char buf[MANIFEST_PATH_MAX_BYTES + 1];
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return manifest_fail(err, field, "%s must be a string: a relative path inside the upload",
				     field);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > MANIFEST_PATH_MAX_BYTES)
		return manifest_fail(err, field, "%s must be a path of at most %d bytes", field,
				     MANIFEST_PATH_MAX_BYTES);
	if (len > 0 && s[0] == '/')
		return manifest_fail(err, field,
				     "%s must be a relative path inside the upload, not an absolute path",
				     field);
	if (path_normalize_relative(s, len, buf, sizeof(buf)) != 0)
		return manifest_fail(err, field,
				     "%s must be a non-empty relative path inside the upload, without \"..\", "
				     "control characters or components longer than 255 bytes",
				     field);
	*dst = strdup(buf);
	if (*dst == NULL)
		return manifest_oom(err);
	return 0;
}

static int parse_interpreter(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	static const char allowed[] =
		"interpreter must be one of python3, node, bash, sh, ruby, Rscript, perl, php, "
		"or null or \"none\" to run the entrypoint itself";
	const char *s;

	if (v == NULL) {
		const char *guess = manifest_interpreter_for_path(m->entrypoint);
		if (guess && (m->interpreter = strdup(guess)) == NULL)
			return manifest_oom(err);
		return 0;
	}
	if (json_is_null(v))
		return 0;
	s = json_plain_string(v, MANIFEST_NAME_MAX_BYTES, NULL);
	if (s == NULL)
		return manifest_fail(err, "interpreter", "%s", allowed);
	if (strcmp(s, "none") == 0)
		return 0;
	if (!manifest_interpreter_known(s))
		return manifest_fail(err, "interpreter", "%s", allowed);
	if ((m->interpreter = strdup(s)) == NULL)
		return manifest_oom(err);
	return 0;
}

static int parse_args(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	size_t i, n;

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return manifest_fail(err, "args", "args must be an array of strings");
	n = json_array_size(v);
	if (n > MANIFEST_ARGS_MAX)
		return manifest_fail(err, "args", "args may hold at most %d strings", MANIFEST_ARGS_MAX);
	if (n == 0)
		return 0;
	if ((m->args = calloc(n, sizeof(*m->args))) == NULL)
		return manifest_oom(err);
	for (i = 0; i < n; i++) {
		char field[32];
		size_t len;
		const char *s = json_plain_string(json_array_get(v, i), MANIFEST_ARG_MAX_BYTES, &len);

		if (s == NULL) {
			snprintf(field, sizeof(field), "args[%zu]", i);
			return manifest_fail(err, field,
					     "each argument must be a string of at most %d bytes without NUL",
					     MANIFEST_ARG_MAX_BYTES);
		}
		if ((m->args[i] = dup_bytes(s, len)) == NULL)
			return manifest_oom(err);
		m->nargs = i + 1;
	}
	return 0;
}

static int parse_stdin(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	size_t len;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return manifest_fail(err, "stdin", "stdin must be a string of at most %d bytes",
				     MANIFEST_STDIN_MAX_BYTES);
	len = json_string_length(v);
	if (len > MANIFEST_STDIN_MAX_BYTES)
		return manifest_fail(err, "stdin", "stdin must be a string of at most %d bytes",
				     MANIFEST_STDIN_MAX_BYTES);
	if (len == 0)
		return 0;
	/* NUL bytes ("\u0000") are kept: stdin_len says where it ends. */
	if ((m->stdin_data = dup_bytes(json_string_value(v), len)) == NULL)
		return manifest_oom(err);
	m->stdin_len = len;
	return 0;
}

static int parse_env(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	const char *key;
	size_t keylen, n, i = 0;
	json_t *value;

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return manifest_fail(err, "env", "env must be an object mapping variable names to strings");
	n = json_object_size(v);
	if (n > MANIFEST_ENV_MAX)
		return manifest_fail(err, "env", "env may hold at most %d variables", MANIFEST_ENV_MAX);
	if (n == 0)
		return 0;
	if ((m->env_names = calloc(n, sizeof(*m->env_names))) == NULL ||
	    (m->env_values = calloc(n, sizeof(*m->env_values))) == NULL)
		return manifest_oom(err);
	/* jansson only iterates; the object is not modified. */
	json_object_keylen_foreach((json_t *)v, key, keylen, value) {
		char field[sizeof(err->field)];
		const char *s;
		size_t len;

		if (i >= n)
			break; /* cannot happen: the size was read above */
		if (!env_name_valid(key, keylen))
			return manifest_fail(err, "env",
					     "environment variable names must match [A-Za-z_][A-Za-z0-9_]* "
					     "and be at most %d bytes",
					     MANIFEST_NAME_MAX_BYTES);
		s = json_plain_string(value, MANIFEST_ENV_VALUE_MAX, &len);
		if (s == NULL) {
			/* "env." + a 64-byte name does not fit the field: name "env" then. */
			if ((size_t)snprintf(field, sizeof(field), "env.%s", key) >= sizeof(field))
				snprintf(field, sizeof(field), "env");
			/* The name is [A-Za-z0-9_]{1,64}: safe to show whole. */
			return manifest_fail(err, field,
					     "the value of environment variable %s must be a string of at "
					     "most %d bytes without NUL",
					     key, MANIFEST_ENV_VALUE_MAX);
		}
		if ((m->env_names[i] = dup_bytes(key, keylen)) == NULL ||
		    (m->env_values[i] = dup_bytes(s, len)) == NULL) {
			m->nenv = i + 1;
			return manifest_oom(err);
		}
		m->nenv = ++i;
	}
	return 0;
}

static int parse_environment(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	const char *s = "default";
	size_t len = strlen(s);

	if (v != NULL) {
		s = json_plain_string(v, MANIFEST_NAME_MAX_BYTES, &len);
		if (s == NULL || !manifest_environment_name_valid(s, len))
			return manifest_fail(err, "environment",
					     "environment must be the name of an environment (GET /environments): "
					     "[a-z0-9][a-z0-9._-]*, at most %d bytes",
					     MANIFEST_NAME_MAX_BYTES);
	}
	if ((m->environment = dup_bytes(s, len)) == NULL)
		return manifest_oom(err);
	return 0;
}

static int parse_outputs(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	size_t i, n;

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return manifest_fail(err, "outputs", "outputs must be an array of file name patterns");
	n = json_array_size(v);
	if (n > MANIFEST_OUTPUTS_MAX)
		return manifest_fail(err, "outputs", "outputs may hold at most %d patterns",
				     MANIFEST_OUTPUTS_MAX);
	if (n == 0)
		return 0;
	if ((m->outputs = calloc(n, sizeof(*m->outputs))) == NULL)
		return manifest_oom(err);
	for (i = 0; i < n; i++) {
		char field[32], buf[MANIFEST_GLOB_MAX_BYTES + 2];
		size_t len;
		bool is_dir;
		const char *s = json_plain_string(json_array_get(v, i), MANIFEST_GLOB_MAX_BYTES, &len);

		snprintf(field, sizeof(field), "outputs[%zu]", i);
		if (s == NULL)
			return manifest_fail(err, field,
					     "each output must be a pattern string of at most %d bytes without NUL",
					     MANIFEST_GLOB_MAX_BYTES);
		if (len > 0 && s[0] == '/')
			return manifest_fail(err, field,
					     "each output must be a pattern relative to the job's directory, "
					     "not an absolute path");
		/* A trailing "/" names a directory; normalizing would drop it. */
		is_dir = len > 0 && s[len - 1] == '/';
		if (path_normalize_relative(s, len, buf, sizeof(buf) - 1) != 0)
			return manifest_fail(err, field,
					     "each output must be a non-empty relative pattern such as \"*.png\" "
					     "or \"results/\", without \"..\" or control characters");
		if (is_dir)
			strcat(buf, "/");
		if ((m->outputs[i] = strdup(buf)) == NULL)
			return manifest_oom(err);
		m->noutputs = i + 1;
	}
	return 0;
}

/* An integer (not a real, not a boolean) in [min, max], or the default. */
static int parse_integer(const json_t *v, const char *field, int64_t min, int64_t max,
			 int64_t dflt, const char *unit, int64_t *dst, struct manifest_error *err)
{
	json_int_t x;

	if (v == NULL) {
		*dst = dflt;
		return 0;
	}
	if (!json_is_integer(v) || (x = json_integer_value(v)) < min || x > max)
		return manifest_fail(err, field, "%s must be an integer from %" PRId64 " to %" PRId64 " %s",
				     field, min, max, unit);
	*dst = x;
	return 0;
}

static int parse_gpu(const json_t *v, struct manifest *m, struct manifest_error *err)
{
	const char *key;
	size_t keylen, i;
	json_t *value, *sub;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return manifest_fail(err, "gpu",
				     "gpu must be an object: {\"required\": bool, \"min_vram_gb\": number, "
				     "\"cuda_version\": \"x.y\"}");
	json_object_keylen_foreach((json_t *)v, key, keylen, value) {
		bool known = false;

		for (i = 0; i < NELEM(manifest_gpu_fields); i++)
			if (key_is(key, keylen, manifest_gpu_fields[i]))
				known = true;
		if (!known) {
			char field[sizeof(err->field)];
			snprintf(field, sizeof(field), "gpu.%s", key);
			return manifest_fail(err, field,
					     "unknown field; gpu allows required, min_vram_gb and cuda_version");
		}
	}
	m->gpu.present = true;

	sub = json_object_get(v, "required");
	if (sub != NULL) {
		if (!json_is_boolean(sub))
			return manifest_fail(err, "gpu.required", "gpu.required must be true or false");
		m->gpu.required = json_is_true(sub);
	}

	sub = json_object_get(v, "min_vram_gb");
	if (sub != NULL) {
		double x = json_number_value(sub);
		if (!json_is_number(sub) || !isfinite(x) || x < 0 || x > MANIFEST_GPU_VRAM_MAX_GB)
			return manifest_fail(err, "gpu.min_vram_gb",
					     "gpu.min_vram_gb must be a number from 0 to %.0f (gigabytes)",
					     MANIFEST_GPU_VRAM_MAX_GB);
		m->gpu.min_vram_gb = x == 0 ? 0.0 : x; /* -0.0 would print as "-0.0" */
	}

	sub = json_object_get(v, "cuda_version");
	if (sub != NULL && !json_is_null(sub)) {
		size_t len;
		const char *s = json_plain_string(sub, MANIFEST_CUDA_VERSION_MAX_BYTES, &len);
		if (s == NULL || !cuda_version_valid(s, len))
			return manifest_fail(err, "gpu.cuda_version",
					     "gpu.cuda_version must be a version string such as \"12.1\" "
					     "(digits, a dot, digits)");
		if ((m->gpu.cuda_version = dup_bytes(s, len)) == NULL)
			return manifest_oom(err);
	}
	return 0;
}

int manifest_from_json(const json_t *root, const struct sandrun_limits *limits,
		       struct manifest **out, struct manifest_error *err)
{
	struct manifest_error scratch;
	struct manifest *m = NULL;
	const char *key;
	size_t keylen, i;
	json_t *value, *v;

	if (err == NULL)
		err = &scratch;
	err->field[0] = err->reason[0] = '\0';
	if (out == NULL)
		return manifest_fail(err, "", "internal error: no place for the manifest");
	*out = NULL;
	if (limits == NULL)
		return manifest_fail(err, "", "internal error: no limits to check the manifest against");
	if (!json_is_object(root))
		return manifest_fail(err, "", "the manifest must be a JSON object");

	/* Unknown fields first, whatever their place in the text. */
	json_object_keylen_foreach((json_t *)root, key, keylen, value) {
		bool known = false;

		for (i = 0; i < NELEM(manifest_fields); i++)
			if (key_is(key, keylen, manifest_fields[i]))
				known = true;
		if (!known)
			return manifest_fail(err, key,
					     "unknown field; a manifest may have entrypoint, interpreter, args, "
					     "stdin, env, environment, requirements, outputs, timeout, memory_mb "
					     "and gpu");
	}

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return manifest_oom(err);

	v = json_object_get(root, "entrypoint");
	if (v == NULL) {
		manifest_fail(err, "entrypoint",
			      "entrypoint is required: the path of the file to run, relative to the upload");
		goto fail;
	}
	if (parse_path_field(v, "entrypoint", &m->entrypoint, err) != 0)
		goto fail;
	if (parse_interpreter(json_object_get(root, "interpreter"), m, err) != 0)
		goto fail;
	if (parse_args(json_object_get(root, "args"), m, err) != 0)
		goto fail;
	if (parse_stdin(json_object_get(root, "stdin"), m, err) != 0)
		goto fail;
	if (parse_env(json_object_get(root, "env"), m, err) != 0)
		goto fail;
	if (parse_environment(json_object_get(root, "environment"), m, err) != 0)
		goto fail;
	v = json_object_get(root, "requirements");
	if (v != NULL && !json_is_null(v) &&
	    parse_path_field(v, "requirements", &m->requirements, err) != 0)
		goto fail;
	if (parse_outputs(json_object_get(root, "outputs"), m, err) != 0)
		goto fail;
	if (parse_integer(json_object_get(root, "timeout"), "timeout", 1, limits->timeout_max,
			  limits->timeout_default, "seconds", &m->timeout, err) != 0)
		goto fail;
	if (parse_integer(json_object_get(root, "memory_mb"), "memory_mb", limits->memory_mb_min,
			  limits->memory_mb_max, limits->memory_mb_default, "megabytes", &m->memory_mb,
			  err) != 0)
		goto fail;
	if (parse_gpu(json_object_get(root, "gpu"), m, err) != 0)
		goto fail;

	*out = m;
	return 0;

fail:
	manifest_free(m);
	return -1;
}

int manifest_parse(const char *json, size_t len, const struct sandrun_limits *limits,
		   struct manifest **out, struct manifest_error *err)
{
	struct manifest_error scratch;
	json_error_t jerr;
	json_t *root;
	int rc;

	if (err == NULL)
		err = &scratch;
	err->field[0] = err->reason[0] = '\0';
	if (out == NULL)
		return manifest_fail(err, "", "internal error: no place for the manifest");
	*out = NULL;
	if (limits == NULL)
		return manifest_fail(err, "", "internal error: no limits to check the manifest against");
	if (limits->manifest_max_bytes >= 0 && len > (uint64_t)limits->manifest_max_bytes)
		return manifest_fail(err, "", "the manifest must be at most %" PRId64 " bytes of JSON",
				     limits->manifest_max_bytes);
	if (json == NULL)
		return manifest_fail(err, "", "the manifest is empty: it must be a JSON object");

	/* JSON_ALLOW_NUL: "\u0000" is fine in stdin; every other field refuses NUL itself. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (root == NULL)
		return manifest_fail(err, "", "the manifest is not valid JSON: %s (line %d, column %d)",
				     jerr.text, jerr.line, jerr.column);
	rc = manifest_from_json(root, limits, out, err);
	json_decref(root);
	return rc;
}

/* Adds `value` (a new reference, NULL on allocation failure) under `key`. */
static int put(json_t *obj, const char *key, json_t *value)
{
	return value == NULL ? -1 : json_object_set_new(obj, key, value);
}

static json_t *string_array(char *const *items, size_t n)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		json_t *s = json_string(items[i]);
		if (s == NULL || json_array_append_new(a, s) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *manifest_to_json(const struct manifest *m)
{
	json_t *root = NULL, *env = NULL, *gpu;
	char *text = NULL;
	size_t i;

	if (m == NULL || m->entrypoint == NULL || m->environment == NULL)
		return NULL;
	if ((root = json_object()) == NULL)
		return NULL;
	if (put(root, "entrypoint", json_string(m->entrypoint)) != 0 ||
	    put(root, "interpreter", string_or_null(m->interpreter)) != 0 ||
	    put(root, "args", string_array(m->args, m->nargs)) != 0 ||
	    put(root, "stdin", json_stringn(m->stdin_data ? m->stdin_data : "", m->stdin_len)) != 0 ||
	    put(root, "environment", json_string(m->environment)) != 0 ||
	    put(root, "requirements", string_or_null(m->requirements)) != 0 ||
	    put(root, "outputs", string_array(m->outputs, m->noutputs)) != 0 ||
	    put(root, "timeout", json_integer(m->timeout)) != 0 ||
	    put(root, "memory_mb", json_integer(m->memory_mb)) != 0)
		goto done;

	if ((env = json_object()) == NULL)
		goto done;
	for (i = 0; i < m->nenv; i++)
		if (put(env, m->env_names[i], json_string(m->env_values[i])) != 0)
			goto done;
	if (json_object_set_new(root, "env", env) != 0) {
		env = NULL; /* set_new consumed it */
		goto done;
	}
	env = NULL;

	if (m->gpu.present) {
		if ((gpu = json_object()) == NULL)
			goto done;
		if (put(gpu, "required", json_boolean(m->gpu.required)) != 0 ||
		    put(gpu, "min_vram_gb", json_real(m->gpu.min_vram_gb)) != 0 ||
		    put(gpu, "cuda_version", string_or_null(m->gpu.cuda_version)) != 0) {
			json_decref(gpu);
			goto done;
		}
	} else {
		gpu = json_null();
	}
	if (put(root, "gpu", gpu) != 0)
		goto done;

	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
done:
	json_decref(env);
	json_decref(root);
	return text;
}
