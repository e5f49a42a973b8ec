/*
 * Signed results: the canonical message, Ed25519 keys and worker ids
 * (runner/sign.h has the format; docs/signing.md explains it).
 */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>

#define ED25519_PUB_LEN 32
#define ED25519_SIG_LEN 64

/* A string value, escaped so no value can end its line or forge another one. */
static void put_escaped(FILE *f, const char *s, int escape_space)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f || (escape_space && *p == ' '))
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static void put_str(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=", key);
	put_escaped(f, value, 0);
	fputc('\n', f);
}

static void put_int(FILE *f, const char *key, int present, int64_t value)
{
	if (present)
		fprintf(f, "%s=%lld\n", key, (long long)value);
	else
		fprintf(f, "%s=\n", key);
}

static int output_cmp(const void *a, const void *b)
{
	const struct sign_output *const *x = a, *const *y = b;

	return strcmp((*x)->path, (*y)->path);
}

char *sign_message(const struct sign_result *r, size_t *len)
{
	const struct sign_output **sorted = NULL;
	char *text = NULL;
	size_t n = 0;
	FILE *f;

	if (r->noutputs) {
		sorted = malloc(r->noutputs * sizeof *sorted);
		if (!sorted)
			return NULL;
		for (size_t i = 0; i < r->noutputs; i++)
			sorted[i] = &r->outputs[i];
		qsort(sorted, r->noutputs, sizeof *sorted, output_cmp);
	}
	f = open_memstream(&text, &n);
	if (!f) {
		free(sorted);
		return NULL;
	}
	fputs(SIGN_FORMAT "\n", f);
	put_str(f, "job_id", r->job_id);
	put_str(f, "worker_id", r->worker_id);
	put_str(f, "upload_sha256", r->upload_sha256);
	put_str(f, "manifest_sha256", r->manifest_sha256);
	put_str(f, "environment", r->environment);
	put_int(f, "limit.timeout_seconds", 1, r->limits.timeout_seconds);
	put_int(f, "limit.memory_mb", 1, r->limits.memory_mb);
	put_int(f, "limit.cpu_cores", 1, r->limits.cpu_cores);
	put_int(f, "limit.pids_max", 1, r->limits.pids_max);
	put_int(f, "limit.log_max_bytes", 1, r->limits.log_max_bytes);
	put_str(f, "status", r->status);
	put_str(f, "reason", r->reason);
	put_int(f, "exit_code", r->has_exit_code, r->exit_code);
	put_int(f, "signal", r->has_signal, r->signal);
	fprintf(f, "cpu_seconds=%.3f\n", r->cpu_seconds);
	fprintf(f, "wall_seconds=%.3f\n", r->wall_seconds);
	put_int(f, "memory_peak_bytes", 1, r->memory_peak_bytes);
	put_str(f, "stdout_sha256", r->stdout_sha256);
	put_str(f, "stderr_sha256", r->stderr_sha256);
	put_str(f, "started_at", r->started_at);
	put_str(f, "finished_at", r->finished_at);
	for (size_t i = 0; i < r->noutputs; i++) {
		fputs("output=", f);
		put_escaped(f, sorted[i]->path, 1);
		fprintf(f, " %lld ", (long long)sorted[i]->size);
		put_escaped(f, sorted[i]->sha256, 1);
		fputc('\n', f);
	}
	free(sorted);
	if (fclose(f) != 0 || !text) {
		free(text);
		return NULL;
	}
	*len = n;
	return text;
}

static int output_set(struct sign_output *o, const char *path, const json_t *size, const json_t *sha)
{
	const char *hex = json_string_value(sha);

	if (!path || !json_is_integer(size) || !hex || strlen(hex) != SIGN_SHA256_HEX_LEN)
		return -1;
	o->path = strdup(path);
	if (!o->path)
		return -1;
	o->size = json_integer_value(size);
	memcpy(o->sha256, hex, SIGN_SHA256_HEX_LEN + 1);
	return 0;
}

int sign_outputs_from_json(const char *text, struct sign_output **out, size_t *n)
{
	json_t *root = json_loads(text, JSON_DECODE_ANY, NULL);
	struct sign_output *o = NULL;
	size_t count = 0, k = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (!root)
		return -1;
	if (json_is_array(root))
		count = json_array_size(root);
	else if (json_is_object(root))
		count = json_object_size(root);
	else
		goto done;
	if (count && !(o = calloc(count, sizeof *o)))
		goto done;
	if (json_is_array(root)) {
		size_t i;
		json_t *e;

		json_array_foreach(root, i, e) {
			if (output_set(&o[k], json_string_value(json_object_get(e, "path")),
				       json_object_get(e, "size"), json_object_get(e, "sha256")) < 0)
				goto done;
			k++;
		}
	} else {
		const char *path;
		json_t *e;

		json_object_foreach(root, path, e) {
			if (output_set(&o[k], path, json_object_get(e, "size"), json_object_get(e, "sha256")) < 0)
				goto done;
			k++;
		}
	}
	rc = 0;
done:
	if (rc < 0) {
		sign_outputs_free(o, k);
	} else {
		*out = o;
		*n = k;
	}
	json_decref(root);
	return rc;
}

void sign_outputs_free(struct sign_output *o, size_t n)
{
	for (size_t i = 0; o && i < n; i++)
		free(o[i].path);
	free(o);
}

static void hex_encode(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void sign_sha256_hex(const void *data, size_t len, char out[SIGN_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		*out = '\0';
		return;
	}
	hex_encode(md, 32, out);
}

EVP_MD_CTX *sign_sha256_begin(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx && !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void sign_sha256_update(EVP_MD_CTX *ctx, const void *data, size_t len)
{
	if (ctx && len)
		EVP_DigestUpdate(ctx, data, len);
}

void sign_sha256_end(EVP_MD_CTX *ctx, char out[SIGN_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	*out = '\0';
	if (!ctx)
		return;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32)
		hex_encode(md, 32, out);
	EVP_MD_CTX_free(ctx);
}

void sign_preload(EVP_PKEY *key)
{
	char hex[SIGN_SHA256_HEX_LEN + 1], sig[SIGN_SIGNATURE_LEN + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t privlen = 0;

	/* the results are what they are whether this worked or not: a digest
	 * that fails here fails again where it counts, and says so there */
	sign_sha256_hex("", 0, hex);
	(void)EVP_Digest("", 0, md, &mdlen, EVP_sha1(), NULL);
	if (!key)
		return;
	if (EVP_PKEY_get_raw_private_key(key, NULL, &privlen) == 1) {
		(void)sign_bytes(key, "", 0, sig);
		return;
	}
	/* a public key: verification, of a signature of zeros (refused) */
	memset(sig, 'A', SIGN_SIGNATURE_LEN - 2);
	memcpy(sig + SIGN_SIGNATURE_LEN - 2, "==", 3);
	(void)sign_verify(key, "", 0, sig);
}

EVP_PKEY *sign_key_generate(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *key = NULL;

	if (ctx && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_keygen(ctx, &key) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int sign_key_save(EVP_PKEY *key, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *f;
	int ok;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (fflush(f) != 0 || fsync(fd) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		snprintf(err, errlen, "%s: cannot write the key", path);
		unlink(path);
		return -1;
	}
	return 0;
}

EVP_PKEY *sign_key_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	EVP_PKEY *key;
	FILE *f;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(f = fdopen(fd, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		return NULL;
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: not an Ed25519 key", path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

int sign_worker_id(EVP_PKEY *key, char out[SIGN_WORKER_ID_LEN + 1])
{
	unsigned char pub[ED25519_PUB_LEN];
	size_t len = sizeof pub;

	if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != ED25519_PUB_LEN)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, pub, ED25519_PUB_LEN);
	return 0;
}

/* Strict base64 of exactly `want` bytes (as EVP_EncodeBlock writes it). 0 or -1. */
static int b64_decode_exact(const char *s, unsigned char *out, size_t want)
{
	size_t enc = 4 * ((want + 2) / 3), pad = (3 - want % 3) % 3;
	unsigned char tmp[128];
	char check[200];

	if (!s || strlen(s) != enc || enc + 1 > sizeof check || want + 3 > sizeof tmp)
		return -1;
	if (EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)enc) != (int)(want + pad))
		return -1;
	/* Canonical form only: encoding it again gives the same text. */
	EVP_EncodeBlock((unsigned char *)check, tmp, (int)want);
	if (strcmp(check, s) != 0)
		return -1;
	memcpy(out, tmp, want);
	return 0;
}

EVP_PKEY *sign_key_from_worker_id(const char *worker_id)
{
	unsigned char pub[ED25519_PUB_LEN];

	if (b64_decode_exact(worker_id, pub, sizeof pub) < 0)
		return NULL;
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof pub);
}

int sign_bytes(EVP_PKEY *key, const void *msg, size_t len, char out[SIGN_SIGNATURE_LEN + 1])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[ED25519_SIG_LEN];
	size_t siglen = sizeof sig;
	int rc = -1;

	if (ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == ED25519_SIG_LEN) {
		EVP_EncodeBlock((unsigned char *)out, sig, ED25519_SIG_LEN);
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

int sign_verify(EVP_PKEY *pub, const void *msg, size_t len, const char *sig_b64)
{
	unsigned char sig[ED25519_SIG_LEN];
	EVP_MD_CTX *ctx;
	int ok = 0;

	if (!pub || b64_decode_exact(sig_b64, sig, sizeof sig) < 0)
		return 0;
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, sizeof sig, msg, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}
