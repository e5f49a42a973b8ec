/*
 * Parsing a session's file paths (session_path.h). Every byte but NUL
 * and '/' may be in a name (a newline, bytes that are not UTF-8: files
 * made by the session's own commands have them); what is refused is
 * what could leave the roots by name: "..", absolute paths elsewhere,
 * and NUL, which would cut the name short in a system call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session_path.h"

static __attribute__((format(printf, 3, 4))) int path_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

const char *session_root_name(enum session_root root)
{
	return root == SESSION_ROOT_TMP ? "/tmp" : "/work";
}

/* When `path` (len bytes) is `prefix` or starts with `prefix/`, the length
 * of prefix; else 0. */
static size_t root_prefix(const char *path, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	if (len < n || memcmp(path, prefix, n) != 0)
		return 0;
	return len == n || path[n] == '/' ? n : 0;
}

int session_path_parse(const char *path, size_t len, struct session_path *out, char *err, size_t errlen)
{
	/* shown in errors: bounded, and cut at the first control byte */
	int shown = (int)(len > 200 ? 200 : len);
	size_t i, o = 0, skip = 0;

	out->root = SESSION_ROOT_WORK;
	out->rel[0] = '\0';
	out->last = 0;
	if (path == NULL)
		return path_error(err, errlen, "path is missing");
	for (i = 0; i < (size_t)shown; i++)
		if ((unsigned char)path[i] < 0x20) {
			shown = (int)i;
			break;
		}
	if (len > SESSION_PATH_BYTES_MAX)
		return path_error(err, errlen, "path '%.*s...' is over %d bytes", shown, path, SESSION_PATH_BYTES_MAX);
	if (memchr(path, '\0', len) != NULL)
		return path_error(err, errlen, "path '%.*s' contains a NUL byte", shown, path);
	if (len > 0 && path[0] == '/') {
		if ((skip = root_prefix(path, len, "/workspace")) != 0 || (skip = root_prefix(path, len, "/work")) != 0)
			out->root = SESSION_ROOT_WORK;
		else if ((skip = root_prefix(path, len, "/tmp")) != 0)
			out->root = SESSION_ROOT_TMP;
		else
			return path_error(err, errlen, "path '%.*s' is outside /work, /workspace and /tmp", shown, path);
	}
	for (i = skip; i < len;) {
		size_t n = 0;
		while (i + n < len && path[i + n] != '/')
			n++;
		if (n == 2 && path[i] == '.' && path[i + 1] == '.')
			return path_error(err, errlen, "path '%.*s' has a '..' component", shown, path);
		if (n > SESSION_NAME_BYTES_MAX)
			return path_error(err, errlen, "path '%.*s' has a name over %d bytes", shown, path,
					  SESSION_NAME_BYTES_MAX);
		if (n > 0 && !(n == 1 && path[i] == '.')) {
			/* the output is never longer than the input: it fits */
			if (o > 0)
				out->rel[o++] = '/';
			out->last = o;
			memcpy(out->rel + o, path + i, n);
			o += n;
		}
		i += n + 1;
	}
	out->rel[o] = '\0';
	return 0;
}
