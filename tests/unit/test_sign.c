/* Signed results (runner/sign.c): the canonical message, keys, sign/verify. */
#include "sign.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const expected =
	"sandrun-result-v1\n"
	"job_id=job-abc\n"
	"worker_id=WID\n"
	"upload_sha256=u\n"
	"manifest_sha256=m\n"
	"environment=default\n"
	"limit.timeout_seconds=300\n"
	"limit.memory_mb=512\n"
	"limit.cpu_cores=1\n"
	"limit.pids_max=64\n"
	"limit.log_max_bytes=1048576\n"
	"status=failed\n"
	"reason=exit_code\n"
	"exit_code=3\n"
	"signal=\n"
	"cpu_seconds=0.012\n"
	"wall_seconds=1.500\n"
	"memory_peak_bytes=4096\n"
	"stdout_sha256=o\n"
	"stderr_sha256=e\n"
	"started_at=2024-01-01T00:00:00.000Z\n"
	"finished_at=2024-01-01T00:00:01.500Z\n"
	"output=a\\x20b\\nc 3 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	"output=results/out.txt 12 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";

int main(void)
{
	struct sign_output outs[2] = {
		{ .path = "results/out.txt", .size = 12,
		  .sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		{ .path = "a b\nc", .size = 3,
		  .sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" },
	};
	struct sign_result r = {
		.job_id = "job-abc", .worker_id = "WID", .upload_sha256 = "u", .manifest_sha256 = "m",
		.environment = "default",
		.limits = { .timeout_seconds = 300, .memory_mb = 512, .cpu_cores = 1, .pids_max = 64,
			    .log_max_bytes = 1048576 },
		.status = "failed", .reason = "exit_code", .has_exit_code = 1, .exit_code = 3,
		.cpu_seconds = 0.012, .wall_seconds = 1.5, .memory_peak_bytes = 4096,
		.stdout_sha256 = "o", .stderr_sha256 = "e",
		.started_at = "2024-01-01T00:00:00.000Z", .finished_at = "2024-01-01T00:00:01.500Z",
		.outputs = outs, .noutputs = 2,
	};
	char id[SIGN_WORKER_ID_LEN + 1], id2[SIGN_WORKER_ID_LEN + 1], sig[SIGN_SIGNATURE_LEN + 1], err[256] = "";
	char hex[SIGN_SHA256_HEX_LEN + 1], path[] = "/tmp/test_sign.XXXXXX";
	size_t len, len2;
	char *msg = sign_message(&r, &len), *msg2;
	EVP_PKEY *key, *loaded, *pub;
	struct sign_output *parsed;
	size_t nparsed;
	struct stat stt;
	int all = 1;

	is_str(msg, expected, "the canonical message: fixed order, escapes, outputs sorted by path");
	is_int(len, strlen(expected), "... its length");
	msg2 = sign_message(&r, &len2);
	ok(len2 == len && memcmp(msg, msg2, len) == 0, "the same result gives the same bytes");
	free(msg2);

	sign_sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256 of abc");
	{
		EVP_MD_CTX *c = sign_sha256_begin();
		sign_sha256_update(c, "a", 1);
		sign_sha256_update(c, "bc", 2);
		sign_sha256_end(c, hex);
		is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "... streamed");
	}

	ok(sign_outputs_from_json("[{\"path\":\"x\",\"size\":1,\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]",
				  &parsed, &nparsed) == 0 && nparsed == 1 && strcmp(parsed[0].path, "x") == 0,
	   "outputs from the record's JSON list");
	sign_outputs_free(parsed, nparsed);
	ok(sign_outputs_from_json("{\"x\":{\"size\":1,\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
				  &parsed, &nparsed) == 0 && nparsed == 1 && parsed[0].size == 1,
	   "outputs from the status object's output_files");
	sign_outputs_free(parsed, nparsed);
	ok(sign_outputs_from_json("[{\"path\":\"x\",\"size\":\"1\"}]", &parsed, &nparsed) < 0, "a malformed list is refused");

	key = sign_key_generate();
	ok(key != NULL, "an Ed25519 key is generated");
	ok(sign_worker_id(key, id) == 0 && strlen(id) == SIGN_WORKER_ID_LEN, "its worker id is 44 base64 characters");
	close(mkstemp(path));
	unlink(path);
	ok(sign_key_save(key, path, err, sizeof err) == 0, "the key is saved (%s)", err);
	ok(stat(path, &stt) == 0 && (stt.st_mode & 0777) == 0600, "... with mode 0600");
	ok(sign_key_save(key, path, err, sizeof err) < 0, "an existing file is not overwritten");
	loaded = sign_key_load(path, err, sizeof err);
	ok(loaded && sign_worker_id(loaded, id2) == 0 && strcmp(id, id2) == 0, "the key loads back, same worker id");
	unlink(path);

	r.worker_id = id;
	free(msg);
	msg = sign_message(&r, &len);
	ok(sign_bytes(loaded, msg, len, sig) == 0 && strlen(sig) == SIGN_SIGNATURE_LEN, "a message is signed");
	pub = sign_key_from_worker_id(id);
	ok(pub != NULL, "the worker id gives the public key");
	ok(sign_verify(pub, msg, len, sig) == 1, "the signature verifies");
	for (size_t i = 0; i < len; i++) {
		msg[i] ^= 1;
		if (sign_verify(pub, msg, len, sig))
			all = 0;
		msg[i] ^= 1;
	}
	ok(all, "one changed bit anywhere in the message fails");
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	ok(sign_verify(pub, msg, len, sig) == 0, "a changed signature fails");
	ok(sign_key_from_worker_id("not-a-key") == NULL, "a malformed worker id is refused");
	{
		EVP_PKEY *other = sign_key_generate();
		char oid[SIGN_WORKER_ID_LEN + 1];
		EVP_PKEY *opub;

		sign_worker_id(other, oid);
		opub = sign_key_from_worker_id(oid);
		sig[10] = sig[10] == 'A' ? 'B' : 'A';
		sign_bytes(key, msg, len, sig);
		ok(sign_verify(opub, msg, len, sig) == 0, "another worker's key does not verify it");
		EVP_PKEY_free(other);
		EVP_PKEY_free(opub);
	}
	r.has_exit_code = 0;
	msg2 = sign_message(&r, &len2);
	ok(sign_verify(pub, msg2, len2, sig) == 0, "a changed figure (exit_code gone) fails");
	free(msg2);

	free(msg);
	EVP_PKEY_free(key);
	EVP_PKEY_free(loaded);
	EVP_PKEY_free(pub);
	return done_testing();
}
