/*
 * Signed results (docs/signing.md): a runner's Ed25519 key, its worker id (the
 * base64 of the raw 32-byte public key), and the canonical byte string a
 * result signature covers. Shared by the runner, sandrun-verify and the
 * unit tests, so all three build the message with the same code.
 * Pure functions: no logging, no exit; OpenSSL (EVP) and jansson only.
 *
 * The canonical message (docs/signing.md), UTF-8, one `key=value` per
 * line, each line ending in "\n", in exactly this order:
 *
 *   sandrun-result-v1
 *   job_id=job-…
 *   worker_id=<base64 public key>
 *   upload_sha256=<hex>           the archive as submitted (sr:{ID}:upload)
 *   manifest_sha256=<hex>         the canonical manifest JSON as stored
 *   environment=<name>
 *   limit.timeout_seconds=<int>
 *   limit.memory_mb=<int>
 *   limit.cpu_cores=<int>
 *   limit.pids_max=<int>
 *   limit.log_max_bytes=<int>
 *   status=<completed|failed|…>
 *   reason=<reason or empty>
 *   exit_code=<int or empty>
 *   signal=<int or empty>
 *   cpu_seconds=<%.3f>
 *   wall_seconds=<%.3f>
 *   memory_peak_bytes=<int>
 *   stdout_sha256=<hex>           the stdout bytes kept (truncation marker included)
 *   stderr_sha256=<hex>
 *   started_at=<RFC 3339, as in the status object>
 *   finished_at=<RFC 3339>
 *   output=<path> <size> <sha256> one line per output file, sorted by path (bytewise)
 *
 * Hashes are lowercase hex SHA-256. String values are escaped: "\" as
 * "\\", newline as "\n", other bytes below 0x20 and 0x7f as "\xHH"; a
 * space inside an output path as "\x20". The signature is Ed25519 over
 * these bytes, base64 (88 characters).
 */
#ifndef SANDRUN_SIGN_H
#define SANDRUN_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SIGN_FORMAT          "sandrun-result-v1"
#define SIGN_WORKER_ID_LEN   44  /* base64 of 32 bytes */
#define SIGN_SIGNATURE_LEN   88  /* base64 of 64 bytes */
#define SIGN_SHA256_HEX_LEN  64

struct sign_limits {
	int64_t timeout_seconds;
	int64_t memory_mb;
	int64_t cpu_cores;
	int64_t pids_max;
	int64_t log_max_bytes;
};

struct sign_output {
	char *path;
	int64_t size;
	char sha256[SIGN_SHA256_HEX_LEN + 1];
};

struct sign_result {
	const char *job_id;
	const char *worker_id;
	const char *upload_sha256;
	const char *manifest_sha256;
	const char *environment;
	struct sign_limits limits;
	const char *status;
	const char *reason;            /* NULL or "" when none */
	int has_exit_code;
	int64_t exit_code;
	int has_signal;
	int64_t signal;
	double cpu_seconds;
	double wall_seconds;
	int64_t memory_peak_bytes;
	const char *stdout_sha256;
	const char *stderr_sha256;
	const char *started_at;
	const char *finished_at;
	const struct sign_output *outputs;  /* any order: the message sorts them */
	size_t noutputs;
};

/* The canonical message (NUL-terminated, *len bytes). Who frees: the caller. NULL on allocation failure. */
char *sign_message(const struct sign_result *r, size_t *len);

/*
 * Output files from JSON text: an array of {"path", "size", "sha256"} (the
 * job record's outputs field) or an object {path: {"size", "sha256"}} (the
 * status object's output_files). 0, or -1 when malformed. Free with
 * sign_outputs_free().
 */
int sign_outputs_from_json(const char *text, struct sign_output **out, size_t *n);
void sign_outputs_free(struct sign_output *o, size_t n);

/* SHA-256 of a buffer, lowercase hex. */
void sign_sha256_hex(const void *data, size_t len, char out[SIGN_SHA256_HEX_LEN + 1]);
/* Streaming SHA-256: begin (NULL on failure), update, end (frees the context). */
EVP_MD_CTX *sign_sha256_begin(void);
void sign_sha256_update(EVP_MD_CTX *ctx, const void *data, size_t len);
void sign_sha256_end(EVP_MD_CTX *ctx, char out[SIGN_SHA256_HEX_LEN + 1]);

/*
 * Makes OpenSSL ready in this process for what its children will ask of it:
 * SHA-256 (results, outputs), SHA-1 (rconn_script's script digests) and,
 * with a key, Ed25519: signing with a private key (the signer, before its
 * seccomp filter shuts the files OpenSSL reads on first use), verifying
 * with a public one (the supervisors check each signature the signer
 * returns). OpenSSL 3 loads its provider and builds its method tables on
 * the first digest a process asks for, ~1 ms; a process that does it once
 * before it forks hands them down ready.
 */
void sign_preload(EVP_PKEY *key);

/* A new Ed25519 key, or NULL. Free with EVP_PKEY_free(). */
EVP_PKEY *sign_key_generate(void);
/* Writes the private key as PEM (PKCS#8) to a new file, mode 0600 (O_EXCL, O_NOFOLLOW). 0 or -1 with err. */
int sign_key_save(EVP_PKEY *key, const char *path, char *err, size_t errlen);
/* Reads an Ed25519 private key (PEM). NULL with err. */
EVP_PKEY *sign_key_load(const char *path, char *err, size_t errlen);
/* The worker id of a key (private or public). 0 or -1. */
int sign_worker_id(EVP_PKEY *key, char out[SIGN_WORKER_ID_LEN + 1]);
/* The public key a worker id names, or NULL when it is not one. */
EVP_PKEY *sign_key_from_worker_id(const char *worker_id);
/* Signs msg: base64 signature into out. 0 or -1. */
int sign_bytes(EVP_PKEY *key, const void *msg, size_t len, char out[SIGN_SIGNATURE_LEN + 1]);
/* 1 when sig_b64 is a valid signature of msg by pub, 0 otherwise. */
int sign_verify(EVP_PKEY *pub, const void *msg, size_t len, const char *sig_b64);

#endif
