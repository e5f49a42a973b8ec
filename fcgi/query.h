/*
 * Query strings checked against a route's allowed parameters (bgplgd's
 * qs.c does the same): pure functions, no request, no I/O, so they are
 * unit-tested directly (tests/unit/test_query.c).
 */
#ifndef SANDRUN_QUERY_H
#define SANDRUN_QUERY_H

#include <stddef.h>

enum query_verdict {
	QUERY_OK,
	QUERY_UNKNOWN,   /* a parameter the route does not take */
	QUERY_REPEATED,  /* an allowed parameter given more than once */
};

/* Parameters a route may list: more than any route will ever take. */
#define QUERY_ALLOWED_MAX 16

/*
 * Is every parameter of `query` (raw, as sent: "a=1&b") one of `allowed`
 * (NULL-ended; NULL itself means none), each at most once? Names compare
 * as sent, not percent-decoded, as request_query() finds them: "w%61it" is
 * not "wait". Empty pieces ("a=1&&b", a trailing "&") are no parameter.
 * When the verdict is not QUERY_OK, the offending name is copied into
 * `name` (NUL-ended, cut to namelen - 1 bytes).
 */
enum query_verdict query_check(const char *query, const char *const *allowed, char *name, size_t namelen);

/* The allowed names for a message: "stream, format", or "none". */
void query_allowed_text(const char *const *allowed, char *out, size_t outlen);

#endif
