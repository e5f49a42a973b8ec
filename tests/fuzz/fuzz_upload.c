/*
 * libFuzzer target: the responder's archive inspection (fcgi/upload.c),
 * which reads every upload with libarchive before a job is accepted. Any
 * bytes must give 0 (accepted), 400 or 413 with a reason: never a crash, a
 * hang or another status. The manifest is fixed; the archive is the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upload.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The responder's locale (fcgi/main.c): names are converted as it does. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	locale_use_utf8_names();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small bounds, so the fuzzer reaches them. */
	static const struct sandrun_limits limits = {
		.upload_max_bytes = 1 << 20,
		.unpacked_max_bytes = 1 << 20,
		.files_max = 64,
	};
	char entrypoint[] = "main.py", requirements[] = "requirements.txt";
	struct manifest m = { .entrypoint = entrypoint, .requirements = size % 2 ? requirements : NULL };
	char field[64] = "", reason[512] = "";
	int rc = upload_inspect(data, size, &limits, &m, field, sizeof field, reason, sizeof reason);

	if (rc != 0 && rc != 400 && rc != 413)
		abort();
	if (rc != 0 && reason[0] == '\0')
		abort();
	if (strlen(reason) >= sizeof reason)
		abort();
	/* the field at fault is the archive or one of the two names in it */
	if (rc != 0 && strcmp(field, "files") != 0 && strcmp(field, "entrypoint") != 0 &&
	    strcmp(field, "requirements") != 0)
		abort();
	return 0;
}
