/*
 * libFuzzer target for path_normalize_relative(). On success the output
 * must be a clean relative path: not empty, no leading or trailing "/",
 * no "//", no "." or ".." component, no control character or NUL, no
 * component over 255 bytes, no longer than the input, and normalizing it
 * again must give it back unchanged. On failure the output is "".
 * The output buffers are heap blocks of the exact size passed, so ASan
 * catches a write past outlen; a second call with a buffer sized from the
 * input's first byte exercises the "does not fit" path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *in, size_t inlen, const char *out, size_t outlen)
{
	size_t len = strnlen(out, outlen), i, comp = 0;
	char *again;

	if (len == outlen || len == 0 || len > inlen)
		abort();
	if (out[0] == '/' || out[len - 1] == '/' || strstr(out, "//") != NULL)
		abort();
	for (i = 0; i <= len; i++) {
		if (i == len || out[i] == '/') {
			const char *c = out + i - comp;
			if (comp == 0 || comp > 255 || (comp == 1 && c[0] == '.') ||
			    (comp == 2 && c[0] == '.' && c[1] == '.'))
				abort();
			comp = 0;
			continue;
		}
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			abort();
		comp++;
	}
	(void)in;

	/* Idempotent, and an exact-size buffer (len + 1) is enough. */
	again = malloc(len + 1);
	if (again == NULL)
		abort();
	if (path_normalize_relative(out, len, again, len + 1) != 0 || strcmp(again, out) != 0)
		abort();
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t outlen = size + 1, small;
	char *out, *out_small;
	int rc, rc_small;

	/* Always enough room: the output is never longer than the input. */
	out = malloc(outlen);
	if (out == NULL)
		abort();
	rc = path_normalize_relative(in, size, out, outlen);
	if (rc == 0)
		check_clean(in, size, out, outlen);
	else if (rc != -1 || out[0] != '\0')
		abort();

	/* A buffer that may be too small: success only when the result fits,
	 * and then the same result. */
	small = size ? (size_t)data[0] % (size + 1) : 0;
	out_small = malloc(small ? small : 1);
	if (out_small == NULL)
		abort();
	rc_small = path_normalize_relative(in, size, out_small, small);
	if (rc_small == 0) {
		check_clean(in, size, out_small, small);
		if (rc != 0 || strcmp(out, out_small) != 0)
			abort();
	} else {
		if (rc_small != -1 || (small > 0 && out_small[0] != '\0'))
			abort();
		if (rc == 0 && strlen(out) + 1 <= small)
			abort(); /* it fitted, yet was refused */
	}
	free(out_small);
	free(out);
	return 0;
}
