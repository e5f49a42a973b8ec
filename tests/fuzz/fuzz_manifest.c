/*
 * libFuzzer target for manifest_parse(): any bytes in, never a crash or a
 * leak. On success the canonical JSON must parse again and give the same
 * canonical JSON (the runner re-validates what the responder wrote to
 * Redis, so that round trip must never fail). On failure the error must be
 * a NUL-terminated, valid UTF-8 field and a non-empty reason, since the
 * responder copies both into its JSON answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sandrun_limits fuzz_limits = {
	.manifest_max_bytes = 2 * 1024 * 1024,
	.timeout_default = 300,
	.timeout_max = 3600,
	.memory_mb_default = 512,
	.memory_mb_min = 16,
	.memory_mb_max = 4096,
};

static int error_well_formed(const struct manifest_error *err)
{
	json_t *j;

	if (memchr(err->field, '\0', sizeof(err->field)) == NULL ||
	    memchr(err->reason, '\0', sizeof(err->reason)) == NULL || err->reason[0] == '\0')
		return 0;
	/* jansson refuses invalid UTF-8: exactly what the responder would hit. */
	j = json_pack("{s:s, s:s}", "field", err->field, "reason", err->reason);
	if (j == NULL)
		return 0;
	json_decref(j);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = NULL, *m2 = NULL;
	struct manifest_error err;
	char *j1, *j2;

	if (manifest_parse((const char *)data, size, &fuzz_limits, &m, &err) != 0) {
		if (m != NULL || !error_well_formed(&err))
			abort();
		return 0;
	}
	if (m == NULL)
		abort();

	j1 = manifest_to_json(m);
	if (j1 == NULL)
		abort();
	if (manifest_parse(j1, strlen(j1), &fuzz_limits, &m2, &err) != 0)
		abort(); /* the canonical form of a valid manifest is refused */
	j2 = manifest_to_json(m2);
	if (j2 == NULL || strcmp(j1, j2) != 0)
		abort(); /* the canonical form is not stable */

	free(j1);
	free(j2);
	manifest_free(m);
	manifest_free(m2);
	return 0;
}
