/*
 * Paths that come from outside (manifest fields, archive entry names,
 * download URLs) are normalized here and nowhere else.
 */
#ifndef SANDRUN_PATH_H
#define SANDRUN_PATH_H

#include <stddef.h>

/*
 * Normalizes a relative path: drops leading "./", repeated and trailing
 * "/", and "." components. Writes the result to `out` (outlen bytes, NUL
 * terminated). Returns 0, or -1 when the path is empty (after normalizing),
 * absolute, has a ".." component, a NUL, a control character, a component
 * longer than 255 bytes, or does not fit.
 * "./a//b/./c/" -> "a/b/c";  "./" -> error (empty);  "a/../b" -> error.
 */
int path_normalize_relative(const char *in, size_t inlen, char *out, size_t outlen);

#endif
