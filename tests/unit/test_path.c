/*
 * path_normalize_relative(): the examples in path.h, every way a path is
 * refused, and the output buffer's bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "tap.h"

/* Normalizes a NUL-terminated string; returns the result or NULL on error. */
static const char *norm(const char *in)
{
	static char out[4096];

	if (path_normalize_relative(in, strlen(in), out, sizeof(out)) != 0)
		return NULL;
	return out;
}

static void test_accepted(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "./a//b/./c/", "a/b/c" },
		{ "a", "a" },
		{ "a/b", "a/b" },
		{ "a/./b", "a/b" },
		{ "a//b", "a/b" },
		{ "a/b/", "a/b" },
		{ "a///", "a" },
		{ "./a", "a" },
		{ "././a/.", "a" },
		{ "hello.py", "hello.py" },
		{ "src/main.py", "src/main.py" },
		{ "..a/b..", "..a/b.." },          /* only ".." itself is a parent */
		{ "a/.../b", "a/.../b" },          /* "..." is a name */
		{ ".hidden", ".hidden" },
		{ "*.txt", "*.txt" },              /* globs are ordinary bytes here */
		{ "résumé/ünï.txt", "résumé/ünï.txt" }, /* UTF-8 passes through */
		{ "a b/c d", "a b/c d" },          /* space is not a control character */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_str(norm(cases[i].in), cases[i].want, "\"%s\" -> \"%s\"", cases[i].in, cases[i].want);
}

static void test_refused(void)
{
	static const char *const cases[] = {
		"", ".", "./", "/", "//", "./.", "././/",  /* empty after normalizing */
		"..", "a/..", "../a", "a/../b", "a/b/..", "./..", "../",  /* parents */
		"/a", "/a/b", "//a", "/./a",                 /* absolute */
		"a\nb", "a\tb", "\x01", "a/\x1f/b", "a\x7f", "a\rb", "\x1b[31m", /* control */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char shown[64];
		size_t j, k = 0;

		/* Show control characters escaped in the test name. */
		for (j = 0; cases[i][j] && k + 5 < sizeof(shown); j++) {
			unsigned char c = (unsigned char)cases[i][j];
			k += (size_t)snprintf(shown + k, sizeof(shown) - k, c < 0x20 || c == 0x7f ? "\\x%02x" : "%c", c);
		}
		shown[k] = '\0';
		ok(norm(cases[i]) == NULL, "\"%s\" is refused", shown);
	}
}

static void test_nul(void)
{
	char out[64];
	static const char in[] = "a\0b"; /* 3 bytes, the NUL in the middle */

	strcpy(out, "junk");
	ok(path_normalize_relative(in, 3, out, sizeof(out)) == -1, "a NUL in the middle is refused");
	is_str(out, "", "on error the output is the empty string");
	ok(path_normalize_relative("a\0", 2, out, sizeof(out)) == -1, "a trailing NUL counted in inlen is refused");
	ok(path_normalize_relative("ab", 1, out, sizeof(out)) == 0 && strcmp(out, "a") == 0,
	   "inlen limits the input: only the first byte is read");
	ok(path_normalize_relative(NULL, 0, out, sizeof(out)) == -1, "NULL input is refused");
	ok(path_normalize_relative("a", 1, NULL, 0) == -1, "NULL output is refused");
	ok(path_normalize_relative("a", 1, out, 0) == -1, "a zero-length output is refused");
}

static void test_component_length(void)
{
	char in[600], out[1024];

	memset(in, 'x', 255);
	in[255] = '\0';
	ok(path_normalize_relative(in, 255, out, sizeof(out)) == 0 && strlen(out) == 255,
	   "a 255-byte component is accepted");

	memset(in, 'x', 256);
	in[256] = '\0';
	ok(path_normalize_relative(in, 256, out, sizeof(out)) == -1, "a 256-byte component is refused");

	memcpy(in, "a/", 2);
	memset(in + 2, 'y', 256);
	memcpy(in + 258, "/b", 3);
	ok(path_normalize_relative(in, strlen(in), out, sizeof(out)) == -1,
	   "a 256-byte component in the middle is refused");

	/* Many short components: the total may be long. */
	memset(in, 0, sizeof(in));
	for (size_t i = 0; i < 290; i += 2)
		memcpy(in + i, "a/", 2);
	ok(path_normalize_relative(in, strlen(in), out, sizeof(out)) == 0 && strlen(out) == 289,
	   "145 one-byte components are accepted (289 bytes)");
}

static void test_output_size(void)
{
	char *out;

	/* "a/b/c" needs 6 bytes with its NUL. Exact-size heap buffers so that
	 * ASan catches a write past the end. */
	out = malloc(6);
	ok(out && path_normalize_relative("./a//b/./c/", 11, out, 6) == 0 && strcmp(out, "a/b/c") == 0,
	   "an output of exactly the right size is enough");
	free(out);

	out = malloc(5);
	ok(out && path_normalize_relative("./a//b/./c/", 11, out, 5) == -1, "one byte too small is refused");
	ok(out && out[0] == '\0', "and the output is left empty");
	free(out);

	out = malloc(1);
	ok(out && path_normalize_relative("a", 1, out, 1) == -1, "no room for even one byte plus NUL");
	free(out);

	out = malloc(2);
	ok(out && path_normalize_relative("a", 1, out, 2) == 0 && strcmp(out, "a") == 0, "\"a\" fits in 2 bytes");
	free(out);

	out = malloc(3);
	ok(out && path_normalize_relative("a/b", 3, out, 3) == -1, "\"a/b\" does not fit in 3 bytes");
	free(out);
}

static void test_idempotent(void)
{
	static const char *const cases[] = { "./a//b/./c/", "x/./y//z/", "a", "..a/./b.." };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char once[256], twice[256];
		int rc1 = path_normalize_relative(cases[i], strlen(cases[i]), once, sizeof(once));
		int rc2 = rc1 == 0 ? path_normalize_relative(once, strlen(once), twice, sizeof(twice)) : -1;
		ok(rc1 == 0 && rc2 == 0 && strcmp(once, twice) == 0, "normalizing \"%s\" twice changes nothing",
		   cases[i]);
	}
}

int main(void)
{
	test_accepted();
	test_refused();
	test_nul();
	test_component_length();
	test_output_size();
	test_idempotent();
	return done_testing();
}
