/*
 * A route's query parameters, checked before its handler runs (see
 * fcgi/query.h): a parameter the route does not know is a mistake the
 * client should hear about (?wiat=30 is not a long-poll), and a repeated
 * one is ambiguous (nginx and the handler could each take another copy).
 */
#include "query.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void name_copy(char *out, size_t outlen, const char *name, size_t len)
{
	if (!outlen)
		return;
	if (len > outlen - 1)
		len = outlen - 1;
	memcpy(out, name, len);
	out[len] = '\0';
}

enum query_verdict query_check(const char *query, const char *const *allowed, char *name, size_t namelen)
{
	/* Which allowed names were seen: a route lists at most QUERY_ALLOWED_MAX. */
	bool seen[QUERY_ALLOWED_MAX] = { false };

	if (namelen)
		*name = '\0';
	for (const char *p = query; *p; ) {
		size_t plen = strcspn(p, "&"), nlen = strcspn(p, "=&");
		size_t i = 0;

		if (plen > 0) {
			for (; allowed && allowed[i] && i < QUERY_ALLOWED_MAX; i++)
				if (strlen(allowed[i]) == nlen && memcmp(allowed[i], p, nlen) == 0)
					break;
			if (!allowed || !allowed[i] || i == QUERY_ALLOWED_MAX) {
				name_copy(name, namelen, p, nlen);
				return QUERY_UNKNOWN;
			}
			if (seen[i]) {
				name_copy(name, namelen, p, nlen);
				return QUERY_REPEATED;
			}
			seen[i] = true;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return QUERY_OK;
}

void query_allowed_text(const char *const *allowed, char *out, size_t outlen)
{
	size_t used = 0;

	if (!outlen)
		return;
	*out = '\0';
	if (!allowed || !allowed[0]) {
		snprintf(out, outlen, "none");
		return;
	}
	for (size_t i = 0; allowed[i] && i < QUERY_ALLOWED_MAX && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", allowed[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}
