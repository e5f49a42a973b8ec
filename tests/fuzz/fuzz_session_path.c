/*
 * libFuzzer target: a session's file paths (runner/session_path.c), the
 * parser every files op of the session agent runs first. Checked for an
 * accepted path: the relative part has no empty, "." or ".." component,
 * no NUL, no leading or trailing '/', fits, and `last` points at its last
 * component; an absolute input was under /work, /workspace or /tmp; the
 * result is a fixed point (parsing the root's name + "/" + rel gives the
 * same root and rel back, and rel alone gives rel under /work). A refused
 * path always has a message. The input is a heap copy of its exact size,
 * so ASan sees overreads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int starts_with_root(const char *s, size_t n, const char *root)
{
	size_t k = strlen(root);
	return n >= k && memcmp(s, root, k) == 0 && (n == k || s[k] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1), err[256], again[SESSION_PATH_BYTES_MAX + 16];
	struct session_path p, q;
	size_t n, i;
	const char *c;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	err[0] = '\0';
	if (session_path_parse(copy, size, &p, err, sizeof err) < 0) {
		if (err[0] == '\0')
			abort();
		free(copy);
		return 0;
	}
	if (size > SESSION_PATH_BYTES_MAX || memchr(copy, '\0', size) != NULL)
		abort();
	if (size > 0 && copy[0] == '/' && !starts_with_root(copy, size, "/work") && !starts_with_root(copy, size, "/workspace")
	    && !starts_with_root(copy, size, "/tmp"))
		abort();
	if ((p.root == SESSION_ROOT_TMP) != (size > 0 && starts_with_root(copy, size, "/tmp")))
		abort();
	n = strlen(p.rel);
	if (n > size || (n > 0 && (p.rel[0] == '/' || p.rel[n - 1] == '/')) || strstr(p.rel, "//") != NULL)
		abort();
	if (p.last > n || (p.last > 0 && p.rel[p.last - 1] != '/') || strchr(p.rel + p.last, '/') != NULL)
		abort();
	for (c = p.rel; *c;) {
		size_t k = strcspn(c, "/");
		if (k == 0 || k > SESSION_NAME_BYTES_MAX || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		c += k;
		if (*c == '/')
			c++;
	}
	/* fixed point */
	i = (size_t)snprintf(again, sizeof again, "%s%s%s", session_root_name(p.root), n ? "/" : "", p.rel);
	if (i >= sizeof again)
		abort();
	if (i <= SESSION_PATH_BYTES_MAX) {
		if (session_path_parse(again, i, &q, err, sizeof err) < 0 || q.root != p.root || strcmp(q.rel, p.rel) != 0
		    || q.last != p.last)
			abort();
	}
	if (session_path_parse(p.rel, n, &q, err, sizeof err) < 0 || q.root != SESSION_ROOT_WORK || strcmp(q.rel, p.rel) != 0)
		abort();
	free(copy);
	return 0;
}
