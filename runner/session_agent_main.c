/*
 * sandrun-session-agent: the session agent (session_agent.h) as a program
 * over stdin/stdout, for tests and for running it by hand. Inside a
 * sandbox the job process calls session_agent_serve() itself.
 *
 * SANDRUN_AGENT_TEST_ROOTS="WORK:TMP" puts the file ops' roots elsewhere
 * (temporary directories in tests/unit/test_session_files.c); without it
 * they are /work and /tmp, as in a sandbox. The variable is removed
 * before anything runs, so commands do not see it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_agent.h"
#include "util.h"

int main(void)
{
	const char *roots = getenv("SANDRUN_AGENT_TEST_ROOTS");
	char *copy, *colon;
	int rc;

	/* archive names are UTF-8 (libarchive converts through the locale) */
	locale_use_utf8_names();
	if (roots == NULL)
		return session_agent_serve(0, 1, -1);
	copy = strdup(roots);
	colon = copy ? strchr(copy, ':') : NULL;
	if (colon == NULL || copy[0] != '/' || colon[1] != '/') {
		fprintf(stderr, "sandrun-session-agent: SANDRUN_AGENT_TEST_ROOTS must be /WORK:/TMP\n");
		free(copy);
		return 1;
	}
	*colon = '\0';
	unsetenv("SANDRUN_AGENT_TEST_ROOTS");
	rc = session_agent_serve_roots(0, 1, -1, copy, colon + 1);
	free(copy);
	return rc;
}
