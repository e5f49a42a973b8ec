/*
 * manifest_parse(), manifest_from_json() and manifest_to_json(): the
 * manifests from the documentation, every field's wrong types and
 * boundaries (each error must name the right field), and the round trip
 * through the canonical JSON.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf */
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest.h"
#include "tap.h"

static const struct sandrun_limits limits = {
	.upload_max_bytes = 100 * 1000 * 1000,
	.unpacked_max_bytes = 512 * 1000 * 1000,
	.files_max = 10000,
	.manifest_max_bytes = 2 * 1024 * 1024,
	.log_max_bytes = 1024 * 1024,
	.timeout_default = 300,
	.timeout_max = 3600,
	.memory_mb_default = 512,
	.memory_mb_min = 16,
	.memory_mb_max = 4096,
	.outputs_max_bytes = 100 * 1000 * 1000,
	.pids_max = 64,
	.retention_seconds = 3600,
	.failed_retention_seconds = 300,
	.queued_max_seconds = 3600,
};

/* ---- helpers ---------------------------------------------------------- */

static bool utf8_valid(const char *s)
{
	json_t *j = json_string(s); /* jansson refuses invalid UTF-8 */
	bool valid = j != NULL;

	json_decref(j);
	return valid;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* n copies of c, NUL terminated (caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* printf into a malloc'd string (caller frees). */
static __attribute__((format(printf, 1, 2))) char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static struct manifest *parse_ok_len(const char *json, size_t len, const char *name)
{
	struct manifest *m = NULL;
	struct manifest_error err;
	int rc = manifest_parse(json, len, &limits, &m, &err);

	if (!ok(rc == 0 && m != NULL, "accepted: %s", name))
		printf("#   field '%s': %s\n", err.field, err.reason);
	return rc == 0 ? m : NULL;
}

static struct manifest *parse_ok(const char *json, const char *name)
{
	return parse_ok_len(json, strlen(json), name);
}

/* The manifest is refused, *out stays NULL, the error names `field` and
 * has a printable reason. */
static void parse_err_len(const char *json, size_t len, const struct sandrun_limits *lim,
			  const char *field, const char *name)
{
	struct manifest *m = (struct manifest *)&m; /* anything but NULL */
	struct manifest_error err;
	int rc;

	memset(&err, 'X', sizeof(err));
	rc = manifest_parse(json, len, lim, &m, &err);
	ok(rc == -1 && m == NULL && memchr(err.field, '\0', sizeof(err.field)) &&
		   memchr(err.reason, '\0', sizeof(err.reason)) && strcmp(err.field, field) == 0 &&
		   err.reason[0] != '\0' && utf8_valid(err.field) && utf8_valid(err.reason) &&
		   !has_control(err.field) && !has_control(err.reason),
	   "refused, field '%s': %s", field, name);
	if (rc != -1 || m != NULL)
		printf("#   rc %d, manifest %p\n", rc, (void *)m);
	else
		printf("#   field '%.64s': %.256s\n", err.field, err.reason);
	if (rc == 0)
		manifest_free(m);
}

static void parse_err(const char *json, const char *field, const char *name)
{
	parse_err_len(json, strlen(json), &limits, field, name);
}

/* Like parse_err, and the reason contains `needle`. */
static void parse_err_says(const char *json, const char *field, const char *needle, const char *name)
{
	struct manifest *m = NULL;
	struct manifest_error err;
	int rc = manifest_parse(json, strlen(json), &limits, &m, &err);

	ok(rc == -1 && strcmp(err.field, field) == 0 && strstr(err.reason, needle) != NULL,
	   "refused, field '%s', reason mentions \"%s\": %s", field, needle, name);
	if (rc == -1)
		printf("#   field '%s': %s\n", err.field, err.reason);
	manifest_free(m);
}

static bool str_eq(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Field by field; env compared as a set (canonical JSON sorts its keys). */
static bool manifests_equal(const struct manifest *a, const struct manifest *b)
{
	size_t i, j;

	if (!str_eq(a->entrypoint, b->entrypoint) || !str_eq(a->interpreter, b->interpreter) ||
	    !str_eq(a->environment, b->environment) || !str_eq(a->requirements, b->requirements) ||
	    a->nargs != b->nargs || a->nenv != b->nenv || a->noutputs != b->noutputs ||
	    a->stdin_len != b->stdin_len || a->timeout != b->timeout || a->memory_mb != b->memory_mb ||
	    a->gpu.present != b->gpu.present || a->gpu.required != b->gpu.required ||
	    a->gpu.min_vram_gb != b->gpu.min_vram_gb || !str_eq(a->gpu.cuda_version, b->gpu.cuda_version))
		return false;
	if ((a->stdin_data == NULL) != (b->stdin_data == NULL) ||
	    (a->stdin_len && memcmp(a->stdin_data, b->stdin_data, a->stdin_len) != 0))
		return false;
	for (i = 0; i < a->nargs; i++)
		if (!str_eq(a->args[i], b->args[i]))
			return false;
	for (i = 0; i < a->noutputs; i++)
		if (!str_eq(a->outputs[i], b->outputs[i]))
			return false;
	for (i = 0; i < a->nenv; i++) {
		for (j = 0; j < b->nenv; j++)
			if (str_eq(a->env_names[i], b->env_names[j]))
				break;
		if (j == b->nenv || !str_eq(a->env_values[i], b->env_values[j]))
			return false;
	}
	return true;
}

/* manifest_to_json -> manifest_parse gives the same manifest and the same text. */
static void round_trip(const struct manifest *m, const char *name)
{
	char *j1 = manifest_to_json(m), *j2 = NULL;
	struct manifest *m2 = NULL;
	struct manifest_error err;

	if (!ok(j1 != NULL, "canonical JSON written: %s", name))
		return;
	if (!ok(manifest_parse(j1, strlen(j1), &limits, &m2, &err) == 0, "canonical JSON parses: %s", name)) {
		printf("#   %s\n#   field '%s': %s\n", j1, err.field, err.reason);
		free(j1);
		return;
	}
	ok(manifests_equal(m, m2), "round trip gives the same manifest: %s", name);
	j2 = manifest_to_json(m2);
	is_str(j2, j1, "round trip gives the same canonical JSON: %s", name);
	free(j1);
	free(j2);
	manifest_free(m2);
}

/* ---- the manifests from the documentation ------------------------------ */

static void test_documented(void)
{
	struct manifest *m;
	char *j;

	m = parse_ok("{\"entrypoint\":\"hello.py\",\"interpreter\":\"python3\"}", "hello.py");
	if (m) {
		is_str(m->entrypoint, "hello.py", "entrypoint");
		is_str(m->interpreter, "python3", "interpreter");
		ok(m->nargs == 0 && m->args == NULL, "no args");
		ok(m->stdin_data == NULL && m->stdin_len == 0, "no stdin");
		ok(m->nenv == 0, "no env");
		is_str(m->environment, "default", "environment defaults to \"default\"");
		ok(m->requirements == NULL, "no requirements");
		ok(m->noutputs == 0, "no outputs");
		is_int(m->timeout, 300, "timeout defaults to limits.timeout_default");
		is_int(m->memory_mb, 512, "memory_mb defaults to limits.memory_mb_default");
		ok(!m->gpu.present, "no gpu");
		j = manifest_to_json(m);
		is_str(j,
		       "{\"args\":[],\"entrypoint\":\"hello.py\",\"env\":{},\"environment\":\"default\","
		       "\"gpu\":null,\"interpreter\":\"python3\",\"memory_mb\":512,\"outputs\":[],"
		       "\"requirements\":null,\"stdin\":\"\",\"timeout\":300}",
		       "canonical JSON: sorted, compact, every field present");
		free(j);
		round_trip(m, "hello.py");
		manifest_free(m);
	}

	m = parse_ok("{\n  \"entrypoint\": \"main.py\",\n  \"interpreter\": \"python3\",\n"
		     "  \"outputs\": [\"*.txt\", \"results/\"]\n}\n",
		     "multi-line manifest with outputs");
	if (m) {
		is_str(m->entrypoint, "main.py", "entrypoint");
		ok(m->noutputs == 2, "two outputs");
		if (m->noutputs == 2) {
			is_str(m->outputs[0], "*.txt", "outputs[0] is a glob");
			is_str(m->outputs[1], "results/", "outputs[1] keeps its trailing slash (a directory)");
		}
		round_trip(m, "multi-line manifest");
		manifest_free(m);
	}

	m = parse_ok("{\"entrypoint\":\"run_tests.sh\"}", "run_tests.sh");
	if (m) {
		is_str(m->interpreter, "bash", "the interpreter of a .sh entrypoint is bash");
		round_trip(m, "run_tests.sh");
		manifest_free(m);
	}

	m = parse_ok("{\n        \"entrypoint\":\"train.py\",\n        \"interpreter\":\"python3\",\n"
		     "        \"requirements\":\"requirements.txt\",\n"
		     "        \"outputs\":[\"model.pkl\",\"metrics.json\"],\n"
		     "        \"timeout\":600,\n        \"memory_mb\":1024\n      }",
		     "train.py with requirements, outputs, timeout, memory_mb");
	if (m) {
		is_str(m->requirements, "requirements.txt", "requirements");
		ok(m->noutputs == 2 && str_eq(m->outputs[0], "model.pkl") && str_eq(m->outputs[1], "metrics.json"),
		   "outputs in order");
		is_int(m->timeout, 600, "timeout 600");
		is_int(m->memory_mb, 1024, "memory_mb 1024");
		round_trip(m, "train.py");
		manifest_free(m);
	}

	m = parse_ok("{\"entrypoint\":\"train.py\",\"gpu\":{\"required\":true,\"min_vram_gb\":8,"
		     "\"cuda_version\":\"11.8\"}}",
		     "train.py with gpu");
	if (m) {
		ok(m->gpu.present && m->gpu.required, "gpu required");
		ok(m->gpu.min_vram_gb == 8.0, "min_vram_gb 8");
		is_str(m->gpu.cuda_version, "11.8", "cuda_version");
		round_trip(m, "gpu");
		manifest_free(m);
	}

	m = parse_ok("{\"entrypoint\":\"ml_script.py\",\"interpreter\":\"python3\",\"environment\":\"ml-basic\"}",
		     "ml_script.py in ml-basic");
	if (m) {
		is_str(m->environment, "ml-basic", "environment ml-basic");
		manifest_free(m);
	}
}

/* ---- interpreter --------------------------------------------------------- */

static void test_interpreter(void)
{
	static const struct {
		const char *path, *want;
	} map[] = {
		{ "a.py", "python3" },  { "src/main.py", "python3" }, { "a.js", "node" },
		{ "a.mjs", "node" },    { "a.cjs", "node" },          { "a.sh", "bash" },
		{ "a.rb", "ruby" },     { "a.R", "Rscript" },         { "a.r", "Rscript" },
		{ "a.pl", "perl" },     { "a.php", "php" },           { "a.tar.py", "python3" },
		{ "a", NULL },          { "a.exe", NULL },            { "a.PY", NULL },
		{ "a.py.bak", NULL },   { "dir.py/run", NULL },       { ".py", NULL },
		{ "dir/.sh", NULL },    { "a.", NULL },               { "", NULL },
	};
	static const char *const names[] = { "python3", "node", "bash", "sh", "ruby", "Rscript", "perl", "php" };
	struct manifest *m;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		is_str(manifest_interpreter_for_path(map[i].path), map[i].want, "interpreter for \"%s\"",
		       map[i].path);
	ok(manifest_interpreter_for_path(NULL) == NULL, "interpreter for NULL is NULL");

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *j = fmt("{\"entrypoint\":\"x\",\"interpreter\":\"%s\"}", names[i]);
		ok(manifest_interpreter_known(names[i]), "%s is known", names[i]);
		m = parse_ok(j, names[i]);
		if (m)
			is_str(m->interpreter, names[i], "interpreter %s kept", names[i]);
		manifest_free(m);
		free(j);
	}
	ok(!manifest_interpreter_known("python") && !manifest_interpreter_known("none") &&
		   !manifest_interpreter_known("") && !manifest_interpreter_known(NULL),
	   "python, none, \"\" and NULL are not interpreter names");

	m = parse_ok("{\"entrypoint\":\"a.rb\"}", "interpreter from .rb");
	if (m)
		is_str(m->interpreter, "ruby", ".rb runs with ruby");
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"bin/run\"}", "executable entrypoint");
	if (m) {
		ok(m->interpreter == NULL, "no extension: no interpreter, the entrypoint runs itself");
		round_trip(m, "no interpreter");
	}
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"interpreter\":\"none\"}", "interpreter \"none\"");
	if (m) {
		ok(m->interpreter == NULL, "\"none\" means run the entrypoint itself, even for a .py");
		round_trip(m, "interpreter none");
	}
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"interpreter\":null}", "interpreter null");
	if (m)
		ok(m->interpreter == NULL, "null means run the entrypoint itself");
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"interpreter\":\"node\"}", "interpreter overrides the extension");
	if (m)
		is_str(m->interpreter, "node", "an explicit interpreter wins over the extension");
	manifest_free(m);

	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":\"python\"}", "interpreter", "unknown interpreter");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":\"Python3\"}", "interpreter", "names are case-sensitive");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":\"/usr/bin/python3\"}", "interpreter", "a path");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":\"\"}", "interpreter", "empty string");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":\"None\"}", "interpreter", "None");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":3}", "interpreter", "a number");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":true}", "interpreter", "a boolean");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":[\"python3\"]}", "interpreter", "an array");
	parse_err("{\"entrypoint\":\"a.py\",\"interpreter\":\"python3\\u0000x\"}", "interpreter", "a NUL");
	parse_err_says("{\"entrypoint\":\"a.py\",\"interpreter\":\"java\"}", "interpreter", "python3",
		       "the reason lists what is allowed");
}

/* ---- top level ----------------------------------------------------------- */

static void test_top_level(void)
{
	struct sandrun_limits small = limits;
	struct manifest *m = NULL;
	char *big;

	parse_err_says("{\"entrypoint\":\"a.py\",\"foo\":1}", "foo", "unknown field", "unknown field");
	parse_err("{\"Entrypoint\":\"a.py\"}", "Entrypoint", "field names are case-sensitive");
	parse_err("{\"foo\":1,\"entrypoint\":\"a.py\"}", "foo", "unknown field before a known one");
	parse_err("{\"timeout\":0,\"zzz\":1,\"entrypoint\":\"a.py\"}", "zzz",
		  "an unknown field is reported before a bad known field");
	parse_err("{\"entrypoint\":\"a.py\",\"files\":{}}", "files", "\"files\" is unknown in a manifest");
	parse_err("{\"entrypoint\":\"a.py\",\"bad\\u0001key\":1}", "bad?key",
		  "a control character in an unknown key is shown as '?'");
	{
		char *k62 = repeat('k', 62), *want = fmt("%s?", k62);
		big = fmt("{\"entrypoint\":\"a.py\",\"%s\\u00e9\":1}", k62);
		parse_err(big, want, "a long unknown key is cut without splitting a UTF-8 sequence");
		free(big);
		free(want);
		free(k62);
	}

	parse_err_says("{\"entrypoint\":\"a.py\",\"entrypoint\":\"b.py\"}", "", "duplicate", "duplicate key");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"A\":\"1\",\"A\":\"2\"}}", "", "duplicate key in env");
	parse_err("{\"entrypoint\":\"a.py\",\"gpu\":{\"required\":true,\"required\":false}}", "",
		  "duplicate key in gpu");

	parse_err_says("[]", "", "object", "an array at the top level");
	parse_err("[{\"entrypoint\":\"a.py\"}]", "", "an array holding a manifest");
	parse_err("\"a.py\"", "", "a string at the top level");
	parse_err("1", "", "a number at the top level");
	parse_err("null", "", "null at the top level");
	parse_err("true", "", "true at the top level");

	parse_err_says("{", "", "line 1", "truncated JSON; the reason has jansson's line");
	parse_err_says("{\n\"entrypoint\": }", "", "line 2", "syntax error on line 2");
	parse_err_says("{\"entrypoint\":\"a.py\",}", "", "column", "trailing comma; the reason has a column");
	parse_err("", "", "empty text");
	parse_err("   ", "", "only blanks");
	parse_err("{\"entrypoint\":\"a.py\"} x", "", "garbage after the object");
	parse_err("{\"entrypoint\":\"a.py\"}{}", "", "two objects");
	parse_err("{'entrypoint':'a.py'}", "", "single quotes");
	parse_err("{\"entrypoint\":\"\xff\xfe.py\"}", "", "invalid UTF-8 (the reason stays valid UTF-8)");
	parse_err("{\"entrypoint\":\"a\xc3\"}", "", "a cut UTF-8 sequence");
	parse_err("{\"entrypoint\":\"a\x01.py\"}", "", "a raw control character in a string");
	parse_err("{\"entrypoint\":\"\\ud800.py\"}", "", "a lone surrogate escape");
	parse_err("{\xff:1}", "", "invalid UTF-8 where a key should be");
	parse_err_len("{\"entrypoint\":\"a.py\"}\0", 22, &limits, "", "a NUL byte after the object");
	parse_err_len("{\"entrypoint\":\"a\0.py\"}", sizeof("{\"entrypoint\":\"a\0.py\"}") - 1, &limits, "", "a raw NUL byte inside a string");

	parse_err("{}", "entrypoint", "entrypoint missing");
	parse_err_says("{\"interpreter\":\"python3\"}", "entrypoint", "required", "entrypoint is required");

	/* The text's size bound. */
	small.manifest_max_bytes = 24;
	{
		const char *t = "{\"entrypoint\":\"abc.py\"} "; /* 24 bytes */
		ok(strlen(t) == 24 && manifest_parse(t, 24, &small, &m, NULL) == 0, "text of exactly manifest_max_bytes");
		manifest_free(m);
		m = NULL;
		parse_err_len("{\"entrypoint\":\"abc.py\"}  ", 25, &small, "", "manifest_max_bytes + 1 is refused");
	}
	big = malloc(2 * 1024 * 1024 + 1);
	if (big) {
		memset(big, ' ', 2 * 1024 * 1024 + 1);
		memcpy(big, "{\"entrypoint\":\"a.py\"}", 21);
		parse_err_len(big, 2 * 1024 * 1024 + 1, &limits, "", "2 MiB + 1 is refused");
		m = parse_ok_len(big, 2 * 1024 * 1024, "2 MiB exactly (padded with blanks)");
		manifest_free(m);
		m = NULL;
		free(big);
	}

	/* err may be NULL; out must not be. */
	ok(manifest_parse("{}", 2, &limits, &m, NULL) == -1 && m == NULL, "err may be NULL");
	ok(manifest_parse("{\"entrypoint\":\"a\"}", 18, &limits, NULL, NULL) == -1, "out NULL is refused");
	ok(manifest_parse("{\"entrypoint\":\"a\"}", 18, NULL, &m, NULL) == -1 && m == NULL, "limits NULL is refused");
	ok(manifest_parse(NULL, 0, &limits, &m, NULL) == -1 && m == NULL, "NULL text is refused");
	manifest_free(NULL);
	ok(1, "manifest_free(NULL) is a no-op");
	ok(manifest_to_json(NULL) == NULL, "manifest_to_json(NULL) is NULL");
}

/* ---- entrypoint and requirements ------------------------------------------ */

static void test_paths(void)
{
	static const char *const bad[] = {
		"../a.py", "a/../b.py", "..", "a/..", "/etc/passwd", "/a.py", "//a.py", "", ".", "./",
		"a\\u0000b.py", "a\\nb.py", "a\\u001b.py", "a\\u007f.py",
	};
	static const char *const bad_type[] = { "1", "null", "true", "[]", "{}", "[\"a.py\"]" };
	struct manifest *m;
	char *long_component, *path, *j;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = fmt("{\"entrypoint\":\"%s\"}", bad[i]);
		parse_err(j, "entrypoint", bad[i]);
		free(j);
		j = fmt("{\"entrypoint\":\"a.py\",\"requirements\":\"%s\"}", bad[i]);
		parse_err(j, "requirements", bad[i]);
		free(j);
	}
	parse_err_says("{\"entrypoint\":\"/a.py\"}", "entrypoint", "absolute", "the reason says absolute");
	parse_err_says("{\"entrypoint\":\"../a.py\"}", "entrypoint", "..", "the reason says \"..\"");
	for (i = 0; i < sizeof(bad_type) / sizeof(bad_type[0]); i++) {
		j = fmt("{\"entrypoint\":%s}", bad_type[i]);
		parse_err(j, "entrypoint", bad_type[i]);
		free(j);
		if (strcmp(bad_type[i], "null") == 0)
			continue; /* requirements may be null */
		j = fmt("{\"entrypoint\":\"a.py\",\"requirements\":%s}", bad_type[i]);
		parse_err(j, "requirements", bad_type[i]);
		free(j);
	}

	m = parse_ok("{\"entrypoint\":\"./src//main.py\",\"requirements\":\"./deps/requirements.txt\"}",
		     "paths are normalized");
	if (m) {
		is_str(m->entrypoint, "src/main.py", "entrypoint normalized");
		is_str(m->requirements, "deps/requirements.txt", "requirements normalized");
		is_str(m->interpreter, "python3", "the extension is read from the normalized path");
	}
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"requirements\":null}", "requirements null");
	if (m)
		ok(m->requirements == NULL, "requirements null means none");
	manifest_free(m);

	/* 255-byte components are fine, 256 not. */
	long_component = repeat('c', 255);
	j = fmt("{\"entrypoint\":\"%s\"}", long_component);
	m = parse_ok(j, "a 255-byte component");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"%sc\"}", long_component);
	parse_err(j, "entrypoint", "a 256-byte component");
	free(j);

	/* MANIFEST_PATH_MAX_BYTES: 255 + 255 + 255 + 254 + "a" and 4 slashes = 1024. */
	path = fmt("%s/%s/%s/%.254s/a", long_component, long_component, long_component, long_component);
	ok(strlen(path) == MANIFEST_PATH_MAX_BYTES, "test path is %d bytes", MANIFEST_PATH_MAX_BYTES);
	j = fmt("{\"entrypoint\":\"%s\"}", path);
	m = parse_ok(j, "an entrypoint of MANIFEST_PATH_MAX_BYTES");
	if (m)
		ok(strcmp(m->entrypoint, path) == 0, "kept whole");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"%sc\"}", path);
	parse_err(j, "entrypoint", "MANIFEST_PATH_MAX_BYTES + 1");
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"requirements\":\"%sc\"}", path);
	parse_err(j, "requirements", "requirements of MANIFEST_PATH_MAX_BYTES + 1");
	free(j);
	free(path);
	free(long_component);
}

/* ---- args ------------------------------------------------------------------ */

static void test_args(void)
{
	struct manifest *m;
	char *j, *arg;
	size_t i, len;

	m = parse_ok("{\"entrypoint\":\"a.py\",\"args\":[\"--n\",\"3\",\"\",\"two words\",\"é\"]}", "args");
	if (m) {
		ok(m->nargs == 5, "five args");
		if (m->nargs == 5)
			ok(str_eq(m->args[0], "--n") && str_eq(m->args[1], "3") && str_eq(m->args[2], "") &&
				   str_eq(m->args[3], "two words") && str_eq(m->args[4], "é"),
			   "args in order, empty string allowed");
		round_trip(m, "args");
	}
	manifest_free(m);

	parse_err("{\"entrypoint\":\"a.py\",\"args\":\"--n 3\"}", "args", "args as a string");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":{}}", "args", "args as an object");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":null}", "args", "args null");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":[1]}", "args[0]", "a number in args");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":[\"a\",\"b\",\"c\",true]}", "args[3]", "args[3] is a boolean");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":[\"a\",null]}", "args[1]", "null in args");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":[[\"a\"]]}", "args[0]", "an array in args");
	parse_err("{\"entrypoint\":\"a.py\",\"args\":[\"a\\u0000b\"]}", "args[0]", "a NUL in an arg");

	arg = repeat('a', MANIFEST_ARG_MAX_BYTES);
	j = fmt("{\"entrypoint\":\"a.py\",\"args\":[\"%s\"]}", arg);
	m = parse_ok(j, "an arg of MANIFEST_ARG_MAX_BYTES");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"args\":[\"x\",\"%sa\"]}", arg);
	parse_err(j, "args[1]", "an arg of MANIFEST_ARG_MAX_BYTES + 1");
	free(j);
	free(arg);

	/* MANIFEST_ARGS_MAX strings, then one more. */
	len = 64 + (size_t)MANIFEST_ARGS_MAX * 4;
	j = malloc(len);
	if (j == NULL)
		abort();
	strcpy(j, "{\"entrypoint\":\"a.py\",\"args\":[");
	for (i = 0; i < MANIFEST_ARGS_MAX; i++)
		strcat(j, i ? ",\"x\"" : "\"x\"");
	strcat(j, "]}");
	m = parse_ok(j, "MANIFEST_ARGS_MAX args");
	if (m)
		is_int(m->nargs, MANIFEST_ARGS_MAX, "all kept");
	manifest_free(m);
	j[strlen(j) - 2] = '\0';
	strcat(j, ",\"x\"]}");
	parse_err(j, "args", "MANIFEST_ARGS_MAX + 1 args");
	free(j);
}

/* ---- stdin ---------------------------------------------------------------- */

static void test_stdin(void)
{
	struct manifest *m;
	char *data, *j;

	m = parse_ok("{\"entrypoint\":\"a.py\",\"stdin\":\"line 1\\nline 2\\n\"}", "stdin");
	if (m)
		ok(m->stdin_len == 14 && memcmp(m->stdin_data, "line 1\nline 2\n", 14) == 0, "stdin kept");
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"stdin\":\"\"}", "empty stdin");
	if (m)
		ok(m->stdin_data == NULL && m->stdin_len == 0, "empty stdin is NULL, 0");
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"stdin\":\"\\u0000a\\u0000b\\u00e9\"}", "stdin with NUL bytes");
	if (m) {
		ok(m->stdin_len == 6 && memcmp(m->stdin_data, "\0a\0b\xc3\xa9", 6) == 0,
		   "NUL bytes in stdin are kept, with the length");
		round_trip(m, "stdin with NUL");
	}
	manifest_free(m);

	parse_err("{\"entrypoint\":\"a.py\",\"stdin\":1}", "stdin", "stdin as a number");
	parse_err("{\"entrypoint\":\"a.py\",\"stdin\":null}", "stdin", "stdin null");
	parse_err("{\"entrypoint\":\"a.py\",\"stdin\":[\"a\"]}", "stdin", "stdin as an array");

	data = repeat('s', MANIFEST_STDIN_MAX_BYTES);
	j = fmt("{\"entrypoint\":\"a.py\",\"stdin\":\"%s\"}", data);
	m = parse_ok(j, "stdin of MANIFEST_STDIN_MAX_BYTES");
	if (m)
		is_int(m->stdin_len, MANIFEST_STDIN_MAX_BYTES, "all of it");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"stdin\":\"%ss\"}", data);
	parse_err(j, "stdin", "stdin of MANIFEST_STDIN_MAX_BYTES + 1");
	free(j);
	free(data);
}

/* ---- env ------------------------------------------------------------------ */

static void test_env(void)
{
	static const char *const good[] = { "A", "_", "_x", "a1_B", "PATH", "z9" };
	static const char *const bad[] = { "1A", "A-B", "", "A B", "\\u00c9", "A=B", "A.B", "$A" };
	struct manifest *m;
	char *name, *value, *j;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"%s\":\"v\"}}", good[i]);
		m = parse_ok(j, good[i]);
		if (m)
			ok(m->nenv == 1 && str_eq(m->env_names[0], good[i]) && str_eq(m->env_values[0], "v"),
			   "env name \"%s\" kept", good[i]);
		manifest_free(m);
		free(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"OK\":\"1\",\"%s\":\"v\"}}", bad[i]);
		parse_err(j, "env", bad[i]);
		free(j);
	}

	m = parse_ok("{\"entrypoint\":\"a.py\",\"env\":{\"B\":\"2\",\"A\":\"\",\"C\":\"x=y z\"}}", "env in order");
	if (m) {
		ok(m->nenv == 3 && str_eq(m->env_names[0], "B") && str_eq(m->env_names[1], "A") &&
			   str_eq(m->env_names[2], "C"),
		   "env kept in the order given");
		ok(m->nenv == 3 && str_eq(m->env_values[0], "2") && str_eq(m->env_values[1], "") &&
			   str_eq(m->env_values[2], "x=y z"),
		   "env values, empty allowed");
		round_trip(m, "env");
	}
	manifest_free(m);

	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"A\\u0000B\":\"v\"}}", "",
		  "jansson itself refuses a NUL in a key (a syntax error)");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":[]}", "env", "env as an array");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":\"A=1\"}", "env", "env as a string");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":null}", "env", "env null");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"FOO\":1}}", "env.FOO", "a number value");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"FOO\":null}}", "env.FOO", "a null value");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"FOO\":true}}", "env.FOO", "a boolean value");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"FOO\":[\"a\"]}}", "env.FOO", "an array value");
	parse_err("{\"entrypoint\":\"a.py\",\"env\":{\"FOO\":\"a\\u0000b\"}}", "env.FOO", "a NUL in a value");

	/* Name length: MANIFEST_NAME_MAX_BYTES. */
	name = repeat('N', MANIFEST_NAME_MAX_BYTES);
	j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"%s\":\"v\"}}", name);
	m = parse_ok(j, "an env name of MANIFEST_NAME_MAX_BYTES");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"%sN\":\"v\"}}", name);
	parse_err(j, "env", "an env name of MANIFEST_NAME_MAX_BYTES + 1");
	free(j);
	/* "env." + 64 bytes does not fit error.field: the field is "env" then. */
	j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"%s\":1}}", name);
	parse_err(j, "env", "a bad value under a 64-byte name names \"env\"");
	free(j);
	name[59] = '\0';
	j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"%s\":1}}", name);
	{
		char *want = fmt("env.%s", name);
		parse_err(j, want, "a bad value under a 59-byte name names env.NAME");
		free(want);
	}
	free(j);
	free(name);

	/* Value length: MANIFEST_ENV_VALUE_MAX. */
	value = repeat('v', MANIFEST_ENV_VALUE_MAX);
	j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"V\":\"%s\"}}", value);
	m = parse_ok(j, "an env value of MANIFEST_ENV_VALUE_MAX");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"env\":{\"V\":\"%sv\"}}", value);
	parse_err(j, "env.V", "an env value of MANIFEST_ENV_VALUE_MAX + 1");
	free(j);
	free(value);

	/* Count: MANIFEST_ENV_MAX. */
	j = malloc(64 + (size_t)(MANIFEST_ENV_MAX + 1) * 16);
	if (j == NULL)
		abort();
	strcpy(j, "{\"entrypoint\":\"a.py\",\"env\":{");
	for (i = 0; i < MANIFEST_ENV_MAX; i++)
		sprintf(j + strlen(j), "%s\"V%zu\":\"x\"", i ? "," : "", i);
	strcat(j, "}}");
	m = parse_ok(j, "MANIFEST_ENV_MAX variables");
	if (m)
		is_int(m->nenv, MANIFEST_ENV_MAX, "all kept");
	manifest_free(m);
	j[strlen(j) - 2] = '\0';
	strcat(j, ",\"LAST\":\"x\"}}");
	parse_err(j, "env", "MANIFEST_ENV_MAX + 1 variables");
	free(j);
}

/* ---- environment ------------------------------------------------------------ */

static void test_environment(void)
{
	static const char *const good[] = { "default", "ml-basic", "a", "0", "py3.11_x-y", "vision" };
	static const char *const bad[] = { "", "ML", "-a", ".a", "_a", "a b", "a/b", "../x", "é", "a\\u0000" };
	struct manifest *m;
	char *name, *j;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"environment\":\"%s\"}", good[i]);
		m = parse_ok(j, good[i]);
		if (m)
			is_str(m->environment, good[i], "environment \"%s\" kept", good[i]);
		manifest_free(m);
		free(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"environment\":\"%s\"}", bad[i]);
		parse_err(j, "environment", bad[i]);
		free(j);
	}
	parse_err("{\"entrypoint\":\"a.py\",\"environment\":null}", "environment", "environment null");
	parse_err("{\"entrypoint\":\"a.py\",\"environment\":1}", "environment", "environment as a number");
	parse_err("{\"entrypoint\":\"a.py\",\"environment\":[\"default\"]}", "environment", "environment as an array");

	name = repeat('e', MANIFEST_NAME_MAX_BYTES);
	j = fmt("{\"entrypoint\":\"a.py\",\"environment\":\"%s\"}", name);
	m = parse_ok(j, "an environment name of MANIFEST_NAME_MAX_BYTES");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"environment\":\"%se\"}", name);
	parse_err(j, "environment", "an environment name of MANIFEST_NAME_MAX_BYTES + 1");
	free(j);
	free(name);
}

/* ---- outputs --------------------------------------------------------------- */

static void test_outputs(void)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{ "*.png", "*.png" },         { "results/", "results/" },   { "model.pkl", "model.pkl" },
		{ "./results//", "results/" }, { "a/./b/*.csv", "a/b/*.csv" }, { "**/*.txt", "**/*.txt" },
		{ "a//", "a/" },              { "[ab]?.log", "[ab]?.log" },
	};
	static const char *const bad[] = {
		"", "/abs", "/", "//x", "../x", "a/../b", "..", "x/..", ".", "./", "a\\u0000", "a\\nb",
	};
	struct manifest *m;
	char *glob, *j;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"outputs\":[\"%s\"]}", good[i].in);
		m = parse_ok(j, good[i].in);
		if (m && m->noutputs == 1)
			is_str(m->outputs[0], good[i].want, "output \"%s\" -> \"%s\"", good[i].in, good[i].want);
		manifest_free(m);
		free(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"outputs\":[\"ok.txt\",\"ok/\",\"%s\"]}", bad[i]);
		parse_err(j, "outputs[2]", bad[i]);
		free(j);
	}
	parse_err("{\"entrypoint\":\"a.py\",\"outputs\":\"*.png\"}", "outputs", "outputs as a string");
	parse_err("{\"entrypoint\":\"a.py\",\"outputs\":null}", "outputs", "outputs null");
	parse_err("{\"entrypoint\":\"a.py\",\"outputs\":{}}", "outputs", "outputs as an object");
	parse_err("{\"entrypoint\":\"a.py\",\"outputs\":[1]}", "outputs[0]", "a number in outputs");
	parse_err("{\"entrypoint\":\"a.py\",\"outputs\":[\"a\",null]}", "outputs[1]", "null in outputs");

	glob = repeat('g', MANIFEST_GLOB_MAX_BYTES - 1);
	j = fmt("{\"entrypoint\":\"a.py\",\"outputs\":[\"%s/\"]}", glob);
	m = parse_ok(j, "a directory glob of MANIFEST_GLOB_MAX_BYTES with its slash");
	if (m && m->noutputs == 1)
		ok(strlen(m->outputs[0]) == MANIFEST_GLOB_MAX_BYTES, "kept whole with its slash");
	if (m)
		round_trip(m, "a long directory glob");
	manifest_free(m);
	free(j);
	j = fmt("{\"entrypoint\":\"a.py\",\"outputs\":[\"%sgg\"]}", glob);
	parse_err(j, "outputs[0]", "a glob of MANIFEST_GLOB_MAX_BYTES + 1");
	free(j);
	free(glob);

	j = malloc(64 + (size_t)(MANIFEST_OUTPUTS_MAX + 1) * 8);
	if (j == NULL)
		abort();
	strcpy(j, "{\"entrypoint\":\"a.py\",\"outputs\":[");
	for (i = 0; i < MANIFEST_OUTPUTS_MAX; i++)
		strcat(j, i ? ",\"*.x\"" : "\"*.x\"");
	strcat(j, "]}");
	m = parse_ok(j, "MANIFEST_OUTPUTS_MAX outputs");
	if (m)
		is_int(m->noutputs, MANIFEST_OUTPUTS_MAX, "all kept");
	manifest_free(m);
	j[strlen(j) - 2] = '\0';
	strcat(j, ",\"*.x\"]}");
	parse_err(j, "outputs", "MANIFEST_OUTPUTS_MAX + 1 outputs");
	free(j);
}

/* ---- timeout and memory_mb --------------------------------------------------- */

static void test_numbers(void)
{
	static const char *const bad_type[] = {
		"\"30\"", "30.0", "1e3", "1.5", "true", "false", "null", "[30]", "{}",
	};
	struct sandrun_limits other = limits;
	struct manifest *m = NULL;
	char *j;
	size_t i;

	m = parse_ok("{\"entrypoint\":\"a.py\",\"timeout\":1}", "timeout 1");
	if (m)
		is_int(m->timeout, 1, "timeout 1 kept");
	manifest_free(m);
	m = parse_ok("{\"entrypoint\":\"a.py\",\"timeout\":3600}", "timeout timeout_max");
	if (m)
		is_int(m->timeout, 3600, "timeout 3600 kept");
	manifest_free(m);
	parse_err_says("{\"entrypoint\":\"a.py\",\"timeout\":0}", "timeout",
		       "timeout must be an integer from 1 to 3600 seconds", "timeout 0");
	parse_err("{\"entrypoint\":\"a.py\",\"timeout\":3601}", "timeout", "timeout_max + 1");
	parse_err("{\"entrypoint\":\"a.py\",\"timeout\":-1}", "timeout", "timeout -1");
	parse_err("{\"entrypoint\":\"a.py\",\"timeout\":-9223372036854775808}", "timeout", "timeout INT64_MIN");
	parse_err("{\"entrypoint\":\"a.py\",\"timeout\":9223372036854775807}", "timeout", "timeout INT64_MAX");
	/* jansson refuses integers past int64 while parsing: a syntax error. */
	parse_err("{\"entrypoint\":\"a.py\",\"timeout\":99999999999999999999}", "", "timeout past int64");

	m = parse_ok("{\"entrypoint\":\"a.py\",\"memory_mb\":16}", "memory_mb min");
	if (m)
		is_int(m->memory_mb, 16, "memory_mb 16 kept");
	manifest_free(m);
	m = parse_ok("{\"entrypoint\":\"a.py\",\"memory_mb\":4096}", "memory_mb max");
	if (m)
		is_int(m->memory_mb, 4096, "memory_mb 4096 kept");
	manifest_free(m);
	parse_err_says("{\"entrypoint\":\"a.py\",\"memory_mb\":15}", "memory_mb", "16 to 4096", "memory_mb min - 1");
	parse_err("{\"entrypoint\":\"a.py\",\"memory_mb\":4097}", "memory_mb", "memory_mb max + 1");
	parse_err("{\"entrypoint\":\"a.py\",\"memory_mb\":0}", "memory_mb", "memory_mb 0");

	for (i = 0; i < sizeof(bad_type) / sizeof(bad_type[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"timeout\":%s}", bad_type[i]);
		parse_err(j, "timeout", bad_type[i]);
		free(j);
		j = fmt("{\"entrypoint\":\"a.py\",\"memory_mb\":%s}", bad_type[i]);
		parse_err(j, "memory_mb", bad_type[i]);
		free(j);
	}

	/* The bounds come from the limits, not from constants. */
	other.timeout_max = 60;
	other.timeout_default = 10;
	other.memory_mb_min = 100;
	other.memory_mb_max = 200;
	other.memory_mb_default = 150;
	m = NULL;
	ok(manifest_parse("{\"entrypoint\":\"a\"}", 18, &other, &m, NULL) == 0 && m && m->timeout == 10 &&
		   m->memory_mb == 150,
	   "defaults come from the limits");
	manifest_free(m);
	m = NULL;
	ok(manifest_parse("{\"entrypoint\":\"a\",\"timeout\":60,\"memory_mb\":200}", 47, &other, &m, NULL) == 0,
	   "maxima come from the limits");
	manifest_free(m);
	m = NULL;
	parse_err_len("{\"entrypoint\":\"a\",\"timeout\":61}", 31, &other, "timeout", "timeout past a configured max");
	parse_err_len("{\"entrypoint\":\"a\",\"memory_mb\":99}", 33, &other, "memory_mb", "memory_mb under a configured min");
}

/* ---- gpu ------------------------------------------------------------------ */

static void test_gpu(void)
{
	static const struct {
		const char *json, *field, *name;
	} bad[] = {
		{ "1", "gpu", "gpu as a number" },
		{ "true", "gpu", "gpu true" },
		{ "\"a100\"", "gpu", "gpu as a string" },
		{ "[]", "gpu", "gpu as an array" },
		{ "{\"x\":1}", "gpu.x", "unknown gpu field" },
		{ "{\"required\":true,\"vram\":8}", "gpu.vram", "another unknown gpu field" },
		{ "{\"required\":1}", "gpu.required", "required as a number" },
		{ "{\"required\":\"yes\"}", "gpu.required", "required as a string" },
		{ "{\"required\":null}", "gpu.required", "required null" },
		{ "{\"min_vram_gb\":\"8\"}", "gpu.min_vram_gb", "min_vram_gb as a string" },
		{ "{\"min_vram_gb\":true}", "gpu.min_vram_gb", "min_vram_gb true" },
		{ "{\"min_vram_gb\":null}", "gpu.min_vram_gb", "min_vram_gb null" },
		{ "{\"min_vram_gb\":-1}", "gpu.min_vram_gb", "min_vram_gb -1" },
		{ "{\"min_vram_gb\":-0.5}", "gpu.min_vram_gb", "min_vram_gb -0.5" },
		{ "{\"min_vram_gb\":1025}", "gpu.min_vram_gb", "min_vram_gb 1025" },
		{ "{\"min_vram_gb\":1024.5}", "gpu.min_vram_gb", "min_vram_gb 1024.5" },
		{ "{\"min_vram_gb\":1e300}", "gpu.min_vram_gb", "min_vram_gb 1e300" },
		{ "{\"cuda_version\":11}", "gpu.cuda_version", "cuda_version as a number" },
		{ "{\"cuda_version\":11.8}", "gpu.cuda_version", "cuda_version as a real" },
		{ "{\"cuda_version\":\"11\"}", "gpu.cuda_version", "cuda_version without a dot" },
		{ "{\"cuda_version\":\"11.8.1\"}", "gpu.cuda_version", "cuda_version with two dots" },
		{ "{\"cuda_version\":\"a.b\"}", "gpu.cuda_version", "cuda_version letters" },
		{ "{\"cuda_version\":\".1\"}", "gpu.cuda_version", "cuda_version .1" },
		{ "{\"cuda_version\":\"1.\"}", "gpu.cuda_version", "cuda_version 1." },
		{ "{\"cuda_version\":\"\"}", "gpu.cuda_version", "cuda_version empty" },
		{ "{\"cuda_version\":\"12.1 \"}", "gpu.cuda_version", "cuda_version with a blank" },
		{ "{\"cuda_version\":\"v12.1\"}", "gpu.cuda_version", "cuda_version v12.1" },
		{ "{\"cuda_version\":\"12.1\\u0000\"}", "gpu.cuda_version", "cuda_version with a NUL" },
		{ "{\"cuda_version\":\"111111111111111.1\"}", "gpu.cuda_version", "cuda_version of 17 bytes" },
	};
	struct manifest *m;
	char *j;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = fmt("{\"entrypoint\":\"a.py\",\"gpu\":%s}", bad[i].json);
		parse_err(j, bad[i].field, bad[i].name);
		free(j);
	}

	m = parse_ok("{\"entrypoint\":\"a.py\",\"gpu\":{}}", "gpu {}");
	if (m) {
		ok(m->gpu.present && !m->gpu.required && m->gpu.min_vram_gb == 0 && m->gpu.cuda_version == NULL,
		   "an empty gpu object: present, nothing else");
		round_trip(m, "gpu {}");
	}
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"gpu\":{\"min_vram_gb\":-0.0}}", "gpu min_vram_gb -0.0");
	if (m) {
		j = manifest_to_json(m);
		ok(j && strstr(j, "\"min_vram_gb\":0.0") != NULL, "-0.0 is written as 0.0");
		free(j);
	}
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"gpu\":null}", "gpu null");
	if (m)
		ok(!m->gpu.present, "gpu null is no gpu");
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"gpu\":{\"required\":false,\"min_vram_gb\":0.1,"
		     "\"cuda_version\":null}}",
		     "gpu with a fractional min_vram_gb and cuda_version null");
	if (m) {
		ok(m->gpu.min_vram_gb == 0.1 && m->gpu.cuda_version == NULL, "0.1 GB, no CUDA version");
		round_trip(m, "gpu 0.1");
	}
	manifest_free(m);

	m = parse_ok("{\"entrypoint\":\"a.py\",\"gpu\":{\"min_vram_gb\":1024,\"cuda_version\":\"12.10\"}}",
		     "gpu at the bounds");
	if (m) {
		ok(m->gpu.min_vram_gb == 1024 && str_eq(m->gpu.cuda_version, "12.10"), "1024 GB, CUDA 12.10");
		round_trip(m, "gpu 1024");
	}
	manifest_free(m);
}

/* ---- a manifest with everything, and manifest_from_json() ------------------ */

static void test_full_round_trip(void)
{
	struct manifest *m;
	char *j;

	m = parse_ok("{\"timeout\":1,\"memory_mb\":4096,\"entrypoint\":\"./bin//run\",\"interpreter\":\"none\","
		     "\"args\":[\"-v\",\"\\u00e9\\u4e2d\",\"\\\"quoted\\\"\"],\"stdin\":\"in\\u0000put\\n\","
		     "\"env\":{\"ALPHA\":\"1\",\"BETA\":\"a\\\\b\",\"_Z\":\"\"},\"environment\":\"py3.11\","
		     "\"requirements\":\"requirements.txt\",\"outputs\":[\"out/\",\"*.png\"],"
		     "\"gpu\":{\"required\":true,\"min_vram_gb\":7.5,\"cuda_version\":\"12.1\"}}",
		     "every field");
	if (m) {
		j = manifest_to_json(m);
		is_str(j,
		       "{\"args\":[\"-v\",\"\xc3\xa9\xe4\xb8\xad\",\"\\\"quoted\\\"\"],\"entrypoint\":\"bin/run\","
		       "\"env\":{\"ALPHA\":\"1\",\"BETA\":\"a\\\\b\",\"_Z\":\"\"},\"environment\":\"py3.11\","
		       "\"gpu\":{\"cuda_version\":\"12.1\",\"min_vram_gb\":7.5,\"required\":true},"
		       "\"interpreter\":null,\"memory_mb\":4096,\"outputs\":[\"out/\",\"*.png\"],"
		       "\"requirements\":\"requirements.txt\",\"stdin\":\"in\\u0000put\\n\",\"timeout\":1}",
		       "canonical JSON of every field");
		free(j);
		round_trip(m, "every field");
	}
	manifest_free(m);
}

static void test_from_json(void)
{
	struct manifest *m = NULL;
	struct manifest_error err;
	json_t *root, *args;
	char *before, *after;

	/* The JSON-body submit: the caller removed "files"; the object is not changed. */
	root = json_pack("{s:s, s:[s,s], s:{s:s}}", "entrypoint", "main.py", "args", "a", "b", "env", "K", "v");
	before = json_dumps(root, JSON_SORT_KEYS);
	ok(manifest_from_json(root, &limits, &m, &err) == 0 && m && m->nargs == 2, "manifest_from_json accepts");
	after = json_dumps(root, JSON_SORT_KEYS);
	is_str(after, before, "the object is not modified");
	manifest_free(m);
	m = NULL;
	free(before);
	free(after);

	/* Strings holding NUL that json_loadb would not produce without JSON_ALLOW_NUL. */
	args = json_object_get(root, "args");
	json_array_append_new(args, json_stringn("x\0y", 3));
	ok(manifest_from_json(root, &limits, &m, &err) == -1 && m == NULL && strcmp(err.field, "args[2]") == 0,
	   "a NUL inside an arg built with json_stringn names args[2]");
	json_array_remove(args, 2);

	json_object_set_new(root, "entrypoint", json_stringn("a\0.py", 5));
	ok(manifest_from_json(root, &limits, &m, &err) == -1 && strcmp(err.field, "entrypoint") == 0,
	   "a NUL inside the entrypoint is refused");
	json_object_set_new(root, "entrypoint", json_string("main.py"));

	json_object_setn_new(root, "timeout\0x", 9, json_integer(5));
	ok(manifest_from_json(root, &limits, &m, &err) == -1 && strcmp(err.field, "timeout") == 0 &&
		   strstr(err.reason, "unknown") != NULL,
	   "a key \"timeout\\0x\" is an unknown field, not timeout");
	json_object_deln(root, "timeout\0x", 9);

	json_object_setn_new(json_object_get(root, "env"), "A\0B", 3, json_string("v"));
	ok(manifest_from_json(root, &limits, &m, &err) == -1 && strcmp(err.field, "env") == 0,
	   "an env name holding a NUL is refused");
	json_object_deln(json_object_get(root, "env"), "A\0B", 3);

	json_object_set_new(root, "files", json_object());
	ok(manifest_from_json(root, &limits, &m, &err) == -1 && strcmp(err.field, "files") == 0,
	   "\"files\" left in is an unknown field");
	json_object_del(root, "files");

	json_object_set_new(root, "gpu", json_pack("{s:f}", "min_vram_gb", 2.0));
	ok(manifest_from_json(root, &limits, &m, &err) == 0 && m && m->gpu.min_vram_gb == 2.0,
	   "still accepted after the changes are undone, with a gpu");
	manifest_free(m);
	m = NULL;
	json_decref(root);

	root = json_array();
	ok(manifest_from_json(root, &limits, &m, &err) == -1 && m == NULL && err.field[0] == '\0',
	   "manifest_from_json refuses an array");
	json_decref(root);
	ok(manifest_from_json(NULL, &limits, &m, &err) == -1 && m == NULL, "manifest_from_json refuses NULL");
}

int main(void)
{
	test_documented();
	test_interpreter();
	test_top_level();
	test_paths();
	test_args();
	test_stdin();
	test_env();
	test_environment();
	test_outputs();
	test_numbers();
	test_gpu();
	test_full_round_trip();
	test_from_json();
	return done_testing();
}
