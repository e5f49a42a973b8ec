/*
 * See negotiate.h. Accept is read as a list of media ranges in the
 * client's order (parameters other than q ignored, q=0 means "not this");
 * the first of application/json, text/plain, text/html decides. The
 * User-Agent fallback is how curl-friendly services (wttr.in) tell a
 * terminal from a program: by the product token it starts with.
 */
#include "negotiate.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum pref { PREF_NONE, PREF_JSON, PREF_TEXT };

/* The media range [s, s+n) with its parameters: which preference it states. */
static enum pref range_pref(const char *s, size_t n)
{
	const char *semi = memchr(s, ';', n);
	size_t tlen = semi ? (size_t)(semi - s) : n;

	while (tlen && isspace((unsigned char)s[tlen - 1]))
		tlen--;
	while (tlen && isspace((unsigned char)*s))
		s++, tlen--, n--;
	/* q=0 (0, 0.0, 0.00, 0.000): explicitly not wanted */
	for (const char *p = semi; p && p < s + n; p = memchr(p + 1, ';', (size_t)(s + n - p - 1))) {
		const char *q = p + 1;
		while (q < s + n && isspace((unsigned char)*q))
			q++;
		if (q + 1 < s + n && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
			double v = strtod(q + 2, NULL);
			if (v <= 0)
				return PREF_NONE;
		}
	}
	if (tlen == 16 && strncasecmp(s, "application/json", 16) == 0)
		return PREF_JSON;
	if ((tlen == 10 && strncasecmp(s, "text/plain", 10) == 0) ||
	    (tlen == 9 && strncasecmp(s, "text/html", 9) == 0))
		return PREF_TEXT;
	return PREF_NONE;
}

static const char *const terminal_agents[] = {
	"curl/", "wget/", "httpie/", "xh/", "fetch ", "fetch/", "lynx/", "w3m/", "aria2/", NULL,
};

static bool agent_is_terminal(const char *ua)
{
	if (!ua || !*ua)
		return false;
	for (size_t i = 0; terminal_agents[i]; i++)
		if (strncasecmp(ua, terminal_agents[i], strlen(terminal_agents[i])) == 0)
			return true;
	/* "Mozilla/5.0 (Windows NT; ...) WindowsPowerShell/5.1" and PowerShell 7's "PowerShell/7.4" */
	return strcasestr(ua, "PowerShell/") != NULL;
}

bool logs_want_json(const char *accept, const char *user_agent)
{
	const char *p = accept ? accept : "";

	while (*p) {
		size_t n = strcspn(p, ",");
		enum pref r = range_pref(p, n);

		if (r != PREF_NONE)
			return r == PREF_JSON;
		p += n;
		if (*p == ',')
			p++;
	}
	return !agent_is_terminal(user_agent);
}

bool origin_listed(const char *list, const char *origin)
{
	size_t olen = origin ? strlen(origin) : 0;

	if (!olen || !list)
		return false;
	for (const char *p = list; *p; ) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n && n == olen && strncasecmp(p, origin, n) == 0)
			return true;
		p += n;
	}
	return false;
}

bool origin_is_self(const char *origin, const char *scheme, const char *host)
{
	size_t slen, hlen;

	if (!origin || !scheme || !host || !*scheme || !*host)
		return false;
	slen = strlen(scheme);
	hlen = strlen(host);
	return strncasecmp(origin, scheme, slen) == 0 && strncmp(origin + slen, "://", 3) == 0 &&
	       strlen(origin + slen + 3) == hlen && strcasecmp(origin + slen + 3, host) == 0;
}
