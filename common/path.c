/*
 * Normalizing untrusted relative paths (manifest fields, archive entry
 * names, download URLs). One pass over the input, component by component:
 * empty and "." components vanish, ".." is refused rather than resolved
 * (resolving it would let "a/../../x" be reasoned about wrongly elsewhere,
 * and no honest client needs it), and every byte is checked before it is
 * copied. The output is either a clean "a/b/c" or nothing at all.
 * No allocation, no global state: safe to fuzz and to call anywhere.
 */
#include <stdbool.h>
#include <string.h>

#include "path.h"

/* NAME_MAX on Linux: a longer component could never name a real file. */
#define PATH_COMPONENT_MAX 255

static bool path_byte_is_control(unsigned char c)
{
	/* C0 controls and DEL: they have no business in a file name, and
	 * they confuse terminals, logs and headers that show the path later. */
	return c < 0x20 || c == 0x7f;
}

int path_normalize_relative(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i = 0, used = 0;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if (in == NULL || inlen == 0)
		return -1;
	if (in[0] == '/')
		return -1;

	while (i < inlen) {
		size_t start = i, complen;

		while (i < inlen && in[i] != '/') {
			unsigned char c = (unsigned char)in[i];
			if (c == '\0' || path_byte_is_control(c))
				goto fail;
			i++;
		}
		complen = i - start;
		if (i < inlen)
			i++; /* the '/' */

		if (complen == 0)
			continue; /* "a//b", trailing "/" */
		if (complen == 1 && in[start] == '.')
			continue; /* "./a", "a/./b" */
		if (complen == 2 && in[start] == '.' && in[start + 1] == '.')
			goto fail;
		if (complen > PATH_COMPONENT_MAX)
			goto fail;

		/* Room for an optional '/', the component and the final NUL. */
		if ((used > 0 ? 1 : 0) + complen >= outlen - used)
			goto fail;
		if (used > 0)
			out[used++] = '/';
		memcpy(out + used, in + start, complen);
		used += complen;
	}
	if (used == 0)
		goto fail; /* "", ".", "./", "//": nothing left */
	out[used] = '\0';
	return 0;

fail:
	out[0] = '\0';
	return -1;
}
