/*
 * sandrun-verify: checks a signed Sandrun result offline (docs/signing.md).
 *
 *   sandrun-verify --worker-id ID status.json [--stdout FILE] [--stderr FILE]
 *                  [--upload FILE] [--output PATH=FILE ...]
 *
 * Rebuilds the canonical message from the status object (GET /status/{id}),
 * checks the Ed25519 signature in its worker_metadata with the public key
 * the worker id names, and checks each downloaded file's SHA-256 (and an
 * output's size) against the figures the signature covers.
 * Exit 0: everything matches; 1: something does not (said on stderr); 2: usage.
 */
#include "sign.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define OUTPUTS_MAX 1024

static int failures;

static __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sandrun-verify --worker-id ID STATUS.json [--stdout FILE] [--stderr FILE]\n"
		   "                      [--upload FILE] [--output PATH=FILE ...]\n"
		   "  STATUS.json  the job's status object (GET /status/{id}); - for stdin\n"
		   "  --worker-id  the worker id (base64 Ed25519 public key) you trust (GET /workers)\n"
		   "  --stdout, --stderr  the logs as downloaded (GET /logs/{id}, ?stream=stderr)\n"
		   "  --upload     the archive you submitted\n"
		   "  --output PATH=FILE  an output file (GET /download/{id}/PATH)\n");
}

/* SHA-256 of a file's bytes (and its size). 0, or -1 with errno. */
static int file_sha256(const char *path, char hex[SIGN_SHA256_HEX_LEN + 1], long long *size)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	EVP_MD_CTX *ctx;
	char buf[65536];
	size_t n;

	if (!f)
		return -1;
	ctx = sign_sha256_begin();
	*size = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		sign_sha256_update(ctx, buf, n);
		*size += (long long)n;
	}
	if (ferror(f)) {
		sign_sha256_end(ctx, hex);
		if (f != stdin)
			fclose(f);
		errno = EIO;
		return -1;
	}
	if (f != stdin)
		fclose(f);
	sign_sha256_end(ctx, hex);
	return 0;
}

static const char *str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* An integer field (null or absent: not present). -1 when it is something else. */
static int int_at(const json_t *o, const char *key, int64_t *v, int *present)
{
	const json_t *j = json_object_get(o, key);

	*present = 0;
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	*present = 1;
	return 0;
}

static void check_file(const char *what, const char *path, const char *want)
{
	char hex[SIGN_SHA256_HEX_LEN + 1];
	long long size;

	if (file_sha256(path, hex, &size) < 0) {
		fail("%s: %s", path, strerror(errno));
		return;
	}
	if (!want || strcmp(hex, want) != 0)
		fail("%s (%s) does not match the signed SHA-256", what, path);
	else
		printf("ok: %s matches (%s)\n", what, path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "worker-id", required_argument, NULL, 'w' },
		{ "stdout", required_argument, NULL, 'o' },
		{ "stderr", required_argument, NULL, 'e' },
		{ "upload", required_argument, NULL, 'u' },
		{ "output", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *worker_id = NULL, *stdout_path = NULL, *stderr_path = NULL, *upload_path = NULL;
	const char *outputs_arg[OUTPUTS_MAX];
	size_t nout_arg = 0, noutputs = 0, msglen = 0;
	struct sign_output *outputs = NULL;
	struct sign_result sr = { 0 };
	json_t *root, *meta, *limits, *hashes, *wm;
	json_error_t jerr;
	EVP_PKEY *pub;
	char *msg;
	int opt, present, bad = 0;
	int64_t v;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': worker_id = optarg; break;
		case 'o': stdout_path = optarg; break;
		case 'e': stderr_path = optarg; break;
		case 'u': upload_path = optarg; break;
		case 'f':
			if (nout_arg == OUTPUTS_MAX || !strchr(optarg, '=')) {
				usage(stderr);
				return 2;
			}
			outputs_arg[nout_arg++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!worker_id || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	root = strcmp(argv[optind], "-") ? json_load_file(argv[optind], 0, &jerr) : json_loadf(stdin, 0, &jerr);
	if (!root || !json_is_object(root)) {
		fprintf(stderr, "FAIL: %s: not a JSON status object (%s)\n", argv[optind], root ? "" : jerr.text);
		return 1;
	}
	wm = json_object_get(root, "worker_metadata");
	meta = json_object_get(root, "execution_metadata");
	hashes = json_object_get(root, "result_hashes");
	limits = json_object_get(meta, "limits");
	if (!json_is_object(wm) || !str_at(wm, "signature") || !str_at(wm, "worker_id")) {
		fprintf(stderr, "FAIL: the result is not signed (no worker_metadata)\n");
		return 1;
	}
	if (strcmp(str_at(wm, "worker_id"), worker_id) != 0) {
		fprintf(stderr, "FAIL: signed by %s, not by the worker id given\n", str_at(wm, "worker_id"));
		return 1;
	}
	if (!(pub = sign_key_from_worker_id(worker_id))) {
		fprintf(stderr, "FAIL: %s is not a worker id (base64 of an Ed25519 public key)\n", worker_id);
		return 1;
	}
	if (!json_is_object(meta) || !json_is_object(hashes) || !json_is_object(limits)) {
		fprintf(stderr, "FAIL: the status object lacks execution_metadata, its limits or result_hashes\n");
		return 1;
	}

	sr.job_id = str_at(root, "job_id");
	sr.worker_id = worker_id;
	sr.upload_sha256 = str_at(hashes, "upload_sha256");
	sr.manifest_sha256 = str_at(hashes, "manifest_sha256");
	sr.stdout_sha256 = str_at(hashes, "stdout_sha256");
	sr.stderr_sha256 = str_at(hashes, "stderr_sha256");
	sr.environment = str_at(meta, "environment");
	sr.status = str_at(root, "status");
	sr.reason = str_at(root, "reason");
	sr.started_at = str_at(root, "started_at");
	sr.finished_at = str_at(root, "finished_at");
	bad |= !sr.job_id || !sr.status || !sr.environment || !sr.started_at || !sr.finished_at;
	bad |= int_at(limits, "timeout_seconds", &sr.limits.timeout_seconds, &present) < 0 || !present;
	bad |= int_at(limits, "memory_mb", &sr.limits.memory_mb, &present) < 0 || !present;
	bad |= int_at(limits, "cpu_cores", &sr.limits.cpu_cores, &present) < 0 || !present;
	bad |= int_at(limits, "pids_max", &sr.limits.pids_max, &present) < 0 || !present;
	bad |= int_at(limits, "log_max_bytes", &sr.limits.log_max_bytes, &present) < 0 || !present;
	bad |= int_at(meta, "exit_code", &sr.exit_code, &sr.has_exit_code) < 0;
	bad |= int_at(meta, "signal", &sr.signal, &sr.has_signal) < 0;
	bad |= int_at(meta, "memory_peak_bytes", &v, &present) < 0 || !present;
	sr.memory_peak_bytes = v;
	bad |= !json_is_number(json_object_get(meta, "cpu_seconds")) ||
	       !json_is_number(json_object_get(meta, "wall_seconds"));
	sr.cpu_seconds = json_number_value(json_object_get(meta, "cpu_seconds"));
	sr.wall_seconds = json_number_value(json_object_get(meta, "wall_seconds"));
	{
		json_t *files = json_object_get(root, "output_files");
		char *text = files ? json_dumps(files, JSON_ENCODE_ANY) : NULL;

		if (text && sign_outputs_from_json(text, &outputs, &noutputs) < 0)
			bad = 1;
		free(text);
	}
	if (bad) {
		fprintf(stderr, "FAIL: the status object is missing or mistypes a signed field\n");
		return 1;
	}
	sr.outputs = outputs;
	sr.noutputs = noutputs;
	msg = sign_message(&sr, &msglen);
	if (!msg || !sign_verify(pub, msg, msglen, str_at(wm, "signature")))
		fail("the signature does not match the status object (a field was changed, or another key signed it)");
	else
		printf("ok: signature over the status object\n");

	if (stdout_path)
		check_file("stdout", stdout_path, sr.stdout_sha256);
	if (stderr_path)
		check_file("stderr", stderr_path, sr.stderr_sha256);
	if (upload_path)
		check_file("upload", upload_path, sr.upload_sha256);
	for (size_t i = 0; i < nout_arg; i++) {
		char *spec = strdup(outputs_arg[i]), *eq = strrchr(spec, '=');
		const struct sign_output *o = NULL;
		char hex[SIGN_SHA256_HEX_LEN + 1];
		long long size;

		*eq = '\0';
		for (size_t k = 0; k < noutputs; k++)
			if (strcmp(outputs[k].path, spec) == 0)
				o = &outputs[k];
		if (!o)
			fail("output %s is not in the signed result", spec);
		else if (file_sha256(eq + 1, hex, &size) < 0)
			fail("%s: %s", eq + 1, strerror(errno));
		else if (size != o->size || strcmp(hex, o->sha256) != 0)
			fail("output %s (%s) does not match the signed size and SHA-256", spec, eq + 1);
		else
			printf("ok: output %s matches (%s)\n", spec, eq + 1);
		free(spec);
	}
	if (!failures)
		printf("OK: result of %s signed by %s\n", sr.job_id, worker_id);
	free(msg);
	sign_outputs_free(outputs, noutputs);
	EVP_PKEY_free(pub);
	json_decref(root);
	return failures ? 1 : 0;
}
